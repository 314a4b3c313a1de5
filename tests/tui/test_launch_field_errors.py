"""A failing check marks every form field it names and lists every problem by
its key (the form has no file of its own); a fixed field loses its mark."""

from __future__ import annotations

from textual.widgets import Input

from engine.workspace import Workspace
from tests.tui.conftest import DEMO_CONFIG
from tests.tui.helpers import wait_until
from xlt_tui.app import XltApp
from xlt_tui.launch_form import FormProblem, LaunchForm, field_of, form_problems

MARK = "-check-error"
BATCH = "#hp-intermediate-batch_size"
RATE = "#hp-target-learning_rate"


def check_text(app) -> str:
    return str(app.screen.query_one("#check").render())


def marked(app) -> set[str]:
    return {w.id for w in app.screen.query(f".{MARK}")}


async def test_two_bad_fields_are_both_marked_and_both_listed(tmp_path):
    app = XltApp(Workspace.open(tmp_path / "ws"), config_file=DEMO_CONFIG)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        assert marked(app) == set()
        app.screen.query_one(BATCH, Input).value = "0"
        app.screen.query_one(RATE, Input).value = "-1"
        await wait_until(
            pilot,
            lambda: check_text(app).startswith("error"),
            describe=lambda: check_text(app),
        )
        assert marked(app) == {BATCH[1:], RATE[1:]}
        assert check_text(app).splitlines() == [
            "error: train.intermediate.batch_size: expected an integer >= 1, got 0",
            "error: train.target.learning_rate: expected a number > 0, got -1",
        ]
        assert str(DEMO_CONFIG) not in check_text(app)  # the key, not the file
        # Fixing one clears its mark; the other stays marked and listed.
        app.screen.query_one(BATCH, Input).value = "8"
        await wait_until(
            pilot,
            lambda: (
                check_text(app).startswith("error")
                and "batch_size" not in check_text(app)
            ),
            describe=lambda: check_text(app),
        )
        assert check_text(app).startswith("error: train.target.learning_rate")
        assert marked(app) == {RATE[1:]}
        # Focus passing through the marked field does not clear it (Input's
        # own -invalid would be cleared on blur).
        app.screen.query_one(RATE, Input).focus()
        await pilot.press("tab")
        await pilot.pause(0.1)
        assert marked(app) == {RATE[1:]}
        # The last fix: the check passes and no field is marked.
        app.screen.query_one(RATE, Input).value = "1e-5"
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        assert marked(app) == set()


async def test_a_list_and_an_input_are_marked_together(tmp_path):
    from textual.widgets import SelectionList

    app = XltApp(Workspace.open(tmp_path / "ws"), config_file=DEMO_CONFIG)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        app.screen.query_one("#targets", SelectionList).deselect_all()
        app.screen.query_one("#seeds", Input).value = "x"
        await wait_until(
            pilot,
            lambda: check_text(app).count("error:") == 2,
            describe=lambda: check_text(app),
        )
        assert marked(app) == {"targets", "seeds"}
        lines = check_text(app).splitlines()
        # In the schema's order, as the CLI lists them.
        assert lines[0].startswith("error: targets: expected at least one entry")
        assert lines[1].startswith("error: seeds: ")


def test_keys_map_to_the_fields_that_edit_them():
    form = LaunchForm.blank()
    assert field_of(("train", "target", "warmup_ratio"), form) == (
        "hp-target-warmup_ratio"
    )
    assert field_of(("allow_code_execution",), form) == "allow-code-execution"
    assert field_of(("languages", "xnli"), form) == "languages"
    # Keys the form does not show: listed, but no field to mark.
    assert field_of(("train", "batch_size"), form) is None
    assert field_of(("train", "target", "weight_decay"), form) is None
    assert field_of(("tasks", "mine", "kind"), form) is None
    assert field_of((), form) is None
    # The form's own group, by the name it writes; another group: no field.
    assert field_of(("groups", "group", "sampling"), form) is None  # no group
    form.group_tasks = "demo-topic, demo-trivia-qa"
    assert field_of(("groups", "group", "sampling"), form) == "group-sampling"
    assert field_of(("groups", "group"), form) == "group-tasks"
    assert field_of(("groups", "other", "tasks"), form) is None


def test_a_problem_without_a_key_keeps_a_data_files_name():
    from engine.errors import InputError

    source = "/tmp/exp.toml"
    own = InputError(f"{source}:3: code execution is off")
    data = InputError("/data/train.jsonl:1: label 'maybe' is not one of a, b")
    assert form_problems(own, source) == [FormProblem((), "code execution is off")]
    assert form_problems(data, source)[0].message == str(data)
