"""A GGUF LoRA merged into its base GGUF, so llama.cpp serves one plain model.

llama.cpp applies a ``lora_path`` adapter at run time: two extra small matrix products per
adapted weight and token. With LoRA on every linear layer of SmolLM2-135M that cost a quarter
of the decode speed here (85.6 → 64.2 tok/s) and 13% of the prefill (BENCHMARKS.md). Merged
weights (W + alpha/r · B·A) cost nothing extra. llama.cpp merges only in its
``llama-export-lora`` program, which no Python package ships, so this does the same with the
``gguf`` package: dequantize the base, add each delta, write F32, then quantize with
llama.cpp's own ``llama_model_quantize`` (``knowledge.llm.requantized``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from knowledge.errors import ModelError

_SKIP_FIELDS = ("GGUF.", "general.architecture", "general.file_type")


def _lora_pairs(lora: Any) -> tuple[dict[str, tuple[Any, Any]], float]:
    """``{base tensor name: (lora_a, lora_b)}`` and alpha of a GGUF LoRA file."""
    import numpy as np

    parts: dict[str, dict[str, Any]] = {}
    for tensor in lora.tensors:
        name, _, kind = tensor.name.rpartition(".")
        parts.setdefault(name, {})[kind] = np.asarray(tensor.data, dtype=np.float32)
    alpha_field = lora.get_field("adapter.lora.alpha")
    if alpha_field is None or any(set(p) != {"lora_a", "lora_b"} for p in parts.values()):
        raise ModelError("The adapter file is not a GGUF LoRA (lora_a/lora_b pairs and "
                         "adapter.lora.alpha) — export it again with supportbot train.")
    pairs = {name: (p["lora_a"], p["lora_b"]) for name, p in parts.items()}
    return pairs, float(alpha_field.contents())


def _copy_metadata(reader: Any, writer: Any) -> None:
    """Every key of the base model but the ones the writer sets itself (as gguf's own
    ``gguf_new_metadata`` script copies them)."""
    import gguf

    for field in reader.fields.values():
        if field.name.startswith(_SKIP_FIELDS):
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)


def merge_to_f32(base: Path, lora: Path, out: Path) -> int:
    """Write ``out``: ``base`` with ``lora`` merged in, every tensor F32. Returns the number
    of weights changed."""
    import gguf
    import numpy as np

    reader, adapter = gguf.GGUFReader(str(base)), gguf.GGUFReader(str(lora))
    pairs, alpha = _lora_pairs(adapter)
    arch = reader.get_field("general.architecture")
    writer = gguf.GGUFWriter(str(out), arch=str(arch.contents()) if arch else "llama")
    _copy_metadata(reader, writer)
    merged = 0
    for tensor in reader.tensors:
        weight = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        if tensor.name in pairs:
            lora_a, lora_b = pairs.pop(tensor.name)
            delta = (alpha / lora_a.shape[0]) * (lora_b @ lora_a)
            if delta.shape != weight.shape:
                raise ModelError(f"The adapter does not fit this model ({tensor.name}: "
                                 f"{delta.shape} vs {weight.shape}) — train it on this model.")
            weight = weight + delta
            merged += 1
        writer.add_tensor(tensor.name, weight)
    if pairs:
        raise ModelError(f"The adapter changes {len(pairs)} tensors this model does not have "
                         f"(e.g. {next(iter(pairs))}) — train it on this model.")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return merged


def merged_model(base: Path, lora: Path, quant: str, cache_dir: Path) -> Path:
    """``base`` + ``lora`` merged and quantized to ``quant``, built once and cached by the
    adapter's content; the path to serve."""
    from knowledge.llm import requantized

    digest = hashlib.sha256(lora.read_bytes()).hexdigest()[:12]
    target = cache_dir / f"{base.stem}+lora-{digest}.{quant}.gguf"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    f32 = cache_dir / f"{base.stem}+lora-{digest}.{os.getpid()}.f32.gguf"
    try:
        merge_to_f32(base, lora, f32)
        built = requantized(f32, quant, cache_dir)
        os.replace(built, target)
    except (OSError, ValueError) as exc:  # not GGUF files, or a full disk
        raise ModelError(f"Cannot merge {lora.name} into {base.name}: {exc} — check the "
                         "adapter file, or set LLM_MERGE_ADAPTER=false.") from None
    finally:
        f32.unlink(missing_ok=True)
    return target
