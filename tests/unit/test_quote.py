"""Quoting the retrieved sentences closest to the question (``knowledge.quote``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from knowledge.engine import passage, with_quote, without_restated
from knowledge.facts import SourceSentence, source_structure
from knowledge.quote import Quote, Quoter, rare_word_share


class AxisEmbedder:
    """Embeds a sentence on the axes of the topic words it holds (deterministic, no model)."""

    TOPICS = ("refund", "invoice", "seat")

    def __init__(self) -> None:
        self.calls = 0

    def get_text_embedding_batch(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        return [[float(t in s.lower()) + 0.01 for t in self.TOPICS] for s in texts]


REFUND = [1.0, 0.0, 0.0]
ASK = "How do I get a refund?"
CHUNKS = [("Billing", "Invoices are emailed monthly to the billing contact. Refund requests go "
           "to billing within 30 days. Seats are billed per member each month."),
          ("Cards", "A refund is paid back to the original card. Seats are billed per member "
           "each month.")]


def test_the_best_sentence_comes_first_with_its_better_neighbour_then_a_close_runner_up() -> None:
    quotes = Quoter(AxisEmbedder()).best(REFUND, ASK, CHUNKS, limit=3)
    assert [q.sentence[:14] for q in quotes] == ["Refund request", "Invoices are e",
                                                 "A refund is pa"]
    assert quotes[0].similarity == quotes[2].similarity  # equal topic: the higher chunk wins
    assert [q.chunk for q in quotes] == [0, 0, 1]
    assert len(Quoter(AxisEmbedder()).best(REFUND, ASK, CHUNKS, limit=2)) == 2
    assert Quoter(AxisEmbedder()).best(REFUND, ASK, CHUNKS, limit=0) == []


def test_a_runner_up_that_repeats_the_best_sentence_is_not_quoted() -> None:
    chunks = [("Reset", "The refund link is valid for 60 minutes and can be used once."),
              ("Login", "The refund link is valid for 60 minutes.")]
    quotes = Quoter(AxisEmbedder()).best(REFUND, ASK, chunks, limit=3)
    assert [q.chunk for q in quotes] == [0]


def test_a_runner_up_far_below_the_best_is_not_quoted() -> None:
    chunks = [("Billing", "Refund requests go to billing within 30 days."),
              ("Seats", "Seats are billed per member each month.")]
    quotes = Quoter(AxisEmbedder()).best(REFUND, ASK, chunks, limit=3)
    assert [q.sentence[:14] for q in quotes] == ["Refund request"]


def test_a_chunk_title_tells_which_list_item_answers() -> None:
    chunks = [("Plans", "Paid plans cost more per month."),
              ("Seat limits", "Up to 10 members on Free.")]
    quotes = Quoter(AxisEmbedder()).best([0.0, 0.0, 1.0], "How many?", chunks, limit=1)
    assert quotes[0].sentence == "Up to 10 members on Free."  # only its title names seats


def test_rare_question_words_weigh_more_than_common_ones() -> None:
    share = rare_word_share("Can we pay by bank wire?", [
        "You can pay by card.", "You can pay by card or PayPal.", "Wire transfer is available."])
    assert share[2] > share[0] == share[1] > 0
    assert np.allclose(rare_word_share("", ["Anything at all."]), 0.0)


def test_sentences_are_embedded_once() -> None:
    embedder = AxisEmbedder()
    quoter = Quoter(embedder)
    quoter.best(REFUND, ASK, CHUNKS)
    quoter.best(REFUND, ASK, CHUNKS)
    assert embedder.calls == 3  # sentences, headings, "title: sentence"; never again


def test_quotes_that_do_not_lead_follow_the_answer_in_document_order() -> None:
    quotes = [Quote(1, "A refund is paid back to the original card.", 0.5, order=2),
              Quote(0, "Refund requests go to billing within 30 days.", 0.5, order=1)]
    text, grounded = with_quote("Refund requests go to billing within 30 days [1].", True, quotes)
    assert grounded and text == ("Refund requests go to billing within 30 days [1]. A refund is "
                                 "paid back to the original card [2].")
    text, _ = with_quote("You can ask for one by email [1].", True, quotes[::-1])
    assert text == ("You can ask for one by email [1]. Refund requests go to billing within 30 "
                    "days [1]. A refund is paid back to the original card [2].")


def test_a_close_passage_leads_and_the_answer_keeps_only_what_it_adds() -> None:
    quotes = [Quote(0, "Refund requests go to billing within 30 days.", 0.8, order=1)]
    text, grounded = with_quote("Yes, you can get a refund [1]. Refund requests go to billing "
                                "within 30 days [1]. We are happy to help [1].", True, quotes,
                                "Can I get a refund?")
    assert grounded and text == ("Refund requests go to billing within 30 days [1]. We are "
                                 "happy to help [1].")


def test_a_declined_answer_becomes_the_quotes_only_when_they_are_close() -> None:
    close = [Quote(0, "Refund requests go to billing within 30 days.", 0.8)]
    assert with_quote("I don't know.", False, close) == (
        "Refund requests go to billing within 30 days [1].", True)
    far = [Quote(0, "Refund requests go to billing within 30 days.", 0.3)]
    assert with_quote("I don't know.", False, far) == ("I don't know.", False)
    assert with_quote("I don't know.", False, []) == ("I don't know.", False)


def test_a_quote_the_answer_rewords_with_other_facts_is_still_quoted() -> None:
    quote = Quote(0, "Downgrades, such as Business to Team, take effect at the end of the period.",
                  0.7)
    assert not quote.covered_by("Upgrades, such as Business to Team, take effect at once.")
    assert quote.covered_by("Downgrades from Business to Team take effect at the period's end.")
    assert not Quote(0, "Business: 10,000 runs per month.", 0.7).covered_by(
        "Business gets 10 runs per month.")


def test_a_declined_answer_becomes_the_quotes_when_their_score_is_high() -> None:
    quote = Quote(0, "Wire transfer is available for annual plans.", 0.5, score=1.2)
    assert with_quote("I don't know.", False, [quote]) == (
        "Wire transfer is available for annual plans [1].", True)
    low = Quote(0, "Wire transfer is available for annual plans.", 0.5, score=0.9)
    assert with_quote("I don't know.", False, [low]) == ("I don't know.", False)


def test_sentences_that_only_restate_the_question_are_dropped() -> None:
    question = "Can I sync changes from Google Calendar back on the Free plan?"
    answer = ("Yes, you can sync changes from Google Calendar back on the Free plan [1].\n"
              "1. Open Settings [1].\nOne-way sync works on all plans [1].")
    assert without_restated(answer, question) == (
        "1. Open Settings [1].\nOne-way sync works on all plans [1].")
    assert without_restated("Yes [1].", question) == "Yes [1]."  # nothing restated
    assert without_restated("You can sync it back within 30 days [1].", question) == (
        "You can sync it back within 30 days [1].")  # a fact the question does not hold
    rules = "Cannot be the same as any of your last 5 passwords."
    assert without_restated("It cannot be any of your last five passwords [1].", rules) == ""
    assert without_restated("It cannot be any of your last six passwords [1].", rules) == (
        "It cannot be any of your last six passwords [1].")  # another number


RULES = """# Passwords

