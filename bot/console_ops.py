"""``bot.web.ops.ConsoleOps`` over the runtime: what the console's Knowledge and Model pages
do, with the same effects as the CLI's commands (``refresh``, ``quarantine release``,
``adapters list|promote|rollback``, ``train``)."""

from __future__ import annotations

from typing import Any

from bot.knowledge_admin import KnowledgeAdmin
from bot.runtime import Runtime
from bot.web.ops import Progress
from knowledge.errors import InputError


class RuntimeOps:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def knowledge(self) -> dict[str, Any]:
        manifest = self.runtime.kb.manifest() or {}
        runs = [{"id": r.id, "kind": r.kind, "status": r.status, "requested_by": r.requested_by,
                 "started_at": r.started_at.isoformat() if r.started_at else None,
                 "error": r.error or ""} for r in self.runtime.store.refresh_runs(limit=20)]
        passages = self.runtime.index_folder.quarantined(include_released=True)
        return {"documents": manifest.get("documents", 0), "chunks": manifest.get("chunks", 0),
                "sources": manifest.get("sources", []), "runs": runs,
                "quarantined": [p.as_dict() for p in passages]}

    def refresh(self, requested_by: str, progress: Progress) -> str:
        kb = self.runtime.kb
        kb.progress = progress
        try:
            return KnowledgeAdmin(self.runtime).refresh(requested_by)
        finally:
            kb.progress = None

    def release(self, ids: list[str], requested_by: str) -> str:
        folder = self.runtime.index_folder
        known = {p.id: p for p in folder.quarantined(include_released=True)}
        unknown = [i for i in ids if i not in known]
        if unknown or not ids:
            raise InputError(f"{', '.join(unknown) or 'nothing'}: no quarantined passage has "
                             "this id — pick one from the list")
        folder.release([known[i] for i in ids], by=requested_by)
        return KnowledgeAdmin(self.runtime).refresh(requested_by)

    def adapters(self) -> list[dict[str, Any]]:
        counts = self.runtime.store.answers_by_adapter()
        return [{**info.as_dict(), "answers": counts.get(info.version, 0)}
                for info in self.runtime.registry.list()]

    def train(self, requested_by: str, progress: Progress) -> str:
        progress("preparing", 0, 0)
        return KnowledgeAdmin(self.runtime).train(requested_by, progress)

    def promote(self, version: str) -> str:
        from knowledge.llm import prepare_adapter

        registry = self.runtime.registry
        if registry.gguf(version).exists():
            prepare_adapter(self.runtime.model_spec(), registry.gguf(version))
        registry.promote(version)
        return f"Now serving {version}."

    def rollback(self) -> str:
        from knowledge.llm import prepare_adapter

        active = self.runtime.registry.rollback()
        if active:
            prepare_adapter(self.runtime.model_spec(), self.runtime.registry.gguf(active))
        return f"Now serving {active or 'the base model (no adapter)'}."

    def gaps(self, limit: int) -> list[dict[str, Any]]:
        return [gap.as_dict() for gap in self.runtime.knowledge_gaps(limit)]
