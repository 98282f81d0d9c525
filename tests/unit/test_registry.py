"""The adapter registry: versions, the atomic ACTIVE pointer, promote and rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.storage import Store
from knowledge.errors import InputError
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


def shipped(tmp_path: Path) -> Path:
    folder = tmp_path / "shipped"
    folder.mkdir()
    (folder / "adapter.gguf").write_bytes(b"GGUF")
    (folder / "provenance.json").write_text(
        '{"version": "v20261203-shipped", "data_hash": "abc", "examples": 7, '
        '"metrics": {"train_seconds": 1.0}, "gate": {"promoted": true, "reasons": []}}')
    return folder


def test_a_shipped_adapter_serves_a_fresh_registry_with_its_provenance(tmp_path: Path) -> None:
    registry = make(tmp_path)
    assert registry.install(shipped(tmp_path)) == "v20261203-shipped"
    assert registry.active() == "v20261203-shipped"
    assert registry.gguf("v20261203-shipped").read_bytes() == b"GGUF"
    [info] = registry.list()
    assert info.status == "active" and info.metrics == {"train_seconds": 1.0}
    assert (registry.path(info.version) / "provenance.json").exists()


def test_a_shipped_adapter_never_replaces_a_trained_one_or_a_rollback(tmp_path: Path) -> None:
    registry = make(tmp_path)
    registry.promote(add(registry, "x"))
    folder = shipped(tmp_path)
    assert registry.install(folder) is None
    registry.rollback()
    assert registry.install(folder) is None and registry.active() is None
