"""Training configuration: value checks and which layers get LoRA (a tiny random Llama)."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
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


@pytest.mark.parametrize("field, value", [("top_layers", 0.0), ("top_layers", 1.5),
                                          ("rank", 0), ("precision", "fp8")])
def test_out_of_range_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: value})  # type: ignore[arg-type]
