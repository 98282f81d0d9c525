"""The ``supportbot`` command: --json contracts and one-line errors.

In-process runs (typer's ``CliRunner``) reuse the session's models; a few runs go through a
real ``python -m bot`` process to see the true exit code, stdout and stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock
from typer.testing import CliRunner

from bot.cli import app, main
from bot.storage import Store
from tests.helpers import run_bot

INGEST_KEYS = {"documents", "chunks", "added", "changed", "deleted", "unchanged", "seconds"}
ASK_KEYS = {"answer", "sources", "latency_ms", "load_ms", "model", "adapter", "verified",
            "message_id"}
SOURCE_KEYS = {"id", "source", "title", "score", "text"}
STATUS_KEYS = {"documents", "chunks", "sources", "quarantined", "model", "adapter", "database",
               "vector_store", "generation", "database_url"}


def run_main(*args: str, build: Any = None) -> tuple[int, str, str]:
    """``supportbot ARGS`` in-process through ``main()`` (its error handling included);
    ``build`` makes its ``Runtime`` (the ``cli_models`` fixture: the session's models)."""
    runner = CliRunner()
    with runner.isolation() as (stdout, stderr, _):
        try:
            main(list(args), build=build)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        sys.stdout.flush()
        sys.stderr.flush()
        return code, stdout.getvalue().decode(), stderr.getvalue().decode()


def one_json_object(stdout: str) -> dict[str, Any]:
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout
    data = json.loads(lines[0])
    assert isinstance(data, dict)
    return data


def error_line(code: int, stderr: str, expected_code: int | None = None) -> str:
    """The single ``error: ...`` line of a failed command."""
    assert code != 0
    if expected_code is not None:
        assert code == expected_code
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert stderr.rstrip().splitlines()[-1] == errors[0]  # the error comes last
    return errors[0]


# --json contracts -----------------------------------------------------------------------
def test_ingest_and_status_json(cli_models: Any, corpus: Path, home: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(corpus), "--json"], obj=cli_models)
    assert result.exit_code == 0, result.output
    data = one_json_object(result.stdout)
    assert set(data) >= INGEST_KEYS
    assert (data["documents"], data["added"], data["changed"], data["deleted"],
            data["unchanged"]) == (4, 4, 0, 0, 0)
    assert data["chunks"] >= 4 and isinstance(data["seconds"], float)

    again = one_json_object(CliRunner().invoke(app, ["refresh", "--json"], obj=cli_models).stdout)
    assert (again["added"], again["unchanged"]) == (0, 4)

    status = CliRunner().invoke(app, ["status", "--json"], obj=cli_models)
    assert status.exit_code == 0
    info = one_json_object(status.stdout)
    assert set(info) == STATUS_KEYS
    assert (info["documents"], info["chunks"]) == (4, data["chunks"])
    assert info["sources"] == [str(corpus.resolve())]
    assert info["model"] == "llama_cpp:embedded SmolLM2-135M-Instruct"
    assert info["adapter"] is None
    assert (info["database"], info["vector_store"], info["generation"]) == (
        "sqlite", "faiss", "llama_cpp")
    assert info["database_url"] == f"sqlite:///{home / 'supportbot.db'}"


def test_human_readable_ingest_and_status(cli_models: Any, corpus: Path) -> None:
    code, out, err = run_main("ingest", str(corpus), build=cli_models)
    assert code == 0, err
    assert out.startswith("4 documents, ")
    assert "(added 4, changed 0, deleted 0, unchanged 0)" in out
    code, out, _ = run_main("status", build=cli_models)
    assert code == 0
    assert "documents: 4" in out and "adapter: -" in out


