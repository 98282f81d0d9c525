"""Retrieval at scale: pgvector HNSW vs FAISS exact over >= 100,000 chunks.

The 259 e-manual sections are chunked and embedded by the product (``KnowledgeBase``'s
splitter, MiniLM): 285 chunks. Embedding 100,000 chunks with MiniLM on 2 shared cores would
take hours, so the corpus is those real vectors plus replicas, each a real vector plus noise,
normalised (scale_vectors.py), the noise sized so that a replica is as far from its chunk as
a real variant is (sections written as bench_refresh writes its copies, re-embedded). Two
shapes of noise, each a corpus of its own (``--noise``): isotropic (all 384 dimensions) and
shaped like the real chunks' covariance.

Each corpus goes into a pgvector table created by the product's store (``PgKnowledgeBase``:
LlamaIndex ``PGVectorStore``, HNSW over cosine with knowledge/pgindex.py's ``HNSW``; rows
copied in with COPY, then the HNSW index built — the full-text and ``ref_doc_id`` indexes are
dropped for the copy, no query here reads them) and into FAISS exact (``IndexFlatIP`` over
the normalised vectors, what the FAISS index uses). The queries are real questions embedded
with MiniLM: qa-test.jsonl (50) and qa-train.jsonl (457).

Reported per corpus, HNSW index (the product's, plus ``--hnsw M,EF_CONSTRUCTION``) and
``hnsw.ef_search`` (``--ef-search``): recall@3 of pgvector against FAISS exact (the exact top
3 by row; target >= 0.95), the same on the 50 test questions, the share of the exact top 3's
source chunks found (any replica of the same chunk counts: what the answer would quote), the
p50 latency of one query — SQL ``ORDER BY embedding <=> q LIMIT 3`` against
``IndexFlatIP.search`` on one thread (and with FAISS's default OpenMP threads, as the product
runs it) — and pgvector/FAISS; and through the product's stores (``PGVectorStore.query`` vs
``CosineFaissStore.query``, top 3) at the product's setting. Latencies are the p50 over the first
``TIMED`` (200) questions.

    python benchmarks/bench_pgvector.py [--chunks 100000] [--noise isotropic,shaped]
        [--hnsw 32,128 ...] [--ef-search 40,100,200,400] [--json]   (~9 min)
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
from common import base_parser, emanual, emit, machine, percentile, quiet, table
from pg_common import new_database, pg_server, server_versions
from scale_vectors import NOISE, calibrate, chunks, product_kb, queries, replicate, vectors_of

TARGET = 0.95
K = 3
TIMED = 200  # questions whose latency is timed (all are searched for recall)


class PgCorpus:
    """The corpus in one pgvector table made by the product's store."""

    def __init__(self, url: str, embed_model: Any, root: Path, dim: int, name: str) -> None:
        from sqlalchemy import create_engine

        from knowledge.embed import DEFAULT_NAME
        from knowledge.index import IndexConfig
        from knowledge.pgfolder import vector_table
        from knowledge.pgindex import PgKnowledgeBase

        self.engine = create_engine(url)
        self.kb = PgKnowledgeBase(root, self.engine, embed_model,
                                  IndexConfig(DEFAULT_NAME, 448, 48))
        self.name, self.dim = name, dim
        self.table = f"data_{vector_table(self.name)}"
        self.kb._store(self.name, dim, setup=True).add([])  # the table and its indexes
        from pgvector.psycopg import register_vector

        self._proxy = self.engine.raw_connection()  # held: closing it returns the connection
        raw: Any = self._proxy.driver_connection
        self.raw = raw

        register_vector(raw)
        raw.autocommit = True

    def load(self, vectors: np.ndarray, nodes: Sequence[Any]) -> tuple[float, list[str]]:
        """COPY every row in (text, metadata, node id = row number, vector) with the table's
        indexes dropped first (HNSW is rebuilt by ``build_index``; the full-text and
        ``ref_doc_id`` ones serve no query here); seconds and the indexes dropped."""
        from llama_index.core.vector_stores.utils import node_to_metadata_dict
        from psycopg.types.json import Jsonb

        metas = [Jsonb(node_to_metadata_dict(n, remove_text=True, flat_metadata=False))
                 for n in nodes]
        texts = [n.get_content() for n in nodes]
        with self.raw.cursor() as cur:
            dropped = [str(r[0]) for r in cur.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE "
                "'%%pkey'", (self.table,)).fetchall()]
            for name in dropped:
                cur.execute(f'DROP INDEX "{name}"')
        started = time.perf_counter()
        with self.raw.cursor() as cur, cur.copy(
                f'COPY "{self.table}" (text, metadata_, node_id, embedding) '
                "FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["text", "jsonb", "varchar", "vector"])
            for i, vector in enumerate(vectors):
                copy.write_row((texts[i % len(nodes)], metas[i % len(nodes)], str(i), vector))
        return time.perf_counter() - started, dropped

    def build_index(self, m: int, ef_construction: int) -> float:
        """(Re)build the HNSW index as the product creates it, with ``m``/``ef_construction``;
        seconds."""
        from knowledge.pgindex import HNSW

        index = f"{self.table}_embedding_idx"
        with self.raw.cursor() as cur:
            cur.execute(f'DROP INDEX IF EXISTS "{index}"')
            cur.execute("SET maintenance_work_mem = '1GB'")
            started = time.perf_counter()
            cur.execute(f'CREATE INDEX "{index}" ON "{self.table}" USING hnsw '
                        f'(embedding {HNSW["hnsw_dist_method"]}) '
                        f"WITH (m = {m}, ef_construction = {ef_construction})")
            seconds = time.perf_counter() - started
            cur.execute("ANALYZE " + f'"{self.table}"')
        return seconds

    def search(self, qs: np.ndarray, ef_search: int) -> tuple[np.ndarray, list[float], bool]:
        """Top ``K`` row numbers per query by the HNSW index, each query's ms, index used."""
        sql = f'SELECT node_id FROM "{self.table}" ORDER BY embedding <=> %s LIMIT {K}'
        found, times = np.zeros((len(qs), K), dtype=np.int64), []
        with self.raw.cursor() as cur:
            cur.execute(f"SET hnsw.ef_search = {int(ef_search)}")
            cur.execute("SET enable_bitmapscan = off")  # as PGVectorStore's queries do
            plan = str(cur.execute("EXPLAIN " + sql, (qs[0],)).fetchall())
            for i, q in enumerate(qs):
                started = time.perf_counter()
                rows = cur.execute(sql, (q,)).fetchall()
                times.append((time.perf_counter() - started) * 1000)
                found[i, :len(rows)] = [int(r[0]) for r in rows]
        return found, times, "embedding_idx" in plan

    def store_query_ms(self, qs: np.ndarray, ef_search: int) -> list[float]:
        """Each query's ms through the product's ``PGVectorStore.query`` (top ``K``)."""
        from llama_index.core.vector_stores.types import VectorStoreQuery

        store = self.kb._store(self.name, self.dim, setup=False)
        times = []
        for q in qs[:TIMED]:
            started = time.perf_counter()
            store.query(VectorStoreQuery(query_embedding=q.tolist(), similarity_top_k=K),
                        hnsw_ef_search=ef_search)
            times.append((time.perf_counter() - started) * 1000)
        return times

    def sizes(self) -> dict[str, float]:
        with self.raw.cursor() as cur:
            table, index = cur.execute(
                "SELECT pg_total_relation_size(%s), pg_relation_size(%s)",
                (self.table, f"{self.table}_embedding_idx")).fetchone()
        return {"table_mb": round(table / 2**20, 1), "hnsw_index_mb": round(index / 2**20, 1)}

    def close(self) -> None:
        self._proxy.close()
        self.kb.close()
        self.engine.dispose()


def faiss_exact(vectors: np.ndarray, qs: np.ndarray) -> tuple[np.ndarray, dict[str, list[float]]]:
    """Exact top ``K`` (the ground truth) and each single query's ms, with FAISS's default
    OpenMP threads (as the product runs it) and with one thread."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    _, truth = index.search(qs, K)
    default = faiss.omp_get_max_threads()
    times: dict[str, list[float]] = {}
    for threads in (default, 1):
        faiss.omp_set_num_threads(threads)
        key = "1_thread" if threads == 1 else f"{threads}_threads"
        times[key] = []
        for q in qs[:TIMED]:
            started = time.perf_counter()
            index.search(q[None, :], K)
            times[key].append((time.perf_counter() - started) * 1000)
    faiss.omp_set_num_threads(default)
    return truth, times


def faiss_store_ms(vectors: np.ndarray, qs: np.ndarray) -> list[float]:
    """Each query's ms through the product's ``CosineFaissStore.query`` (top ``K``)."""
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery

    from knowledge.index import CosineFaissStore

    store = CosineFaissStore.empty(vectors.shape[1])
    for start in range(0, len(vectors), 5000):
        store.add([TextNode(id_=str(i), text="", embedding=vectors[i].tolist())
                   for i in range(start, min(start + 5000, len(vectors)))])
    times = []
    for q in qs[:TIMED]:
        started = time.perf_counter()
        store.query(VectorStoreQuery(query_embedding=q.tolist(), similarity_top_k=K))
        times.append((time.perf_counter() - started) * 1000)
    return times


def recall(found: np.ndarray, truth: np.ndarray, originals: int) -> tuple[float, float]:
    """``(recall@K by row, recall@K of the source chunks)`` averaged over the queries."""
    by_row = np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)])
    by_chunk = np.mean([len({x % originals for x in f} & {x % originals for x in t})
                        / len({x % originals for x in t})
                        for f, t in zip(found, truth, strict=True)])
    return float(by_row), float(by_chunk)


def p50(values: Sequence[float]) -> float:
    return round(percentile(values, 50), 3)


def sweep(pg: PgCorpus, indexes: list[tuple[int, int]], ef_search: list[int], qs: np.ndarray,
          truth: np.ndarray, n_test: int, originals: int,
          faiss_ms: float) -> list[dict[str, Any]]:
    """Recall and latency for every HNSW index ``(m, ef_construction)`` and ef_search."""
    rows = []
    for m, efc in indexes:
        build_s = pg.build_index(m, efc)
        for ef in ef_search:
            found, ms, used = pg.search(qs, ef)
            by_row, by_chunk = recall(found, truth, originals)
            rows.append({"m": m, "ef_construction": efc, "ef_search": ef,
                         "build_s": round(build_s, 1), "index_used": used,
                         "recall_at_3": round(by_row, 4),
                         "recall_at_3_test50": round(
                             recall(found[:n_test], truth[:n_test], originals)[0], 4),
                         "source_recall_at_3": round(by_chunk, 4),
                         "pgvector_p50_ms": p50(ms[:TIMED]),
                         "latency_ratio": round(p50(ms[:TIMED]) / faiss_ms, 3)})
    return rows


def measure_noise(kind: str, real: np.ndarray, nodes: Sequence[Any], qs: np.ndarray,
                  n_test: int, cosine: float, url: str, embed_model: Any, args: Any,
                  tmp: Path) -> dict[str, Any]:
    """One corpus (noise ``kind``): FAISS exact, pgvector at each setting, the product's
    stores at the product's setting."""
    vectors, scale = replicate(real, args.chunks, kind, cosine)
    truth, faiss_times = faiss_exact(vectors, qs)
    faiss_ms = {k: p50(v) for k, v in faiss_times.items()}
    faiss_store = faiss_store_ms(vectors, qs)
    pg = PgCorpus(url, embed_model, tmp / kind, vectors.shape[1], f"bench_{kind}")
    try:
        copy_s, dropped = pg.load(vectors, nodes)
        m, efc, ef = product_hnsw()
        indexes = [(m, efc)] + [h for h in args.hnsw if h != (m, efc)]
        rows = sweep(pg, indexes, args.ef_search, qs, truth, n_test, len(nodes),
                     faiss_ms["1_thread"])
        if len(indexes) > 1:
            pg.build_index(m, efc)  # the product's again, for its store's query
        pg_store = p50(pg.store_query_ms(qs, ef))
        store = {"pgvector_store_p50_ms": pg_store, "faiss_store_p50_ms": p50(faiss_store),
                 "latency_ratio": round(pg_store / p50(faiss_store), 3), **pg.sizes()}
    finally:
        pg.close()
    return {"noise": kind, "chunks": len(vectors), "noise_scale": round(scale, 5),
            "copy_s": round(copy_s, 1), "indexes_dropped_for_copy": dropped,
            "faiss_exact_p50_ms": faiss_ms, "settings": rows, "product_path": store}


def measure(args: Any, docs: Path, qa: Path, server: Any, tmp: Path) -> dict[str, Any]:
    from knowledge.embed import make_embed_model

    embed_model = make_embed_model()
    kb = product_kb(embed_model, tmp / "faiss")
    nodes = chunks(kb, docs)
    real = vectors_of(nodes)
    cosine, pairs = calibrate(kb, docs, nodes, args.calibrate, tmp)
    qs, n_test = queries(qa, embed_model)
    url = new_database(server, "scale")
    corpora = [measure_noise(kind, real, nodes, qs, n_test, cosine, url, embed_model, args, tmp)
               for kind in args.noise]
    product = product_hnsw()
    return {"versions": server_versions(url), "real_chunks": len(nodes),
            "dim": int(real.shape[1]), "queries": len(qs), "test_queries": n_test,
            "variant_cosine": round(cosine, 4), "calibration_pairs": pairs,
            "product_hnsw": dict(zip(("m", "ef_construction", "ef_search"), product,
                                     strict=True)),
            "corpora": corpora}


def verdict(result: dict[str, Any], corpus: dict[str, Any]) -> dict[str, Any]:
    """The product's setting against the target, and the fastest setting that meets it."""
    p = result["product_hnsw"]
    mine = next((r for r in corpus["settings"] if (r["m"], r["ef_construction"],
                 r["ef_search"]) == (p["m"], p["ef_construction"], p["ef_search"])), None)
    passing = [r for r in corpus["settings"] if r["recall_at_3"] >= TARGET]
    best = min(passing, key=lambda r: r["pgvector_p50_ms"]) if passing else None
    return {"product_recall_at_3": mine["recall_at_3"] if mine else None,
            "met": bool(mine and mine["recall_at_3"] >= TARGET), "target": TARGET,
            "fastest_meeting_target": best and {k: best[k] for k in (
                "m", "ef_construction", "ef_search", "recall_at_3", "pgvector_p50_ms")}}


def render(result: dict[str, Any]) -> str:
    rows, notes = [], []
    for c in result["corpora"]:
        rows += [(c["noise"], r["m"], r["ef_construction"], r["ef_search"], r["build_s"],
                  r["recall_at_3"], r["recall_at_3_test50"], r["source_recall_at_3"],
                  r["pgvector_p50_ms"], c["faiss_exact_p50_ms"]["1_thread"],
                  r["latency_ratio"]) for r in c["settings"]]
        store, v = c["product_path"], c["verdict"]
        best = v["fastest_meeting_target"]
        faiss_default = next(val for k, val in c["faiss_exact_p50_ms"].items()
                             if k != "1_thread")
        notes.append(
            f"{c['noise']}: product settings recall@3 {v['product_recall_at_3']} (target >= "
            f"{TARGET}: {'met' if v['met'] else 'NOT met'}); "
            + (f"fastest meeting it: m={best['m']}, ef_construction={best['ef_construction']}"
               f", ef_search={best['ef_search']} ({best['recall_at_3']}, "
               f"{best['pgvector_p50_ms']} ms)" if best else "no setting measured meets it")
            + f". FAISS exact with its default threads p50 {faiss_default} ms. Through the "
            f"product's stores: PGVectorStore.query {store['pgvector_store_p50_ms']} ms vs "
            f"CosineFaissStore.query {store['faiss_store_p50_ms']} ms (ratio "
            f"{store['latency_ratio']}); table {store['table_mb']} MB, HNSW "
            f"{store['hnsw_index_mb']} MB")
    chunks_n = result["corpora"][0]["chunks"] if result["corpora"] else 0
    return (
        f"Retrieval at scale — {chunks_n:,} chunks: {result['real_chunks']} real MiniLM chunk "
        f"vectors of the e-manual + perturbed replicas (stand-in for embedding them all; "
        f"replica cosine to its chunk {result['variant_cosine']}, as measured on "
        f"{result['calibration_pairs']} real variant chunks); {result['queries']} real "
        f"questions ({result['test_queries']} from qa-test); PostgreSQL "
        f"{result['versions']['postgresql']}, pgvector {result['versions']['pgvector']}\n"
        + table(rows, ("noise", "m", "ef_constr", "ef_search", "build s", "recall@3",
                       "recall@3 test50", "source recall@3", "pgvector p50 ms",
                       "FAISS exact p50 ms (1 thread)", "pg/FAISS"))
        + "".join(f"\n{n}" for n in notes))


def product_hnsw() -> tuple[int, int, int]:
    """knowledge/pgindex.py's ``(m, ef_construction, ef_search)``."""
    from knowledge.pgindex import HNSW

    m, efc, ef = (cast(int, HNSW[k]) for k in ("hnsw_m", "hnsw_ef_construction",
                                                "hnsw_ef_search"))
    return m, efc, ef


def pair(text: str) -> tuple[int, int]:
    m, efc = (int(x) for x in text.split(","))
    return m, efc


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--chunks", type=int, default=100_000, help="corpus size (>=)")
    parser.add_argument("--noise", type=lambda s: s.split(","), default=list(NOISE),
                        help="replica noise: isotropic, shaped or both (default)")
    parser.add_argument("--hnsw", type=pair, action="append", default=[],
                        help="M,EF_CONSTRUCTION of an HNSW index to measure besides the "
                        "product's (repeatable)")
    parser.add_argument("--ef-search", type=lambda s: [int(x) for x in s.split(",")],
                        default=None, help="hnsw.ef_search values (default: 40,100,200,400 "
                        "and the product's)")
    parser.add_argument("--calibrate", type=int, default=40,
                        help="sections re-embedded as a variant to set the noise")
    args = parser.parse_args()
    args.ef_search = args.ef_search or sorted({product_hnsw()[2], 40, 100, 200, 400})
    docs, qa = emanual(args.data)
    quiet()
    on = machine()
    with pg_server() as server, tempfile.TemporaryDirectory(prefix="bench-pgvector-") as tmp:
        measured = measure(args, docs, qa, server, Path(tmp))
    result = {"benchmark": "pgvector", "machine": on, **measured}
    for corpus in result["corpora"]:
        corpus["verdict"] = verdict(result, corpus)
    emit(result, args.json, render(result))


if __name__ == "__main__":
    main()
