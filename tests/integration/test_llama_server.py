"""``LLM_BACKEND=openai`` against a real server: llama-cpp-python's own (``python -m
llama_cpp.server``, the ``[server]`` extra) on loopback, serving the embedded SmolLM2 GGUF under
one name and the same GGUF with the shipped LoRA under the adapter's version. Whole and
streamed replies; workers ask for the promoted adapter by name, and ``supportbot adapters
promote``/``rollback`` switch that name; an answer through the Runtime's AnswerEngine."""

from __future__ import annotations

import dataclasses
import json
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from knowledge.llm import ModelSpec, embedded_gguf, load_chat_model
from knowledge.served import llama_server_config
from tests.integration.test_cli import error_line, one_json_object, run_main
from training.registry import SHIPPED

pytest.importorskip("sse_starlette", reason="llama-cpp-python's [server] extra is not "
                    "installed: pip install -e '.[server]'")

BASE = "smollm2"
VERSION = str(json.loads((SHIPPED / "provenance.json").read_text())["version"])
QUESTION = [{"role": "user", "content": "How do I reset my password?"}]
READY_S = 60.0


def _lines(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:  # drained to the end, so the server never blocks on a full pipe
        lines.put(line)
    lines.put("")  # the server exited


def _port(lines: queue.Queue[str]) -> tuple[str | None, str]:
    """The port uvicorn logs once it listens (``None`` if it exits or takes too long first),
    and what the server said until then."""
    deadline, seen = time.monotonic() + READY_S, []
    while (left := deadline - time.monotonic()) > 0:
        try:
            seen.append(lines.get(timeout=left))
        except queue.Empty:
            break
        if not seen[-1]:
            break
        if found := re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", seen[-1]):
            return found.group(1), "".join(seen)
    return None, "".join(seen)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server on a port the OS picks (uvicorn logs it); one thread per model."""
    config = llama_server_config(embedded_gguf(), BASE, {VERSION: SHIPPED / "adapter.gguf"},
                                 port=0, threads=1)
    path = tmp_path_factory.mktemp("llama-server") / "config.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--config_file",
                             str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stderr, lines), daemon=True).start()
    try:
        port, said = _port(lines)
        assert port, f"llama_cpp.server did not start within {READY_S:.0f} s:\n{said}"
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _raw_model(model: Any) -> str:
    """The ``model`` field of the server's reply to ``QUESTION`` through the product's LLM."""
    from llama_index.core.llms import ChatMessage

    response = model.llm.chat([ChatMessage(role="user", content=QUESTION[0]["content"])])
    return str(response.raw.model)


def test_the_server_lists_both_names_and_serves_the_adapter_under_its_version(
    server: str,
) -> None:
    listed = httpx.get(f"{server}/models", timeout=30).json()
    assert [m["id"] for m in listed["data"]] == [BASE, VERSION]
    spec = ModelSpec(backend="openai", model=BASE, api_base=server, max_new_tokens=16)
    base = load_chat_model(spec)
    tuned = load_chat_model(dataclasses.replace(spec, adapter=VERSION))
    assert (tuned.name, tuned.adapter) == (BASE, VERSION)
    assert _raw_model(base) == BASE and _raw_model(tuned) == VERSION
    whole = tuned.chat(QUESTION)
    pieces = list(tuned.stream(QUESTION))
    assert whole and len(pieces) > 1  # streamed piece by piece (server-sent events)
    assert "".join(pieces).strip() == whole  # greedy: the same reply either way
    # another worker's request while a reply streams waits for it rather than cutting it off
    stream = tuned.stream(QUESTION)
    first = next(stream)
    other = threading.Thread(target=base.chat, args=(QUESTION,))
    other.start()
    assert (first + "".join(stream)).strip() == whole
    other.join()
    # the LoRA is applied under its name: greedy replies of base and adapter differ
    assert base.chat(QUESTION) != whole


def test_workers_ask_for_the_promoted_adapter_and_promote_switches_the_name(
    server: str, make_runtime: Callable[..., Any], corpus: Path, embed_model: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.runtime import Runtime

    for name, value in {"LLM_BACKEND": "openai", "LLM_MODEL": BASE,
                        "OPENAI_API_BASE": server, "LLM_MAX_NEW_TOKENS": "24"}.items():
        monkeypatch.setenv(name, value)
    runtime = make_runtime()
    runtime.refresh([corpus], kind="ingest")
    assert runtime.registry.install(SHIPPED) == VERSION  # promoted
    answer = runtime.engine.answer("How do I turn on two-factor authentication?")
    assert (answer.model, answer.adapter) == (BASE, VERSION)
    assert answer.text.strip() and answer.sources
    assert runtime.model.llm.model == VERSION

    def build(settings: Any) -> Runtime:
        return Runtime(settings, embed_model=embed_model)

    code, out, err = run_main("adapters", "rollback", "--json", build=build)
    assert (code, one_json_object(out)) == (0, {"active": None}), err
    assert runtime.model.llm.model == BASE and runtime.model.adapter is None
    code, out, err = run_main("adapters", "promote", VERSION, "--json", build=build)
    assert (code, one_json_object(out)) == (0, {"active": VERSION}), err
    assert runtime.model.llm.model == VERSION

    # a version the server does not serve is refused: the llama.cpp server would answer it
    # with its first model, the base, under the adapter's name
    unserved = runtime.registry.path("v-unserved")
    unserved.mkdir()
    shutil.copy(SHIPPED / "adapter.gguf", runtime.registry.gguf("v-unserved"))
    runtime.store.add_training_run("v-unserved", "candidate", "test")
    code, _, err = run_main("adapters", "promote", "v-unserved", build=build)
    assert "does not serve 'v-unserved'" in error_line(code, err)
    assert runtime.registry.active() == VERSION

    code, out, err = run_main("adapters", "server-config", "--port", "8001", build=build)
    config = one_json_object(out)
    assert code == 0, err
    assert [(m["model_alias"], m.get("lora_path")) for m in config["models"]] == [
        (BASE, None), (VERSION, str(runtime.registry.gguf(VERSION).resolve())),
        ("v-unserved", str(runtime.registry.gguf("v-unserved").resolve()))]
