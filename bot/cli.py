"""The ``supportbot`` command. Settings are read here, once, and passed down.

Every command takes ``--json`` and then prints exactly one JSON object on stdout. Errors
print one line on stderr and exit non-zero; a traceback means a bug (``SUPPORTBOT_DEBUG=1``
shows it).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from bot.cli_common import JsonOpt, emit, get_runtime
from knowledge.errors import ConfigError, InputError, SupportbotError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False,
                  help="supportbot: answers support questions from your documents.")
err = Console(stderr=True, highlight=False)


def _say(line: str) -> None:
    """One unwrapped line on stderr (errors and warnings must stay on one line)."""
    sys.stderr.write(line.replace("\n", " ") + "\n")


def _warn_skip(file: str, reason: str) -> None:
    _say(f"warning: skipped {file}: {reason}")


def _build(ctx: typer.Context, paths: list[Path] | None, kind: str, as_json: bool) -> None:
    runtime = get_runtime(ctx)
    if not as_json:
        err.print(f"[dim]{'Indexing' if kind == 'ingest' else 'Refreshing'} knowledge…[/dim]")
    stats = runtime.refresh(paths, kind=kind, show_progress=not as_json, on_skip=_warn_skip)
    data = stats.as_dict()
    if data["quarantined"]:
        _say(f"warning: quarantined {data['quarantined']} passage(s) written to the assistant in "
             f"{', '.join(data['quarantined_files'])} — review: supportbot quarantine list")
    if as_json:
        emit(data)
        return
    typer.echo(
        f"{data['documents']} documents, {data['chunks']} chunks "
        f"(added {data['added']}, changed {data['changed']}, deleted {data['deleted']}, "
        f"unchanged {data['unchanged']}) in {data['seconds']:.1f}s; "
        f"{data['quarantined']} passage(s) quarantined"
    )


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(
        metavar="PATH", help="Folders or files (.md .txt .html .pdf .docx). Default: the "
        "sample knowledge base.",
        show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build the knowledge index from PATHs and remember them as the sources."""
    from knowledge.ingest import SAMPLE_DOCS

    _build(ctx, list(paths) if paths else [SAMPLE_DOCS], "ingest", as_json)


