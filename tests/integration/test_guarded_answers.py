"""The engine's grounding guard and security check over the tiny corpus, with scripted models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from knowledge.engine import CONTACT_REPLY, SECRET_REPLY
from knowledge.prompts import IDK_REPLY, says_dont_know
from knowledge.security import CONTACT_REASON, SECRET_REASON
from tests.fakes import FakeChatModel

REFUND_Q = "How long do I have to get a refund on an annual subscription?"


def test_a_wrong_number_next_to_the_right_citation_never_reaches_the_user(
    engine_for: Callable[..., Any]
) -> None:
    answer = engine_for(FakeChatModel(
        "Annual subscriptions can be refunded in full within 365 days of purchase [1]."
    )).answer(REFUND_Q)
    assert "365" not in answer.text
    assert "30 days" in answer.text and answer.grounded
    assert answer.cited_sources()[0].source == "refunds.md"


def test_a_sentence_with_an_invented_name_is_dropped_and_the_rest_kept(
    engine_for: Callable[..., Any]
) -> None:
    answer = engine_for(FakeChatModel(
        "Annual subscriptions can be refunded in full within 30 days of purchase [1]. "
        "The Crono tool files it for you [1]."
    ), quote=False).answer(REFUND_Q)
    assert answer.text == ("Annual subscriptions can be refunded in full within 30 days of "
                           "purchase [1].")


def test_an_answer_with_nothing_grounded_left_declines_and_offers_a_human(
    engine_for: Callable[..., Any]
) -> None:
    engine = engine_for(FakeChatModel("It costs 99 euros with PayPawn [1]."), quote=False)
    answer = engine.answer(REFUND_Q)
    assert answer.text == IDK_REPLY and not answer.grounded
    assert "support team" in answer.text


def test_with_nothing_grounded_the_documents_closest_sentence_answers(
    engine_for: Callable[..., Any]
) -> None:
    answer = engine_for(FakeChatModel("It costs 99 euros with PayPawn [1].")).answer(REFUND_Q)
    assert answer.grounded and "99" not in answer.text
    assert answer.text == ("Annual subscriptions can be refunded in full within 30 days of "
                           "purchase [1]. Monthly subscriptions are not refundable, but you can "
                           "cancel at any time and keep access until the end of the billing "
                           "month [1].")  # the two closest sentences, in the document's order


def test_the_passage_that_answers_leads_and_the_model_keeps_only_what_it_adds(
    engine_for: Callable[..., Any]
) -> None:
    answer = engine_for(FakeChatModel(
        "Yes, you can get a refund on an annual subscription [1]. Monthly subscriptions are "
        "not refundable [1]. Refunds are returned to the original card within 5 to 10 business "
        "days [1].")).answer(REFUND_Q)
    assert answer.text.startswith("Annual subscriptions can be refunded in full within 30 days "
                                  "of purchase [1]. Monthly subscriptions are not refundable, ")
    assert answer.text.endswith("billing month [1]. Refunds are returned to the original card "
                                "within 5 to 10 business days [1].")
    assert "Yes" not in answer.text  # restating the question adds nothing a customer can use


def test_a_passage_that_answers_is_shown_before_the_model_writes(
    engine_for: Callable[..., Any]
) -> None:
    shown: list[str] = []
    model = FakeChatModel("Refunds are returned to the original card within 5 to 10 business "
                          "days [1].")
    answer = engine_for(model).answer(REFUND_Q, on_text=shown.append)
    assert shown[0].startswith("Annual subscriptions can be refunded in full within 30 days")
    assert len(shown) == 2 and answer.text == shown[-1]
    assert shown[-1] == (f"{shown[0]} Refunds are returned to the original card within 5 to 10 "
                         "business days [1].")


def test_a_question_about_a_product_no_chunk_names_is_declined_without_the_model(
    engine_for: Callable[..., Any]
) -> None:
    model = FakeChatModel("Yes, Orbitask integrates with Salesforce [1].")
    answer = engine_for(model).answer("Can I get a refund through Salesforce?")
    assert answer.text == IDK_REPLY and not answer.grounded
    assert model.history == []


def test_a_name_that_another_document_holds_does_not_decline_the_question(
    engine_for: Callable[..., Any]
) -> None:
    model = FakeChatModel("Annual subscriptions can be refunded within 30 days [1].")
    question = "Can we get a refund on an annual subscription if we use SSO?"
    answer = engine_for(model, top_k=1).answer(question)
    assert "sso" not in answer.sources[0].text.lower()  # the pricing page names SSO
    assert model.history and "30 days" in answer.text


def test_an_answer_asking_for_a_password_is_blocked_and_flagged(
    engine_for: Callable[..., Any]
) -> None:
    answer = engine_for(FakeChatModel(
        "To get a refund, email your account password to billing@orbitask.example [1]."
    )).answer(REFUND_Q)
    assert answer.text == SECRET_REPLY and answer.security == SECRET_REASON
    assert not answer.grounded and "password to" not in answer.text


def test_an_answer_naming_an_unknown_contact_point_is_blocked_and_flagged(
    engine_for: Callable[..., Any]
) -> None:
    answer = engine_for(FakeChatModel(
        "For refunds, write to refunds@orbitask-payments.com within 30 days [1]."
    )).answer(REFUND_Q)
    assert answer.text == CONTACT_REPLY
    assert answer.security.startswith(CONTACT_REASON)
    assert "refunds@orbitask-payments.com" in answer.security


def test_an_invented_link_is_an_unknown_contact_point(engine_for: Callable[..., Any]) -> None:
    answer = engine_for(FakeChatModel(
        "Annual subscriptions can be refunded in full within 30 days of purchase [1]. "
        "See bit.ly/refund-now for the form [1]."
    )).answer(REFUND_Q)
    assert answer.text == CONTACT_REPLY and "bit.ly/refund-now" in answer.security


def test_a_trusted_contact_point_is_answered(engine_for: Callable[..., Any]) -> None:
    answer = engine_for(FakeChatModel(
        "Email billing@orbitask.example and include the invoice number [1]."
    )).answer("How do I request a refund?")
    assert answer.security == "" and "billing@orbitask.example" in answer.text


def test_an_answer_cut_by_the_token_cap_ends_at_its_last_full_sentence(
    engine_for: Callable[..., Any]
) -> None:
    answer = engine_for(FakeChatModel(
        "Annual subscriptions can be refunded in full within 30 days of purchase [1]. If you"
    ), quote=False).answer(REFUND_Q)
    assert answer.text.endswith("purchase [1].")


def test_a_streamed_answer_shows_only_guarded_sentences_and_ends_as_stored(
    engine_for: Callable[..., Any]
) -> None:
    shown: list[str] = []
    answer = engine_for(FakeChatModel(
        "Annual subscriptions can be refunded in full within 30 days of purchase [1]. "
        "The Crono tool files it for you [1]. Monthly subscriptions are not refundable [1]."
    ), quote=False).answer(REFUND_Q, on_text=shown.append)
    assert shown == [
        "Annual subscriptions can be refunded in full within 30 days of purchase [1].",
        "Annual subscriptions can be refunded in full within 30 days of purchase [1]. "
        "Monthly subscriptions are not refundable [1]."]  # the invented name never shown
    assert answer.text == shown[-1]


def test_a_streamed_answer_that_turns_out_unsafe_shows_nothing_of_it(
    engine_for: Callable[..., Any]
) -> None:
    shown: list[str] = []
    answer = engine_for(FakeChatModel(
        "To get a refund, email your account password to billing@orbitask.example [1]."
    )).answer(REFUND_Q, on_text=shown.append)
    assert answer.text == SECRET_REPLY
    assert not any("password" in text for text in shown)  # at most the documents' passage


def test_a_sentence_that_answers_alone_outweighs_a_low_chunk_relevance(
    engine_for: Callable[..., Any]
) -> None:
    strict = engine_for(FakeChatModel("I don't know."), min_relevance=0.99)  # no chunk passes
    answer = strict.answer(REFUND_Q)
    assert answer.grounded and "within 30 days of purchase [1]" in answer.text
    assert says_dont_know(strict.answer("What's a good recipe for banana bread?").text)


def test_a_grounded_sentence_about_something_else_is_left_out(
    engine_for: Callable[..., Any]
) -> None:
    shown: list[str] = []
    answer = engine_for(FakeChatModel(
        "Annual subscriptions can be refunded in full within 30 days of purchase [1]. "
        "Exports of large workspaces can take up to an hour to prepare [3]."
    )).answer(REFUND_Q, on_text=shown.append)
    assert "within 30 days of purchase [1]" in answer.text and answer.grounded
    assert "Exports" not in answer.text and not any("Exports" in text for text in shown)
