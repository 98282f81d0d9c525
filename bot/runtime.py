"""The composition root: turns ``Settings`` into the objects the commands use.

Everything is built lazily, so ``supportbot status`` does not load a language model and
``supportbot ask`` does not open Slack. Nothing below this module reads settings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from bot.core.limits import AnswerPool, RateLimiter
from bot.core.router import Router
from bot.errors import SupportbotError
from bot.settings import Settings
from bot.storage import Store
from knowledge.embed import DEFAULT_NAME, make_embed_model, token_counter
from knowledge.engine import AnswerEngine, EngineConfig
from knowledge.index import IndexConfig, KnowledgeBase, RefreshStats
from knowledge.llm import ChatModel, ModelSpec, load_chat_model


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def store(self) -> Store:
        return Store(self.settings.db_url)

    @cached_property
    def embed_model(self) -> Any:
        return make_embed_model(self.settings.embed_model)

    @cached_property
    def kb(self) -> KnowledgeBase:
        s = self.settings
        config = IndexConfig(s.embed_model or DEFAULT_NAME, s.chunk_size, s.chunk_overlap)
        return KnowledgeBase(s.index_dir, self.embed_model, config, token_counter(self.embed_model))

    def model_spec(self) -> ModelSpec:
        s = self.settings
        return ModelSpec(
            backend=s.llm_backend, model=s.llm_model, gguf_file=s.llm_gguf_file,
            adapter=s.llm_adapter, max_new_tokens=s.llm_max_new_tokens,
            temperature=s.llm_temperature, repeat_penalty=s.llm_repeat_penalty,
            context_window=s.llm_context_window,
            threads=s.llm_threads, api_base=s.openai_api_base,
            api_key=s.openai_api_key.get_secret_value(), quant=s.llm_quant,
            cache_dir=str(s.supportbot_home / "models"),
        )

    @cached_property
    def model(self) -> ChatModel:
        return load_chat_model(self.model_spec())

    @cached_property
    def engine(self) -> AnswerEngine:
        s = self.settings
        config = EngineConfig(mode=s.retrieval_mode, top_k=s.top_k,
                              min_relevance=s.min_relevance, company=s.company_name)
        return AnswerEngine(self.kb, self.model, config)

    @cached_property
    def router(self) -> Router:
        s = self.settings
        return Router(
            self.store, self.engine, s.history_turns, s.max_question_chars,
            reactions=s.reaction_scores(), limiter=RateLimiter(s.rate_limit_per_minute),
            admin=KnowledgeAdmin(self),
            admins={p: s.admin_ids(p) for p in ("slack", "discord")},
        )

    @cached_property
    def pool(self) -> AnswerPool:
        s = self.settings
        return AnswerPool(s.workers, s.max_pending, s.generation_timeout)

    def refresh(self, sources: Sequence[Path] | None = None, kind: str = "refresh",
                requested_by: str = "cli", show_progress: bool = False,
                on_skip: Callable[[str, str], None] | None = None) -> RefreshStats:
        """Ingest or refresh under the lock, recording the run in the database."""
        with self.kb.lock():
            self.store.interrupt_stale_refreshes()
            run = self.store.start_refresh(kind, requested_by)
            try:
                stats = self.kb.update(sources, show_progress=show_progress, on_skip=on_skip)
            except SupportbotError as exc:
                self.store.finish_refresh(run, "failed", error=str(exc))
                raise
            except BaseException as exc:
                self.store.finish_refresh(run, "failed", error=f"{type(exc).__name__}: {exc}")
                raise
            self.store.finish_refresh(run, "succeeded", stats.as_dict())
            return stats

    def close(self) -> None:
        if "pool" in self.__dict__:
            self.pool.shutdown()
        if "store" in self.__dict__:
            self.store.close()


class KnowledgeAdmin:
    """``/kb refresh`` and ``/kb status`` for the chat platforms (the router's admin port)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def refresh(self, requested_by: str) -> str:
        stats = self.runtime.refresh(kind="refresh", requested_by=requested_by)
        skipped = f", skipped {len(stats.skipped)} unreadable" if stats.skipped else ""
        return (
            f"Knowledge refreshed: {stats.documents} documents, {stats.chunks} chunks — added "
            f"{stats.added}, changed {stats.changed}, deleted {stats.deleted}, unchanged "
            f"{stats.unchanged}{skipped} ({stats.seconds:.1f}s)."
        )

    def status_text(self) -> str:
        manifest = self.runtime.kb.manifest()
        if manifest is None:
            return "No knowledge index yet — an admin can run `refresh` after `supportbot ingest`."
        runs = self.runtime.store.refresh_runs(limit=1)
        last = f" Last run: {runs[0].kind} {runs[0].status}." if runs else ""
        busy = " A refresh is running now." if self.is_refreshing() else ""
        return (f"Knowledge base: {manifest['documents']} documents, {manifest['chunks']} "
                f"chunks from {len(manifest['sources'])} source(s).{last}{busy}")

    def is_refreshing(self) -> bool:
        return self.runtime.kb.is_refreshing()
