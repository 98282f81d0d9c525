"""What every worker on one PostgreSQL shares (issue 27), on a real PostgreSQL 16 with pgvector
(tests/pg.py): the promoted adapter (its files on a path every worker reads), the rate-limit
budget, and the quarantine of the live pgvector index with its released passages."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.runtime import Runtime
from bot.settings import load_settings
from tests.fakes import FakeChatModel
from tests.helpers import PLANTED
from training.registry import SHIPPED

QUESTION = "How do I turn on two-factor authentication?"
LOADED: dict[int, list[str]] = {}  # id(runtime) → the adapter file of each model it loaded


@pytest.fixture
def make_worker(pg_url: str, tmp_path: Path, embed_model: Any
                ) -> Iterator[Callable[..., Runtime]]:
    """Runtimes on one database, each with a home of its own (as on two machines) and one
    shared adapters folder; their chat model is the fake (``LOADED`` lists what each loads)."""
    made: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        settings = load_settings(database_url=pg_url, adapters_dir=tmp_path / "shared-adapters",
                                 supportbot_home=tmp_path / f"worker-{len(made)}", **overrides)
        loaded: list[str] = []

        def load(spec: Any) -> Any:  # a ChatModel
            loaded.append(spec.adapter)
            return FakeChatModel()

        made.append(Runtime(settings, embed_model=embed_model, chat_loader=load))
        LOADED[id(made[-1])] = loaded
        return made[-1]

    yield make
    for runtime in made:
        runtime.close()


def test_a_promotion_by_one_worker_is_served_by_the_other_from_its_next_question(
    make_worker: Callable[..., Runtime], corpus: Path
) -> None:
    first, second = make_worker(), make_worker()
    first.refresh([corpus], kind="ingest")
    assert second.engine.answer(QUESTION).adapter is None  # the base model
    version = first.registry.install(SHIPPED)
    assert version is not None
    assert second.registry.active() == version
    assert second.engine.answer(QUESTION).adapter == version
    assert LOADED[id(second)][-1] == str(  # the shared folder's file
        second.settings.adapters_dir / version / "adapter.gguf")
    assert not (second.settings.supportbot_home / "adapters").exists()
    assert first.registry.rollback() is None
    assert second.engine.answer(QUESTION).adapter is None
    assert [(i.version, i.status, i.active) for i in second.registry.list()] == [
        (version, "retired", False)]


def test_a_registry_from_before_adopts_its_active_file(make_worker: Callable[..., Runtime]
                                                       ) -> None:
    runtime = make_worker()
    folder = runtime.settings.adapters_dir / "v-copied"
    folder.mkdir(parents=True)
    shutil.copy(SHIPPED / "adapter.gguf", folder / "adapter.gguf")  # no run recorded for it
    (runtime.settings.adapters_dir / "ACTIVE").write_text("v-copied")
    assert runtime.registry.active() == "v-copied"
    assert not (runtime.settings.adapters_dir / "ACTIVE").exists()
    assert make_worker().registry.active() == "v-copied"  # in the database now


def test_workers_on_one_database_share_each_users_rate_limit(
    make_worker: Callable[..., Runtime], pg_url: str
) -> None:
    from sqlalchemy import create_engine, text

    first = make_worker(rate_limit_per_minute=3).router.limiter
    second = make_worker(rate_limit_per_minute=3).router.limiter
    assert first.counter is not None  # counted in PostgreSQL
    assert [first.allow("slack:U1"), second.allow("slack:U1"), first.allow("slack:U1")] == [
        True, True, True]
    assert not second.allow("slack:U1") and not first.allow("slack:U1")
    assert second.allow("slack:U2")  # another user's budget
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:  # a minute passes for U1's questions
            conn.execute(text("UPDATE rate_events SET at = at - interval '61 seconds' "
                              "WHERE key = 'slack:U1'"))
        assert second.allow("slack:U1")
        with engine.connect() as conn:  # the expired ones are gone
            assert conn.execute(text("SELECT count(*) FROM rate_events")).scalar() == 2
    finally:
        engine.dispose()


def test_a_single_serve_on_sqlite_counts_in_memory() -> None:
    from bot.backends import make_rate_limiter

    def no_database() -> Any:
        raise AssertionError("SQLite's limiter needs no database")

    limiter = make_rate_limiter(load_settings(rate_limit_per_minute=1), no_database)
    assert limiter.counter is None
    assert limiter.allow("web:a") and not limiter.allow("web:a")


def test_the_quarantine_of_the_pgvector_index_is_shared(
    make_worker: Callable[..., Runtime], corpus: Path, embed_model: Any, pg_url: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.test_cli import one_json_object, run_main
    from tests.integration.test_quarantine import PLANTED_FILES, REFUND_NOTE, all_text

    for name in PLANTED_FILES:
        shutil.copy(PLANTED / name, corpus / name)
    first = make_worker()
    assert first.refresh([corpus], kind="ingest").as_dict()["quarantined"] == 3
    monkeypatch.setenv("DATABASE_URL", pg_url)  # the CLI on another machine
    monkeypatch.setenv("SUPPORTBOT_HOME", str(tmp_path / "admin-machine"))

    def cli(*args: str) -> dict[str, Any]:
        code, out, err = run_main(*args, "--json", build=lambda settings: Runtime(
            settings, embed_model=embed_model))
        assert code == 0, err
        return one_json_object(out)

    listing = cli("quarantine", "list")
    assert listing["count"] == 3 and cli("status")["quarantined"] == 3
    note = next(r for r in listing["quarantined"] if r["source"] == "refund-window-note.md")
    assert note["text"].startswith(REFUND_NOTE) and REFUND_NOTE not in all_text(first)
    assert cli("quarantine", "release", note["id"])["released"] == [note["id"]]
    assert first.index_folder.released_ids() == {note["id"]}  # in the database
    assert REFUND_NOTE in all_text(first)  # the release's refresh is live for every worker
    assert [p.source for p in first.index_folder.quarantined()] == sorted(
        set(PLANTED_FILES) - {"refund-window-note.md"})
    assert cli("status")["quarantined"] == 2
    assert cli("quarantine", "list")["count"] == 2
    first.refresh()  # a later refresh by any worker keeps it released
    assert REFUND_NOTE in all_text(first) and len(first.index_folder.quarantined()) == 2
    assert not list(tmp_path.glob("*/index"))  # no worker keeps any of it on its disk
