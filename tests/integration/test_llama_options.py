"""llama.cpp load options that come from settings reach the loaded model."""

from __future__ import annotations

from pathlib import Path

import llama_cpp

from bot.runtime import Runtime
from bot.settings import load_settings
from knowledge.llm import ModelSpec, load_chat_model


def test_the_settings_reach_the_model_spec(tmp_path: Path) -> None:
    settings = load_settings(supportbot_home=tmp_path, _env_file=None,
                             llm_flash_attn=True, llm_repack="off")
    spec = Runtime(settings).model_spec()
    assert (spec.flash_attn, spec.repack) == (True, "off")
    default = Runtime(load_settings(supportbot_home=tmp_path, _env_file=None)).model_spec()
    assert (default.flash_attn, default.repack) == (False, "auto")


def test_flash_attention_off_and_on_both_answer() -> None:
    for flash, expected in ((False, llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED),
                            (True, llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED)):
        chat = load_chat_model(ModelSpec(quant="", max_new_tokens=8, threads=1,
                                         flash_attn=flash))
        assert chat.llm._model.context_params.flash_attn_type == expected
        assert chat.chat([{"role": "user", "content": "Say hello."}]).strip()
