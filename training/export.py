"""PEFT LoRA → GGUF LoRA that llama.cpp (``lora_path``) applies to the base GGUF.

No maintained library converts a PEFT adapter for llama.cpp from Python (llama.cpp ships a
script, not a package), so this writes the file with the ``gguf`` package, following
llama.cpp's ``convert_lora_to_gguf.py``: ``general.type=adapter``, ``adapter.type=lora``,
``adapter.lora.alpha``, and ``<gguf tensor>.lora_a`` / ``.lora_b`` pairs. llama.cpp stores the
Q and K projections with their rows permuted for its RoPE layout, so their ``lora_b`` gets the
same permutation (``lora_a`` acts on inputs and is unchanged). Gemma 3 is stored unpermuted (its
RoPE is llama.cpp's NEOX layout; convert_hf_to_gguf's Gemma classes do not permute).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gguf
import torch
from safetensors.torch import load_file

from knowledge.errors import ModelError

ARCHES = {"llama": gguf.MODEL_ARCH.LLAMA, "gemma3": gguf.MODEL_ARCH.GEMMA3,
          "gemma3_text": gguf.MODEL_ARCH.GEMMA3}
PERMUTED = {"llama"}  # the model types whose Q/K rows llama.cpp permutes


def _permute(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """llama.cpp's Q/K row permutation (convert_hf_to_gguf.LlamaModel.permute)."""
    return (weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:])
            .swapaxes(1, 2).reshape(weight.shape))


def _pairs(state: dict[str, torch.Tensor]) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    pairs = []
    for key, lora_a in sorted(state.items()):
        if ".lora_A." not in key:
            continue
        lora_b = state[key.replace(".lora_A.", ".lora_B.")]
        base = key.split("base_model.model.", 1)[-1].replace(".lora_A.weight", ".weight")
        pairs.append((base, lora_a, lora_b))
    return pairs


def peft_to_gguf(adapter_dir: Path, out_path: Path, model_config: dict[str, Any]) -> int:
    """Write ``out_path``; returns the number of adapted tensors. ``model_config`` is the
    base model's HF config (``model_type``, ``num_hidden_layers``, attention head counts)."""
    arch = ARCHES.get(str(model_config.get("model_type")))
    if arch is None:
        raise ModelError(f"GGUF export supports {', '.join(ARCHES)} models, not "
                         f"{model_config.get('model_type')!r}; serve this adapter with "
                         "LLM_BACKEND=transformers instead.")
    peft_config = json.loads((adapter_dir / "adapter_config.json").read_text())
    state = load_file(str(adapter_dir / "adapter_model.safetensors"))
    names = gguf.get_tensor_name_map(arch, int(model_config["num_hidden_layers"]))
    heads = int(model_config["num_attention_heads"])
    kv_heads = int(model_config.get("num_key_value_heads") or heads)
    writer = gguf.GGUFWriter(str(out_path), arch=gguf.MODEL_ARCH_NAMES[arch])
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(peft_config["lora_alpha"]))
    pairs = _pairs(state)
    for base, lora_a, lora_b in pairs:
        name = names.get_name(base, try_suffixes=(".weight",))
        if name is None:
            raise ModelError(f"No llama.cpp tensor for {base} — cannot export this adapter.")
        permuted = model_config.get("model_type") in PERMUTED
        if permuted and ".q_proj." in base:
            lora_b = _permute(lora_b, heads)
        elif permuted and ".k_proj." in base:
            lora_b = _permute(lora_b, kv_heads)
        # f16 halves the file (the shipped adapter lives in the repository) and llama.cpp
        # applies or merges it alike; LoRA factors are small numbers, well inside f16's range
        writer.add_tensor(f"{name}.lora_a", lora_a.half().contiguous().numpy())
        writer.add_tensor(f"{name}.lora_b", lora_b.half().contiguous().numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return len(pairs)
