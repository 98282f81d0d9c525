"""The index folder's cheap side: which build is live, its manifest and the refresh lock.

Nothing here imports LlamaIndex, FAISS or a model, so ``supportbot status`` and a refused
refresh answer in a fraction of a second; ``knowledge.index.KnowledgeBase`` builds on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from knowledge.errors import IndexMissingError, RefreshInProgressError

MANIFEST = "manifest.json"
LOCK_FILE = "refresh.lock"
REFRESH_RUNNING = ("A knowledge refresh is already running — wait for it to finish, "
                   "then retry.")


class IndexFolder:
    """One index folder: ``CURRENT`` names the live build under ``builds/``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.builds = self.root / "builds"
        self._lock = FileLock(str(self.root / LOCK_FILE))

    def current_name(self) -> str | None:
        try:
            name = (self.root / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None
        return name if name and (self.builds / name / MANIFEST).exists() else None

    def require_current(self) -> str:
        """The live build's name; ``IndexMissingError`` when nothing has been indexed yet."""
        name = self.current_name()
        if name is None:
            raise IndexMissingError(
                "No knowledge index yet — run `supportbot ingest [PATH...]` first."
            )
        return name

    def manifest(self) -> dict[str, Any] | None:
        name = self.current_name()
        if name is None:
            return None
        return dict(json.loads((self.builds / name / MANIFEST).read_text()))

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the refresh lock (re-entrant in one thread); refuse if another holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise RefreshInProgressError(REFRESH_RUNNING) from None
        try:
            yield
        finally:
            self._lock.release()

    def is_refreshing(self) -> bool:
        """Whether any process (this one included) is refreshing this index now."""
        if not (self.root / LOCK_FILE).exists():
            return False  # never locked (and the probe would not create the folder)
        probe = FileLock(str(self.root / LOCK_FILE), thread_local=False, is_singleton=False)
        try:
            probe.acquire(timeout=0)
        except Timeout:
            return True
        probe.release()
        return False
