"""Training data: loaders, Bitext slots, redaction, feedback → examples, RAFT chat records."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bot.core.types import Answer, Source
from bot.storage import Store
from knowledge.errors import InputError
from knowledge.prompts import IDK_REPLY, ContextChunk, build_messages, format_context
from training.dataset import (
    Example,
    balance_declines,
    data_hash,
    export_jsonl,
    fill_placeholders,
    load_any,
    load_bitext,
    load_jsonl,
    load_seed,
    parse_context,
    raft_share,
    to_chat_records,
)
from training.feedback import FeedbackPolicy, feedback_examples, redact

BITEXT_COLUMNS = ["instruction", "intent", "category", "response"]


def write_bitext(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=BITEXT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


# loaders ---------------------------------------------------------------------------------
def test_bitext_placeholders_become_natural_phrases(tmp_path: Path) -> None:
    response = (
        "Thanks for contacting {{Company Name}}! To cancel order {{Order Number}}:\n\n"
        "1. Log in on our {{Website Name}}.\n2. Go to the {{Order History}} section.\n"
        "Questions? Call {{Customer Support Phone Number}} or use {{Gift Card Balance}}."
    )
    path = write_bitext(tmp_path / "b.csv", [
        {"instruction": "cancel order 123", "intent": "cancel_order", "category": "ORDER",
         "response": response}])
    [example] = load_bitext(path, company="Acme")
    assert example.question == "cancel order 123" and example.kind == "bitext"
    assert example.answer == (
        "Thanks for contacting Acme! To cancel order your order number:\n\n"
        "1. Log in on our website.\n2. Go to the order history section.\n"
        "Questions? Call our support team or use your gift card balance."
    )
    assert fill_placeholders("Reach us at {{Customer Support Email}}.") == (
        "Reach us through our support team.")
    assert "{{" not in fill_placeholders("{{Website Name}} and {{Any Thing}}")


def test_bitext_sampling_is_stratified_by_intent_and_deterministic(tmp_path: Path) -> None:
    rows = [{"instruction": f"{intent} {i}", "intent": intent, "category": "X",
             "response": f"reply {i}"} for intent in ("a", "b", "c") for i in range(10)]
    path = write_bitext(tmp_path / "b.csv", rows)
    sample = load_bitext(path, limit=6, seed=1)
    assert len(sample) == 6
    assert sorted(e.question.split()[0] for e in sample) == ["a", "a", "b", "b", "c", "c"]
    assert load_bitext(path, limit=6, seed=1) == sample
    assert load_bitext(path, limit=6, seed=2) != sample
    assert len(load_bitext(path)) == 30


def test_bitext_without_its_columns_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("question,answer\nq,a\n")
    with pytest.raises(InputError, match="missing column"):
        load_bitext(path)


def test_jsonl_loading_and_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text(
        json.dumps({"question": "Q1", "answer": "A1", "source": "a.md"}) + "\n\n"
        + json.dumps({"question": "Q2", "answer": "A2", "context": "ctx", "kind": "cited"}) + "\n"
        + json.dumps({"question": "Q3", "answer": "A3", "answerable": False}) + "\n"
    )
    assert load_jsonl(path) == [
        Example("Q1", "A1", source="a.md"),
        Example("Q2", "A2", context="ctx", kind="cited"),
        Example("Q3", "A3", answerable=False),
    ]
    assert load_any(path, limit=1) == [Example("Q1", "A1", source="a.md")]
    with path.open("a") as handle:
        handle.write('{"question": "Q4"}\n')
    with pytest.raises(InputError, match=re.escape(f"{path}:5:")):
        load_jsonl(path)
    path.write_text("not json\n")
    with pytest.raises(InputError, match=re.escape(f"{path}:1:")):
        load_jsonl(path)


def test_load_any_dispatches_on_suffix(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.jsonl or a Bitext \.csv"):
        load_any(tmp_path / "data.txt")
    with pytest.raises(InputError, match="Cannot read"):
        load_any(tmp_path / "missing.jsonl")
    path = write_bitext(tmp_path / "b.csv", [
        {"instruction": "hi", "intent": "x", "category": "X", "response": "hello"}])
    assert [e.kind for e in load_any(path)] == ["bitext"]


def test_seed_loads_with_idk_unanswerable() -> None:
    seed = load_seed()
    assert len(seed) > 100
    assert {"greeting", "cited", "idk"} <= {e.kind for e in seed}
    assert all(not e.answerable for e in seed if e.kind == "idk")


# redaction -------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("write to jane.doe+x@example.co.uk today", "write to [email] today"),
    ("call +1 (555) 123-4567 now", "call [phone] now"),
    ("or 555.123.4567", "or [phone]"),
    ("London +44 20 7946 0958", "London [phone]"),
    ("card 4111 1111 1111 1111 ok", "card [card] ok"),
    ("card 5555-5555-5555-4444", "card [card]"),
    ("key xoxb-123456789012-abcdefABCDEF", "key [token]"),
    ("key xoxp-1234-5678-abcdef", "key [token]"),
    ("sk-proj-AbCdEf0123456789xyz", "[token]"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[token]"),
    ("Authorization: Bearer abc.def-123_XYZ", "Authorization: [token]"),
    ("secret 0123456789abcdef0123456789abcdef", "secret [token]"),
    ("jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9x", "jwt [token]"),
])
def test_redact_masks_each_kind(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "Order 12345 shipped on 2024-01-15 for $76.80.",
    "Team is $8 per member; 50 seats; open 06:00 to 22:00 UTC, 24/7.",
    "Purchase 113542617735902 and card-like 4111 1111 1111 1112 (bad checksum).",
    "See docs/integrations/slack-integration-setup-guide.md and version 1.2.3.",
    "Call ext. 1234-5678 about ticket #98765.",
])
def test_redact_keeps_ordinary_numbers_and_paths(text: str) -> None:
    assert redact(text) == text


# feedback --------------------------------------------------------------------------------
CHUNKS = [ContextChunk("billing/refunds.md", "Refunds", "Refunds take 14 days."),
          ContextChunk("pricing/plans.md", "Plans", "Team costs $8 per member.")]



def ask(store: Store, question: str, reply: str, thread: str = "t1", user: str = "U1") -> int:
    """Store a question and the bot's answer in ``thread``; returns the answer id."""
    conversation = store.conversation("slack", "C1", thread, user)
    question_id = store.add_question(conversation, user, question)
    sources = tuple(Source(f"id{i}", c.source, c.title, 0.5, c.text)
                    for i, c in enumerate(CHUNKS))
    answer = Answer(reply, sources, 1.0, "fake", None, question, format_context(CHUNKS))
    return store.add_answer(conversation, question_id, answer)


