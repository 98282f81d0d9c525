"""The answer engine: condense → retrieve → check relevance → prompt → generate → cite.

This is what the router calls; it knows nothing about platforms or storage.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llama_index.core.schema import BaseNode

from knowledge.citations import hollow_claim, strip_invalid
from knowledge.facts import (
    LIST_MARK,
    MARKERS,
    NUMBER_WORDS,
    Evidence,
    complete_sentences,
    content_words,
    facts,
    missing,
    split_sentences,
    stem,
)
from knowledge.guard import HANDOFF_OFFER, finish_quote, ground, names_held, uncovered_names
from knowledge.index import KnowledgeBase
from knowledge.llm import ChatModel, ModelProvider
from knowledge.prompts import (
    CONTEXT_CHARS,
    IDK_REPLY,
    ContextChunk,
    build_messages,
    focus,
    format_context,
    key_words,
    says_dont_know,
)
from knowledge.quote import ANSWER_SCORE, ANSWER_SIMILARITY, QUOTE_SENTENCES, Quote, Quoter
from knowledge.retrieve import HybridRetriever
from knowledge.security import SECRET_REASON, security_check, trusted_contacts
from knowledge.types import Answer, Source, Turn, VerifiedEntry
from knowledge.verified import VerifiedIndex, verified_text

HANDOFF = "Would you like me to connect you with a member of our support team?"
# What a customer sees instead of an answer the security check blocked (never the answer).
SECRET_REPLY = ("I can't help with that here. Please never send passwords, codes, tokens or "
                f"card numbers to anyone, including us. {HANDOFF}")
CONTACT_REPLY = ("I couldn't find that contact information in our documentation, so I won't "
                 f"pass it on. {HANDOFF}")
_SENTENCE_END = re.compile(r"[.!?]|\n")
# A prose sentence of the model's answer this far from the question (MiniLM cosine) is left
# out: grounded, but about something else. Chosen on the shipped adapter's answers to 150
# e-manual training questions (ROUGE-L 0.4482 without, 0.4538, 0.4581, 0.4630, 0.4644 at
# 0.1-0.3); on the sample QA, key facts are unchanged at every value, and at 0.15 what goes is
# noise ("Two-factor authentication adds a second step…" answering backups) while from 0.2 on
# answer-bearing lines go too ("No credit or refund is given for the remaining time").
RELEVANCE_FLOOR = 0.15
_LIST_START = re.compile(r"\s*(\d{1,2}[.)]|[-*•])\s")
_FOLLOW_UP = re.compile(
    r"^(and|also|but|so|then|what about|how about|ok|okay|plus)\b"
    r"|\b(it|its|it's|that|this|those|these|they|them|their|there|one|same)\b",
    re.IGNORECASE,
)


def condense(question: str, history: Sequence[Turn]) -> str:
    """A standalone retrieval query for a follow-up such as "and how much does that cost?".

    Deterministic by design: a short question that leans on earlier talk (a pronoun, or
    opening with "and"/"what about") is joined with the previous user question. Asking the
    135M model to rewrite questions costs a second per turn and often loses the subject.
    """
    earlier = [turn.text for turn in history if turn.role == "user"]
    if earlier and len(question.split()) <= 14 and _FOLLOW_UP.search(question):
        return f"{earlier[-1].strip()} {question.strip()}"
    return question.strip()


@dataclass(frozen=True)
class EngineConfig:
    mode: str = "hybrid"
    top_k: int = 3
    min_relevance: float = 0.3
    company: str = "Orbitask"
    context_chars: int = CONTEXT_CHARS  # per retrieved chunk shown to the model; 0 = all
    quote: bool = True  # quote the passage that best answers the question (knowledge.quote)
    quote_sentences: int = QUOTE_SENTENCES  # at most this many


class AnswerEngine:
    """Answers questions from the live index; picks up a refreshed index automatically."""

    def __init__(self, kb: KnowledgeBase, model: ChatModel | ModelProvider,
                 config: EngineConfig, verified: VerifiedIndex | None = None) -> None:
        self.kb, self.model, self.config = kb, model, config
        self.verified = verified  # the support team's answers, served before the model
        self.quoter: Quoter | None = Quoter(kb.embed_model) if config.quote else None
        self._retriever: HybridRetriever | None = None
        self._index_name: str | None = None
        self._trusted: frozenset[str] = frozenset()  # contact points the index's documents name
        self._lock = threading.Lock()

    @property
    def index_name(self) -> str | None:
        return self._index_name

    def retriever(self) -> HybridRetriever:
        """The retriever over the live build, reloaded when a refresh swapped it."""
        with self._lock:
            current = self.kb.current_name()
            if self._retriever is None or current != self._index_name:
                loaded = self.kb.load()
                self._retriever = HybridRetriever(loaded, self.config.mode, self.config.top_k)
                self._index_name = loaded.name
                self._trusted = trusted_contacts(
                    node.get_content() for node in loaded.index.docstore.docs.values())
            return self._retriever

    def answer(self, question: str, history: Sequence[Turn] = (),
               on_text: Callable[[str], None] | None = None) -> Answer:
        """Answer ``question``. With ``on_text``, the model's reply streams: whenever it has
        finished a sentence, ``on_text`` receives the guarded text so far (complete sentences
        that passed the guard, with citations); the returned ``Answer`` is the final text."""
        started = time.perf_counter()
        query = condense(question, history)
        found = self.retriever().retrieve(query)
        sources = tuple(
            Source(id=hit.node.node_id, score=round(float(hit.score or 0.0), 4),
                   **vars(context_chunk(hit.node)))
            for hit in found.hits
        )
        evidence = [f"{s.title}\n{s.text}" for s in sources]
        if self.verified is not None and found.query_embedding:
            hit = self.verified.match(found.query_embedding)
            if hit is not None:
                return self._verified(hit[0], query, started, on_text)
        quotes = self._quotes(found.query_embedding, sources, evidence, query)
        if not sources or (found.relevance < self.config.min_relevance and not leads(quotes)):
            # nothing close: no chunk (dense cosine) and no sentence that answers alone
            return self._answer(IDK_REPLY, (), query, "", started, grounded=False)
        words = key_words(query)
        chunks = [focus(ContextChunk(s.source, s.title, s.text), words,
                        self.config.context_chars) for s in sources]
        context = format_context(chunks)
        if self._never_named(query, evidence):
            return self._answer(IDK_REPLY, sources, query, context, started, False)
        show = None if on_text is None else _Shown(on_text, quotes, query)
        messages = build_messages(query, chunks, company=self.config.company)
        topic = found.query_embedding
        raw = self._generate(messages, evidence, query, show, topic)
        text, grounded, security, cut = self._guarded(raw, evidence, query, topic)
        if not security and quotes:
            text, grounded = with_quote(text, grounded, quotes, query)
            blocked = security_check(text, evidence, self._trusted, query)  # the whole answer
            if blocked:
                text, grounded, security = self._blocked(blocked)
        answer = self._answer(text, sources, query, context, started, grounded, security)
        return dataclasses.replace(answer, guard_cut=cut)

    def _never_named(self, query: str, evidence: list[str]) -> bool:
        """Whether the question names something the documents never name ("Salesforce?"):
        a name no retrieved chunk holds, that no chunk keyword search finds for it holds
        either (together with the other such names). "iPhone" named only on another page
        than the retrieved notification tips is not such a name."""
        unknown = uncovered_names(query, evidence, self.config.company)
        if not unknown:
            return False
        return not names_held(query, unknown,
                               self.retriever().keyword(" ".join(sorted(unknown))))

    def _quotes(self, embedding: list[float], sources: Sequence[Source], evidence: list[str],
                query: str) -> list[Quote]:
        """The passage to quote (``Quoter.best``), less sentences the security check blocks."""
        if self.quoter is None:
            return []
        found = self.quoter.best(embedding, query, [(s.title, s.text) for s in sources],
                                 self.config.quote_sentences)
        return [q for q in found if not security_check(q.sentence, evidence, self._trusted, query)]

    def _generate(self, messages: list[dict[str, str]], evidence: list[str], query: str,
                  on_text: Callable[[str], None] | None, topic: Sequence[float] = ()) -> str:
        """The model's raw reply; streamed through the guard to ``on_text`` when given."""
        model = self.current_model()
        stream = getattr(model, "stream", None)
        if on_text is None or stream is None:
            return str(model.chat(messages))
        parts: list[str] = []
        shown = ""
        for delta in stream(messages):
            parts.append(delta)
            if not _SENTENCE_END.search(delta):
                continue  # the guard runs once per finished sentence, not per token
            text, grounded, security, _ = self._guarded("".join(parts), evidence, query, topic)
            if grounded and not security and text != shown:
                shown = text
                on_text(text)
        return "".join(parts).strip()

    def _guarded(self, raw: str, evidence: list[str], query: str,
                 topic: Sequence[float] = ()) -> tuple[str, bool, str, int]:
        """The answer a customer may see: ``(text, grounded, security reason or "", the
        sentences the grounding guard replaced or dropped)``; ``topic``: the question's
        embedding, for ``_on_topic``."""
        blocked = security_check(raw, evidence, self._trusted, query)
        if blocked:
            return (*self._blocked(blocked), 0)
        raw = complete_sentences(finish_quote(raw, evidence))
        if not raw or hollow_claim(raw) or says_dont_know(raw):
            text = raw if raw and not hollow_claim(raw) else IDK_REPLY
            return with_handoff(text), False, "", 0
        guarded = ground(strip_invalid(raw, len(evidence)), evidence, query,
                         self.config.company)
        cut = guarded.replaced + guarded.dropped
        text = self._on_topic(guarded.text, topic) if guarded.grounded else ""
        if not text:
            return IDK_REPLY, False, "", cut
        blocked = security_check(text, evidence, self._trusted, query)
        return (*self._blocked(blocked), cut) if blocked else (text, True, "", cut)

    def _on_topic(self, text: str, topic: Sequence[float]) -> str:
        """``text`` less its prose sentences under ``RELEVANCE_FLOOR`` (MiniLM cosine to the
        question): grounded, but about something else ("Two-factor authentication adds a
        second step" in an answer about backups). List items (one line of a list means
        little alone) and offers of a person stay."""
        pairs = [[s, sep] for s, sep in split_sentences(text)]
        prose = [i for i, (s, _) in enumerate(pairs)
                 if not LIST_MARK.match(s.strip()) and not HANDOFF_OFFER.search(s)]
        if self.quoter is None or not len(topic) or not prose:
            return text
        close = self.quoter.similarities(topic, [MARKERS.sub("", pairs[i][0]).strip()
                                                 for i in prose])
        far = {i for i, c in zip(prose, close, strict=True) if c < RELEVANCE_FLOOR}
        if all(i in far or HANDOFF_OFFER.search(s) for i, (s, _) in enumerate(pairs)):
            return text  # nothing closer to keep: the quoted passage follows it
        kept: list[list[str]] = []
        for i, (sentence, sep) in enumerate(pairs):
            if i not in far:
                kept.append([sentence, sep])
            elif kept and "\n" in sep:
                kept[-1][1] = sep  # the line break after a dropped sentence stays
        return "".join(s + sep for s, sep in kept).strip()

    def _verified(self, entry: VerifiedEntry, query: str, started: float,
                  on_text: Callable[[str], None] | None) -> Answer:
        """The support team's answer, as written, marked verified and citing its sources."""
        text = verified_text(entry)
        if on_text is not None:
            on_text(text)
        sources = tuple(Source(id=str(s.get("id", "")), source=str(s.get("source", "")),
                               title=str(s.get("title", "")), score=float(s.get("score", 0.0)),
                               text="") for s in entry.sources)
        answer = self._answer(text, sources, query, "", started, grounded=True)
        return dataclasses.replace(answer, verified=entry.id)

    @staticmethod
    def _blocked(reason: str) -> tuple[str, bool, str]:
        return (SECRET_REPLY if reason == SECRET_REASON else CONTACT_REPLY), False, reason

    def current_model(self) -> ChatModel:
        """The model to answer with (a provider's current one: adapters hot-swap)."""
        return self.model.get() if isinstance(self.model, ModelProvider) else self.model

    def _answer(self, text: str, sources: tuple[Source, ...], query: str, context: str,
                started: float, grounded: bool, security: str = "") -> Answer:
        model = self.current_model()
        return Answer(
            text=text, sources=sources, query=query, context=context, grounded=grounded,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            model=model.name, adapter=model.adapter, security=security,
        )


