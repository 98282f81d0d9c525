"""What training needs from storage, as a Protocol (``bot.storage.Store`` implements it).

Training never imports the database layer: the registry records its runs and the data
builder reads votes through this port, so a test can hand in any object that has these
methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from knowledge.types import VerifiedEntry


@dataclass(frozen=True)
class TrainingFeedbackRow:
    """A vote joined with what was voted on, for building training data."""

    feedback_id: int
    platform: str
    user: str
    score: int
    created_at: datetime
    message_id: int
    conversation_id: int
    question: str
    query: str
    answer: str
    context: str
    sources: list[dict[str, Any]]
    correction: str | None  # the first user message after the answer, before the next answer


@dataclass(frozen=True)
class TrainingRunRow:
    """One adapter run as the registry lists it."""

    version: str
    status: str  # training | candidate | rejected | active | retired | failed
    created_at: datetime
    metrics: dict[str, Any] | None
    gate: dict[str, Any] | None


class TrainingStore(Protocol):
    def training_feedback(self) -> list[TrainingFeedbackRow]: ...

    def verified_answers(self) -> list[VerifiedEntry]:
        """The support team's verified answers being served (corrections and approvals)."""

    def add_training_run(self, version: str, status: str, requested_by: str,
                         **fields: Any) -> None: ...

    def update_training_run(self, version: str, **fields: Any) -> None: ...

    def activate_training_run(self, version: str | None) -> None:
        """Mark ``version`` active (promoted now; a version without a run gets one) and every
        other active run retired; ``None`` retires them all."""

    def active_training_run(self) -> str | None:
        """The active run's version: the promoted adapter every worker serves (``None``:
        the base model)."""

    def promoted_versions(self, exclude: str | None = None) -> list[str]:
        """Versions ever promoted, the latest promotion first."""

    def has_training_runs(self) -> bool: ...

    def training_runs(self) -> list[TrainingRunRow]:
        """Every run, oldest first."""
