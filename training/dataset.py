"""Training data: seed, QA files, Bitext and reactions (``training.feedback``) → chat records.

Every record is built with ``knowledge.prompts.build_messages``, the prompt serving uses, and
follows RAFT (Zhang et al. 2024): the document holding the answer sits among distractors, and
a share of examples shows distractors only, with the don't-know reply as the target.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from knowledge.citations import CITATION
from knowledge.errors import InputError
from knowledge.guard import ground
from knowledge.ingest import SAMPLE_DOCS
from knowledge.prompts import (
    IDK_REPLY,
    ContextChunk,
    build_messages,
    focus,
    key_words,
)
from training.train import DECLINE_SHARE, NO_DOCS_SHARE

SEED_PATH = Path(__file__).parent / "seed" / "tone.jsonl"
NO_CONTEXT_KINDS = frozenset({"greeting", "smalltalk"})
# Examples that teach manner, not facts: never held out for the gate, and never turned into
# RAFT's distractor-only declines (their manner is what they teach; alone this did not change
# how often the seed adapter declined complaints, the decline's opening did, BENCHMARKS.md).
TONE_KINDS = frozenset({"greeting", "smalltalk", "empathy", "format", "bitext"})
CHUNK_CHARS = 400


@dataclass(frozen=True)
class Example:
    """One question and the answer to learn (or, with ``label=False``, to avoid)."""

    question: str
    answer: str
    source: str | None = None
    context: str | None = None
    kind: str = "qa"
    label: bool = True
    answerable: bool = True
    origin: str = ""  # "seed" for the shipped tone set


# loading ---------------------------------------------------------------------------------
def load_seed(path: Path = SEED_PATH, docs: Path = SAMPLE_DOCS) -> list[Example]:
    """The hand-written tone examples shipped with supportbot. Those written from a sample
    document carry its text as their context, so the passage they answer from is shown even
    when the index is another company's: without it RAFT turned every one of them into a
    decline there, and an adapter retrained from a month of feedback on the e-manual declined
    more and scored lower than the one before it (bench_loop.py, BENCHMARKS.md)."""
    examples = load_jsonl(path)
    texts = {source: (docs / source).read_text(encoding="utf-8")
             for source in {ex.source for ex in examples if ex.source}
             if (docs / source).is_file()}
    return [replace(ex, origin="seed", context=ex.context or texts.get(ex.source or ""))
            for ex in examples]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read {path}: {exc.__class__.__name__} — "
                         "give an existing UTF-8 file.") from None


def _example(row: Any) -> Example:
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    for key in ("question", "answer"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise ValueError(f"'{key}' must be a non-empty string")
    for key in ("context", "source", "kind"):
        if row.get(key) is not None and not isinstance(row[key], str):
            raise ValueError(f"'{key}' must be a string")
    kind = row.get("kind") or "qa"
    answerable = row.get("answerable", kind != "idk")
    if not isinstance(answerable, bool):
        raise ValueError("'answerable' must be true or false")
    return Example(row["question"].strip(), row["answer"].strip(), row.get("source") or None,
                   row.get("context") or None, kind, True, answerable)


def load_jsonl(path: Path) -> list[Example]:
    """Lines of ``{question, answer[, context | source][, answerable][, kind]}``."""
    examples = []
    for number, line in enumerate(_read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            examples.append(_example(json.loads(line)))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise InputError(f"{path}:{number}: {exc} — each line must be a JSON object with "
                             "'question' and 'answer'.") from None
    return examples


def load_any(path: Path, **kw: Any) -> list[Example]:
    """Load by suffix: ``.csv`` is Bitext, ``.jsonl`` is QA lines (``limit`` keeps the first N)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return load_bitext(path, **kw)
    if suffix == ".jsonl":
        return load_jsonl(path)[: kw.get("limit")]
    raise InputError(f"Cannot load training data from {path}: use a .jsonl or a Bitext .csv file.")


# Bitext ----------------------------------------------------------------------------------
_SLOT = re.compile(r"\{\{\s*(.+?)\s*\}\}|\[([A-Z][A-Za-z/ ]{2,})\]")  # {{Slot}} or [Slot]
_UI_NOUN = re.compile(r"\s*(section|page|button|option|tab|link|menu|field|feature|form|area|"
                      r"portal|icon|settings)\b", re.IGNORECASE)
