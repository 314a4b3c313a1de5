"""A damaged store reads as a clear error (exit 2) or a warning naming what was
skipped: never a traceback, never a silent gap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.errors import InputError
from engine.store import Store
from engine.workspace import Workspace
from xlt_tui.results_index import ResultsIndex


def _result(run_id: str = "r1", language: str = "en", **changes) -> dict:
    return {
        "run_id": run_id,
        "seed": 1,
        "model": "xlt-tiny",
        "intermediate": "baseline",
        "target": "sent",
        "language": language,
        "split": "test",
        "metric": "accuracy",
        "value": 0.5,
        "n_examples": 10,
        **changes,
    }


def _run(run_id: str = "r1") -> dict:
    return {
        "id": run_id,
        "name": "exp",
        "status": "finished",
        "started_at": 1.0,
        "ended_at": 2.0,
        "pid": None,
        "stages_done": 1,
        "error": None,
    }


def _cli(workspace: Path, *args: str):
    result = CliRunner().invoke(app, [*args, "--workspace", str(workspace)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b'\xff\xfe{"runs": {}}', "not UTF-8 text (byte 0"),
        (b"[1, 2]", "expected an object of tables, got list"),
        (b'{"runs": [1, 2]}', "table 'runs': expected an object of records"),
        (b'{"runs": {"1": "x"}}', "table 'runs', record 1: expected an object"),
        (b'{"runs": {"1": {"status": "failed"}}}', "record 1: a run without id"),
        (
            b'{"runs": {"1": {"id": "a", "status": "failed", "started_at": "monday"}}}',
            "record 1 (run 'a'): started_at: expected a number or null",
        ),
        (b'{"runs": {"1": ', "not valid JSON (Expecting"),
    ],
)
def test_damaged_runs_file_is_an_error_naming_file_and_record(
    workspace, content, fragment
):
    store_file = workspace / "xlt.json"
    store_file.write_bytes(content)
    for command in (["runs"], ["results", "--format", "json"]):
        result = _cli(workspace, *command)
        assert result.exit_code == 2, result.output
        assert str(store_file) in result.output and fragment in result.output
    # A writer refuses it too, and leaves it as it was for whoever repairs it.
    with pytest.raises(InputError):
        Store(Workspace(workspace)).create_run(_run("r9"))
    assert store_file.read_bytes() == content


@pytest.mark.parametrize("name", ["xlt.json", "results.jsonl"])
def test_folder_where_a_store_file_should_be(workspace, name):
    (workspace / name).mkdir()
    result = _cli(workspace, "results", "--format", "json")
    assert result.exit_code == 2
    assert f"{workspace / name}: expected" in result.output
    assert "found a folder" in result.output


def test_folder_where_the_lock_file_should_be(workspace):
    (workspace / "xlt.json.lock").mkdir()
    with pytest.raises(InputError, match=r"xlt\.json\.lock: expected"):
        Store(Workspace(workspace)).create_run(_run())


def test_empty_runs_file_reads_as_no_runs_with_a_warning(workspace):
    (workspace / "xlt.json").write_bytes(b"")
    result = _cli(workspace, "runs")
    assert result.exit_code == 0
    assert "no runs yet" in result.output
    assert f"warning: {workspace / 'xlt.json'} is empty" in result.output


def test_damaged_result_lines_are_skipped_with_a_warning(workspace):
    store = Store(Workspace(workspace))
    store.create_run(_run())
    lines = [
        json.dumps(_result(language="en")),
        json.dumps({"run_id": "r1", "target": "sent"}),  # fields missing
        "{garbage",  # mid-file
        json.dumps(_result(language="fr", value="high")),  # wrong type
        json.dumps(_result(language="de")),
    ]
    (workspace / "results.jsonl").write_text("\n".join(lines) + "\n")

    result = _cli(workspace, "results", "--format", "json")
    assert result.exit_code == 0
    payload = result.stdout[: result.stdout.rindex("]") + 1]
    assert [r["language"] for r in json.loads(payload)] == ["en", "de"]
    warning = result.output[result.output.index("warning:") :].replace("\n", " ")
    assert "results.jsonl: skipped 3 damaged lines" in warning
    assert "line 2: lacks seed, model" in warning
    assert "line 3: not JSON" in warning
    assert 'line 4: value: expected a number, got "high"' in warning

    # The TUI's index skips the same lines, and says which.
    index = ResultsIndex.for_store(store)
    index.refresh()
    assert [r["language"] for r in index.records("r1")] == ["en", "de"]
    assert [n for n, _ in index.skipped] == [2, 3, 4]


def test_deleting_a_run_keeps_other_lines_as_they_were(workspace):
    store = Store(Workspace(workspace))
    store.create_run(_run("r1"))
    store.create_run(_run("r2"))
    kept = [json.dumps(_result("r2")), "{garbage", json.dumps({"run_id": "r2"})]
    lines = [json.dumps(_result("r1")), *kept, json.dumps(_result("r1", "de"))]
    (workspace / "results.jsonl").write_text("\n".join(lines) + "\n")
    store.delete_run("r1")
    assert (workspace / "results.jsonl").read_text() == "\n".join(kept) + "\n"
