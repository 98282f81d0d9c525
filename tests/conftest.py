"""Shared fixtures. Models are real (MiniLM embeddings, SmolLM2-135M) and loaded once.

Every test runs in its own temporary working directory with supportbot's settings cleared
from the environment, so nothing reads the developer's ``.env`` or writes the repository's
``.supportbot``.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from tests.fakes import FakeChatModel  # noqa: E402
from tests.helpers import SETTINGS_ENV, copy_corpus  # noqa: E402
from tests.pg import both_db_url, pg_server, pg_url  # noqa: E402, F401 (PostgreSQL fixtures)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    # The shipped adapter is tested on its own (test_shipped_adapter.py); elsewhere a fresh
    # home serves the base model, which the tests' expectations are written for.
    monkeypatch.setenv("SHIPPED_ADAPTER", "false")
    monkeypatch.chdir(tmp_path)  # no .env, and a relative .supportbot lands in tmp


# models: loaded once per session -----------------------------------------------------------
@pytest.fixture(scope="session")
def embed_model() -> Any:
    from knowledge.embed import make_embed_model

    return make_embed_model()


@pytest.fixture(scope="session")
def chat_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real SmolLM2-135M. One thread: deterministic and steady on a busy 2-core machine."""
    from knowledge.llm import ModelSpec, load_chat_model

    cache = tmp_path_factory.mktemp("models")
    return load_chat_model(ModelSpec(max_new_tokens=64, threads=1, cache_dir=str(cache)))


@pytest.fixture
def fake_model() -> FakeChatModel:
    return FakeChatModel()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The store's database: SQLite in the test's folder. A module that overrides it with
    ``both_db_url`` (tests/pg.py) runs its store tests on PostgreSQL too."""
    return f"sqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Any]:
    """An empty conversation store (``db_url``, migrations applied)."""
    from bot.storage import Store

    opened = Store(db_url)
    yield opened
    opened.close()


# corpora and indexes -----------------------------------------------------------------------
@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A fresh, writable copy of the four-topic corpus."""
    return copy_corpus(tmp_path / "docs")


@pytest.fixture(scope="session")
def make_kb(embed_model: Any) -> Callable[..., Any]:
    from knowledge.embed import DEFAULT_NAME, token_counter
    from knowledge.index import IndexConfig, KnowledgeBase

    def make(root: Path, embed: Any = None) -> KnowledgeBase:
        return KnowledgeBase(root, embed or embed_model, IndexConfig(DEFAULT_NAME, 200, 20),
                             token_counter(embed_model))

    return make


@pytest.fixture(scope="session")
def shared_kb(tmp_path_factory: pytest.TempPathFactory, make_kb: Callable[..., Any]) -> Any:
    """A built index of the corpus, for tests that only read it."""
    root = tmp_path_factory.mktemp("shared")
    kb = make_kb(root / "index")
    kb.update([copy_corpus(root / "docs")])
    return kb


@pytest.fixture
def engine_for(shared_kb: Any) -> Callable[..., Any]:
    from knowledge.engine import AnswerEngine, EngineConfig

    def make(model: Any, kb: Any = None, **config: Any) -> AnswerEngine:
        return AnswerEngine(kb or shared_kb, model, EngineConfig(**config))

    return make


# supportbot home, runtime and command line -------------------------------------------------
@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("SUPPORTBOT_HOME", str(path))
    return path


@pytest.fixture
def make_runtime(home: Path, embed_model: Any) -> Iterator[Callable[..., Any]]:
    """``Runtime`` on ``home`` with the session's embedding model (or ``embed``) injected."""
    from bot.runtime import Runtime
    from bot.settings import load_settings
    from knowledge.embed import DEFAULT_NAME, token_counter
    from knowledge.index import IndexConfig, KnowledgeBase

    made: list[Runtime] = []

    def make(embed: Any = None, **overrides: Any) -> Runtime:
        runtime = Runtime(load_settings(**overrides))
        runtime.__dict__["embed_model"] = embed or embed_model
        if embed is not None:  # a wrapper: chunk with the real model's tokenizer
            s = runtime.settings
            runtime.__dict__["kb"] = KnowledgeBase(
                s.index_dir, embed, IndexConfig(DEFAULT_NAME, s.chunk_size, s.chunk_overlap),
                token_counter(embed_model))
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


@pytest.fixture
def cli_models(home: Path, embed_model: Any, chat_model: Any) -> Callable[[Any], Any]:
    """``main(build=cli_models)``: in-process CLI runs reuse the session's models."""
    from bot.runtime import Runtime

    return lambda settings: Runtime(settings, embed_model=embed_model,
                                    chat_loader=lambda spec: chat_model)
