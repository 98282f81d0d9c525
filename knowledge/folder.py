"""The index folder's cheap side: which build is live, its manifest and the refresh lock.

Nothing here imports LlamaIndex, FAISS or a model, so ``supportbot status`` and a refused
refresh answer in a fraction of a second; ``knowledge.index.KnowledgeBase`` builds on it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from knowledge import quarantine
from knowledge.errors import IndexMissingError
from knowledge.locks import REFRESH_RUNNING, FileRefreshLock, RefreshLock
from knowledge.quarantine import QuarantinedPassage

MANIFEST = "manifest.json"
LOCK_FILE = "refresh.lock"
__all__ = ["LOCK_FILE", "MANIFEST", "REFRESH_RUNNING", "IndexFolder"]


class IndexFolder:
    """One index folder: ``CURRENT`` names the live build under ``builds/``. The refresh
    lock is ``refresh_lock`` (knowledge/locks.py), by default a lock file in the folder."""

    def __init__(self, root: Path, refresh_lock: RefreshLock | None = None) -> None:
        self.root = Path(root)
        self.builds = self.root / "builds"
        self.refresh_lock = refresh_lock or FileRefreshLock(self.root / LOCK_FILE)

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

    def lock(self) -> AbstractContextManager[None]:
        """Hold the refresh lock (re-entrant in one thread); refuse if another holds it."""
        return self.refresh_lock.hold()

    def is_refreshing(self) -> bool:
        """Whether any process (this one included) is refreshing this index now."""
        return self.refresh_lock.is_held()

    def quarantined(self, include_released: bool = False) -> list[QuarantinedPassage]:
        """The live build's quarantined passages (``supportbot quarantine list``)."""
        return quarantine.listed(self.root, include_released)

    def released_ids(self) -> set[str]:
        """The passages an admin let back in: the next build indexes them."""
        return quarantine.released_ids(self.root)

    def release(self, passages: Sequence[QuarantinedPassage], by: str) -> None:
        """Remember ``passages`` as released (``supportbot quarantine release``)."""
        quarantine.release(self.root, passages, by)

    def close(self) -> None:
        """Release what the index holds open (nothing, for files)."""
