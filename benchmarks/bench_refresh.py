"""Incremental refresh: full build of a >= 2,000-document corpus vs refresh after 1 change.

A corpus is generated into a temporary folder from the e-manual: each of its 259 sections in
``--variants`` copies (default 8, so 2,072 documents), one folder per variant, every copy
with a distinguishing line naming a TV series, so no two documents are identical. With
``--max-words N`` each section body is cut to its first N words to keep the chunk count (and
the full build, which is dominated by embedding every chunk on the CPU) moderate; the default,
0, keeps the sections whole (about 8 x 390 chunks at the default chunk size).

Then, with the product's ``KnowledgeBase`` (default settings, temporary index folder):

1. full build: ``update([corpus])`` into an empty index;
2. one document is changed (a sentence appended to one section of variant 1);
3. refresh: ``update()`` — the product re-reads all sources, re-embeds only documents whose
   content hash changed, rewrites the build aside and swaps it in.

Reported: both wall times and refresh/full (target <= 5%), the refresh's document counts,
the same ratio in CPU time of this process (``time.process_time``: what the step consumed,
much less sensitive than wall time to other jobs on the machine; the full build embeds on
every core, so on an idle machine its wall time is about its CPU time / cores),
and how many texts the embedding model was asked to embed during each step (counted with a
LlamaIndex instrumentation handler on ``EmbeddingEndEvent``) next to the changed document's
chunk count — the refresh should embed exactly that document's chunks and nothing else.
``read_s`` is the time of ``load_documents`` over the corpus alone (part of every refresh);
``load_s`` the time of ``KnowledgeBase.load`` of the refreshed build (what a server does after
a swap).

    python benchmarks/bench_refresh.py [--variants 8] [--max-words 0] [--json]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from common import base_parser, emanual, emit, machine, make_runtime, quiet, table

TARGET = 0.05
SERIES = ("Q60", "Q70", "Q80", "QN85", "QN90", "QN95", "S90", "S95", "The Frame", "The Serif")


def make_corpus(docs: Path, out: Path, variants: int, max_words: int) -> list[Path]:
    files = []
    sections = sorted(docs.glob("*.md"))
    for k in range(variants):
        series = f"{SERIES[k % len(SERIES)]}{'' if k < len(SERIES) else f'-{k}'}"
        folder = out / f"variant-{k:02d}"
        folder.mkdir(parents=True)
        for section in sections:
            head, _, body = section.read_text().partition("\n")
            if max_words:
                body = " ".join(body.split()[:max_words])
            target = folder / section.name
            target.write_text(f"{head} ({series})\n\nThis section applies to the {series} TV "
                              f"series (manual variant {k + 1}).\n{body}\n")
            files.append(target)
    return files


class EmbedCounter:
    """Counts the texts LlamaIndex embedding models are asked to embed."""

    def __init__(self) -> None:
        from llama_index.core.instrumentation import get_dispatcher
        from llama_index.core.instrumentation.event_handlers import BaseEventHandler
        from llama_index.core.instrumentation.events.embedding import EmbeddingEndEvent

        counter = self

        class Handler(BaseEventHandler):
            @classmethod
            def class_name(cls) -> str:
                return "BenchEmbedCounter"

            def handle(self, event: Any, **kwargs: Any) -> None:
                if isinstance(event, EmbeddingEndEvent):
                    counter.texts += len(event.chunks)

        self.texts = 0
        get_dispatcher().add_event_handler(Handler())

    def take(self) -> int:
        count, self.texts = self.texts, 0
        return count


def timed(step: Any) -> tuple[Any, float, float]:
    """``(step(), wall seconds, CPU seconds of this process)``."""
    started, cpu = time.perf_counter(), time.process_time()
    out = step()
    return out, time.perf_counter() - started, time.process_time() - cpu


def measure(corpus: Path, files: list[Path], home: Path) -> dict[str, Any]:
    """Full build of ``corpus``, then a refresh after one document changed: times, counts and
    the refresh ÷ full ratio."""
    from knowledge.ingest import discover, load_documents

    rt = make_runtime(home)
    kb = rt.kb
    rt.embed_model.get_text_embedding("warm-up")
    counter = EmbedCounter()
    counter.take()
    full, full_s, full_cpu = timed(lambda: kb.update([corpus]))
    full_embedded = counter.take()
    folder = corpus / "variant-01"  # a section of the second copy; the first with --variants 1
    changed = (folder if folder.is_dir() else corpus / "variant-00") / files[14].name
    changed.write_text(changed.read_text() + "\nUpdated: remote support is now available "
                       "around the clock, every day of the year.\n")
    refresh, refresh_s, refresh_cpu = timed(kb.update)
    refresh_embedded = counter.take()
    loaded, load_s, _ = timed(kb.load)
    changed_id = str(changed.resolve())
    changed_chunks = sum(1 for node in loaded.index.docstore.docs.values()
                         if node.ref_doc_id == changed_id)
    _, read_s, _ = timed(lambda: load_documents(discover([corpus])))
    ratio = refresh_s / full_s
    return {
        "corpus": {"documents": full.documents, "chunks": full.chunks,
                   "chunk_size": rt.settings.chunk_size,
                   "chunk_overlap": rt.settings.chunk_overlap},
        "full": {"seconds": round(full_s, 2), "cpu_seconds": round(full_cpu, 2),
                 "embedded_texts": full_embedded},
        "refresh": {"seconds": round(refresh_s, 2), "cpu_seconds": round(refresh_cpu, 2),
                    "embedded_texts": refresh_embedded,
                    "added": refresh.added, "changed": refresh.changed,
                    "deleted": refresh.deleted, "unchanged": refresh.unchanged},
        "changed_document_chunks": changed_chunks,
        "embedded_only_changed_document": refresh_embedded == changed_chunks
        and refresh.changed == 1,
        "read_s": round(read_s, 2),
        "load_s": round(load_s, 2),
        "ratio_refresh_over_full": round(ratio, 4),
        "cpu_ratio_refresh_over_full": round(refresh_cpu / full_cpu, 4),
        "target": {"ratio": TARGET, "met": ratio <= TARGET},
    }


def render(result: dict[str, Any], sections: int) -> str:
    corpus, full, refresh = result["corpus"], result["full"], result["refresh"]
    ratio, cpu_ratio = result["ratio_refresh_over_full"], result["cpu_ratio_refresh_over_full"]
    rows = [("full build", full["seconds"], full["cpu_seconds"], full["embedded_texts"],
             corpus["documents"]),
            ("refresh (1 changed)", refresh["seconds"], refresh["cpu_seconds"],
             refresh["embedded_texts"], refresh["changed"])]
    cut = corpus["max_words"]
    return (
        f"Refresh — generated corpus of {corpus['documents']} documents, {corpus['chunks']} "
        f"chunks ({corpus['variants']} variants x {sections} sections"
        f"{f', bodies cut to {cut} words' if cut else ''})\n"
        + table(rows, ("step", "seconds", "CPU seconds", "texts embedded", "docs embedded"))
        + f"\nrefresh/full = {ratio:.2%} (CPU time: {cpu_ratio:.2%}; "
        + f"target <= {TARGET:.0%}: " + ("met" if result["target"]["met"] else "NOT met")
        + f"); the changed document has {result['changed_document_chunks']} chunks — refresh "
        + "embedded " + ("only those" if result["embedded_only_changed_document"]
                         else f"{refresh['embedded_texts']} texts")
        + f"; reading the {corpus['documents']} files alone takes {result['read_s']:.2f} s; "
        + f"loading the live build to serve it (KnowledgeBase.load) {result['load_s']:.2f} s"
    )


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--variants", type=int, default=8, help="copies of each section")
    parser.add_argument("--max-words", type=int, default=0,
                        help="cut each section body to N words (0 = whole sections)")
    args = parser.parse_args()
    docs, _ = emanual(args.data, need_qa=False)
    quiet()
    with tempfile.TemporaryDirectory(prefix="bench-refresh-") as tmp:
        corpus = Path(tmp) / "corpus"
        files = make_corpus(docs, corpus, args.variants, args.max_words)
        measured = measure(corpus, files, Path(tmp) / "home")
    measured["corpus"].update(variants=args.variants, max_words=args.max_words)
    result = {"benchmark": "refresh", "machine": machine(), **measured}
    emit(result, args.json, render(result, len(files) // max(1, args.variants)))


if __name__ == "__main__":
    main()
