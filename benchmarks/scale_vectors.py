"""A 100,000-chunk vector corpus from the e-manual's real MiniLM vectors (not a benchmark
itself; bench_pgvector.py uses it).

The real chunks are the product's (``KnowledgeBase``'s splitter and embedding step). Each
replica is a real chunk's vector plus noise, normalised, with the noise's size set so that a
replica is as far from its chunk as a real variant is (``calibrate``: sections written as
bench_refresh writes its copies, chunked and embedded, compared position by position). Two
shapes of noise (``NOISE``):

    isotropic  N(0, s²I) in all 384 dimensions;
    shaped     N(0, s²Σ), Σ the covariance of the real chunk vectors (normalised to the same
               total variance): the noise varies along the directions real chunks differ in.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from bench_refresh import make_corpus
from common import load_qa

NOISE = ("isotropic", "shaped")


def product_kb(embed_model: Any, root: Path) -> Any:
    """A FAISS ``KnowledgeBase`` with the default settings: its splitter and embedding step."""
    from knowledge.embed import DEFAULT_NAME, token_counter
    from knowledge.index import IndexConfig, KnowledgeBase

    return KnowledgeBase(root, embed_model, IndexConfig(DEFAULT_NAME, 448, 48),
                         token_counter(embed_model))


def chunks(kb: Any, folder: Path) -> Sequence[Any]:
    """The documents under ``folder`` chunked and embedded as the product does."""
    from llama_index.core.ingestion import IngestionPipeline

    from knowledge.ingest import discover, load_documents

    documents = load_documents(discover([folder])).documents
    nodes = IngestionPipeline(transformations=kb._transformations()).run(documents=documents)
    kb._embed(nodes, show_progress=False)
    return nodes


def normalised(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def vectors_of(nodes: Sequence[Any]) -> np.ndarray:
    return normalised(np.array([n.get_embedding() for n in nodes], dtype=np.float32))


def calibrate(kb: Any, docs: Path, nodes: Sequence[Any], sample: int,
              tmp: Path) -> tuple[float, int]:
    """``(mean cosine of a real variant's chunk to the original's, pairs compared)``:
    ``sample`` sections copied as bench_refresh's second variant, chunked and embedded, each
    chunk compared with the original section's chunk at the same position."""
    sections = sorted(docs.glob("*.md"))
    source = tmp / "calibration-sections"
    source.mkdir(parents=True)
    for section in sections[::max(1, len(sections) // sample)][:sample]:
        shutil.copy(section, source / section.name)
    make_corpus(source, tmp / "calibration", 2, 0)  # variant-01: as the corpus copies them
    variant = chunks(kb, tmp / "calibration" / "variant-01")
    by_file: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        by_file.setdefault(Path(str(node.ref_doc_id)).name, []).append(i)
    originals, copies = [], []
    seen: dict[str, int] = {}
    for k, node in enumerate(variant):
        name = Path(str(node.ref_doc_id)).name
        position = seen[name] = seen.get(name, -1) + 1
        if position < len(by_file.get(name, [])):
            originals.append(by_file[name][position])
            copies.append(k)
    real, other = vectors_of(nodes), vectors_of(variant)
    return float(np.mean(np.sum(real[originals] * other[copies], axis=1))), len(copies)


def noise_basis(kind: str, real: np.ndarray) -> np.ndarray:
    """``B`` with noise = ``z @ B.T``, z ~ N(0, I), E|noise|² = d (before scaling)."""
    dim = real.shape[1]
    if kind == "isotropic":
        return np.eye(dim, dtype=np.float32)
    values, vecs = np.linalg.eigh(np.cov(real, rowvar=False))
    values = np.clip(values, 0.0, None)
    return (vecs * np.sqrt(values * dim / values.sum())).astype(np.float32)


def _perturbed(real: np.ndarray, basis: np.ndarray, scale: float,
               rng: np.random.Generator) -> np.ndarray:
    z = rng.standard_normal(real.shape).astype(np.float32)
    return normalised(real + scale * (z @ basis.T))


def fit_scale(real: np.ndarray, basis: np.ndarray, cosine: float, seed: int = 1) -> float:
    """The noise scale at which a replica's mean cosine to its chunk is ``cosine``."""
    sample = np.repeat(real, 4, axis=0)
    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        got = float(np.mean(np.sum(_perturbed(sample, basis, mid, np.random.default_rng(seed))
                                   * sample, axis=1)))
        lo, hi = (mid, hi) if got > cosine else (lo, mid)
    return (lo + hi) / 2


def replicate(real: np.ndarray, total: int, kind: str, cosine: float,
              seed: int = 0) -> tuple[np.ndarray, float]:
    """The real vectors first, then perturbed copies of them until there are ``total``;
    and the noise scale used."""
    basis = noise_basis(kind, real)
    scale = fit_scale(real, basis, cosine)
    copies = math.ceil(total / len(real))
    rng = np.random.default_rng(seed)
    out = np.empty((copies * len(real), real.shape[1]), dtype=np.float32)
    out[:len(real)] = real
    for c in range(1, copies):
        out[c * len(real):(c + 1) * len(real)] = _perturbed(real, basis, scale, rng)
    return out, scale


def queries(qa_test: Path, embed_model: Any) -> tuple[np.ndarray, int]:
    """The e-manual questions (test first, then train) embedded as queries; test count."""
    test = [row["question"] for row in load_qa(qa_test)]
    train_file = qa_test.with_name("qa-train.jsonl")
    train = [row["question"] for row in load_qa(train_file)] if train_file.exists() else []
    return normalised(np.array([embed_model.get_query_embedding(q) for q in test + train],
                               dtype=np.float32)), len(test)