class _Shown:
    """What a streaming customer sees: a passage that ``leads`` at once, then the model's
    guarded text as the final answer will hold it (composed with that passage, or less the
    sentences that only restate the question); never the same text twice."""

    def __init__(self, on_text: Callable[[str], None], quotes: Sequence[Quote],
                 question: str) -> None:
        self.on_text, self.quotes, self.question = on_text, quotes, question
        self.shown = ""
        if leads(quotes):
            self._show(passage(quotes))

    def __call__(self, text: str) -> None:
        if leads(self.quotes):
            self._show(with_quote(text, True, self.quotes, self.question)[0])
        else:
            self._show(without_restated(text, self.question))

    def _show(self, text: str) -> None:
        if text and text != self.shown:
            self.shown = text
            self.on_text(text)


def leads(quotes: Sequence[Quote]) -> bool:
    """Whether the quoted passage answers alone, and so opens the answer (shown at once while
    the model writes): its best sentence is close (cosine ``ANSWER_SIMILARITY``) or scores
    ``ANSWER_SCORE``."""
    return bool(quotes) and (quotes[0].similarity >= ANSWER_SIMILARITY
                             or quotes[0].score >= ANSWER_SCORE)


def passage(quotes: Sequence[Quote]) -> str:
    """The quoted sentences with their citations, in the documents' order; the items of a
    list quoted whole on lines of their own."""
    parts = [("\n- " if q.listed else " ") + q.cited()
             for q in sorted(quotes, key=lambda q: q.order)]
    return "".join(parts).strip()


