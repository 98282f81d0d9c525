"""``supportbot review list|approve|correct|dismiss|missing`` (registered on the main app): the
review queue of 👎'd, declined, handed-off and guard-cut answers, and what a reviewer does with
each. Every action is recorded in the admin audit log."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli_common import JsonOpt, emit, get_runtime
from bot.cli_quarantine import _user
from bot.core.review import KINDS, MAX_PAGE, PAGE, Sort

review_app = typer.Typer(help="The review queue: 👎'd, declined, handed-off and guard-cut "
                         "answers.", no_args_is_help=True, rich_markup_mode=None)
MessageId = Annotated[int, typer.Argument(help="The answer's message_id (`review list`).",
                                          show_default=False)]
DONE = {"approve": "Approved answer {id} as it is: verified answer {verified} is served from "
                   "now on.",
        "correct": "Corrected answer {id}: verified answer {verified} is served from now on.",
        "dismiss": "Dismissed answer {id}: it leaves the queue.",
        "missing": "Marked answer {id} as missing from the docs: it feeds the gap report."}


def list_(ctx: typer.Context,
          kind: Annotated[list[str] | None, typer.Option(
              "--kind", metavar="KIND", help=f"Only answers with this reason: {', '.join(KINDS)} "
              "(repeatable). Default: all.", show_default=False)] = None,
          sort: Annotated[Sort, typer.Option(help="Newest first, or most-asked first.")
                          ] = "newest",
          limit: Annotated[int, typer.Option(min=1, max=MAX_PAGE)] = PAGE,
          as_json: JsonOpt = False) -> None:
    """The answers waiting for a reviewer, with their question and why they are here."""
    items = get_runtime(ctx).store.review_queue(kind or (), sort, limit)
    if as_json:
        emit({"review": [item.as_dict() for item in items]})
        return
    for item in items:
        typer.echo(f"{item.message_id}  [{', '.join(item.reasons)}]  asked {item.asked}×  "
                   f"{item.created_at:%Y-%m-%d %H:%M}  {item.model} {item.adapter or 'base'}\n"
                   f"    Q: {' '.join(item.question.split())[:160]}\n"
                   f"    A: {' '.join(item.answer.split())[:200]}")
    if not items:
        typer.echo("Nothing to review.")


def _act(ctx: typer.Context, message_id: int, action: str, text: str | None,
         as_json: bool) -> None:
    runtime, author = get_runtime(ctx), _user()
    verified = runtime.store.act_on_review(message_id, action, author, text)
    runtime.store.record_admin_action("cli", author, f"review {action} {message_id}", True)
    if as_json:
        emit({"message_id": message_id, "action": action, "verified_id": verified})
        return
    typer.echo(DONE[action].format(id=message_id, verified=verified))


def approve(ctx: typer.Context, message_id: MessageId, as_json: JsonOpt = False) -> None:
    """Verify the answer as it is (served for the question and its paraphrases)."""
    _act(ctx, message_id, "approve", None, as_json)


def correct(ctx: typer.Context, message_id: MessageId,
            text: Annotated[str, typer.Argument(help="The corrected answer.",
                                                show_default=False)],
            as_json: JsonOpt = False) -> None:
    """Replace the answer with TEXT, a verified answer served from now on."""
    _act(ctx, message_id, "correct", text, as_json)


def dismiss(ctx: typer.Context, message_id: MessageId, as_json: JsonOpt = False) -> None:
    """Nothing to do: take the answer off the queue."""
    _act(ctx, message_id, "dismiss", None, as_json)


def missing(ctx: typer.Context, message_id: MessageId, as_json: JsonOpt = False) -> None:
    """The docs are missing this: take it off the queue and into the gap report."""
    _act(ctx, message_id, "missing", None, as_json)


def register(app: typer.Typer) -> None:
    """Add the ``review`` group to the main app."""
    review_app.command("list")(list_)
    for command in (approve, correct, dismiss, missing):
        review_app.command()(command)
    app.add_typer(review_app, name="review")