Pick a strong one.

## Password requirements

Your password must follow these rules:

- At least 10 characters.
- Cannot be the same as any of your last 5 passwords.
- Should not be a password you use elsewhere.

## Refund rules

A refund is paid back to the original card within 10 days.
"""


def test_a_chunk_sentence_knows_its_heading_and_its_list() -> None:
    lines = source_structure(RULES)
    assert lines[0] == SourceSentence("Pick a strong one.")  # under the title only
    assert lines[1] == SourceSentence("Your password must follow these rules:",
                                      "Password requirements", intro=1)
    assert [s.item for s in lines[2:5]] == [1, 1, 1]
    assert lines[5].heading == "Refund rules" and not lines[5].item


def test_a_list_whose_item_answers_is_quoted_whole_with_its_introduction() -> None:
    quotes = Quoter(AxisEmbedder()).best([0.0, 0.0, 1.0], "What are the password rules?",
                                         [("Passwords", RULES.replace("10 characters",
                                                                      "10 characters per seat"))])
    assert quotes[0].sentence == "At least 10 characters per seat."  # the best comes first
    assert len(quotes) == 4 and [q.listed for q in quotes].count(True) == 3
    assert passage(quotes).split("\n") == [
        "Your password must follow these rules [1]:", "- At least 10 characters per seat [1].",
        "- Cannot be the same as any of your last 5 passwords [1].",
        "- Should not be a password you use elsewhere [1]."]


def test_a_list_item_of_two_words_is_a_sentence_and_a_line_of_two_is_not() -> None:
    steps = ("Monthly runs per workspace:\n\n- Free: 100\n- Business: 10,000\n\n"
             "Runs reset every month.\nSee also\n- For 14 days,")
    assert [s.text for s in source_structure(steps)] == [
        "Monthly runs per workspace:", "Free: 100", "Business: 10,000", "Runs reset every month."]


LIMITS = """Runs are counted per workspace. Monthly runs per workspace:

