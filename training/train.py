"""LoRA fine-tuning: PEFT adapters on the base model, supervised with TRL's ``SFTTrainer``.

The base is loaded with transformers (the embedded SmolLM2 GGUF via ``gguf_file=``, or any HF
causal LM). Records are chat messages built with the serving prompt function; the loss is on
the assistant's answer only (TRL's prompt/completion format).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from knowledge.errors import ConfigError, ModelError

# Share of training records that end in a decline (RAFT's distractor-only examples plus the
# data's own; training.dataset.balance_declines). RAFT used 0.2. 0 by default: serving decides
# to decline in code — the relevance gate, a question naming what no chunk names, and the
# grounding guard (knowledge/guard.py), which declines when no sentence of the answer is
# grounded — and a 135M model learns how often to decline, not when. At 0.05 (with
# NO_DOCS_SHARE 0.1) the e-manual adapter declined 16 of the 50 answerable test questions, and
# on the held-out train questions 20 of 40 against the base model's 9 (BENCHMARKS.md).
DECLINE_SHARE = 0.0
# The share of factual training questions repeated with no documents and the decline as the
# target (``training.dataset._no_documents``): what the model says when nothing was retrieved,
# which serving never asks it (the relevance gate declines first). 0 by default for the same
# reason; above it the model declined with documents too (tuned+rag declined 10, 15 and 25 of
# 90 answerable sample questions at 0.15, 0.2 and 0.3; BENCHMARKS.md).
NO_DOCS_SHARE = 0.0


@dataclass
class TrainConfig:
    """How to train; saved as ``train_config.json`` beside the adapter."""

    rank: int = field(default=16, metadata={"help": "LoRA rank r."})
    alpha: int = field(default=32, metadata={"help": "LoRA alpha (scale = alpha / r)."})
    # No dropout by default: on CPU it costs a quarter of the step time (measured, BENCHMARKS.md)
    # and one epoch over a few hundred examples does not overfit.
    dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    target_modules: str = field(default="all-linear", metadata={
        "help": "Modules to adapt: all-linear, or comma-separated names (q_proj,v_proj)."})
    # All layers by default. The top half alone trains 1.2x faster end to end (backpropagation
    # stops halfway), but that e-manual adapter scored ROUGE-L 0.203 on unseen manual sections
    # against 0.303 for all layers (BENCHMARKS.md): it carries over worse.
    top_layers: float = field(default=1.0, metadata={
        "help": "Share of transformer layers, counted from the top, that get LoRA (1 = all)."})
    learning_rate: float = field(default=3e-4, metadata={"help": "AdamW learning rate."})
    epochs: float = field(default=1.0, metadata={"help": "Passes over the data."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after N steps (-1: epochs)."})
    # One example per pass: batches of two waste ~25% of a CPU step on padding (measured).
    batch_size: int = field(default=1, metadata={"help": "Examples per forward pass."})
    grad_accum: int = field(default=4, metadata={"help": "Passes per optimizer update."})
    max_length: int = field(default=768, metadata={"help": "Tokens per example (truncated)."})
    prompt_grad: bool = field(default=True, metadata={
        "help": "Backpropagate through the prompt positions too (False: the prompt runs "
                "forward only, into a KV cache; one record per pass)."})
    seed: int = field(default=0, metadata={"help": "Random seed (data order, init)."})
    threads: int = field(default=0, metadata={"help": "CPU threads; 0 = all cores."})
    precision: str = field(default="auto", metadata={
        "help": "auto (bf16 autocast where the CPU has native bf16), bf16 or fp32."})
    compile: str = field(default="auto", metadata={
        "help": "torch.compile the transformer blocks: auto (CPU runs of >= 200 passes), on, off."})
    attention: str = field(default="auto", metadata={
        "help": "Attention kernel: auto (eager for bf16 on CPU, else sdpa), eager or sdpa."})

    def __post_init__(self) -> None:
        checks = {
            "rank": self.rank >= 1, "alpha": self.alpha >= 1, "dropout": 0 <= self.dropout < 1,
            "top_layers": 0 < self.top_layers <= 1,
            "learning_rate": 0 < self.learning_rate < 1, "epochs": self.epochs > 0,
            "max_steps": self.max_steps == -1 or self.max_steps >= 1,
            "batch_size": self.batch_size >= 1, "grad_accum": self.grad_accum >= 1,
            "max_length": self.max_length >= 32, "threads": self.threads >= 0,
            "precision": self.precision in {"auto", "bf16", "fp32"},
            "compile": self.compile in {"auto", "on", "off"},
            "attention": self.attention in {"auto", "eager", "sdpa"},
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"TrainConfig.{name}={getattr(self, name)!r} is out of range "
                                  f"({self.__dataclass_fields__[name].metadata['help']})")
        if not self.prompt_grad and self.batch_size != 1:
            # the forward-only prompt needs one unpadded record per pass; with padded batches
            # training would quietly take the full-gradient path and be no faster
            raise ConfigError(f"TrainConfig.prompt_grad=False needs batch_size=1, not "
                              f"{self.batch_size} — set batch_size=1 or prompt_grad=True.")


@dataclass(frozen=True)
class BaseModel:
    """The base to adapt: a folder or HF id, and a GGUF file in it (or "")."""

    source: str
    gguf_file: str = ""

    @classmethod
    def embedded(cls) -> BaseModel:
        from knowledge.llm import embedded_gguf

        return cls(str(embedded_gguf().parent), embedded_gguf().name)


@dataclass(frozen=True)
class TrainResult:
    adapter_dir: Path
    metrics: dict[str, Any]
    seconds: float
    model_config: dict[str, Any]


def load_base(base: BaseModel) -> tuple[Any, Any]:
    """(model, tokenizer) in float32 on the CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    extra = {"gguf_file": base.gguf_file} if base.gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(base.source, **extra)
        model = AutoModelForCausalLM.from_pretrained(base.source, dtype=torch.float32, **extra)
    except Exception as exc:  # noqa: BLE001 - every loader failure means the same to the user
        raise ModelError(f"Cannot load the base model {base.source!r} for training: "
                         f"{type(exc).__name__} — check LLM_MODEL / LLM_GGUF_FILE.") from None
    if base.gguf_file:
        # transformers dequantizes GGUF weights to float32 on load but still tags the model as
        # "quantized with GGUF", which Trainer refuses; it is an ordinary float model now.
        setattr(model, "is_quantized", False)  # noqa: B010 - torch Module typing
        setattr(model, "hf_quantizer", None)  # noqa: B010
        model.config.__dict__.pop("quantization_config", None)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        # a pretrained GGUF without a template (Gemma 3 270M): the one serving renders with
        from knowledge.llm import FALLBACK_TEMPLATES

        tokenizer.chat_template = FALLBACK_TEMPLATES.get(str(model.config.model_type))
    return model, tokenizer


