"""A document's text cut into passages: paragraphs, list items, table rows, HTML blocks.

The quarantine (knowledge/quarantine.py) removes whole passages, so these are the units a
planted instruction and the payload written beside it share. Each passage is a character span
of ``Document.text``; spans do not overlap and are in document order.

* Markdown and text: markdown-it-py's block tokens (each carries its line range). A paragraph
  inside a list item or block quote counts as the whole item or quote; a table row, an HTML
  block and a code block are passages of their own; a heading is one, and ``section`` gives
  the span a heading opens (up to the next heading of the same or a higher level).
* HTML: the reader keeps only the text, so the file is parsed again with BeautifulSoup and
  each innermost block element's text is found in the document text, in order.
* PDF, DOCX: blocks between blank lines; a block of more than two lines is further cut after
  a line that ends a sentence well short of the block's longest line (hand-written: a PDF
  without paragraph gaps has no other sign of a paragraph's end).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from markdown_it import MarkdownIt

MARKDOWN = (".md", ".markdown", ".txt")
HTML = (".html", ".htm")
_LEAVES = {"paragraph_open", "tr_open", "html_block", "fence", "code_block", "heading_open",
           "hr"}
_CONTAINERS = {"list_item_open", "blockquote_open"}
_HTML_BLOCKS = ("p", "li", "tr", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
                "blockquote", "div", "section", "article", "aside", "header", "footer",
                "figcaption", "caption", "table", "ul", "ol", "dl", "form",
                "details", "summary", "nav", "main", "address")
_BLANK = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE_END = re.compile(r"[.!?:][\"'”’)\]]*\s*$")


@dataclass(frozen=True)
class Passage:
    """``text[start:end]`` of a document; ``level`` is the heading level (0: not a heading)."""

    start: int
    end: int
    level: int = 0


def segment(text: str, file_name: str) -> list[Passage]:
    """The passages of ``text``, cut according to the file type of ``file_name``."""
    suffix = Path(file_name).suffix.lower()
    if suffix in HTML and Path(file_name).is_file():
        return _html(text, Path(file_name))
    if suffix in MARKDOWN or not suffix:
        return _markdown(text)
    return _plain(text)


def section(passages: Sequence[Passage], index: int) -> tuple[int, int]:
    """The span of passage ``index`` and, for a heading, everything up to the next heading
    of the same or a higher level."""
    head = passages[index]
    end = head.end
    if head.level:
        for passage in passages[index + 1:]:
            if passage.level and passage.level <= head.level:
                break
            end = passage.end
    return head.start, end


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts += [m.end() for m in re.finditer("\n", text)]
    starts.append(len(text) + 1)
    return starts


@cache
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark").enable("table")
    parser.core.ruler.disable(["inline"])  # block structure only: half the time
    return parser


def _markdown(text: str) -> list[Passage]:
    tokens = _parser().parse(text)
    starts = _line_starts(text)
    lines: list[tuple[int, int, int]] = []  # (first line, end line, heading level)
    containers: list[tuple[int, int]] = []
    for token in tokens:
        if token.map is None:
            continue
        first, last = token.map
        if token.type in _CONTAINERS and token.level <= 1:
            containers.append((first, last))
        elif token.type in _LEAVES and not any(a <= first and last <= b for a, b in containers):
            level = int(token.tag[1]) if token.type == "heading_open" else 0
            lines.append((first, last, level))
    lines += [(a, b, 0) for a, b in containers]
    lines.sort()
    passages: list[Passage] = []
    for first, last, level in lines:
        start, end = starts[first], min(starts[last] - 1, len(text))
        if passages and start < passages[-1].end:  # a table row inside a container, etc.
            continue
        end = start + len(text[start:max(start, end)].rstrip())  # a loose item's blank line
        passages.append(Passage(start, end, level))
    return passages


def _plain(text: str) -> list[Passage]:
    passages: list[Passage] = []
    start = 0
    for gap in [*_BLANK.finditer(text), None]:
        end = gap.start() if gap else len(text)
        if text[start:end].strip():
            passages += _visual_paragraphs(text, start, end)
        start = gap.end() if gap else len(text)
    return passages


def _visual_paragraphs(text: str, start: int, end: int) -> list[Passage]:
    lines = text[start:end].split("\n")
    if len(lines) <= 2:
        return [Passage(start, end)]
    widest = max(len(line.rstrip()) for line in lines)
    passages: list[Passage] = []
    begin = offset = start
    for line in lines[:-1]:
        offset += len(line) + 1
        if _SENTENCE_END.search(line) and len(line.rstrip()) < 0.7 * widest:
            passages.append(Passage(begin, offset - 1))
            begin = offset
    passages.append(Passage(begin, end))
    return passages


def _html(text: str, path: Path) -> list[Passage]:
    """Innermost block elements of the HTML file, located in the extracted ``text``."""
    from bs4 import BeautifulSoup

    try:
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    except (OSError, UnicodeDecodeError):
        return _plain(text)
    body = soup.body or soup
    spans: list[Passage] = []
    cursor = 0
    for element in body.find_all(_HTML_BLOCKS):
        if element.find(_HTML_BLOCKS) is not None:
            continue
        block = element.get_text().strip()
        found = text.find(block, cursor) if block else -1
        if found < 0:
            continue
        spans.append(Passage(found, found + len(block), _heading_level(element.name)))
        cursor = found + len(block)
    return _fill(text, spans)


def _heading_level(tag: str) -> int:
    return int(tag[1]) if re.fullmatch(r"h[1-6]", tag) else 0


def _fill(text: str, spans: list[Passage]) -> list[Passage]:
    """``spans`` plus the text between them, as plain-text passages."""
    passages: list[Passage] = []
    cursor = 0
    for span in [*spans, Passage(len(text), len(text))]:
        if text[cursor:span.start].strip():
            passages += _plain_between(text, cursor, span.start)
        if span.end > span.start:
            passages.append(span)
        cursor = span.end
    return passages


def _plain_between(text: str, start: int, end: int) -> list[Passage]:
    return [Passage(start + p.start, start + p.end) for p in _plain(text[start:end])]
