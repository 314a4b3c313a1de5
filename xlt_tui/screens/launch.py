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
    LaunchForm,
    config_choices,
    recent_models,
)
from xlt_tui.screens.confirm import ConfirmScreen
from xlt_tui.widgets.ordered_input import OrderedInput

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
    LaunchScreen SelectionList { height: 8; width: 1fr; }
    LaunchScreen #languages { height: 6; }
    LaunchScreen #languages-head { height: 1; }
    LaunchScreen #languages-head Label { width: 1fr; }
    LaunchScreen #languages-head Button { margin-left: 1; min-width: 6; }
    LaunchScreen #open-select { width: 1fr; }
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
    """
    BINDINGS = [
        Binding("ctrl+l,f5", "launch", "Launch", priority=True),
        Binding("ctrl+o", "open_selected", "Open config"),
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
                    prompt="open a sample config or an earlier run's config",
                    id="open-select",
                )
                yield Button("Open", id="open")
            with Horizontal(classes="row"):
                with Vertical(classes="field"):
                    yield Label("name")
                    yield OrderedInput(id="name")
                with Vertical(classes="field"):
                    yield Label("model (hub id, local folder or xlt-tiny)")
                    yield OrderedInput(
                        id="model",
                        suggester=SuggestFromList(
                            recent_models(runs), case_sensitive=False
                        ),
                    )
            with Horizontal(classes="row"):
                with Vertical(classes="field"):
                    yield Label("intermediate tasks (baseline always runs)")
                    yield SelectionList(id="intermediate")
                with Vertical(classes="field"):
                    yield Label("target tasks")
                    yield SelectionList(id="targets")
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
            yield SelectionList(id="languages")
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
                yield Checkbox("baseline", True, id="baseline")
                yield Checkbox(
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
        yield Footer()

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
            sl = self.query_one(f"#{list_id}", SelectionList)
            sl.clear_options()
            names = [n for n, t in tasks.items() if role in t.roles]
            names += [n for n in chosen if n not in names]  # unknown: engine says so
            sl.add_options([Selection(n, n, n in chosen) for n in names])
        self._fill_languages()
        self._loading = False
        self._saved_raw = copy.deepcopy(self.read_form().to_raw())
        self.app.unsaved_launch_edits = False  # the form is the file's again
        self.check()

    def _fill_languages(self) -> None:
        tasks = self._tasks()
        targets = self.query_one("#targets", SelectionList).selected
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
        f.intermediate = list(self.query_one("#intermediate", SelectionList).selected)
        f.targets = list(self.query_one("#targets", SelectionList).selected)
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
            self.app.call_from_thread(self._show_check, False, str(exc), generation)
            return
        text = plan_text(s)
        self.app.call_from_thread(
            self._show_check,
            False,
            f"{text}; checking what a real start would refuse ...",
            generation,
            "pending",
        )
        try:
            dry = client.dry_run(raw, source)
        except DryRunStopped:
            return  # a newer check is on its way
        except InputError as exc:
            self.app.call_from_thread(self._show_check, False, str(exc), generation)
            return
        self.app.call_from_thread(self._show_verdict, dry, generation)

    def _show_verdict(self, dry: DryRun, generation: int) -> None:
        if generation != self._check_generation:
            return
        self._verdict = (generation, dry)
        if dry.refusals:
            self._show_check(False, "\n".join(dry.refusals), generation)
        else:
            text = plan_text(dry.summary)
            if dry.total_seconds is not None:
                text += f"; estimated {duration_words(dry.total_seconds)}"
            self._show_check(True, text, generation)
        if self._launch_when_checked:
            self._launch_when_checked = False
            self.action_launch()

    def _show_check(
        self, ok: bool, text: str, generation: int | None = None, state: str = ""
    ) -> None:
        if generation is not None and generation != self._check_generation:
            return  # an older form's verdict
        self.valid = ok
        if not ok and state != "pending":
            self._launch_when_checked = False
        check = self.query_one("#check", Static)
        pending = state == "pending"
        check.update(escape(text if ok or pending else f"error: {text}"))
        check.set_class(not ok and not pending, "bad")
        check.set_class(ok, "good")

    # -- actions ----------------------------------------------------------------
    @on(Button.Pressed, "#open")
    def action_open_selected(self) -> None:
        value = self.query_one("#open-select", Select).value
        if value is Select.NULL:
            self.notify("choose a config to open first", severity="warning")
            return
        try:
            self.load_form(LaunchForm.from_file(Path(str(value))))
        except InputError as exc:
            self.notify(str(exc), severity="error", timeout=15)
            return
        self.notify(f"opened {value}")

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
