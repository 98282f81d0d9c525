"""LLM_REPACK: llama.cpp's extra weight buffers (AMX) are off where they would crash."""

from __future__ import annotations

import llama_cpp
import llama_cpp.llama as llama_module
import pytest

from knowledge import llm
from knowledge.errors import ConfigError
from knowledge.llm import ModelSpec


def test_on_and_off_are_taken_as_given() -> None:
    assert llm.repacks("on") is True
    assert llm.repacks("off") is False


@pytest.mark.parametrize(("info", "expected"), [
    (b"CPU : AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | OPENMP = 1 |", False),
    (b"CPU : AVX2 = 1 | AVX512 = 1 | AVX512_BF16 = 1 | OPENMP = 1 |", True),
])
def test_auto_turns_them_off_only_for_a_build_with_amx(
        monkeypatch: pytest.MonkeyPatch, info: bytes, expected: bool) -> None:
    monkeypatch.setattr(llama_cpp, "llama_print_system_info", lambda: info)
    assert llm.repacks("auto") is expected


def test_a_load_without_them_sees_use_extra_bufts_false_and_the_default_comes_back() -> None:
    lib = llama_module.llama_cpp
    assert lib.llama_model_default_params().use_extra_bufts is True
    with llm._extra_buffers(False):
        assert lib.llama_model_default_params().use_extra_bufts is False
    assert lib.llama_model_default_params().use_extra_bufts is True
    with llm._extra_buffers(True):
        assert lib.llama_model_default_params().use_extra_bufts is True


def test_the_default_is_restored_when_the_load_fails() -> None:
    lib = llama_module.llama_cpp
    with pytest.raises(RuntimeError), llm._extra_buffers(False):
        raise RuntimeError("bad model file")
    assert lib.llama_model_default_params().use_extra_bufts is True


def test_an_unknown_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="LLM_REPACK='maybe'.*auto, on or off"):
        ModelSpec(repack="maybe")