_CONTACT = re.compile(r"phone|e-?mail|contact|support|customer service|complaint", re.I)
_START = re.compile(r"(?:^|[.!?:]\s+|\n\s*(?:[-*•]|\d+\.)?\s*)$")
_AFTER_WORD = re.compile(r"\b(?:the|a|an|our|your|my|this|that|its|or|and)\s*$|/\s*$", re.I)
_DOUBLE = re.compile(r"\b(the|a|an|our|your|my) (our|your)\b", re.IGNORECASE)
_AT_CONTACT = re.compile(r"\bat ((?:\{\{|\[)[^}\]]*(?:Phone|Email)[^}\]]*(?:\}\}|\]))", re.I)


def _slot_phrase(name: str, before: str, after: str, company: str) -> str:
    """What to say instead of one ``{{Placeholder}}``, from its name and surroundings."""
    key = re.sub(r"\s+anonymized$", "", name.strip().strip('"').lower())
    fixed = {"company name": company, "number of days": "a few", "percentage": "partial",
             "percentage or full": "partial or full", "business hours start time": "opening",
             "business hours end time": "closing"}
    if re.fullmatch(r"[0-9a-f]{6,}", key):
        phrase = "your order number"
    elif _UI_NOUN.match(after) or key in fixed:  # a label: "the order details section"
        phrase = fixed.get(key, key)
    elif "website" in key or "app name" in key:
        phrase = "our website"
    elif "chat" in key:
        phrase = "our live chat"
    elif "hours" in key or "availability" in key:
        phrase = "during our support hours"
    elif _CONTACT.search(key):
        phrase = "our support team"
    else:
        key = re.sub(r"\bid$", "number", key)
        plain = _START.search(before) or _AFTER_WORD.search(before)
        phrase = key if plain else f"your {key}"
    return phrase[:1].upper() + phrase[1:] if _START.search(before) else phrase


def fill_placeholders(text: str, company: str = "Orbitask") -> str:
    """Replace Bitext ``{{Slots}}`` with natural, neutral phrases."""
    text = _AT_CONTACT.sub(r"through \1", text)
    text = _SLOT.sub(lambda m: _slot_phrase(m.group(1) or m.group(2), text[:m.start()],
                                            text[m.end():], company), text)

    def single(m: re.Match[str]) -> str:
        second = m.group(2)
        return second.capitalize() if m.group(1)[0].isupper() else second

    return _DOUBLE.sub(single, text)


def _read_bitext(path: Path) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(_read_text(path), newline=""))
    missing = {"instruction", "response", "intent"} - set(reader.fieldnames or ())
    if missing:
        raise InputError(f"{path} is not a Bitext CSV: missing column(s) {sorted(missing)}.")
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise InputError(f"{path}:{reader.line_num}: {exc} — fix the CSV.") from None
    return [r for r in rows if (r.get("instruction") or "").strip()
            and (r.get("response") or "").strip()]


def _stratified(rows: list[dict[str, str]], limit: int, seed: int) -> list[dict[str, str]]:
    """``limit`` rows spread evenly over intents (round robin over shuffled groups)."""
    rng = random.Random(seed)
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        groups[row["intent"]].append(row)
    pools = [groups[intent] for intent in sorted(groups)]
    for pool in pools:
        rng.shuffle(pool)
    picked = [pool[i] for i in range(max(map(len, pools), default=0))
              for pool in pools if i < len(pool)]
    return picked[:limit]


# Rows of a Bitext CSV trained on unless ``--data-limit`` says otherwise: the full set's ~27k
# rows repeat 27 intents and would take many hours on 2 CPU cores; a sample spread over the
# intents (``_stratified``) keeps every intent.
BITEXT_LIMIT = 500


def load_bitext(path: Path, limit: int | None = None, company: str = "Orbitask",
                seed: int = 0) -> list[Example]:
    """Bitext customer-support rows as tone examples (``kind="bitext"``)."""
    if limit is not None and limit < 0:
        raise InputError(f"limit must be 0 or more, not {limit}.")
    rows = _read_bitext(path)
    if limit is not None:
        rows = _stratified(rows, limit, seed)
    return [Example(r["instruction"].strip(), fill_placeholders(r["response"].strip(), company),
                    kind="bitext") for r in rows]


# chat records ----------------------------------------------------------------------------
_HEADER = re.compile(r"^\[(\d+)\] (.*) \(([^()\n]*)\)$", re.MULTILINE)


def parse_context(text: str | None) -> list[ContextChunk]:
    """Chunks back from a stored ``format_context`` string; [] if it is not one."""
    heads = list(_HEADER.finditer(text or ""))
    if not text or not heads or heads[0].start() != 0:
        return []
    if [int(h.group(1)) for h in heads] != list(range(1, len(heads) + 1)):
        return []
    ends = [h.start() for h in heads[1:]] + [len(text)]
    return [ContextChunk(h.group(3), h.group(2), text[h.end():end].strip())
            for h, end in zip(heads, ends, strict=True)]


