"""Facts from the documents: the retrieved sentence that answers the question, quoted.

A 135M model writes the answer's tone and shape but often not its fact (on the sample QA set
the tuned model's answers held the reference's key fact for 10 of 90 questions). So after the
grounding guard, the engine looks for the sentences of the retrieved chunks closest to the
question (MiniLM, the index's own embedding model, less ``RANK_PENALTY`` per retrieval rank of
the chunk a sentence is in) and quotes those the answer does not already say, with their
citations, in the documents' order; when the guard left nothing grounded but the best sentence
is close enough, the quotes are the answer. The embeddings of sentences seen before are
cached, as retrieved chunks recur across questions.
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
# Sentences quoted at most, and the score lost per retrieval rank of a sentence's chunk. Chosen
# on the e-manual training questions (quotes alone, ROUGE-L against the reference: one
# sentence 0.306, two 0.353, two with the rank penalty 0.380, three 0.401); on the sample
# company's QA the same choice raised the key facts quoted from 34 to 47 of 90 (three: 57).
QUOTE_SENTENCES = 2
RANK_PENALTY = 0.08


@dataclass(frozen=True)
class Quote:
    chunk: int  # 0-based index of the retrieved chunk
    sentence: str
    similarity: float
    order: int = 0  # place in the retrieved text (chunk by chunk, sentence by sentence)

    def cited(self) -> str:
        """The sentence with its citation before the final stop."""
        body = self.sentence.rstrip()
        stop = body[-1] if body[-1:] in ".!?" else "."
        return f"{body.rstrip('.!?').rstrip()} [{self.chunk + 1}]{stop}"

    def covered_by(self, answer: str) -> bool:
        words = content_words(self.sentence)
        return len(words & content_words(answer)) >= COVERED_SHARE * len(words)


class Quoter:
    """Finds the retrieved sentences closest to a question (``best``)."""

    def __init__(self, embed_model: Any, cache_size: int = 4096) -> None:
        self.embed_model, self.cache_size = embed_model, cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def best(self, query_embedding: Sequence[float], chunks: Sequence[str],
             limit: int = QUOTE_SENTENCES) -> list[Quote]:
        """Up to ``limit`` sentences, the closest first (by cosine less the rank penalty)."""
        candidates = [(k, s) for k, chunk in enumerate(chunks) for s in source_sentences(chunk)]
        if not candidates or limit < 1:
            return []
        vectors = self._vectors([s for _, s in candidates])
        query = np.asarray(query_embedding, dtype=np.float32)
        cosine = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query)
                                    + 1e-9)
        ranked = np.argsort(-(cosine - RANK_PENALTY * np.array([k for k, _ in candidates])),
                            kind="stable")
        return [Quote(candidates[i][0], candidates[i][1], float(cosine[i]), int(i))
                for i in ranked[:limit]]

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
