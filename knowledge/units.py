"""What a number measures: "the reset link is valid for 60 days" is not grounded by a passage
where 60 counts minutes.

The grounding guard (``knowledge.guard``) finds each number of an answer's sentence in the
passage it cites; ``quantities`` adds the number's unit, so the guard can also ask whether the
passage measures it in the same one (``agrees``). A unit is read from a closed list (time, data
size, share) in the few words after the number ("30 days", "250 MB", "20%", "300 requests per
minute", "$8 per member/month"); an amount of money with none after it takes a period word
before it in its clause ("the monthly price is $76.80"). Counted nouns ("50 guests", "50
members") are an open class and are not compared.

Hand-written: quantity parsers in libraries (pint, quantulum3) want clean measurements, not
"per member/month billed annually", and read neither rates nor prices this loosely.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from knowledge.facts import number_value

Quantity = tuple[str, str]  # (number as the guard reads it, unit: "day", "per month", …)

_UNIT_WORDS = {
    "second": ("sec", "secs", "second", "seconds"),
    "minute": ("min", "mins", "minute", "minutes"),
    "hour": ("hr", "hrs", "hour", "hours"),
    "day": ("day", "days"),
    "week": ("week", "weeks"),
    "month": ("month", "months"),
    "year": ("year", "years", "yr", "yrs"),
    "kb": ("kb", "kilobyte", "kilobytes"),
    "mb": ("mb", "megabyte", "megabytes"),
    "gb": ("gb", "gigabyte", "gigabytes"),
    "tb": ("tb", "terabyte", "terabytes"),
    "percent": ("percent", "%"),
}
_UNITS = {word: unit for unit, words in _UNIT_WORDS.items() for word in words}
# Period words that make an amount a rate when they come before it ("the annual price is …").
_PERIODS = {"monthly": "month", "annual": "year", "annually": "year", "yearly": "year",
            "weekly": "week", "daily": "day", "hourly": "hour"}
_RATE = frozenset({"per", "a", "an", "every", "each", "/"})  # "per month", "a year", "/month"
# A number, a word, or a clause break; "$76.80", "20%", "30-day" → "30", "day".
_TOKEN = re.compile(r"[$€£]?\d+(?:[.,:]\d+)*%?|[a-z]+|/|[,;:()\n]")
_AHEAD = 4  # words after a number its unit may be in ("300 requests per minute")
_BEHIND = 6  # words before an amount its period may be in ("the monthly subscription is …")


def quantities(text: str) -> set[Quantity]:
    """The numbers of ``text`` that have a unit, each with it (``("60", "minute")``,
    ``("8", "per month")``); numbers with none (counts, versions, times of day) are left out."""
    tokens = _TOKEN.findall(text.lower())
    found: set[Quantity] = set()
    for i, token in enumerate(tokens):
        if not token[-1].isdigit() and not token.endswith("%"):
            continue
        if ":" in token:  # a time of day ("8:00 a.m.")
            continue
        unit = "percent" if token.endswith("%") else _after(tokens, i)
        if unit is None and token[0] in "$€£":
            unit = _before(tokens, i)
        if unit is not None:
            found.add((number_value(token.lstrip("$€£").rstrip("%")), unit))
    return found


def _after(tokens: list[str], i: int) -> str | None:
    ahead = tokens[i + 1:i + 1 + _AHEAD]
    if ahead and ahead[0] in _PERIODS:  # "$8 monthly"; "$6.40 billed annually" is how it is paid
        return f"per {_PERIODS[ahead[0]]}"
    rate = False
    for token in ahead:
        if token[0].isdigit() or token in ",;:()\n":
            return None
        if token in _UNITS:
            unit = _UNITS[token]
            return f"per {unit}" if rate or tokens[i][0] in "$€£" else unit
        rate = rate or token in _RATE
    return None


def _before(tokens: list[str], i: int) -> str | None:
    for token in reversed(tokens[max(0, i - _BEHIND):i]):
        if token[0].isdigit() or token in ",;:()\n":
            return None
        if token in _PERIODS:
            return f"per {_PERIODS[token]}"
    return None


def agrees(claimed: Iterable[Quantity], passage: Iterable[Quantity]) -> bool:
    """Whether a passage measures each of a sentence's numbers in the unit the sentence gives
    it. A number the passage states with no unit, or not at all, is not held against it (the
    facts check finds missing numbers)."""
    units: dict[str, set[str]] = {}
    for number, unit in passage:
        units.setdefault(number, set()).add(unit)
    return all(number not in units or unit in units[number] for number, unit in claimed)
