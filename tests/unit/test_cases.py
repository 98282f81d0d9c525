"""The case a question names among a list's lines (``knowledge.cases``)."""

from __future__ import annotations

import pytest

from knowledge.cases import about_other_case, asked_case, cases, item_label, names_label

SLA = """# Support SLA

## First response targets

- **Free**: best effort, usually within 3 business days.
- **Team**: within 24 business hours.
- **Business**: within 8 business hours.
- **Enterprise**:
  - Urgent: within 1 hour, 24/7.
  - Low: within 2 business days.

Business hours are Monday to Friday."""


def test_only_the_named_cases_line_of_a_list_is_kept() -> None:
    view = asked_case(SLA, "How fast will support reply to us on the Business plan?")
    assert "within 8 business hours" in view
    assert "3 business days" not in view and "24 business hours" not in view
    assert "Urgent" not in view and "2 business days" not in view  # Enterprise's sub-items
    assert view.startswith("# Support SLA") and view.endswith("Monday to Friday.")


def test_a_nested_case_keeps_its_parent_and_drops_its_siblings() -> None:
    view = asked_case(SLA, "How fast is an Urgent reply on Enterprise?")
    assert "within 1 hour" in view and "2 business days" not in view
    assert "Enterprise" in view and "3 business days" not in view


@pytest.mark.parametrize("question", [
    "How fast do you reply?",  # no case named
    "Can my team share one login?",  # "team", not the plan
    "Do you answer on weekends?",
])
def test_a_list_naming_no_asked_case_stays_whole(question: str) -> None:
    assert asked_case(SLA, question) == SLA


def test_two_named_cases_are_both_kept() -> None:
    view = asked_case(SLA, "If I move from Team to Business, do replies get faster?")
    assert "24 business hours" in view and "8 business hours" in view
    assert "3 business days" not in view


def test_a_label_is_what_an_item_opens_with_before_its_colon() -> None:
    assert item_label("- **Business**: within 8 business hours.") == "Business"
    assert item_label("- Web app: you stay signed in for 30 days.") == "Web app"
    assert item_label("- **Enterprise**:") == "Enterprise"
    assert item_label("- Go to Settings > Billing: it opens.") == ""
    assert item_label("Refunds take 5 days.") == ""
    assert names_label("How long on the web app?", "Web app")
    assert not names_label("Anything?", "")
    assert not names_label("Is there a business discount?", "Business")


def test_cases_are_the_named_ones_and_their_siblings() -> None:
    asked, others = cases(SLA, "How fast do you reply on Business?")
    assert asked == {"Business"} and others == {"Free", "Team", "Enterprise"}
    assert cases(SLA, "How fast do you reply?") == (set(), set())


def test_a_sentence_naming_only_another_case_is_about_it() -> None:
    asked, others = {"Business"}, {"Free", "Team"}
    assert about_other_case("Archived boards do not count toward the Free plan's limit.",
                            asked, others)
    assert not about_other_case("Free and Business both reset on the 1st.", asked, others)
    assert not about_other_case("Runs reset on the 1st of the month.", asked, others)


REFUNDS = """# Refund Policy

We want you to be happy with Orbitask.

## Annual plans

You can get a full refund within 30 days of your first annual payment.

## Monthly plans

You can get a full refund of your first monthly payment within 7 days.

### Later payments

Later monthly payments are not refundable.

## How to request a refund

Go to Workspace settings > Billing > Invoices."""


def test_a_section_about_a_sibling_case_is_dropped() -> None:
    view = asked_case(REFUNDS, "Can I get a refund on our annual plan? We bought it 3 weeks ago.")
    assert "within 30 days" in view and "Invoices" in view and "be happy" in view
    assert "7 days" not in view and "Later monthly" not in view  # its subsection goes too


@pytest.mark.parametrize("question", [
    "How do I get a refund?",  # no case named
    "Can I get a refund on an annual or a monthly plan?",  # both named
    "How do I request a refund for my plan?",  # "request" names no sibling heading
])
def test_sections_stay_when_the_question_names_no_single_sibling(question: str) -> None:
    assert asked_case(REFUNDS, question) == REFUNDS


def test_sibling_headings_differ_in_one_word_at_one_level() -> None:
    members = "T\n## Adding members\nYou pay for them.\n## Removing members\nYou get a credit."
    assert "credit" not in asked_case(members, "I added 3 people, why did my bill go up?")
    assert "pay for them" not in asked_case(members, "I removed 3 people from the workspace")
    uneven = "T\n## Creating a task\nClick New.\n## Task fields\nDue date and owner."
    assert asked_case(uneven, "How do I create a task?") == uneven