def say(store: Store, text: str, thread: str = "t1", user: str = "U1") -> None:
    store.add_question(store.conversation("slack", "C1", thread, user), user, text)


def test_votes_become_labelled_examples_with_context(store: Store) -> None:
    good = ask(store, "How long do refunds take?", "Refunds take 14 days [1].", "t1")
    bad = ask(store, "What does Team cost?", "Team is free.", "t2")
    store.set_feedback(good, "slack", "U9", "+1", 1)
    store.set_feedback(bad, "slack", "U9", "-1", -1)
    up, down = feedback_examples(store)
    assert (up.question, up.answer, up.kind, up.label) == (
        "How long do refunds take?", "Refunds take 14 days [1].", "feedback", True)
    assert up.source == "billing/refunds.md" and up.context == format_context(CHUNKS)
    assert (down.answer, down.label, down.kind) == ("Team is free.", False, "feedback")


def test_a_reply_after_a_downvoted_answer_is_a_correction(store: Store) -> None:
    bad = ask(store, "What does Team cost?", "Team is free.", "t1")
    say(store, "No, Team costs $8 per member per month.", "t1")
    ask(store, "Thanks, and Business?", "Business is $16.", "t1")
    say(store, "Wrong, it is more than that.", "t1")  # after the NEXT answer: not for `bad`
    other = ask(store, "How long do refunds take?", "Refunds are instant.", "t2")
    say(store, "and for annual plans?", "t2")  # a follow-up question, not a correction
    store.set_feedback(bad, "slack", "U1", "-1", -1)
    store.set_feedback(other, "slack", "U1", "-1", -1)
    examples = feedback_examples(store)
    assert [(e.kind, e.answer, e.label) for e in examples] == [
        ("feedback", "Team is free.", False),
        ("correction", "No, Team costs $8 per member per month.", True),
        ("feedback", "Refunds are instant.", False),
    ]
    assert examples[1].question == "What does Team cost?"
    assert examples[1].context == format_context(CHUNKS)


