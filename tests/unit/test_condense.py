"""Follow-up questions become standalone retrieval queries."""

from __future__ import annotations

import pytest

from bot.core.types import Turn
from knowledge.engine import condense

HISTORY = (Turn("user", "What does the Pro plan include?"),
           Turn("assistant", "Unlimited boards and priority support [1]."))


@pytest.mark.parametrize("follow_up", [
    "and how much does that cost?",
    "What about the Enterprise plan?",
    "Does it include SSO?",
    "how do I cancel them",
])
def test_follow_up_is_joined_with_the_previous_user_question(follow_up: str) -> None:
    assert condense(follow_up, HISTORY) == f"What does the Pro plan include? {follow_up}"


def test_uses_the_latest_user_turn_not_the_assistant_turn() -> None:
    history = (*HISTORY, Turn("user", "How do refunds work?"), Turn("assistant", "Email us."))
    assert condense("and how long does that take?", history) == (
        "How do refunds work? and how long does that take?"
    )


def test_standalone_question_is_unchanged() -> None:
    assert condense("How do I turn on two-factor authentication?", HISTORY) == (
        "How do I turn on two-factor authentication?"
    )


def test_no_history_means_no_condensing() -> None:
    assert condense("and how much does that cost?", ()) == "and how much does that cost?"
    assert condense("and that?", (Turn("assistant", "Hello!"),)) == "and that?"


def test_long_questions_stand_alone() -> None:
    long = ("and can you explain in detail how the per member price changes when I add "
            "twenty new members in the middle of a billing month")
    assert len(long.split()) > 14
    assert condense(long, HISTORY) == long
