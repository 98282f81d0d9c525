"""The index's FAISS vector store: cosine scores, ids that survive deletions, persistence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery

from knowledge.index import VECTORS_FILE, CosineFaissStore


def node(name: str, vector: list[float]) -> TextNode:
    return TextNode(id_=name, text=name, embedding=vector)


def top(store: CosineFaissStore, vector: Sequence[float], k: int = 1
        ) -> list[tuple[str, float]]:
    result = store.query(VectorStoreQuery(query_embedding=list(vector), similarity_top_k=k))
    return list(zip(result.ids or [], result.similarities or [], strict=True))


def test_scores_are_cosine_similarities_whatever_the_vector_lengths() -> None:
    store = CosineFaissStore.empty(2)
    store.add([node("a", [3.0, 0.0]), node("b", [1.0, 1.0])])
    hits = dict(top(store, [0.0, 5.0], k=5))  # more than stored: no padding comes back
    assert set(hits) == {"a", "b"}
    assert abs(hits["a"]) < 1e-6
    assert abs(hits["b"] - 1 / np.sqrt(2)) < 1e-6


def test_ids_are_not_reused_after_a_deletion(tmp_path: Path) -> None:
    store = CosineFaissStore.empty(3)
    store.add([node("a", [1, 0, 0]), node("b", [0, 1, 0]), node("c", [0, 0, 1])])
    store.delete_nodes(["a"])
    store.add([node("d", [1, 1, 0])])  # upstream would number it 2, the id of "c"
    assert top(store, [0, 0, 1])[0][0] == "c"
    assert top(store, [1, 1, 0])[0][0] == "d"
    assert store.client.ntotal == 3

    store.persist(str(tmp_path / VECTORS_FILE))
    loaded = CosineFaissStore.load(tmp_path)
    loaded.add([node("e", [1, 0, 1])])  # numbering goes on after a reload too
    assert [top(loaded, v)[0][0] for v in ([0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1])] == [
        "b", "c", "d", "e"]
    assert sorted(loaded._faiss_id_to_node_id_map.values()) == ["b", "c", "d", "e"]
