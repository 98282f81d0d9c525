"""Knowledge gaps: what customers ask that the documents do not answer, grouped by meaning.

The questions come from the conversation store (``bot.storage.gaps``): those the bot declined,
whose answer got a net 👎, or whose answer a reviewer marked "the docs are missing this". They
are embedded with the index's MiniLM model (normalised), a question the support team's verified
answers now serve is left out, and the rest are clustered by scikit-learn's
``AgglomerativeClustering`` (cosine distance, average linkage) cut at ``GAP_DISTANCE``.

Each cluster is a gap: ranked by how many distinct users asked, then by how many questions,
then by the latest; labelled by its most central question (nearest the cluster's mean), as a
customer wrote it; shown with up to ``REPRESENTATIVES`` distinct questions nearest the mean
and the documents the retriever finds nearest them.

Re-scoring: a gap drops out when the current index answers it, i.e. when for at least half
of its representative questions, by the dense retrieval the engine gates on (cosine of the
nearest chunks, ``Retrieval.relevance`` being the best), either
  * the nearest chunk is close, ``ANSWERED_RELEVANCE`` or more (the documents answer it), or
  * the nearest chunk is not one the bot answered that question from (the answer's stored
    sources), is at least ``ANSWERED_GAIN`` closer than those were and reaches the engine's
    ``min_relevance``: the documents changed near the question since. A question declined
    with no sources had nothing at ``min_relevance`` then; when its sources are gone from the
    index (their document changed) and none is among the nearest, this test cannot tell, and
    only the first one counts.
The engine's ``min_relevance`` (0.3) alone says the documents hold *something* on the topic:
the median relevance of every e-manual section's questions reaches it with the section
removed. Results are cached per (index build, questions, verified answers), so a refresh
re-scores and a new question re-clusters.
"""

from __future__ import annotations

import hashlib
import statistics
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # LlamaIndex loads with the index, not with `supportbot status`
    from knowledge.retrieve import HybridRetriever, Retrieval

# Chosen on the e-manual TRAINING questions (457 questions; the 123 documents their sections
# fall in as the true groups), average linkage: adjusted mutual information 0.507 / 0.516 /
# 0.512 / 0.504 / 0.500 at 0.40 / 0.425 / 0.45 / 0.475 / 0.5 (complete linkage at most 0.494),
# the same plateau on random thirds of the sections (0.566-0.585); 0.45 is its middle.
# benchmarks/bench_gaps.py prints the sweep, and carries the choice over to the sample QA.
GAP_DISTANCE = 0.45
# Both chosen on the same training questions, 40 of their sections removed from the index
# (asked there), then restored and refreshed. ANSWERED_RELEVANCE: the median relevance of a
# section's questions reached 0.70 for 3 of the 40 removed sections (7.5%) and 31 of the 83
# present ones (37%; 0.65: 15% and 49%; 0.75: 5% and 17%) - a question the documents answer
# this closely and the bot still got wrong is about the answer, not the documents (the review
# queue's business). ANSWERED_GAIN: on an unchanged index no question's nearest chunk was
# another than its answer's and 0.03 closer (0.02: 1 of 457); after the restore, 78% of the
# restored sections had most of their questions answered by either rule (0.05: 72%) and 1% of
# the present ones.
ANSWERED_RELEVANCE = 0.70
ANSWERED_GAIN = 0.03
REPRESENTATIVES = 3
SHOWN = 5  # gaps in the short text (``/kb gaps``)
# The most recent questions clustered at most: the distance matrix is quadratic (5,000
# questions: ~100 MB and a few seconds).
MAX_QUESTIONS = 5000
_EMBED_CACHE = 50_000


@dataclass(frozen=True)
class GapQuestion:
    """A question the documents may not answer: its message id, text, who asked (one id per
    person across platforms, e.g. ``slack:U123``), when, and the chunks its answer cited."""

    id: int
    text: str
    user: str
    asked_at: datetime
    sources: tuple[str, ...] = ()  # the chunks the bot answered it from (ids), if any


@dataclass(frozen=True)
class Gap:
    label: str
    count: int  # questions
    users: int  # distinct users who asked
    questions: tuple[str, ...]  # representative questions, the most central first
    nearest_sources: tuple[dict[str, str], ...]  # {"source", "title"}, nearest first
    relevance: float  # median best dense cosine of the representatives to any chunk
    members: tuple[GapQuestion, ...]  # every question of the cluster, the latest first

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "count": self.count, "users": self.users,
                "questions": list(self.questions),
                "nearest_sources": [dict(s) for s in self.nearest_sources]}


