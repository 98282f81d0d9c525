"""Retrieval configuration sweep: chunking x fusion mode x fusion candidates (x weights).

For each ``--chunks`` setting (``SIZE/OVERLAP`` in embedding tokens) the e-manual is ingested
into a temporary index with the product's ``KnowledgeBase``; then dense, BM25 and every
hybrid combination of ``--fusion-modes`` x ``--candidates`` (x ``--dense-weights``) is scored
with the coverage metric of ``bench_retrieval.py`` (share of the reference answer's word
tokens, multiset overlap, found in the top-k chunks; hit@0.8 = share of questions with
coverage >= 0.8) on:

- ``test``: ``qa-test.jsonl``, the 50 questions the target (hybrid hit@0.8 >= 0.90) is on;
- ``train``: ``qa-train.jsonl``, 457 further questions from other sections of the manual,
  used as a development set: a configuration picked on 50 questions alone is mostly picking
  noise (one question = 0.02), so prefer what also holds on ``train``.

``vs base`` counts, over every question scored, the questions a configuration gets to
coverage >= 0.8 and the ``--baseline`` fusion (same chunking) does not (+), and the reverse
(-): +7/-2 is a consistent gain, +22/-23 is churn.

``ctx`` is the mean size of the numbered context block shown to the model, in SmolLM2 tokens
(prefill costs ~2 ms a token here), on the test questions. Query embeddings are computed once
per question and reused across configurations (same model, same vectors; only faster).

    python benchmarks/sweep_retrieval.py [--chunks 200/20,384/40,448/48,512/50]
        [--fusion-modes reciprocal_rerank,relative_score,dist_based_score]
        [--candidates 3,5,10] [--dense-weights 0.4,0.6] [--split both] [--json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_retrieval import build_index, llm_tokenizer, make_retriever
from common import base_parser, coverage, emanual, emit, load_qa, machine, quiet, table

from knowledge.prompts import ContextChunk, format_context


class CachedQueryEmbedding:
    """Wraps the product's embedding model: each query is embedded once per run.

    Queries are embedded with one torch thread: on a shared 2-core machine a 2-thread
    single-sentence encode can stall ~0.5 s in OpenMP barriers (measured: 485 ms vs 15 ms
    with one thread under load); the vectors are the same, only the wait differs.
    """

    def __init__(self, inner: Any, cache: dict[str, list[float]]) -> None:
        self.inner, self.cache = inner, cache

    def get_query_embedding(self, query: str) -> list[float]:
        if query not in self.cache:
            import torch

            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                self.cache[query] = self.inner.get_query_embedding(query)
            finally:
                torch.set_num_threads(threads)
        return self.cache[query]


def score(retriever: Any, qa: list[dict[str, str]], count_tokens: Any | None,
          hits_out: list[bool]) -> dict[str, Any]:
    covs, ctx = [], []
    for row in qa:
        hits = retriever.retrieve(row["question"]).hits
        covs.append(coverage(row["answer"], "\n".join(h.node.get_content() for h in hits)))
        if count_tokens is not None:
            chunks = [ContextChunk(str(h.node.metadata.get("source", "")),
                                   str(h.node.metadata.get("title", "")), h.node.get_content())
                      for h in hits]
            ctx.append(count_tokens(format_context(chunks)))
    hits_out += [c >= 0.8 for c in covs]
    out = {"hit": round(sum(c >= 0.8 for c in covs) / len(covs), 4),
           "mean": round(sum(covs) / len(covs), 4)}
    if ctx:
        out["ctx"] = round(sum(ctx) / len(ctx), 1)
    return out


Config = tuple[str, str | None, int | None, float | None]  # mode, fusion, candidates, weight


def parse_args() -> argparse.Namespace:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--chunks", default="200/20,384/40,448/48,512/50",
                        help="comma-separated SIZE/OVERLAP settings")
    parser.add_argument("--fusion-modes",
                        default="reciprocal_rerank,relative_score,dist_based_score")
    parser.add_argument("--candidates", default="3,5,10")
    parser.add_argument("--dense-weights", default="",
                        help="comma-separated dense weights for the score fusions ('' = even)")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--split", choices=("test", "train", "both"), default="both")
    parser.add_argument("--baseline", default="reciprocal_rerank/10",
                        help="FUSION/CANDIDATES that 'vs base' wins/losses are counted against")
    return parser.parse_args()


def configs(args: argparse.Namespace) -> list[Config]:
    """Dense, BM25, then every fusion mode x candidates (x dense weight for score fusions)."""
    candidates = [int(c) for c in args.candidates.split(",") if c]
    weights: list[float | None] = [float(w) for w in args.dense_weights.split(",") if w]
    out: list[Config] = [("dense", None, None, None), ("bm25", None, None, None)]
    for mode in (m for m in args.fusion_modes.split(",") if m):
        for k in candidates:
            ws = weights if mode != "reciprocal_rerank" and weights else [None]
            out += [("hybrid", mode, k, w) for w in ws]
    return out


def sweep_chunking(docs: Path, size: int, overlap: int, args: argparse.Namespace,
                   splits: dict[str, list[dict[str, str]]], cache: dict[str, list[float]],
                   count_tokens: Any) -> list[dict[str, Any]]:
    """One index at ``size``/``overlap``, scored under every retrieval configuration."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as home:
        rt, stats = build_index(docs, Path(home), size, overlap)
        loaded = rt.kb.load()
        for mode, fusion, depth, w in configs(args):
            retriever = make_retriever(loaded, mode, args.top_k, fusion, depth, w)
            retriever.embed_model = CachedQueryEmbedding(retriever.embed_model, cache)
            row: dict[str, Any] = {"chunk_size": size, "chunk_overlap": overlap,
                                   "chunks": stats.chunks, "mode": mode,
                                   "fusion": fusion or "", "candidates": depth or "",
                                   "dense_weight": w if w is not None else ""}
            hits: list[bool] = []
            for name, qa in splits.items():
                row[name] = score(retriever, qa, count_tokens if name == "test" else None, hits)
            row["_hits"] = hits
            rows.append(row)
            if not args.json:
                print(_line(row), file=sys.stderr, flush=True)
    return rows


