"""Helpers shared by tests: the fixture corpora and running ``supportbot`` in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bot.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "corpus"
PLANTED = FIXTURES / "planted"
REPO = Path(__file__).resolve().parents[1]
SETTINGS_ENV = {name.upper() for name in Settings.model_fields} | {"SUPPORTBOT_DEBUG"}


def copy_corpus(dest: Path, *extra: Path) -> Path:
    """A writable copy of the four-topic corpus (plus ``extra`` files) at ``dest``."""
    shutil.copytree(CORPUS, dest)
    for path in extra:
        shutil.copy(path, dest / path.name)
    return dest


def subprocess_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV}
    env.update(HF_HUB_OFFLINE="1", SUPPORTBOT_HOME=str(home), LLM_THREADS="1",
               LLM_MAX_NEW_TOKENS="48", PYTHONPATH=str(REPO), SHIPPED_ADAPTER="false")
    env.update(extra)
    return env


def run_bot(args: list[str], home: Path, cwd: Path, stdin: str | None = None,
            timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS`` in a fresh process, as a user would run ``supportbot``."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env=subprocess_env(home, **env),
        input=stdin, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL if stdin is None else None,
    )
