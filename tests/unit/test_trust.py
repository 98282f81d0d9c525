"""Trust metrics: invented facts, key facts, answerable declines, unfinished sentences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.core.types import Answer
from knowledge.errors import InputError
from knowledge.prompts import IDK_REPLY
from tests.fakes import make_source
from training.evaluate import QAItem, aggregate, load_qa
from training.trust import ends_mid_sentence, has_key_facts, invented_facts

CHUNK = "Business: 300 requests per minute per token. Email api@orbitask.example for more."


def test_invented_facts_are_numbers_and_contacts_no_chunk_nor_the_question_holds() -> None:
    assert invented_facts("Business allows 10 requests per minute [1].", [CHUNK], "q") == {"10"}
    assert invented_facts("Write to help@other.example.", [CHUNK], "q") == {"help@other.example"}
    assert invented_facts("Business allows 300, email api@orbitask.example [1].", [CHUNK],
                          "q") == set()
    assert invented_facts("More than 45 requests?", [CHUNK], "Can I send 45?") == set()


def test_a_step_number_run_into_the_text_is_no_invented_number() -> None:
    answer = "Open Game Mode [1]. 4. Click Game Mode Settings [1]. It takes 2 minutes [1]."
    assert invented_facts(answer, ["Game Mode\nClick Game Mode Settings."], "How?") == {"2"}


@pytest.mark.parametrize(("text", "facts", "expected"), [
    ("The Team plan costs $8 per member [1].", ["$8"], True),
    ("Business workspaces get 10000 runs [1].", ["10,000"], True),
    ("Go to Workspace settings > Billing > Invoices [1].",
     ["Workspace settings > Billing > Invoices"], True),
    ("Yes, you can pay with PayPal [1].", ["yes", "PayPal"], True),
    ("No, a credit card is not needed [1].", ["no"], True),
    ("Your data is never deleted because of a failed payment [1].", ["no"], True),
    ("You can pay by card [1].", ["PayPal"], False),
    (IDK_REPLY, ["yes"], False),
])
def test_key_facts(text: str, facts: list[str], expected: bool) -> None:
    assert has_key_facts(text, facts) is expected


def test_no_key_facts_scores_nothing() -> None:
    assert has_key_facts("Anything.", []) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("Refunds take 30 days [1]. If you", True),
    ("Refunds take 30 days [1].", False),
    ("Refunds take 30 days. [1]", False),
    ("Steps:\n1. Open Billing.", False),
])
def test_ends_mid_sentence(text: str, expected: bool) -> None:
    assert ends_mid_sentence(text) is expected


def test_aggregate_reports_the_trust_metrics() -> None:
    items = [QAItem("Rate limit on Business?", "300.", "api.md", facts=("300",)),
             QAItem("Rate limit on Free?", "100.", "api.md", facts=("100",)),
             QAItem("Linux app?", "No.", None, answerable=False)]
    source = make_source(1, "api.md", CHUNK)
    answers = [Answer("Business allows 300 requests per minute [1].", (source,), 1.0, "m",
                      None, items[0].question),
               Answer("Free allows 60 requests [1]. If you", (source,), 1.0, "m", None,
                      items[1].question),
               Answer(IDK_REPLY, (), 1.0, "m", None, items[2].question)]
    scores = aggregate(items, answers)
    assert scores.invented == 1 and scores.key_facts == 0.5
    assert scores.answerable_declined == 0.0 and scores.mid_sentence == 1


def test_qa_files_may_name_key_facts(tmp_path: Path) -> None:
    good = tmp_path / "qa.jsonl"
    good.write_text(json.dumps({"question": "Q?", "answer": "A.", "facts": ["$8"]}) + "\n")
    assert load_qa(good)[0].facts == ("$8",)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "Q?", "answer": "A.", "facts": "$8"}) + "\n")
    with pytest.raises(InputError, match="'facts' must be a list"):
        load_qa(bad)
