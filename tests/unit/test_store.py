"""The store on SQLite and on PostgreSQL (tests/pg.py): migrations, persistence, refresh runs;
SQLite's pragmas."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect, text
from sqlalchemy.exc import IntegrityError

from bot.core.types import Answer
from bot.storage import Store
from bot.storage.models import Base
from bot.storage.revisions import head_revision as read_head
from bot.storage.store import MIGRATIONS
from knowledge.errors import ConfigError
from tests.fakes import make_source

TABLES = {"conversations", "messages", "feedback", "refresh_runs"}


@pytest.fixture
def db_url(both_db_url: str) -> str:
    """Each test here that opens ``db_url`` runs on SQLite and on PostgreSQL."""
    return both_db_url


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def answer(text: str = "Refunds take 30 days [1].") -> Answer:
    return Answer(text, (make_source(),), 12.5, "fake-model", None, "refunds", "[1] ...")


def version(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]


def test_sqlite_folder_is_created(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'new' / 'bot.db'}")
    try:
        assert (tmp_path / "new" / "bot.db").exists()
        assert version(store) == [head_revision()]
    finally:
        store.close()


def test_empty_database_gets_every_table_at_head(db_url: str) -> None:
    store = Store(db_url)
    try:
        tables = set(inspect(store.engine).get_table_names())
        assert tables >= TABLES
        assert set(Base.metadata.tables) <= tables  # every model has its table
        assert "alembic_version" in tables
        assert version(store) == [head_revision()]
        columns = {c["name"] for c in inspect(store.engine).get_columns("messages")}
        assert {"event_id", "platform_ref", "reply_to_id", "query", "sources",
                "context", "latency_ms"} <= columns
    finally:
        store.close()


def test_head_read_from_the_files_is_alembics_head() -> None:
    assert read_head() == head_revision()


def test_database_behind_the_head_is_upgraded(db_url: str) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    url = db_url
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:  # a database left at the first migration
        config.attributes["connection"] = connection
        command.upgrade(config, "0001_initial")
    engine.dispose()
    store = Store(url)
    try:
        assert version(store) == [head_revision()]
        assert set(Base.metadata.tables) <= set(inspect(store.engine).get_table_names())
    finally:
        store.close()


def test_existing_database_keeps_its_rows_and_migrate_is_a_no_op(db_url: str) -> None:
    url = db_url
    store = Store(url)
    conversation = store.conversation("slack", "C1", "t1", "U1")
    question = store.add_question(conversation, "U1", "How do refunds work?", "Ev1")
    answer_id = store.add_answer(conversation, question, answer())
    store.set_feedback(answer_id, "slack", "U2", "+1", 1)
    run = store.start_refresh("ingest")
    store.finish_refresh(run, "succeeded", {"documents": 4})
    store.close()

    reopened = Store(url)
    try:
        statements: list[str] = []
        event.listen(reopened.engine, "before_cursor_execute",
                     lambda *args: statements.append(args[2]))
        reopened.migrate()
        changes = [s for s in statements
                   if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP", "INSERT",
                                                     "UPDATE", "DELETE"))]
        assert changes == []  # nothing left to apply
        assert version(reopened) == [head_revision()]
        assert reopened.conversation("slack", "C1", "t1", "U1") == conversation
        assert [t.text for t in reopened.history(conversation, 10)] == [
            "How do refunds work?", "Refunds take 30 days [1]."]
        assert [(f.user, f.score, f.question) for f in reopened.list_feedback()] == [
            ("U2", 1, "How do refunds work?")]
        runs = reopened.refresh_runs()
        assert [(r.kind, r.status, r.stats) for r in runs] == [
            ("ingest", "succeeded", {"documents": 4})]
        # the duplicate-event guard survives a restart
        assert reopened.add_question(conversation, "U1", "again", "Ev1") is None
    finally:
        reopened.close()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = Store(f"sqlite:///{path}")
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10000
    finally:
        store.close()
    raw = sqlite3.connect(path)  # WAL is a property of the file, not just of our connections
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_foreign_keys_are_enforced(db_url: str) -> None:
    store = Store(db_url)
    try:
        with pytest.raises(IntegrityError, match="(?i)FOREIGN KEY"):
            store.set_feedback(9999, "slack", "U1", "+1", 1)
        assert store.add_question(9999, "U1", "orphan question") is None  # refused
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM messages")).scalar() == 0
    finally:
        store.close()


def test_unopenable_database_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError) as caught:
        Store(f"sqlite:///{blocker / 'sub' / 'bot.db'}")
    assert str(caught.value).startswith("Cannot open the database ")
    assert "\n" not in str(caught.value) and caught.value.exit_code == 2
    with pytest.raises(ConfigError, match="is not a database URL"):
        Store("garbage")


def test_interrupt_stale_refreshes_marks_only_running_runs(db_url: str) -> None:
    store = Store(db_url)
    try:
        done = store.start_refresh("ingest")
        store.finish_refresh(done, "succeeded", {"documents": 1})
        stale = store.start_refresh("refresh", "slack:U1")
        assert store.interrupt_stale_refreshes() == 1
        status: dict[int, Any] = {r.id: (r.status, r.finished_at) for r in store.refresh_runs()}
        assert status[done][0] == "succeeded"
        assert status[stale][0] == "interrupted" and status[stale][1] is not None
        assert store.interrupt_stale_refreshes() == 0
    finally:
        store.close()


def test_feedback_rows_carry_question_and_answer(db_url: str) -> None:
    store = Store(db_url)
    try:
        conversation = store.conversation("console", "local", "abc", "me")
        q1 = store.add_question(conversation, "me", "Q one")
        a1 = store.add_answer(conversation, q1, answer("A one"))
        q2 = store.add_question(conversation, "me", "Q two")
        a2 = store.add_answer(conversation, q2, answer("A two"))
        store.set_feedback(a2, "console", "me", "-1", -1)
        store.set_feedback(a1, "console", "me", "+1", 1)
        rows = [(f.question, f.answer, f.score) for f in store.list_feedback()]
        assert rows == [("Q two", "A two", -1), ("Q one", "A one", 1)]
        assert store.remove_feedback(a1, "me", "-1") is False  # other reaction: kept
        assert store.remove_feedback(a1, "me") is True
    finally:
        store.close()


def test_unreachable_postgres_is_a_config_error(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://nobody@/none?host={tmp_path / 'no-server'}"
    with pytest.raises(ConfigError) as caught:
        Store(url)
    assert str(caught.value).startswith("Cannot open the database postgresql+psycopg://")
    assert "\n" not in str(caught.value)


def test_the_first_admin_is_created_once(store: Store) -> None:
    """Two workers starting on one fresh database both try to create the first-start admin:
    one wins, the other is told so (and keeps the winner's password)."""
    assert store.add_admin("admin", "hash-1") is True
    assert store.add_admin("admin", "hash-2") is False
    assert store.admin_hash("admin") == "hash-1" and store.admin_count() == 1
