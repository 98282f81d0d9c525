"""``supportbot train``, ``adapters`` and ``feedback export`` (registered on the main app)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from bot.cli_common import JsonOpt, emit, get_runtime
from knowledge.errors import InputError
from training.dataset import BITEXT_LIMIT
from training.train import DECLINE_SHARE, NO_DOCS_SHARE, TrainConfig

adapters_app = typer.Typer(help="Trained LoRA adapters: list, promote, roll back.",
                           no_args_is_help=True, rich_markup_mode=None)


def train(
    ctx: typer.Context,
    data: Annotated[list[Path] | None, typer.Option(
        "--data", metavar="FILE", help="Extra training data: .jsonl {question, answer[, "
        "context|source]} or a Bitext .csv. Repeatable.")] = None,
    data_limit: Annotated[int | None, typer.Option(
        min=1, help="Examples at most from each --data file (default: all of a .jsonl, "
        f"{BITEXT_LIMIT} of a Bitext .csv, spread over its intents).")] = None,
    max_steps: Annotated[int, typer.Option(help="Stop after N steps (-1: one epoch).")] = -1,
    eval_file: Annotated[Path | None, typer.Option(
        "--eval", help="Held-out QA .jsonl for the gate (default: on the sample knowledge "
        "base its QA file, else a held-out share of the data).")] = None,
    eval_limit: Annotated[int, typer.Option(
        min=1, help="Gate questions at most (evenly spaced through the file).")] = 40,
    no_seed: Annotated[bool, typer.Option("--no-seed", help="Skip the seed tone set.")] = False,
    decline_share: Annotated[float, typer.Option(
        min=0.0, max=0.9, help="Share of examples that teach declining (RAFT).")
    ] = DECLINE_SHARE,
    no_docs_share: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Share of factual questions repeated with no documents, "
        "taught to decline.")] = NO_DOCS_SHARE,
    top_layers: Annotated[float, typer.Option(
        min=0.01, max=1.0, help="Share of layers, from the top, that get LoRA "
        "(0.5 trains ~1.2x faster but carries over worse).")] = TrainConfig.top_layers,
    prompt_grad: Annotated[bool, typer.Option(
        "--prompt-grad/--no-prompt-grad", help="Backpropagate through the prompt positions "
        "too; --no-prompt-grad runs the prompt forward only (faster).")] = TrainConfig.prompt_grad,
    as_json: JsonOpt = False,
) -> None:
    """Train a LoRA adapter, gate it against the serving one, promote it if not worse."""
    _check_inputs(data or [], eval_file, max_steps, data_limit)  # before torch and rouge load
    from training.evaluate import load_qa
    from training.pipeline import TrainRequest, summary

    rt = get_runtime(ctx)
    request = TrainRequest(
        data=list(data or []), data_limit=data_limit, use_seed=not no_seed,
        company=rt.settings.company_name,
        eval_items=load_qa(eval_file) if eval_file else None, eval_limit=eval_limit,
        decline_share=decline_share, no_docs_share=no_docs_share,
        config=TrainConfig(max_steps=max_steps, top_layers=top_layers, prompt_grad=prompt_grad),
    )
    result = rt.train(request, show_progress=not as_json)
    if as_json:
        emit(result)
        return
    for line in summary(result):
        typer.echo(line)
    typer.echo(f"Saved in {result['adapter_path']}")


def _check_inputs(data: list[Path], eval_file: Path | None, max_steps: int,
                  data_limit: int | None) -> None:
    if max_steps == 0 or max_steps < -1:
        raise InputError(f"--max-steps must be -1 (one epoch) or at least 1, not {max_steps}.")
    for path in [*data, *([eval_file] if eval_file else [])]:
        if not Path(path).is_file():
            raise InputError(f"{path}: no such file — check the path.")
    for path in data:
        if data_limit is None and path.suffix.lower() == ".csv":
            typer.echo(f"note: {path}: training on up to {BITEXT_LIMIT} rows spread over its "
                       "intents (--data-limit N to change).", err=True)


def list_(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every trained adapter with its metrics and gate report."""
    infos = [i.as_dict() for i in get_runtime(ctx).registry.list()]
    if as_json:
        emit({"adapters": infos})
        return
    for info in infos:
        gate = info["gate"] or {}
        mark = "*" if info["active"] else " "
        typer.echo(f"{mark} {info['version']}  {info['status']:<9} "
                   f"loss {info['metrics'].get('last_loss', '-')}  "
                   f"gate {'pass' if gate.get('promoted') else 'fail' if gate else '-'}")
    if not infos:
        typer.echo("No adapters yet — run `supportbot train`.")


def promote(ctx: typer.Context, version: str, as_json: JsonOpt = False) -> None:
    """Serve VERSION from now on (running bots pick it up without restart)."""
    from knowledge.llm import prepare_adapter

    runtime = get_runtime(ctx)
    if runtime.registry.gguf(version).exists():  # else promote() names the known versions
        prepare_adapter(runtime.model_spec(), runtime.registry.gguf(version))
    runtime.registry.promote(version)
    emit({"active": version}) if as_json else typer.echo(f"Now serving {version}.")