def _dataset(records: Sequence[dict[str, Any]]) -> Any:
    from datasets import Dataset

    rows = [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in records]
    return Dataset.from_list(rows)


def use_bf16(config: TrainConfig) -> bool:
    """bf16 autocast (fp32 master weights) where the CPU computes bf16 natively (AVX512-BF16
    or AMX): 1.6x on a bare LoRA forward+backward here, 1.1x on a whole trainer step
    (BENCHMARKS.md). Emulated bf16 elsewhere would be slower, so "auto" checks."""
    if config.precision != "auto":
        return config.precision == "bf16"
    import torch

    # torch has no public CPU-feature query; a torch without these private checks gets fp32.
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def attention_kernel(config: TrainConfig) -> str:
    """The attention implementation to train with.

    In bf16 on CPU, transformers' eager attention (two batched matmuls around an fp32 softmax)
    runs a forward+backward pass 1.3x faster than SDPA's CPU flash kernel (Zen 4, 480 tokens,
    compiled blocks: 1.24 s against 1.62 s; BENCHMARKS.md); in fp32 they are even, and SDPA
    keeps no T x T attention matrix, so it stays the choice there.
    """
    if config.attention != "auto":
        return config.attention
    return "eager" if use_bf16(config) else "sdpa"


_LAYER = re.compile(r"\.([A-Za-z_]+)\.(\d+)\.")  # "model.layers.12.mlp.up_proj" → layers, 12


