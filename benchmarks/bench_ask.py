"""Ask latency end to end vs raw llama-cpp-python generation of the same prompt.

The e-manual ``docs/`` are ingested into a temporary ``SUPPORTBOT_HOME`` with the product's
default settings; the product's ``Runtime`` then builds the ``AnswerEngine`` and the default
chat model (SmolLM2-135M, llama.cpp, requantized to q8_0, top-3, 120 new tokens, greedy).
For each test question (``--limit N``, default all 50):

- ``engine``: wall time of ``AnswerEngine.answer(question)`` — condense, embed the query,
  hybrid retrieval, relevance check, prompt, generation, citations;
- ``raw``: the same prompt — ``knowledge.prompts.build_messages`` over the chunks the engine
  retrieved, rendered with the engine model's ``llm.messages_to_prompt`` — passed straight to
  the underlying ``llama_cpp.Llama`` (``chat_model.llm._model``) with the same ``max_tokens``,
  ``temperature``, ``top_k`` and ``repeat_penalty``.

KV cache: by default ``Llama.reset()`` is called before every timed call of either kind, so
both prefill the whole prompt (the cold, worst case) and neither can reuse the other's
cache; engine and raw calls alternate question by question, so background load hits both
alike. With ``--keep-cache`` nothing is reset: all engine calls run first, then all raw calls,
and each reuses only what its own previous call left (the shared system-prompt prefix), as
a bot answering one question after another does. ``same_tokens`` counts the questions where
both runs left the same number of tokens in the context (same prompt, same output length).

Reported: p50/p95 of both (seconds) and the ratio engine/raw (targets: p50 <= 1.5 s and
p50 ratio <= 1.15), plus the engine's retrieval time alone for reference.

    python benchmarks/bench_ask.py [--limit 50] [--keep-cache] [--json]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    base_parser,
    emanual,
    emit,
    load_qa,
    machine,
    make_runtime,
    percentile,
    quiet,
    quiet_stderr,
    table,
)

TARGET_P50_S = 1.5
TARGET_RATIO = 1.15


def raw_prompt(rt: Any, answer: Any) -> str:
    """The prompt the engine sent for ``answer``, rebuilt from its sources."""
    from llama_index.core.llms import ChatMessage

    from knowledge.prompts import ContextChunk, build_messages, focus, key_words

    words, limit = key_words(answer.query), rt.settings.context_chars
    chunks = [focus(ContextChunk(s.source, s.title, s.text), words, limit)
              for s in answer.sources]
    messages = build_messages(answer.query, chunks, company=rt.settings.company_name)
    chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
    return str(rt.model.llm.messages_to_prompt(chat))


class Timer:
    """Times ``AnswerEngine.answer`` and the raw ``llama_cpp.Llama`` call on the same prompt."""

    def __init__(self, rt: Any, keep_cache: bool) -> None:
        spec = rt.model_spec()
        with quiet_stderr():
            self.engine, self.model = rt.engine, rt.model
        self.rt, self.keep_cache, self.max_new = rt, keep_cache, spec.max_new_tokens
        self.llama = self.model.llm._model
        self.gen = {"max_tokens": spec.max_new_tokens, "temperature": spec.temperature,
                    "top_k": 1 if spec.temperature == 0 else 40,
                    "repeat_penalty": spec.repeat_penalty}
        used = self.model.llm.generate_kwargs
        assert all(used.get(k) == v for k, v in self.gen.items()), (
            f"the engine generates with {used}, the raw call with {self.gen}")

    def engine_call(self, question: str) -> dict[str, Any]:
        if not self.keep_cache:
            self.llama.reset()
        started = time.perf_counter()
        answer = self.engine.answer(question)
        return {"engine_s": time.perf_counter() - started, "answer": answer,
                "engine_n": self.llama.n_tokens}

    def raw_call(self, rec: dict[str, Any]) -> None:
        """Adds ``raw_s``, ``raw_n`` and ``new`` to ``rec`` if its answer reached the model."""
        if not rec["answer"].sources:
            return
        prompt = raw_prompt(self.rt, rec["answer"])
        if not self.keep_cache:
            self.llama.reset()
        started = time.perf_counter()
        out = self.llama(prompt=prompt, stream=False, **self.gen)
        rec["raw_s"] = time.perf_counter() - started
        rec["raw_n"], rec["new"] = self.llama.n_tokens, int(out["usage"]["completion_tokens"])

    def run(self, questions: list[str]) -> list[dict[str, Any]]:
        """Alternating engine/raw per question, or (``keep_cache``) all engine calls first."""
        self.engine.answer(questions[0])  # warm-up: load the index, page in the model
        records = []
        for question in questions:
            records.append(self.engine_call(question))
            if not self.keep_cache:
                self.raw_call(records[-1])
        if self.keep_cache:
            for rec in records:
                self.raw_call(rec)
        return records

    def retrieval_seconds(self, records: list[dict[str, Any]]) -> list[float]:
        retriever, seconds = self.engine.retriever(), []
        for rec in records:
            started = time.perf_counter()
            retriever.retrieve(rec["answer"].query)
            seconds.append(time.perf_counter() - started)
        return seconds

    def prompt_tokens(self, records: list[dict[str, Any]]) -> list[int]:
        return [len(self.llama.tokenize(raw_prompt(self.rt, r["answer"]).encode(),
                                        add_bos=False, special=True))
                for r in records if "raw_s" in r]


def spread(values: list[float], mean: bool = True) -> dict[str, float]:
    out = {"p50_s": round(percentile(values, 50), 3), "p95_s": round(percentile(values, 95), 3)}
    if mean:
        out["mean_s"] = round(sum(values) / len(values), 3)
    return out


def summarize(timer: Timer, records: list[dict[str, Any]], retrieval: list[float],
              prompt_tokens: list[int], chunks: int) -> dict[str, Any]:
    paired = [r for r in records if "raw_s" in r]
    summary = {"engine": spread([r["engine_s"] for r in paired]),
               "raw": spread([r["raw_s"] for r in paired]),
               "retrieval_only": spread(retrieval, mean=False)}
    ratio_p50 = round(summary["engine"]["p50_s"] / summary["raw"]["p50_s"], 3)
    ratio_p95 = round(summary["engine"]["p95_s"] / summary["raw"]["p95_s"], 3)
    settings, gen = timer.rt.settings, timer.gen
    return {
        "benchmark": "ask", "machine": machine(), "questions": len(records),
        "answered_by_model": len(paired),
        "same_tokens": sum(r["engine_n"] == r["raw_n"] for r in paired),
        "kv_cache": "kept (engine pass, then raw pass)" if timer.keep_cache
        else "reset before every call (alternating engine/raw)",
        "config": {"model": timer.model.name, "top_k": settings.top_k,
                   "max_new_tokens": timer.max_new, "temperature": gen["temperature"],
                   "repeat_penalty": gen["repeat_penalty"], "chunk_size": settings.chunk_size,
                   "chunk_overlap": settings.chunk_overlap, "index_chunks": chunks,
                   "context_chars": settings.context_chars, "adapter": timer.model.adapter},
        "prompt_tokens_mean": round(sum(prompt_tokens) / max(1, len(prompt_tokens)), 1),
        "new_tokens_mean": round(sum(r["new"] for r in paired) / max(1, len(paired)), 1),
        "hit_max_new_tokens": sum(r["new"] >= timer.max_new for r in paired),
        **summary,
        "ratio": {"p50": ratio_p50, "p95": ratio_p95},
        "target": {"p50_s": TARGET_P50_S, "ratio_p50": TARGET_RATIO,
                   "met": summary["engine"]["p50_s"] <= TARGET_P50_S
                   and ratio_p50 <= TARGET_RATIO},
        "per_question": [{"engine_s": round(r["engine_s"], 3),
                          "raw_s": round(r.get("raw_s", float("nan")), 3)} for r in records],
    }


def render(result: dict[str, Any]) -> str:
    cfg, ratio = result["config"], result["ratio"]
    rows = [(name, result[name]["p50_s"], result[name]["p95_s"], result[name]["mean_s"])
            for name in ("engine", "raw")]
    return (
        f"Ask latency — {result['questions']} e-manual questions "
        f"({result['answered_by_model']} reached the model), {cfg['model']}, "
        f"top-{cfg['top_k']}, {cfg['max_new_tokens']} new tokens, "
        f"prompt {result['prompt_tokens_mean']} / output {result['new_tokens_mean']} tokens on "
        f"average ({result['hit_max_new_tokens']} answers hit the limit), KV cache "
        f"{'kept' if result['kv_cache'].startswith('kept') else 'reset per call'}\n"
        + table(rows, ("path", "p50 s", "p95 s", "mean s"))
        + f"\nengine/raw: p50 {ratio['p50']}x, p95 {ratio['p95']}x; retrieval alone p50 "
        f"{result['retrieval_only']['p50_s']} s; same token count {result['same_tokens']}/"
        f"{result['answered_by_model']}\ntargets: p50 <= {TARGET_P50_S} s and "
        f"<= {TARGET_RATIO}x raw — " + ("met" if result["target"]["met"] else "NOT met")
    )


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--limit", type=int, default=None, help="first N test questions")
    parser.add_argument("--keep-cache", action="store_true",
                        help="no KV-cache reset: engine pass, then raw pass (see docstring)")
    parser.add_argument("--context-chars", type=int, default=None,
                        help="CONTEXT_CHARS: characters of each chunk shown to the model "
                             "(default: the product's)")
    parser.add_argument("--adapter", default="", help="LLM_ADAPTER: a GGUF LoRA file to serve")
    args = parser.parse_args()
    docs, qa_path = emanual(args.data)
    quiet()
    qa = load_qa(qa_path, args.limit)
    with tempfile.TemporaryDirectory(prefix="bench-ask-") as home:
        chars = {} if args.context_chars is None else {"context_chars": args.context_chars}
        rt = make_runtime(Path(home), llm_adapter=args.adapter, **chars)
        stats = rt.kb.update([docs])
        timer = Timer(rt, args.keep_cache)
        records = timer.run([row["question"] for row in qa])
        result = summarize(timer, records, timer.retrieval_seconds(records),
                           timer.prompt_tokens(records), stats.chunks)
    emit(result, args.json, render(result))


if __name__ == "__main__":
    main()