def test_per_user_cap_counts_the_oldest_votes(store: Store) -> None:
    answers = [ask(store, f"Question {i}?", f"Answer {i}.", f"t{i}") for i in range(4)]
    for answer_id in answers:
        store.set_feedback(answer_id, "slack", "U1", "+1", 1)
    store.set_feedback(answers[3], "slack", "U2", "+1", 1)
    examples = feedback_examples(store, FeedbackPolicy(per_user_cap=2))
    assert [e.answer for e in examples] == ["Answer 0.", "Answer 1.", "Answer 3."]


def test_allowlist_limits_whose_votes_count(store: Store) -> None:
    first = ask(store, "Q1?", "A1.", "t1")
    second = ask(store, "Q2?", "A2.", "t2")
    store.set_feedback(first, "slack", "U1", "+1", 1)
    store.set_feedback(second, "slack", "U2", "+1", 1)
    policy = FeedbackPolicy(allowlist=frozenset({"slack:U2"}))
    assert [e.answer for e in feedback_examples(store, policy)] == ["A2."]


def test_identical_question_and_answer_are_deduplicated(store: Store) -> None:
    one = ask(store, "How long do refunds take?", "Refunds take 14 days [1].", "t1")
    two = ask(store, "How long do refunds take?", "Refunds take 14 days [1].", "t2")
    split = ask(store, "What does Team cost?", "Team costs $8 [2].", "t3")
    for answer_id, user in ((one, "U1"), (one, "U2"), (two, "U3")):
        store.set_feedback(answer_id, "slack", user, "+1", 1)
    store.set_feedback(split, "slack", "U1", "+1", 1)
    store.set_feedback(split, "slack", "U2", "-1", -1)  # the votes cancel out
    assert [(e.answer, e.label) for e in feedback_examples(store)] == [
        ("Refunds take 14 days [1].", True)]


def test_feedback_examples_are_redacted(store: Store) -> None:
    answer = ask(store, "My card 4111 1111 1111 1111 was charged, mail me at a@b.com",
                 "Sorry! We will call you at 555-123-4567.", "t1")
    say(store, "No, use token xoxb-123456789012-abcdefABCDEF instead please.", "t1")
    store.set_feedback(answer, "slack", "U1", "-1", -1)
    bad, fixed = feedback_examples(store)
    assert bad.question == "My card [card] was charged, mail me at [email]"
    assert bad.answer == "Sorry! We will call you at [phone]."
    assert fixed.answer == "No, use token [token] instead please."


# chat records ----------------------------------------------------------------------------
SOURCES = [f"topic-{i}.md" for i in range(10)]


def fake_retrieve(question: str) -> list[ContextChunk]:
    """Three chunks, the first from the source the question names (``... in topic-N.md``)."""
    named = question.rsplit(" ", 1)[-1]
    rest = [s for s in SOURCES if s != named][: 2 + (named not in SOURCES)]
    return [ContextChunk(s, s.removesuffix(".md").title(), f"Text of {s} about {question}.")
            for s in ([named] if named in SOURCES else []) + rest]


def shown_chunks(record: dict[str, Any]) -> list[ContextChunk]:
    """The chunks numbered in a record's user message."""
    user = record["messages"][1]["content"]
    return parse_context(user.split("\n", 1)[1].rsplit("\n\nQuestion:", 1)[0])


def qa(i: int, source: str = "topic-1.md") -> Example:
    return Example(f"Question number {i} in {source}", f"The answer is {i}. More detail.",
                   source=source, kind="cited")


def test_records_use_the_serving_prompt_with_the_oracle_and_a_citation() -> None:
    example = qa(1)
    [record] = to_chat_records([example], fake_retrieve, decline_share=0.0, company="Acme",
                               no_docs_share=0.0)
    system, user, assistant = record["messages"]
    chunks = shown_chunks(record)
    assert [system, user] == build_messages(example.question, chunks, company="Acme")
    assert {c.source for c in chunks} == {"topic-1.md", "topic-0.md", "topic-2.md"}
    k = [c.source for c in chunks].index("topic-1.md") + 1
    assert assistant == {"role": "assistant", "content": f"The answer is 1 [{k}]. More detail."}
    assert (record["kind"], record["label"]) == ("cited", True)


