"""The review queue's vocabulary, shared by the store, the command line and the console (only
``typing``: the CLI reads it at start-up)."""

from __future__ import annotations

from typing import Literal, get_args

Kind = Literal["downvoted", "declined", "handoff", "guard_cut"]  # why an answer is queued
Sort = Literal["newest", "asked"]  # newest first; most-asked first, then newest
Action = Literal["approve", "correct", "dismiss", "missing"]  # missing: the docs lack this
KINDS: tuple[str, ...] = get_args(Kind)
SORTS: tuple[str, ...] = get_args(Sort)
ACTIONS: tuple[str, ...] = get_args(Action)
MARKS = ("dismissed", "missing")  # review_marks.status, set by dismiss and missing
PAGE, MAX_PAGE = 50, 1000
