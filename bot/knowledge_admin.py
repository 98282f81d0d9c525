"""The chat platforms' admin commands over the runtime (the router's ``KnowledgeAdminPort``):
``/kb refresh``, ``/kb status``, ``/kb gaps`` and ``/kb train``; the console's refresh and
train run through it too (``bot.console_ops``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.runtime import Runtime


class KnowledgeAdmin:
    """``/kb refresh``, ``status``, ``gaps`` and ``train`` for the chat platforms (the
    router's admin port)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def refresh(self, requested_by: str) -> str:
        stats = self.runtime.refresh(kind="refresh", requested_by=requested_by)
        skipped = f", skipped {len(stats.skipped)} unreadable" if stats.skipped else ""
        kept_out = (f", quarantined {len(stats.quarantined)} passage(s) written to the assistant"
                    if stats.quarantined else "")
        return (
            f"Knowledge refreshed: {stats.documents} documents, {stats.chunks} chunks — added "
            f"{stats.added}, changed {stats.changed}, deleted {stats.deleted}, unchanged "
            f"{stats.unchanged}{skipped}{kept_out} ({stats.seconds:.1f}s)."
        )

    def status_text(self) -> str:
        manifest = self.runtime.kb.manifest()
        if manifest is None:
            return "No knowledge index yet — an admin can run `refresh` after `supportbot ingest`."
        runs = self.runtime.store.refresh_runs(limit=1)
        last = f" Last run: {runs[0].kind} {runs[0].status}." if runs else ""
        busy = " A refresh is running now." if self.is_refreshing() else ""
        held = manifest.get("quarantined", 0)
        kept_out = (f" {held} passage(s) quarantined as instructions to the assistant (an admin "
                    "can review them with `supportbot quarantine list`)." if held else "")
        return (f"Knowledge base: {manifest['documents']} documents, {manifest['chunks']} "
                f"chunks from {len(manifest['sources'])} source(s).{last}{busy}{kept_out}")

    def is_refreshing(self) -> bool:
        return self.runtime.kb.is_refreshing()

    def gaps(self, requested_by: str) -> str:
        """``/kb gaps``: the top gaps as a short text."""
        from knowledge.gaps import SHOWN, gaps_text

        return gaps_text(self.runtime.knowledge_gaps(SHOWN))

    def train(self, requested_by: str,
              progress: Callable[[str, int, int], None] | None = None) -> str:
        import os

        from training.pipeline import TrainRequest, summary
        from training.train import TrainConfig

        s = self.runtime.settings
        # Training beside a serving model: leave it a core. Oversubscribed OpenMP pools run
        # ~10x slower here (2 torch threads on a busy 2-core machine: 11 vs 110 tokens/s).
        config = TrainConfig(threads=max(1, (os.cpu_count() or 2) - 1))
        result = self.runtime.train(TrainRequest(company=s.company_name, config=config,
                                                 requested_by=requested_by, progress=progress),
                                    show_progress=False)
        return " ".join(["Training finished.", *summary(result)])
