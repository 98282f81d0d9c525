"""``supportbot handoffs list|claim|resolve`` (registered on the main app): the hand-offs to a
person, open → claimed → resolved; ``resolve --answer`` makes the answer a verified answer.
Changes are audited (``cli:USER``). The post in a support channel is updated by the serving
process's console and buttons, not from here."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli_common import JsonOpt, emit, get_runtime
from bot.cli_quarantine import _user

handoffs_app = typer.Typer(help="Hand-offs to a person: list, claim, resolve.",
                           no_args_is_help=True, rich_markup_mode=None)

Id = Annotated[int, typer.Argument(help="The hand-off's id (`handoffs list`).",
                                   show_default=False)]


def list_(ctx: typer.Context,
          status: Annotated[str | None, typer.Option(
              "--status", help="Only these: open, claimed or resolved.")] = None,
          as_json: JsonOpt = False) -> None:
    """Hand-offs, newest first."""
    found = get_runtime(ctx).handoffs.list(status)
    if as_json:
        emit({"handoffs": [h.as_dict() for h in found]})
        return
    for h in found:
        who = h.resolved_by or h.claimed_by
        typer.echo(f"{h.id:>5}  {h.created_at.isoformat()[:16]}  {h.platform:<8} {h.status:<9}"
                   f"{' ' + who if who else ''}  {' '.join(h.question.split())[:70]!r}")
    if not found:
        typer.echo("No hand-offs" + (f" {status}." if status else " yet."))


def claim(ctx: typer.Context, handoff_id: Id, as_json: JsonOpt = False) -> None:
    """Claim an open hand-off: you answer the user."""
    view = get_runtime(ctx).handoffs.claim(handoff_id, "cli", _user())
    emit({"handoff": view.as_dict()}) if as_json else typer.echo(
        f"Claimed hand-off {view.id}.")


def resolve(ctx: typer.Context, handoff_id: Id,
            answer: Annotated[str | None, typer.Option(
                "--answer", help="The answer given: it becomes the verified answer to the "
                "hand-off's question.", show_default=False)] = None,
            as_json: JsonOpt = False) -> None:
    """Resolve a hand-off (open or claimed), optionally verifying the answer given."""
    view = get_runtime(ctx).handoffs.resolve(handoff_id, "cli", _user(), answer)
    if as_json:
        emit({"handoff": view.as_dict()})
        return
    verified = (f"; verified answer {view.verified_id} is served from now on"
                if view.verified_id is not None else "")
    typer.echo(f"Resolved hand-off {view.id}{verified}.")


def register(app: typer.Typer) -> None:
    """Add the ``handoffs`` group to the main app."""
    handoffs_app.command("list")(list_)
    handoffs_app.command()(claim)
    handoffs_app.command()(resolve)
    app.add_typer(handoffs_app, name="handoffs")