def with_quote(text: str, grounded: bool, quotes: Sequence[Quote],
               question: str = "") -> tuple[str, bool]:
    """The answer with the quoted passage (``Quoter.best``), less the model's sentences that
    only restate the question or the passage. A passage that ``leads`` comes first and stands
    alone when the model declined; another follows a grounded answer, less the quotes the
    answer already says, and adds nothing to a declined one."""
    if not quotes or not (grounded or leads(quotes)):
        return text, grounded
    said = text if grounded else ""
    if leads(quotes):
        quoted = passage(quotes)
        rest = complete_sentences(without_restated(said, f"{question} {quoted}"))
        sep = "\n" if _LIST_START.match(rest) else " "  # a list keeps its lines
        return f"{quoted}{sep}{rest}".strip(), True
    said = without_restated(said, question)
    new = [q for q in quotes if not q.covered_by(said)]
    return " ".join([said, passage(new)]).strip() or text, True


_ASSENT = frozenset({"yes", "yep", "sure", "absolutely", "cours", "certainly", "definitely"})


def without_restated(text: str, known: str) -> str:
    """``text`` less the sentences that say nothing ``known`` (the question and the quoted
    passage) does not: "Yes, you can sync X on the Free plan" restating the question, or the
    passage told again. The passage answers; such sentences only risk a wrong "yes". A
    number is compared as a fact ("last five passwords" restates "last 5 passwords")."""
    held, evidence = {stem(w) for w in content_words(known)} | _ASSENT, Evidence.of(known)
    kept: list[list[str]] = []
    for sentence, sep in split_sentences(text):
        said = {stem(w) for w in content_words(sentence) - NUMBER_WORDS}
        if not said - _ASSENT or not said <= held or missing(facts(sentence), evidence):
            kept.append([sentence, sep])
        elif kept and "\n" in sep:
            kept[-1][1] = sep  # a dropped list item's line break stays: "3." opens a line
    return "".join(s + sep for s, sep in kept).strip()


def with_handoff(text: str) -> str:
    """A decline that offers a person, once."""
    if "support team" in text or "human" in text:
        return text
    return f"{text.rstrip()} {HANDOFF}"


def context_chunk(node: BaseNode) -> ContextChunk:
    """A retrieved chunk as the model sees it (source, "Title › Heading", text): serving and
    the RAFT training examples both call this, so their prompts name chunks alike."""
    return ContextChunk(str(node.metadata.get("source", "")), _title(node.metadata),
                        node.get_content())


def _title(metadata: dict[str, object]) -> str:
    title, heading = str(metadata.get("title", "")), str(metadata.get("heading", ""))
    return f"{title} › {heading}" if heading and heading != title else title


def answer_directly(model: ChatModel, question: str, company: str = "Orbitask") -> Answer:
    """The model alone, without retrieval (the "no RAG" arm of ``supportbot eval``)."""
    started = time.perf_counter()
    text = complete_sentences(model.chat(build_messages(question, [], company=company)))
    return Answer(text=text, sources=(), query=question, context="",
                  grounded=not says_dont_know(text), model=model.name, adapter=model.adapter,
                  latency_ms=round((time.perf_counter() - started) * 1000, 1))
