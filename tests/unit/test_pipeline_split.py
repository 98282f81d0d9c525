"""Which questions the gate holds out (training.pipeline.split), and what a person reads after
a run (training.pipeline.summary), without any model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from knowledge.errors import InputError
from training.dataset import Example, load_seed
from training.evaluate import QAItem
from training.pipeline import TrainRequest, split, summary


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


def test_after_a_month_of_use_the_gate_holds_out_the_teams_answers_never_the_bots() -> None:
    votes = [Example(f"How do I pair remote {i}?", f"Hold Back and Play {i} [1].",
                     kind="feedback") for i in range(300)]
    team = [Example(f"Why is picture {i} dark?", f"Turn off Eco mode {i}.", kind=kind)
            for i in range(60) for kind in ("correction", "verified")]
    train, held = split(TrainRequest(), load_seed() + votes + team)
    assert held and {item.question for item in held} <= {e.question for e in team}
    assert all(e in train for e in votes)  # every 👍 answer is trained on
    _, seed_only = split(TrainRequest(), load_seed() + votes)
    assert seed_only and not {item.question for item in seed_only} & {e.question for e in votes}


def test_a_long_eval_file_is_sampled_through_to_its_unanswerable_end() -> None:
    answerable = [QAItem(f"How do I set up feature {i}?", "Open Settings.") for i in range(90)]
    unanswerable = [QAItem(f"Do you sell hardware {i}?", "I don't know.", answerable=False)
                    for i in range(16)]
    request = TrainRequest(eval_items=answerable + unanswerable, eval_limit=40)
    _, held = split(request, [])
    assert len(held) == 40 and len(set(held)) == 40
    assert sum(not item.answerable for item in held) == 6  # 16 of 106, spread: 6 of 40
    assert held[0] == answerable[0]
    _, short = split(TrainRequest(eval_items=unanswerable, eval_limit=40), [])
    assert short == unanswerable


def test_summary_of_a_rejected_run_says_why_and_what_to_do() -> None:
    gate = {"promoted": False, "candidate": {"n": 21},
            "reasons": ["citation_accuracy dropped from 0.867 to 0.733 (more than 0.087)"]}
    lines = summary({"adapter": "v1", "promoted": False, "gate": gate, "train_seconds": 61.4})
    assert lines == [
        "Adapter v1 is not promoted (61s of training).",
        "Gate on 21 held-out questions: citation_accuracy dropped from 0.867 to 0.733 "
        "(more than 0.087).",
        "It is kept: `supportbot adapters promote v1` serves it anyway, and "
        "`supportbot train --eval FILE` gates on more questions of your own."]
    promoted = {"adapter": "v2", "promoted": True, "gate": {"reasons": []}, "train_seconds": 9}
    assert summary(promoted) == ["Adapter v2 is promoted and now serving (9s of training)."]


def test_on_the_sample_knowledge_base_the_gate_uses_its_qa_file() -> None:
    from bot.runtime import with_sample_gate
    from knowledge.ingest import SAMPLE_DOCS

    chosen = with_sample_gate(TrainRequest(), [str(SAMPLE_DOCS)])
    assert chosen.eval_items is not None and len(chosen.eval_items) >= 60
    assert sum(not item.answerable for item in chosen.eval_items) >= 10
    _, held = split(chosen, load_seed())
    assert len(held) == chosen.eval_limit and any(not item.answerable for item in held)
    # The user's own --eval wins, and other knowledge bases keep the held-out share.
    own = [QAItem("q", "a", None, True)]
    assert with_sample_gate(TrainRequest(eval_items=own), [str(SAMPLE_DOCS)]).eval_items == own
    assert with_sample_gate(TrainRequest(data=(Path("bitext.csv"),)),
                            [str(SAMPLE_DOCS)]).eval_items == chosen.eval_items
    assert with_sample_gate(TrainRequest(), ["/srv/docs"]).eval_items is None
    assert with_sample_gate(TrainRequest(), []).eval_items is None


def test_a_bitext_csv_is_sampled_by_default_and_data_limit_caps_every_file(
        tmp_path: Path, store: Any) -> None:
    from tests.unit.test_dataset import write_bitext
    from training.dataset import BITEXT_LIMIT
    from training.pipeline import gather

    rows = [{"instruction": f"{intent} question {i}", "intent": intent, "category": "X",
             "response": f"reply {i}"} for intent in ("a", "b", "c") for i in range(200)]
    csv_file = write_bitext(tmp_path / "bitext.csv", rows)
    qa = tmp_path / "faq.jsonl"
    qa.write_text("".join(json.dumps({"question": f"q{i}", "answer": f"a{i}"}) + "\n"
                          for i in range(10)))

    def count(**kw: Any) -> int:
        return len(gather(TrainRequest(use_seed=False, use_feedback=False, **kw), store))

    assert count(data=(csv_file,)) == BITEXT_LIMIT < len(rows)
    assert count(data=(qa,)) == 10
    assert count(data=(csv_file, qa), data_limit=4) == 8
    assert {e.question.split()[0] for e in gather(
        TrainRequest(data=(csv_file,), data_limit=6, use_seed=False, use_feedback=False),
        store)} == {"a", "b", "c"}


def test_data_with_no_questions_to_hold_out_is_refused_before_training() -> None:
    tone = [Example(f"hi there {i}", f"Hello! {i}", kind="bitext") for i in range(50)]
    with pytest.raises(InputError, match="pass --eval FILE"):
        split(TrainRequest(data=(Path("bitext.csv"),)), load_seed() + tone)
    train, held = split(TrainRequest(data=(Path("bitext.csv"),),
                                     eval_items=[QAItem("q?", "a.")]), tone)
    assert len(train) == 50 and len(held) == 1