- Free: 100 runs
- Team: 1,000 runs
- Refund: 10,000 runs
- Enterprise: unlimited runs
"""


def test_a_long_list_is_excerpted_as_its_introduction_and_best_item() -> None:
    quotes = Quoter(AxisEmbedder()).best(REFUND, "How many refund runs?", [("Runs", LIMITS)])
    assert passage(quotes).split("\n") == ["Monthly runs per workspace [1]:",
                                           "- Refund: 10,000 runs [1]."]


def test_an_introduction_is_never_quoted_for_context_alone() -> None:
    text = "Refund requests go to billing within 30 days. Monthly runs per workspace:\n\n- Free"
    chunks = [("Refunds", text + ": 100 runs\n- Team: 1,000 runs\n- Business: 10,000 runs\n")]
    quotes = Quoter(AxisEmbedder()).best(REFUND, ASK, chunks)
    assert [q.sentence for q in quotes] == ["Refund requests go to billing within 30 days."]


def test_the_section_heading_tells_which_sentence_answers() -> None:
    chunks = [("Help", "## Refund window\n\nYou have 30 days.\n\n## Invoices\n\n"
                       "You have 12 invoices a year.")]
    quotes = Quoter(AxisEmbedder()).best(REFUND, "How long do I have?", chunks, limit=1)
    assert quotes[0].sentence == "You have 30 days."  # only its heading names refunds


SEAT_LIMITS = """Seats are billed per member each month.

## Seat limits

- **Free**: 10 seats
- **Team**: 50 seats
- **Business**: 500 seats
"""


def test_the_line_of_the_case_the_question_names_is_the_one_quoted() -> None:
    quotes = Quoter(AxisEmbedder()).best([0.0, 0.0, 1.0], "How many seats on Business?",
                                         [("Limits", SEAT_LIMITS)])
    said = passage(quotes)
    assert "500 seats" in said and "10 seats" not in said and "50 seats" not in said


def test_a_named_case_is_quoted_beside_a_better_sentence_when_its_list_is_about_the_question(
        ) -> None:
    ask = "How many seats on Business?"
    chunks = [("Seats", "Business seats are billed per member each month."),
              ("Limits", SEAT_LIMITS)]
    quotes = Quoter(AxisEmbedder()).best([0.0, 0.0, 1.0], ask, chunks, limit=2)
    assert [q.sentence for q in quotes] == ["Business seats are billed per member each month.",
                                            "Business: 500 seats"]
    # under an invoice heading, the Business line reads further from a seats question
    chunks[1] = ("Limits", SEAT_LIMITS.replace("## Seat limits", "## Invoice totals"))
    quotes = Quoter(AxisEmbedder()).best([0.0, 0.0, 1.0], ask, chunks, limit=2)
    assert "Business: 500 seats" not in [q.sentence for q in quotes]


def test_the_line_of_the_case_asked_is_quoted_without_a_neighbour() -> None:
    methods = ("- Card: every plan\n- Seat: annual plans\n- Pay by bank in one go: yearly\n"
               "- Pay by cheque in the post: yearly\n- Pay at the front desk: never\n"
               "- Pay with vouchers from partners: rarely")
    quotes = Quoter(AxisEmbedder()).best([0.0, 0.0, 1.0], "Can I pay per Seat?",
                                         [("Payment", methods)])
    assert [q.sentence for q in quotes] == ["Seat: annual plans"]


def test_a_sentence_about_the_page_itself_is_never_quoted() -> None:
    chunks = [("Refunds", "This article explains when you can get a refund and how to ask for "
               "one. Annual plans get a full refund within 30 days.")]
    quotes = Quoter(AxisEmbedder()).best(REFUND, ASK, chunks, limit=3)
    assert quotes and all("This article" not in q.sentence for q in quotes)
    assert "30 days" in quotes[0].sentence
