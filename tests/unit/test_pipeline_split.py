"""Which questions the gate holds out (training.pipeline.split), without any model."""

from __future__ import annotations

from pathlib import Path

from training.dataset import Example, load_seed
from training.pipeline import TrainRequest, split


def domain_examples(n: int = 200) -> list[Example]:
    return [Example(f"How do I set up feature {i} on the TV?", f"Open Settings {i}.",
                    kind="paraphrased") for i in range(n)]


def test_held_out_questions_come_from_the_data_files_and_are_not_trained_on() -> None:
    examples = load_seed() + domain_examples()
    request = TrainRequest(data=(Path("faq.jsonl"),))
    train, held = split(request, examples)
    held_questions = {item.question for item in held}
    assert held and held_questions <= {e.question for e in domain_examples()}
    assert not held_questions & {e.question for e in train}
    assert len(train) == len(examples) - len(held_questions)


def test_without_data_files_the_seed_facts_are_held_out_but_never_tone_examples() -> None:
    seed = load_seed()
    _, held = split(TrainRequest(), seed)
    kinds = {e.question: e.kind for e in seed}
    assert held and all(kinds[item.question] not in {"greeting", "smalltalk", "empathy"}
                        for item in held)
