"""Evaluation: score answers against a held-out QA set and gate adapter promotion.

Every metric is a pure function of its inputs, documented where it is defined, so a score in a
report can be traced back to the rule that produced it. ``score`` runs an answer callable over
QA items and aggregates; ``gate`` decides whether a candidate adapter may replace the current one.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from statistics import fmean
from typing import Any

from knowledge.citations import CITATION
from knowledge.errors import InputError
from knowledge.prompts import says_dont_know
from knowledge.types import Answer
from knowledge.words import WORD, content_words
from training.trust import trust_scores

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_MARKER = re.compile(r"\s*\[\d{1,2}\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
# An offer to hand over to a person is not a factual claim about the documents.
_HANDOFF = re.compile(r"\b(support team|connect you|a human|someone (on|from) our)\b", re.I)
_WARM = re.compile(
    r"\b(thanks|thank you|happy to|glad to|sorry|please|sure|of course|hope this helps|"
    r"you can|feel free|let me know|would you like)\b|^\s*(yes|no|hi|hello)\b",
    re.IGNORECASE,
)
_LEAK = re.compile(r"Context documents|quoted data\)|<\|[a-z_]+|\b(Question|System|User):")
MAX_WORDS = 120


@dataclass(frozen=True)
class QAItem:
    """One reference question with its expected answer and, when known, its cited source."""

    question: str
    answer: str  # reference answer
    source: str | None = None  # reference source path (as cited by the bot), if known
    answerable: bool = True
    facts: tuple[str, ...] = ()  # what a right answer must state ("$8", "14 days", "yes")


def load_qa(path: Path) -> list[QAItem]:
    """QA items from JSONL lines ``{question, answer[, source][, answerable][, facts]}``.

    Blank lines are skipped. A line that is not such an object raises ``InputError`` naming
    ``file:line``; an unreadable file or one without items raises ``InputError`` too.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError(f"{path}: cannot read the QA file ({reason}) — check the path; it "
                         "must be UTF-8 JSON lines with question and answer") from exc
    items = [_parse_line(line, f"{path}:{n}") for n, line in enumerate(lines, 1) if line.strip()]
    if not items:
        raise InputError(f"{path}: no QA items; expected JSON lines with question and answer")
    return items


