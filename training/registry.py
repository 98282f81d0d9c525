"""The adapter registry: versioned adapters on disk, a row per run, one active adapter.

    adapters/<version>/   PEFT files, adapter.gguf, train_config.json, metrics.json
                          (``ADAPTERS_DIR``: a path every worker can read)
    training_runs         a row per version; the one with status ``active`` is served (none:
                          the base model)

The active version is the database's (``TrainingStore``), not a file: serving processes read
it before each answer, so a promotion (or rollback) by any worker or command on the database
is picked up by every worker without a restart.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.errors import InputError
from training.ports import TrainingStore

GGUF_NAME = "adapter.gguf"
LEGACY_POINTER = "ACTIVE"  # where the active version was kept before it moved to the database
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
    def __init__(self, root: Path, store: TrainingStore) -> None:
        self.root, self.store = Path(root), store

    def path(self, version: str) -> Path:
        return self.root / version

    def gguf(self, version: str) -> Path:
        return self.path(version) / GGUF_NAME

    def active(self) -> str | None:
        """The promoted version whose files are here (``None``: the base model)."""
        version = self.store.active_training_run()
        if version is None and (self.root / LEGACY_POINTER).exists():
            version = self._adopt_pointer()
        return version if version and self.gguf(version).exists() else None

    def _adopt_pointer(self) -> str | None:
        """A registry from before the database kept the active version: adopt its file."""
        version = (self.root / LEGACY_POINTER).read_text().strip()
        if version and self.gguf(version).exists():
            self.store.activate_training_run(version)
        (self.root / LEGACY_POINTER).unlink(missing_ok=True)
        return version or None

    def new_version(self, requested_by: str = "cli") -> str:
        """Reserve a version name and its row (status ``training``)."""
        version = time.strftime("v%Y%m%d-%H%M%S")
        while self.path(version).exists():
            time.sleep(1)
            version = time.strftime("v%Y%m%d-%H%M%S")
        self.path(version).mkdir(parents=True)
        self.store.add_training_run(version, "training", requested_by)
        return version

    def record(self, version: str, **fields: Any) -> None:
        self.store.update_training_run(version, **fields)
        if "metrics" in fields or "gate" in fields:
            keys = ("data_hash", "examples", "metrics", "gate")
            report = {key: fields.get(key) for key in keys}
            (self.path(version) / "metrics.json").write_text(json.dumps(report, indent=2))

    def promote(self, version: str) -> None:
        """Make ``version`` the serving adapter (one transaction in the database)."""
        if not self.gguf(version).exists():
            known = ", ".join(i.version for i in self.list()) or "none yet"
            raise InputError(f"No adapter {version!r} — known versions: {known}.")
        self.store.activate_training_run(version)
        (self.root / LEGACY_POINTER).unlink(missing_ok=True)

    def rollback(self) -> str | None:
        """Serve the adapter promoted before the current one (``None`` = the base model)."""
        current = self.active()
        earlier = self.store.promoted_versions(exclude=current)
        target = next((v for v in earlier if self.gguf(v).exists()), None)
        if target is not None:
            self.promote(target)
            return target
        self.store.activate_training_run(None)
        (self.root / LEGACY_POINTER).unlink(missing_ok=True)
        return None

    def install(self, folder: Path) -> str | None:
        """Serve the adapter shipped in ``folder`` (``adapter.gguf`` beside the
        ``provenance.json`` of the ``supportbot train`` run that built it) in a registry that
        never held one; its version, or ``None`` when an adapter was ever trained or installed
        here (a rollback to the base model stays a rollback)."""
        if self.store.has_training_runs():
            return None
        provenance = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
        version = str(provenance["version"])
        target = self.path(version)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / "provenance.json", target / "provenance.json")
        partial = target / f"{GGUF_NAME}.partial"
        shutil.copy2(folder / GGUF_NAME, partial)
        os.replace(partial, self.gguf(version))
        self.store.add_training_run(
            version, "candidate", "shipped", data_hash=provenance.get("data_hash"),
            examples=provenance.get("examples"), config=provenance.get("config"),
            metrics=provenance.get("metrics"), gate=provenance.get("gate"))
        self.promote(version)
        return version

    def list(self) -> list[AdapterInfo]:
        active = self.active()
        runs = self.store.training_runs()
        return [AdapterInfo(r.version, r.version == active, r.status, r.created_at.isoformat(),
                            r.metrics or {}, r.gate) for r in runs]