def test_distractor_only_share_matches_the_request() -> None:
    examples = [qa(i, SOURCES[i % 10]) for i in range(200)]
    records = to_chat_records(examples, fake_retrieve, decline_share=0.25, seed=3,
                              no_docs_share=0.0)
    idk = [(ex, r) for ex, r in zip(examples, records, strict=True)
           if r["messages"][2]["content"] == IDK_REPLY]
    assert 0.17 <= len(idk) / 200 <= 0.33
    for example, record in idk:  # no chunk from the answer's source
        assert f"({example.source})" not in record["messages"][1]["content"]
    again = to_chat_records(examples, fake_retrieve, decline_share=0.25, seed=3,
                            no_docs_share=0.0)
    assert data_hash(again) == data_hash(records)  # deterministic


def test_the_datas_own_declines_count_toward_the_decline_share() -> None:
    answerable = [qa(i, SOURCES[i % 10]) for i in range(160)]
    declines = [Example(f"Is there a Linux app {i}", "Sorry, not documented.", kind="idk",
                        answerable=False) for i in range(40)]
    records = to_chat_records(answerable + declines, fake_retrieve, decline_share=0.25, seed=3)
    made = sum(r["messages"][2]["content"] == IDK_REPLY for r in records[:160])
    assert 0 < made <= 20  # 50 declines wanted in all; 40 are in the data already
    assert raft_share(declines, 0.25) == 0.0
    assert raft_share(answerable, 0.25) == 0.25


def test_tone_examples_keep_their_answer_and_are_never_made_declines() -> None:
    from dataclasses import replace

    empathy = [replace(qa(i, SOURCES[i % 10]), kind="empathy") for i in range(100)]
    records = to_chat_records(empathy, fake_retrieve, decline_share=0.5, seed=3)
    assert len(records) == 100
    assert not any(r["messages"][2]["content"] == IDK_REPLY for r in records)
    assert raft_share(empathy, 0.5) == 0.0


def test_a_tone_example_whose_source_is_not_retrieved_is_left_out() -> None:
    missing = Example("So annoyed about topic-99.md", "That's frustrating. Do X.",
                      source="topic-99.md", kind="empathy")
    fact = Example("What about topic-99.md", "X is Y.", source="topic-99.md", kind="cited")
    records = to_chat_records([missing, fact], fake_retrieve, decline_share=0.0,
                              no_docs_share=0.0)
    assert [r["kind"] for r in records] == ["cited"]
    assert records[0]["messages"][2]["content"] == IDK_REPLY  # facts it cannot see: decline


def test_seed_facts_keep_their_sample_passage_over_another_companys_index() -> None:
    seed = [e for e in load_seed() if e.kind == "cited"]
    assert all(e.context and e.source for e in seed)  # the sample document's text

    def tv_manual(question: str) -> list[ContextChunk]:  # an index holding no sample document
        return [ContextChunk(f"tv/{i}.md", f"TV {i}", "Press Home, then Settings.")
                for i in range(3)]

    records = to_chat_records(seed, tv_manual, decline_share=0.2, no_docs_share=0.0)
    with_documents = [r for r in records if "(tv/" in r["messages"][1]["content"]]
    declined = sum(r["messages"][2]["content"] == IDK_REPLY for r in with_documents)
    assert len(with_documents) >= 0.9 * len(seed) and declined <= 0.3 * len(with_documents)
    sources = {f"({e.source})" for e in seed}
    assert all(any(s in r["messages"][1]["content"] for s in sources) for r in with_documents
               if r["messages"][2]["content"] != IDK_REPLY)  # answered from the sample text


def test_declines_beyond_the_share_are_dropped_and_the_rest_kept() -> None:
    answerable = [qa(i, SOURCES[i % 10]) for i in range(180)]
    declines = [Example(f"Is there a Linux app {i}", "Sorry, not documented.", kind="idk",
                        answerable=False) for i in range(60)]
    kept = balance_declines(answerable + declines, 0.1)
    assert kept[:180] == answerable  # every answerable example stays, in order
    assert 10 <= len(kept) - 180 <= 30  # about 20 declines: 10% of the records
    assert balance_declines(kept, 0.1) == balance_declines(kept, 0.1)  # deterministic
    assert balance_declines(answerable + declines[:5], 0.1) == answerable + declines[:5]


