"""The case a question asks about, among those a list spells out.

Support pages list one line per plan or platform ("- **Business**: within 8 business hours").
Asked "How fast do you reply on Business?", only the Business line answers: Free's "3 business
days", two lines up, is a true fact about another case. Sections do the same ("## Annual
plans" beside "## Monthly plans"). ``asked_case`` gives the guard and the quote a chunk
without the lines about cases the question does not ask. Hand-written: it reads the Markdown
lists and headings our own ingestion keeps, a few lines no library offers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from knowledge.facts import LIST_MARK, WORD, stem

# A list item that opens on the case it is about: "Business: within 8 business hours",
# "Web app: you stay signed in …" (bold marks already removed).
_LABEL = re.compile(r"^([A-Z][\w&/+.-]*(?: [\w&/+.-]+){0,3}):(?:\s|$)")
# A Markdown heading: its level and its words.
_HEADING = re.compile(r"^(#{1,6})\s+(.+)$")


def item_label(text: str) -> str:
    """The case a list item opens with ("Business" for "Business: 10,000 runs"); ``""``."""
    found = _LABEL.match(LIST_MARK.sub("", text.strip()).replace("**", ""))
    return found.group(1) if found else ""


def names_label(question: str, label: str) -> bool:
    """Whether ``question`` names the case ``label`` stands for: all its words, a one-word
    label as written ("Team", not "my team"; "Business", not "business days")."""
    words = label.split()
    if not words:
        return False
    if len(words) == 1:
        return re.search(rf"(?<![\w-]){re.escape(label)}(?![\w-])", question) is not None
    asked = {stem(w) for w in WORD.findall(question.lower())}
    return all(stem(w) in asked for w in WORD.findall(label.lower()))


def cases(chunk: str, question: str) -> tuple[set[str], set[str]]:
    """``(asked, others)``: the cases of ``chunk``'s lists that ``question`` names, and those of
    the same lists it does not (``{"Business"}``, ``{"Free", "Team"}``); both empty when it
    names none."""
    lines = chunk.splitlines()
    asked: set[str] = set()
    others: set[str] = set()
    for labels, named in _asking_lists(lines, question):
        asked |= {labels[i] for i in named}
        others |= {label for i, label in labels.items() if label and i not in named}
    return asked, others


def about_other_case(sentence: str, asked: set[str], others: set[str]) -> bool:
    """Whether ``sentence`` names a case of ``others`` and none of ``asked`` (``cases``):
    "Archived boards do not count toward the Free plan's limit" is not about Business."""
    return (any(names_label(sentence, label) for label in others)
            and not any(names_label(sentence, label) for label in asked))


def asked_case(chunk: str, question: str) -> str:
    """``chunk`` less the list items about cases other than the one ``question`` names: asked
    "How fast do you reply on Business?", a list of "Free: …", "Team: …", "Business: …" keeps
    only its Business line (and that line's sub-items), so neither the guard nor the quote
    takes Free's "3 business days" for Business. Lists naming no asked case stay whole."""
    lines = chunk.splitlines()
    drop = _other_sections(lines, question)
    for labels, named in _asking_lists(lines, question):
        for i, label in labels.items():
            if label and i not in named:
                drop |= {i, *_nested(lines, i)}
    return "\n".join(line for i, line in enumerate(lines) if i not in drop) if drop else chunk


def _other_sections(lines: list[str], question: str) -> set[int]:
    """The lines of sections whose heading names a case the question does not ask, beside a
    sibling heading naming the one it does: headings alike but for one word, at one level
    ("## Monthly plans" beside "## Annual plans", asked "Can I get a refund on our annual
    plan?"; "## Adding members" beside "## Removing members", told "I removed 3 people")."""
    asked = {stem(w) for w in WORD.findall(question.lower())}
    heads = [(i, len(m.group(1)), [stem(w) for w in WORD.findall(m.group(2).lower())])
             for i, line in enumerate(lines) if (m := _HEADING.match(line.strip()))]
    drop: set[int] = set()
    for i, level, words in heads:
        for _, other_level, other in heads:
            differ = [k for k, (a, b) in enumerate(zip(words, other, strict=False)) if a != b]
            if (other_level == level and len(other) == len(words) and len(differ) == 1
                    and other[differ[0]] in asked and words[differ[0]] not in asked):
                drop |= set(_section(lines, i, level))
    return drop


def _section(lines: list[str], head: int, level: int) -> range:
    """The lines of the section ``lines[head]`` opens: up to the next heading as high."""
    for j in range(head + 1, len(lines)):
        found = _HEADING.match(lines[j].strip())
        if found and len(found.group(1)) <= level:
            return range(head, j)
    return range(head, len(lines))


def _asking_lists(lines: list[str],
                  question: str) -> Iterator[tuple[dict[int, str], set[int]]]:
    """For each list of ``lines`` with a case ``question`` names: its items' labels by line
    (``""`` for an item without one) and the lines of the named cases."""
    for members in _sibling_items(lines):
        labels = {i: item_label(lines[i]) for i in members}
        named = {i for i, label in labels.items() if label and names_label(question, label)}
        if named:
            yield labels, named


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _sibling_items(lines: list[str]) -> list[list[int]]:
    """The list items of ``lines`` grouped by list: items at one indentation, uninterrupted by
    prose (deeper lines and blank lines between them are theirs)."""
    groups: list[list[int]] = []
    open_lists: list[tuple[int, int]] = []  # (indentation, group) from outermost to innermost
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        depth = _indent(line)
        if not LIST_MARK.match(line.strip()):
            open_lists = [(d, g) for d, g in open_lists if d < depth]
            continue
        open_lists = [(d, g) for d, g in open_lists if d <= depth]
        if not open_lists or open_lists[-1][0] < depth:
            groups.append([])
            open_lists.append((depth, len(groups) - 1))
        groups[open_lists[-1][1]].append(i)
    return groups


def _nested(lines: list[str], item: int) -> list[int]:
    """The lines under list item ``item``: those after it, indented deeper, up to the next
    line that is not."""
    depth, out = _indent(lines[item]), []
    for j in range(item + 1, len(lines)):
        if lines[j].strip() and _indent(lines[j]) <= depth:
            break
        out.append(j)
    return out
