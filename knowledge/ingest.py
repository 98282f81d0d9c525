"""Finding and reading knowledge sources into LlamaIndex ``Document``s, one per file.

Files are read with LlamaIndex readers (PDF, DOCX, HTML); Markdown and text are read as they
are so headings survive for the Markdown node parser. A file that cannot be read is skipped
with a warning naming it; a missing path, or one with nothing readable, is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.errors import SourceError

if TYPE_CHECKING:  # LlamaIndex loads when files are read: ``discover`` checks paths at once
    from llama_index.core import Document
    from llama_index.core.readers.base import BaseReader

SUPPORTED = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx")
SAMPLE_DOCS = Path(__file__).parent / "sample" / "docs"
SAMPLE_QA = Path(__file__).parent / "sample" / "qa.jsonl"  # questions about SAMPLE_DOCS


def _extractors() -> dict[str, BaseReader]:
    from llama_index.readers.file import DocxReader, FlatReader, HTMLTagReader

    from knowledge.pdf import ParagraphPDFReader

    flat, html = FlatReader(), HTMLTagReader(tag="body", ignore_no_id=False)
    return {
        ".md": flat, ".markdown": flat, ".txt": flat,
        ".html": html, ".htm": html, ".pdf": ParagraphPDFReader(), ".docx": DocxReader(),
    }


@dataclass(frozen=True)
class SourceFile:
    """A file to index and the name it is cited by (its path below the source root)."""

    path: Path
    name: str


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)


def discover(paths: Sequence[Path]) -> list[SourceFile]:
    """Every supported file under ``paths``; raises ``SourceError`` for bad paths."""
    if not paths:
        raise SourceError("No knowledge source given — pass a folder or file to index.")
    found: list[SourceFile] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise SourceError(f"{raw}: no such file or folder — check the path and try again.")
        if path.is_file():
            if path.suffix.lower() not in SUPPORTED:
                raise SourceError(f"{raw}: unsupported file type — use {', '.join(SUPPORTED)}.")
            found.append(SourceFile(path.resolve(), path.name))
            continue
        files = sorted(
            p for p in path.rglob("*")
            if p.is_file() and p.suffix.lower() in SUPPORTED
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            raise SourceError(
                f"{raw}: no documents found — the folder needs {', '.join(SUPPORTED)} files."
            )
        found += [SourceFile(p.resolve(), p.relative_to(path).as_posix()) for p in files]
    return found


def _title(text: str, fallback: str) -> str:
    for line in text.splitlines()[:20]:
        stripped = line.strip()
        if stripped.startswith("# "):
            return stripped[2:].strip()
    return Path(fallback).stem.replace("-", " ").replace("_", " ").strip().capitalize()


TEXT_TYPES = (".md", ".markdown", ".txt", ".html", ".htm")


class Unreadable(ValueError):
    """A file that is not what its name says; the message is the reason shown to the user."""


def sniff(path: Path) -> None:
    """Raise ``Unreadable`` with a plain reason when a file cannot be what its suffix says
    (checked on its first bytes, before any reader sees it)."""
    head = path.read_bytes()[:8192]
    suffix = path.suffix.lower()
    if not head.strip():
        raise Unreadable("empty file")
    if suffix in TEXT_TYPES:
        if b"\0" in head:
            raise Unreadable("not a text file (binary content)")
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the 8 KiB mark
                raise Unreadable("not UTF-8 text — save it as UTF-8") from None
    elif suffix == ".pdf":
        if not head.startswith(b"%PDF-"):
            raise Unreadable("not a PDF file")
        if b"/Encrypt" in path.read_bytes():
            raise Unreadable("encrypted PDF — save a copy without a password")
    elif suffix == ".docx" and not head.startswith(b"PK"):
        raise Unreadable("not a Word .docx file")


def read_file(source: SourceFile, extractors: dict[str, BaseReader]) -> Document:
    """One ``Document`` per file, its id the absolute path (stable across refreshes)."""
    from llama_index.core import Document, SimpleDirectoryReader

    sniff(source.path)

    reader = SimpleDirectoryReader(
        input_files=[source.path], file_extractor=extractors, raise_on_error=True
    )
    parts = reader.load_data(show_progress=False)
    text = "\n\n".join(part.text for part in parts).strip()
    if not text:
        raise Unreadable("no text could be extracted (a scanned PDF needs OCR first)")
    return Document(
        id_=str(source.path),
        text=text,
        metadata={"source": source.name, "title": _title(text, source.name)},
        excluded_embed_metadata_keys=["source"],
        excluded_llm_metadata_keys=["source"],
    )


def _reason(exc: BaseException) -> str:
    """A plain reason from the innermost cause (readers wrap errors, some in tenacity's
    RetryError); the exception's own words only when nothing plainer is known."""
    while True:
        last = getattr(exc, "last_attempt", None)
        inner = last.exception() if last is not None else exc.__cause__
        if inner is None:
            break
        exc = inner
    if isinstance(exc, Unreadable):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text — save it as UTF-8"
    if isinstance(exc, PermissionError):
        return "permission denied — let supportbot read the file"
    if type(exc).__module__.startswith("pypdf"):
        return "damaged PDF — open and save it again, or export a new copy"
    if type(exc).__module__.startswith(("docx", "zipfile")) or "zip" in type(exc).__name__.lower():
        return "damaged Word document — open and save it again"
    text = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"could not be read ({type(exc).__name__}{': ' + text if text else ''})"


def load_documents(
    files: Iterable[SourceFile], on_file: Callable[[SourceFile], None] | None = None
) -> LoadResult:
    """Read every file; unreadable ones are skipped and reported, never fatal."""
    result, extractors = LoadResult(), _extractors()
    for source in files:
        try:
            result.documents.append(read_file(source, extractors))
        except Exception as exc:  # noqa: BLE001 - any reader failure means "skip this file"
            reason = _reason(exc)
            result.skipped.append((str(source.path), reason))
        if on_file is not None:
            on_file(source)
    return result
