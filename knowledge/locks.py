"""The refresh lock: one refresh at a time, refused (never queued) while another runs. The
training lock (``supportbot train``, ``/kb train``) is another of the same kind, with a key and
a message of its own.

Two implementations of one small protocol, chosen by the composition root (bot/runtime.py):

* ``FileRefreshLock``: a lock file in the index folder (one machine); the OS releases it when
  the holding process dies.
* ``AdvisoryRefreshLock``: a PostgreSQL session advisory lock, for any number of workers on
  one database (``DATABASE_URL``); the server releases it when the holder's connection ends,
  a killed worker included.

Both are re-entrant for the thread that holds them (a refresh takes the lock, then the build
takes it again) and refuse every other holder, in this process or another.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from filelock import FileLock, Timeout

from knowledge.errors import RefreshInProgressError

if TYPE_CHECKING:
    from sqlalchemy import Engine

REFRESH_RUNNING = ("A knowledge refresh is already running — wait for it to finish, "
                   "then retry.")
TRAINING_RUNNING = "A training run is already in progress — wait for it to finish."
# pg_try_advisory_lock(int4, int4): (supportbot's namespace, which lock); per database
ADVISORY_NAMESPACE = 0x5B07
REFRESH_KEY = 1
TRAINING_KEY = 2


class RefreshLock(Protocol):
    """Held for a whole refresh; ``hold`` raises ``RefreshInProgressError`` if taken."""

    def hold(self) -> AbstractContextManager[None]: ...

    def is_held(self) -> bool:
        """Whether anyone (this process included) holds it now."""
        ...

    @property
    def kind(self) -> str:
        """``file`` or ``postgresql`` (``supportbot status``)."""
        ...


class FileRefreshLock:
    """A lock file (``filelock``): one machine, released by the OS if the holder dies."""

    kind = "file"

    def __init__(self, path: Path, busy: str = REFRESH_RUNNING) -> None:
        self.path, self.busy = Path(path), busy  # busy: the refusal's message
        self._lock = FileLock(str(self.path))

    @contextmanager
    def hold(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise RefreshInProgressError(self.busy) from None
        try:
            yield
        finally:
            self._lock.release()

    def is_held(self) -> bool:
        if not self.path.exists():
            return False  # never locked (and the probe would not create the folder)
        probe = FileLock(str(self.path), thread_local=False, is_singleton=False)
        try:
            probe.acquire(timeout=0)
        except Timeout:
            return True
        probe.release()
        return False


class AdvisoryRefreshLock:
    """A PostgreSQL session-level advisory lock on one connection, held while the refresh
    runs. ``is_held`` reads ``pg_locks`` (it never takes the lock, so it cannot make a
    concurrent refresh fail)."""

    kind = "postgresql"

    def __init__(self, engine: Engine, key: int = REFRESH_KEY,
                 busy: str = REFRESH_RUNNING) -> None:
        self.engine, self.key, self.busy = engine, key, busy
        self._local = threading.local()  # this thread's depth (re-entrancy)

    @contextmanager
    def hold(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth:  # this thread holds it already
            self._local.depth = depth + 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        with self._connection() as conn:
            if not self._call(conn, "pg_try_advisory_lock"):
                raise RefreshInProgressError(self.busy)
            self._local.depth = 1
            try:
                yield
            finally:
                self._local.depth = 0
                self._call(conn, "pg_advisory_unlock")

    def is_held(self) -> bool:
        from sqlalchemy import text

        if getattr(self._local, "depth", 0):
            return True
        with self._connection() as conn:
            return bool(conn.execute(text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND classid = CAST(:ns AS oid) AND objid = CAST(:key AS oid)"
                " AND objsubid = 2)"), {"ns": ADVISORY_NAMESPACE, "key": self.key}).scalar())

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A pooled connection in autocommit: the lock belongs to the session, not to a
        transaction, so nothing else on it may commit or roll it away."""
        with self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def _call(self, conn: Any, function: str) -> bool:
        from sqlalchemy import text

        return bool(conn.execute(text(f"SELECT {function}(:ns, :key)"),
                                 {"ns": ADVISORY_NAMESPACE, "key": self.key}).scalar())
