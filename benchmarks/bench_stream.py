"""Streaming: time to the first visible sentence against time to the complete answer.

Every question of a QA file is answered by the serving engine with ``on_text`` (what the
terminal chat prints and what Slack's and Discord's surfaces show), timing the first call and
the finished answer. Printed: p50 and p90 of both, and the p50 of first ÷ complete per
question (target ≤ 0.5), plus how many answers showed something before they were complete.

    python benchmarks/bench_stream.py --home HOME --qa QA.jsonl [--adapter V|PATH]
                                      [--company NAME] [--limit N] [--json]
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from common import base_parser, cpu_features, make_runtime, percentile


def run(home: Path, qa: Path, adapter: str | None, company: str,
        limit: int | None) -> dict[str, Any]:
    from knowledge.engine import AnswerEngine
    from knowledge.llm import ModelProvider
    from training.evaluate import load_qa

    runtime = make_runtime(home, company_name=company, shipped_adapter=False)
    items = load_qa(qa)[:limit] if limit else load_qa(qa)
    active = runtime.resolve_adapter(adapter) if adapter else None
    model = ModelProvider(runtime.model_spec(), lambda: active).get()
    engine = AnswerEngine(runtime.kb, model, runtime.engine.config)
    engine.answer(items[0].question)  # warm-up: model, index and caches loaded
    firsts, totals, ratios, early = [], [], [], 0
    for item in items:
        seen: list[float] = []
        started = time.perf_counter()
        engine.answer(item.question, on_text=_stamp(seen))
        total = time.perf_counter() - started
        first = (seen[0] - started) if seen else total
        early += bool(seen) and first < total * 0.95
        firsts.append(first)
        totals.append(total)
        ratios.append(first / total)
    return {"questions": len(items), "adapter": active[0] if active else None,
            "cpu": cpu_features(), "first_p50_s": round(statistics.median(firsts), 3),
            "first_p90_s": round(percentile(firsts, 90), 3),
            "complete_p50_s": round(statistics.median(totals), 3),
            "complete_p90_s": round(percentile(totals, 90), 3),
            "first_over_complete_p50": round(statistics.median(ratios), 3),
            "shown_early": early}


def _stamp(seen: list[float]) -> Any:
    """An ``on_text`` that records when it was called."""
    def record(_text: str) -> None:
        seen.append(time.perf_counter())
    return record


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--home", type=Path, required=True, help="a home with the docs ingested")
    parser.add_argument("--qa", type=Path, required=True, help="QA .jsonl about those docs")
    parser.add_argument("--adapter", help="version or adapter folder (default: the base model)")
    parser.add_argument("--company", default="Orbitask", help="COMPANY_NAME of the docs")
    parser.add_argument("--limit", type=int, help="first N questions only")
    args = parser.parse_args()
    result = run(args.home, args.qa, args.adapter, args.company, args.limit)
    if args.json:
        import json

        print(json.dumps(result))
        return
    print(f"{result['questions']} questions, adapter {result['adapter']}, {result['cpu']}\n"
          f"first visible sentence: p50 {result['first_p50_s']} s, p90 {result['first_p90_s']} s"
          f"\ncomplete answer:        p50 {result['complete_p50_s']} s, p90 "
          f"{result['complete_p90_s']} s\nfirst ÷ complete, p50 of questions: "
          f"{result['first_over_complete_p50']} (target ≤ 0.5); shown before complete: "
          f"{result['shown_early']} of {result['questions']}")


if __name__ == "__main__":
    main()
