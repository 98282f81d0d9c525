"""Which base model ``supportbot train`` trains on: the one served (``bot.runtime``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runtime import train_base
from bot.settings import load_settings
from knowledge.errors import ConfigError
from training.train import BaseModel


def test_a_served_gguf_file_is_the_base_adapters_are_trained_on(tmp_path: Path) -> None:
    # before, LLM_MODEL=gemma.gguf served Gemma and trained the adapter on SmolLM2
    gguf = tmp_path / "gemma-3-270m.gguf"
    settings = load_settings(supportbot_home=tmp_path, _env_file=None, llm_backend="llama_cpp",
                             llm_model=str(gguf))
    with pytest.raises(ConfigError, match="Model file not found: .*fix LLM_MODEL"):
        train_base(settings)  # before any model loads
    gguf.write_bytes(b"GGUF")
    assert train_base(settings) == BaseModel(str(tmp_path), "gemma-3-270m.gguf")


def test_a_transformers_model_and_the_default_are_trained_as_served(tmp_path: Path) -> None:
    hf = load_settings(supportbot_home=tmp_path, _env_file=None, llm_backend="transformers",
                       llm_model="org/model", llm_gguf_file="m.gguf")
    assert train_base(hf) == BaseModel("org/model", "m.gguf")
    default = load_settings(supportbot_home=tmp_path, _env_file=None)
    assert train_base(default) == BaseModel.embedded()
