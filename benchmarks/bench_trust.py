"""Answers a customer can trust: issue 22's targets on one knowledge base, in one run.

    python benchmarks/bench_trust.py --home HOME --qa QA.jsonl [--adapter V|PATH] [--json]

``HOME`` is a supportbot home with the QA file's documents ingested (``supportbot ingest``).
base+rag and tuned+rag (the adapter given, else the one serving) answer every question with
the serving engine, guard included; printed per configuration: answers stating a number, URL
or e-mail no retrieved chunk holds (target 0), key facts present (the QA file's ``facts``,
target ≥ 0.90), unanswerable declined (≥ 0.90), answerable declined (≤ 0.05), answers ending
mid-sentence (0), ROUGE-L; then tuned+rag against base+rag (the carry-over target: declines at
most 5 points more, ROUGE-L at least base+rag's) and the guard's share of the answer time: p50
of the answers ÷ p50 of the same answers less the security check and grounding guard (target
≤ 1.10), and the same less the quoted passage's selection too (reported).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from common import cpu_features, make_runtime, qa_parser


def _timed_checks(engine: Any, guard: list[float], quote: list[float]) -> None:
    """Add to ``guard`` the seconds the engine spends on the security check and grounding
    guard, and to ``quote`` those spent choosing the passage to quote."""
    def timed(inner: Any, spent: list[float]) -> Any:
        def call(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args)
            finally:
                spent.append(time.perf_counter() - started)
        return call

    engine._guarded = timed(engine._guarded, guard)
    if engine.quoter is not None:
        engine.quoter.best = timed(engine.quoter.best, quote)


def run(home: Path, qa: Path, adapter: str | None, company: str,
        limit: int | None) -> dict[str, Any]:
    from knowledge.engine import AnswerEngine
    from knowledge.llm import ModelProvider
    from training.evaluate import aggregate, load_qa

    runtime = make_runtime(home, company_name=company, shipped_adapter=False)
    items = load_qa(qa)[:limit] if limit else load_qa(qa)
    tuned = runtime.resolve_adapter(adapter)
    out: dict[str, Any] = {"questions": len(items), "adapter": tuned[0], "cpu": cpu_features()}
    arms: tuple[tuple[str, tuple[str, Path] | None], ...] = (("base+rag", None),
                                                             ("tuned+rag", tuned))
    for name, active in arms:
        model = ModelProvider(runtime.model_spec(), _fixed(active)).get()
        engine = AnswerEngine(runtime.kb, model, runtime.engine.config)
        guard: list[float] = []
        quote: list[float] = []
        _timed_checks(engine, guard, quote)
        answers, guarding, quoting = [], [], []
        for item in items:
            answers.append(engine.answer(item.question))
            guarding.append(sum(guard))
            quoting.append(sum(quote))
            guard.clear()
            quote.clear()
        scores = aggregate(items, answers).as_dict()
        total = [a.latency_ms / 1000 for a in answers]
        p50 = statistics.median(total)
        scores["guard_ratio_p50"] = round(p50 / statistics.median(
            [t - g for t, g in zip(total, guarding, strict=True)]), 4)
        scores["checks_ratio_p50"] = round(p50 / statistics.median(
            [t - g - q for t, g, q in zip(total, guarding, quoting, strict=True)]), 4)
        out[name] = scores
    base, tuned_rag = out["base+rag"], out["tuned+rag"]
    out["carry_over"] = {
        "declined_more_points": round(100 * (tuned_rag["answerable_declined"]
                                             - base["answerable_declined"]), 1),
        "rouge_l_gain": round(tuned_rag["rougeL_f1"] - base["rougeL_f1"], 4)}
    return out


def _fixed(active: tuple[str, Path] | None) -> Any:
    return lambda: active


def render(result: dict[str, Any]) -> str:
    rows = [("answers with an invented number/URL/e-mail", "invented", "0"),
            ("key facts present", "key_facts", "≥ 0.90"),
            ("unanswerable declined", "idk_recall", "≥ 0.90"),
            ("answerable declined", "answerable_declined", "≤ 0.05"),
            ("answers ending mid-sentence", "mid_sentence", "0"),
            ("ROUGE-L F1", "rougeL_f1", ""),
            ("ask p50 with the guard ÷ without", "guard_ratio_p50", "≤ 1.10"),
            ("ask p50 with guard and quoted passage ÷ without", "checks_ratio_p50", "")]
    lines = [f"{result['questions']} questions, adapter {result['adapter']}, {result['cpu']}",
             f"{'':46} {'base+rag':>10} {'tuned+rag':>10}  target"]
    for label, key, target in rows:
        cells = [_fmt(result[c].get(key)) for c in ("base+rag", "tuned+rag")]
        lines.append(f"{label:46} {cells[0]:>10} {cells[1]:>10}  {target}")
    carry = result["carry_over"]
    lines.append(f"tuned+rag − base+rag: answerable declined {carry['declined_more_points']:+} "
                 f"points (≤ +5), ROUGE-L {carry['rouge_l_gain']:+.4f} (≥ 0)")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = qa_parser(__doc__ or "", "the serving one")
    args = parser.parse_args()
    result = run(args.home, args.qa, args.adapter, args.company, args.limit)
    if args.json:
        import json

        print(json.dumps(result))
    else:
        print(render(result))


if __name__ == "__main__":
    main()