def lora_targets(model: Any, config: TrainConfig) -> dict[str, Any]:
    """LoraConfig's target arguments: the ``target_modules`` (comma-separated names, or every
    linear layer) of the top ``top_layers`` share of the transformer blocks. PEFT's
    "all-linear" cannot be limited to some layers, so the names are listed."""
    import torch

    # PEFT reads a string as one regular expression, so "q_proj,v_proj" would match nothing
    listed = (config.target_modules if config.target_modules == "all-linear"
              else sorted({n.strip() for n in config.target_modules.split(",") if n.strip()}))
    if config.top_layers >= 1:
        return {"target_modules": listed}
    blocks = [(m, name) for name, module in model.named_modules()
              if isinstance(module, torch.nn.Linear) and (m := _LAYER.search(name))]
    if not blocks:
        return {"target_modules": listed}
    total = int(model.config.num_hidden_layers)
    keep = max(1, round(total * config.top_layers))
    names = ({name.rsplit(".", 1)[-1] for _, name in blocks} if listed == "all-linear"
             else set(listed))
    return {"target_modules": sorted(names), "layers_pattern": blocks[0][0].group(1),
            "layers_to_transform": list(range(total - keep, total))}


# Compiling the blocks takes ~45 s on 2 cores and then saves ~0.3 s of every ~2 s pass (fused
# element-wise ops); below this many passes it does not pay for itself.
COMPILE_MIN_PASSES = 200


def compile_blocks(model: Any, config: TrainConfig, passes: int) -> bool:
    """``torch.compile`` each transformer block in place (the state dict keeps its names).

    Dynamic shapes, so records of every length share one graph. Compiling happens at the first
    pass; run the training under ``eager_fallback`` so that a compile failure (no C++ compiler,
    an unsupported op) falls back to eager instead of failing the run.
    """

    wanted = config.compile == "on" or (config.compile == "auto" and model.device.type == "cpu"
                                        and passes >= COMPILE_MIN_PASSES)
    if not wanted:
        return False
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    blocks = getattr(base.get_decoder(), "layers", None)
    if blocks is None:
        return False
    for block in blocks:
        block.compile(dynamic=True)
    return True


def eager_fallback(compiled: bool) -> contextlib.AbstractContextManager[Any]:
    """Compile errors fall back to eager inside this context only (not for the whole process:
    ``serve`` runs ``/kb train`` in-process)."""
    import torch

    if not compiled:
        return contextlib.nullcontext()
    return torch._dynamo.config.patch(suppress_errors=True)


def _passes(records: int, config: TrainConfig) -> int:
    if config.max_steps > 0:
        return config.max_steps * config.grad_accum
    return int(records * config.epochs / config.batch_size)


def _sft_config(config: TrainConfig, output_dir: str, show_progress: bool = True) -> Any:
    from trl import SFTConfig

    return SFTConfig(
        output_dir=output_dir, per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum, learning_rate=config.learning_rate,
        num_train_epochs=config.epochs, max_steps=config.max_steps, seed=config.seed,
        data_seed=config.seed, max_length=config.max_length, completion_only_loss=True,
        gradient_checkpointing=False, use_cpu=True, bf16=use_bf16(config), logging_steps=1,
        save_strategy="no", report_to="none", lr_scheduler_type="cosine", warmup_steps=0.05,
        dataloader_num_workers=0, dataset_num_proc=1, disable_tqdm=not show_progress,
    )


