"""The Launch screen: the engine's own validation, inline, and a launch that
fails on its input shows why in the Runs screen."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from engine.errors import InputError
from engine.workspace import Workspace
from tests.tui.conftest import DEMO_CONFIG
from tests.tui.helpers import wait_until
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
        # Said by its key: the form is not the file (tests/tui/
        # test_launch_field_errors.py marks the field too).
        assert check_text(app) == f"error: {expected.removeprefix(f'{DEMO_CONFIG}: ')}"
        assert check_text(app).startswith("error: train.target.learning_rate")
        # Launch refuses and nothing is written.
        await pilot.press("ctrl+l")
        await pilot.pause(0.2)
        assert not (tmp_path / "ws" / "launches").exists()


async def test_bad_data_is_refused_by_the_forms_check_in_the_engines_words(
    tmp_path, experiment
):
    """The engine's dry run reads the data as a real start would: a label the
    task does not know is the form's error (file and line), before anything
    is launched. (A launch that fails anyway shows in Runs: test_runs.py.)"""
    config = experiment()
    (tmp_path / "data" / "train.jsonl").write_text('{"text": "x", "label": "maybe"}\n')
    app = XltApp(Workspace.open(tmp_path / "ws"), config_file=config, poll_seconds=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(
            pilot,
            lambda: check_text(app).startswith("error"),
            timeout=60,
            describe=lambda: check_text(app),
        )
        text = " ".join(check_text(app).split())
        assert "train.jsonl:1: label 'maybe' is not one of negative, positive" in text
        await pilot.press("ctrl+l")
        await pilot.pause(0.3)
        assert type(app.screen).__name__ == "LaunchScreen"
    assert not (Path(tmp_path / "ws") / "launches").exists()  # nothing started
    assert not (Path(tmp_path / "ws") / "runs").exists()


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


# A burst as a terminal delivers it: every key queued before any is handled.
BURST = [("3", "3"), ("full_stop", "."), ("5", "5")]
BURST += [("backspace", None)] * 3 + [("3", "3"), ("2", "2")]


async def test_keys_arriving_in_a_burst_are_all_applied_in_order(tmp_path):
    from textual import events

    app = XltApp(Workspace.open(tmp_path / "ws"), config_file=DEMO_CONFIG)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        field = app.screen.query_one("#hp-target-batch_size", Input)
        field.focus()
        for _ in range(5):
            field.value = ""
            await pilot.pause()
            for key, character in BURST:
                app.post_message(events.Key(key, character))
            await wait_until(pilot, lambda: field.value == "32", timeout=3)
            await pilot.pause(0.1)
            assert field.value == "32"
        # The check ran on the last value (debounced), not on the keys.
        await wait_until(pilot, lambda: "error" not in check_text(app))
        assert app.screen.read_form().hparams["target"]["batch_size"] == "32"


async def test_the_check_reports_what_a_real_start_refuses_in_full(tmp_path):
    """The code config passes the schema but `xlt-engine run` refuses it
    without code execution allowed: the form says so before launching, the
    whole message (with its fix), and launch does nothing."""
    code = DEMO_CONFIG.parent / "codegen_transfer.toml"
    app = XltApp(Workspace.open(tmp_path / "ws"), config_file=code)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(
            pilot,
            lambda: check_text(app).startswith("error"),
            timeout=60,
            describe=lambda: check_text(app),
        )
        text = " ".join(check_text(app).split())
        assert "code execution is off" in text
        assert text.endswith("or set allow_code_execution = true")
        # Wrapped and shown whole (it takes 7 lines at 80 columns), not cut.
        shown = app.screen.query_one("#check")
        assert shown.size.height >= 6  # the old banner cut it at 4 lines
        await pilot.press("ctrl+l")
        await pilot.pause(0.3)
        assert not (tmp_path / "ws" / "launches").exists()


async def test_a_plan_of_hours_asks_before_it_launches(tmp_path, monkeypatch):
    from xlt_tui.engine_client import DryRun
    from xlt_tui.screens.confirm import ConfirmScreen

    app = XltApp(Workspace.open(tmp_path / "ws"), config_file=DEMO_CONFIG)
    hours = DryRun(
        summary={
            "stages": 8,
            "trainings": 8,
            "intermediate_trainings": 2,
            "target_trainings": 6,
            "reused_checkpoints": 0,
            "reused_target_results": 0,
            "evaluations": 36,
        },
        total_seconds=3 * 3600 + 300,
    )
    monkeypatch.setattr(app.client, "dry_run", lambda raw, source: hours)
    launched = []
    monkeypatch.setattr(app.client, "launch", lambda *a: launched.append(a))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "estimated 3h05m" in check_text(app))
        await pilot.press("ctrl+l")
        assert isinstance(app.screen, ConfirmScreen)
        assert "3h05m" in str(app.screen.query_one("#question").render())
        await pilot.press("n")
        await pilot.pause(0.2)
        assert launched == []


def _languages_of(app, target: str) -> list[str]:
    from textual.widgets import SelectionList

    sl = app.screen.query_one("#languages", SelectionList)
    return [lang for t, lang in sl.selected if t == target]


async def test_unticking_and_reticking_a_target_keeps_its_languages(tmp_path):
    """Issue 15 item 6: a target ticked again had no languages at all."""
    from textual.widgets import SelectionList

    app = XltApp(Workspace.open(tmp_path / "ws"), config_file=DEMO_CONFIG)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        targets = app.screen.query_one("#targets", SelectionList)
        target = "demo-sentiment"
        before = _languages_of(app, target)
        assert len(before) >= 2
        # Leave one language out, then untick and tick the target again.
        languages = app.screen.query_one("#languages", SelectionList)
        languages.deselect((target, before[-1]))
        await pilot.pause(0.1)
        targets.deselect(target)
        await pilot.pause(0.2)
        assert _languages_of(app, target) == []
        targets.select(target)
        await wait_until(
            pilot,
            lambda: _languages_of(app, target) == before[:-1],
            describe=lambda: _languages_of(app, target),
        )
        assert app.screen.read_form().languages[target] == before[:-1]

        # "none", then "all", for every target's languages at once.
        await pilot.click("#languages-none")
        await pilot.pause(0.1)
        assert languages.selected == []
        await pilot.click("#languages-all")
        await pilot.pause(0.1)
        assert _languages_of(app, target) == before
        assert app.screen.read_form().languages[target] == before


async def test_an_edit_outdates_the_plan_line_and_new_runs_join_the_open_list(
    tmp_path,
):
    """Issue 15 item 6: the plan line kept the last verdict while the edited
    form waited for its check, and the list of earlier runs' configs was the
    one read when the screen was first built."""
    import shutil

    from textual.widgets import Select

    from engine.store import Store
    from tests.tui.conftest import T0, run_record

    ws = Workspace.open(tmp_path / "ws")
    app = XltApp(ws, config_file=DEMO_CONFIG)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        generation = app.screen._check_generation
        app.screen.query_one("#seeds", Input).value = "1,2"
        await wait_until(pilot, lambda: app.screen._check_generation > generation)
        # From the edit on, never the old form's plan (8 stages for one seed).
        assert not app.screen.valid
        assert "8 stages" not in check_text(app)
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        assert "16 stages" in check_text(app)

        run_id = "20261126-100000-demo-f00d"
        Store(ws.store_path).create_run(run_record(run_id, "finished", T0, 60))
        ws.run_config(run_id).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEMO_CONFIG, ws.run_config(run_id))
        await pilot.press("1")  # Runs, then back to Launch
        await pilot.pause(0.2)
        await pilot.press("2")
        await pilot.pause(0.2)
        select = app.screen.query_one("#open-select", Select)
        labels = [str(prompt) for prompt, _ in select._options]
        assert f"run: {run_id}" in labels
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
