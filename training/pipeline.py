"""``supportbot train`` end to end: data → RAFT records → LoRA → GGUF → gate → promotion.

Everything it needs is passed in (the entry point builds it from settings): the registry, the
store, a retrieval function for context-aware examples, and ``engine_for(version)`` which
returns something with ``answer(question)`` serving that adapter (``None`` = base model).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from knowledge.errors import InputError
from knowledge.prompts import ContextChunk
from knowledge.types import Answer
from training.dataset import (
    BITEXT_LIMIT,
    TONE_KINDS,
    Example,
    data_hash,
    load_any,
    load_seed,
    to_chat_records,
)
from training.evaluate import QAItem, Scores, gate, score, split_heldout
from training.export import peft_to_gguf
from training.feedback import FeedbackPolicy, feedback_examples, verified_examples
from training.kto import kto_ready, train_kto
from training.ports import TrainingStore
from training.registry import AdapterRegistry
from training.train import DECLINE_SHARE, NO_DOCS_SHARE, BaseModel, TrainConfig, train_lora


class Answerer(Protocol):
    def answer(self, question: str) -> Answer: ...


@dataclass(frozen=True)
class TrainRequest:
    data: Sequence[Path] = ()
    data_limit: int | None = None  # examples per --data file (None: all; BITEXT_LIMIT of a CSV)
    use_seed: bool = True
    use_feedback: bool = True
    eval_items: Sequence[QAItem] | None = None  # None: hold out a share of the training data
    eval_limit: int = 40
    margin: float = 0.02
    decline_share: float = DECLINE_SHARE
    no_docs_share: float = NO_DOCS_SHARE
    company: str = "Orbitask"
    requested_by: str = "cli"
    feedback_policy: FeedbackPolicy = field(default_factory=FeedbackPolicy)
    config: TrainConfig = field(default_factory=TrainConfig)
    # told (stage, done, total): "training" after each step, then "evaluating" (the console)
    progress: Callable[[str, int, int], None] | None = None


def gather(request: TrainRequest, store: TrainingStore) -> list[Example]:
    examples = load_seed() if request.use_seed else []
    for path in request.data:
        examples += load_any(Path(path), company=request.company,
                             limit=data_limit(Path(path), request.data_limit))
    if request.use_feedback:
        examples += [e for e in feedback_examples(store, request.feedback_policy) if e.label]
        examples += verified_examples(store)
    return examples


# 👍 answers (training/feedback.py): the serving adapter's own words, kept out of the gate.
OWN_WORDS = frozenset({"feedback"})


def data_limit(path: Path, requested: int | None) -> int | None:
    """How many examples to take from one ``--data`` file: a Bitext CSV defaults to a sample."""
    if requested is not None:
        return requested
    return BITEXT_LIMIT if path.suffix.lower() == ".csv" else None


def gather_votes(request: TrainRequest, store: TrainingStore) -> list[Example]:
    """Labelled reactions (👍 and 👎) for KTO, when feedback is used at all."""
    if not request.use_feedback:
        return []
    return [e for e in feedback_examples(store, request.feedback_policy) if e.kind == "feedback"]


def split(request: TrainRequest,
          examples: list[Example]) -> tuple[list[Example], list[QAItem]]:
    """Training examples and held-out questions that were never trained on.

    Without ``--eval`` a share of the factual examples is held out: of those a person wrote
    about the documents the bot serves (``--data`` files, corrections, verified answers) when
    there are any, since the seed set is about the sample company. 👍 answers are never held
    out: they are the serving adapter's own words, which it would be judged against.
    """
    if request.eval_items is not None:
        held = list(request.eval_items)
    else:
        factual = [e for e in examples if e.kind not in TONE_KINDS | OWN_WORDS]
        served = [e for e in factual if e.origin != "seed"]
        _, held = split_heldout([QAItem(e.question, e.answer, e.source, e.answerable)
                                 for e in (served if served or request.data else factual)])
    if not held:
        raise InputError("No questions to hold out for the gate: the training data has no "
                         "question-answer pairs (tone examples are not held out) — pass --eval "
                         "FILE, a JSONL of questions and answers about your documents.")
    held_questions = {item.question.strip().lower() for item in held}
    train = [e for e in examples if e.question.strip().lower() not in held_questions]
    return train, spread(held, request.eval_limit)


def spread(items: Sequence[QAItem], limit: int) -> list[QAItem]:
    """At most ``limit`` items, evenly spaced through ``items`` rather than the first ones: QA
    files often list the unanswerable questions last, and the gate must see some of them."""
    if len(items) <= limit:
        return list(items)
    if limit <= 0:
        return []
    return [items[i * len(items) // limit] for i in range(limit)]


def evaluate_pair(items: Sequence[QAItem], current: Answerer,
                  candidate: Answerer) -> tuple[Scores, Scores]:
    return (score(items, lambda item: current.answer(item.question)),
            score(items, lambda item: candidate.answer(item.question)))


def run_training(request: TrainRequest, *, registry: AdapterRegistry, store: TrainingStore,
                 retrieve: Callable[[str], list[ContextChunk]] | None,
                 engine_for: Callable[[str | None], Answerer], base: BaseModel,
                 show_progress: bool = True) -> dict[str, Any]:
    examples, held = split(request, gather(request, store))
    records = to_chat_records(examples, retrieve, company=request.company,
                              decline_share=request.decline_share, seed=request.config.seed,
                              no_docs_share=request.no_docs_share)
    version = registry.new_version(request.requested_by)
    folder = registry.path(version)
    votes = to_chat_records(gather_votes(request, store), retrieve, company=request.company,
                            no_docs_share=0.0)
    try:
        report = request.progress
        result = train_lora(records, request.config, base, folder, show_progress,
                            on_step=(lambda done, total: report("training", done, total))
                            if report is not None else None)
        if kto_ready(votes):
            result.metrics.update(train_kto(votes, folder, request.config, base, show_progress))
        peft_to_gguf(folder, registry.gguf(version), result.model_config)
        current_version = registry.active()
        if report is not None:
            report("evaluating", 0, 0)
        current, candidate = evaluate_pair(held, engine_for(current_version),
                                           engine_for(version))
        verdict = gate(candidate, current, request.margin)
    except BaseException as exc:
        registry.record(version, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    registry.record(version, status="candidate", data_hash=data_hash(records),
                    examples=len(records), config=asdict(request.config),
                    metrics={**result.metrics, "train_seconds": result.seconds,
                             "eval": candidate.as_dict(), "eval_items": len(held)},
                    gate={**verdict.as_dict(), "against": current_version or "base"})
    if verdict.promoted:
        registry.promote(version)
    else:
        registry.record(version, status="rejected")
    return {"adapter": version, "adapter_path": str(folder), "promoted": verdict.promoted,
            "gate": verdict.as_dict(), "train_seconds": result.seconds}


def summary(result: dict[str, Any]) -> list[str]:
    """What a person reads after ``run_training``: the verdict, the gate's reasons and, for a
    rejected adapter, what to do next. Shared by ``supportbot train`` and ``/kb train``."""
    version, seconds = result["adapter"], f"{result['train_seconds']:.0f}s of training"
    if result["promoted"]:
        return [f"Adapter {version} is promoted and now serving ({seconds})."]
    held = result["gate"].get("candidate", {}).get("n", "the")
    return [f"Adapter {version} is not promoted ({seconds}).",
            *(f"Gate on {held} held-out questions: {reason}."
              for reason in result["gate"].get("reasons", [])),
            f"It is kept: `supportbot adapters promote {version}` serves it anyway, and "
            "`supportbot train --eval FILE` gates on more questions of your own."]
