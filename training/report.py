"""``supportbot eval``: fine-tuning and retrieval, alone and together, on one QA set.

Four configurations answer the same questions: ``base`` (no adapter, no retrieval),
``base+rag``, ``tuned`` (adapter, no retrieval) and ``tuned+rag``. Each is scored with the
metrics of ``training.evaluate``; the results go to a Markdown report and a PNG chart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.types import Answer
from training.evaluate import QAItem, Scores, aggregate, collect, says_idk

CONFIGS = ("base", "base+rag", "tuned", "tuned+rag")
CHART_METRICS = ("rougeL_f1", "token_f1", "citation_accuracy", "faithfulness", "idk_recall",
                 "tone")
DEFINITIONS = {
    "rougeL_f1": "ROUGE-L F1 against the reference answer (rouge-score, stemmed).",
    "token_f1": "SQuAD-style token F1 against the reference answer.",
    "citation_accuracy": "Share of questions with a reference source whose answer cites it "
                         "(and cites nothing that was not retrieved).",
    "citation_precision": "Of the documents an answer cites, the share that are the reference "
                          "source, over the same questions (the gate checks this one).",
    "faithfulness": "Share of answer sentences whose content words are ≥ 60% found in the "
                    "retrieved context (configurations with retrieval only).",
    "idk_precision": "Of answers that say \"I don't know\", the share on unanswerable questions.",
    "idk_recall": "Of unanswerable questions, the share answered \"I don't know\".",
    "tone": "0–1 rubric: concise, no loops, warm or direct, cites or declines, no prompt "
            "leakage (training/evaluate.py: tone_score).",
    "invented": "Answers to answerable questions stating a number, URL or e-mail address that "
                "no retrieved chunk and not the question holds (target 0).",
    "key_facts": "Share of answerable questions with key facts (the QA file's `facts`) whose "
                 "answer states all of them.",
    "answerable_declined": "Share of answerable questions declined (or blocked).",
    "mid_sentence": "Answers that end in the middle of a sentence (target 0).",
    "latency_p50_ms": "Median answer latency, end to end.",
    "latency_p95_ms": "95th percentile answer latency.",
}

Answerers = Mapping[str, Callable[[QAItem], Answer]]


@dataclass(frozen=True)
class EvalRun:
    """Scores per configuration, and every answer behind them (in the items' order)."""

    items: Sequence[QAItem]
    scores: dict[str, Scores]
    answers: dict[str, list[Answer]]


def run_configs(items: Sequence[QAItem], answerers: Answerers,
                progress: Callable[[str, int, int], None] | None = None) -> EvalRun:
    """Answer and score every configuration on ``items`` (in the order of ``CONFIGS``)."""
    answers: dict[str, list[Answer]] = {}
    for name in CONFIGS:
        if name in answerers:
            tick = (lambda done, total, n=name: progress(n, done, total)) if progress else None
            answers[name] = collect(items, answerers[name], tick)
    scores = {name: aggregate(items, got) for name, got in answers.items()}
    return EvalRun(items, scores, answers)


def answer_rows(run: EvalRun) -> list[dict[str, Any]]:
    """One row per question: the reference and what each configuration answered."""
    rows = []
    for i, item in enumerate(run.items):
        configs = {name: {"answer": got[i].text,
                          "cited": [s.source for s in got[i].cited_sources()],
                          "shown": [s.source for s in got[i].sources],
                          "says_idk": says_idk(got[i].text),
                          "latency_ms": round(got[i].latency_ms)}
                   for name, got in run.answers.items()}
        rows.append({"question": item.question, "reference": item.answer,
                     "source": item.source, "answerable": item.answerable, "configs": configs})
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if isinstance(value, float) and value > 10 else f"{value:.3f}"


def markdown(results: Mapping[str, Scores], meta: Mapping[str, Any]) -> str:
    names = list(results)
    rows = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for metric in DEFINITIONS:
        cells = [_cell(results[n].as_dict().get(metric)) for n in names]
        rows.append(f"| {metric} | " + " | ".join(cells) + " |")
    lines = [f"# supportbot eval: {meta.get('qa_file', '')}", ""]
    lines += [f"- {key}: {value}" for key, value in meta.items()]
    lines += ["", *rows, "", "## Definitions", ""]
    lines += [f"- **{key}**: {text}" for key, text in DEFINITIONS.items()]
    return "\n".join(lines) + "\n"


def chart(results: Mapping[str, Scores], path: Path) -> None:
    """Grouped bars: one group per metric, one bar per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for i, name in enumerate(names):
        data = results[name].as_dict()
        values = [data.get(m) or 0.0 for m in CHART_METRICS]
        xs = [j + i * width for j in range(len(CHART_METRICS))]
        ax.bar(xs, values, width, label=name)
    ax.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(CHART_METRICS))])
    ax.set_xticklabels(CHART_METRICS)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score (higher is better)")
    ax.set_title("Fine-tuning × retrieval")
    ax.legend(ncol=len(names), loc="upper center", bbox_to_anchor=(0.5, -0.08))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(run: EvalRun, out_dir: Path, meta: Mapping[str, Any]) -> tuple[Path, Path]:
    """``eval-<time>.md`` and ``.png`` in ``out_dir``, plus ``.json`` (the scores) and
    ``.answers.jsonl`` (every answer beside its reference); returns (md, png)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / time.strftime("eval-%Y%m%d-%H%M%S")
    md, png = stem.with_suffix(".md"), stem.with_suffix(".png")
    answers = stem.with_suffix(".answers.jsonl")
    chart(run.scores, png)
    md.write_text(markdown(run.scores, meta) + f"\n![chart]({png.name})\n\n"
                  f"Every answer beside its reference: `{answers.name}`.\n", encoding="utf-8")
    payload = {"configs": {n: s.as_dict() for n, s in run.scores.items()}, "meta": dict(meta)}
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    answers.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n"
                               for row in answer_rows(run)), encoding="utf-8")
    return md, png
