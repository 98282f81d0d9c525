"""Words: the one tokenizer and stopword list that serving (the guard, quotes, focus) and
evaluation (faithfulness, key facts) share. Pure functions."""

from __future__ import annotations

import re

WORD = re.compile(r"[a-z0-9]+")
_STOPWORD_TEXT = """
a about above after again all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has
have having he her here hers him his how i if in into is it its itself just me more most my no
nor not now of off on once only or other our ours out over own same she should so some such than
that the their theirs them then there these they this those through to too under until up very
was we were what when where which while who whom why will with would you your yours yourself
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def words(text: str) -> list[str]:
    """Lowercased alphanumeric runs, in order."""
    return WORD.findall(text.lower())


def content_words(text: str, stop: frozenset[str] = STOPWORDS) -> set[str]:
    """The words longer than two characters that are not in ``stop``."""
    return {w for w in words(text) if w not in stop and len(w) > 2}
