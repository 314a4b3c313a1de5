"""The Launch screen: the engine's own validation, inline, and a launch that
fails on its input shows why in the Runs screen."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from engine.errors import InputError
from engine.workspace import Workspace
from tests.tui.conftest import DEMO_CONFIG
from tests.tui.helpers import table_text, wait_until
from xlt_tui.app import XltApp
from xlt_tui.launch_form import LaunchForm


def check_text(app) -> str:
    return str(app.screen.query_one("#check").render())


async def test_opened_demo_config_is_checked_and_planned(tmp_path):
    app = XltApp(Workspace.open(tmp_path / "ws"), config_file=DEMO_CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        assert "8 stages, 8 trainings to run (2 intermediate, 6 target)" in (
            check_text(app)
        )
        assert app.screen.query_one("#model", Input).value == "xlt-tiny"


async def test_invalid_field_shows_the_engines_words_inline(tmp_path):
    app = XltApp(Workspace.open(tmp_path / "ws"), config_file=DEMO_CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        app.screen.query_one("#hp-target-learning_rate", Input).value = "-1"
        await wait_until(
            pilot,
            lambda: check_text(app).startswith("error"),
            describe=lambda: check_text(app),
        )
        # The same message `xlt-engine run` prints for that file and key.
        raw = LaunchForm.from_file(DEMO_CONFIG).to_raw()
        raw["train"]["target"]["learning_rate"] = -1
        try:
            from engine.config import parse_config

            parse_config(raw, DEMO_CONFIG)
        except InputError as exc:
            expected = str(exc)
        assert check_text(app) == f"error: {expected}"
        assert "train.target.learning_rate" in expected
        # Launch refuses and nothing is written.
        await pilot.press("ctrl+l")
        await pilot.pause(0.2)
        assert not (tmp_path / "ws" / "launches").exists()


async def test_launch_with_bad_data_shows_failed_with_the_engines_reason(
    tmp_path, experiment
):
    config = experiment()
    (tmp_path / "data" / "train.jsonl").write_text('{"text": "x", "label": "maybe"}\n')
    app = XltApp(Workspace.open(tmp_path / "ws"), config_file=config, poll_seconds=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        await pilot.press("ctrl+l")
        monitor = app.screen
        assert type(monitor).__name__ == "MonitorScreen"
        # The engine stops on the bad label before the run starts and records
        # it as failed in the store; the monitor says so in the engine's words.
        await wait_until(pilot, lambda: monitor.status == "failed", timeout=60)
        assert "maybe" in (monitor.last_error or "")
        await pilot.press("escape")  # leave the monitor
        await pilot.press("f2")
        table = app.screen.query_one("#runs-table")
        await wait_until(pilot, lambda: table.row_count == 1)
        await wait_until(pilot, lambda: table_text(table)[0][2] == "failed")
        detail = str(app.screen.query_one("#runs-detail").render())
        assert "train.jsonl" in detail and "maybe" in detail
    assert not (Path(tmp_path / "ws") / "runs").exists()  # nothing half-written


def test_paper_config_round_trips_through_the_form_with_its_group():
    from engine.config import parse_config

    paper = DEMO_CONFIG.parent / "xstilts_paper.toml"
    form = LaunchForm.from_file(paper)
    assert form.group_name == "all-nine"
    assert form.group_tasks.startswith("anli_plus, ccg")
    original = parse_config(LaunchForm.from_file(paper).base, paper)
    again = parse_config(form.to_raw(), paper)
    assert again.intermediate == original.intermediate
    assert again.groups == original.groups
    assert again.task_overrides == original.task_overrides


async def test_group_typed_in_the_form_becomes_one_intermediate_choice(tmp_path):
    app = XltApp(Workspace.open(tmp_path / "ws"), config_file=DEMO_CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        assert "2 intermediate" in check_text(app)
        app.screen.query_one("#group-tasks", Input).value = "demo-topic, demo-triva-qa"
        await wait_until(pilot, lambda: check_text(app).startswith("error"))
        assert "did you mean 'demo-trivia-qa'" in check_text(app)
        app.screen.query_one("#group-tasks", Input).value = "demo-topic, demo-trivia-qa"
        await wait_until(pilot, lambda: "3 intermediate" in check_text(app))
        raw = app.screen.read_form().to_raw()
        assert raw["intermediate"][-1] == "group"
        assert raw["groups"]["group"]["tasks"] == ["demo-topic", "demo-trivia-qa"]


def test_code_execution_is_the_users_choice_in_the_form():
    from engine.config import parse_config

    config = DEMO_CONFIG.parent / "codegen_transfer.toml"
    form = LaunchForm.from_file(config)
    assert form.allow_code_execution is False
    assert "allow_code_execution" not in form.to_raw()
    form.allow_code_execution = True
    assert parse_config(form.to_raw(), config).allow_code_execution is True
