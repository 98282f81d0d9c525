"""Ingest throughput: ``KnowledgeBase.update`` vs raw sentence-transformers encoding.

- ``product``: ``KnowledgeBase.update([docs])`` of the e-manual into an empty temporary index
  (the product's ``Runtime`` with its default settings): read the files, split them into
  chunks, embed them (all-MiniLM-L6-v2, batch 32), persist the vector and BM25 indexes and
  the manifest. chunks/s = chunks in the index / wall time of ``update``.
- ``raw``: ``SentenceTransformer(knowledge.embed.default_embed_path())`` encoding exactly the
  texts the product embedded (each chunk's ``get_content(MetadataMode.EMBED)``), in one
  ``encode`` call with the same batch size (32) and normalisation — the floor set by the
  embedding model alone.

Both models are loaded and warmed up before anything is timed. Each of the ``--repeat``
rounds runs the product (into a fresh empty index) and then the raw encoding; the median is
reported, with the ratio product/raw (1.0 = no overhead beyond embedding).

    python benchmarks/bench_ingest.py [--repeat 3] [--json]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from common import base_parser, emanual, emit, machine, make_runtime, median, quiet, table


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (median reported)")
    args = parser.parse_args()
    docs, _ = emanual(args.data, need_qa=False)
    quiet()

    from llama_index.core.schema import MetadataMode
    from sentence_transformers import SentenceTransformer

    from knowledge.embed import default_embed_path

    product_s: list[float] = []
    raw_s: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for round_ in range(args.repeat):
            rt = make_runtime(Path(tmp) / f"home{round_}")
            kb = rt.kb  # loads the embedding model
            batch = rt.embed_model.embed_batch_size
            rt.embed_model.get_text_embedding("warm-up")
            started = time.perf_counter()
            stats = kb.update([docs])
            product_s.append(time.perf_counter() - started)
            nodes = list(kb.load().index.docstore.docs.values())
            texts = [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
            if round_ == 0:
                model = SentenceTransformer(default_embed_path(), device="cpu")
                model.encode(["warm-up"], batch_size=batch)
            started = time.perf_counter()
            model.encode(texts, batch_size=batch, normalize_embeddings=True,
                         show_progress_bar=False)
            raw_s.append(time.perf_counter() - started)
    product, raw = median(product_s), median(raw_s)
    chunks = stats.chunks
    result = {
        "benchmark": "ingest", "machine": machine(), "documents": stats.documents,
        "chunks": chunks, "batch_size": batch, "repeat": args.repeat,
        "chunk_size": rt.settings.chunk_size, "chunk_overlap": rt.settings.chunk_overlap,
        "product": {"seconds": round(product, 2), "chunks_per_s": round(chunks / product, 2),
                    "runs_s": [round(s, 2) for s in product_s]},
        "raw": {"seconds": round(raw, 2), "chunks_per_s": round(chunks / raw, 2),
                "runs_s": [round(s, 2) for s in raw_s]},
        "ratio_product_over_raw_throughput": round(raw / product, 3),
    }
    emit(result, args.json, render(result))


def render(result: dict[str, Any]) -> str:
    product, raw = result["product"], result["raw"]
    rows = [("KnowledgeBase.update", product["seconds"], product["chunks_per_s"]),
            ("SentenceTransformer.encode", raw["seconds"], raw["chunks_per_s"])]
    return (
        f"Ingest — e-manual, {result['documents']} documents, {result['chunks']} chunks "
        f"(chunk {result['chunk_size']}/{result['chunk_overlap']}, batch "
        f"{result['batch_size']}), median of {result['repeat']}\n"
        + table(rows, ("path", "seconds", "chunks/s"))
        + f"\nproduct throughput = {result['ratio_product_over_raw_throughput']}x raw encoding"
    )

if __name__ == "__main__":
    main()
