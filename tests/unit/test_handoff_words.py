"""Asking for a person in words: requests are recognised, product questions that merely
contain "person", "agent" or "human" are not."""

from __future__ import annotations

import pytest

from bot.core.handoff_words import asks_for_human, normalise

REQUESTS = [
    "talk to a human", "Can I speak to an agent?", "real person please", "human", "Agent",
    "person", "HUMAN!!", "Agent, please", "hi, operator", "I want a human",
    "I need to talk to a real person", "connect me with support",
    "transfer me to an agent please", "can I talk to someone about my invoice?",
    "This is useless. Human!", "I would like to speak with a representative",
    "let me talk to a person", "is there a live person I can chat with?", "Talk to human",
    "speak to customer service", "get me a human", "escalate to a human", "a real person",
    "I don't want a bot, I want a human", "Can I talk to somebody?",
    "Could I speak with someone from your team?", "human please", "Operator!",
    "can I get a human", "I’d like to talk to a person",
]

QUESTIONS = [
    "how many persons can share a plan", "what is the agent setting?",
    "How do I add a person to my workspace?", "Can an agent see my tickets?",
    "how do I talk to my teammates in Orbitask?", "Is the human resources template available?",
    "What does the support agent role do?", "can I transfer a task to another person",
    "How do agents chat with customers?", "how do I chat with someone in my workspace",
    "How can I chat with a team member in Orbitask?", "can I transfer it to someone else?",
    "Who can see my tasks?", "Does the free plan include live chat?",
    "how do I assign a task to someone", "What is a person field?",
    "how do I mention someone in a comment", "can people outside my team view a project",
    "How do I invite people", "Can I talk to the API from Python?",
    "What happens when an agent goes offline?", "How many agents can I add?",
    "Is human review required for approvals?", "", "   ", "human " * 400,
]


@pytest.mark.parametrize("text", REQUESTS)
def test_a_request_for_a_person_is_recognised(text: str) -> None:
    assert asks_for_human(text)


@pytest.mark.parametrize("text", QUESTIONS)
def test_a_question_that_mentions_people_is_not_a_request(text: str) -> None:
    assert not asks_for_human(text)


def test_normalise_keeps_words_only() -> None:
    assert normalise("  Can I   speak to an AGENT?!  ") == "can i speak to an agent"
    assert normalise("I’d like a human.") == "id like a human"
