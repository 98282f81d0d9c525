"""The answer engine: condense → retrieve → check relevance → prompt → generate → cite.

This is what the router calls; it knows nothing about platforms or storage.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from llama_index.core.schema import BaseNode

from bot.core.citations import CITATION, cited_numbers, hollow_claim, strip_invalid
from bot.core.types import Answer, Source, Turn
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
from knowledge.retrieve import HybridRetriever

HANDOFF = "Would you like me to connect you with a member of our support team?"
_FOLLOW_UP = re.compile(
    r"^(and|also|but|so|then|what about|how about|ok|okay|plus)\b"
    r"|\b(it|its|it's|that|this|those|these|they|them|their|there|one|same)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has",
    "have", "how", "i", "if", "in", "is", "it", "its", "of", "on", "or", "our", "so", "that",
    "the", "their", "then", "there", "this", "to", "was", "we", "what", "when", "where", "which",
    "will", "with", "you", "your",
))


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


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


_SENTENCE_END = re.compile(r"(?<=[.!?])(\s+)")


def attach_citations(text: str, sources: Sequence[Source], min_overlap: int = 2) -> str:
    """Keep valid ``[n]`` markers; cite uncited sentences with the chunk they overlap most.

    Markers that point at no source are dropped. Moving a valid marker to the chunk that shares
    more words with its sentence was tried and left out: on the sample QA set it fixed as many
    citations as it broke (BENCHMARKS.md). Line breaks (numbered steps) are kept.
    """
    text = strip_invalid(text, len(sources))
    if cited_numbers(text, len(sources)) or not sources:
        return text
    chunk_words = [_content_words(src.text + " " + src.title) for src in sources]
    parts = _SENTENCE_END.split(text)  # sentences at even places, the whitespace between at odd
    for i in range(0, len(parts), 2):
        words = _content_words(parts[i])
        overlaps = [len(words & cw) for cw in chunk_words]
        best = max(range(len(sources)), key=overlaps.__getitem__)
        if overlaps[best] >= min_overlap and not CITATION.search(parts[i]):
            parts[i] = re.sub(r"([.!?]?)$", rf" [{best + 1}]\1", parts[i].rstrip(), count=1)
    return "".join(parts)


@dataclass(frozen=True)
class EngineConfig:
    mode: str = "hybrid"
    top_k: int = 3
    min_relevance: float = 0.3
    company: str = "Orbitask"
    context_chars: int = CONTEXT_CHARS  # per retrieved chunk shown to the model; 0 = all


class AnswerEngine:
    """Answers questions from the live index; picks up a refreshed index automatically."""

    def __init__(self, kb: KnowledgeBase, model: ChatModel | ModelProvider,
                 config: EngineConfig) -> None:
        self.kb, self.model, self.config = kb, model, config
        self._retriever: HybridRetriever | None = None
        self._index_name: str | None = None
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
            return self._retriever

    def answer(self, question: str, history: Sequence[Turn] = ()) -> Answer:
        started = time.perf_counter()
        query = condense(question, history)
        found = self.retriever().retrieve(query)
        if not found.hits or found.relevance < self.config.min_relevance:
            return self._answer(IDK_REPLY, (), query, "", started, grounded=False)
        sources = tuple(
            Source(id=hit.node.node_id, score=round(float(hit.score or 0.0), 4),
                   **vars(context_chunk(hit.node)))
            for hit in found.hits
        )
        words = key_words(query)
        chunks = [focus(ContextChunk(s.source, s.title, s.text), words,
                        self.config.context_chars) for s in sources]
        model = self.current_model()
        raw = model.chat(build_messages(query, chunks, company=self.config.company))
        hollow = hollow_claim(raw)
        if not raw or hollow or says_dont_know(raw):
            text = raw if raw and not hollow else IDK_REPLY
            if "support team" not in text and "human" not in text:
                text = f"{text.rstrip()} {HANDOFF}"
            return self._answer(text, sources, query, format_context(chunks), started, False)
        text = attach_citations(raw, sources)
        return self._answer(text, sources, query, format_context(chunks), started, True)

    def current_model(self) -> ChatModel:
        """The model to answer with (a provider's current one: adapters hot-swap)."""
        return self.model.get() if isinstance(self.model, ModelProvider) else self.model

    def _answer(self, text: str, sources: tuple[Source, ...], query: str, context: str,
                started: float, grounded: bool) -> Answer:
        model = self.current_model()
        return Answer(
            text=text, sources=sources, query=query, context=context, grounded=grounded,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            model=model.name, adapter=model.adapter,
        )


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
    text = model.chat(build_messages(question, [], company=company))
    return Answer(text=text, sources=(), query=question, context="",
                  grounded=not says_dont_know(text), model=model.name, adapter=model.adapter,
                  latency_ms=round((time.perf_counter() - started) * 1000, 1))
