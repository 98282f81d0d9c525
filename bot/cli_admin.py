"""``supportbot admin create NAME`` (registered on the main app): web console accounts.

The password is read without echo (asked twice) at a terminal, or as the first line of stdin
when stdin is not one (``echo "$PW" | supportbot admin create ada``); it is stored as an
argon2 hash. Creating an existing name sets a new password.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from bot.cli_common import JsonOpt, emit, get_runtime
from knowledge.errors import InputError

admin_app = typer.Typer(help="Web console accounts: create.", no_args_is_help=True,
                        rich_markup_mode=None)


def create(ctx: typer.Context,
           name: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ -).",
                                               show_default=False)],
           as_json: JsonOpt = False) -> None:
    """Create a web console admin (or set a new password for one)."""
    from bot.web.security import check_name, hash_password

    login = check_name(name)
    hashed = hash_password(_password())
    runtime = get_runtime(ctx)
    created = runtime.store.set_admin(login, hashed)
    runtime.store.record_admin_action("cli", login, "admin create" if created
                                      else "admin password", True)
    if as_json:
        emit({"name": login, "created": created})
        return
    typer.echo(f"{'Created' if created else 'Updated the password of'} admin {login!r}; log in "
               f"at the console (`supportbot serve`, then http://{runtime.settings.web_host}:"
               f"{runtime.settings.web_port}/login).")


def _password() -> str:
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InputError("no password on stdin — pipe one line, or run this at a terminal")
        return password
    first = getpass.getpass("Password (at least 8 characters): ")
    if getpass.getpass("Again: ") != first:
        raise InputError("the two passwords differ — run the command again")
    return first


def register(app: typer.Typer) -> None:
    """Add the ``admin`` group to the main app."""
    admin_app.command()(create)
    app.add_typer(admin_app, name="admin")
