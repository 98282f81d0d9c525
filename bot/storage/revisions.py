"""The newest migration's id, read from the migration files without importing Alembic.

Importing Alembic costs ~0.4 s, on every command that opens the database; ``Store`` only needs
it when the database is behind this id (or the history is not one line).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=\n]*=[ \t]*(.+)$", re.MULTILINE)


def head_revision() -> str | None:
    """The revision no migration names as its ``down_revision``; ``None`` unless exactly one."""
    revisions: set[object] = set()
    parents: set[object] = set()
    try:
        for path in (MIGRATIONS / "versions").glob("[0-9]*.py"):
            found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
            revisions.add(ast.literal_eval(found["revision"]))
            parents.add(ast.literal_eval(found.get("down_revision", "None")))
    except (KeyError, ValueError, SyntaxError, TypeError, OSError):
        return None
    heads = revisions - parents
    head = heads.pop() if len(heads) == 1 else None
    return head if isinstance(head, str) else None
