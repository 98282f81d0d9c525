"""Which noise model of bench_pgvector.py's 100,000-chunk corpus is like real variants?

bench_pgvector.py cannot embed 100,000 chunks with MiniLM here (hours), so its corpus is real
vectors plus replicas: each a real vector plus noise, isotropic or shaped like the real
chunks' covariance (scale_vectors.py). HNSW's recall depends on how a chunk's replicas spread:
a ball in all 384 dimensions is the hardest case for its graph. This measures the spread of
real variants: ``--sections`` e-manual sections written in ``--variants`` copies exactly as
bench_refresh writes them, chunked and embedded by the product (MiniLM), and each chunk's cloud
of variants compared with clouds of as many replicas of the same chunk from each noise model,
at the noise scale that gives the real clouds' mean cosine to the chunk.

Reported per model: mean cosine of a variant to the first copy, the cloud's effective
dimension (participation ratio of its covariance's eigenvalues, (Σλ)²/Σλ²; at most variants - 1)
and the share of its variance along its top 3 directions.

    python benchmarks/bench_noise_shape.py [--sections 30] [--variants 24] [--json]  (~2 min)
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from bench_refresh import make_corpus
from common import base_parser, emanual, emit, machine, quiet, table
from scale_vectors import NOISE, chunks, fit_scale, noise_basis, normalised, product_kb, vectors_of


def spread(cloud: np.ndarray) -> tuple[float, float]:
    """(effective dimension, share of variance along the top 3 directions) of ``cloud``."""
    values = np.clip(np.linalg.eigvalsh(np.cov(cloud, rowvar=False)), 0.0, None)[::-1]
    return float(values.sum() ** 2 / (values ** 2).sum()), float(values[:3].sum() / values.sum())


def real_clouds(kb: Any, docs: Path, sections: int, variants: int, tmp: Path
                ) -> tuple[list[np.ndarray], np.ndarray]:
    """Each chunk's variants (position by position, chunks every variant has), and the real
    vectors of all sections (for the shaped model's covariance)."""
    every = sorted(docs.glob("*.md"))
    chosen = tmp / "sections"
    chosen.mkdir()
    for section in every[::max(1, len(every) // sections)][:sections]:
        shutil.copy(section, chosen / section.name)
    make_corpus(chosen, tmp / "corpus", variants, 0)
    by_chunk: dict[tuple[str, int], list[np.ndarray]] = {}
    for k in range(variants):
        nodes = chunks(kb, tmp / "corpus" / f"variant-{k:02d}")
        seen: dict[str, int] = {}
        for node, vector in zip(nodes, vectors_of(nodes), strict=True):
            name = Path(str(node.ref_doc_id)).name
            seen[name] = seen.get(name, -1) + 1
            by_chunk.setdefault((name, seen[name]), []).append(vector)
    clouds = [np.array(v) for v in by_chunk.values() if len(v) == variants]
    return clouds, vectors_of(chunks(kb, docs))


def measure(docs: Path, sections: int, variants: int) -> dict[str, Any]:
    from knowledge.embed import make_embed_model

    with tempfile.TemporaryDirectory(prefix="bench-noise-") as tmp:
        kb = product_kb(make_embed_model(), Path(tmp) / "index")
        clouds, real = real_clouds(kb, docs, sections, variants, Path(tmp))
    cosine = float(np.mean([np.mean(c[1:] @ c[0]) for c in clouds]))
    rows: dict[str, dict[str, float]] = {"real variants": _summary(clouds)}
    rng = np.random.default_rng(0)
    for kind in NOISE:
        basis = noise_basis(kind, real)
        scale = fit_scale(np.array([c[0] for c in clouds]), basis, cosine)
        made = [np.vstack([c[0], normalised(
            c[0] + scale * (rng.standard_normal((variants - 1, c.shape[1])) @ basis.T))])
            for c in clouds]
        rows[f"{kind} noise"] = _summary(made)
    return {"clouds": len(clouds), "variants": variants, "models": rows}


def _summary(clouds: list[np.ndarray]) -> dict[str, float]:
    dims, tops = zip(*(spread(c) for c in clouds), strict=True)
    return {"cosine_to_first": round(float(np.mean([np.mean(c[1:] @ c[0]) for c in clouds])), 3),
            "effective_dim": round(float(np.mean(dims)), 2),
            "top3_share": round(float(np.mean(tops)), 3)}


def render(result: dict[str, Any]) -> str:
    rows = [(name, m["cosine_to_first"], m["effective_dim"], m["top3_share"])
            for name, m in result["models"].items()]
    return (f"{result['clouds']} chunks, each in {result['variants']} copies\n"
            + table(rows, ("cloud", "cosine to first copy", "effective dimension",
                           "top-3 variance share")))


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--sections", type=int, default=30, help="e-manual sections used")
    parser.add_argument("--variants", type=int, default=24, help="copies of each section")
    args = parser.parse_args()
    docs, _ = emanual(args.data, need_qa=False)
    quiet()
    result = {"benchmark": "noise_shape", "machine": machine(),
              **measure(docs, args.sections, args.variants)}
    emit(result, args.json, render(result))


if __name__ == "__main__":
    main()
