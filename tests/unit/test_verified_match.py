"""Which verified answer a question gets (``knowledge.verified.VerifiedIndex``): the nearest
verified question when it is close and clearly nearer than any other answer; a question
corrected twice serves its newest correction."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from knowledge.types import VerifiedEntry
from knowledge.verified import VERIFIED_MARGIN, VERIFIED_SIMILARITY, VerifiedIndex

AXES = {"refund": 0, "refunds": 0, "password": 1, "export": 2}


class AxisEmbed:
    """Texts as vectors over a few topic words, plus a tilt for "how"/"can" questions."""

    def get_text_embedding_batch(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vector(t) for t in texts]

    @staticmethod
    def vector(text: str, tilt: float = 0.0) -> list[float]:
        v = np.zeros(4, dtype=np.float32)
        for word in text.lower().replace("?", "").split():
            if word in AXES:
                v[AXES[word]] = 1.0
        v[3] = tilt or (0.2 if text.lower().startswith("can") else 0.0)
        return list(v / (np.linalg.norm(v) or 1.0))


def index(entries: list[VerifiedEntry]) -> VerifiedIndex:
    return VerifiedIndex(AxisEmbed(), lambda: len(entries), lambda: entries)


def entry(n: int, question: str, answer: str) -> VerifiedEntry:
    return VerifiedEntry(n, question, answer)


def test_a_close_question_is_served_and_another_topic_is_not() -> None:
    verified = index([entry(1, "How do refunds work?", "30 days."),
                      entry(2, "Reset my password", "Use the link.")])
    hit = verified.match(AxisEmbed.vector("refund please"))
    assert hit is not None and hit[0].id == 1 and hit[1] >= VERIFIED_SIMILARITY
    assert verified.match(AxisEmbed.vector("export")) is None


def test_two_near_questions_with_different_answers_serve_neither() -> None:
    verified = index([entry(1, "How do refunds work?", "30 days."),
                      entry(2, "Can I get refunds?", "Yes.")])
    # both verified questions are about as near: within the margin, neither is served
    query = AxisEmbed.vector("refund", tilt=0.1)
    cosines = [float(np.dot(query, AxisEmbed.vector(e))) for e in
               ("How do refunds work?", "Can I get refunds?")]
    assert abs(cosines[0] - cosines[1]) < VERIFIED_MARGIN
    assert verified.match(query) is None


def test_the_same_answer_twice_is_no_ambiguity_and_the_newest_correction_wins() -> None:
    same = index([entry(1, "How do refunds work?", "30 days."),
                  entry(2, "Can I get refunds?", "30 days.")])
    assert same.match(AxisEmbed.vector("refund", tilt=0.1)) is not None
    corrected = index([entry(1, "How do refunds work?", "14 days."),
                       entry(2, "how do refunds work", "30 days.")])
    hit = corrected.match(AxisEmbed.vector("refunds"))
    assert hit is not None and hit[0].answer == "30 days."
