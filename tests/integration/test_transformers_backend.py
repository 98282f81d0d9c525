"""The transformers backend (the embedded SmolLM2 GGUF through transformers): a whole reply,
and the same reply streamed piece by piece (LlamaIndex's TextIteratorStreamer)."""

from __future__ import annotations

from knowledge.llm import ModelSpec, load_chat_model


def test_the_transformers_backend_streams_the_reply_it_answers() -> None:
    model = load_chat_model(ModelSpec(backend="transformers", max_new_tokens=16))
    messages = [{"role": "user", "content": "Say hello in one short sentence."}]
    whole = model.chat(messages)
    parts = list(model.stream(messages))
    assert whole and len(parts) > 1  # greedy decoding: the same text, in pieces
    assert "".join(parts).strip() == whole
