"""The OpenAI-compatible backend (vLLM, llama.cpp server) against fake servers on loopback:
a whole reply, and the same reply streamed piece by piece (server-sent events); promoting an
adapter registers it with vLLM (OPENAI_LORA_LOAD=vllm). test_llama_server.py runs a real one."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from knowledge.errors import ConfigError, ModelError
from knowledge.llm import ModelProvider, ModelSpec, load_chat_model, prepare_adapter

REPLY = ["Refunds ", "take 30 days [1]. ", "Contact billing."]


class FakeOpenAI(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.requests.append(body)
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in REPLY:
                self._event({"choices": [{"index": 0, "delta": {"content": piece},
                                          "finish_reason": None}]})
            self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            self.wfile.write(b"data: [DONE]\n\n")
            return
        data = json.dumps(self._completion("".join(REPLY))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _event(self, chunk: dict[str, Any]) -> None:
        payload = {"id": "c1", "object": "chat.completion.chunk", "created": 0,
                   "model": "served"} | chunk
        self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
        self.wfile.flush()

    @staticmethod
    def _completion(text: str) -> dict[str, Any]:
        return {"id": "c1", "object": "chat.completion", "created": 0, "model": "served",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


@pytest.fixture()
def server() -> Iterator[str]:
    FakeOpenAI.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_the_openai_backend_answers_and_streams(server: str) -> None:
    model = load_chat_model(ModelSpec(backend="openai", model="served", api_base=server))
    messages = [{"role": "user", "content": "How long do refunds take?"}]
    assert model.chat(messages) == "Refunds take 30 days [1]. Contact billing."
    assert list(model.stream(messages)) == REPLY
    assert [r.get("stream", False) for r in FakeOpenAI.requests] == [False, True]
    assert FakeOpenAI.requests[1]["messages"][-1]["content"] == "How long do refunds take?"


class FakeVLLM(BaseHTTPRequestHandler):
    """vLLM's model list and runtime LoRA loading (``VLLM_ALLOW_RUNTIME_LORA_UPDATING``)."""

    served: list[str] = []
    loads: list[dict[str, Any]] = []
    allow_loading = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._reply(200, {"object": "list", "data": [{"id": n} for n in FakeVLLM.served]})

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v1/load_lora_adapter" or not FakeVLLM.allow_loading:
            self._reply(404, {"detail": "Not Found"})
            return
        FakeVLLM.loads.append(body)
        FakeVLLM.served.append(body["lora_name"])
        self._reply(200, {})

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def vllm() -> Iterator[str]:
    FakeVLLM.served, FakeVLLM.loads, FakeVLLM.allow_loading = ["base"], [], True
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeVLLM)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_promoting_registers_the_adapter_with_vllm_once(vllm: str, tmp_path: Path) -> None:
    spec = ModelSpec(backend="openai", model="base", api_base=vllm, lora_load="vllm")
    gguf = tmp_path / "adapters" / "v2" / "adapter.gguf"
    prepare_adapter(spec, gguf)
    prepare_adapter(spec, gguf)  # already served: not loaded twice
    assert FakeVLLM.loads == [{"lora_name": "v2", "lora_path": str(gguf.parent)}]
    assert FakeVLLM.served == ["base", "v2"]


def test_an_adapter_the_server_cannot_serve_is_refused_with_the_fix(
    vllm: str, tmp_path: Path
) -> None:
    FakeVLLM.allow_loading = False
    gguf = tmp_path / "v3" / "adapter.gguf"
    with pytest.raises(ModelError, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING=True"):
        prepare_adapter(ModelSpec(backend="openai", model="base", api_base=vllm,
                                  lora_load="vllm"), gguf)
    with pytest.raises(ConfigError, match="does not serve 'v3'"):
        prepare_adapter(ModelSpec(backend="openai", model="base", api_base=vllm), gguf)
    assert FakeVLLM.served == ["base"]


def test_a_worker_registers_the_promoted_adapter_with_vllm_when_it_loads_it(
    vllm: str, tmp_path: Path
) -> None:
    """A worker started after vLLM restarted, or the gate evaluating a fresh candidate."""
    spec = ModelSpec(backend="openai", model="base", api_base=vllm, lora_load="vllm")
    model = ModelProvider(spec, lambda: ("v4", tmp_path / "v4")).get()
    assert model.llm.model == "v4" and (model.name, model.adapter) == ("base", "v4")
    assert FakeVLLM.loads == [{"lora_name": "v4", "lora_path": str(tmp_path / "v4")}]
