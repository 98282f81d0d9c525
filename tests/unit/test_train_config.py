"""Training configuration: value checks and which layers get LoRA (a tiny random Llama)."""

from __future__ import annotations

from typing import Any

import pytest

from knowledge.errors import ConfigError
from training.train import TrainConfig, lora_targets


def tiny_llama(layers: int = 4):  # type: ignore[no-untyped-def]
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
                         num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=1)
    return LlamaForCausalLM(config)


def test_lora_goes_on_every_linear_layer_of_the_top_half_only() -> None:
    from peft import LoraConfig, get_peft_model

    model = tiny_llama(4)
    targets = lora_targets(model, TrainConfig(top_layers=0.5))
    assert targets["layers_to_transform"] == [2, 3]
    assert set(targets["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj",
                                              "gate_proj", "up_proj", "down_proj"}
    peft = get_peft_model(model, LoraConfig(r=2, task_type="CAUSAL_LM", **targets))
    adapted = {name.split(".layers.")[1].split(".")[0] for name, _ in peft.named_parameters()
               if "lora_A" in name}
    assert adapted == {"2", "3"}


def test_all_layers_pass_through_and_named_modules_are_limited_too() -> None:
    model = tiny_llama(4)
    assert lora_targets(model, TrainConfig(top_layers=1.0)) == {"target_modules": "all-linear"}
    named = lora_targets(model, TrainConfig(top_layers=0.5, target_modules="v_proj, q_proj"))
    assert (named["target_modules"], named["layers_to_transform"]) == (["q_proj", "v_proj"],
                                                                       [2, 3])
    assert lora_targets(model, TrainConfig(top_layers=0.1))["layers_to_transform"] == [3]


def test_named_modules_on_all_layers_reach_peft_as_a_list() -> None:
    from peft import LoraConfig, get_peft_model

    targets = lora_targets(tiny_llama(2), TrainConfig(target_modules="v_proj, q_proj"))
    assert targets == {"target_modules": ["q_proj", "v_proj"]}
    peft = get_peft_model(tiny_llama(2), LoraConfig(r=2, task_type="CAUSAL_LM", **targets))
    adapted = {name.split(".lora_A")[0].rsplit(".", 1)[-1] for name, _ in peft.named_parameters()
               if "lora_A" in name}
    assert adapted == {"q_proj", "v_proj"}


@pytest.mark.parametrize("field, value", [("top_layers", 0.0), ("top_layers", 1.5),
                                          ("rank", 0), ("precision", "fp8"),
                                          ("attention", "flash")])
def test_out_of_range_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: value})  # type: ignore[arg-type]


