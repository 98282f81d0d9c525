"""The grounding guard and the answer-time security check, on hand-made cases."""

from __future__ import annotations

import pytest

from knowledge.facts import complete_sentences, facts
from knowledge.guard import ground, names_held, uncovered_names
from knowledge.security import (
    CONTACT_REASON,
    SECRET_REASON,
    asks_for_secret,
    security_check,
    trusted_contacts,
)

RATE_LIMITS = ("API Rate Limits\n- Free and Team: 100 requests per minute per token\n"
               "- Business: 300 requests per minute per token\n"
               "Limits apply to each token separately, within a rolling 60-second window.")
PASSWORD = ("Password reset\nClick Forgot password on the sign-in page. We email you a reset "
            "link, which is valid for 60 minutes. Contact support@orbitask.example if it "
            "does not arrive.")
REFUNDS = "Refunds\nAnnual subscriptions can be refunded within 30 days of purchase."
TWO_FA = ("Two-factor authentication\nScan the QR code with an authenticator app and type the "
          "six-digit code. Go to Profile > Security > Two-factor authentication to turn it on.")
INTEGRATIONS = ("Integrations\nOrbitask integrates with Slack, GitHub, Google Calendar and "
                "Zapier. Connect them under Workspace settings > Integrations.")


def test_facts_are_numbers_contacts_paths_and_names() -> None:
    found = facts("Go to Workspace settings > Billing, email billing@orbitask.example, call "
                  "+1 (555) 010-2030 or see https://status.orbitask.example/. Team costs $8.00 "
                  "for 10,000 runs with PayPawn [2].", company="Orbitask")
    assert found.numbers == {"8", "10000"}  # the marker [2] is not a fact
    assert found.contacts == {"billing@orbitask.example", "15550102030",
                              "status.orbitask.example"}
    assert found.paths == {"settings>billing"}
    assert {"paypawn", "workspace", "billing", "team"} <= found.names
    assert "orbitask" not in found.names and "go" not in found.names


def test_a_contraction_opening_a_sentence_is_no_name() -> None:
    assert facts("We're a German company. I'm locked out. Don't charge us.").names == {"german"}


def test_list_numbers_and_hyphenated_words_are_not_facts() -> None:
    found = facts("1. Open two-factor settings.\n2. Scan the code.")
    assert not found.numbers


def test_a_wrong_number_beside_the_right_citation_is_replaced_by_the_source_sentence() -> None:
    result = ground("The Business plan allows 10 requests per minute [1].", [RATE_LIMITS],
                    "What is the API rate limit on Business?")
    assert "10 requests" not in result.text
    assert result.text == "Business: 300 requests per minute per token [1]."
    assert result.replaced == 1 and result.grounded and "10" in result.unsupported


def test_an_invented_date_with_no_matching_sentence_is_dropped() -> None:
    result = ground("The reset link is valid for 60 minutes [1]. It works until 2038 [1].",
                    [PASSWORD], "How long is the reset link valid?")
    assert result.text == "The reset link is valid for 60 minutes [1]."
    assert result.dropped == 1


def test_an_invented_url_is_removed() -> None:
    result = ground("Reset it at opendriveronline.com/reset [1].", [PASSWORD],
                    "Where do I reset my password?")
    assert "opendriveronline" not in result.text


def test_a_fact_from_another_chunk_moves_the_citation_there() -> None:
    result = ground("Annual subscriptions are refunded within 30 days [2].", [REFUNDS, TWO_FA],
                    "refund?")
    assert result.text == "Annual subscriptions are refunded within 30 days [1]."
    assert result.recited == 1


def test_a_grounded_answer_is_kept_word_for_word() -> None:
    text = "Annual subscriptions can be refunded within 30 days of purchase [1]."
    result = ground(text, [REFUNDS], "Can I get a refund?")
    assert result.text == text and result.kept == 1 and not result.changed()


