"""The run's console with stages side by side: every line of a stage names
it once two stages overlap, and a terminal shows one bar per running stage."""

from __future__ import annotations

import io

from rich.console import Console

from engine.console import ConsoleReporter


def _start(stage: str, index: int) -> dict:
    return {
        "type": "stage_start",
        "stage": stage,
        "index": index,
        "total": 6,
        "device": f"cpu{index}",
        "worker_pid": 100 + index,
    }


def _step(stage: str, step: int) -> dict:
    return {
        "type": "step",
        "stage": stage,
        "step": step,
        "total_steps": 10,
        "loss": 0.5,
        "lr": 1e-3,
    }


def _validation(stage: str, value: float) -> dict:
    return {
        "type": "eval",
        "stage": stage,
        "split": "validation",
        "metric": "accuracy",
        "value": value,
        "step": 5,
        "best": True,
    }


def test_plain_lines_of_overlapping_stages_name_their_stage():
    out = io.StringIO()
    reporter = ConsoleReporter(Console(file=out, width=200), plain=True)
    reporter(_start("target/a", 1))
    reporter(_step("target/a", 1))  # alone so far: no number needed
    reporter(_start("intermediate/b", 2))
    reporter(_step("intermediate/b", 1))
    reporter(_validation("target/a", 0.41))
    reporter(_validation("intermediate/b", 0.93))
    reporter({"type": "stage_end", "stage": "target/a", "seconds": 3})
    reporter(_step("intermediate/b", 10))
    lines = out.getvalue().splitlines()
    assert "[2/6] intermediate/b  on cpu2" in lines
    assert "    [1/6] step 5: validation accuracy 0.4100 *" in lines
    assert "    [2/6] step 5: validation accuracy 0.9300 *" in lines
    assert "    [1/6] done in 0m03s" in lines
    # Still numbered after the other stage ended: one run reads one way.
    assert lines[-1].startswith("    [2/6] step 10/10")
    # Each stage's own step lines are throttled separately.
    assert sum("[2/6] step 1/10" in line for line in lines) == 1


def test_one_stage_at_a_time_keeps_unnumbered_lines():
    out = io.StringIO()
    reporter = ConsoleReporter(Console(file=out, width=200), plain=True)
    reporter(_start("target/a", 1))
    reporter(_validation("target/a", 0.5))
    assert "    step 5: validation accuracy 0.5000 *" in out.getvalue().splitlines()


def test_a_terminal_shows_one_bar_per_running_stage():
    reporter = ConsoleReporter(Console(file=io.StringIO(), force_terminal=True))
    reporter(_start("target/a", 1))
    reporter(_start("intermediate/b", 2))
    reporter(_step("intermediate/b", 3))
    assert reporter.progress is not None
    # (the description is rich markup: "\\[" is a literal bracket)
    tasks = {t.description.replace("\\", ""): t for t in reporter.progress.tasks}
    assert set(tasks) == {"[1/6]", "[2/6]"}
    assert tasks["[2/6]"].completed == 3 and tasks["[1/6]"].completed == 0
    reporter({"type": "stage_end", "stage": "target/a", "seconds": 1})
    assert [t.description for t in reporter.progress.tasks] == ["\\[2/6]"]
    reporter({"type": "stage_end", "stage": "intermediate/b", "seconds": 1})
    assert reporter.progress is None