def render(result: dict[str, Any]) -> str:
    splits = result["splits"]
    header = ["chunk", "mode", "fusion", "cand", "w", "vs base"]
    if "test" in splits:
        header += ["test hit@.8", "test cov", "ctx tok"]
    if "train" in splits:
        header += ["train hit@.8", "train cov"]
    rows = []
    for r in result["results"]:
        cells = [f"{r['chunk_size']}/{r['chunk_overlap']}", r["mode"], r["fusion"],
                 r["candidates"], r["dense_weight"], r.get("vs_base", "")]
        if "test" in r:
            cells += [r["test"]["hit"], r["test"]["mean"], r["test"]["ctx"]]
        if "train" in r:
            cells += [r["train"]["hit"], r["train"]["mean"]]
        rows.append(cells)
    return (f"Retrieval sweep — top-{result['top_k']}, splits {splits}, "
            f"{result['seconds']} s\n" + table(rows, header))


def main() -> None:
    args = parse_args()
    docs, qa_test = emanual(args.data)
    qa_train = qa_test.with_name("qa-train.jsonl")
    if args.split != "test" and not qa_train.is_file():
        sys.exit(f"error: {qa_train} not found — pass --split test or fix --data.")
    quiet()
    splits = {name: load_qa(path) for name, path in (("test", qa_test), ("train", qa_train))
              if args.split in (name, "both")}
    cache: dict[str, list[float]] = {}
    count_tokens = llm_tokenizer()
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    for chunking in args.chunks.split(","):
        size, overlap = (int(x) for x in chunking.split("/"))
        results += sweep_chunking(docs, size, overlap, args, splits, cache, count_tokens)
    _compare(results, args.baseline)
    result = {"benchmark": "retrieval-sweep", "machine": machine(), "top_k": args.top_k,
              "splits": {n: len(q) for n, q in splits.items()},
              "seconds": round(time.perf_counter() - started, 1), "results": results}
    emit(result, args.json, render(result))


def _compare(results: list[dict[str, Any]], baseline: str) -> None:
    """Per chunking: questions won/lost (hit@0.8 flips) against the baseline fusion, over
    every question scored — a paired view that shows whether a difference is more than a
    handful of questions moving both ways."""
    fusion, _, k = baseline.partition("/")
    for row in results:
        base = next((r for r in results
                     if (r["chunk_size"], r["chunk_overlap"]) == (row["chunk_size"],
                                                                  row["chunk_overlap"])
                     and r["mode"] == "hybrid" and r["fusion"] == fusion
                     and str(r["candidates"]) == k and r["dense_weight"] == ""), None)
        if base is not None and row["mode"] == "hybrid" and row is not base:
            pairs = list(zip(row["_hits"], base["_hits"], strict=True))
            row["vs_base"] = (f"+{sum(a and not b for a, b in pairs)}"
                              f"/-{sum(b and not a for a, b in pairs)}")
    for row in results:
        del row["_hits"]


def _line(row: dict[str, Any]) -> str:
    parts = [f"{row['chunk_size']}/{row['chunk_overlap']}", row["mode"], row["fusion"],
             str(row["candidates"]), str(row["dense_weight"])]
    parts += [f"{n}: hit {v['hit']} cov {v['mean']}" for n, v in row.items()
              if n in ("test", "train")]
    return "  ".join(p for p in parts if p)


if __name__ == "__main__":
    main()
