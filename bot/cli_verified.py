"""``supportbot correct`` and ``supportbot verified list|edit|retract`` (registered on the main
app): the support team's verified answers, served before the model (``knowledge.verified``)."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli_common import JsonOpt, emit, get_runtime
from bot.cli_quarantine import _user
from knowledge.errors import InputError

verified_app = typer.Typer(help="Verified answers: list, edit, retract.", no_args_is_help=True,
                           rich_markup_mode=None)


def correct(ctx: typer.Context,
            message_id: Annotated[int, typer.Argument(help="The answer's message_id (`ask "
                                                            "--json`).", show_default=False)],
            text: Annotated[str | None, typer.Argument(help="The corrected answer.",
                                                       show_default=False)] = None,
            approve: Annotated[bool, typer.Option(
                "--approve", help="Verify the answer as it is, without a TEXT.")] = False,
            as_json: JsonOpt = False) -> None:
    """Correct an answer (or --approve it): served at once for the question and paraphrases."""
    if (text is None) == (not approve):
        raise InputError("give the corrected TEXT, or --approve to verify the answer as it is")
    runtime = get_runtime(ctx)
    author = _user()
    verified_id = runtime.store.correct(message_id, text, author)
    runtime.store.record_admin_action("cli", author, f"verify {verified_id}", True)
    if as_json:
        emit({"verified_id": verified_id, "message_id": message_id})
        return
    typer.echo(f"Verified answer {verified_id} is served from now on for this question and "
               "its paraphrases (`supportbot verified retract ID` takes it back).")


def list_(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The verified answers being served."""
    entries = get_runtime(ctx).store.verified_answers()
    if as_json:
        emit({"verified": [{"id": e.id, "question": e.question, "answer": e.answer,
                            "author": e.author, "created_at": e.created_at} for e in entries]})
        return
    for e in entries:
        typer.echo(f"{e.id}  {e.question[:80]}\n    {' '.join(e.answer.split())[:200]}")
    if not entries:
        typer.echo("No verified answers yet — `supportbot correct MESSAGE_ID \"TEXT\"`.")


def retract(ctx: typer.Context,
            verified_id: Annotated[int, typer.Argument(help="From `verified list`.",
                                                       show_default=False)],
            as_json: JsonOpt = False) -> None:
    """Stop serving a verified answer (the model answers that question again)."""
    runtime = get_runtime(ctx)
    if not runtime.store.retract_verified(verified_id):
        raise InputError(f"{verified_id}: no verified answer is served with this id — see "
                         "`supportbot verified list`")
    runtime.store.record_admin_action("cli", _user(), f"retract {verified_id}", True)
    emit({"retracted": verified_id}) if as_json else typer.echo(
        f"Retracted verified answer {verified_id}.")


def edit(ctx: typer.Context,
         verified_id: Annotated[int, typer.Argument(help="From `verified list`.",
                                                    show_default=False)],
         text: Annotated[str, typer.Argument(help="The new answer.", show_default=False)],
         as_json: JsonOpt = False) -> None:
    """Replace a verified answer's text (served from the next question on)."""
    runtime, author = get_runtime(ctx), _user()
    runtime.store.edit_verified(verified_id, text, author)
    runtime.store.record_admin_action("cli", author, f"verified edit {verified_id}", True)
    emit({"edited": verified_id}) if as_json else typer.echo(
        f"Verified answer {verified_id} now says the new text.")


def register(app: typer.Typer) -> None:
    """Add ``correct`` and the ``verified`` group to the main app."""
    app.command()(correct)
    verified_app.command("list")(list_)
    verified_app.command()(retract)
    verified_app.command()(edit)
    app.add_typer(verified_app, name="verified")
