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
        spec = rt.model_spec()
        with quiet_stderr():
            engine, model = rt.engine, rt.model
        llama = model.llm._model
        gen = {"max_tokens": spec.max_new_tokens, "temperature": spec.temperature,
               "top_k": 1 if spec.temperature == 0 else 40,
               "repeat_penalty": spec.repeat_penalty}
        assert all(model.llm.generate_kwargs.get(k) == v for k, v in gen.items()), (
            f"the engine generates with {model.llm.generate_kwargs}, the raw call with {gen}")
        engine.answer(qa[0]["question"])  # warm-up: load the index, page in the model

        def run_engine(question: str) -> tuple[float, Any, int]:
            if not args.keep_cache:
                llama.reset()
            started = time.perf_counter()
            answer = engine.answer(question)
            return time.perf_counter() - started, answer, llama.n_tokens

        def run_raw(prompt: str) -> tuple[float, int, int]:
            if not args.keep_cache:
                llama.reset()
            started = time.perf_counter()
            out = llama(prompt=prompt, stream=False, **gen)
            seconds = time.perf_counter() - started
            return seconds, llama.n_tokens, int(out["usage"]["completion_tokens"])

        records: list[dict[str, Any]] = []
        if args.keep_cache:
            for row in qa:
                seconds, answer, n_tokens = run_engine(row["question"])
                records.append({"engine_s": seconds, "answer": answer, "engine_n": n_tokens})
            for rec in records:
                if rec["answer"].sources:
                    rec["raw_s"], rec["raw_n"], rec["new"] = run_raw(raw_prompt(rt, rec["answer"]))
        else:
            for row in qa:
                seconds, answer, n_tokens = run_engine(row["question"])
                rec = {"engine_s": seconds, "answer": answer, "engine_n": n_tokens}
                if answer.sources:
                    rec["raw_s"], rec["raw_n"], rec["new"] = run_raw(raw_prompt(rt, answer))
                records.append(rec)
        retriever = engine.retriever()
        retrieval = []
        for rec in records:
            started = time.perf_counter()
            retriever.retrieve(rec["answer"].query)
            retrieval.append(time.perf_counter() - started)
        prompt_tokens = [len(llama.tokenize(raw_prompt(rt, r["answer"]).encode(),
                                            add_bos=False, special=True))
                         for r in records if "raw_s" in r]

    paired = [r for r in records if "raw_s" in r]
    eng = [r["engine_s"] for r in paired]
    raw = [r["raw_s"] for r in paired]
    summary = {
        "engine": {"p50_s": round(percentile(eng, 50), 3), "p95_s": round(percentile(eng, 95), 3),
                   "mean_s": round(sum(eng) / len(eng), 3)},
        "raw": {"p50_s": round(percentile(raw, 50), 3), "p95_s": round(percentile(raw, 95), 3),
                "mean_s": round(sum(raw) / len(raw), 3)},
        "retrieval_only": {"p50_s": round(percentile(retrieval, 50), 3),
                           "p95_s": round(percentile(retrieval, 95), 3)},
    }
    ratio_p50 = round(summary["engine"]["p50_s"] / summary["raw"]["p50_s"], 3)
    ratio_p95 = round(summary["engine"]["p95_s"] / summary["raw"]["p95_s"], 3)
    met = summary["engine"]["p50_s"] <= TARGET_P50_S and ratio_p50 <= TARGET_RATIO
    result = {
        "benchmark": "ask", "machine": machine(), "questions": len(records),
        "answered_by_model": len(paired),
        "same_tokens": sum(r["engine_n"] == r["raw_n"] for r in paired),
        "kv_cache": "kept (engine pass, then raw pass)" if args.keep_cache
        else "reset before every call (alternating engine/raw)",
        "config": {"model": model.name, "top_k": rt.settings.top_k,
                   "max_new_tokens": spec.max_new_tokens, "temperature": spec.temperature,
                   "repeat_penalty": spec.repeat_penalty, "chunk_size": rt.settings.chunk_size,
                   "chunk_overlap": rt.settings.chunk_overlap, "index_chunks": stats.chunks,
                   "context_chars": rt.settings.context_chars, "adapter": model.adapter},
        "prompt_tokens_mean": round(sum(prompt_tokens) / max(1, len(prompt_tokens)), 1),
        "new_tokens_mean": round(sum(r["new"] for r in paired) / max(1, len(paired)), 1),
        "hit_max_new_tokens": sum(r["new"] >= spec.max_new_tokens for r in paired),
        **summary,
        "ratio": {"p50": ratio_p50, "p95": ratio_p95},
        "target": {"p50_s": TARGET_P50_S, "ratio_p50": TARGET_RATIO, "met": met},
        "per_question": [{"engine_s": round(r["engine_s"], 3),
                          "raw_s": round(r.get("raw_s", float("nan")), 3)} for r in records],
    }
    rows = [(name, s["p50_s"], s["p95_s"], s["mean_s"])
            for name, s in summary.items() if name != "retrieval_only"]
    text = (
        f"Ask latency — {len(records)} e-manual questions ({len(paired)} reached the model), "
        f"{model.name}, top-{rt.settings.top_k}, {spec.max_new_tokens} new tokens, "
        f"prompt {result['prompt_tokens_mean']} / output {result['new_tokens_mean']} tokens on "
        f"average ({result['hit_max_new_tokens']} answers hit the limit), KV cache "
        f"{'kept' if args.keep_cache else 'reset per call'}\n"
        + table(rows, ("path", "p50 s", "p95 s", "mean s"))
        + f"\nengine/raw: p50 {ratio_p50}x, p95 {ratio_p95}x; retrieval alone p50 "
        f"{summary['retrieval_only']['p50_s']} s; same token count {result['same_tokens']}/"
        f"{len(paired)}\ntargets: p50 <= {TARGET_P50_S} s and <= {TARGET_RATIO}x raw — "
        + ("met" if met else "NOT met")
    )
    emit(result, args.json, text)


if __name__ == "__main__":
    main()
