"""``supportbot gaps`` (registered on the main app): the knowledge gaps (``knowledge.gaps``),
questions the documents do not answer, grouped by meaning, most users first."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli_common import JsonOpt, emit, get_runtime


def gaps(ctx: typer.Context,
         limit: Annotated[int, typer.Option("--limit", min=1, max=1000,
                                            help="Show at most N gaps.")] = 20,
         as_json: JsonOpt = False) -> None:
    """Questions the bot declined, or whose answer was voted down or marked missing, grouped
    by meaning and ranked by distinct users; those the documents now answer drop out."""
    found = get_runtime(ctx).knowledge_gaps(limit)
    if as_json:
        emit({"gaps": [gap.as_dict() for gap in found]})
        return
    for n, gap in enumerate(found, 1):
        typer.echo(f"{n:>3}. {gap.label[:100]}\n     {gap.users} user(s), {gap.count} "
                   f"question(s), nearest: "
                   f"{', '.join(s['source'] for s in gap.nearest_sources) or '-'}")
        for question in gap.questions[1:]:
            typer.echo(f"     - {question[:100]}")
    if not found:
        typer.echo("No knowledge gaps: no question the bot declined, or whose answer was voted "
                   "down or marked missing, lacks an answer in the documents now.")


def register(app: typer.Typer) -> None:
    app.command()(gaps)