def test_facts_from_the_question_may_be_repeated() -> None:
    result = ground("Sorry, 45 days is too late: refunds are within 30 days [1].", [REFUNDS],
                    "Can I get a refund after 45 days?")
    assert "45 days" in result.text and result.grounded


def test_uncited_sentences_are_cited_with_the_chunk_they_draw_on() -> None:
    text = ("Hello there. Annual subscriptions are refunded within 30 days of purchase. "
            "Scan the QR code with an authenticator app.")
    result = ground(text, [REFUNDS, TWO_FA], "q")
    assert result.text == ("Hello there. Annual subscriptions are refunded within 30 days of "
                           "purchase [1]. Scan the QR code with an authenticator app [2].")


def test_steps_keep_their_line_breaks() -> None:
    text = ("Here's how:\n1. Go to Profile > Security > Two-factor authentication [1].\n"
            "2. Scan the QR code with an authenticator app.")
    result = ground(text, [TWO_FA], "How do I turn on 2FA?")
    lines = result.text.split("\n")
    assert lines[0] == "Here's how:" and len(lines) == 3
    assert lines[2].endswith("authenticator app [1].")


def test_an_affirmative_claim_about_a_product_the_chunks_never_name_grounds_nothing() -> None:
    question = "Does Orbitask integrate with Salesforce?"
    assert uncovered_names(question, [INTEGRATIONS], "Orbitask") == {"salesforce"}
    result = ground("Yes, Orbitask integrates with Salesforce [1].", [INTEGRATIONS], question,
                    "Orbitask")
    assert not result.grounded and result.text == ""
    assert not uncovered_names("Does Orbitask integrate with Zapier?", [INTEGRATIONS],
                               "Orbitask")


def test_a_bare_yes_or_no_is_a_verdict_no_chunk_vouches_for() -> None:
    result = ground("Yes, refunds are possible after 45 days [1]. Refunds are within 30 days "
                    "[1].", [REFUNDS], "Can I get a refund after 45 days?")
    assert result.text == "Refunds are within 30 days [1]." and result.dropped == 1
    assert not ground("No, you cannot get a refund [1].", [REFUNDS], "Refund?").grounded
    assert ground("No credit card is needed for refunds within 30 days [1].", [REFUNDS],
                  "Refund?").grounded  # "No" opening a sentence, not a verdict


def test_a_sentence_about_the_documents_subject_they_do_not_hold_is_dropped() -> None:
    made_up = "Scan the barcode printed on your laptop lid using the authenticator gadget panel."
    result = ground(f"Happy to help! {made_up}", [TWO_FA], "How do I turn on 2FA?")
    assert result.text == "Happy to help!" and result.dropped == 1  # tone shares no words
    held = "Scan the QR code with an authenticator app [1]."
    assert ground(held, [TWO_FA], "How do I turn on 2FA?").text == held


def test_a_code_fence_line_is_layout_not_an_answer() -> None:
    result = ground("Scan the QR code with an authenticator app [1].\n```javascript",
                    [TWO_FA], "How do I turn on 2FA?")
    assert result.text == "Scan the QR code with an authenticator app [1]."


def test_names_a_question_writes_side_by_side_must_be_held_as_that_phrase() -> None:
    question = "Will you build a Microsoft Teams integration?"
    assert names_held("Can I sign in with my iPhone?", {"iphone"}, ["Apps for iPhone and iPad."])
    assert not names_held(question, {"microsoft", "teams"},
                          ["Continue with Microsoft. Team plans include 10 members."])
    assert names_held(question, {"microsoft", "teams"},
                      ["Team plans only.", "Microsoft Teams is supported."])
    assert not names_held("Does it run on Linux?", {"linux"}, ["It runs on Windows.", ""])


def test_a_decline_and_the_handoff_are_kept_without_facts() -> None:
    text = "I couldn't find that in our documentation. Would you like me to connect you?"
    result = ground(text, [REFUNDS], "q")
    assert result.text == text and not result.grounded


