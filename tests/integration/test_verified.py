"""Verified answers (issue 26, first part): a correction is served at once for the question
and its paraphrases, before the model, and retracting it gives the question back to the model
(real MiniLM embeddings, the four-topic corpus; the chat model is a fake)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app, main
from bot.runtime import Runtime
from knowledge.verified import VERIFIED_NOTE
from tests.fakes import FakeChatModel
from training.feedback import redact

MODEL_TEXT = "Annual subscriptions can be refunded in full within 30 days of purchase [1]."
CORRECTION = "You can get a full refund within 30 days; email billing@orbitask.example."


@pytest.fixture()
def cli(make_runtime: Callable[..., Any], corpus: Path, embed_model: Any
        ) -> Callable[..., dict[str, Any]]:
    make_runtime().refresh([corpus], kind="ingest")

    def build(settings: Any) -> Runtime:
        return Runtime(settings, embed_model=embed_model,
                       chat_loader=lambda spec: FakeChatModel(MODEL_TEXT))

    def run(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(app, [*args, "--json"], obj=build)
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    return run


def test_a_correction_is_served_for_paraphrases_until_it_is_retracted(
    cli: Callable[..., dict[str, Any]]
) -> None:
    first = cli("ask", "How long do I have to get a refund on an annual subscription?")
    assert first["verified"] is False and first["answer"].startswith("Annual subscriptions")
    verified = cli("correct", str(first["message_id"]), CORRECTION)
    assert verified["message_id"] == first["message_id"]
    again = cli("ask", "How long do I have to get a refund on my annual subscription?")
    assert again["verified"] is True
    assert again["answer"] == f"{CORRECTION}\n\n{VERIFIED_NOTE}" and again["sources"]
    other = cli("ask", "How do I turn on two-factor authentication?")
    assert other["verified"] is False  # another question: the model answers
    listed = cli("verified", "list")["verified"]
    assert [(v["id"], v["answer"]) for v in listed] == [(verified["verified_id"], CORRECTION)]
    cli("verified", "retract", str(verified["verified_id"]))
    back = cli("ask", "How long do I have to get a refund on an annual subscription?")
    assert back["verified"] is False and cli("verified", "list")["verified"] == []


def test_approving_an_answer_as_it_is_and_bad_input(
    cli: Callable[..., dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    first = cli("ask", "How long do I have to get a refund on an annual subscription?")
    cli("correct", str(first["message_id"]), "--approve")
    served = cli("ask", "How long do I have to get a refund on an annual subscription?")
    assert served["verified"] is True and served["answer"].startswith(MODEL_TEXT)
    for args, says in ((["correct", "999999", "text"], "is not an answer to a question"),
                       (["correct", str(first["message_id"])], "--approve"),
                       (["verified", "retract", "424242"], "no verified answer")):
        with pytest.raises(SystemExit) as exited:
            main(args, build=Runtime)
        assert exited.value.code == 2, args
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err, args


def test_a_correction_is_training_data_weighted_above_a_vote(
    cli: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    first = cli("ask", "How long do I have to get a refund on an annual subscription?")
    cli("correct", str(first["message_id"]), CORRECTION)
    out = tmp_path / "feedback.jsonl"
    exported = cli("feedback", "export", "--out", str(out))
    assert exported["examples"] == 2  # no votes yet: the correction, twice
    records = [json.loads(line) for line in out.read_text().splitlines()]
    # redacted like every training example (a correction may quote a customer's address), and
    # cited like every RAFT target: "… email [email] [1]."
    taught = redact(CORRECTION).rstrip(".")
    assert all(r["messages"][-1]["content"].startswith(taught) for r in records)
    assert "[email]" in taught