def _parse_line(line: str, where: str) -> QAItem:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg}) — each line must be an object "
                         'like {"question": "...", "answer": "..."}') from exc
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected a JSON object with question and answer")
    for key in ("question", "answer"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise InputError(f"{where}: '{key}' must be a non-empty string")
    source, answerable = row.get("source"), row.get("answerable", True)
    if source is not None and not isinstance(source, str):
        raise InputError(f"{where}: 'source' must be a string or null")
    if not isinstance(answerable, bool):
        raise InputError(f"{where}: 'answerable' must be true or false")
    facts = row.get("facts") or []
    if not isinstance(facts, list) or not all(isinstance(f, str) and f.strip() for f in facts):
        raise InputError(f"{where}: 'facts' must be a list of non-empty strings")
    return QAItem(row["question"], row["answer"], source or None, answerable, tuple(facts))


def split_heldout(
    items: Sequence[QAItem], share: float = 0.15, seed: int = 0
) -> tuple[list[QAItem], list[QAItem]]:
    """``(train, heldout)``: an item is held out when the hash of its question falls below share.

    The hash (SHA-256 of the seed and the lowercased, whitespace-normalised question) does not
    depend on order or on the other items, so adding data never moves an existing question
    across the split, and repeated questions always land on the same side.
    """
    if not 0.0 <= share <= 1.0:
        raise InputError(f"held-out share must be between 0 and 1, got {share}")
    train: list[QAItem] = []
    heldout: list[QAItem] = []
    for item in items:
        key = f"{seed}:{' '.join(item.question.lower().split())}".encode()
        fraction = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
        (heldout if fraction < share else train).append(item)
    return train, heldout


def rouge_l_f1(prediction: str, reference: str) -> float:
    """ROUGE-L F1 (longest common subsequence of tokens), via ``rouge-score``.

    Tokens are lowercased alphanumeric runs, Porter-stemmed. Either side empty gives 0.0.
    """
    return float(_rouge().score(reference, prediction)["rougeL"].fmeasure)


@lru_cache(maxsize=1)
def _rouge() -> Any:
    """The scorer, built on first use: rouge-score imports nltk and scipy (~2 s)."""
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def _squad_tokens(text: str) -> list[str]:
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCT))
    return text.split()


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1: harmonic mean of token precision and recall over a bag of tokens.

    Both texts are lowercased, stripped of punctuation and of the articles a/an/the, and split
    on whitespace. As in SQuAD, if either side has no tokens the score is 1.0 when both are
    empty and 0.0 otherwise.
    """
    pred, ref = _squad_tokens(prediction), _squad_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _cited_sources(answer: Answer) -> list[str] | None:
    """The sources the answer's ``[n]`` markers point at; ``None`` if one points at nothing
    retrieved (an invented ``[7]`` of three)."""
    numbers = [int(m.group(1)) for m in CITATION.finditer(answer.text)]
    if any(not 1 <= n <= len(answer.sources) for n in numbers):
        return None
    return [answer.sources[n - 1].source for n in numbers]


def citation_correct(answer: Answer, reference_source: str | None) -> bool | None:
    """Whether the answer cites the reference source and nothing invented.

    ``None`` when there is no reference source. Otherwise ``True`` iff every ``[n]`` marker in
    the text is within ``1..len(answer.sources)`` (an invented ``[7]`` of three is wrong) and
    at least one of them points at a source whose path equals ``reference_source``.
    """
    if reference_source is None:
        return None
    cited = _cited_sources(answer)
    return cited is not None and reference_source in cited


def citation_precision(answer: Answer, reference_source: str | None) -> float | None:
    """The share of the documents an answer cites that are the reference source (0..1).

    ``None`` when there is no reference source; 0 for an answer that cites nothing or cites a
    number that was not retrieved. An answer citing the reference alone scores 1, one citing
    it beside two other documents 1/3. ``citation_correct`` counts both as right, so a model
    that cites every retrieved chunk scores as well there as one that cites the right one:
    the base model cited two or three documents in 34 of 90 sample answers, the adapter one.
    """
    if reference_source is None:
        return None
    documents = set(_cited_sources(answer) or ())
    return float(reference_source in documents) / len(documents) if documents else 0.0


def faithfulness(answer_text: str, context: str) -> float:
    """Share of the answer's sentences supported by the context (0..1).

    Citation markers are removed, then the text is split into sentences. A sentence saying
    "I don't know" (``says_idk``) or offering a hand-off to the support team is supported. Any
    other sentence is supported when at least 60% of its content words (lowercased alphanumeric
    runs longer than two characters, stopwords removed) occur as words of the context.
    Sentences without content words ("Thanks!") make no claim and are left out; an answer
    that is empty scores 0.0, one that makes no claim at all scores 1.0.
    """
    text = _MARKER.sub("", answer_text).strip()
    if not text:
        return 0.0
    known = set(WORD.findall(context.lower()))
    verdicts: list[bool] = []
    for sentence in _SENTENCE.split(text):
        words = content_words(sentence)
        if says_idk(sentence) or _HANDOFF.search(sentence):
            verdicts.append(True)
        elif words:
            verdicts.append(len(words & known) >= 0.6 * len(words))
    return fmean(verdicts) if verdicts else 1.0


def _loops(words: list[str], sentences: list[str]) -> bool:
    normal = [" ".join(WORD.findall(s.lower())) for s in sentences]
    normal = [s for s in normal if s]
    if len(normal) != len(set(normal)):
        return True
    grams = Counter(tuple(words[i:i + 4]) for i in range(len(words) - 3))
    return any(count >= 3 for count in grams.values())


def tone_score(answer_text: str) -> float:
    """Tone rubric: the share of five checks an answer passes (0..1).

    1. length: not empty and at most 120 words;
    2. no loop: no sentence repeated and no four-word sequence occurring three or more times;
    3. friendly or direct: a warm phrase (thanks, sorry, happy to, please, sure, you can,
       would you like, …) or an opening "Yes"/"No"/"Hi"/"Hello";
    4. grounded: cites a ``[n]`` source or says it does not know;
    5. no prompt leakage: no "Context documents", "quoted data)", chat-template tokens such
       as "<|im_end", or a capitalised "Question:", "System:" or "User:" label.
    """
    text = answer_text.strip()
    words = WORD.findall(text.lower())
    checks = (
        bool(text) and len(text.split()) <= MAX_WORDS,
        bool(text) and not _loops(words, _SENTENCE.split(text)),
        bool(_WARM.search(text)),
        bool(CITATION.search(text)) or says_idk(text),
        not _LEAK.search(text),
    )
    return sum(checks) / len(checks)


def says_idk(answer_text: str) -> bool:
    """Whether the answer declines for lack of information (``knowledge.prompts`` rule)."""
    return says_dont_know(answer_text)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Scores:
    """Aggregate metrics over one evaluation run; ``None`` where a metric had nothing to score."""

    n: int
    rougeL_f1: float
    token_f1: float
    citation_accuracy: float | None  # over items with a reference source
    citation_precision: float | None  # the same items; gated instead of citation_accuracy
    faithfulness: float | None  # over answers that had context
    idk_precision: float | None  # of "I don't know" answers, the share on unanswerable items
    idk_recall: float | None  # of unanswerable items, the share answered "I don't know"
    tone: float
    latency_p50_ms: float
    latency_p95_ms: float
    # how many answers each rate was computed over (the gate's noise allowance)
    counts: dict[str, int] = field(default_factory=dict)
    # can a customer act on it (training.trust): answers stating a number, URL or e-mail no
    # retrieved chunk holds; key facts present (answerable items with facts); answerable
    # items declined; answers ending mid-sentence
    invented: int | None = None
    key_facts: float | None = None
    answerable_declined: float | None = None
    mid_sentence: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def _mean(values: Sequence[float]) -> float | None:
    return fmean(values) if values else None


def collect(
    items: Sequence[QAItem],
    answer: Callable[[QAItem], Answer],
    progress: Callable[[int, int], None] | None = None,
) -> list[Answer]:
    """Answer every item with ``answer``; raises ``InputError`` for no items."""
    if not items:
        raise InputError("no QA items to evaluate")
    answers: list[Answer] = []
    for done, item in enumerate(items, 1):
        answers.append(answer(item))
        if progress is not None:
            progress(done, len(items))
    return answers


def score(
    items: Sequence[QAItem],
    answer: Callable[[QAItem], Answer],
    progress: Callable[[int, int], None] | None = None,
) -> Scores:
    """Answer every item with ``answer`` and compute all metrics (see each metric's docstring).

    Faithfulness is measured against ``Answer.context`` and only for answers that had one;
    latency percentiles come from ``Answer.latency_ms``. Raises ``InputError`` for no items.
    """
    return aggregate(items, collect(items, answer, progress))


def aggregate(items: Sequence[QAItem], answers: Sequence[Answer]) -> Scores:
    """All metrics over ``answers`` to ``items`` (in the same order)."""
    pairs = list(zip(items, answers, strict=True))
    cited = [citation_correct(a, i.source) for i, a in pairs]
    precise = [citation_precision(a, i.source) for i, a in pairs]
    idk = [says_idk(a.text) for a in answers]
    on_unanswerable = [not i.answerable for i, flag in zip(items, idk, strict=True) if flag]
    recalled = [flag for i, flag in zip(items, idk, strict=True) if not i.answerable]
    latencies = [a.latency_ms for a in answers]
    return Scores(
        n=len(pairs),
        rougeL_f1=fmean(rouge_l_f1(a.text, i.answer) for i, a in pairs),
        token_f1=fmean(token_f1(a.text, i.answer) for i, a in pairs),
        citation_accuracy=_mean([float(c) for c in cited if c is not None]),
        citation_precision=_mean([p for p in precise if p is not None]),
        faithfulness=_mean([faithfulness(a.text, a.context) for a in answers if a.context]),
        idk_precision=_mean([float(x) for x in on_unanswerable]),
        idk_recall=_mean([float(x) for x in recalled]),
        tone=fmean(tone_score(a.text) for a in answers),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        counts={"citation_accuracy": sum(c is not None for c in cited),
                "citation_precision": sum(p is not None for p in precise),
                "idk_precision": len(on_unanswerable), "idk_recall": len(recalled)},
        **trust_scores(items, answers),
    )


@dataclass(frozen=True)
class GateResult:
    """The promotion decision, with the scores it was made on."""

    promoted: bool
    reasons: list[str]  # one line per failed check, empty when promoted
    candidate: dict[str, Any]
    current: dict[str, Any]
    margin: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Citations are gated on precision, not on citation_accuracy ("cites the reference, perhaps
# among others"): that rewards citing every retrieved chunk. A seed adapter citing one document
# lost 0.733 -> 0.578 on accuracy at equal precision (0.565 vs 0.578; BENCHMARKS.md).
GATED_METRICS = ("rougeL_f1", "citation_precision", "idk_recall", "idk_precision")


def _step(candidate: Scores, current: Scores, name: str) -> float:
    """One answer's worth of a rate: 1 / the larger number of answers it was computed over."""
    counts = [c for c in (candidate.counts.get(name), current.counts.get(name)) if c]
    return 1.0 / max(counts) if counts else 0.0


def gate(candidate: Scores, current: Scores, margin: float = 0.02) -> GateResult:
    """Promote the candidate unless it is worse than current by more than ``margin``.

    Checked, each as an absolute drop: ROUGE-L F1, citation precision, "I don't know" recall
    and "I don't know" precision (inventing fewer answers is the point). A metric that is
    ``None`` on either side is skipped. A rate over few answers moves in big steps (one of six
    "I don't know" answers is 0.17), so a rate may also drop by one answer's worth — the
    smallest change it can show — before it counts as worse.
    """
    if margin < 0:
        raise InputError(f"gate margin must not be negative, got {margin}")
    reasons = []
    for name in GATED_METRICS:
        new, old = getattr(candidate, name), getattr(current, name)
        if new is None or old is None:
            continue
        allowed = margin + _step(candidate, current, name)
        if new < old - allowed - 1e-9:
            reasons.append(f"{name} dropped from {old:.3f} to {new:.3f} "
                           f"(more than the allowed {allowed:.3f})")
    return GateResult(promoted=not reasons, reasons=reasons, candidate=candidate.as_dict(),
                      current=current.as_dict(), margin=margin)