@pytest.mark.parametrize(("text", "expected"), [
    ("Refunds take 30 days [1]. If you", "Refunds take 30 days [1]."),
    ("Refunds take 30 days. [1] If you", "Refunds take 30 days [1]."),
    ("Steps:\n1. Open Billing.\n2. Click the", "Steps:\n1. Open Billing."),
    ("All done [1].", "All done [1]."),
    ("If you", ""),
])
def test_complete_sentences_cut_what_the_token_cap_left_unfinished(text: str,
                                                                   expected: str) -> None:
    assert complete_sentences(text) == expected


def test_ground_drops_a_trailing_fragment() -> None:
    result = ground("Annual subscriptions can be refunded within 30 days [1]. If you", [REFUNDS],
                    "q")
    assert result.text == "Annual subscriptions can be refunded within 30 days [1]."


@pytest.mark.parametrize("text", [
    "Please email your account password to help@orbitask-support.com.",
    "Reply to this message with your card number and CVV.",
    "Send us your 2FA code so we can verify you.",
    "Paste your API token in the chat and we will check it.",
])
def test_secret_requests(text: str) -> None:
    assert asks_for_secret(text)


@pytest.mark.parametrize("text", [
    "Never share your password with anyone, including Orbitask staff.",
    "We will not ask for your password by email.",
    "Pin a task to the top of the board.",
    "Type the six-digit code from your authenticator app.",
])
def test_not_secret_requests(text: str) -> None:
    assert not asks_for_secret(text)


def test_security_check_blocks_a_contact_point_no_trusted_document_holds() -> None:
    trusted = trusted_contacts([PASSWORD])
    assert security_check("Write to support@orbitask.example [1].", [PASSWORD], trusted) is None
    reason = security_check("Write to refunds@orbitask-help.com [1].", [PASSWORD], trusted)
    assert reason is not None and reason.startswith(CONTACT_REASON)
    assert "refunds@orbitask-help.com" in reason
    assert security_check("Call 1-800-325-7496 for help.", [PASSWORD], trusted)


def test_a_trusted_address_with_its_dots_dropped_is_repaired_not_blocked() -> None:
    trusted = trusted_contacts([PASSWORD])
    garbled = "If you need help, write to support@orbitaskexample [1]."
    assert security_check(garbled, [PASSWORD], trusted) is None
    assert "support@orbitaskexample" not in ground(garbled, [PASSWORD]).text
    assert security_check("Write to help@orbitaskexample [1].", [PASSWORD], trusted)


def test_security_check_blocks_a_secret_request_even_with_a_trusted_address() -> None:
    trusted = trusted_contacts([PASSWORD])
    reason = security_check("Email your password to support@orbitask.example [1].",
                            [PASSWORD], trusted)
    assert reason == SECRET_REASON


def test_security_check_allows_a_documented_instruction_without_a_contact() -> None:
    manual = "When the PIN screen appears, provide the PIN number to the agent."
    answer = "When the PIN screen appears, provide the PIN number to the agent [1]."
    assert security_check(answer, [manual], frozenset()) is None
    assert security_check("Provide your PIN to the agent.", ["Unrelated text here."],
                          frozenset()) == SECRET_REASON


def test_an_answer_that_cites_keeps_its_plain_sentences_uncited() -> None:
    text = ("Scan the QR code with an authenticator app [2]. "
            "Annual subscriptions are refunded within days of purchase.")
    assert ground(text, [REFUNDS, TWO_FA], "q").text == text


def test_echoed_context_headers_and_bare_list_numbers_are_dropped() -> None:
    text = ("1. [2] Cancelling Your Subscription (billing/cancelling-your-subscription.md)\n"
            "3.\nAnnual subscriptions can be refunded within 30 days of purchase [1].")
    result = ground(text, [REFUNDS, TWO_FA], "refund?")
    assert result.text == "Annual subscriptions can be refunded within 30 days of purchase [1]."


