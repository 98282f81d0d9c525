"""Verified answers: the support team's answers, served before the model for the same question
or a paraphrase of it (the nearest verified question by MiniLM cosine, above a threshold).

``VERIFIED_SIMILARITY`` is provisional (issue 26 asks for it to be calibrated on the e-manual's
paraphrased training questions; benchmarks/bench_verified.py is still to come).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from knowledge.quote import cosines
from knowledge.types import VerifiedEntry

VERIFIED_SIMILARITY = 0.85
VERIFIED_NOTE = "✓ Verified by our support team."


class VerifiedIndex:
    """The verified answers' questions, embedded; reloaded when ``stamp`` changes."""

    def __init__(self, embed_model: Any, stamp: Callable[[], Any],
                 entries: Callable[[], Sequence[VerifiedEntry]],
                 threshold: float = VERIFIED_SIMILARITY) -> None:
        self.embed_model, self.threshold = embed_model, threshold
        self.stamp, self.entries = stamp, entries
        self._stamp: Any = None
        self._entries: Sequence[VerifiedEntry] = ()
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._lock = threading.Lock()

    def match(self, query_embedding: Sequence[float]) -> tuple[VerifiedEntry, float] | None:
        """The verified answer whose question is nearest the query, if near enough."""
        self._refresh()
        with self._lock:
            entries, vectors = self._entries, self._vectors
        if not entries:
            return None
        cosine = cosines(vectors, query_embedding)
        best = int(np.argmax(cosine))
        return (entries[best], float(cosine[best])) if cosine[best] >= self.threshold else None

    def _refresh(self) -> None:
        stamp = self.stamp()  # one cheap query a question; the entries only when it changed
        with self._lock:
            if stamp == self._stamp:
                return
        entries = self.entries()
        vectors = (np.asarray(self.embed_model.get_text_embedding_batch(
            [e.question for e in entries]), dtype=np.float32) if entries
            else np.zeros((0, 0), dtype=np.float32))
        with self._lock:
            self._stamp, self._entries, self._vectors = stamp, tuple(entries), vectors


def verified_text(entry: VerifiedEntry) -> str:
    return f"{entry.answer.rstrip()}\n\n{VERIFIED_NOTE}"