def test_ask_json_in_a_real_process(make_runtime: Callable[..., Any], corpus: Path,
                                    home: Path, tmp_path: Path) -> None:
    make_runtime().refresh([corpus], kind="ingest")
    proc = run_bot(["ask", "--json", "How do I turn on two-factor authentication?"],
                   home, tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = one_json_object(proc.stdout)  # nothing else on stdout: no logs, no progress
    assert set(data) == ASK_KEYS
    assert data["answer"].strip()
    assert data["sources"] and all(set(s) == SOURCE_KEYS for s in data["sources"])
    assert data["sources"][0]["source"] == "two-factor-authentication.md"
    assert data["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf@q8_0"
    assert data["adapter"] is None and data["latency_ms"] > 0 and data["load_ms"] > 0
    assert data["verified"] is False and data["message_id"] > 0  # stored: `correct` takes it


def test_ask_plain_text_lists_sources(cli_models: Any, corpus: Path) -> None:
    assert run_main("ingest", str(corpus), "--json")[0] == 0
    code, out, err = run_main("ask", "How do I bake sourdough bread?", build=cli_models)
    assert code == 0, err
    assert out.startswith("I couldn't find that in our documentation")
    assert "Sources:" not in out  # nothing relevant, so nothing cited


# errors ---------------------------------------------------------------------------------
def test_ingest_missing_path_in_a_real_process(home: Path, tmp_path: Path) -> None:
    proc = run_bot(["ingest", "/does/not/exist"], home, tmp_path)
    line = error_line(proc.returncode, proc.stderr, 2)
    assert line == "error: /does/not/exist: no such file or folder — check the path and try again."
    assert proc.stdout == ""


def test_invalid_setting_in_a_real_process(home: Path, tmp_path: Path) -> None:
    proc = run_bot(["status"], home, tmp_path, TOP_K="0")
    line = error_line(proc.returncode, proc.stderr, 2)
    assert line.startswith("error: Invalid setting TOP_K: ")
    assert line.endswith("(see .env.example).")


def test_ask_before_ingest_in_a_real_process(home: Path, tmp_path: Path) -> None:
    proc = run_bot(["ask", "How do refunds work?"], home, tmp_path)
    line = error_line(proc.returncode, proc.stderr, 2)
    assert "No knowledge index yet" in line and "supportbot ingest" in line


def test_refresh_refused_while_another_process_holds_the_lock(home: Path,
                                                              tmp_path: Path) -> None:
    (home / "index").mkdir(parents=True)
    with FileLock(str(home / "index" / "refresh.lock")):  # held by this test process
        proc = run_bot(["refresh"], home, tmp_path)
    line = error_line(proc.returncode, proc.stderr, 3)
    assert line == ("error: A knowledge refresh is already running — wait for it to finish, "
                    "then retry.")


def test_ingest_empty_folder(cli_models: Any, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, out, err = run_main("ingest", str(tmp_path / "empty"), build=cli_models)
    assert "no documents found" in error_line(code, err, 2)
    assert out == ""


def test_corrupt_pdf_is_skipped_with_a_warning(cli_models: Any, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "x.pdf").write_bytes(os.urandom(4096))
    (folder / "guide.md").write_text("# Guide\n\nExports are emailed as a CSV archive.\n")
    code, out, err = run_main("ingest", str(folder), "--json", build=cli_models)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: skipped ")
    assert "x.pdf" in warnings[0]
    data = one_json_object(out)
    assert (data["documents"], data["added"]) == (1, 1)
    assert [Path(s["file"]).name for s in data["skipped"]] == ["x.pdf"]
    code, out, _ = run_main("status", "--json", build=cli_models)
    assert one_json_object(out)["documents"] == 1


def test_folder_with_only_a_corrupt_pdf(cli_models: Any, tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.pdf").write_bytes(os.urandom(4096))
    code, _, err = run_main("ingest", str(folder), build=cli_models)
    assert "None of the source files could be read" in error_line(code, err, 2)
    assert "x.pdf" in err  # the warning names the file
    runs = Store(f"sqlite:///{home / 'supportbot.db'}")
    try:
        assert runs.refresh_runs()[0].status == "failed"
    finally:
        runs.close()


def test_missing_model_file_names_the_setting(monkeypatch: pytest.MonkeyPatch,
                                              make_runtime: Callable[..., Any], corpus: Path,
                                              embed_model: Any) -> None:
    from bot.runtime import Runtime

    make_runtime().refresh([corpus], kind="ingest")
    monkeypatch.setenv("LLM_MODEL", "/nope.gguf")  # the real loader runs
    code, _, err = run_main("ask", "Can I get a refund on an annual subscription?",
                            build=lambda settings: Runtime(settings, embed_model=embed_model))
    line = error_line(code, err, 2)
    assert line == "error: Model file not found: /nope.gguf — fix LLM_MODEL or remove it."


def test_empty_question_is_an_input_error(home: Path) -> None:
    code, _, err = run_main("ask", "   ")
    assert "question is empty" in error_line(code, err, 2)


def test_overlong_question_is_an_input_error(home: Path) -> None:
    code, out, err = run_main("ask", "x" * 20_000)
    assert error_line(code, err, 2) == ("error: The question is 20,000 characters long; keep it "
                                        "under 2,000 (MAX_QUESTION_CHARS).")
    assert out == ""


def test_bad_settings_exit_2(home: Path, tmp_path: Path) -> None:
    proc = run_bot(["status"], home, tmp_path, DATABASE_URL="garbage")
    assert "is not a database URL" in error_line(proc.returncode, proc.stderr, 2)


def test_refresh_before_any_ingest(cli_models: Any) -> None:
    code, _, err = run_main("refresh", build=cli_models)
    assert "run `supportbot ingest PATH`" in error_line(code, err, 2)


def test_unexpected_exception_is_one_line(home: Path) -> None:
    from bot.runtime import Runtime

    class Broken(Runtime):
        def model_spec(self) -> Any:
            raise KeyError("kaput")

    code, _, err = run_main("status", build=Broken)
    line = error_line(code, err, 1)
    assert line.startswith("error: unexpected KeyError: 'kaput'")
    assert "SUPPORTBOT_DEBUG=1" in line


# training commands (no model needed on an empty home) -------------------------------------


def test_adapters_and_feedback_export_on_an_empty_home(home: Path, tmp_path: Path) -> None:
    code, out, _ = run_main("adapters", "list", "--json")
    assert code == 0 and one_json_object(out) == {"adapters": []}
    code, out, _ = run_main("adapters", "rollback", "--json")
    assert code == 0 and one_json_object(out) == {"active": None}
    target = tmp_path / "fb.jsonl"
    code, out, _ = run_main("feedback", "export", "--out", str(target), "--json")
    exported = one_json_object(out)
    assert code == 0 and exported["examples"] == 0 and target.read_text() == ""


def test_training_commands_give_one_line_errors(home: Path, tmp_path: Path) -> None:
    code, _, err = run_main("adapters", "promote", "v0", "--json")
    assert "No adapter 'v0' — known versions: none yet." in error_line(code, err, 2)
    code, _, err = run_main("eval", str(tmp_path / "missing.jsonl"))
    assert "check the path" in error_line(code, err, 2)
    (tmp_path / "taken").write_text("a file, not a folder")
    code, _, err = run_main("feedback", "export", "--out", str(tmp_path / "taken" / "fb.jsonl"))
    assert "choose a writable file with --out" in error_line(code, err, 2)
    code, _, err = run_main("train", "--data", str(tmp_path / "missing.jsonl"))
    assert "no such file — check the path" in error_line(code, err, 2)
    code, _, err = run_main("train", "--max-steps", "0")
    assert "--max-steps must be -1 (one epoch) or at least 1, not 0." in error_line(code, err, 2)
    (tmp_path / "notes.txt").write_text("not a QA line\n")
    code, _, err = run_main("eval", str(tmp_path / "notes.txt"))
    assert "notes.txt:1: not valid JSON" in error_line(code, err, 2)
    assert "each line must be an object like" in err
