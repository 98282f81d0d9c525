"""The ingest quarantine on genuine and planted documents: false positives, catches, time.

- genuine: the sample knowledge base (knowledge/sample/docs) and, when present, the Samsung
  e-manual (DATA/emanual-smart-tv/docs). Every sentence inside a quarantined passage is a
  genuine sentence quarantined: the target is 0.
- planted: tests/fixtures/planted, checked against its manifest.json. A document is caught
  when none of its planted phrases is left in the text that would be indexed (and it is kept
  out entirely exactly when the manifest says it is the planted text); its genuine sentences
  must all be left in.
- time: ``Quarantine.screen`` per document (segmenting, cues, signals and the similarity
  check, with the embedding model loaded and warm), reading the files excluded.

    python benchmarks/check_quarantine.py [--data /work/shared/data] [--json]
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from common import EMANUAL, base_parser, emit, machine, quiet, table

REPO = Path(__file__).resolve().parents[1]
PLANTED = REPO / "tests" / "fixtures" / "planted"
_SENTENCE = re.compile(r"[^.!?\n]*[A-Za-z][^.!?\n]*[.!?]?")


def _norm(text: str) -> str:
    return " ".join(text.split())


def screen(folder: Path, quarantine: Any) -> tuple[list[Any], Any, float]:
    """(documents read, screened result, seconds screening) for every file under ``folder``."""
    from knowledge.ingest import discover, load_documents

    documents = load_documents(discover([folder])).documents
    with tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        screened = quarantine.screen(documents, Path(root))
        seconds = time.perf_counter() - started
    return documents, screened, seconds


def genuine_row(name: str, folder: Path, quarantine: Any) -> dict[str, Any]:
    documents, screened, seconds = screen(folder, quarantine)
    sentences = sum(len(_SENTENCE.findall(doc.text)) for doc in documents)
    flagged = [p for p in screened.passages]
    return {"corpus": name, "documents": len(documents), "sentences": sentences,
            "quarantined_sentences": sum(len(_SENTENCE.findall(p.text)) for p in flagged),
            "quarantined": [{"source": p.source, "reason": p.reason, "text": p.text[:200]}
                            for p in flagged],
            "ms_per_document": round(1000 * seconds / max(len(documents), 1), 2)}


def planted_row(quarantine: Any) -> dict[str, Any]:
    expected = json.loads((PLANTED / "manifest.json").read_text())["documents"]
    documents, screened, seconds = screen(PLANTED, quarantine)
    kept = {doc.metadata["source"]: _norm(doc.text) for doc in screened.documents}
    missed, lost = [], []
    for name, spec in expected.items():
        text = kept.get(name, "")
        if any(_norm(phrase) in text for phrase in spec["planted"]) or (
                spec["whole_document"] != (name not in kept)):
            missed.append(name)
        lost += [f"{name}: {s}" for s in spec["genuine"] if _norm(s) not in text]
    return {"corpus": "planted", "documents": len(documents), "expected": len(expected),
            "caught": len(expected) - len(missed), "missed": missed,
            "genuine_sentences": sum(len(s["genuine"]) for s in expected.values()),
            "genuine_lost": lost,
            "reasons": sorted({p.reason.split(";")[0].split(" (")[0] for p in screened.passages}),
            "ms_per_document": round(1000 * seconds / max(len(documents), 1), 2)}


def main() -> None:
    parser = base_parser(__doc__ or "")
    args = parser.parse_args()
    quiet()

    from knowledge.embed import make_embed_model
    from knowledge.ingest import SAMPLE_DOCS
    from knowledge.quarantine import Quarantine

    embed_model = make_embed_model()
    quarantine = Quarantine(embed_model)
    if quarantine.similarity is not None:  # load the model and embed the exemplars
        quarantine.similarity.scores(["warm-up"])
    rows = [genuine_row("sample", SAMPLE_DOCS, quarantine)]
    emanual = Path(args.data).expanduser() / EMANUAL / "docs"
    if emanual.is_dir():
        rows.append(genuine_row("e-manual", emanual, quarantine))
    result = {"benchmark": "quarantine", "machine": machine(), "genuine": rows,
              "planted": planted_row(quarantine)}
    emit(result, args.json, render(result))


def render(result: dict[str, Any]) -> str:
    genuine = [(r["corpus"], r["documents"], r["sentences"], r["quarantined_sentences"],
                r["ms_per_document"]) for r in result["genuine"]]
    planted = result["planted"]
    lines = ["Quarantine — genuine documents (target: 0 sentences quarantined)",
             table(genuine, ("corpus", "documents", "sentences", "quarantined", "ms/doc"))]
    for row in result["genuine"]:
        lines += [f"  quarantined in {row['corpus']}: {q['source']} [{q['reason']}] "
                  f"{q['text']!r}" for q in row["quarantined"]]
    lines += [f"\nPlanted documents caught: {planted['caught']} of {planted['expected']} "
              f"(target: all), {planted['ms_per_document']} ms/doc",
              f"Genuine sentences of the planted documents kept: "
              f"{planted['genuine_sentences'] - len(planted['genuine_lost'])} of "
              f"{planted['genuine_sentences']}"]
    lines += [f"  missed: {name}" for name in planted["missed"]]
    lines += [f"  lost: {item}" for item in planted["genuine_lost"]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
