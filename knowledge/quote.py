"""Facts from the documents: the retrieved sentence that answers the question, quoted.

A 135M model writes the answer's tone and shape but often not its fact (on the sample QA set
the tuned model's answers held the reference's key fact for 10 of 90 questions). So after the
grounding guard, the engine looks for the sentence of the retrieved chunks closest to the
question (MiniLM, the index's own embedding model) and, when the answer does not already say
it, quotes it with its citation; when the guard left nothing grounded but that sentence is
close enough, the quote is the answer. The embeddings of sentences seen before are cached, as
retrieved chunks recur across questions.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from knowledge.facts import content_words, source_sentences

# A sentence this close to the question (cosine) answers it alone when the model's answer had
# nothing grounded: on the sample QA set's tuned answers, answerable questions declined fell
# from 18 to 11 of 90 and unanswerable ones declined from 14 to 13 of 16 (0.55: 10 and 11).
ANSWER_SIMILARITY = 0.6
# The answer already says the sentence when it holds this share of the sentence's words.
COVERED_SHARE = 0.5


@dataclass(frozen=True)
class Quote:
    chunk: int  # 0-based index of the retrieved chunk
    sentence: str
    similarity: float

    def cited(self) -> str:
        """The sentence with its citation before the final stop."""
        body = self.sentence.rstrip()
        stop = body[-1] if body[-1:] in ".!?" else "."
        return f"{body.rstrip('.!?').rstrip()} [{self.chunk + 1}]{stop}"

    def covered_by(self, answer: str) -> bool:
        words = content_words(self.sentence)
        return len(words & content_words(answer)) >= COVERED_SHARE * len(words)


class Quoter:
    """Finds the retrieved sentence closest to a question (``best``)."""

    def __init__(self, embed_model: Any, cache_size: int = 4096) -> None:
        self.embed_model, self.cache_size = embed_model, cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def best(self, query_embedding: Sequence[float], chunks: Sequence[str]) -> Quote | None:
        candidates = [(k, s) for k, chunk in enumerate(chunks) for s in source_sentences(chunk)]
        if not candidates:
            return None
        vectors = self._vectors([s for _, s in candidates])
        query = np.asarray(query_embedding, dtype=np.float32)
        scores = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query)
                                    + 1e-9)
        i = int(np.argmax(scores))
        return Quote(candidates[i][0], candidates[i][1], float(scores[i]))

    def _vectors(self, sentences: list[str]) -> np.ndarray:
        with self._lock:
            known = {s: self._cache[s] for s in sentences if s in self._cache}
            for sentence in known:
                self._cache.move_to_end(sentence)
        new = [s for s in dict.fromkeys(sentences) if s not in known]
        if new:
            embedded = self.embed_model.get_text_embedding_batch(new)
            known.update((s, np.asarray(v, dtype=np.float32))
                         for s, v in zip(new, embedded, strict=True))
            with self._lock:
                for sentence in new:
                    self._cache[sentence] = known[sentence]
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return np.stack([known[s] for s in sentences])
