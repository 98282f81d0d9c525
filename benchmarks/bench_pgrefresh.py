"""Refresh on PostgreSQL: 1 changed document in >= 20,000 vs a full build (pgvector index).

The corpus is bench_refresh's (each e-manual section in ``--variants`` copies, one folder per
copy, each with a line naming a TV series): 78 copies x 259 sections = 20,202 documents. The
index is the product's on PostgreSQL: ``Runtime`` with ``DATABASE_URL`` on a pgserver
PostgreSQL 16 + pgvector and ``VECTOR_STORE=pgvector`` (``PgKnowledgeBase``: a table per
version, HNSW + full-text, the advisory refresh lock, the quarantine screening documents).

Embedding stand-in: MiniLM embeds ~10-100 chunks a second on 2 shared cores, so a full build
of ~30,000 chunks would take far longer than a benchmark run; the embedding model is a
hashing embedder (scikit-learn ``HashingVectorizer`` over the words, 384 dimensions, L2
normalised: as wide as MiniLM, near-zero cost). Chunking uses MiniLM's real tokenizer, so the
chunks are the product's. Everything else is the product's code path. A stand-in that costs
nothing makes the full build cheap and the ratio pessimistic; MiniLM's rate is also measured
on a sample of the corpus's chunks in the same run, and the full build's time with MiniLM
projected from it (the refresh embeds only the changed document either way).

1. full build: ``update([corpus])`` into an empty database;
2. one document is changed (a sentence appended to one section of variant 1);
3. refresh: ``update()`` — reads and screens the files changed since the last read (size or
   modification time), embeds the changed document into a table of its own, and in one
   transaction swaps its chunks into the live table and switches live.

The corpus is written more than 2 s before the full build: a file modified within 2 s before a
read is read again by the next refresh (knowledge/unread.py), as a real corpus's would not be.

Reported: both wall times, refresh/full (target <= 5%), CPU time of this process, texts
embedded in each step, and where each step's time went (reading + screening, chunking +
inserting, embedding, merging and going live, and the rest of ``update``).

    python benchmarks/bench_pgrefresh.py [--variants 78] [--max-words 0] [--json]   (~8 min)
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from bench_refresh import EmbedCounter, make_corpus, timed
from common import base_parser, emanual, emit, machine, quiet, table
from llama_index.core.base.embeddings.base import BaseEmbedding
from pg_common import new_database, pg_server, server_versions
from pydantic import PrivateAttr

TARGET = 0.05
PHASES = ("_read", "_embed", "_fill", "_go_live", "_drop_versions")
RACY_S = 2.1  # knowledge/unread.py RACY_NS, and a little


class HashEmbedding(BaseEmbedding):
    """Stand-in embedding model: hashed word counts, L2-normalised (texts sharing words are
    near). ``_model.tokenizer`` is MiniLM's, which the product's chunker counts tokens with."""

    _vectorizer: Any = PrivateAttr()
    _model: Any = PrivateAttr()

    def __init__(self, tokenizer: Any, dim: int = 384) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        super().__init__(model_name=f"bench-hashing-{dim}", embed_batch_size=64)
        self._vectorizer = HashingVectorizer(n_features=dim, norm="l2")
        self._model = SimpleNamespace(tokenizer=tokenizer)

    @classmethod
    def class_name(cls) -> str:
        return "BenchHashEmbedding"

    def _vectors(self, texts: list[str]) -> list[list[float]]:
        matrix = self._vectorizer.transform(texts).toarray().astype(np.float32)
        return [row.tolist() for row in matrix]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vectors([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._vectors(texts)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vectors([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vectors([query])[0]


class PhaseTimer:
    """Wall seconds spent in some of ``kb``'s methods (wrapped on the instance)."""

    def __init__(self, kb: Any) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        for name in PHASES:
            setattr(kb, name, self._wrap(name, getattr(kb, name)))

    def _wrap(self, name: str, method: Any) -> Any:
        @functools.wraps(method)
        def timed_method(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
        return timed_method

    def take(self, total: float) -> dict[str, float]:
        """The phases of a step that took ``total`` seconds; ``other_s``: the rest of
        ``update`` (the lock, version bookkeeping, sorting documents into kept and new)."""
        s, self.seconds = dict(self.seconds), defaultdict(float)
        fill = s.get("_fill", 0.0)
        outside = total - sum(s.get(k, 0.0) for k in ("_read", "_fill", "_go_live",
                                                      "_drop_versions"))
        return {"read_and_screen_s": round(s.get("_read", 0.0), 2),
                "embed_s": round(s.get("_embed", 0.0), 2),
                "chunk_and_insert_s": round(fill - s.get("_embed", 0.0), 2),
                "go_live_and_drop_s": round(s.get("_go_live", 0.0)
                                            + s.get("_drop_versions", 0.0), 2),
                "other_s": round(outside, 2)}


def make_kb(url: str, home: Path) -> Any:
    """The product's knowledge base on PostgreSQL, with the stand-in embedding model."""
    from transformers import AutoTokenizer

    from bot.runtime import Runtime
    from bot.settings import load_settings
    from knowledge.embed import default_embed_path

    tokenizer = AutoTokenizer.from_pretrained(default_embed_path())
    settings = load_settings(supportbot_home=home, _env_file=None, database_url=url,
                             vector_store="pgvector")
    return Runtime(settings, embed_model=HashEmbedding(tokenizer)).kb


def minilm_rate(kb: Any, sample: int) -> float:
    """MiniLM's chunks per second on ``sample`` of the live version's chunks (this machine,
    now)."""
    from sqlalchemy import text

    from knowledge.embed import make_embed_model

    with kb.engine.connect() as conn:
        texts = [str(t) for t in conn.execute(text(
            f'SELECT text FROM "data_{kb.manifest()["table"]}" '
            f"ORDER BY md5(node_id) LIMIT {int(sample)}")).scalars()]
    model = make_embed_model()
    model.get_text_embedding("warm-up")
    started = time.perf_counter()
    model.get_text_embedding_batch(texts)
    return len(texts) / (time.perf_counter() - started)


def measure(corpus: Path, files: list[Path], url: str, home: Path,
            sample: int) -> dict[str, Any]:
    kb = make_kb(url, home)
    phases = PhaseTimer(kb)
    counter = EmbedCounter()
    counter.take()
    full, full_s, full_cpu = timed(lambda: kb.update([corpus]))
    full_embedded, full_phases = counter.take(), phases.take(full_s)
    folder = corpus / "variant-01"
    changed = (folder if folder.is_dir() else corpus / "variant-00") / files[14].name
    changed.write_text(changed.read_text() + "\nUpdated: remote support is now available "
                       "around the clock, every day of the year.\n")
    refresh, refresh_s, refresh_cpu = timed(kb.update)
    refresh_embedded, refresh_phases = counter.take(), phases.take(refresh_s)
    rate = minilm_rate(kb, sample) if sample else 0.0
    kb.close()
    ratio = refresh_s / full_s
    projected = (full_s - full_phases["embed_s"] + full.chunks / rate) if rate else None
    return {
        "corpus": {"documents": full.documents, "chunks": full.chunks},
        "full": {"seconds": round(full_s, 2), "cpu_seconds": round(full_cpu, 2),
                 "embedded_texts": full_embedded, **full_phases},
        "refresh": {"seconds": round(refresh_s, 2), "cpu_seconds": round(refresh_cpu, 2),
                    "embedded_texts": refresh_embedded, "added": refresh.added,
                    "changed": refresh.changed, "deleted": refresh.deleted,
                    "unchanged": refresh.unchanged, **refresh_phases},
        "ratio_refresh_over_full": round(ratio, 4),
        "cpu_ratio_refresh_over_full": round(refresh_cpu / full_cpu, 4),
        "target": {"ratio": TARGET, "met": ratio <= TARGET},
        "minilm": rate and {
            "chunks_per_s": round(rate, 1), "sample": sample,
            "projected_full_s": round(projected or 0.0, 1),
            "projected_ratio": round(refresh_s / projected, 4) if projected else None},
    }


def render(result: dict[str, Any]) -> str:
    corpus, full, refresh = result["corpus"], result["full"], result["refresh"]
    rows = [(name, step["seconds"], step["cpu_seconds"], step["embedded_texts"],
             step["read_and_screen_s"], step["chunk_and_insert_s"], step["embed_s"],
             step["go_live_and_drop_s"], step["other_s"])
            for name, step in (("full build", full), ("refresh (1 changed)", refresh))]
    mini = result["minilm"]
    return (
        f"Refresh on PostgreSQL (pgvector) — {corpus['documents']:,} documents, "
        f"{corpus['chunks']:,} chunks ({corpus['variants']} variants of the e-manual"
        + (f", bodies cut to {corpus['max_words']} words" if corpus["max_words"] else "")
        + f"); PostgreSQL {result['versions']['postgresql']}, pgvector "
        f"{result['versions']['pgvector']}; embedding stand-in: hashing vectorizer (384 d)\n"
        + table(rows, ("step", "seconds", "CPU s", "texts embedded", "read+screen s",
                       "chunk+insert s", "embed s", "merge + go live s", "other s"))
        + f"\nrefresh/full = {result['ratio_refresh_over_full']:.2%} (CPU time of this "
        f"process: {result['cpu_ratio_refresh_over_full']:.2%}; target <= {TARGET:.0%}: "
        + ("met" if result["target"]["met"] else "NOT met") + f"); refresh: "
        f"{refresh['changed']} changed, {refresh['unchanged']:,} unchanged"
        + (f"\nwith MiniLM ({mini['chunks_per_s']} chunks/s measured here on "
           f"{mini['sample']} of the corpus's chunks) the full build would take about "
           f"{mini['projected_full_s']:.0f} s: refresh/full = {mini['projected_ratio']:.2%} "
           "(projected, not measured)" if mini else ""))


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--variants", type=int, default=78, help="copies of each section")
    parser.add_argument("--max-words", type=int, default=0,
                        help="cut each section body to N words (0 = whole sections)")
    parser.add_argument("--minilm-sample", type=int, default=64,
                        help="chunks MiniLM embeds to project the full build (0 = skip)")
    args = parser.parse_args()
    docs, _ = emanual(args.data, need_qa=False)
    quiet()
    on = machine()
    with pg_server() as server, tempfile.TemporaryDirectory(prefix="bench-pgrefresh-") as tmp:
        corpus = Path(tmp) / "corpus"
        files = make_corpus(docs, corpus, args.variants, args.max_words)
        time.sleep(RACY_S)
        url = new_database(server, "refresh")
        measured = measure(corpus, files, url, Path(tmp) / "home", args.minilm_sample)
        versions = server_versions(url)
    measured["corpus"].update(variants=args.variants, max_words=args.max_words)
    result = {"benchmark": "pgrefresh", "machine": on, "versions": versions, **measured}
    emit(result, args.json, render(result))


if __name__ == "__main__":
    main()