def answer_only_loss(model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None,
                     detach_prompt: bool = False) -> tuple[Any, int]:
    """Next-token loss on the answer positions only: (loss, tokens in the batch).

    Only positions with a label go through the LM head. TRL's fused LM head does the same on
    GPUs, but on CPUs it projects every prompt position through SmolLM2's 49k-word head and
    computes entropy for each (a prompt here is ~400 of ~480 tokens). Hand-written because
    neither TRL nor transformers offers the answer-only projection on CPU.
    """
    import torch.nn.functional as F

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    labels = inputs["labels"]
    features = {k: v for k, v in inputs.items() if k != "labels"}
    hidden, targets = _answer_hidden(base.get_decoder(), features, labels, detach_prompt)
    mask = targets != -100
    logits = base.get_output_embeddings()(hidden[mask]).float()
    total = F.cross_entropy(logits, targets[mask], reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else mask.sum().clamp(min=1)
    tokens = int(inputs["attention_mask"].sum()) if "attention_mask" in inputs else labels.numel()
    return total / count, tokens


def _answer_hidden(decoder: Any, features: dict[str, Any], labels: Any,
                   detach_prompt: bool) -> tuple[Any, Any]:
    """Hidden states that predict each next token, and those tokens' labels.

    With ``detach_prompt`` (one unpadded record per pass) the prompt runs forward only, under
    ``no_grad``, into a KV cache, and only the answer positions run forward and backward.
    """
    import torch

    ids = features["input_ids"]
    mask = features.get("attention_mask")
    if detach_prompt and ids.shape[0] == 1 and (mask is None or bool(mask.all())):
        answer = (labels[0] != -100).nonzero()
        start = int(answer[0]) - 1 if len(answer) else 0
        if start > 0:
            with torch.no_grad():
                past = decoder(input_ids=ids[:, :start], use_cache=True).past_key_values
            tail = decoder(input_ids=ids[:, start:], past_key_values=past, use_cache=True)
            return tail.last_hidden_state[:, :-1], labels[:, start + 1:]
    hidden = decoder(**features, use_cache=False).last_hidden_state[:, :-1]
    return hidden, labels[:, 1:]


def _trainer_class() -> Any:
    """TRL's ``SFTTrainer`` with ``answer_only_loss`` (1.3x a step on CPU, BENCHMARKS.md)."""
    from trl import SFTTrainer

    class AnswerOnlySFTTrainer(SFTTrainer):
        tokens_seen = 0
        detach_prompt = False

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            if return_outputs or model.device.type != "cpu":
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            # The accelerator puts autocast around model.forward; answer_only_loss goes around
            # forward, so it needs the context itself (without it bf16 runs silently in fp32).
            with self.accelerator.autocast():
                loss, tokens = answer_only_loss(model, inputs, num_items_in_batch,
                                                self.detach_prompt)
            self.tokens_seen += tokens
            return loss

    return AnswerOnlySFTTrainer


def _step_callback(on_step: Callable[[int, int], None]) -> Any:
    """A transformers ``TrainerCallback`` reporting ``(global_step, max_steps)``."""
    from transformers import TrainerCallback

    class Steps(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            on_step(int(state.global_step), int(state.max_steps))

    return Steps()


def train_lora(records: Sequence[dict[str, Any]], config: TrainConfig, base: BaseModel,
               out_dir: Path, show_progress: bool = True,
               on_step: Callable[[int, int], None] | None = None) -> TrainResult:
    """Train a LoRA adapter on chat ``records`` and save it (PEFT format) in ``out_dir``;
    ``on_step(done, total)`` after each optimizer step (the console's live progress)."""
    import torch
    from peft import LoraConfig
    from transformers.utils import logging as hf_logging

    if not records:
        raise ConfigError("No training examples — add seed data, --data files or feedback.")
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads or os.cpu_count() or 2)
    model, tokenizer = load_base(base)
    model.set_attn_implementation(attention_kernel(config))
    if not show_progress:
        hf_logging.disable_progress_bar()
    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      task_type="CAUSAL_LM", **lora_targets(model, config))
    started = time.perf_counter()
    # Trainer prints its logs to stdout; keep stdout for the commands' own (JSON) output.
    with tempfile.TemporaryDirectory() as scratch, contextlib.redirect_stdout(sys.stderr):
        trainer: Any = _trainer_class()(
            model=model, args=_sft_config(config, scratch, show_progress),
            train_dataset=_dataset(records), processing_class=tokenizer, peft_config=lora)
        if on_step is not None:
            trainer.add_callback(_step_callback(on_step))
        tokens = sum(len(row["input_ids"]) for row in trainer.train_dataset)
        trainer.detach_prompt = not config.prompt_grad
        compiled = compile_blocks(trainer.model, config, _passes(len(records), config))
        with eager_fallback(compiled):
            output = trainer.train()
    seconds = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer.model.save_pretrained(str(out_dir))
    losses = [float(e["loss"]) for e in trainer.state.log_history if "loss" in e]
    processed = [float(e["num_tokens"]) for e in trainer.state.log_history if "num_tokens" in e]
    seen = trainer.tokens_seen or (int(processed[-1]) if processed else tokens)
    metrics = {"train_loss": round(float(output.training_loss), 4),
               "first_loss": round(losses[0], 4) if losses else None,
               "last_loss": round(losses[-1], 4) if losses else None,
               "steps": int(trainer.state.global_step), "examples": len(records),
               "tokens": seen, "tokens_per_s": round(seen / seconds, 1), "compiled": compiled,
               "attention": attention_kernel(config)}
    (out_dir / "train_config.json").write_text(json.dumps(asdict(config), indent=2))
    return TrainResult(out_dir, metrics, round(seconds, 2), model.config.to_dict())