def rollback(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Serve the previously promoted adapter (or the base model)."""
    from knowledge.llm import prepare_adapter

    runtime = get_runtime(ctx)
    active = runtime.registry.rollback()
    if active:
        prepare_adapter(runtime.model_spec(), runtime.registry.gguf(active))
    emit({"active": active}) if as_json else typer.echo(
        f"Now serving {active or 'the base model (no adapter)'}.")


def server_config(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(help="Write the config here (default: print it).")
                   ] = None,
    gguf: Annotated[Path | None, typer.Option(
        help="Base GGUF the adapters were trained on (default: the embedded SmolLM2).")] = None,
    alias: Annotated[str | None, typer.Option(
        help="Name the base model is served under (default: LLM_MODEL, else 'base').")] = None,
    host: Annotated[str, typer.Option(help="Address the server listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    threads: Annotated[int, typer.Option(min=0, help="CPU threads; 0 = all.")] = 0,
) -> None:
    """A llama.cpp server config (python -m llama_cpp.server --config_file FILE) serving the
    base model and every adapter under its version, for LLM_BACKEND=openai."""
    from knowledge.llm import embedded_gguf
    from knowledge.served import llama_server_config

    rt = get_runtime(ctx)
    base = (gguf or embedded_gguf()).resolve()
    if not base.is_file():
        raise InputError(f"--gguf {gguf}: no such file — give the base model's GGUF.")
    registry = rt.registry
    adapters = {i.version: registry.gguf(i.version).resolve() for i in registry.list()
                if registry.gguf(i.version).exists()}
    config = llama_server_config(base, alias or rt.settings.llm_model or "base", adapters,
                                 host=host, port=port, threads=threads,
                                 n_ctx=rt.settings.llm_context_window)
    if out is None:
        emit(config)
        return
    out.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"Wrote {out}: {len(adapters)} adapter(s) besides the base model; serve it "
               f"with python -m llama_cpp.server --config_file {out}")


def export(ctx: typer.Context, out: Annotated[Path, typer.Option(
           help="JSONL file to write (chat-messages format).")] = Path("feedback.jsonl"),
           as_json: JsonOpt = False) -> None:
    """Write the feedback and the verified answers as training examples (redacted,
    deduplicated, capped; a verified answer counts twice)."""
    from training.dataset import data_hash, export_jsonl, to_chat_records
    from training.feedback import feedback_examples, verified_examples

    rt = get_runtime(ctx)
    examples = feedback_examples(rt.store) + verified_examples(rt.store)
    retrieve = rt.retrieve_chunks if rt.index_folder.current_name() else None
    records = to_chat_records(examples, retrieve, company=rt.settings.company_name)
    count = export_jsonl(records, out)
    summary = {"examples": count, "path": str(out), "data_hash": data_hash(records),
               "positive": sum(1 for r in records if r.get("label", True)),
               "negative": sum(1 for r in records if not r.get("label", True))}
    emit(summary) if as_json else typer.echo(
        f"Wrote {count} examples to {out} ({summary['positive']} 👍 / "
        f"{summary['negative']} 👎).")


def eval_(
    ctx: typer.Context,
    qa_file: Annotated[Path, typer.Argument(help="JSONL: {question, answer[, source]"
                                            "[, answerable]}.")],
    adapter: Annotated[str | None, typer.Option(
        help="Version or adapter folder (default: the serving one).")] = None,
    limit: Annotated[int | None, typer.Option(help="First N questions only.")] = None,
    configs: Annotated[str, typer.Option(
        help="Comma-separated configurations to run.")] = "base,base+rag,tuned,tuned+rag",
    as_json: JsonOpt = False,
) -> None:
    """Compare base, base+rag, tuned and tuned+rag on QA_FILE; write a report and chart."""
    from training.evaluate import load_qa
    from training.report import CONFIGS

    chosen = [c.strip() for c in configs.split(",") if c.strip()]
    unknown = sorted(set(chosen) - set(CONFIGS))
    if unknown or not chosen:
        raise InputError(f"--configs {configs!r}: use a comma-separated list of "
                         f"{', '.join(CONFIGS)}.")
    from training.report import run_configs, write_report

    items = load_qa(qa_file)[:limit] if limit else load_qa(qa_file)
    rt = get_runtime(ctx)
    answerers = {n: f for n, f in rt.eval_answerers(adapter).items() if n in chosen}
    with _progress(not as_json, len(items) * len(answerers)) as tick:
        run = run_configs(items, answerers, lambda name, done, total: tick(name))
    meta = {"qa_file": str(qa_file), "questions": len(items),
            "adapter": rt.resolve_adapter(adapter)[0], "index": rt.kb.current_name(),
            "model": rt.model_spec().model or "embedded SmolLM2-135M-Instruct"}
    md, png = write_report(run, rt.settings.supportbot_home / "reports", meta)
    data = {"configs": {n: s.as_dict() for n, s in run.scores.items()}, "report": str(md)}
    if as_json:
        emit(data)
        return
    typer.echo(md.read_text(encoding="utf-8").split("## Definitions")[0].rstrip())
    typer.echo(f"\nReport: {md}\nChart:  {png}")


def register(app: typer.Typer, feedback_app: typer.Typer) -> None:
    """Add these commands to the main app and its ``feedback`` group."""
    app.command()(train)
    app.command("eval")(eval_)
    adapters_app.command("list")(list_)
    adapters_app.command()(promote)
    adapters_app.command()(rollback)
    adapters_app.command("server-config")(server_config)
    feedback_app.command("export")(export)
    app.add_typer(adapters_app, name="adapters")


@contextmanager
def _progress(show: bool, total: int) -> Iterator[Callable[[str], None]]:
    """A rich progress bar over every answer of every configuration (stderr)."""
    from rich.console import Console
    from rich.progress import Progress

    if not show:
        yield lambda name: None
        return
    with Progress(console=Console(stderr=True)) as bar:
        task = bar.add_task("evaluating", total=total)
        yield lambda name: bar.update(task, advance=1, description=name)
