"""Which source files a refresh of the pgvector index need not read again.

Finding the one changed document among 20,000 by reading them all took most of a refresh
(bench_pgrefresh.py). A file whose size and modification time are what they were when the live
version read it is taken as unchanged, with what that read found: its content hash, its
quarantine scan and passages. As git does for its index ("racy clean"), a file modified less
than ``RACY_NS`` before that read is read again: the clock's granularity could hide a second
write of the same size. A file is also read again when the quarantine detector changed or an
admin released (or un-released) one of its passages since, and when it was not indexed then
(unreadable, or quarantined whole). Hand-written: LlamaIndex's docstore decides by content
hash, which needs the content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from knowledge.ingest import SourceFile
from knowledge.quarantine import QuarantinedPassage

RACY_NS = 2_000_000_000


def file_stats(files: Sequence[SourceFile]) -> dict[str, list[int]]:
    """Each file's ``[size, mtime_ns]`` by document id (its absolute path)."""
    stats: dict[str, list[int]] = {}
    for source in files:
        try:
            found = source.path.stat()
        except OSError:
            continue  # reading it will say why
        stats[str(source.path)] = [found.st_size, found.st_mtime_ns]
    return stats


@dataclass
class Carried:
    """The documents taken from the live version without reading them again."""

    hashes: dict[str, str] = field(default_factory=dict)  # document id → content hash
    scans: dict[str, dict[str, Any]] = field(default_factory=dict)
    passages: list[QuarantinedPassage] = field(default_factory=list)


def carried_over(stats: dict[str, list[int]], previous: dict[str, Any], detector: str,
                 released: set[str]) -> Carried:
    """What the live version (``previous``: its ``files``, ``doc_hashes``, ``quarantine`` and
    its manifest's ``read_at``, when its reading began, in nanoseconds) found in the files that
    did not change since it read them (``stats``: now)."""
    files = dict(previous.get("files") or {})
    read_at = int(dict(previous.get("manifest") or {}).get("read_at", 0))
    hashes = dict(previous.get("doc_hashes") or {})
    quarantine = dict(previous.get("quarantine") or {})
    if not files or quarantine.get("detector", "") != detector:
        return Carried()
    passages = [QuarantinedPassage(**p) for p in quarantine.get("passages", [])]
    moved = {p.file for p in passages if (p.id in released) != p.released}
    scans = dict(quarantine.get("documents") or {})
    same = {doc for doc, stat in stats.items()
            if files.get(doc) == stat and stat[1] < read_at - RACY_NS and doc in hashes
            and doc not in moved and (doc in scans or not detector)}
    return Carried(hashes={doc: hashes[doc] for doc in same},
                   scans={doc: scans[doc] for doc in same if doc in scans},
                   passages=[p for p in passages if p.file in same])

