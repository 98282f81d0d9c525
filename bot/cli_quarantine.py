"""``supportbot quarantine list|release`` (registered on the main app).

Passages written to the assistant rather than the reader are kept out of the index at ingest
(knowledge/quarantine.py). Listing reads the live build's quarantine (its ``quarantine.json``,
or the live pgvector version's row) and loads no model; releasing is an admin decision: the ids
are remembered in the index folder (pgvector: in the database, for every worker) and the
knowledge is refreshed at once, so the released passages are answered from right away.
"""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer

from bot.cli_common import JsonOpt, emit, get_runtime
from knowledge.errors import InputError, SupportbotError

quarantine_app = typer.Typer(
    help="Passages kept out of the index as instructions to the assistant: list, release.",
    no_args_is_help=True, rich_markup_mode=None)


def list_(ctx: typer.Context, show_all: Annotated[bool, typer.Option(
              "--all", help="Also list released passages.")] = False,
          as_json: JsonOpt = False) -> None:
    """Every quarantined passage: id, file, reason and text."""
    passages = get_runtime(ctx).index_folder.quarantined(include_released=show_all)
    if as_json:
        emit({"quarantined": [p.as_dict() for p in passages], "count": len(passages)})
        return
    for p in passages:
        mark = " (released)" if p.released else ""
        typer.echo(f"{p.id}  {p.source}{mark}  — {p.reason}")
        typer.echo(f"    {' '.join(p.text.split())[:300]}")
    if passages:
        typer.echo("A passage that is genuine text: `supportbot quarantine release ID`.")
    else:
        typer.echo("No quarantined passages.")


def release(ctx: typer.Context,
            ids: Annotated[list[str], typer.Argument(help="Passage ids from `quarantine list`.",
                                                     show_default=False)],
            as_json: JsonOpt = False) -> None:
    """Let passages back into the index (they are indexed at once, by a refresh)."""
    runtime = get_runtime(ctx)
    known = {p.id: p for p in runtime.index_folder.quarantined(include_released=True)}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise InputError(f"{', '.join(unknown)}: no quarantined passage has this id — see "
                         "`supportbot quarantine list`.")
    chosen = [known[i] for i in dict.fromkeys(ids)]
    user = _user()
    runtime.index_folder.release(chosen, by=f"cli:{user}")
    runtime.store.record_admin_action("cli", user, "quarantine release", True)
    stats = _apply(runtime, [p.id for p in chosen])
    data = {"released": [p.id for p in chosen], "refresh": stats.as_dict()}
    if as_json:
        emit(data)
        return
    for p in chosen:
        typer.echo(f"Released {p.id} ({p.source}).")
    typer.echo(f"Refreshed: {stats.documents} documents, {stats.chunks} chunks (changed "
               f"{stats.changed}); the released text is indexed now.")


def _apply(runtime: Any, ids: list[str]) -> Any:
    """Refresh so the release takes effect; a failure still leaves the release recorded."""
    try:
        return runtime.refresh(kind="refresh", requested_by="cli")
    except SupportbotError as exc:
        raise type(exc)(f"Released {', '.join(ids)}, but the refresh that indexes it failed: "
                        f"{exc} Run `supportbot refresh` once that is fixed.") from None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment (some containers)
        return "unknown"


def register(app: typer.Typer) -> None:
    """Add the ``quarantine`` group to the main app."""
    quarantine_app.command("list")(list_)
    quarantine_app.command()(release)
    app.add_typer(quarantine_app, name="quarantine")
