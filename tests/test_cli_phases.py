"""What `xlt-engine run` says before a stage's first step (loading the
model, tokenizing each split) and what lands in the run's engine.log."""

from __future__ import annotations

import json

import pytest

from engine.events import log_line
from tests.conftest import run_engine


@pytest.mark.slow  # a real (tiny) run: ~15-25 s
def test_phases_are_printed_and_logged(tmp_path, experiment, workspace):
    config = experiment(intermediate=(), epochs=1)
    config.write_text(
        config.read_text().replace(
            "epochs = 1\n",
            "epochs = 1\nmax_train_examples = 64\nmax_eval_examples = 16\n",
        )
    )
    out = run_engine("run", str(config), "--workspace", str(workspace))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    # Piped: plain lines, and they come between the stage line and its steps.
    start = next(i for i, x in enumerate(lines) if "] target" in x)
    first_step = next(i for i, x in enumerate(lines) if "step " in x)
    between = lines[start + 1 : first_step]
    assert any("tokenizing sent train [en]" in x for x in between), lines
    assert any("preparing sent" in x for x in between), lines
    assert lines[0].startswith("starting run ") and "loading xlt-tiny" in lines[0]
    (run_dir,) = (workspace / "runs").iterdir()
    events = [
        json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()
    ]
    phases = [e for e in events if e["type"] == "phase"]
    assert {e["phase"] for e in phases} >= {"tokenize", "prepare_target"}
    assert all(e["stage"] for e in phases)
    log = (run_dir / "engine.log").read_text()
    assert "tokenizing sent train [en]" in log
    assert "step " in log and "loss" in log
    assert "run finished after" in log


def test_log_line_of_each_event_type():
    assert log_line({"type": "header", "schema": "xlt.events"}) is None
    level, text = log_line({"type": "warning", "stage": "s1", "message": "slow"})
    assert (level, text) == (30, "s1: slow")
    _, text = log_line(
        {
            "type": "eval",
            "stage": "s",
            "task": "x",
            "language": "de",
            "split": "test",
            "metric": "accuracy",
            "value": 0.5,
            "final": True,
        }
    )
    assert text == "s: x [de] test accuracy 0.5000"


def test_terminal_bar_names_the_phase_until_the_first_step():
    import io

    from rich.console import Console

    from engine.console import ConsoleReporter

    reporter = ConsoleReporter(Console(file=io.StringIO(), force_terminal=True))
    reporter({"type": "stage_start", "stage": "t", "index": 1, "total": 1})
    reporter(
        {
            "type": "phase",
            "stage": "t",
            "phase": "tokenize",
            "message": "tokenizing x train [en]",
        }
    )
    assert reporter.progress is not None
    assert "tokenizing x train" in reporter.progress.tasks[0].fields["info"]
    reporter(
        {
            "type": "step",
            "stage": "t",
            "step": 1,
            "total_steps": 4,
            "loss": 0.5,
            "lr": 1e-3,
        }
    )
    assert "loss 0.5000" in reporter.progress.tasks[0].fields["info"]
    reporter({"type": "stage_end", "stage": "t", "seconds": 1})
