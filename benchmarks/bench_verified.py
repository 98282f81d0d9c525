"""Corrections carry over to paraphrases (issue 26): verified answers on the e-manual.

The e-manual's ``qa-train.jsonl`` holds questions of kind "Paraphrased Q&A" that restate
another question (linked here by an identical expert answer). Every other training question is
asked and its answer corrected with the expert answer through ``supportbot correct`` (the
product's own command); then the paraphrases are asked again. Reported: the share served by the
right verified answer, the share served by a wrong one, and ROUGE-L before and after.

The matching rule (``knowledge.verified``: cosine threshold and margin) was chosen on the
paraphrases of even rank ("calibration"); those of odd rank are the held-out figures. Carry-over:
on the sample company, every answerable QA question is verified and the unanswerable ones are
asked: none should be served a verified answer.

    python benchmarks/bench_verified.py --home HOME [--adapter VERSION|none]

HOME has the e-manual docs ingested (``supportbot ingest ../shared/data/emanual-smart-tv/docs``
with ``COMPANY_NAME=Samsung``); the benchmark's conversations and verified answers go to a
temporary database, not HOME's.
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
from common import EMANUAL, base_parser, correct, cpu_features, make_runtime, quiet  # noqa: E402

PARAPHRASED = "Paraphrased Q&A"


class Canned:
    """A chat model that answers at once: the originals' answers are replaced by corrections,
    so only their retrieval (the verified answer's sources) matters."""

    name, adapter = "canned", None

    def chat(self, messages: Sequence[dict[str, str]], **_: Any) -> str:
        return "I don't know."


Linked = list[tuple[str, set[int]]]


def pairs(rows: Sequence[dict[str, str]]) -> tuple[list[dict[str, str]], Linked]:
    """(originals, [(paraphrase, the positions of the originals with its answer)])."""
    originals = [r for r in rows if r["kind"] != PARAPHRASED]
    by_answer: dict[str, set[int]] = {}
    for i, r in enumerate(originals):
        by_answer.setdefault(r["answer"].strip(), set()).add(i)
    linked = [(r["question"], by_answer.get(r["answer"].strip(), set()))
              for r in rows if r["kind"] == PARAPHRASED]
    return originals, [(q, o) for q, o in linked if o]


def ask_all(runtime: Any, engine: Any, questions: Sequence[str], user: str) -> list[Any]:
    """Each question in its own conversation, stored as the router stores it; the answers."""
    from bot.core.router import Router
    from bot.core.types import IncomingMessage

    router, out = Router(runtime.store, engine), []
    for n, question in enumerate(questions):
        reply = router.handle_message(IncomingMessage("bench", "c", user, question,
                                                      thread=f"{user}-{n}"))
        out.append(reply)
    return out


def correct_all(env: dict[str, str], replies: Sequence[Any],
                texts: Sequence[str]) -> dict[int, int]:
    """``supportbot correct MESSAGE_ID TEXT --json`` for each; verified id → position."""
    return {int(correct(env, reply.message_id, text)["verified_id"]): n
            for n, (reply, text) in enumerate(zip(replies, texts, strict=True))}


def served(engine: Any, questions: Sequence[str]) -> list[Any]:
    return [engine.answer(q) for q in questions]


def score(answers: Sequence[Any], linked: Sequence[tuple[str, set[int]]],
          refs: Sequence[str], ids: dict[int, int], rank: int) -> dict[str, Any]:
    from training.evaluate import rouge_l_f1

    rows = [(a, o, r) for n, (a, (_, o), r) in enumerate(zip(answers, linked, refs, strict=True))
            if n % 2 == rank]
    right = sum(1 for a, o, _ in rows if a.verified is not None and ids[a.verified] in o)
    wrong = sum(1 for a, o, _ in rows if a.verified is not None and ids[a.verified] not in o)
    return {"paraphrases": len(rows), "served_right": round(right / len(rows), 3),
            "served_wrong": round(wrong / len(rows), 3),
            "rougeL_f1": round(sum(rouge_l_f1(a.text, r) for a, _, r in rows) / len(rows), 4)}


def emanual_run(home: Path, data: Path, adapter: str | None, db: Path,
                limit: int | None = None) -> dict[str, Any]:
    from knowledge.engine import AnswerEngine
    from knowledge.llm import ModelProvider

    rows = [json.loads(line) for line in
            (data / EMANUAL / "qa-train.jsonl").read_text().splitlines() if line.strip()]
    originals, linked = pairs(rows)
    linked = linked[:limit] if limit else linked
    refs = {r["question"]: r["answer"] for r in rows}
    env = {"SUPPORTBOT_HOME": str(home), "DATABASE_URL": f"sqlite:///{db}",
           "COMPANY_NAME": "Samsung"}
    runtime = make_runtime(home, company_name="Samsung", database_url=env["DATABASE_URL"],
                           shipped_adapter=False)
    active = runtime.resolve_adapter(adapter) if adapter != "none" else None
    model = ModelProvider(runtime.model_spec(), lambda: active).get()
    engine = runtime.engine  # the serving engine: verified answers first
    engine.model = model
    canned = AnswerEngine(runtime.kb, Canned(), runtime.engine.config)  # type: ignore[arg-type]
    questions = [q for q, _ in linked]
    before = served(engine, questions)  # nothing verified yet: the model answers
    replies = ask_all(runtime, canned, [r["question"] for r in originals], "asker")
    ids = correct_all(env, replies, [r["answer"] for r in originals])
    after = served(engine, questions)
    expected = [refs[q] for q in questions]
    out: dict[str, Any] = {"originals_verified": len(ids), "adapter": active[0] if active else None}
    for name, rank in (("calibration", 0), ("held_out", 1)):
        b, a = score(before, linked, expected, ids, rank), score(after, linked, expected, ids, rank)
        out[name] = {**{k: a[k] for k in ("paraphrases", "served_right", "served_wrong")},
                     "rougeL_before": b["rougeL_f1"], "rougeL_after": a["rougeL_f1"]}
    return out


def sample_run(work: Path) -> dict[str, Any]:
    """Every answerable sample question verified; the unanswerable ones asked."""
    from knowledge.engine import AnswerEngine
    from knowledge.ingest import SAMPLE_DOCS, SAMPLE_QA
    from training.evaluate import load_qa

    home = work / "sample"
    env = {"SUPPORTBOT_HOME": str(home), "DATABASE_URL": f"sqlite:///{work / 'sample.db'}"}
    runtime = make_runtime(home, database_url=env["DATABASE_URL"], shipped_adapter=False)
    runtime.refresh([SAMPLE_DOCS], kind="ingest")
    items = load_qa(SAMPLE_QA)
    answerable = [i for i in items if i.answerable]
    canned = AnswerEngine(runtime.kb, Canned(), runtime.engine.config,  # type: ignore[arg-type]
                          runtime.engine.verified)
    replies = ask_all(runtime, canned, [i.question for i in answerable], "asker")
    correct_all(env, replies, [i.answer for i in answerable])
    unanswerable = [i.question for i in items if not i.answerable]
    again = served(canned, [i.question for i in answerable])
    wrong = served(canned, unanswerable)
    return {"verified": len(answerable),
            "same_question_served": round(sum(a.verified is not None for a in again)
                                          / len(again), 3),
            "unanswerable": len(unanswerable),
            "unanswerable_served_verified": sum(a.verified is not None for a in wrong)}


def render(result: dict[str, Any]) -> str:
    lines = [f"CPU: {result['cpu']}", f"adapter: {result['emanual']['adapter'] or 'none'}; "
             f"originals verified: {result['emanual']['originals_verified']}"]
    for name in ("calibration", "held_out"):
        r = result["emanual"][name]
        lines.append(f"{name:12s} paraphrases {r['paraphrases']}: served right "
                     f"{r['served_right']:.2f} (target ≥ 0.80), wrong {r['served_wrong']:.3f} "
                     f"(target ≤ 0.02); ROUGE-L {r['rougeL_before']:.3f} → {r['rougeL_after']:.3f}")
    s = result["sample"]
    lines.append(f"sample company: {s['verified']} answerable verified; the same questions "
                 f"served verified {s['same_question_served']:.2f}; unanswerable served a "
                 f"verified answer: {s['unanswerable_served_verified']} of {s['unanswerable']}")
    return "\n".join(lines)


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--home", type=Path, required=True, help="e-manual docs ingested")
    parser.add_argument("--adapter", default="none", help="version, folder or none (default)")
    parser.add_argument("--limit", type=int, help="first N paraphrases only (a quick look)")
    args = parser.parse_args()
    quiet()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result = {"cpu": cpu_features(),
                  "emanual": emanual_run(args.home, args.data, args.adapter, work / "em.db",
                                             args.limit),
                  "sample": sample_run(work)}
    print(json.dumps(result) if args.json else render(result))


if __name__ == "__main__":
    main()
