"""Launch: pick model, tasks, languages, seeds and the main hyperparameters,
or open a sample config or an earlier run's config and edit it; see the
engine's own validation and the plan's cost before launching.

The form is checked by the engine's config parser (same words as the CLI) and
planned by its planner in a worker thread, a moment after each edit.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.suggester import SuggestFromList
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
from xlt_tui.launch_form import (
    FORM_HPARAMS,
    STAGES,
    LaunchForm,
    config_choices,
    recent_models,
)

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
    LaunchScreen #open-select { width: 1fr; }
    LaunchScreen #hparams { grid-size: 3; grid-columns: 18 1fr 1fr; height: auto; }
    LaunchScreen #hparams Input { height: 3; }
    LaunchScreen #hparams Label { padding: 1 0 0 0; }
    LaunchScreen #check {
        height: auto; max-height: 4; padding: 0 1; background: $boost;
    }
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

    # -- layout ---------------------------------------------------------------
    def compose(self) -> ComposeResult:
        runs = self.app.client.runs()
        choices = config_choices(self.app.client.workspace, runs)
        yield Header()
        with VerticalScroll():
            with Horizontal(classes="row"):
                yield Select(
                    [(c.label, str(c.path)) for c in choices],
                    prompt="open a sample config or an earlier run's config",
                    id="open-select",
                )
                yield Button("Open", id="open")
            with Horizontal(classes="row"):
                with Vertical(classes="field"):
                    yield Label("name")
                    yield Input(id="name")
                with Vertical(classes="field"):
                    yield Label("model (hub id, local folder or xlt-tiny)")
                    yield Input(
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
                    yield Input(id="group-tasks", placeholder="e.g. mnli, squad_v2")
                with Vertical(classes="field"):
                    yield Label("group name")
                    yield Input(id="group-name", placeholder="group")
                with Vertical(classes="field"):
                    yield Label("sampling")
                    yield Select(
                        [(m, m) for m in SAMPLINGS],
                        id="group-sampling",
                        allow_blank=False,
                    )
            yield Label("languages evaluated per target (all by default)")
            yield SelectionList(id="languages")
            with Horizontal(classes="row"):
                with Vertical(classes="field"):
                    yield Label("seeds")
                    yield Input(id="seeds")
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
                        yield Input(id=f"hp-{stage}-{key}")
            yield Button("Launch (ctrl+l)", id="launch", variant="success")
        yield Static("", id="check")  # outside the scroll: always in view
        yield Footer()

    def on_mount(self) -> None:
        form = self.form
        if self.initial_file is not None:
            try:
                form = LaunchForm.from_file(self.initial_file)
            except InputError as exc:
                self.notify(str(exc), severity="error", timeout=15)
        self.load_form(form)

    # -- form <-> widgets -------------------------------------------------------
    def _tasks(self) -> dict[str, TaskSpec]:
        return {**REGISTRY, **self.custom_tasks}

    def load_form(self, form: LaunchForm) -> None:
        self._loading = True
        self.form = form
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
        langs: dict[str, list[str]] = {t: [] for t in f.targets}
        for target, lang in self.query_one("#languages", SelectionList).selected:
            langs.setdefault(target, []).append(lang)
        f.languages = langs
        f.hparams = {
            stage: {
                key: self.query_one(f"#hp-{stage}-{key}", Input).value
                for key in FORM_HPARAMS
            }
            for stage in STAGES
        }
        return f

    # -- live checking ----------------------------------------------------------
    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    @on(SelectionList.SelectedChanged)
    def _changed(self, event) -> None:
        if self._loading:
            return
        if getattr(event, "selection_list", None) is not None and (
            event.selection_list.id == "targets"
        ):
            self.read_form()
            self._fill_languages()
        self.check()

    def check(self) -> None:
        # A thread worker cannot be stopped mid-way: a newer check outdates it.
        self._check_generation += 1
        self._check_worker(
            self.read_form().to_raw(), self.form.source, self._check_generation
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="check")
    def _check_worker(self, raw: dict, source: Path, generation: int) -> None:
        from engine.pipeline import make_plan

        try:
            config = self.app.client.validate(raw, source)
            s = make_plan(config, self.app.client.workspace).summary()
        except InputError as exc:
            self.app.call_from_thread(self._show_check, False, str(exc), generation)
            return
        text = (
            f"ok: {s['stages']} stages, {s['trainings']} trainings to run "
            f"({s['intermediate_trainings']} intermediate, {s['target_trainings']} "
            f"target), {s['reused_checkpoints'] + s['reused_target_results']} "
            f"reused, {s['evaluations']} zero-shot evaluations"
        )
        self.app.call_from_thread(self._show_check, True, text, generation)

    def _show_check(self, ok: bool, text: str, generation: int | None = None) -> None:
        if generation is not None and generation != self._check_generation:
            return  # an older form's verdict
        self.valid = ok
        check = self.query_one("#check", Static)
        check.update(escape(text if ok else f"error: {text}"))
        check.set_class(not ok, "bad")
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
        form = self.read_form()
        try:
            launched = self.app.client.launch(form.to_raw(), form.source)
        except InputError as exc:
            self._show_check(False, str(exc))
            self.notify(str(exc), severity="error", timeout=15)
            return
        self.notify(f"launched {launched.run_id} (pid {launched.pid})")
        self.app.open_monitor(launched.run_id)