def _lora_and_inputs() -> tuple[Any, dict[str, Any]]:
    """A tiny LoRA model and one record: 8 prompt tokens, 4 answer tokens."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = get_peft_model(tiny_llama(2), LoraConfig(r=2, target_modules="all-linear",
                                                     init_lora_weights=False))
    ids = torch.randint(0, 64, (1, 12))
    labels = ids.clone()
    labels[:, :8] = -100  # the prompt
    return model, {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


def test_answer_only_loss_equals_the_full_loss_and_trains_the_same_gradients() -> None:
    import torch

    from training.train import answer_only_loss

    model, inputs = _lora_and_inputs()
    full = model(**inputs).loss
    full.backward()
    expected = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    mine, tokens = answer_only_loss(model, inputs)
    mine.backward()
    assert tokens == 12
    assert torch.allclose(mine, full, atol=1e-5)
    params = dict(model.named_parameters())
    for name, grad in expected.items():
        got = params[name].grad
        assert got is not None and torch.allclose(got, grad, atol=1e-5), name
    halved, _ = answer_only_loss(model, inputs, num_items_in_batch=8)
    assert torch.allclose(halved, full / 2, atol=1e-5)  # 4 answer tokens over a batch of 8


def test_a_detached_prompt_gives_the_same_loss_and_trains_only_through_the_answer() -> None:
    import torch

    from training.train import answer_only_loss

    model, inputs = _lora_and_inputs()
    full, _ = answer_only_loss(model, inputs)
    full.backward()
    through_prompt = {n: p.grad.clone() for n, p in model.named_parameters()
                      if p.grad is not None}
    model.zero_grad()
    detached, tokens = answer_only_loss(model, inputs, detach_prompt=True)
    detached.backward()
    assert tokens == 12 and torch.allclose(detached, full, atol=1e-5)  # same forward
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert set(grads) == set(through_prompt)  # every LoRA weight still learns
    assert any(not torch.allclose(grads[n], g, atol=1e-6) for n, g in through_prompt.items())
    batch = {k: v.repeat(2, 1) for k, v in inputs.items()}  # two records: the full path
    two, _ = answer_only_loss(model, batch, detach_prompt=True)
    assert torch.allclose(two, full, atol=1e-5)


def test_the_trainers_answer_only_loss_runs_under_the_accelerators_bf16_autocast() -> None:
    """The accelerator wraps model.forward in autocast; answer_only_loss bypasses forward, so the
    trainer must enter the context itself (it silently trained in fp32, 1.3x slower, before)."""
    from types import SimpleNamespace

    import torch

    from training.train import _trainer_class

    model = tiny_llama(1)
    seen: list[bool] = []
    model.model.layers[0].mlp.up_proj.register_forward_hook(
        lambda *_: seen.append(torch.is_autocast_enabled("cpu")))
    ids = torch.randint(0, 64, (1, 6))
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}
    for expected in (True, False):
        # accelerate's Accelerator is a process-wide singleton; this stands in for its autocast()
        accelerator = SimpleNamespace(autocast=lambda on=expected: torch.autocast(
            "cpu", dtype=torch.bfloat16, enabled=on))
        trainer = SimpleNamespace(accelerator=accelerator, tokens_seen=0, detach_prompt=False)
        loss = _trainer_class().compute_loss(trainer, model, inputs)
        assert seen.pop() is expected and trainer.tokens_seen == 6
        assert torch.isfinite(loss)


def test_blocks_are_compiled_only_when_asked_or_for_long_cpu_runs() -> None:
    from training.train import COMPILE_MIN_PASSES, compile_blocks

    model = tiny_llama(2)
    keys = list(model.state_dict())
    assert not compile_blocks(model, TrainConfig(compile="off"), 10_000)
    assert not compile_blocks(model, TrainConfig(), COMPILE_MIN_PASSES - 1)
    assert all(getattr(b, "_compiled_call_impl", None) is None for b in model.model.layers)
    assert compile_blocks(model, TrainConfig(), COMPILE_MIN_PASSES)
    assert all(b._compiled_call_impl is not None for b in model.model.layers)
    assert list(model.state_dict()) == keys  # the adapter saves under the same names
    with pytest.raises(ConfigError, match="compile"):
        TrainConfig(compile="yes")


def test_compile_errors_fall_back_to_eager_only_inside_the_training_run() -> None:
    import torch

    from training.train import eager_fallback

    before = torch._dynamo.config.suppress_errors
    with eager_fallback(True):
        assert torch._dynamo.config.suppress_errors is True
    assert torch._dynamo.config.suppress_errors == before
    with eager_fallback(False):
        assert torch._dynamo.config.suppress_errors == before


def test_bf16_runs_train_with_eager_attention_and_fp32_runs_with_sdpa() -> None:
    from training.train import attention_kernel

    assert attention_kernel(TrainConfig(precision="bf16")) == "eager"
    assert attention_kernel(TrainConfig(precision="fp32")) == "sdpa"
    assert attention_kernel(TrainConfig(precision="bf16", attention="sdpa")) == "sdpa"
    assert attention_kernel(TrainConfig(precision="fp32", attention="eager")) == "eager"


@pytest.mark.parametrize("detach", [False, True])
def test_eager_and_sdpa_attention_give_the_same_loss_and_gradients(detach: bool) -> None:
    import torch

    from training.train import answer_only_loss

    results = []
    for kernel in ("sdpa", "eager"):
        model, inputs = _lora_and_inputs()
        model.get_base_model().set_attn_implementation(kernel)
        loss, _ = answer_only_loss(model, inputs, detach_prompt=detach)
        loss.backward()
        grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
        results.append((loss, grads))
    (sdpa_loss, sdpa_grads), (eager_loss, eager_grads) = results
    assert model.get_base_model().config._attn_implementation == "eager"
    assert torch.allclose(eager_loss, sdpa_loss, atol=1e-5)
    assert set(eager_grads) == set(sdpa_grads) and sdpa_grads
    for name, grad in sdpa_grads.items():
        assert torch.allclose(eager_grads[name], grad, atol=1e-5), name


def test_forward_only_prompts_refuse_batches_they_would_quietly_ignore() -> None:
    with pytest.raises(ConfigError, match="prompt_grad=False needs batch_size=1, not 2"):
        TrainConfig(prompt_grad=False, batch_size=2)
    assert TrainConfig(prompt_grad=False).batch_size == 1
