"""Adapters served by an OpenAI-compatible server (``LLM_BACKEND=openai``), by name.

The server serves the base model under ``LLM_MODEL`` and each adapter under its registry
version; a worker requests ``model=<the promoted version>`` (``knowledge.llm``), so a
promotion switches every worker by name. ``ensure_served`` runs when an adapter is promoted
or rolled back to: it registers the adapter with vLLM when ``OPENAI_LORA_LOAD=vllm``
(``POST /v1/load_lora_adapter``; vLLM started with ``--enable-lora`` and
``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``), then checks that the server lists the name — the
llama.cpp server quietly answers an unknown name with its first model, so a missing alias
fails the promotion rather than serving the base model under the adapter's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from knowledge.errors import ConfigError, ModelError

LORA_LOADS = ("none", "vllm")
TIMEOUT = 30.0


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key or 'not-needed'}"}


def served_models(api_base: str, api_key: str = "") -> list[str]:
    """The model names the server lists (``GET /models``)."""
    import httpx

    url = f"{api_base.rstrip('/')}/models"
    try:
        response = httpx.get(url, headers=_headers(api_key), timeout=TIMEOUT)
        response.raise_for_status()
        return [str(item["id"]) for item in response.json()["data"]]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"Cannot list the models at {url}: {type(exc).__name__}: {exc} — is "
                         "the server running? Check OPENAI_API_BASE.") from None


def load_vllm_adapter(api_base: str, api_key: str, name: str, folder: Path) -> None:
    """Register the PEFT adapter in ``folder`` with a vLLM server under ``name``. ``folder``
    must be the same path inside the vLLM server (mount the adapters volume there too)."""
    import httpx

    url = f"{api_base.rstrip('/')}/load_lora_adapter"
    try:
        response = httpx.post(url, headers=_headers(api_key), timeout=TIMEOUT,
                              json={"lora_name": name, "lora_path": str(folder)})
    except httpx.HTTPError as exc:
        raise ModelError(f"Cannot reach {url}: {type(exc).__name__}: {exc} — is vLLM running? "
                         "Check OPENAI_API_BASE.") from None
    if response.status_code != 200 and "already been loaded" not in response.text:
        raise ModelError(
            f"vLLM refused adapter {name!r} ({response.status_code}: {response.text[:200]}) — "
            "start vLLM with --enable-lora and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, with the "
            f"adapters folder mounted at {folder.parent}.")


def ensure_served(api_base: str, api_key: str, lora_load: str, name: str,
                  folder: Path) -> None:
    """Make sure the server answers to ``name`` before workers start requesting it."""
    if lora_load not in LORA_LOADS:
        raise ConfigError(f"OPENAI_LORA_LOAD={lora_load!r} is unknown — use none or vllm.")
    if name in served_models(api_base, api_key):
        return
    if lora_load == "vllm":
        load_vllm_adapter(api_base, api_key, name, folder)
        if name in served_models(api_base, api_key):
            return
    raise ConfigError(
        f"The server at {api_base} does not serve {name!r}, so workers asking for it would "
        "not get the adapter — serve it under that name first (llama.cpp server: `supportbot "
        "adapters server-config`; vLLM: --lora-modules or OPENAI_LORA_LOAD=vllm).")


def llama_server_config(gguf: Path, alias: str, adapters: Mapping[str, Path], *,
                        host: str = "127.0.0.1", port: int = 8000, n_ctx: int = 2048,
                        threads: int = 0) -> dict[str, Any]:
    """A ``python -m llama_cpp.server --config_file`` config: ``gguf`` under ``alias`` and,
    for every adapter, the same GGUF with that GGUF LoRA under the adapter's name. The server
    keeps one model loaded and reloads it when a request names another (about a second for
    SmolLM2), so serve one base per server. ``interrupt_requests`` is off: on, the server
    ends a streamed reply early whenever another request waits (another worker's)."""
    def model(name: str, lora: Path | None) -> dict[str, Any]:
        entry: dict[str, Any] = {"model": str(gguf), "model_alias": name, "n_ctx": n_ctx,
                                 "verbose": False}
        if threads:
            entry |= {"n_threads": threads, "n_threads_batch": threads}
        if lora is not None:
            entry["lora_path"] = str(lora)
        return entry

    models = [model(alias, None)] + [model(name, path) for name, path in adapters.items()]
    return {"host": host, "port": port, "interrupt_requests": False, "models": models}