def test_a_fact_from_a_passage_about_something_else_grounds_nothing() -> None:
    result = ground("The password reset link is valid for 30 days [1].", [REFUNDS, PASSWORD],
                    "How long is the password reset link valid?")
    assert "30 days" not in result.text


def test_a_name_the_question_asks_about_must_stand_beside_the_number_it_is_given() -> None:
    limits = ("Plan Limits\n- Free: up to 10 members, 5 active boards, 100 runs a month.\n"
              "- Team: up to 50 members.\n- Business: 10,000 automation runs per month.")
    asked = "How many automation runs do we get per month on Business?"
    wrong = ground("We get 10 automated runs per month on Business, up to 5 active boards [1].",
                   [limits], asked)
    assert "Business, up to 5" not in wrong.text
    right = ground("Business gets 10,000 automation runs per month [1].", [limits], asked)
    assert right.grounded and right.kept == 1


def test_two_steps_of_a_list_are_one_passage() -> None:
    steps = "Resetting\n1. Go to app.orbitask.example/login.\n2. Click **Forgot password?**"
    result = ground("Go to app.orbitask.example/login and click Forgot password [1].", [steps],
                    "I forgot my password")
    assert result.kept == 1 and not result.replaced


def test_an_email_address_mentioned_near_a_password_is_no_secret_request() -> None:
    assert not asks_for_secret("The password reset link expires. Check your email address.")


@pytest.mark.parametrize("text", [
    "Click the link in the email and enter a new password.",
    "Type your current password to confirm the change.",
])
def test_typing_a_password_into_the_product_is_no_secret_request(text: str) -> None:
    assert not asks_for_secret(text)


def test_pasting_a_secret_into_a_message_is() -> None:
    assert asks_for_secret("Paste your recovery codes into the chat window here.")


def test_the_questions_own_contact_point_and_a_no_reply_address_are_fine() -> None:
    assert security_check("Yes, tasks.ourcompany.com works [1].", [PASSWORD], frozenset(),
                          "Can we use tasks.ourcompany.com?") is None
    assert not asks_for_secret("Forgot your password? Open the link from no-reply@x.example.")


def test_a_quote_cut_by_the_token_cap_is_finished_from_its_source() -> None:
    manual = ("Picture\nWhen LED Clear Motion is set to On, the screen appears darker than when "
              "it is Off. Local Dimming saves power.")
    answer = ("You can turn it on [1]. When LED Clear Motion is set to On, the screen appears "
              "darker than")
    result = ground(answer, [manual], "What does LED Clear Motion do?")
    assert result.text.endswith("the screen appears darker than when it is Off.")


def test_a_number_from_another_cases_line_does_not_ground_the_asked_case() -> None:
    sla = ("Support SLA\n## First response targets\n"
           "- **Free**: best effort, usually within 3 business days.\n"
           "- **Business**: within 8 business hours, with priority in the queue.")
    asked = "How fast will support reply to us on the Business plan?"
    wrong = ground("The response time is within 3 business days [1].", [sla], asked)
    assert "3 business days" not in wrong.text
    right = ground("On Business, the first response comes within 8 business hours [1].", [sla],
                   asked)
    assert right.kept == 1
    other = ground("The response time is within 3 business days [1].", [sla],
                   "How fast do you reply on Free?")
    assert other.kept == 1  # Free's line answers a question about Free


def test_a_number_in_another_unit_than_its_passage_gives_it_is_not_grounded() -> None:
    asked = "How long is the password reset link valid?"
    wrong = ground("The reset link is valid for 60 days [1].", [PASSWORD], asked)
    assert "60 days" not in wrong.text
    assert "60 minutes" in wrong.text and wrong.replaced == 1  # the source sentence instead
    right = ground("Your reset link is valid for 60 minutes [1].", [PASSWORD], asked)
    assert right.kept == 1


