"""Verified answers: the support team's answers, served before the model for the same question
or a paraphrase of it: the nearest verified question by MiniLM cosine, when it is close
(``VERIFIED_SIMILARITY``) and clearly nearer than any verified question with another answer
(``VERIFIED_MARGIN``).

Calibrated by benchmarks/bench_verified.py on half of the e-manual's paraphrased training
questions (every original question verified with its expert answer, the paraphrases asked):
cosine alone served a wrong answer to 3-6% of paraphrases at any threshold that served 80% right,
because near-duplicate questions ("How do I …?" / "Can I …?") have other answers; the margin
over the nearest other answer brought that under 2% at the same threshold. The held-out half and
the sample company's unanswerable questions are what the benchmark reports.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from knowledge.quote import cosines
from knowledge.types import VerifiedEntry

VERIFIED_SIMILARITY = 0.70
VERIFIED_MARGIN = 0.05
VERIFIED_NOTE = "✓ Verified by our support team."


class VerifiedIndex:
    """The verified answers' questions, embedded; reloaded when ``stamp`` changes."""

    def __init__(self, embed_model: Any, stamp: Callable[[], Any],
                 entries: Callable[[], Sequence[VerifiedEntry]],
                 threshold: float = VERIFIED_SIMILARITY, margin: float = VERIFIED_MARGIN) -> None:
        self.embed_model, self.threshold, self.margin = embed_model, threshold, margin
        self.stamp, self.entries = stamp, entries
        self._stamp: Any = None
        self._entries: Sequence[VerifiedEntry] = ()
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._lock = threading.Lock()

    def match(self, query_embedding: Sequence[float]) -> tuple[VerifiedEntry, float] | None:
        """The verified answer whose question is nearest the query, if near enough and
        nearer by ``margin`` than every verified answer that says something else."""
        self._refresh()
        with self._lock:
            entries, vectors = self._entries, self._vectors
        if not entries:
            return None
        cosine = cosines(vectors, query_embedding)
        best = int(np.argmax(cosine))
        said = _key(entries[best].answer)
        others = [float(c) for e, c in zip(entries, cosine, strict=True) if _key(e.answer) != said]
        if cosine[best] < self.threshold or max(others, default=-1.0) > cosine[best] - self.margin:
            return None
        return entries[best], float(cosine[best])

    def _refresh(self) -> None:
        stamp = self.stamp()  # one cheap query a question; the entries only when it changed
        with self._lock:
            if stamp == self._stamp:
                return
        entries = newest_per_question(self.entries())
        vectors = (np.asarray(self.embed_model.get_text_embedding_batch(
            [e.question for e in entries]), dtype=np.float32) if entries
            else np.zeros((0, 0), dtype=np.float32))
        with self._lock:
            self._stamp, self._entries, self._vectors = stamp, tuple(entries), vectors


def newest_per_question(entries: Sequence[VerifiedEntry]) -> list[VerifiedEntry]:
    """One entry per question (the newest): a question corrected twice is not ambiguous."""
    newest = {_key(e.question): e for e in sorted(entries, key=lambda e: e.id)}
    return sorted(newest.values(), key=lambda e: e.id)


def _key(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def verified_text(entry: VerifiedEntry) -> str:
    return f"{entry.answer.rstrip()}\n\n{VERIFIED_NOTE}"
