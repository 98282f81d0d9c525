"""The adapter registry: versions, the atomic ACTIVE pointer, promote and rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import InputError
from bot.storage import Store
from training.registry import AdapterRegistry


def make(tmp_path: Path) -> AdapterRegistry:
    return AdapterRegistry(tmp_path / "adapters", Store(f"sqlite:///{tmp_path / 'db.sqlite'}"))


def add(registry: AdapterRegistry, version_hint: str) -> str:
    version = registry.new_version("cli")
    registry.gguf(version).write_bytes(b"GGUF")  # stands in for the exported adapter
    registry.record(version, status="candidate", data_hash=version_hint, examples=3,
                    metrics={"last_loss": 0.5}, gate={"promoted": True, "reasons": []})
    return version


def test_promote_rollback_and_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = make(tmp_path)
    stamps = iter(["v20260101-000001", "v20260101-000002"])
    monkeypatch.setattr("training.registry.time.strftime", lambda fmt: next(stamps))
    first, second = add(registry, "a"), add(registry, "b")
    assert registry.active() is None
    registry.promote(first)
    registry.promote(second)
    assert registry.active() == second
    listed = {i.version: i for i in registry.list()}
    assert listed[second].active and listed[second].status == "active"
    assert listed[first].status == "retired" and listed[first].metrics == {"last_loss": 0.5}
    assert registry.rollback() == first and registry.active() == first
    assert registry.rollback() == second  # the one promoted before the current one
    report = (registry.path(first) / "metrics.json").read_text()
    assert '"data_hash": "a"' in report


def test_rollback_to_base_and_unknown_version(tmp_path: Path) -> None:
    registry = make(tmp_path)
    only = add(registry, "x")
    registry.promote(only)
    assert registry.rollback() is None and registry.active() is None
    with pytest.raises(InputError, match="No adapter 'v-nope'"):
        registry.promote("v-nope")
