"""Reading sources: .txt, .html and .docx are indexed; names are relative to the folder."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from knowledge.errors import SourceError
from knowledge.index import KnowledgeBase
from knowledge.ingest import discover, load_documents

HTML = """<!doctype html><html><head><title>Webhooks</title>
<style>.note { color: red; }</style></head>
<body><h1>Webhooks guide</h1>
<p>Webhooks send a <b>POST</b> request to your <a href="https://x.example">endpoint</a>.</p>
<ul><li>Retries: five times.</li></ul></body></html>"""


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    import docx

    root = tmp_path / "kb"
    (root / "guides" / "deep").mkdir(parents=True)
    (root / "guides" / "deep" / "office-hours.txt").write_text(
        "Support is open Monday to Friday, 9am to 5pm Central European Time.\n")
    (root / "webhooks.html").write_text(HTML)
    document = docx.Document()
    document.add_heading("Invoices", level=1)
    document.add_paragraph("Invoices are emailed to the billing contact on the first day "
                           "of each month.")
    document.save(str(root / "invoices.docx"))
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret.md").write_text("# Secret\n\nNot for indexing.\n")
    (root / "image.png").write_bytes(b"\x89PNG not a document")
    return root


def test_txt_html_and_docx_are_indexed_with_relative_names(
    mixed: Path, tmp_path: Path, make_kb: Callable[..., KnowledgeBase]
) -> None:
    kb = make_kb(tmp_path / "index")
    stats = kb.update([mixed])
    assert (stats.documents, stats.added, stats.skipped) == (3, 3, ())
    nodes = list(kb.load().index.docstore.docs.values())
    by_source = {n.metadata["source"]: n.get_content() for n in nodes}
    assert set(by_source) == {"guides/deep/office-hours.txt", "webhooks.html", "invoices.docx"}
    assert "Monday to Friday" in by_source["guides/deep/office-hours.txt"]
    html = by_source["webhooks.html"]
    assert "Webhooks send a POST request to your endpoint." in html
    assert "<" not in html and ">" not in html and "color: red" not in html
    assert "first day of each month" in by_source["invoices.docx"]
    titles = {n.metadata["source"]: n.metadata["title"] for n in nodes}
    assert titles["guides/deep/office-hours.txt"] == "Office hours"


def test_discover_names_a_single_file_by_its_name(mixed: Path) -> None:
    files = discover([mixed / "guides" / "deep" / "office-hours.txt"])
    assert [(f.name, f.path) for f in files] == [
        ("office-hours.txt", (mixed / "guides" / "deep" / "office-hours.txt").resolve())]


def test_corrupt_pdf_is_skipped_with_its_name(mixed: Path) -> None:
    (mixed / "x.pdf").write_bytes(os.urandom(4096))
    loaded = load_documents(discover([mixed]))
    assert len(loaded.documents) == 3
    assert [Path(file).name for file, _ in loaded.skipped] == ["x.pdf"]
    reason = loaded.skipped[0][1]
    assert reason and "\n" not in reason


def test_unreadable_files_are_skipped_with_a_plain_reason(mixed: Path) -> None:
    from pypdf import PdfWriter

    (mixed / "binary.md").write_bytes(b"\x00\x01\x02 PNG-ish \x00" * 50)
    (mixed / "latin1.txt").write_bytes("Caf\xe9 au lait, cr\xe8me br\xfbl\xe9e".encode("latin-1"))
    (mixed / "empty.md").write_text("   \n")
    (mixed / "fake.docx").write_text("not a zip")
    (mixed / "fake.pdf").write_text("hello")
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret")
    with (mixed / "locked.pdf").open("wb") as out:
        writer.write(out)
    (mixed / "scan.pdf").write_bytes(_blank_pdf())
    reasons = {Path(f).name: r for f, r in load_documents(discover([mixed])).skipped}
    assert reasons == {
        "binary.md": "not a text file (binary content)",
        "latin1.txt": "not UTF-8 text — save it as UTF-8",
        "empty.md": "empty file",
        "fake.docx": "not a Word .docx file",
        "fake.pdf": "not a PDF file",
        "locked.pdf": "encrypted PDF — save a copy without a password",
        "scan.pdf": "no text could be extracted (a scanned PDF needs OCR first)",
    }


def _blank_pdf() -> bytes:
    import io

    from pypdf import PdfWriter

    writer, buffer = PdfWriter(), io.BytesIO()
    writer.add_blank_page(200, 200)
    writer.write(buffer)
    return buffer.getvalue()


def test_a_skipped_file_is_reported_once(
    mixed: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    make_kb: Callable[..., KnowledgeBase],
) -> None:
    (mixed / "x.pdf").write_bytes(os.urandom(4096))
    told: list[str] = []
    kb = make_kb(tmp_path / "index")
    with caplog.at_level(logging.WARNING):
        kb.update([mixed], on_skip=lambda file, _: told.append(Path(file).name))
    assert told == ["x.pdf"]
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]  # not logged as well
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # nobody to tell (a server's refresh): logged
        kb.update([mixed])
    logged = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(logged) == 1 and "x.pdf" in logged[0]


@pytest.mark.parametrize(("make", "message"), [
    (lambda root: root / "missing", "no such file or folder"),
    (lambda root: root, "no documents found"),
])
def test_bad_source_paths(tmp_path: Path, make: Callable[[Path], Path], message: str) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match=message):
        discover([make(tmp_path / "empty")])


def test_unsupported_single_file(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a,b\n")
    with pytest.raises(SourceError, match="unsupported file type"):
        discover([tmp_path / "a.csv"])