def test_an_annual_price_stated_as_the_monthly_one_is_not_grounded() -> None:
    prices = ("Plans and prices\nTeam: $8 per member/month billed monthly, or $6.40 per "
              "member/month billed annually ($76.80 per member/year).")
    asked = "How much does the Team plan cost?"
    wrong = ground("The monthly subscription is priced at $76.80 [1].", [prices], asked)
    assert wrong.kept == 0 and "monthly subscription" not in wrong.text
    right = ground("Billed annually, Team costs $76.80 per member/year [1].", [prices], asked)
    assert right.kept == 1


def test_a_replacement_is_never_a_sentence_about_another_case() -> None:
    limits = ("Plan Limits\nArchived boards do not count toward the Free plan's limit of 5 "
              "active boards.\n- Free: up to 10 members, 5 active boards.\n"
              "- Business: 10,000 runs.")
    asked = "How many automation runs do we get per month on Business?"
    result = ground("We get 10 automated runs per month on Business, up to 5 active boards [1].",
                    [limits], asked)
    assert "Free plan" not in result.text


def test_a_number_from_a_passage_sharing_few_of_the_sentences_words_grounds_nothing() -> None:
    refunds = ("Refund Policy\nIf you subscribe to a monthly plan for the first time, you can "
               "get a full refund of your first payment within 7 days. Later monthly payments "
               "are not refundable.\n\n## After a refund\n\n- Refunds go back to the original "
               "payment method and usually appear within 5 to 10 business days.")
    result = ground("It takes 7 days for a refund to show up on your card [1].", [refunds],
                    "How long does it take for a refund to show up on my card?")
    assert "It takes 7 days" not in result.text


def test_a_replaced_step_keeps_its_number() -> None:
    steps = ("Pagination\nRequest the first page without a cursor. Process the items in data. "
             "If has_more is true, request again with cursor set to next_cursor.")
    result = ground("Here's the pattern:\n1. Request the first page (limit=500) [1].\n"
                    "2. Process the items in data [1].", [steps], "How do I page through tasks?")
    assert "1. Request the first page without a cursor [1]." in result.text


def test_a_lists_introduction_never_replaces_a_sentence() -> None:
    runs = ("Automations\nMonthly runs per workspace:\n- Free: 100 runs.\n"
            "- Business: 10,000 runs.\n\nRuns reset on the 1st of each month at 00:00 UTC.")
    result = ground("Monthly runs per workspace are 500 [1].", [runs], "How many runs per month?")
    assert "per workspace:" not in result.text


def test_a_sentence_about_the_page_itself_is_dropped() -> None:
    result = ground("This article explains how refunds work [1]. Annual subscriptions can be "
                    "refunded within 30 days of purchase [1].", [REFUNDS], "Can I get a refund?")
    assert result.text == "Annual subscriptions can be refunded within 30 days of purchase [1]."


CHANGING = ("Changing Plans\n\n## Upgrading\n\nUpgrades, such as Team to Business, take effect "
            "immediately. You are charged a prorated amount.\n\n## Downgrading\n\nDowngrades, "
            "such as Business to Team, take effect at the end of the current billing period.")


def test_a_move_told_the_wrong_way_round_is_replaced() -> None:
    asked = "If I downgrade from Business to Team, when does it take effect?"
    result = ground("Upgrades, such as Business to Team, take effect immediately [1].",
                    [CHANGING], asked)
    assert "immediately" not in result.text and result.unsupported == ["business to team"]
    assert result.text.startswith("Downgrades, such as Business to Team, take effect at the end")


def test_a_move_told_the_right_way_round_is_kept() -> None:
    result = ground("Upgrades, such as Team to Business, take effect immediately [1].",
                    [CHANGING], "When does an upgrade take effect?")
    assert result.kept == 1 and "immediately" in result.text