def test_the_cited_chunk_is_the_one_of_the_source_that_holds_the_answer() -> None:
    def retrieve(question: str) -> list[ContextChunk]:
        return [ContextChunk("plans.md", "Plans", "Storage: 10 GB per member on Team."),
                ContextChunk("plans.md", "Plans", "Guests: up to 50 guests on the Team plan."),
                ContextChunk("other.md", "Other", "Unrelated text about exports.")]

    example = Example("How many guests on Team?", "Team allows up to 50 guests.",
                      source="plans.md")
    [record] = to_chat_records([example], retrieve, decline_share=0.0, no_docs_share=0.0)
    chunks = shown_chunks(record)
    assert [c.text for c in chunks].count("Storage: 10 GB per member on Team.") == 0
    k = next(i for i, c in enumerate(chunks, 1) if "50 guests" in c.text)
    assert record["messages"][2]["content"] == f"Team allows up to 50 guests [{k}]."


def test_no_chunk_holding_the_answer_is_shown_as_a_distractor() -> None:
    def retrieve(question: str) -> list[ContextChunk]:
        return [ContextChunk("a.md", "A", "Press Home, then Settings, then Picture Mode."),
                ContextChunk("b.md", "B", "Picture Mode: press Home, then Settings."),
                *(ContextChunk(f"x{i}.md", "X", f"Unrelated text {i}.") for i in range(4))]

    examples = [Example(f"How do I change the picture mode {i}?",
                        "Press Home, then Settings, then Picture Mode.") for i in range(40)]
    for record in to_chat_records(examples, retrieve, decline_share=0.5):
        user, reply = record["messages"][1]["content"], record["messages"][2]["content"]
        if reply == IDK_REPLY:
            assert "Picture Mode" not in user
        else:
            assert user.count("Picture Mode") == 1 and reply.endswith("[{}].".format(
                next(i for i, c in enumerate(shown_chunks(record), 1) if c.source == "a.md")))


def test_the_oracle_keeps_its_retrieval_rank_instead_of_a_shuffled_place() -> None:
    """Serving shows the best match first; training must not teach that any place is alike."""
    for rank in range(3):
        def retrieve(question: str, rank: int = rank) -> list[ContextChunk]:
            chunks = [ContextChunk(f"x{i}.md", "X", f"Unrelated text {i}.") for i in range(4)]
            chunks.insert(rank, ContextChunk("a.md", "A", "Refunds take seven days."))
            return chunks

        examples = [Example(f"How long do refunds take {i}?", "Seven days.", source="a.md")
                    for i in range(12)]
        for record in to_chat_records(examples, retrieve, decline_share=0.0, no_docs_share=0):
            assert shown_chunks(record)[rank].source == "a.md"
            assert record["messages"][2]["content"] == f"Seven days [{rank + 1}]."


def test_missing_oracle_is_inserted_from_the_example_context() -> None:
    example = Example("Question number 7 in nowhere", "Seven days.", source="policy/x.md",
                      context="Refunds are processed in seven days.")
    [record] = to_chat_records([example], fake_retrieve, decline_share=0.0, no_docs_share=0.0)
    user = record["messages"][1]["content"]
    assert "(policy/x.md)\nRefunds are processed in seven days." in user
    assert len(shown_chunks(record)) == 3  # the oracle replaced the last distractor
    assert re.fullmatch(r"Seven days \[[123]\]\.", record["messages"][2]["content"])


def test_unanswerable_examples_get_distractors_and_keep_their_answer() -> None:
    examples = [Example(f"Is there a Linux app {i} in topic-1.md", "Sorry, not documented.",
                        source="topic-1.md", kind="idk", answerable=False) for i in range(20)]
    for record in to_chat_records(examples, fake_retrieve, decline_share=0.5, no_docs_share=0):
        assert "(topic-1.md)" not in record["messages"][1]["content"]
        assert record["messages"][2]["content"] == "Sorry, not documented."


