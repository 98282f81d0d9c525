"""Reading PDFs with paragraph breaks (imported when files are read, like the other readers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llama_index.core import Document
from llama_index.core.readers.base import BaseReader


class ParagraphPDFReader(BaseReader):
    """pypdf's text of each page, with a blank line between paragraphs.

    pypdf ends every line alike; here a line that starts further below the previous one than
    1.6 times its font size and 1.25 times the page's tightest line gap (or above it: a new
    column) starts a paragraph, so
    the chunker and the quarantine (knowledge/passages.py) see paragraphs as in Markdown.
    Hand-written: neither pypdf nor LlamaIndex's PDFReader marks paragraphs.
    """

    def load_data(self, file: Path, extra_info: dict[str, Any] | None = None,
                  **_: Any) -> list[Document]:
        from pypdf import PdfReader

        pages = PdfReader(str(file)).pages
        return [Document(text=paragraphs(page), metadata=dict(extra_info or {}))
                for page in pages]


def paragraphs(page: Any) -> str:
    """A pypdf page's text with a blank line at each paragraph-sized gap between lines."""
    starts: list[tuple[float, float] | None] = [None]  # (y, font size) where each line starts

    def visit(text: str, cm: list[float], tm: list[float], _font: Any, size: float) -> None:
        starts.extend([None] * text.count("\n"))
        if text.strip() and starts[-1] is None:
            scale = abs(tm[3] * cm[3]) or 1.0
            starts[-1] = (tm[4] * cm[1] + tm[5] * cm[3] + cm[5], size * scale)

    text: str = page.extract_text(visitor_text=visit)
    lines = text.split("\n")
    if len(lines) != len(starts) or len(lines) < 3:
        return text  # the visitor saw the page differently: keep pypdf's text as it is
    gaps = [_gap(a, b) for a, b in zip(starts, starts[1:], strict=False)]
    tightest = min((g for g in gaps if g > 0), default=0.0)
    out = [lines[0]]
    for gap, below, line in zip(gaps, starts[1:], lines[1:], strict=True):
        size = below[1] if below else 0.0
        wide = gap > 1.6 * size and gap > 1.25 * tightest
        out.append(("\n" if size and (gap < 0 or wide) else "") + line)
    return "\n".join(out)


def _gap(above: tuple[float, float] | None, below: tuple[float, float] | None) -> float:
    return above[0] - below[0] if above is not None and below is not None else 0.0
