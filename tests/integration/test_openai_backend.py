"""The OpenAI-compatible backend (vLLM, llama.cpp server) against a fake server on loopback:
a whole reply, and the same reply streamed piece by piece (server-sent events)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from knowledge.llm import ModelSpec, load_chat_model

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
