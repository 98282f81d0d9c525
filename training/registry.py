"""The adapter registry: versioned adapters on disk, a row per run, one active adapter.

    adapters/<version>/   PEFT files, adapter.gguf, train_config.json, metrics.json
    adapters/ACTIVE       the serving version (replaced atomically; absent = base model)

Serving processes read ``ACTIVE`` before each answer, so a promotion (or rollback) is picked up
without a restart.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.storage import Store
from bot.storage.models import TrainingRun, utcnow
from knowledge.errors import InputError

GGUF_NAME = "adapter.gguf"
# The adapter a fresh home serves (``AdapterRegistry.install``): built by the project's own
# ``supportbot train`` on the sample knowledge base, its provenance.json beside it.
SHIPPED = Path(__file__).parent / "shipped"


@dataclass(frozen=True)
class AdapterInfo:
    version: str
    active: bool
    status: str
    created_at: str
    metrics: dict[str, Any]
    gate: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "active": self.active, "status": self.status,
                "created_at": self.created_at, "metrics": self.metrics, "gate": self.gate}


class AdapterRegistry:
    def __init__(self, root: Path, store: Store) -> None:
        self.root, self.store = Path(root), store

    def path(self, version: str) -> Path:
        return self.root / version

    def gguf(self, version: str) -> Path:
        return self.path(version) / GGUF_NAME

    def active(self) -> str | None:
        try:
            version = (self.root / "ACTIVE").read_text().strip()
        except FileNotFoundError:
            return None
        return version if version and self.gguf(version).exists() else None

    def new_version(self, requested_by: str = "cli") -> str:
        """Reserve a version name and its row (status ``training``)."""
        version = time.strftime("v%Y%m%d-%H%M%S")
        while self.path(version).exists():
            time.sleep(1)
            version = time.strftime("v%Y%m%d-%H%M%S")
        self.path(version).mkdir(parents=True)
        with self.store.session() as s:
            s.add(TrainingRun(version=version, status="training", requested_by=requested_by))
        return version

    def record(self, version: str, **fields: Any) -> None:
        with self.store.session() as s:
            run = s.scalar(select(TrainingRun).filter_by(version=version))
            if run is not None:
                for key, value in fields.items():
                    setattr(run, key, value)
        if "metrics" in fields or "gate" in fields:
            keys = ("data_hash", "examples", "metrics", "gate")
            report = {key: fields.get(key) for key in keys}
            (self.path(version) / "metrics.json").write_text(json.dumps(report, indent=2))

    def promote(self, version: str) -> None:
        """Make ``version`` the serving adapter (atomic pointer swap)."""
        if not self.gguf(version).exists():
            known = ", ".join(i.version for i in self.list()) or "none yet"
            raise InputError(f"No adapter {version!r} — known versions: {known}.")
        pointer = self.root / "ACTIVE.tmp"
        pointer.write_text(version)
        os.replace(pointer, self.root / "ACTIVE")
        with self.store.session() as s:
            for old in s.scalars(select(TrainingRun).filter_by(status="active")):
                old.status = "retired"
            run = s.scalar(select(TrainingRun).filter_by(version=version))
            if run is not None:
                run.status, run.promoted_at = "active", utcnow()

    def rollback(self) -> str | None:
        """Serve the adapter promoted before the current one (``None`` = the base model)."""
        current = self.active()
        with self.store.session() as s:
            earlier = s.scalars(
                select(TrainingRun.version)
                .where(TrainingRun.promoted_at.is_not(None), TrainingRun.version != current)
                .order_by(TrainingRun.promoted_at.desc())
            ).all()
        target = next((v for v in earlier if self.gguf(v).exists()), None)
        if target is not None:
            self.promote(target)
            return target
        (self.root / "ACTIVE").unlink(missing_ok=True)
        with self.store.session() as s:
            for run in s.scalars(select(TrainingRun).filter_by(status="active")):
                run.status = "retired"
        return None

    def install(self, folder: Path) -> str | None:
        """Serve the adapter shipped in ``folder`` (``adapter.gguf`` beside the
        ``provenance.json`` of the ``supportbot train`` run that built it) in a registry that
        never held one; its version, or ``None`` when an adapter was ever trained or installed
        here (a rollback to the base model stays a rollback)."""
        with self.store.session() as s:
            if s.scalar(select(TrainingRun.id).limit(1)) is not None:
                return None
        provenance = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
        version = str(provenance["version"])
        target = self.path(version)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / "provenance.json", target / "provenance.json")
        partial = target / f"{GGUF_NAME}.partial"
        shutil.copy2(folder / GGUF_NAME, partial)
        os.replace(partial, self.gguf(version))
        with self.store.session() as s:
            s.add(TrainingRun(version=version, status="candidate", requested_by="shipped",
                              data_hash=provenance.get("data_hash"),
                              examples=provenance.get("examples"),
                              config=provenance.get("config"), metrics=provenance.get("metrics"),
                              gate=provenance.get("gate")))
        self.promote(version)
        return version

    def list(self) -> list[AdapterInfo]:
        active = self.active()
        with self.store.session() as s:
            runs = s.scalars(select(TrainingRun).order_by(TrainingRun.id)).all()
        return [AdapterInfo(r.version, r.version == active, r.status, r.created_at.isoformat(),
                            r.metrics or {}, r.gate) for r in runs]