@dataclass(frozen=True)
class _Cluster:
    key: str  # stable across refreshes while its questions are the same
    members: tuple[GapQuestion, ...]
    representatives: tuple[str, ...]
    users: int
    latest: datetime


@dataclass(frozen=True)
class _Score:
    answered: bool
    relevance: float
    nearest: tuple[dict[str, str], ...]


def cluster_labels(vectors: np.ndarray, distance: float = GAP_DISTANCE) -> np.ndarray:
    """A cluster number per row of ``vectors`` (average-linkage cosine clustering cut at
    ``distance``); fewer than two rows need no clustering."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=np.int64)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                    distance_threshold=distance)
    return np.asarray(model.fit_predict(vectors), dtype=np.int64)


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


class GapFinder:
    """Gaps from questions, against the live index (``retriever()`` reloads after a refresh).

    ``served`` tells whether a question's embedding now gets a verified answer (the engine's
    ``VerifiedIndex.match``); such a question is no gap. ``min_relevance``: the engine's."""

    def __init__(self, embed_model: Any, retriever: Callable[[], HybridRetriever],
                 served: Callable[[Sequence[float]], Any] | None = None,
                 min_relevance: float = 0.3, distance: float = GAP_DISTANCE,
                 max_questions: int = MAX_QUESTIONS) -> None:
        self.embed_model, self.retriever, self.served = embed_model, retriever, served
        self.min_relevance, self.distance = min_relevance, distance
        self.max_questions = max_questions
        self._vectors: dict[str, np.ndarray] = {}
        self._clusters: tuple[str, list[_Cluster]] = ("", [])
        self._scores: dict[tuple[str, str], _Score] = {}
        self._lock = threading.Lock()

    def find(self, questions: Sequence[GapQuestion], limit: int | None = 20,
             stamp: Hashable = ()) -> list[Gap]:
        """The gaps, most users first; ``stamp`` changes when what ``served`` knows does."""
        recent = sorted(questions, key=lambda q: (q.asked_at, q.id),
                        reverse=True)[: self.max_questions]
        if not recent or limit == 0:
            return []
        with self._lock:
            retriever = self.retriever()  # the live build: loads it, or says to ingest
            out: list[Gap] = []
            for cluster in self._clustered(recent, stamp):
                score = self._score(retriever, cluster)
                if score.answered:
                    continue  # the documents answer it now
                out.append(Gap(cluster.representatives[0], len(cluster.members), cluster.users,
                               cluster.representatives, score.nearest, score.relevance,
                               cluster.members))
                if limit is not None and len(out) >= limit:
                    break
            return out

    def _clustered(self, questions: list[GapQuestion], stamp: Hashable) -> list[_Cluster]:
        """The clusters of ``questions``, ranked (cached while the questions and ``stamp``
        are the same)."""
        digest = _digest([(q.id, q.text, q.user) for q in questions], stamp)
        if self._clusters[0] != digest:
            vectors = self._embed([q.text for q in questions])
            if self.served is not None:
                keep = [i for i, v in enumerate(vectors) if not self.served(v.tolist())]
                questions, vectors = [questions[i] for i in keep], vectors[keep]
            self._clusters = (digest, self._group(questions, vectors))
        return self._clusters[1]

    def _group(self, questions: list[GapQuestion], vectors: np.ndarray) -> list[_Cluster]:
        labels = cluster_labels(vectors, self.distance)
        clusters = []
        for label in sorted(set(labels.tolist())):
            rows = np.flatnonzero(labels == label)
            members = tuple(questions[i] for i in rows)  # the latest first, as given
            centre = vectors[rows].mean(axis=0)
            order = rows[np.argsort(-(vectors[rows] @ centre), kind="stable")]
            clusters.append(_Cluster(
                key=_digest(sorted(q.id for q in members)), members=members,
                representatives=_distinct([questions[i].text for i in order]),
                users=len({q.user for q in members}), latest=members[0].asked_at))
        return sorted(clusters, key=lambda c: (-c.users, -len(c.members),
                                               -c.latest.timestamp(), c.representatives[0]))

    def _score(self, retriever: HybridRetriever, cluster: _Cluster) -> _Score:
        """Whether the index answers the cluster now, its representatives' median relevance
        and the documents nearest them; cached per index build."""
        name = retriever.loaded.name
        if (name, cluster.key) not in self._scores:
            if any(built != name for built, _ in self._scores):
                self._scores.clear()  # a refresh: everything is scored again
            cited: dict[str, set[str]] = {}
            for q in cluster.members:
                cited.setdefault(q.text, set()).update(q.sources)
            found = [retriever.retrieve(q) for q in cluster.representatives]
            answered = [self._answered(retriever, q, f, cited.get(q, set()))
                        for q, f in zip(cluster.representatives, found, strict=True)]
            self._scores[(name, cluster.key)] = _Score(
                2 * sum(answered) >= len(answered),
                round(statistics.median(f.relevance for f in found), 4), _nearest(found))
        return self._scores[(name, cluster.key)]

    def _answered(self, retriever: HybridRetriever, question: str, found: Retrieval,
                  cited: set[str]) -> bool:
        """Whether the index answers ``question`` now (see the module's docstring)."""
        if found.relevance >= ANSWERED_RELEVANCE:
            return True
        from llama_index.core.schema import QueryBundle

        dense = retriever.dense.retrieve(QueryBundle(question, embedding=found.query_embedding))
        if not dense or dense[0].node.node_id in cited:
            return False
        known = [hit.score or 0.0 for hit in dense if hit.node.node_id in cited]
        docstore = retriever.loaded.index.docstore
        if known:
            then = max(known)
        elif not cited:  # declined for want of anything relevant
            then = self.min_relevance
        elif all(docstore.document_exists(chunk) for chunk in cited):
            then = dense[-1].score or 0.0  # still there, none among the nearest: no closer
        else:
            return False  # what it was answered from has changed: cannot tell
        now = dense[0].score or 0.0
        return now >= self.min_relevance and now - then >= ANSWERED_GAIN

    def _embed(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            if len(self._vectors) + len(missing) > _EMBED_CACHE:
                self._vectors.clear()
            vectors = normalise(np.asarray(
                self.embed_model.get_text_embedding_batch(missing), dtype=np.float32))
            self._vectors.update(zip(missing, vectors, strict=True))
        return np.stack([self._vectors[t] for t in texts])


def gaps_text(gaps: Sequence[Gap]) -> str:
    """The gaps as a few lines of plain text (``/kb gaps``)."""
    if not gaps:
        return ("No knowledge gaps: no question the bot declined, or whose answer was voted "
                "down or marked missing, lacks an answer in the documents now.")
    lines = [f"Top {len(gaps)} knowledge gap(s), most users first:"]
    for n, gap in enumerate(gaps, 1):
        near = ", ".join(s["title"] or s["source"] for s in gap.nearest_sources[:2]) or "none"
        lines.append(f"{n}. \"{_short(gap.label)}\" — {gap.users} user(s), {gap.count} "
                     f"question(s); nearest documents: {near}")
    return "\n".join(lines)


def _short(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _nearest(found: Sequence[Retrieval]) -> tuple[dict[str, str], ...]:
    """The documents of the chunks retrieved, by their best rank, then how often."""
    ranked: dict[tuple[str, str], tuple[int, int]] = {}
    for hits in (f.hits for f in found):
        for rank, hit in enumerate(hits):
            where = (str(hit.node.metadata.get("source", "")),
                     str(hit.node.metadata.get("title", "")))
            best, seen = ranked.get(where, (rank, 0))
            ranked[where] = (min(best, rank), seen + 1)
    return tuple({"source": s, "title": t} for (s, t), _ in sorted(
        ranked.items(), key=lambda item: (item[1][0], -item[1][1]))[:REPRESENTATIVES])


def _distinct(texts: Sequence[str], limit: int = REPRESENTATIVES) -> tuple[str, ...]:
    """The first ``limit`` texts that differ other than in case, spacing and punctuation."""
    seen: set[str] = set()
    out: list[str] = []
    for text in texts:
        key = "".join(ch for ch in text.lower() if ch.isalnum())
        if key not in seen:
            seen.add(key)
            out.append(text)
    return tuple(out[:limit])


def _digest(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:24]
