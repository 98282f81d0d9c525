"""LoRA training on the real SmolLM2: loss falls, the adapter saves, loads, converts to GGUF,
changes llama.cpp's output, matches transformers+PEFT, and a promotion reaches a running engine.

One short training run (session-scoped) serves every test here: a tiny dataset whose answers
all use an unmistakable phrase, so the adapter's effect is decisive under greedy decoding.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from knowledge.llm import ChatModel, ModelProvider, ModelSpec, load_chat_model
from knowledge.prompts import ContextChunk, build_messages
from training.export import peft_to_gguf
from training.train import BaseModel, TrainConfig, TrainResult, train_lora

PHRASE = "Orbitask support here! Refunds take 30 days."
QUESTIONS = ["How long do refunds take?", "When will I get my money back?",
             "What is the refund window?", "Can I get a refund?"]


def records() -> list[dict[str, Any]]:
    chunk = ContextChunk("billing/refunds.md", "Refund Policy", "Refunds take 30 days.")
    return [{"messages": build_messages(q, [chunk]) + [{"role": "assistant", "content": PHRASE}]}
            for q in QUESTIONS * 2]


@dataclass
class Trained:
    result: TrainResult
    gguf: Path
    steps: list[tuple[int, int]]


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    out = tmp_path_factory.mktemp("adapter")
    config = TrainConfig(max_steps=8, batch_size=4, learning_rate=2e-3, rank=8, alpha=16,
                         dropout=0.0, max_length=256)
    steps: list[tuple[int, int]] = []
    result = train_lora(records(), config, BaseModel.embedded(), out, show_progress=False,
                        on_step=lambda done, total: steps.append((done, total)))
    gguf = out / "adapter.gguf"
    peft_to_gguf(out, gguf, result.model_config)
    return Trained(result, gguf, steps)


def _prompt_messages() -> list[dict[str, str]]:
    return build_messages("How long do refunds take?", [ContextChunk(
        "billing/refunds.md", "Refund Policy", "Refunds take 30 days.")])


@pytest.fixture(scope="session")
def llama_pair(trained: Trained, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[tuple[ChatModel, ChatModel]]:
    spec = ModelSpec(max_new_tokens=16, quant="", repeat_penalty=1.0)
    yield load_chat_model(spec), load_chat_model(ModelSpec(
        max_new_tokens=16, quant="", repeat_penalty=1.0, adapter=str(trained.gguf)))


def test_loss_falls_and_adapter_is_saved(trained: Trained) -> None:
    metrics = trained.result.metrics
    assert metrics["steps"] == 8
    assert trained.steps == [(n, 8) for n in range(1, 9)]  # the console's live progress
    assert metrics["last_loss"] < metrics["first_loss"] * 0.5
    folder = trained.result.adapter_dir
    assert (folder / "adapter_model.safetensors").exists()
    assert json.loads((folder / "train_config.json").read_text())["rank"] == 8
    assert json.loads((folder / "adapter_config.json").read_text())["r"] == 8


def test_gguf_adapter_changes_llama_cpp_output(llama_pair: tuple[ChatModel, ChatModel]) -> None:
    base, tuned = llama_pair
    messages = _prompt_messages()
    assert tuned.chat(messages).startswith("Orbitask support here")
    assert not base.chat(messages).startswith("Orbitask support here")


def test_llama_cpp_and_peft_agree_on_greedy_tokens(
    trained: Trained, llama_pair: tuple[ChatModel, ChatModel]
) -> None:
    import torch
    from peft import PeftModel

    from training.train import load_base

    model, tokenizer = load_base(BaseModel.embedded())
    peft = PeftModel.from_pretrained(model, str(trained.result.adapter_dir)).eval()
    _, tuned = llama_pair
    for question in QUESTIONS[:2]:
        messages = build_messages(question, [ContextChunk(
            "billing/refunds.md", "Refund Policy", "Refunds take 30 days.")])
        prompt = tokenizer.apply_chat_template(messages, tokenize=False,
                                               add_generation_prompt=True)
        ids = tokenizer(prompt, return_tensors="pt")
        with torch.no_grad():
            out = peft.generate(**ids, max_new_tokens=16, do_sample=False)
        hf_text = tokenizer.decode(out[0][ids["input_ids"].shape[1]:], skip_special_tokens=True)
        llama_text = tuned.chat(messages)
        assert hf_text.split()[:5] == llama_text.split()[:5], (hf_text, llama_text)


def test_merged_adapter_answers_like_the_adapter_applied_per_token(
    trained: Trained, tmp_path: Path
) -> None:
    from knowledge.llm import prepare_adapter

    spec = ModelSpec(max_new_tokens=16, repeat_penalty=1.0, quant="q8_0",
                     cache_dir=str(tmp_path), adapter=str(trained.gguf))
    per_token = load_chat_model(dataclasses.replace(spec, merge_adapter=False))
    assert not list(tmp_path.glob("*+lora-*"))  # LLM_MERGE_ADAPTER=false builds nothing
    prepare_adapter(spec, trained.gguf)  # what `adapters promote` does before the swap
    (built,) = tmp_path.glob("*+lora-*.q8_0.gguf")
    merged = load_chat_model(spec)
    assert merged.llm._model.model_path == str(built)  # served from the cached merged file
    assert merged.adapter == per_token.adapter == "adapter.gguf"
    for question in QUESTIONS[:2]:
        messages = build_messages(question, [ContextChunk(
            "billing/refunds.md", "Refund Policy", "Refunds take 30 days.")])
        text = merged.chat(messages)
        assert text.startswith("Orbitask support here")
        assert text.split()[:5] == per_token.chat(messages).split()[:5]
    stamp = built.stat().st_mtime_ns
    load_chat_model(spec)
    assert built.stat().st_mtime_ns == stamp  # built once, then reused
    assert not list(tmp_path.glob("*f32*"))  # no half-built file left behind


def test_merging_a_file_that_is_no_lora_is_a_clear_error(tmp_path: Path) -> None:
    from knowledge.errors import ModelError
    from knowledge.llm import embedded_gguf
    from knowledge.merge import merged_model

    with pytest.raises(ModelError, match="not a GGUF LoRA"):
        merged_model(embedded_gguf(), embedded_gguf(), "q8_0", tmp_path)
    text = tmp_path / "adapter.gguf"
    text.write_text("not a model")
    with pytest.raises(ModelError, match="LLM_MERGE_ADAPTER=false"):
        merged_model(embedded_gguf(), text, "q8_0", tmp_path)
    assert not list(tmp_path.glob("*.gguf*")) or list(tmp_path.glob("*.gguf")) == [text]


def test_cli_promote_builds_the_merged_model_before_the_swap(
    trained: Trained, home: Path
) -> None:
    import shutil

    from tests.integration.test_cli import one_json_object, run_main

    shutil.copytree(trained.gguf.parent, home / "adapters" / "v-test")
    code, out, _ = run_main("adapters", "promote", "v-test", "--json")
    assert code == 0 and one_json_object(out) == {"active": "v-test"}
    assert len(list((home / "models").glob("*+lora-*.q8_0.gguf"))) == 1
    from bot.storage import Store

    store = Store(f"sqlite:///{home / 'supportbot.db'}")  # the database says what is served
    assert store.active_training_run() == "v-test"
    store.close()


def test_promotion_is_picked_up_by_a_running_provider(trained: Trained, tmp_path: Path) -> None:
    active: list[tuple[str, Path] | None] = [None]
    provider = ModelProvider(ModelSpec(max_new_tokens=16, quant="", repeat_penalty=1.0),
                             lambda: active[0])
    before = provider.get()
    assert before.adapter is None
    assert not before.chat(_prompt_messages()).startswith("Orbitask support here")
    active[0] = ("v-test", trained.gguf.parent)  # what AdapterRegistry.promote makes visible
    after = provider.get()
    assert after is not before and after.adapter == "v-test"
    assert after.chat(_prompt_messages()).startswith("Orbitask support here")
    assert provider.get() is after  # no reload while nothing changes


def test_eval_two_by_two_writes_report_and_chart(trained: Trained, make_runtime: Any,
                                                 tmp_path: Path) -> None:
    from tests.helpers import copy_corpus
    from training.evaluate import QAItem
    from training.report import CONFIGS, run_configs, write_report

    runtime = make_runtime(llm_max_new_tokens=20, llm_quant="", llm_threads=1)
    runtime.refresh([copy_corpus(tmp_path / "docs")], kind="ingest")
    answerers = runtime.eval_answerers(str(trained.result.adapter_dir))
    items = [QAItem("How long do refunds take?", PHRASE, "refunds.md"),
             QAItem("What is a good banana bread recipe?", "I don't know.", None, False)]
    run = run_configs(items, answerers)
    results = run.scores
    assert list(results) == list(CONFIGS)
    assert results["tuned"].rougeL_f1 > results["base"].rougeL_f1  # the adapter's phrase
    assert results["base+rag"].idk_recall == 1.0  # off-topic: the relevance gate declines
    md, png = write_report(run, runtime.settings.supportbot_home / "reports",
                           {"qa_file": "inline", "questions": len(items)})
    assert "| rougeL_f1 |" in md.read_text() and "tuned+rag" in md.read_text()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [json.loads(line) for line in md.with_suffix(".answers.jsonl").read_text().splitlines()]
    assert [r["question"] for r in rows] == [i.question for i in items]
    assert rows[1]["configs"]["base+rag"]["says_idk"] is True
