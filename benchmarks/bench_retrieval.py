"""Retrieval coverage on the Samsung e-manual: dense vs BM25 vs hybrid, side by side.

The e-manual ``docs/`` are ingested with the product's ``KnowledgeBase`` into a temporary
index; every question of ``qa-test.jsonl`` is then retrieved with ``HybridRetriever`` in each
mode (``dense``, ``bm25``, ``hybrid``) and the top-k chunks are scored.

Coverage of one question (the metric, as in ``../shared/data/README.md``):
    tokens(t)  = the lowercased word tokens of t, ``re.findall(r"\\w+", t.lower())``
    coverage   = |Counter(tokens(answer)) & Counter(tokens(context))| / |tokens(answer)|
where ``answer`` is the expert reference answer, ``context`` is the concatenated text of the
top-k retrieved chunks (``node.get_content()``: chunk text only, no title/metadata) and
``&`` is the multiset intersection (a word the answer uses 3 times must occur 3 times in the
context to count 3 times). Reported per mode: the mean coverage, and ``hit@0.8`` — the share
of questions with coverage >= 0.8 (the target: hybrid >= 0.90). ``ctx_tokens`` is the mean
size of the numbered context block the model is shown (``knowledge.prompts.format_context``)
in SmolLM2 tokens: what a configuration costs in prefill latency.

    python benchmarks/bench_retrieval.py [--chunk-size 200] [--chunk-overlap 20] [--top-k 3]
        [--fusion-mode reciprocal_rerank] [--candidates 10] [--dense-weight 0.5] [--json]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    base_parser,
    coverage,
    emanual,
    emit,
    load_qa,
    machine,
    make_runtime,
    quiet,
    quiet_stderr,
    table,
)

MODES = ("dense", "bm25", "hybrid")
FUSION_MODES = ("reciprocal_rerank", "relative_score", "dist_based_score")
TARGET = 0.90


def llm_tokenizer() -> Any:
    """SmolLM2's tokenizer (vocabulary only), to count what a context costs in prefill."""
    import llama_cpp

    from knowledge.llm import embedded_gguf

    with quiet_stderr():
        vocab = llama_cpp.Llama(model_path=str(embedded_gguf()), vocab_only=True, verbose=False)
    return lambda text: len(vocab.tokenize(text.encode(), add_bos=False, special=False))


def build_index(docs: Path, home: Path, chunk_size: int, chunk_overlap: int) -> Any:
    """A product ``Runtime`` whose knowledge base holds ``docs``; returns (runtime, stats)."""
    rt = make_runtime(home, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    stats = rt.kb.update([docs])
    return rt, stats


def make_retriever(loaded: Any, mode: str, top_k: int, fusion_mode: str | None,
                   candidates: int | None, dense_weight: float | None) -> Any:
    """The product's ``HybridRetriever``; ``None`` options keep the product defaults.

    ``dense_weight`` (0..1) rebuilds the fusion with ``retriever_weights=[w, 1 - w]``; note
    that LlamaIndex applies retriever weights only in the score-based fusion modes
    (relative_score, dist_based_score), not in reciprocal_rerank.
    """
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever

    from knowledge.retrieve import HybridRetriever

    kwargs: dict[str, Any] = {}
    if fusion_mode is not None:
        kwargs["fusion_mode"] = fusion_mode
    if candidates is not None:
        kwargs["candidates"] = candidates
    retriever = HybridRetriever(loaded, mode=mode, top_k=top_k, **kwargs)
    if dense_weight is not None and mode == "hybrid":
        retriever.fusion = QueryFusionRetriever(
            [retriever.dense, retriever.bm25], llm=MockLLM(),
            mode=retriever.fusion.mode, similarity_top_k=top_k, num_queries=1,
            use_async=False, retriever_weights=[dense_weight, 1.0 - dense_weight],
        )
    return retriever


def evaluate(retriever: Any, qa: list[dict[str, str]], count_tokens: Any) -> dict[str, Any]:
    from knowledge.prompts import ContextChunk, format_context

    scores, ctx_tokens, started = [], [], time.perf_counter()
    for row in qa:
        hits = retriever.retrieve(row["question"]).hits
        text = "\n".join(hit.node.get_content() for hit in hits)
        scores.append(coverage(row["answer"], text))
        chunks = [ContextChunk(str(h.node.metadata.get("source", "")),
                               str(h.node.metadata.get("title", "")), h.node.get_content())
                  for h in hits]
        ctx_tokens.append(count_tokens(format_context(chunks)))
    n = len(scores)
    return {
        "mean_coverage": round(sum(scores) / n, 4),
        "hit_at_0_8": round(sum(s >= 0.8 for s in scores) / n, 4),
        "ctx_tokens": round(sum(ctx_tokens) / n, 1),
        "ms_per_query": round((time.perf_counter() - started) * 1000 / n, 1),
        "coverage": [round(s, 4) for s in scores],
    }


def parse_args() -> argparse.Namespace:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="chunk size in embedding tokens (default: the product's setting)")
    parser.add_argument("--chunk-overlap", type=int, default=None,
                        help="chunk overlap in embedding tokens (default: the product's)")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--fusion-mode", choices=FUSION_MODES, default=None,
                        help="QueryFusionRetriever mode (default: knowledge.retrieve's)")
    parser.add_argument("--candidates", type=int, default=None,
                        help="chunks each retriever hands to the fusion (default: the product's)")
    parser.add_argument("--dense-weight", type=float, default=None,
                        help="weight of the dense retriever in score fusion (0..1; default even)")
    parser.add_argument("--limit", type=int, default=None, help="first N questions only")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="qa-test.jsonl (the target's 50 questions) or qa-train.jsonl")
    return parser.parse_args()


