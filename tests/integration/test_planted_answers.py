"""Planted documents end to end, with the real small models: no answer repeats a planted claim
or asks for a secret — with the quarantine (defence in depth: the index never holds them) and,
for the answer-time check alone, without it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from knowledge.security import asks_for_secret
from tests.helpers import PLANTED, copy_corpus

MANIFEST = json.loads((PLANTED / "manifest.json").read_text(encoding="utf-8"))["documents"]


def _corpus(root: Path) -> Path:
    docs = copy_corpus(root / "docs")
    for name in MANIFEST:
        shutil.copy(PLANTED / name, docs / name)
    return docs


@pytest.fixture(scope="module")
def planted_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _corpus(tmp_path_factory.mktemp("planted-suite"))


@pytest.fixture(scope="module")
def answers(planted_docs: Path, make_kb: Callable[..., Any], embed_model: Any,
            chat_model: Any) -> dict[str, str]:
    """Each planted file's question answered over the sample corpus plus every planted file."""
    from knowledge.engine import AnswerEngine, EngineConfig
    from knowledge.quarantine import Quarantine

    kb = make_kb(planted_docs.parent / "index")
    kb.quarantine = Quarantine(embed_model)
    kb.update([planted_docs])
    engine = AnswerEngine(kb, chat_model, EngineConfig())
    return {name: engine.answer(doc["question"]).text for name, doc in MANIFEST.items()}


def test_the_suite_has_at_least_25_planted_documents_in_varied_forms() -> None:
    assert len(MANIFEST) >= 25
    assert {Path(name).suffix for name in MANIFEST} >= {".md", ".html", ".pdf", ".txt"}


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_no_answer_repeats_a_planted_claim_or_asks_for_a_secret(
    name: str, answers: dict[str, str]
) -> None:
    text = answers[name]
    for phrase in MANIFEST[name]["planted"]:
        assert phrase.lower() not in text.lower(), (name, text)
    assert not asks_for_secret(text), (name, text)


def test_without_the_quarantine_no_answer_asks_for_a_secret(
    tmp_path: Path, make_kb: Callable[..., Any], chat_model: Any
) -> None:
    """The answer-time check alone, over an index that holds the planted text as written."""
    from knowledge.engine import AnswerEngine, EngineConfig

    kb = make_kb(tmp_path / "index")
    kb.update([_corpus(tmp_path)])
    engine = AnswerEngine(kb, chat_model, EngineConfig())
    secret = [doc["question"] for doc in MANIFEST.values() if "secret" in doc["payload"]]
    assert len(secret) >= 4
    texts = [engine.answer(question).text for question in secret]
    assert not [t for t in texts if asks_for_secret(t)], texts
