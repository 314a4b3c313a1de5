"""The Launch form's task pickers (filter, count), saving it as TOML, opening
any TOML file, and tick marks that read without colour (issue 15)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, SelectionList

from engine.config import load_config
from engine.workspace import Workspace
from tests.tui.conftest import DEMO_CONFIG
from tests.tui.helpers import screen_text, wait_until
from xlt_tui.app import XltApp
from xlt_tui.launch_form import LaunchForm
from xlt_tui.screens.confirm import ConfirmScreen
from xlt_tui.screens.save_config import SaveConfigScreen, default_save_path
from xlt_tui.widgets.task_picker import TaskPicker


def check_text(app) -> str:
    return str(app.screen.query_one("#check").render())


def shown(app, list_id: str) -> list[str]:
    sl = app.screen.query_one(f"#{list_id}", SelectionList)
    return [sl.get_option_at_index(i).value for i in range(sl.option_count)]


def title(app, list_id: str) -> str:
    picker = app.screen.query_one(f"#{list_id}-picker", TaskPicker)
    return str(picker.query_one(".picker-title").render())


def hidden_note(app, list_id: str) -> str:
    picker = app.screen.query_one(f"#{list_id}-picker", TaskPicker)
    return str(picker.query_one(".hidden-note").render())


def demo_app(tmp_path) -> XltApp:
    return XltApp(Workspace.open(tmp_path / "ws"), config_file=DEMO_CONFIG)


async def test_filter_hides_tasks_but_keeps_hidden_ticks_in_the_form(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        assert title(app, "intermediate") == "intermediate tasks (2 of 19 ticked)"
        app.screen.query_one("#intermediate-filter", Input).focus()
        await pilot.press(*"squad")
        await wait_until(pilot, lambda: shown(app, "intermediate") != [])
        assert shown(app, "intermediate") == ["squad", "squad_v2"]
        # The demo's ticked tasks are hidden, still ticked, and said so.
        assert title(app, "intermediate") == "intermediate tasks (2 of 19 ticked)"
        assert hidden_note(app, "intermediate") == "2 ticked, hidden"
        # Tick one shown task: the count grows, the hidden ticks stay.
        app.screen.query_one("#intermediate", SelectionList).select("squad_v2")
        await pilot.pause(0.1)
        assert app.screen.read_form().intermediate == [
            "demo-topic",
            "demo-trivia-qa",
            "squad_v2",
        ]
        assert title(app, "intermediate") == "intermediate tasks (3 of 19 ticked)"
        assert hidden_note(app, "intermediate") == "2 ticked, hidden"
        # Clearing the filter shows all with their ticks.
        app.screen.query_one("#intermediate-filter", Input).value = ""
        await pilot.pause(0.1)
        sl = app.screen.query_one("#intermediate", SelectionList)
        assert sl.option_count == 19
        assert sorted(sl.selected) == ["demo-topic", "demo-trivia-qa", "squad_v2"]
        assert title(app, "intermediate") == "intermediate tasks (3 of 19 ticked)"
        assert hidden_note(app, "intermediate") == ""
        # The check ran on the edited form (3 intermediate trainings).
        await wait_until(
            pilot,
            lambda: "3 intermediate" in check_text(app),
            describe=lambda: check_text(app),
        )


async def test_a_loaded_configs_ticked_tasks_are_scrolled_into_view(tmp_path):
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        text = screen_text(app)
        # The demo tasks are 21st and 23rd in the registry: in view anyway.
        assert "▐X▌ demo-topic" in text
        assert "▐X▌ demo-sentiment" in text


async def test_tick_marks_differ_without_colour(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = demo_app(tmp_path)
    async with app.run_test(size=(80, 60)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        text = screen_text(app)
        assert "▐X▌ baseline" in text
        assert "▐ ▌ run generated code" in text  # off: blank, not a grey "X"
        assert "▐ ▌ mbpp" in text
        assert "▐X▌ demo-trivia-qa" in text


async def test_save_writes_a_toml_file_that_loads_back_as_the_same_form(tmp_path):
    app = demo_app(tmp_path)
    target = tmp_path / "mine" / "edited.toml"
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        app.screen.query_one("#name", Input).value = "edited"
        app.screen.query_one("#hp-target-epochs", Input).value = "3"
        await pilot.pause(0.1)
        before = app.screen.read_form().to_raw()
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SaveConfigScreen)
        path_input = app.screen.query_one("#save-path", Input)
        # A sample config is not the user's: the default is under the workspace.
        assert path_input.value == str(tmp_path / "ws" / "configs" / "edited.toml")
        path_input.value = str(target)
        await pilot.press("enter")
        await wait_until(pilot, target.is_file)
        config = load_config(target)  # the engine reads it as any config
        assert config.name == "edited"
        assert config.target_hparams.epochs == 3
        reopened = LaunchForm.from_file(target)
        assert reopened.to_raw() == before
        # The form is the saved file's now.
        assert app.screen.form.source == target
        assert not app.unsaved_launch_edits
        assert not list(target.parent.glob("*.partial-*"))  # written whole


async def test_save_asks_before_replacing_a_file(tmp_path):
    existing = tmp_path / "kept.toml"
    existing.write_text(DEMO_CONFIG.read_text())
    app = XltApp(Workspace.open(tmp_path / "ws"), config_file=existing)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        app.screen.query_one("#name", Input).value = "kept"
        await pilot.pause(0.1)
        await pilot.press("ctrl+s")
        # The user's own file: the default is next to it (here: itself).
        assert app.screen.query_one("#save-path", Input).value == str(existing)
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause(0.1)
        assert existing.read_text() == DEMO_CONFIG.read_text()  # untouched
        await pilot.press("ctrl+s")
        await pilot.press("enter")
        await pilot.pause(0.1)
        await pilot.press("y")
        await wait_until(pilot, lambda: load_config(existing).name == "kept")


async def test_save_refuses_a_form_the_engine_rejects(tmp_path):
    app = demo_app(tmp_path)
    target = tmp_path / "bad.toml"
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        app.screen.query_one("#hp-target-learning_rate", Input).value = "-1"
        await wait_until(pilot, lambda: check_text(app).startswith("error"))
        await pilot.press("ctrl+s")
        app.screen.query_one("#save-path", Input).value = str(target)
        await pilot.press("enter")
        await pilot.pause(0.2)
        # The dialog stays, with the engine's words; nothing is written.
        assert isinstance(app.screen, SaveConfigScreen)
        error = str(app.screen.query_one("#save-error").render())
        assert error.startswith("not saved: ")
        assert "train.target.learning_rate" in error
        assert not target.exists()
        # A folder is no file to save to.
        app.screen.query_one("#save-path", Input).value = str(tmp_path)
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert "is a folder" in str(app.screen.query_one("#save-error").render())
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "LaunchScreen"


async def test_open_any_toml_file_by_path(tmp_path):
    other = tmp_path / "elsewhere" / "xnli-only.toml"
    other.parent.mkdir()
    other.write_text(
        'name = "xnli-only"\nmodel = "xlt-tiny"\nintermediate = ["demo-topic"]\n'
        'targets = ["demo-xqa"]\n'
    )
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        app.screen.query_one("#open-path", Input).value = str(other)
        app.screen.query_one("#open-path", Input).focus()
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: app.screen.query_one("#name", Input).value == "xnli-only"
        )
        assert app.screen.read_form().targets == ["demo-xqa"]
        assert title(app, "targets") == "target tasks (1 of 16 ticked)"
        assert app.screen.form.source == other


async def test_a_missing_or_broken_file_is_an_error_in_the_check_box(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "x"\ntargets = [\n')
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: check_text(app).startswith("ok"))
        path_input = app.screen.query_one("#open-path", Input)
        path_input.value = str(tmp_path / "nope.toml")
        await pilot.click("#open")
        await wait_until(pilot, lambda: "does not exist" in check_text(app))
        assert check_text(app).startswith("error:")
        assert "the form is unchanged" in check_text(app)
        path_input.value = str(broken)
        await pilot.click("#open")
        await wait_until(pilot, lambda: "not valid TOML" in check_text(app))
        assert app.screen.query_one("#name", Input).value == "demo"  # unchanged


def test_default_save_path_is_next_to_a_users_file(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    own = tmp_path / "exp" / "a.toml"
    own.parent.mkdir()
    own.write_text("")
    assert default_save_path(own, "my run/2", ws) == own.parent / "my-run-2.toml"
    # A sample config or a new form: the workspace's configs/ folder.
    assert default_save_path(DEMO_CONFIG, "demo", ws) == (
        ws.root / "configs" / "demo.toml"
    )
    assert default_save_path(Path("new-experiment.toml"), "", ws) == (
        ws.root / "configs" / "experiment.toml"
    )
