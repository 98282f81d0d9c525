"""Shared helpers for the benchmark scripts (not a benchmark itself).

Every benchmark builds its own ``Runtime`` on a temporary ``SUPPORTBOT_HOME`` (so nothing is
written into the repository's ``.supportbot/``), reads the shared data from a path argument
and prints either a short table or, with ``--json``, one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the models ship in wheels; never reach the hub

DEFAULT_DATA = Path("/work/shared/data")
EMANUAL = "emanual-smart-tv"
_WORD = re.compile(r"\w+")


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description.strip().splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="shared data folder (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    return parser


def qa_parser(description: str, adapter_default: str) -> argparse.ArgumentParser:
    """``base_parser`` plus what the scripts that answer a QA file in a home take."""
    parser = base_parser(description)
    parser.add_argument("--home", type=Path, required=True, help="a home with the docs ingested")
    parser.add_argument("--qa", type=Path, required=True, help="QA .jsonl about those docs")
    parser.add_argument("--adapter",
                        help=f"version or adapter folder (default: {adapter_default})")
    parser.add_argument("--company", default="Orbitask", help="COMPANY_NAME of the docs")
    parser.add_argument("--limit", type=int, help="first N questions only")
    return parser


def emanual(data: Path, need_qa: bool = True) -> tuple[Path, Path]:
    """``(docs folder, qa-test.jsonl)`` of the e-manual data set; exits if it is missing."""
    root = Path(data).expanduser() / EMANUAL
    docs, qa = root / "docs", root / "qa-test.jsonl"
    if not docs.is_dir() or not any(docs.glob("*.md")) or (need_qa and not qa.is_file()):
        wanted = "docs/*.md and qa-test.jsonl" if need_qa else "docs/*.md"
        sys.exit(f"error: benchmark data not found at {root} (expected {wanted}) — pass "
                 "--data PATH to the shared data folder.")
    return docs, qa


def load_qa(path: Path, limit: int | None = None) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def make_runtime(home: Path, **overrides: Any) -> Any:
    """The product's ``Runtime`` on ``home``; ``.env`` files are ignored for reproducibility."""
    from bot.runtime import Runtime
    from bot.settings import load_settings

    return Runtime(load_settings(supportbot_home=home, _env_file=None, **overrides))



def correct(env: dict[str, str], message_id: int, text: str) -> dict[str, Any]:
    """``supportbot correct MESSAGE_ID TEXT --json`` as a reviewer runs it (in process, with
    ``env``); its JSON result. Exits with the command's output if it fails."""
    from typer.testing import CliRunner

    from bot.cli import app

    result = CliRunner().invoke(app, ["correct", str(message_id), text, "--json"], env=env)
    if result.exit_code != 0:
        sys.exit(f"error: supportbot correct failed: {result.output.strip()}")
    return dict(json.loads(result.stdout))

def words(text: str) -> list[str]:
    """Lowercased word tokens (``\\w+``) — the unit of the coverage metric."""
    return _WORD.findall(text.lower())


def coverage(answer: str, context: str) -> float:
    """Share of the answer's word tokens found in ``context``, as a multiset overlap."""
    want = Counter(words(answer))
    if not want:
        return 1.0
    have = Counter(words(context))
    return sum((want & have).values()) / sum(want.values())


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100), like numpy's default."""
    data = sorted(values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


# CPU features that change the figures several-fold: llama.cpp's and torch's kernels, and
# whether training runs in bf16 (training.train.use_bf16), depend on them.
_CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def cpu_features() -> str:
    """The vector extensions this CPU reports (Linux), e.g. ``"avx2"`` or ``"avx2 avx512f"``."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = set(next((line for line in text.splitlines() if line.startswith("flags")),
                     "").split())
    return " ".join(f for f in _CPU_FLAGS if f in flags) or "none of " + ", ".join(_CPU_FLAGS)


def machine() -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
        "cpu_features": cpu_features(),
        "platform": platform.platform(), "python": platform.python_version(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def emit(result: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        print(json.dumps(result, indent=None, sort_keys=False))
    else:
        print(text)


def quiet() -> None:
    """Silence library chatter (progress bars, transformers warnings) on stderr."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    logging.basicConfig(level=logging.ERROR)  # later basicConfig calls become no-ops
    logging.getLogger().setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except Exception:  # noqa: BLE001 - cosmetic only
        pass
    import bm25s  # noqa: F401 - it sets its own logger to DEBUG on import; import it first

    for name in ("transformers", "sentence_transformers", "llama_index", "httpx", "bm25s"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Hide C-level chatter on fd 2 (llama.cpp model loading) for the duration."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