@app.command()
def refresh(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Re-scan the sources: re-embed only changed documents, drop deleted ones."""
    _build(ctx, None, "refresh", as_json)


@app.command()
def ask(ctx: typer.Context, question: Annotated[str, typer.Argument(help="The question.")],
        as_json: JsonOpt = False) -> None:
    """Answer one question with citations."""
    from bot.adapters.render import plain_text
    from bot.core.types import Reply

    if not question.strip():
        raise InputError("The question is empty — pass it in quotes: supportbot ask \"...\"")
    runtime = get_runtime(ctx)
    limit = runtime.settings.max_question_chars  # the same limit as chat, Slack and Discord
    if len(question.strip()) > limit:
        raise InputError(f"The question is {len(question.strip()):,} characters long; keep it "
                         f"under {limit:,} (MAX_QUESTION_CHARS).")
    load_ms = _load_for_answers(runtime)
    answer = runtime.engine.answer(question)  # latency_ms: retrieval and generation only
    message_id = _record(runtime.store, question.strip(), answer)
    if as_json:
        emit({"answer": answer.text, "sources": [s.as_dict() for s in answer.sources],
              "latency_ms": answer.latency_ms, "load_ms": load_ms, "model": answer.model,
              "adapter": answer.adapter, "verified": answer.verified is not None,
              "message_id": message_id})
        return
    typer.echo(plain_text(Reply(answer.text, answer.sources)))


def _record(store: Any, question: str, answer: Any) -> int:
    """Store a `supportbot ask` like any platform's question, so `correct` can take its id."""
    import uuid

    from bot.cli_quarantine import _user

    user = _user()
    conversation = store.conversation("cli", "cli", uuid.uuid4().hex, user)
    return int(store.add_answer(conversation, store.add_question(conversation, user, question),
                                answer))


def _load_for_answers(runtime: Any) -> float:
    """Load the index (embedding model, LlamaIndex) and the chat model; the milliseconds taken.
    Nothing indexed yet: ``IndexMissingError`` before anything loads."""
    runtime.index_folder.require_current()
    started = time.perf_counter()
    runtime.engine.retriever()
    runtime.model  # noqa: B018
    return round((time.perf_counter() - started) * 1000, 1)


def _ensure_index(runtime: Any) -> None:
    """The main job runs on the sample knowledge base when nothing has been ingested yet."""
    from knowledge.ingest import SAMPLE_DOCS

    if runtime.kb.current_name() is None:
        err.print("[dim]No knowledge index yet — indexing the sample knowledge base…[/dim]")
        runtime.refresh([SAMPLE_DOCS], kind="ingest", show_progress=True, on_skip=_warn_skip)


@app.command()
def chat(ctx: typer.Context) -> None:
    """Chat in the terminal, with history; /good and /bad rate the last answer."""
    from bot.adapters.console import ConsoleChat

    runtime = get_runtime(ctx)
    _ensure_index(runtime)
    _load_for_answers(runtime)  # before the first prompt
    ConsoleChat(runtime.router, read=_read_line).run()


@app.command()
def serve(ctx: typer.Context) -> None:
    """Run the web console (http://127.0.0.1:8080) and every configured platform (Slack,
    Discord); with WEB_ENABLED=false and no platform, the local terminal chat."""
    from bot.serve import Drain, WebAdapter, configured_adapters, run_all

    runtime = get_runtime(ctx)
    adapters = configured_adapters(runtime)
    if not adapters:
        err.print("[dim]No Slack or Discord credentials configured and WEB_ENABLED=false — "
                  "starting the local chat.[/dim]")
        chat(ctx)
        return
    web = next((a for a in adapters if isinstance(a, WebAdapter)), None)
    if web is not None:
        _bind(web, runtime.settings)
    _ensure_index(runtime)
    _load_for_answers(runtime)  # before the first question arrives
    names = [type(a).__name__[:-7] for a in adapters if a is not web]
    if web is not None:
        err.print(f"Console: {web.url}  ({_login_hint(runtime)})", soft_wrap=True)
    if names:
        err.print(f"[dim]Serving on {', '.join(names)}…[/dim]")
    run_all(adapters, Drain(runtime.router, runtime.pool, runtime.settings.shutdown_grace))


def _bind(web: Any, settings: Any) -> None:
    try:
        web.server.bind()
    except OSError as exc:
        raise ConfigError(f"Cannot listen on {settings.web_host}:{settings.web_port} "
                          f"({exc.strerror or exc}) — set WEB_PORT to a free port, or "
                          "WEB_ENABLED=false.") from None


def _login_hint(runtime: Any) -> str:
    """How to log in; on the very first start, an ``admin`` account with a one-time password."""
    import secrets

    from bot.web.security import hash_password

    if runtime.settings.web_public_chat:
        return "chat is public; admins log in at /login"
    if runtime.store.admin_count():
        return "log in with an account from `supportbot admin create NAME`"
    password = secrets.token_urlsafe(12)
    if not runtime.store.add_admin("admin", hash_password(password)):  # another worker's start
        return "log in with the account another worker printed, or `supportbot admin create`"
    runtime.store.record_admin_action("cli", "admin", "admin create (first start)", True)
    return (f"first start: log in as admin / {password} — shown once; set your own with "
            "`supportbot admin create admin`")


feedback_app = typer.Typer(help="Feedback (reactions) on the bot's answers.",
                           no_args_is_help=True, rich_markup_mode=None)
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("list")
def feedback_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every vote with its question and answer, oldest first."""
    rows = get_runtime(ctx).store.list_feedback()
    data = [{"platform": r.platform, "user": r.user, "reaction": r.reaction, "score": r.score,
             "question": r.question, "answer": r.answer, "created_at": r.created_at.isoformat()}
            for r in rows]
    if as_json:
        emit({"feedback": data})
        return
    for row in data:
        typer.echo(f"{row['created_at'][:19]}  {row['score']:+d}  {row['platform']}:{row['user']}"
                   f"  {str(row['question'])[:60]!r}")
    if not data:
        typer.echo("No feedback yet.")


@app.command()
def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show the index, model and backends in use (database, vector store, generation)."""
    from bot.backends import backends

    runtime = get_runtime(ctx)
    manifest = runtime.index_folder.manifest() or {}  # no model or LlamaIndex import
    spec = runtime.model_spec()
    data = {
        "documents": manifest.get("documents", 0), "chunks": manifest.get("chunks", 0),
        "sources": manifest.get("sources", []), "quarantined": manifest.get("quarantined", 0),
        "model": spec.model or f"{spec.backend}:embedded SmolLM2-135M-Instruct",
        "adapter": spec.adapter or runtime.registry.active(),
        **backends(runtime.settings), "database_url": runtime.store.safe_url,
    }
    if as_json:
        emit(data)
        return
    for key, value in data.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        typer.echo(f"{key:>12}: {shown if shown not in (None, '') else '-'}")


def _register_training() -> None:
    from bot.cli_admin import register as register_admin
    from bot.cli_gaps import register as register_gaps
    from bot.cli_handoffs import register as register_handoffs
    from bot.cli_quarantine import register as register_quarantine
    from bot.cli_review import register as register_review
    from bot.cli_training import register
    from bot.cli_verified import register as register_verified

    register(app, feedback_app)
    register_quarantine(app)
    register_admin(app)
    register_verified(app)
    register_gaps(app)
    register_review(app)
    register_handoffs(app)


_register_training()


def _read_line(prompt: str) -> str:
    if sys.stdin.isatty():
        return input(prompt)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def _quiet_libraries() -> None:
    """Keep library chatter (progress bars of model loads, INFO logs) off the user's terminal."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    for noisy in ("sentence_transformers", "llama_index", "bm25s", "httpx", "alembic", "pypdf"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    logging.getLogger("slack_sdk").setLevel(logging.CRITICAL)  # we report its errors ourselves
    logging.getLogger("discord.client").setLevel(logging.ERROR)  # "voice not supported" noise
    warnings.filterwarnings("ignore")


def main(args: list[str] | None = None, *, build: Any = None) -> None:
    """The ``supportbot`` command. ``build(settings)`` makes the ``Runtime`` (tests pass one
    that reuses their models); ``args`` default to the command line."""
    _quiet_libraries()
    try:
        app(args=args, obj=build)
    except SupportbotError as exc:
        _say(f"error: {exc}")
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, no traceback
        if os.environ.get("SUPPORTBOT_DEBUG"):
            raise
        _say(f"error: unexpected {type(exc).__name__}: {exc} — rerun with SUPPORTBOT_DEBUG=1 "
             "for details and please report it.")
        sys.exit(1)


if __name__ == "__main__":
    main()
