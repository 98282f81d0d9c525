"""Reactions from the conversation store → training examples, with PII and secrets redacted.

Feedback is a poisoning path: one vote per user per answer (the store's constraint), a cap per
user, an optional allowlist of users whose votes count, and redaction before anything leaves
the store for training or export.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

from knowledge.citations import cited_numbers
from knowledge.prompts import says_dont_know
from training.dataset import Example
from training.ports import TrainingFeedbackRow, TrainingStore

# redaction -------------------------------------------------------------------------------
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_TOKEN = re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{8,}|\b(?:xox[abposr]|xapp)-[A-Za-z0-9-]{8,}"
                    r"|\bsk-[A-Za-z0-9_-]{16,}|\bgh[pousr]_[A-Za-z0-9]{20,}")
_HEX = re.compile(r"\b[0-9a-fA-F]{32,}\b")
_RUN = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{32,}={0,2}")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)|\d{3})[ .-]?\d{3}[ .-]\d{4}"
                    r"(?!\d)|(?<![\w+])\+\d{1,3}(?:[ .-]?\d{2,4}){2,4}(?!\d)")


def _luhn(digits: str) -> bool:
    doubled = (sum(divmod(int(c) * (1 + i % 2), 10)) for i, c in enumerate(reversed(digits)))
    return sum(doubled) % 10 == 0


def _random_run(m: re.Match[str]) -> str:
    """A base64-like run is a secret if its characters change class often (not a path)."""
    run = m.group(0)
    classes = ["U" if c.isupper() else "L" if c.islower() else "D" if c.isdigit() else "S"
               for c in run]
    changes = sum(a != b for a, b in zip(classes, classes[1:], strict=False))
    mixed = len(set(classes) - {"S"}) >= 2
    return "[token]" if mixed and changes / (len(run) - 1) >= 0.3 else run


def _card(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    issuer = digits[0] in "23456"  # Mastercard, Amex/Diners, Visa, Mastercard, Discover
    return "[card]" if 13 <= len(digits) <= 19 and issuer and _luhn(digits) else m.group(0)


def redact(text: str) -> str:
    """Mask emails, phone numbers, card numbers and API tokens or secrets."""
    text = _EMAIL.sub("[email]", text)
    text = _TOKEN.sub("[token]", text)
    text = _HEX.sub("[token]", text)
    text = _RUN.sub(_random_run, text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub("[phone]", text)


# feedback --------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeedbackPolicy:
    """Whose votes count, and how many of each user's."""

    per_user_cap: int = 50
    allowlist: frozenset[str] = frozenset()  # "platform:user"; empty = everyone counts


def _looks_like_correction(text: str) -> bool:
    """A statement of a few words, not a follow-up question."""
    text = text.strip()
    return len(text.split()) >= 3 and not text.endswith("?")


def _vote_examples(row: TrainingFeedbackRow) -> list[Example]:
    question = redact((row.query or row.question).strip())
    answer, context = redact(row.answer.strip()), redact(row.context) or None
    cited = cited_numbers(row.answer, len(row.sources))
    source = (str(row.sources[cited[0] - 1].get("source") or "") or None) if cited else None
    voted = Example(question, answer, source, context, "feedback", row.score > 0,
                    not says_dont_know(row.answer))
    if row.score < 0 and row.correction and _looks_like_correction(row.correction):
        fixed = Example(question, redact(row.correction.strip()), None, context, "correction")
        return [voted, fixed]
    return [voted]


def feedback_examples(store: TrainingStore,
                      policy: FeedbackPolicy = FeedbackPolicy()) -> list[Example]:
    """👍/👎 answers (and corrections after a 👎) as redacted, deduplicated examples.

    Votes on the same (question, answer) are summed: the example is kept with the sign of the
    total, and dropped when the votes cancel out.
    """
    counted: Counter[str] = Counter()
    merged: dict[tuple[str, str], tuple[Example, int]] = {}
    for row in store.training_feedback():
        who = f"{row.platform}:{row.user}"
        if row.score == 0 or (policy.allowlist and who not in policy.allowlist):
            continue
        if counted[who] >= policy.per_user_cap:
            continue
        counted[who] += 1
        for example in _vote_examples(row):
            key = (example.question, example.answer)
            first, total = merged.get(key, (example, 0))
            merged[key] = (first, total + (1 if example.label else -1))
    return [replace(ex, label=total > 0) for ex, total in merged.values() if total]


# A verified answer counts this many times in the training data (a vote counts once): a support
# person wrote or approved it, so it is weighted above votes.
VERIFIED_WEIGHT = 2


def verified_examples(store: TrainingStore) -> list[Example]:
    """The verified answers being served, as redacted training examples, each
    ``VERIFIED_WEIGHT`` times."""
    out = []
    for entry in store.verified_answers():
        source = next((str(s.get("source")) for s in entry.sources if s.get("source")), None)
        example = Example(redact(entry.question.strip()), redact(entry.answer.strip()), source,
                          None, "verified")
        out += [example] * VERIFIED_WEIGHT
    return out