def test_greetings_get_no_context_and_no_retrieve_uses_the_example_context() -> None:
    hello = Example("Hi", "Hello! How can I help?", kind="greeting")
    known = Example("How long?", "It takes 14 days. Then done.", source="billing/refunds.md",
                    context="Refunds take 14 days.")
    greeting, grounded = to_chat_records([hello, known], None, no_docs_share=0.0)
    assert greeting["messages"][:2] == build_messages("Hi", [])
    assert "(no documents matched)" in greeting["messages"][1]["content"]
    chunk = ContextChunk("billing/refunds.md", "Refunds", "Refunds take 14 days.")
    assert grounded["messages"][:2] == build_messages("How long?", [chunk])
    assert grounded["messages"][2]["content"] == "It takes 14 days [1]. Then done."


def test_a_share_of_facts_is_repeated_with_no_documents_and_declined() -> None:
    facts = [qa(i, SOURCES[i % 10]) for i in range(100)]
    own = Example("Is there a Linux app?", "Not documented, sorry.", kind="idk", answerable=False)
    tone = [Example(f"Hi {i}", "Hello! How can I help?", kind="greeting") for i in range(50)]
    records = to_chat_records([*facts, own, *tone], fake_retrieve, decline_share=0.01,
                              no_docs_share=0.3)
    bare = [r for r in records if "(no documents matched)" in r["messages"][1]["content"]
            and r["kind"] != "greeting"]
    assert 20 <= len(bare) <= 45
    assert {r["messages"][2]["content"] for r in bare} <= {IDK_REPLY, own.answer}
    assert all(r["kind"] == "idk" for r in bare)
    assert len(records) == 151 + len(bare)  # every example stays, greetings never repeated
    none = to_chat_records([*facts, own, *tone], fake_retrieve, decline_share=0.01,
                           no_docs_share=0.0)
    assert len(none) == 151


def test_served_context_from_feedback_is_reused_as_is() -> None:
    example = Example("How long do refunds take?", "Refunds take 14 days [1].",
                      context=format_context(CHUNKS), kind="feedback", label=False)
    [record] = to_chat_records([example], fake_retrieve)
    assert record["messages"][:2] == build_messages(example.question, CHUNKS)
    assert record["messages"][2]["content"] == example.answer and record["label"] is False


def test_long_chunks_are_trimmed_around_the_answer() -> None:
    filler = "Unrelated filler sentence about nothing much. " * 40
    text = filler + "Invoices are emailed on the first business day. " + filler

    def retrieve(_question: str) -> list[ContextChunk]:
        return [ContextChunk("billing/invoices.md", "Invoices", text)]

    example = Example("When are invoices emailed?", "Invoices are emailed on the first "
                      "business day.", source="billing/invoices.md")
    [record] = to_chat_records([example], retrieve, decline_share=0.0, no_docs_share=0.0)
    [chunk] = shown_chunks(record)
    assert len(chunk.text) <= 600
    assert "Invoices are emailed on the first business day." in chunk.text


def test_export_and_hash(tmp_path: Path) -> None:
    records = to_chat_records([Example("Ça va ?", "Très bien !", kind="smalltalk")], None)
    out = tmp_path / "sub" / "train.jsonl"
    assert export_jsonl(records, out) == 1
    assert "Très bien" in out.read_text(encoding="utf-8")
    assert [json.loads(line) for line in out.read_text().splitlines()] == records
    digest = data_hash(records)
    assert re.fullmatch(r"[0-9a-f]{16}", digest)
    assert data_hash([{**records[0], "label": False}]) != digest


def test_a_target_stating_what_its_context_lacks_is_grounded_or_left_out() -> None:
    chunk = ContextChunk("billing/refunds.md", "Refunds", "Refunds take 14 days to arrive.")
    wrong = Example("How long do refunds take?", "Refunds take 30 days to arrive.",
                    context=chunk.text, source=chunk.source, kind="cited")
    invented = Example("Who handles refunds?", "Call Crono at 555 0100 200.",
                       context=chunk.text, source=chunk.source, kind="cited")
    records = to_chat_records([wrong, invented], None, decline_share=0.0, no_docs_share=0.0)
    assert len(records) == 1  # nothing of the invented answer is in its context
    assert records[0]["messages"][2]["content"] == "Refunds take 14 days to arrive [1]."
