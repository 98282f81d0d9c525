"""Test doubles: a scripted chat model, a scripted engine, and an embedding-model wrapper."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from bot.core.types import Answer, Source, Turn
from knowledge.llm import ChatModel

DEFAULT_REPLY = "Here is what the documentation says."


class FakeChatModel(ChatModel):
    """A ``ChatModel`` with scripted replies and no LLM behind it (whatever takes a chat model
    or a ``Runtime`` chat loader takes it); records every prompt it receives."""

    def __init__(self, *replies: str, default: str = DEFAULT_REPLY, name: str = "fake-model",
                 adapter: str | None = None) -> None:
        super().__init__(llm=None, name=name, adapter=adapter)
        self.default = default
        self._replies: deque[str] = deque(replies)
        self.history: list[list[dict[str, str]]] = []

    def enqueue(self, text: str) -> None:
        self._replies.append(text)

    def chat(self, messages: Sequence[dict[str, str]]) -> str:
        self.history.append([dict(m) for m in messages])
        return self._replies.popleft() if self._replies else self.default

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        """The scripted reply word by word, as a streaming backend delivers it."""
        yield from re.findall(r"\S+\s*", self.chat(messages))

    def last_user_prompt(self) -> str:
        return self.history[-1][-1]["content"]


def make_source(n: int = 1, source: str = "doc.md", text: str = "Some text.") -> Source:
    return Source(id=f"chunk-{n}", source=source, title=f"Title {n}", score=0.5, text=text)


class FakeEngine:
    """``AnswerPort`` returning canned answers; records (question, history) of each call."""

    def __init__(self, text: str = "Canned answer [1].", error: Exception | None = None,
                 security: str = "") -> None:
        self.text, self.error, self.security = text, error, security
        self.calls: list[tuple[str, tuple[Turn, ...]]] = []

    def answer(self, question: str, history: Sequence[Turn] = (),
               on_text: Callable[[str], None] | None = None) -> Answer:
        self.calls.append((question, tuple(history)))
        if self.error is not None:
            raise self.error
        return Answer(text=f"{self.text} ({len(self.calls)})", sources=(make_source(),),
                      latency_ms=1.0, model="fake-model", adapter=None, query=question,
                      context="[1] Title 1 (doc.md)\nSome text.", security=self.security)


class WrappedEmbedding(BaseEmbedding):
    """Delegates to a real embedding model, recording the texts it embeds for documents.

    ``fail=True`` raises when asked to embed documents (a crash midway through a refresh).
    With ``gate``, document embedding sets ``entered`` and then waits until ``gate`` is set,
    so a test can act while a refresh is provably in progress.
    """

    model_name: str = "wrapped-embedding"
    _inner: Any = PrivateAttr()
    _texts: list[str] = PrivateAttr(default_factory=list)
    _fail: bool = PrivateAttr(default=False)
    _gate: threading.Event | None = PrivateAttr(default=None)
    _entered: threading.Event = PrivateAttr(default_factory=threading.Event)

    def __init__(self, inner: Any, fail: bool = False,
                 gate: threading.Event | None = None) -> None:
        super().__init__(embed_batch_size=inner.embed_batch_size)
        self._inner, self._fail, self._gate = inner, fail, gate

    @classmethod
    def class_name(cls) -> str:
        return "WrappedEmbedding"

    @property
    def embedded(self) -> list[str]:
        return list(self._texts)

    @property
    def entered(self) -> threading.Event:
        return self._entered

    def reset(self) -> None:
        self._texts.clear()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._inner.get_query_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        self._entered.set()
        if self._gate is not None and not self._gate.wait(timeout=300):
            raise TimeoutError("the test never opened the gate")
        if self._fail:
            raise RuntimeError("embedding backend crashed")
        self._texts.extend(texts)
        return self._inner.get_text_embedding_batch(texts)


class FakeAdmin:
    """``KnowledgeAdminPort`` that records refresh/train requests and answers at once."""

    def __init__(self) -> None:
        self.refreshed: list[str] = []
        self.trained: list[str] = []

    def refresh(self, requested_by: str) -> str:
        self.refreshed.append(requested_by)
        return "Knowledge refreshed: 3 documents."

    def train(self, requested_by: str) -> str:
        self.trained.append(requested_by)
        return "Training finished: adapter v-test promoted."

    def status_text(self) -> str:
        return "Knowledge base: 3 documents."

    def is_refreshing(self) -> bool:
        return False

    def gaps(self, requested_by: str) -> str:
        return "Top 1 knowledge gap(s), most users first:\n1. \"Bluetooth?\" — 2 user(s)"


class FakeConsoleOps:
    """``bot.web.ops.ConsoleOps`` in memory: a refresh that reports progress in timed steps,
    one quarantined passage, two adapters to promote and roll back."""

    def __init__(self, step_seconds: float = 0.05) -> None:
        self.step_seconds = step_seconds
        self.active = "v1"
        self.previous: list[str] = []
        self.released: list[str] = []
        self.refreshes = 0

    def knowledge(self) -> dict[str, Any]:
        return {"documents": 4, "chunks": 9, "sources": ["/docs"],
                "runs": [{"id": n, "kind": "refresh", "status": "succeeded",
                          "requested_by": "web:ada", "started_at": None, "error": ""}
                         for n in range(self.refreshes)],
                "quarantined": [{"id": "q1", "source": "evil.md", "file": "evil.md",
                                 "reason": "addressed to the assistant",
                                 "text": "<script>alert(1)</script> Note for the assistant",
                                 "released": "q1" in self.released}]}

    def refresh(self, requested_by: str, progress: Callable[[str, int, int], None]) -> str:
        for done in range(1, 6):
            time.sleep(self.step_seconds)
            progress("embedding", done, 5)
        self.refreshes += 1
        return "Knowledge refreshed: 4 documents, 9 chunks."

    def release(self, ids: list[str], requested_by: str) -> str:
        self.released += ids
        return f"Released {', '.join(ids)}; refreshed."

    def adapters(self) -> list[dict[str, Any]]:
        return [{"version": v, "active": v == self.active, "status": "candidate",
                 "created_at": "", "metrics": {"rougeL_f1": 0.3}, "answers": 2,
                 "gate": {"promoted": True, "reasons": [],
                          "candidate": {"rougeL_f1": 0.35, "idk_recall": 0.8},
                          "current": {"rougeL_f1": 0.3, "idk_recall": 0.75}}}
                for v in ("v1", "v2")]

    def train(self, requested_by: str, progress: Callable[[str, int, int], None]) -> str:
        progress("training", 0, 0)
        return "Trained v3: rejected by the gate."

    def promote(self, version: str) -> str:
        self.previous.append(self.active)
        self.active = version
        return f"Now serving {version}."

    def rollback(self) -> str:
        self.active = self.previous.pop() if self.previous else ""
        return f"Now serving {self.active or 'the base model (no adapter)'}."

    def gaps(self, limit: int) -> list[dict[str, Any]]:
        gap = {"label": "How do I pair <b>Bluetooth</b> headphones?", "count": 3, "users": 2,
               "questions": ["How do I pair <b>Bluetooth</b> headphones?",
                             "Can I connect wireless earbuds?"],
               "nearest_sources": [{"source": "audio.md", "title": "Sound settings"}]}
        return [gap][:limit]