def _cite(answer: str, k: int) -> str:
    """Add `` [k]`` at the end of the first sentence, unless the answer already cites."""
    if CITATION.search(answer):
        return answer
    end = re.search(r"[.!?:](?=\s|$)|\n", answer)
    cut = end.start() if end else len(answer.rstrip())
    return f"{answer[:cut].rstrip()} [{k}]{answer[cut:]}"


def _unit(seed: int, question: str) -> float:
    digest = hashlib.sha256(f"{seed}\x00{question}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _holds_answer(chunk: ContextChunk, ex: Example) -> bool:
    if ex.source:
        return chunk.source == ex.source
    if ex.context:
        return " ".join(ex.context.split()) in " ".join(chunk.text.split())
    words = key_words(ex.answer)
    return bool(words) and len(words & key_words(chunk.text)) >= 0.6 * len(words)


def _oracle_chunk(ex: Example, found: Sequence[ContextChunk]) -> ContextChunk:
    source = ex.source or "document"
    title = next((c.title for c in found if c.source == source), "")
    title = title or Path(source).stem.replace("-", " ").replace("_", " ").capitalize()
    return ContextChunk(source, title, ex.context or "")


def _raft(ex: Example, retrieve: Callable[[str], list[ContextChunk]], share: float, n: int,
          seed: int) -> tuple[list[ContextChunk], str] | None:
    """Oracle among distractors, or (share of the time) distractors only → don't know.

    ``None`` (leave the example out) for a tone example whose source retrieval misses: its
    manner is what it teaches, and a decline there would teach declining complaints."""
    found = list(retrieve(ex.question))
    answerable = ex.answerable and ex.kind != "idk"
    # Cite the one chunk that holds most of the answer (another chunk of the same document
    # may not hold it at all); no chunk that holds the answer is ever a distractor.
    words = key_words(ex.answer)
    holding = sorted((c for c in found if answerable and _holds_answer(c, ex)),
                     key=lambda c: -len(words & key_words(c.text)))
    oracle = holding[:1]
    others = [c for c in found if c not in holding and (not ex.source or c.source != ex.source)]
    if not ex.label:  # an answer to avoid: keep the context it was given
        return found[:n], ex.answer
    if not answerable:
        return others[:n], ex.answer
    if not oracle and ex.context:
        oracle = [_oracle_chunk(ex, found)]
    manner = ex.kind in TONE_KINDS
    if not oracle:  # where the answer is from is unknown, or nothing retrieved holds it
        if ex.source and manner:
            return None
        return (others[:n], IDK_REPLY) if ex.source else (found[:n], ex.answer)
    if not manner and _unit(seed, ex.question) < share:
        return others[:n], IDK_REPLY
    # Retrieval order, not shuffled: serving shows the best match first, and there it holds the
    # reference source for ~3 of 4 sample questions. Shuffled positions taught the seed adapter
    # to cite [2] as often as [1] (citation accuracy 0.30 vs base+rag 0.60, BENCHMARKS.md).
    kept = [c for c in found if c in oracle or c in others]
    if oracle[0] not in kept:  # the given context, not retrieved: a pseudo-random place
        kept.insert(int(_unit(seed, ex.question) * n), oracle[0])
    chunks = kept[:n] if oracle[0] in kept[:n] else others[:n - 1] + oracle
    return chunks, _cite(ex.answer, chunks.index(oracle[0]) + 1)


def _context_for(ex: Example, retrieve: Callable[[str], list[ContextChunk]] | None,
                 share: float, n: int, seed: int) -> tuple[list[ContextChunk], str] | None:
    if ex.kind in NO_CONTEXT_KINDS or (ex.kind == "bitext" and not ex.context):
        return [], ex.answer
    served = parse_context(ex.context)
    if served:  # a stored answer: exactly the context the model saw
        return served[:n], ex.answer
    if retrieve is not None:
        return _raft(ex, retrieve, share, n, seed)
    if not ex.context:
        return [], ex.answer
    cite = ex.label and ex.answerable and ex.kind != "idk"
    return [_oracle_chunk(ex, [])], _cite(ex.answer, 1) if cite else ex.answer


def grounded_target(answer: str, shown: Sequence[ContextChunk], ex: Example,
                    company: str) -> str | None:
    """The answer to train on, every fact of it in the context the model is shown: the
    grounding guard serving uses (``knowledge.guard``) re-cites, replaces with the source
    sentence, or drops what the context does not hold; ``None`` (leave the example out) when
    nothing grounded is left. A target stating what its context lacks teaches invention.
    Declines, answers to avoid and examples without context are trained as written."""
    if not shown or not ex.label or _declines(ex) or answer == IDK_REPLY:
        return answer
    result = ground(answer, [f"{c.title}\n{c.text}" for c in shown], ex.question, company)
    if not result.unsupported and not result.recited:
        return answer  # states nothing the context lacks: trained as written
    return result.text if result.grounded else None


def _declines(ex: Example) -> bool:
    return ex.label and (ex.kind == "idk" or not ex.answerable)


def raft_share(examples: Sequence[Example], decline_share: float) -> float:
    """The share of answerable examples to show distractors only, so that declines — the data's
    own "I don't know" examples plus RAFT's — make ``decline_share`` of all records.

    Without this the seed set, a fifth of which already declines, trained an adapter that
    declined most answerable questions (BENCHMARKS.md, issue 5).
    """
    wanted = decline_share * len(examples) - sum(map(_declines, examples))
    answerable = sum(ex.label and not _declines(ex) and ex.kind not in TONE_KINDS
                     for ex in examples)
    return min(1.0, max(0.0, wanted / answerable)) if answerable else 0.0


def balance_declines(examples: Sequence[Example], decline_share: float,
                     seed: int = 0) -> list[Example]:
    """``examples`` less the data's own declines beyond ``decline_share`` of them (a fixed
    pseudo-random subset is kept). A small model decoding greedily answers with the most
    common opening it was trained on: with a fifth of the seed set declining, the seed-set
    adapter declined 59 of 90 answerable sample questions (BENCHMARKS.md, issue 5)."""
    declines = sum(map(_declines, examples))
    allowed = decline_share / (1 - decline_share) * (len(examples) - declines)
    if declines <= allowed:
        return list(examples)
    keep = allowed / declines
    return [ex for ex in examples if not _declines(ex) or _unit(seed + 1, ex.question) < keep]


def _no_documents(ex: Example, share: float, seed: int, company: str) -> dict[str, Any] | None:
    """A share of the factual questions once more, shown with no documents at all, with the
    decline as the target (see ``training.train.NO_DOCS_SHARE``)."""
    factual = ex.label and ex.kind not in TONE_KINDS and not parse_context(ex.context)
    if not factual or _unit(seed + 2, ex.question) >= share:
        return None
    messages = build_messages(ex.question, [], company=company)
    messages.append({"role": "assistant", "content": ex.answer if _declines(ex) else IDK_REPLY})
    return {"messages": messages, "kind": "idk", "label": True}


def to_chat_records(examples: Sequence[Example],
                    retrieve: Callable[[str], list[ContextChunk]] | None,
                    company: str = "Orbitask", decline_share: float = DECLINE_SHARE,
                    n_context: int = 3, seed: int = 0,
                    no_docs_share: float = NO_DOCS_SHARE) -> list[dict[str, Any]]:
    """``{"messages": [system, user, assistant], "kind", "label"}`` per example (RAFT), with
    about ``decline_share`` of them ending in a decline (see ``balance_declines``), and
    ``no_docs_share`` of the factual ones repeated with no documents (see ``_no_documents``)."""
    records = []
    examples = balance_declines(examples, decline_share, seed)
    share = raft_share(examples, decline_share)
    for ex in examples:
        context = _context_for(ex, retrieve, share, n_context, seed)
        if context is None:
            continue
        chunks, answer = context
        words = key_words(f"{ex.question} {ex.answer}")
        # Every window is long enough to hold the whole answer (RAFT's oracle must contain
        # it, or the adapter learns to write what it cannot see); all the same size, so the
        # oracle cannot be told apart by its length.
        limit = max(CHUNK_CHARS, len(ex.answer) + 150)
        shown = [focus(c, words, limit) for c in chunks]
        target = grounded_target(answer, shown, ex, company)
        if target is None:
            continue
        messages = build_messages(ex.question, shown, company=company)
        messages.append({"role": "assistant", "content": target})
        records.append({"messages": messages, "kind": ex.kind, "label": ex.label})
        bare = _no_documents(ex, no_docs_share, seed, company)
        if bare is not None:
            records.append(bare)
    return records


# output ----------------------------------------------------------------------------------
def export_jsonl(records: Sequence[dict[str, Any]], path: Path) -> int:
    """Write one JSON object per line; returns how many. ``InputError`` if it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise InputError(f"{path}: cannot write it ({exc.strerror or type(exc).__name__}) — "
                         "choose a writable file with --out.") from None
    return len(records)


def data_hash(records: Sequence[dict[str, Any]]) -> str:
    """First 16 hex characters of the SHA-256 of the canonical JSON of ``records``."""
    canonical = json.dumps(list(records), sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
