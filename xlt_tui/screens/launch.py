"""Launch: pick model, tasks, languages, seeds and the main hyperparameters,
or open a sample config or an earlier run's config and edit it; see the
engine's own validation and the plan's cost before launching.

The form is checked a moment after the last edit (debounced), in a worker
thread, twice over: at once by the engine's config parser and planner (same
words as the CLI), then by the engine's own dry run (`xlt-engine run --dry-run`
in a child process), which adds what would refuse a real start (code execution
not allowed, data to fetch by hand) and the estimated time. Launch waits for
that verdict, and asks first when the plan is estimated at an hour or more.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.timer import Timer
from textual.widgets import (
    Button,
    Checkbox,
    Footer,
    Header,
    Input,
    Label,
    Select,
    SelectionList,
    Static,
)
from textual.widgets.selection_list import Selection

from engine.config import DEVICES, PRECISIONS, SAMPLINGS
from engine.errors import InputError
from engine.tasks import REGISTRY
from engine.tasks.spec import TaskSpec
from xlt_tui.engine_client import DryRun, DryRunStopped
from xlt_tui.launch_form import (
    FORM_HPARAMS,
    STAGES,
    FormProblem,
    LaunchForm,
    config_choices,
    field_of,
    form_problems,
    recent_models,
)
from xlt_tui.screens.confirm import ConfirmScreen
from xlt_tui.screens.save_config import SaveConfigScreen, default_save_path
from xlt_tui.widgets.ordered_input import OrderedInput
from xlt_tui.widgets.task_picker import TaskPicker
from xlt_tui.widgets.tick_marks import TickCheckbox, TickSelectionList

# Edits closer together than this are one edit: checked once, after the last.
CHECK_DEBOUNCE_S = 0.3
# A plan estimated at this or more asks before it starts (issue 15: "a plan
# that costs hours" should not start on one key).
CONFIRM_LAUNCH_SECONDS = 3600.0


def duration_words(seconds: float) -> str:
    """3h05m, 12m, 40s: the estimate as the user reads it."""
    minutes = round(seconds / 60)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if minutes < 60:
        return f"{minutes}m"
    return f"{minutes // 60}h{minutes % 60:02d}m"


if TYPE_CHECKING:
    from textual import getters

    from xlt_tui.app import XltApp


class LaunchScreen(Screen):
    if TYPE_CHECKING:
        # `self.app` is an XltApp (textual's idiom), for the type checker only.
        app = getters.app(XltApp)

    DEFAULT_CSS = """
    LaunchScreen VerticalScroll { padding: 0 1; }
    LaunchScreen .row { height: auto; }
    LaunchScreen .field { width: 1fr; height: auto; }
    LaunchScreen Label { color: $text-muted; }
    /* At 80 columns a long label is cut with an ellipsis, never run into
       its neighbour's. */
    LaunchScreen .field > Label {
        width: 100%; text-wrap: nowrap; text-overflow: ellipsis;
    }
    LaunchScreen #open-path { width: 1fr; }
    LaunchScreen #open-select SelectCurrent Static {
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    LaunchScreen SelectionList { height: 8; width: 1fr; }
    LaunchScreen #languages { height: 6; }
    LaunchScreen #languages-head { height: 1; }
    LaunchScreen #languages-head Label { width: 1fr; }
    LaunchScreen #languages-head Button { margin-left: 1; min-width: 6; }
    LaunchScreen #open-select { width: 1fr; }
    LaunchScreen #flags { height: auto; }
    LaunchScreen #hparams { grid-size: 3; grid-columns: 18 1fr 1fr; height: auto; }
    LaunchScreen #hparams Input { height: 3; }
    LaunchScreen #hparams Label { padding: 1 0 0 0; }
    LaunchScreen #check-box {
        height: auto; max-height: 8; background: $boost;
    }
    LaunchScreen #check { height: auto; width: 1fr; padding: 0 1; }
    LaunchScreen #check.bad { color: $error; }
    LaunchScreen #check.good { color: $success; }
    LaunchScreen Checkbox { margin-top: 1; }
    /* A field the last check found a problem in: red, and a heavy border
       that shows without colour too (NO_COLOR). Not Input's own -invalid:
       Input clears that on every edit and on blur (its validators). */
    LaunchScreen Input.-check-error,
    LaunchScreen SelectionList.-check-error,
    LaunchScreen Checkbox.-check-error,
    LaunchScreen Select.-check-error > SelectCurrent {
        border: heavy $error 60%;
    }
    LaunchScreen Input.-check-error:focus,
    LaunchScreen SelectionList.-check-error:focus,
    LaunchScreen Checkbox.-check-error:focus,
    LaunchScreen Select.-check-error:focus > SelectCurrent {
        border: heavy $error;
    }
    """
    BINDINGS = [
        Binding("ctrl+l,f5", "launch", "Launch", priority=True),
        Binding("ctrl+o", "open_selected", "Open config"),
        Binding("ctrl+s", "save", "Save as"),
    ]

    def __init__(self, config_file: Path | None = None):
        super().__init__()
        self.initial_file = config_file
        self.form = LaunchForm.blank()
        self.custom_tasks: dict[str, TaskSpec] = {}
        self.valid = False
        self._loading = False
        self._check_generation = 0
        self._check_timer: Timer | None = None
        # The engine's dry-run verdict on the form of generation N.
        self._verdict: tuple[int, DryRun | None] = (-1, None)
        self._saved_raw: dict = {}  # the form as opened or last launched
        self._checked_raw: dict | None = None  # the form the last check read
        self._launch_when_checked = False
        # The languages of targets unticked in this form, so ticking one
        # again brings back what it had (not none).
        self._unticked_languages: dict[str, list[str]] = {}
        self._config_options: list[tuple[str, str]] = []  # the open list's

    # -- layout ---------------------------------------------------------------
    def compose(self) -> ComposeResult:
        runs = self.app.client.runs()
        choices = config_choices(self.app.client.workspace, runs)
        self._config_options = [(c.label, str(c.path)) for c in choices]
        yield Header()
        with VerticalScroll():
            with Horizontal(classes="row"):
                yield Select(
                    self._config_options,
                    # Short: at 80 columns a longer prompt wrapped onto 3 lines.
                    prompt="sample or run config",
                    id="open-select",
                )
                yield OrderedInput(
                    placeholder="or a TOML file's path (enter opens)", id="open-path"
                )
                yield Button("Open", id="open")
            with Horizontal(classes="row"):
                with Vertical(classes="field"):
                    yield Label("name")
                    yield OrderedInput(id="name")
                with Vertical(classes="field"):
                    yield Label("model (hub id, folder or xlt-tiny)")
                    yield OrderedInput(
                        id="model",
                        suggester=SuggestFromList(
                            recent_models(runs), case_sensitive=False
                        ),
                    )
            with Horizontal(classes="row"):
                yield TaskPicker(
                    "intermediate tasks",
                    "intermediate",
                    tooltip="The baseline (no intermediate task) runs as well "
                    "unless 'baseline' is unticked.",
                )
                yield TaskPicker("target tasks", "targets")
            with Horizontal(classes="row"):
                with Vertical(classes="field"):
                    yield Label("multi-task group")
                    yield OrderedInput(
                        id="group-tasks", placeholder="e.g. mnli, squad_v2"
                    )
                with Vertical(classes="field"):
                    yield Label("group name")
                    yield OrderedInput(id="group-name", placeholder="group")
                with Vertical(classes="field"):
                    yield Label("sampling")
                    yield Select(
                        [(m, m) for m in SAMPLINGS],
                        id="group-sampling",
                        allow_blank=False,
                    )
            with Horizontal(id="languages-head"):
                yield Label("languages evaluated per target (all by default)")
                yield Button("all", id="languages-all", compact=True)
                yield Button("none", id="languages-none", compact=True)
            yield TickSelectionList(id="languages")
            with Horizontal(classes="row"):
                with Vertical(classes="field"):
                    yield Label("seeds")
                    yield OrderedInput(id="seeds")
                with Vertical(classes="field"):
                    yield Label("device")
                    yield Select(
                        [(d, d) for d in DEVICES], id="device", allow_blank=False
                    )
                with Vertical(classes="field"):
                    yield Label("precision")
                    yield Select(
                        [(p, p) for p in PRECISIONS], id="precision", allow_blank=False
                    )
            # Own row: beside three fields they left the labels no room at 80
            # columns.
            with Horizontal(id="flags"):
                yield TickCheckbox("baseline", True, id="baseline")
                yield TickCheckbox(
                    "run generated code",
                    False,
                    id="allow-code-execution",
                    tooltip="Code targets are scored by running the programs the "
                    "model writes (sandboxed); off unless you allow it.",
                )
            with Grid(id="hparams"):
                yield Label("")
                yield Label("intermediate stage")
                yield Label("target stage")
                for key in FORM_HPARAMS:
                    yield Label(key)
                    for stage in STAGES:
                        yield OrderedInput(id=f"hp-{stage}-{key}")
            # Not in the focus chain: shift+tab from the top wrapped onto it and
            # enter launched. The keyboard launches with ctrl+l (or F5).
            launch = Button("Launch (ctrl+l)", id="launch", variant="success")
            launch.can_focus = False
            yield launch
        # Outside the form's scroll: always in view; long errors wrap and
        # scroll here, never cut.
        with VerticalScroll(id="check-box"):
            yield Static("", id="check")
        yield Footer(compact=True)  # Help and Quit fit at 80 columns

    def on_unmount(self) -> None:
        self.app.client.stop_dry_runs()  # the TUI ends: nobody waits for them

    def on_mount(self) -> None:
        form = self.form
        if self.initial_file is not None:
            try:
                form = LaunchForm.from_file(self.initial_file)
            except InputError as exc:
                self.notify(str(exc), severity="error", timeout=15)
        self.load_form(form)

    def on_screen_resume(self) -> None:
        """Back from another screen: runs may have started or ended since, so
        the earlier runs' configs and the plan (what is reused) are read
        again."""
        if not self.is_mounted or self._loading:
            return
        self._refresh_config_choices()
        if self._checked_raw is not None:
            self.check()

    def _refresh_config_choices(self) -> None:
        select = self.query_one("#open-select", Select)
        choices = config_choices(self.app.client.workspace, self.app.client.runs())
        options = [(c.label, str(c.path)) for c in choices]
        if options == self._config_options:
            return
        self._config_options = options
        value = select.value
        select.set_options(options)
        if value is not Select.NULL and any(v == value for _, v in options):
            select.value = value

    # -- form <-> widgets -------------------------------------------------------
    def _tasks(self) -> dict[str, TaskSpec]:
        return {**REGISTRY, **self.custom_tasks}

    def load_form(self, form: LaunchForm) -> None:
        self._loading = True
        self.form = form
        self._unticked_languages = {}
        if form.base:
            try:
                from engine.config import parse_config

                self.custom_tasks = dict(parse_config(form.base, form.source).tasks)
            except InputError:
                self.custom_tasks = {}
        self.query_one("#name", Input).value = form.name
        self.query_one("#model", Input).value = form.model
        self.query_one("#seeds", Input).value = form.seeds
        self.query_one("#device", Select).value = form.device
        self.query_one("#precision", Select).value = form.precision
        self.query_one("#baseline", Checkbox).value = form.baseline
        self.query_one(
            "#allow-code-execution", Checkbox
        ).value = form.allow_code_execution
        self.query_one("#group-tasks", Input).value = form.group_tasks
        self.query_one("#group-name", Input).value = form.group_name
        self.query_one("#group-sampling", Select).value = form.group_sampling
        for stage in STAGES:
            for key in FORM_HPARAMS:
                value = form.hparams.get(stage, {}).get(key, "")
                self.query_one(f"#hp-{stage}-{key}", Input).value = value
        tasks = self._tasks()
        groups = set(form.base.get("groups", {}))
        for list_id, role, chosen in (
            (
                "intermediate",
                "intermediate",
                [c for c in form.intermediate if c not in groups],
            ),
            ("targets", "target", form.targets),
        ):
            names = [n for n, t in tasks.items() if role in t.roles]
            names += [n for n in chosen if n not in names]  # unknown: engine says so
            # The registry's order, not ticked-first: tasks stay where the
            # researcher knows them (by family), the picker scrolls to the first
            # ticked one and its title counts them all.
            self.query_one(f"#{list_id}-picker", TaskPicker).set_tasks(names, chosen)
        self._fill_languages()
        self._loading = False
        self._saved_raw = copy.deepcopy(self.read_form().to_raw())
        self.app.unsaved_launch_edits = False  # the form is the file's again
        self.check()

    def _fill_languages(self) -> None:
        tasks = self._tasks()
        targets = self.query_one("#targets-picker", TaskPicker).ticked
        sl = self.query_one("#languages", SelectionList)
        sl.clear_options()
        options = []
        for target in targets:
            task = tasks.get(target)
            if task is None:
                continue
            chosen = self.form.languages.get(target, list(task.languages))
            options += [
                Selection(f"{target}: {lang}", (target, lang), lang in chosen)
                for lang in task.languages
            ]
        sl.add_options(options)

    def read_form(self) -> LaunchForm:
        f = self.form
        f.name = self.query_one("#name", Input).value.strip()
        f.model = self.query_one("#model", Input).value.strip()
        f.seeds = self.query_one("#seeds", Input).value
        f.device = str(self.query_one("#device", Select).value)
        f.precision = str(self.query_one("#precision", Select).value)
        f.baseline = self.query_one("#baseline", Checkbox).value
        f.allow_code_execution = self.query_one("#allow-code-execution", Checkbox).value
        f.group_tasks = self.query_one("#group-tasks", Input).value
        f.group_name = self.query_one("#group-name", Input).value
        f.group_sampling = str(self.query_one("#group-sampling", Select).value)
        # The pickers' ticks, those hidden by a filter included.
        f.intermediate = self.query_one("#intermediate-picker", TaskPicker).ticked
        f.targets = self.query_one("#targets-picker", TaskPicker).ticked
        f.languages = self._read_languages(f.targets, f.languages)
        f.hparams = {
            stage: {
                key: self.query_one(f"#hp-{stage}-{key}", Input).value
                for key in FORM_HPARAMS
            }
            for stage in STAGES
        }
        return f

    def _read_languages(
        self, targets: list[str], before: dict[str, list[str]]
    ) -> dict[str, list[str]]:
        """Each target's ticked languages. A target just ticked has no
        options in the list yet: it keeps what it had when it was unticked,
        else it is left out (all its languages, the engine's default)."""
        sl = self.query_one("#languages", SelectionList)
        shown = {sl.get_option_at_index(i).value[0] for i in range(sl.option_count)}
        langs: dict[str, list[str]] = {}
        for target in targets:
            if target in shown:
                langs[target] = []
            elif target in before:
                langs[target] = list(before[target])
            elif target in self._unticked_languages:
                langs[target] = self._unticked_languages.pop(target)
        for target, lang in sl.selected:
            if target in langs and target in shown:
                langs[target].append(lang)
        for target, chosen in before.items():
            if target not in targets:
                if target in shown:
                    # Its options are still listed (refilled after this read):
                    # their ticks are newer than `before` when a language was
                    # unticked just before the target, its event not yet read.
                    chosen = [lang for t, lang in sl.selected if t == target]
                self._unticked_languages[target] = list(chosen)
        return langs

    @on(Button.Pressed, "#languages-all")
    def _all_languages(self) -> None:
        self.query_one("#languages", SelectionList).select_all()

    @on(Button.Pressed, "#languages-none")
    def _no_languages(self) -> None:
        self.query_one("#languages", SelectionList).deselect_all()

    # -- live checking ----------------------------------------------------------
    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    @on(SelectionList.SelectedChanged)
    def _changed(self, event) -> None:
        if self._loading:
            return
        # Widgets report the load's own values a moment later: only a form
        # that differs from what was opened (or launched) is unsaved.
        self.app.unsaved_launch_edits = self.read_form().to_raw() != self._saved_raw
        if getattr(event, "selection_list", None) is not None and (
            event.selection_list.id == "targets"
        ):
            self.read_form()
            self._fill_languages()
        if self.read_form().to_raw() == self._checked_raw:
            return  # e.g. the load's own values: this form is checked already
        self._schedule_check()

    def _schedule_check(self) -> None:
        # Every edit outdates the verdict at once; the check itself waits for a
        # pause in the typing, so a burst of keys costs one check, not one each.
        self._check_generation += 1
        self.valid = False
        # The last verdict was about the form before this edit: say so at once
        # rather than show its plan as this form's.
        self._show_check(False, "checking the edited form ...", state="pending")
        if self._check_timer is not None:
            self._check_timer.stop()
        self._check_timer = self.set_timer(CHECK_DEBOUNCE_S, self.check)

    def check(self) -> None:
        # A thread worker cannot be stopped mid-way: a newer check outdates it.
        self._check_timer = None
        self._check_generation += 1
        self.valid = False
        self.app.client.stop_dry_runs()  # an older form's: outdated
        raw = self.read_form().to_raw()
        self._checked_raw = copy.deepcopy(raw)
        self._check_worker(raw, self.form.source, self._check_generation)

    @work(thread=True, exclusive=True, exit_on_error=False, group="check")
    def _check_worker(self, raw: dict, source: Path, generation: int) -> None:
        from engine.pipeline import make_plan

        client = self.app.client
        try:
            config = client.validate(raw, source)
            s = make_plan(config, client.workspace).summary()
        except InputError as exc:
            self.app.call_from_thread(
                self._show_check, False, "", generation, "", form_problems(exc, source)
            )
            return
        text = plan_text(s)
        self.app.call_from_thread(
            self._show_check,
            False,
            f"{text}; checking what a real start would refuse ...",
            generation,
            "pending",
            [],  # the engine read every field: none is marked any more
        )
        try:
            dry = client.dry_run(raw, source)
        except DryRunStopped:
            return  # a newer check is on its way
        except InputError as exc:
            self.app.call_from_thread(
                self._show_check, False, "", generation, "", form_problems(exc, source)
            )
            return
        self.app.call_from_thread(self._show_verdict, dry, generation)

    def _show_verdict(self, dry: DryRun, generation: int) -> None:
        if generation != self._check_generation:
            return
        self._verdict = (generation, dry)
        if dry.refusals:
            # What a real start refuses is about the whole config, not a field.
            refusals = [FormProblem((), r) for r in dry.refusals]
            self._show_check(False, "", generation, problems=refusals)
        else:
            text = plan_text(dry.summary)
            if dry.total_seconds is not None:
                text += f"; estimated {duration_words(dry.total_seconds)}"
            self._show_check(True, text, generation)
        if self._launch_when_checked:
            self._launch_when_checked = False
            self.action_launch()

    def _show_check(
        self,
        ok: bool,
        text: str,
        generation: int | None = None,
        state: str = "",
        problems: list[FormProblem] | None = None,
    ) -> None:
        """The verdict in #check. `problems` (a failed check's, every one)
        are listed one a line and mark the fields they name, the others lose
        their marks (none: all do); a passing check clears the marks; a
        pending one without problems leaves them until its verdict."""
        if generation is not None and generation != self._check_generation:
            return  # an older form's verdict
        self.valid = ok
        if not ok and state != "pending":
            self._launch_when_checked = False
        check = self.query_one("#check", Static)
        pending = state == "pending"
        if problems:
            text = "\n".join(f"error: {p.message}" for p in problems)
        elif not ok and not pending:
            text = f"error: {text}"
        check.update(escape(text))
        check.set_class(not ok and not pending, "bad")
        check.set_class(ok, "good")
        if ok or problems is not None:
            form = self.read_form()
            marked = {field_of(p.loc, form) for p in problems or ()}
            for widget in self.query(".-check-error"):
                if widget.id not in marked:
                    widget.remove_class("-check-error")
            for field in marked - {None}:
                self.query_one(f"#{field}").add_class("-check-error")

    # -- actions ----------------------------------------------------------------
    @on(Button.Pressed, "#open")
    def action_open_selected(self) -> None:
        """Open the typed path if there is one, else the list's choice."""
        typed = self.query_one("#open-path", Input).value.strip()
        if typed:
            self.open_file(Path(typed).expanduser())
            return
        value = self.query_one("#open-select", Select).value
        if value is Select.NULL:
            self.notify(
                "choose a config to open, or type a TOML file's path",
                severity="warning",
            )
            return
        self.open_file(Path(str(value)))

    @on(Input.Submitted, "#open-path")
    def _open_typed_path(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_open_selected()

    def open_file(self, path: Path) -> None:
        """Open any TOML experiment file. A missing file, bad TOML or an
        invalid config leaves the form as it was and says why (the engine's
        words) in the check box."""
        from engine.config import load_config

        try:
            load_config(path)  # names a missing file, a folder, bad TOML
            form = LaunchForm.from_file(path)
        except InputError as exc:
            self._show_check(False, f"{exc} (not opened; the form is unchanged)")
            self.notify(str(exc), severity="error", timeout=15)
            return
        self.load_form(form)
        self.notify(f"opened {path}")

    def action_save(self) -> None:
        """ctrl+s: save the form as a TOML file (the dialog asks where, and
        again before replacing a file)."""
        form = self.read_form()
        default = default_save_path(form.source, form.name, self.app.client.workspace)

        def saved(path: Path | None) -> None:
            if path is None:
                return
            # Read back as any opened file: the form is the file's from now on
            # (its folder is where relative data paths are read from).
            try:
                self.load_form(LaunchForm.from_file(path))
            except InputError as exc:  # checked before writing: not expected
                self.notify(str(exc), severity="error", timeout=15)
                return
            self.notify(f"saved {path}")

        self.app.push_screen(SaveConfigScreen(default, form.to_raw()), saved)

    @on(Button.Pressed, "#launch")
    def action_launch(self) -> None:
        generation, dry = self._verdict
        if generation != self._check_generation or dry is None:
            if self.query_one("#check", Static).has_class("bad"):
                self.notify("the form has errors (see below)", severity="error")
                return
            # The engine's verdict on this form is not in yet: launch when it is.
            self._launch_when_checked = True
            if self._check_timer is not None:  # still waiting out the typing
                self._check_timer.stop()
                self._check_timer = None
                self.check()
            self.notify("checking the config first; it launches when the check passes")
            return
        if dry.refusals:
            self.notify(dry.refusals[0], severity="error", timeout=15)
            return
        if (
            dry.total_seconds is not None
            and dry.total_seconds >= CONFIRM_LAUNCH_SECONDS
        ):

            def answered(yes: bool | None) -> None:
                if yes:
                    self._start_engine()

            self.app.push_screen(
                ConfirmScreen(
                    f"This plan is estimated at [b]"
                    f"{duration_words(dry.total_seconds)}[/b] "
                    f"({dry.summary.get('trainings', '?')} trainings). Launch it?",
                    yes_label="Yes, launch",
                ),
                answered,
            )
            return
        self._start_engine()

    def _start_engine(self) -> None:
        form = self.read_form()
        try:
            launched = self.app.client.launch(form.to_raw(), form.source)
        except InputError as exc:
            self._show_check(False, str(exc))
            self.notify(str(exc), severity="error", timeout=15)
            return
        self._saved_raw = copy.deepcopy(form.to_raw())
        self.app.unsaved_launch_edits = False  # they are the run's config now
        self.notify(f"launched {launched.run_id} (pid {launched.pid})")
        self.app.open_monitor(launched.run_id)


def plan_text(s: dict) -> str:
    """The plan's summary in one line."""
    return (
        f"ok: {s['stages']} stages, {s['trainings']} trainings to run "
        f"({s['intermediate_trainings']} intermediate, {s['target_trainings']} "
        f"target), {s['reused_checkpoints'] + s['reused_target_results']} "
        f"reused, {s['evaluations']} zero-shot evaluations"
    )