def render(result: dict[str, Any]) -> str:
    cfg, index = result["config"], result["index"]
    rows = [(m, r["mean_coverage"], r["hit_at_0_8"], r["ctx_tokens"], r["ms_per_query"])
            for m, r in result["modes"].items()]
    weight = cfg["dense_weight"]
    return (
        f"Retrieval coverage — e-manual, {result['questions']} {result['split']} questions, "
        f"{index['chunks']} chunks (chunk {cfg['chunk_size']}/{cfg['chunk_overlap']}, "
        f"top-{cfg['top_k']}, fusion {cfg['fusion_mode']}, candidates {cfg['candidates']}, "
        f"dense weight {weight if weight is not None else 'even'})\n"
        + table(rows, ("mode", "mean_cov", "hit@0.8", "ctx_tokens", "ms/query"))
        + f"\ntarget: hybrid hit@0.8 >= {TARGET} — "
        + ("met" if result["target"]["met"] else "NOT met")
        + "  (README reference, 512-token chunks: dense 0.72, bm25 0.82, rrf 0.86)"
    )


def main() -> None:
    args = parse_args()
    docs, qa_path = emanual(args.data)
    quiet()
    qa = load_qa(qa_path.with_name(f"qa-{args.split}.jsonl"), args.limit)

    from bot.settings import Settings
    from knowledge import retrieve

    defaults = Settings.model_fields
    size = args.chunk_size or defaults["chunk_size"].default
    overlap = (args.chunk_overlap if args.chunk_overlap is not None
               else defaults["chunk_overlap"].default)
    count_tokens = llm_tokenizer()
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as home:
        rt, stats = build_index(docs, Path(home), size, overlap)
        loaded = rt.kb.load()
        results = {
            mode: evaluate(make_retriever(loaded, mode, args.top_k, args.fusion_mode,
                                          args.candidates, args.dense_weight), qa, count_tokens)
            for mode in MODES
        }
    hybrid = results["hybrid"]["hit_at_0_8"]
    result = {
        "benchmark": "retrieval", "machine": machine(), "split": args.split,
        "questions": len(qa),
        "config": {"chunk_size": size, "chunk_overlap": overlap, "top_k": args.top_k,
                   "fusion_mode": args.fusion_mode or retrieve.FUSION_MODE,
                   "candidates": args.candidates or _default_candidates(),
                   "dense_weight": args.dense_weight},
        "index": {"documents": stats.documents, "chunks": stats.chunks,
                  "build_s": stats.seconds},
        "modes": results,
        "target": {"hybrid_hit_at_0_8": TARGET, "met": hybrid >= TARGET},
        "reference_512_token_chunks": {"dense": 0.72, "bm25": 0.82, "hybrid_rrf": 0.86},
    }
    emit(result, args.json, render(result))


def _default_candidates() -> int:
    import inspect

    from knowledge.retrieve import HybridRetriever

    return int(inspect.signature(HybridRetriever.__init__).parameters["candidates"].default)


if __name__ == "__main__":
    main()
