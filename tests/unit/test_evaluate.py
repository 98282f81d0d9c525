"""Evaluation metrics, aggregation and the promotion gate, on hand-made cases (no models)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from bot.core.types import Answer, Source
from knowledge.errors import InputError
from knowledge.prompts import IDK_REPLY
from training.evaluate import (
    QAItem,
    Scores,
    citation_correct,
    faithfulness,
    gate,
    load_qa,
    percentile,
    rouge_l_f1,
    says_idk,
    score,
    split_heldout,
    token_f1,
    tone_score,
)

REF = "Annual subscriptions can be refunded within 30 days of purchase."
CONTEXT = ("[1] Refunds (billing/refunds.md)\nAnnual subscriptions can be refunded within 30 "
           "days of purchase. Monthly plans are not refunded.")
SOURCES = tuple(
    Source(id=f"c{n}", source=path, title=f"T{n}", score=0.5, text="x")
    for n, path in enumerate(("billing/refunds.md", "accounts/2fa.md", "pricing/plans.md"), 1)
)


def make_answer(text: str, latency_ms: float = 10.0, context: str = CONTEXT) -> Answer:
    return Answer(text=text, sources=SOURCES, latency_ms=latency_ms, model="m", adapter=None,
                  query="q", context=context)


def make_scores(**changes: Any) -> Scores:
    base = Scores(n=10, rougeL_f1=0.4, token_f1=0.4, citation_accuracy=0.8,
                  citation_precision=0.7, faithfulness=0.9,
                  idk_precision=0.75, idk_recall=0.6, tone=0.8, latency_p50_ms=100.0,
                  latency_p95_ms=200.0)
    return dataclasses.replace(base, **changes)


# --- text overlap -------------------------------------------------------------------------

def test_perfect_answer_scores_one_and_empty_answer_zero() -> None:
    assert rouge_l_f1(REF, REF) == pytest.approx(1.0)
    assert token_f1(REF, REF) == pytest.approx(1.0)
    assert rouge_l_f1("", REF) == 0.0
    assert token_f1("", REF) == 0.0


def test_token_f1_ignores_case_punctuation_and_articles() -> None:
    assert token_f1("the REFUND window: 30 days!", "Refund window 30 days") == pytest.approx(1.0)
    # 2 shared tokens of 3 predicted and 4 reference: P=2/3, R=1/2 → F1 = 4/7
    assert token_f1("refund 30 weeks", "refund within 30 days") == pytest.approx(4 / 7)


def test_partial_answer_lies_strictly_between() -> None:
    assert 0.0 < rouge_l_f1("Refunds within 30 days.", REF) < 1.0


# --- citations ----------------------------------------------------------------------------

def test_correct_citation() -> None:
    assert citation_correct(make_answer("Refunds within 30 days [1]."), "billing/refunds.md")


def test_hallucinated_citation_is_wrong_even_beside_a_correct_one() -> None:
    for text in ("Refunds [1], see also [7].", "Refunds [7].", "Refunds [0] and [1]."):
        assert citation_correct(make_answer(text), "billing/refunds.md") is False


def test_citing_the_wrong_source_or_none_is_wrong() -> None:
    assert citation_correct(make_answer("Use an app [2]."), "billing/refunds.md") is False
    assert citation_correct(make_answer("No markers."), "billing/refunds.md") is False


def test_no_reference_source_gives_none() -> None:
    assert citation_correct(make_answer("Refunds [1]."), None) is None


# --- faithfulness -------------------------------------------------------------------------

def test_supported_sentence_is_faithful_and_invented_one_is_not() -> None:
    assert faithfulness("Annual subscriptions are refunded within 30 days [1].", CONTEXT) == 1.0
    assert faithfulness("Lifetime licences include premium hardware shipping.", CONTEXT) == 0.0
    mixed = "Annual subscriptions can be refunded [1]. Lifetime licences include hardware."
    assert faithfulness(mixed, CONTEXT) == pytest.approx(0.5)


def test_faithfulness_of_empty_and_dont_know_answers() -> None:
    assert faithfulness("", CONTEXT) == 0.0
    assert faithfulness(IDK_REPLY, CONTEXT) == 1.0


# --- tone ---------------------------------------------------------------------------------

def test_good_answer_beats_a_looping_one() -> None:
    good = "Sure! Annual subscriptions can be refunded within 30 days of purchase [1]."
    looping = "The plan is the plan. " * 6
    assert tone_score(good) == 1.0
    assert tone_score(looping) < 0.7
    assert tone_score("") < tone_score(looping)


def test_the_decline_with_its_offer_of_a_person_scores_full_tone() -> None:
    assert tone_score(IDK_REPLY) == 1.0
    assert tone_score("I couldn't find that in our documentation.") == pytest.approx(0.8)


def test_tone_penalises_prompt_leakage() -> None:
    leaked = "Sure, refunds take 30 days [1]. Question: How do refunds work?"
    assert tone_score(leaked) == pytest.approx(0.8)
    assert tone_score("Sure, that's a great question: refunds take 30 days [1].") == 1.0


def test_says_idk_uses_the_prompt_rule() -> None:
    assert says_idk(IDK_REPLY)
    assert not says_idk("Refunds take 30 days [1].")


# --- aggregation --------------------------------------------------------------------------

ITEMS = [
    QAItem("How long for refunds?", REF, "billing/refunds.md"),
    QAItem("Is there a Linux app?", IDK_REPLY, None, answerable=False),
    QAItem("Where is the head office?", IDK_REPLY, None, answerable=False),
    QAItem("How do I set up 2FA?", "Scan the QR code.", "accounts/2fa.md"),
]
REPLIES = {  # one correct answer, one right "don't know", one invented answer, one wrong "idk"
    ITEMS[0].question: make_answer(REF + " [1]", latency_ms=10.0),
    ITEMS[1].question: make_answer(IDK_REPLY, latency_ms=20.0, context=""),
    ITEMS[2].question: make_answer("Our office is in Paris [3].", latency_ms=30.0),
    ITEMS[3].question: make_answer(IDK_REPLY, latency_ms=40.0),
}


def test_score_computes_idk_precision_recall_and_latency() -> None:
    seen: list[tuple[int, int]] = []
    scores = score(ITEMS, lambda item: REPLIES[item.question],
                   progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert scores.n == 4
    assert scores.idk_precision == pytest.approx(0.5)  # 2 "don't know", 1 on unanswerable
    assert scores.idk_recall == pytest.approx(0.5)  # 2 unanswerable, 1 declined
    assert scores.citation_accuracy == pytest.approx(0.5)  # item 0 right, item 3 uncited
    assert scores.citation_precision == pytest.approx(0.5)
    assert scores.counts["citation_precision"] == 2
    assert scores.latency_p50_ms == pytest.approx(25.0)
    assert scores.latency_p95_ms == pytest.approx(38.5)
    assert scores.faithfulness is not None and 0.0 < scores.faithfulness < 1.0
    assert scores.as_dict()["n"] == 4


def test_score_leaves_metrics_without_data_as_none() -> None:
    items = [QAItem("How long for refunds?", REF)]
    scores = score(items, lambda _: make_answer(REF, context=""))
    assert scores.citation_accuracy is None and scores.citation_precision is None
    assert scores.faithfulness is None
    assert scores.idk_precision is None and scores.idk_recall is None
    assert scores.rougeL_f1 == pytest.approx(1.0)


def test_score_refuses_no_items() -> None:
    with pytest.raises(InputError):
        score([], lambda _: make_answer(REF))


def test_percentile_interpolates() -> None:
    assert percentile([5.0], 95) == 5.0
    assert percentile([40.0, 10.0, 30.0, 20.0], 50) == pytest.approx(25.0)


# --- gate ---------------------------------------------------------------------------------

def test_gate_refuses_a_worse_candidate_and_names_the_metric() -> None:
    result = gate(make_scores(rougeL_f1=0.30), make_scores())
    assert not result.promoted
    assert len(result.reasons) == 1 and "rougeL_f1" in result.reasons[0]


def test_gate_refuses_a_drop_in_idk_precision() -> None:
    result = gate(make_scores(idk_precision=0.5), make_scores())
    assert not result.promoted and "idk_precision" in result.reasons[0]


def test_gate_accepts_equal_better_or_within_margin() -> None:
    assert gate(make_scores(), make_scores()).promoted
    assert gate(make_scores(rougeL_f1=0.5, citation_accuracy=0.9), make_scores()).promoted
    within = gate(make_scores(rougeL_f1=0.385, idk_recall=0.59), make_scores(), margin=0.02)
    assert within.promoted and within.reasons == []
    assert within.as_dict()["candidate"]["rougeL_f1"] == pytest.approx(0.385)


def test_citation_precision_divides_credit_among_the_documents_cited() -> None:
    from training.evaluate import citation_precision

    ref = "billing/refunds.md"
    assert citation_precision(make_answer("Refunds take 30 days [1]."), ref) == 1.0
    assert citation_precision(make_answer("Refunds [1]. 2FA [2]. Plans [3]."), ref) == \
        pytest.approx(1 / 3)
    assert citation_precision(make_answer("Refunds take 30 days [2]."), ref) == 0.0
    assert citation_precision(make_answer("Refunds take 30 days [1][7]."), ref) == 0.0
    assert citation_precision(make_answer("Refunds take 30 days."), ref) == 0.0
    assert citation_precision(make_answer("Refunds [1]."), None) is None


def test_gate_checks_citation_precision_not_cite_everything_accuracy() -> None:
    shotgun = make_scores(citation_accuracy=0.9, citation_precision=0.4)
    precise = make_scores(citation_accuracy=0.6, citation_precision=0.6)
    assert gate(precise, shotgun).promoted
    refused = gate(shotgun, precise)
    assert not refused.promoted and "citation_precision" in refused.reasons[0]


def test_gate_skips_metrics_missing_on_either_side() -> None:
    assert gate(make_scores(citation_precision=None),
                make_scores(citation_precision=1.0)).promoted


# --- data ---------------------------------------------------------------------------------

def test_split_heldout_is_deterministic_and_disjoint() -> None:
    items = [QAItem(f"Question number {i}?", f"Answer {i}.") for i in range(200)]
    train, heldout = split_heldout(items, share=0.2, seed=3)
    assert (train, heldout) == split_heldout(items, share=0.2, seed=3)
    train_rev, heldout_rev = split_heldout(items[::-1], share=0.2, seed=3)
    assert heldout_rev == heldout[::-1] and train_rev == train[::-1]  # order-independent
    assert {i.question for i in train}.isdisjoint(i.question for i in heldout)
    assert len(train) + len(heldout) == 200
    assert 20 <= len(heldout) <= 60
    assert split_heldout(items, share=0.2, seed=4)[1] != heldout


def test_load_qa_reads_items_and_names_a_bad_line(tmp_path: Path) -> None:
    good = tmp_path / "qa.jsonl"
    good.write_text('{"question": "Q?", "answer": "A.", "source": "a.md"}\n\n'
                    '{"question": "Q2?", "answer": "No idea.", "answerable": false}\n')
    assert load_qa(good) == [QAItem("Q?", "A.", "a.md"), QAItem("Q2?", "No idea.", None, False)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "Q?", "answer": "A."}\n{"question": "Q?"}\n')
    with pytest.raises(InputError, match=r"bad\.jsonl:2"):
        load_qa(bad)


def test_load_qa_says_how_to_fix_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.jsonl: cannot read .*check the path"):
        load_qa(tmp_path / "missing.jsonl")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match=r"not UTF-8 text"):
        load_qa(binary)


def test_load_qa_reads_the_sample_set() -> None:
    items = load_qa(Path(__file__).parents[2] / "knowledge/sample/qa.jsonl")
    assert len(items) > 50 and any(not item.answerable for item in items)


def test_gate_allows_one_answers_worth_of_noise_on_small_rates() -> None:
    six = {"idk_precision": 6, "idk_recall": 6, "citation_accuracy": 6}
    one_flip = make_scores(idk_precision=0.5 - 1 / 6, counts=six)
    assert gate(one_flip, make_scores(idk_precision=0.5, counts=six)).promoted
    two_flips = make_scores(idk_precision=0.5 - 2 / 6, counts=six)
    refused = gate(two_flips, make_scores(idk_precision=0.5, counts=six))
    assert not refused.promoted and "idk_precision" in refused.reasons[0]


def test_the_report_keeps_every_answer_beside_its_reference(tmp_path: Path) -> None:
    import json

    from training.report import run_configs, write_report

    items = [QAItem("Refunds?", REF, "billing/refunds.md"),
             QAItem("Linux app?", "No.", None, False)]
    replies = {"Refunds?": make_answer(REF + " [1]"), "Linux app?": make_answer(IDK_REPLY)}
    run = run_configs(items, {"base+rag": lambda item: replies[item.question]})
    md, _ = write_report(run, tmp_path, {"qa_file": "inline"})
    rows = [json.loads(line) for line in md.with_suffix(".answers.jsonl").read_text().split("\n")
            if line]
    assert [r["reference"] for r in rows] == [REF, "No."]
    assert rows[0]["configs"]["base+rag"]["cited"] == ["billing/refunds.md"]
    assert rows[0]["configs"]["base+rag"]["shown"] == [s.source for s in SOURCES]
    assert rows[1]["configs"]["base+rag"]["says_idk"] is True
    assert run.scores["base+rag"].citation_accuracy == 1.0
