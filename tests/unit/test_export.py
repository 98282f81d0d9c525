"""Exporting a PEFT LoRA to llama.cpp's GGUF adapter format (``training.export``)."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from knowledge.errors import ModelError
from training.export import peft_to_gguf

HEADS, HIDDEN, RANK = 2, 8, 2


def _adapter(folder: Path, prefix: str) -> torch.Tensor:
    """A one-layer adapter on the query projection; returns its ``lora_B``."""
    lora_b = torch.arange(HIDDEN * RANK, dtype=torch.float32).reshape(HIDDEN, RANK)
    key = f"base_model.model.{prefix}.layers.0.self_attn.q_proj"
    save_file({f"{key}.lora_A.weight": torch.ones(RANK, HIDDEN),
               f"{key}.lora_B.weight": lora_b}, str(folder / "adapter_model.safetensors"))
    (folder / "adapter_config.json").write_text(json.dumps({"lora_alpha": 4}))
    return lora_b


def _lora_b(path: Path) -> np.ndarray:
    tensor = next(t for t in gguf.GGUFReader(str(path)).tensors if t.name.endswith(".lora_b"))
    return np.asarray(tensor.data, dtype=np.float32).reshape(HIDDEN, RANK)


@pytest.mark.parametrize(("model_type", "prefix", "permuted"), [
    ("llama", "model", True),  # llama.cpp stores llama's Q rows permuted for its RoPE
    ("gemma3_text", "model", False),  # Gemma 3's are stored as they are
])
def test_query_rows_are_permuted_only_where_llama_cpp_permutes_them(
        tmp_path: Path, model_type: str, prefix: str, permuted: bool) -> None:
    lora_b = _adapter(tmp_path, prefix)
    config = {"model_type": model_type, "num_hidden_layers": 1, "num_attention_heads": HEADS}
    assert peft_to_gguf(tmp_path, tmp_path / "adapter.gguf", config) == 1
    written = _lora_b(tmp_path / "adapter.gguf")
    assert np.array_equal(written, lora_b.numpy()) != permuted
    assert sorted(written.ravel().tolist()) == sorted(lora_b.numpy().ravel().tolist())


def test_an_architecture_llama_cpp_cannot_take_is_a_clear_error(tmp_path: Path) -> None:
    _adapter(tmp_path, "model")
    with pytest.raises(ModelError, match="LLM_BACKEND=transformers"):
        peft_to_gguf(tmp_path, tmp_path / "adapter.gguf",
                     {"model_type": "bert", "num_hidden_layers": 1, "num_attention_heads": 2})
