"""``Store``'s side of ``training.ports.TrainingStore``: adapter runs in the database."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.models import TrainingRun, utcnow
from training.ports import TrainingRunRow


class TrainingRuns:
    """Mixed into ``Store``; needs its ``session``."""

    session: Callable[[], AbstractContextManager[Session]]

    def add_training_run(self, version: str, status: str, requested_by: str,
                         **fields: Any) -> None:
        with self.session() as s:
            s.add(TrainingRun(version=version, status=status, requested_by=requested_by,
                              **fields))

    def update_training_run(self, version: str, **fields: Any) -> None:
        with self.session() as s:
            run = s.scalar(select(TrainingRun).filter_by(version=version))
            if run is not None:
                for key, value in fields.items():
                    setattr(run, key, value)

    def activate_training_run(self, version: str | None) -> None:
        with self.session() as s:
            for old in s.scalars(select(TrainingRun).filter_by(status="active")):
                old.status = "retired"
            if version is None:
                return
            run = s.scalar(select(TrainingRun).filter_by(version=version))
            if run is None:  # an adapter folder copied into the registry by hand
                run = TrainingRun(version=version, requested_by="promote")
                s.add(run)
            run.status, run.promoted_at = "active", utcnow()

    def active_training_run(self) -> str | None:
        with self.session() as s:  # the latest promotion, should two have raced
            return s.scalar(select(TrainingRun.version).filter_by(status="active")
                            .order_by(TrainingRun.promoted_at.desc()).limit(1))

    def promoted_versions(self, exclude: str | None = None) -> list[str]:
        with self.session() as s:
            query = select(TrainingRun.version).where(TrainingRun.promoted_at.is_not(None))
            if exclude is not None:
                query = query.where(TrainingRun.version != exclude)
            return list(s.scalars(query.order_by(TrainingRun.promoted_at.desc())).all())

    def has_training_runs(self) -> bool:
        with self.session() as s:
            return s.scalar(select(TrainingRun.id).limit(1)) is not None

    def training_runs(self) -> list[TrainingRunRow]:
        with self.session() as s:
            runs = s.scalars(select(TrainingRun).order_by(TrainingRun.id)).all()
            return [TrainingRunRow(r.version, r.status, r.created_at, r.metrics, r.gate)
                    for r in runs]
