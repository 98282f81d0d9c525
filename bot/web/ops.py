"""What the console's Knowledge and Model pages do, as a port (``ConsoleOps``) the composition
root implements over the runtime (``bot.console_ops``) and tests implement with a fake; and
``Jobs``, the one background job (a refresh or a training run) at a time, with its progress."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from knowledge.errors import SupportbotError

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (stage, done, total)


class ConsoleOps(Protocol):
    def knowledge(self) -> dict[str, Any]:
        """Sources, documents and chunks, quarantined passages, the recent refresh runs."""

    def refresh(self, requested_by: str, progress: Progress) -> str:
        """Refresh the index (slow: ``Jobs`` runs it); a one-line result."""

    def release(self, ids: list[str], requested_by: str) -> str:
        """Let quarantined passages back in (refreshes); a one-line result."""

    def adapters(self) -> list[dict[str, Any]]:
        """Every adapter with its gate report and how many answers it gave."""

    def train(self, requested_by: str, progress: Progress) -> str:
        """Train an adapter and gate it (slow: ``Jobs`` runs it); a one-line result."""

    def promote(self, version: str) -> str: ...

    def rollback(self) -> str: ...

    def gaps(self, limit: int) -> list[dict[str, Any]]:
        """The top knowledge gaps (``knowledge.gaps``): label, count, users, questions,
        nearest_sources."""


@dataclass
class Job:
    kind: str
    requested_by: str
    status: str = "running"  # running | succeeded | failed
    stage: str = "starting"
    done: int = 0
    total: int = 0
    message: str = ""
    started: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Jobs:
    """Runs one slow admin job at a time in a thread; ``current`` is the latest job."""

    def __init__(self) -> None:
        self.current: Job | None = None
        self._lock = threading.Lock()

    def start(self, kind: str, requested_by: str,
              work: Callable[[Progress], str]) -> Job | None:
        """The new job, or ``None`` while one is running."""
        with self._lock:
            if self.current is not None and self.current.status == "running":
                return None
            job = self.current = Job(kind, requested_by)
        threading.Thread(target=self._run, args=(job, work), daemon=True).start()
        return job

    @staticmethod
    def _run(job: Job, work: Callable[[Progress], str]) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            job.stage, job.done, job.total = stage, done, total

        try:
            job.message, job.status = work(progress), "succeeded"
        except SupportbotError as exc:
            job.message, job.status = str(exc), "failed"
        except Exception as exc:  # noqa: BLE001 - shown on the page, never kills the server
            log.exception("%s failed", job.kind)
            job.message, job.status = f"{job.kind} failed unexpectedly ({type(exc).__name__})", \
                "failed"
