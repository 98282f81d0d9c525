"""Rate-limit counters in PostgreSQL (``bot.core.limits.RateCounter``): every worker on one
database shares each user's budget, so N workers do not allow N times the questions.

One row per question admitted, in an ``UNLOGGED`` table (counters are cheap to lose in a crash
and need no write-ahead log): the user's rows of the last window are counted under a
transaction-level advisory lock on the user's key, so two workers admitting the same user at
once are serialised; the database's clock dates them, so the workers' clocks need not agree.
Rows older than the window are deleted as questions come (``SKIP LOCKED``: never waiting on
another worker). One ``serve`` on SQLite counts in memory instead (``RateLimiter``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    func,
    select,
    text,
)

from knowledge.pgfolder import create_tables

if TYPE_CHECKING:
    from sqlalchemy import Engine

# pg_advisory_xact_lock(int4, int4): (this namespace, hashtext(key)); the refresh lock's
# namespace (knowledge.locks.ADVISORY_NAMESPACE) is another, so the two never meet
RATE_NAMESPACE = 0x5B08
metadata = MetaData()
rate_events = Table(
    "rate_events", metadata,
    Column("key", String(300), nullable=False),  # platform:user
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_rate_events_key_at", "key", "at"),
    prefixes=["UNLOGGED"],
)
_PURGE = text(
    "DELETE FROM rate_events WHERE ctid IN (SELECT ctid FROM rate_events WHERE at <= :since "
    "FOR UPDATE SKIP LOCKED)")


class PgRateCounter:
    """``RateCounter`` in the PostgreSQL database ``engine`` (the store's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._table_made = False

    def admit(self, key: str, limit: int, window: float) -> bool:
        self._ensure_table()
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:ns, hashtext(:key))"),
                         {"ns": RATE_NAMESPACE, "key": key})
            now = conn.execute(select(func.clock_timestamp())).scalar_one()  # lock granted
            since = now - timedelta(seconds=window)
            conn.execute(_PURGE, {"since": since})
            used = conn.execute(select(func.count()).select_from(rate_events).where(
                rate_events.c.key == key, rate_events.c.at > since)).scalar_one()
            if used >= limit:
                return False
            conn.execute(rate_events.insert().values(key=key, at=now))
            return True

    def _ensure_table(self) -> None:
        if self._table_made:
            return
        create_tables(metadata, self.engine)
        self._table_made = True
