"""``supportbot eval``: fine-tuning and retrieval, alone and together, on one QA set.

Four configurations answer the same questions: ``base`` (no adapter, no retrieval),
``base+rag``, ``tuned`` (adapter, no retrieval) and ``tuned+rag``. Each is scored with the
metrics of ``training.evaluate``; the results go to a Markdown report and a PNG chart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.core.types import Answer
from training.evaluate import QAItem, Scores, score

CONFIGS = ("base", "base+rag", "tuned", "tuned+rag")
CHART_METRICS = ("rougeL_f1", "token_f1", "citation_accuracy", "faithfulness", "idk_recall",
                 "tone")
DEFINITIONS = {
    "rougeL_f1": "ROUGE-L F1 against the reference answer (rouge-score, stemmed).",
    "token_f1": "SQuAD-style token F1 against the reference answer.",
    "citation_accuracy": "Share of questions with a reference source whose answer cites it "
                         "(and cites nothing that was not retrieved).",
    "faithfulness": "Share of answer sentences whose content words are ≥ 60% found in the "
                    "retrieved context (configurations with retrieval only).",
    "idk_precision": "Of answers that say \"I don't know\", the share on unanswerable questions.",
    "idk_recall": "Of unanswerable questions, the share answered \"I don't know\".",
    "tone": "0–1 rubric: concise, no loops, warm or direct, cites or declines, no prompt "
            "leakage (training/evaluate.py: tone_score).",
    "latency_p50_ms": "Median answer latency, end to end.",
    "latency_p95_ms": "95th percentile answer latency.",
}

Answerers = Mapping[str, Callable[[QAItem], Answer]]


def run_configs(items: Sequence[QAItem], answerers: Answerers,
                progress: Callable[[str, int, int], None] | None = None) -> dict[str, Scores]:
    """Score every configuration on ``items`` (in the order of ``CONFIGS``)."""
    results: dict[str, Scores] = {}
    for name in CONFIGS:
        if name in answerers:
            tick = (lambda done, total, n=name: progress(n, done, total)) if progress else None
            results[name] = score(items, answerers[name], tick)
    return results


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


def write_report(results: Mapping[str, Scores], out_dir: Path,
                 meta: Mapping[str, Any]) -> tuple[Path, Path]:
    """``eval-<time>.md`` and ``.png`` (and ``.json``) in ``out_dir``; returns (md, png)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / time.strftime("eval-%Y%m%d-%H%M%S")
    md, png = stem.with_suffix(".md"), stem.with_suffix(".png")
    chart(results, png)
    md.write_text(markdown(results, meta) + f"\n![chart]({png.name})\n", encoding="utf-8")
    payload = {"configs": {n: s.as_dict() for n, s in results.items()}, "meta": dict(meta)}
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return md, png
