"""The loop improves the model (issue 26): a simulated month of use on the e-manual, then
``supportbot train`` from the feedback and corrections alone.

1. A fresh home with the e-manual ingested serves with the adapter it ships with (trained on
   the sample company, never on the e-manual): the "before" adapter.
2. Customers ask the training questions (``qa-train.jsonl``, paraphrases left out; ``--limit``
   bounds them), each from one of a few users, through the router as in production.
3. A vote rule stands in for them: 👍 when the answer holds at least ``--up`` of the reference
   answer's words (ROUGE-L recall), 👎 under ``--down``; a reviewer corrects every
   ``--correct-every``-th 👎 answer with the reference answer (``supportbot correct``).
4. ``supportbot train`` (its defaults: seed tone set + feedback + verified answers; no QA file).
5. tuned+rag on the 50 test questions with the adapter before and the one trained, in one run.

    python benchmarks/bench_loop.py [--limit 120] [--correct-every 1] [--keep DIR] [--json]
    (~35 min on 2 cores: the month 7 min, SFT 7 min, KTO on the votes 20 min, the rest 5 min)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import (  # noqa: E402
    EMANUAL,
    base_parser,
    correct,
    cpu_features,
    emanual,
    make_runtime,
    quiet,
)

USERS = ("ana", "ben", "chen", "dara", "eli")


def month(runtime: Any, env: dict[str, str], rows: Sequence[dict[str, str]], up: float,
          down: float, correct_every: int) -> dict[str, int]:
    """Ask, vote and correct as a month of customers and one reviewer would."""
    from rouge_score import rouge_scorer

    from bot.core.router import Router
    from bot.core.types import IncomingMessage

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    router = Router(runtime.store, runtime.engine)
    counts = {"asked": 0, "up": 0, "down": 0, "corrected": 0}
    for n, row in enumerate(rows):
        user = USERS[n % len(USERS)]
        reply = router.handle_message(IncomingMessage("slack", "C1", user, row["question"],
                                                      thread=f"t{n}"))
        counts["asked"] += 1
        if reply.message_id is None:
            continue
        recall = scorer.score(row["answer"], reply.text)["rougeL"].recall
        if down <= recall < up:
            continue
        score = 1 if recall >= up else -1
        runtime.store.set_feedback(reply.message_id, "slack", user, "+1" if score > 0 else "-1",
                                   score)
        counts["up" if score > 0 else "down"] += 1
        if score < 0 and counts["down"] % correct_every == 0:
            correct(env, reply.message_id, row["answer"])
            counts["corrected"] += 1
    return counts


def train(env: dict[str, str]) -> dict[str, Any]:
    from typer.testing import CliRunner

    from bot.cli import app

    done = CliRunner().invoke(app, ["train", "--json"], env=env)
    if done.exit_code != 0:
        sys.exit(f"error: supportbot train failed: {done.output.strip()[-500:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_rouge(runtime: Any, qa: Path, adapters: dict[str, tuple[str, Path] | None]
               ) -> dict[str, dict[str, Any]]:
    """tuned+rag on the test questions with each adapter (the serving engine's settings)."""
    from knowledge.engine import AnswerEngine
    from knowledge.llm import ModelProvider
    from training.evaluate import aggregate, load_qa

    items, out = load_qa(qa), {}
    for name, active in adapters.items():
        model = ModelProvider(runtime.model_spec(), lambda a=active: a).get()  # type: ignore[misc]
        engine = AnswerEngine(runtime.kb, model, runtime.engine.config)
        scores = aggregate(items, [engine.answer(i.question) for i in items]).as_dict()
        out[name] = {"adapter": active[0] if active else None,
                     **{k: scores.get(k) for k in ("rougeL_f1", "key_facts", "invented",
                                                   "answerable_declined")}}
    return out


def run(data: Path, work: Path, limit: int, up: float, down: float,
        correct_every: int) -> dict[str, Any]:
    docs, qa = emanual(data)
    rows = [json.loads(line) for line in (data / EMANUAL / "qa-train.jsonl").read_text()
            .splitlines() if line.strip()]
    rows = [r for r in rows if r["kind"] != "Paraphrased Q&A"][:limit]
    env = {"SUPPORTBOT_HOME": str(work), "COMPANY_NAME": "Samsung"}
    runtime = make_runtime(work, company_name="Samsung")
    runtime.refresh([docs], kind="ingest")
    before = runtime.active_adapter()
    counts = month(runtime, env, rows, up, down, correct_every)
    trained = train(env)
    version = str(trained["adapter"])
    after = (version, runtime.registry.path(version))
    result = {"cpu": cpu_features(), "month": counts, "train": {
        "version": version, "promoted": trained.get("promoted"), "gate": trained.get("gate"),
        "train_seconds": trained.get("train_seconds")}}
    result["test"] = test_rouge(runtime, qa, {"before": before, "after": after})
    return result


def render(r: dict[str, Any]) -> str:
    gate = r["train"].get("gate") or {}
    lines = [f"CPU: {r['cpu']}", f"month: {r['month']}",
             f"trained {r['train']['version']}: "
             f"{'promoted' if r['train']['promoted'] else 'rejected'} by the gate; "
             f"reasons {gate.get('reasons')}"]
    for name in ("before", "after"):
        t = r["test"][name]
        lines.append(f"{name:6s} {t['adapter'] or 'base'}: tuned+rag ROUGE-L {t['rougeL_f1']:.3f}"
                     f", answerable declined {t['answerable_declined']:.2f}, invented "
                     f"{t['invented']}")
    return "\n".join(lines)


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--limit", type=int, default=120, help="training questions asked")
    parser.add_argument("--up", type=float, default=0.5, help="👍 at this ROUGE-L recall")
    parser.add_argument("--down", type=float, default=0.25, help="👎 under this recall")
    parser.add_argument("--correct-every", type=int, default=1, help="correct every Nth 👎")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    quiet()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = run(args.data, args.keep, args.limit, args.up, args.down, args.correct_every)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(args.data, Path(tmp), args.limit, args.up, args.down,
                         args.correct_every)
    print(json.dumps(result) if args.json else render(result))


if __name__ == "__main__":
    main()
