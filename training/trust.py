"""Whether a customer can act on an answer: metrics over answers, pure functions.

- ``invented_facts``: numbers, URLs and e-mail addresses the answer states that no retrieved
  chunk and not the question holds (the grounding guard's own fact rules, ``knowledge.guard``);
- ``has_key_facts``: the reference's key facts (a QA file's ``facts``) are all in the answer;
- ``ends_mid_sentence``: the answer stops in the middle of a sentence (the token cap).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from statistics import fmean
from typing import TYPE_CHECKING, Any

from knowledge.facts import Evidence, facts, markers_inside, missing
from knowledge.prompts import says_dont_know

if TYPE_CHECKING:
    from knowledge.types import Answer
    from training.evaluate import QAItem

_MARKERS = re.compile(r"\s*\[\d{1,2}\]")
_YES = re.compile(r"^\W*(yes|yep|sure|absolutely|of course|you can|you're able)\b", re.I)
_NO = re.compile(
    r"\b(no|not|never|cannot|can't|isn't|aren't|doesn't|don't|won't|unfortunately)\b", re.I)


def invented_facts(answer_text: str, chunks: Sequence[str], question: str) -> set[str]:
    """The numbers and contact points of ``answer_text`` held by no chunk nor the question."""
    stated = facts(answer_text)
    evidence = [Evidence.of(question), *(Evidence.of(c) for c in chunks)]
    checked = {*stated.numbers, *stated.contacts}
    for held in evidence:
        checked &= missing(stated, held)
    return checked


def has_key_facts(answer_text: str, key_facts: Sequence[str]) -> bool | None:
    """Whether every key fact is in the answer; ``None`` when there are none.

    A fact matches case-insensitively with whitespace and menu-path spacing normalised, and
    numbers as the guard reads them ("10,000" = "10000"). "yes" needs an affirmative answer
    (opening with yes/sure/you can, or stating no negation), "no" a negation; a decline
    holds neither.
    """
    if not key_facts:
        return None
    text = _MARKERS.sub("", answer_text)
    if says_dont_know(text):
        return False
    held = Evidence.of(text)
    return all(_holds(held, text, fact) for fact in key_facts)


def _holds(held: Evidence, text: str, fact: str) -> bool:
    if fact.lower() == "yes":
        return bool(_YES.search(text)) or not _NO.search(text)
    if fact.lower() == "no":
        return bool(_NO.search(text))
    flat = Evidence.of(fact).flat
    return flat in held.flat or not missing(facts(fact), held) and bool(facts(fact))


def ends_mid_sentence(answer_text: str) -> bool:
    """Whether the answer's last sentence is unfinished ("… If you")."""
    tail = _MARKERS.sub("", markers_inside(answer_text)).rstrip().rstrip("*_`")
    return bool(tail) and tail[-1] not in ".!?:)\"'”"


def trust_scores(items: Sequence[QAItem], answers: Sequence[Answer]) -> dict[str, Any]:
    """``invented``, ``key_facts``, ``answerable_declined`` and ``mid_sentence`` over a run
    (``None`` where nothing was scored); see ``training.evaluate.Scores``."""
    pairs = list(zip(items, answers, strict=True))
    chunks = [[f"{s.title}\n{s.text}" for s in a.sources] for a in answers]
    invented = sum(bool(invented_facts(a.text, c, i.question))
                   for (i, a), c in zip(pairs, chunks, strict=True) if i.answerable)
    keyed = [has_key_facts(a.text, i.facts) for i, a in pairs if i.answerable]
    declined = [says_dont_know(a.text) or bool(a.security) for i, a in pairs if i.answerable]
    return {"invented": invented,
            "key_facts": fmean(k for k in keyed if k is not None) if any(
                k is not None for k in keyed) else None,
            "answerable_declined": fmean(declined) if declined else None,
            "mid_sentence": sum(ends_mid_sentence(a.text) for a in answers)}
