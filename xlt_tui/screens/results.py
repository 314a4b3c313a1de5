"""Results: per-language heatmaps of a run's zero-shot scores, per target task.

Rows are the intermediate choices (baseline first), columns the target's
languages and their average. `d` switches between scores and changes against
the baseline, `s` sorts the rows by the cursor's column (again: reversed),
`v` switches between the validation and test splits (also the bar's split
selector; every view is of one split, named in the status line),
`f` picks the languages shown, `i` sets the significance options
(resamples, bootstrap seed, correction: screens/significance_dialog.py, as
`xlt-engine results --ci`; kept for the session), `o` shows the run's
overview (average per target task), `x` the run's XTREME table (task scores,
group scores, overall; as `xlt-engine results --xtreme`), `e` exports the
view, `p` switches to the colour-blind-safe palette and back, `c` compares
two runs or choices (screens/compare.py).

Significance (engine.significance): once a target's heatmap is shown, a worker
thread bootstraps its changes against the baseline (about a second per table
at 1,000 resamples), meanwhile the legend says "computing intervals…"; the
result is cached per (run, target, split, languages shown, results, settings).
Cells then carry plain-character marks that survive NO_COLOR: * a significant
change, ! a collapsed model, ? no per-example predictions; the legend says
which correction and how many resamples, and the detail panel shows the
interval, p, adjusted p, paired examples and the reference levels. The panel below the
heatmap details the cell under the cursor: each seed's value, mean, std,
examples, run, the not-comparable reason of a marked cell, and the run's
provenance (in the XTREME table: what the cell averages).

Results are read through a ResultsIndex refreshed in a worker thread every
`app.poll_seconds`, so a running engine's results appear as they land.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, Label, SelectionList, Static
from textual.widgets import Select as SelectWidget

from engine.control import LIVE_STATUSES
from engine.report import splits_in
from engine.significance import SignificanceSettings
from xlt_tui.provenance_text import provenance_lines
from xlt_tui.results_index import ResultsIndex
from xlt_tui.results_view import (
    AVG,
    COLOUR_BLIND,
    DEFAULT_PALETTE,
    DELTA,
    SCORE,
    Grid,
    ResultsView,
    ViewState,
    XtremeView,
    build_overview,
    build_view,
    build_xtreme,
    language_order,
    no_xtreme_message,
    significance_lines,
    with_significance,
)
from xlt_tui.screens.significance_dialog import settings_summary
from xlt_tui.widgets.heatmap import Heatmap, HeatmapLegend
from xlt_tui.widgets.tick_marks import TickSelectionList

if TYPE_CHECKING:
    from textual import getters

    from xlt_tui.app import XltApp

EMPTY_MESSAGE = "no results yet: launch an experiment (2)"
# What the body shows: one target's heatmap, the overview, the XTREME table.
HEATMAP, OVERVIEW, XTREME_TABLE = "heatmap", "overview", "xtreme"
_UNSET: Any = object()


class ResultsRefreshed(Message):
    """The index read what was new (from the worker thread)."""

    def __init__(self, changed: bool, runs: list[dict[str, Any]] | None) -> None:
        super().__init__()
        self.changed = changed
        self.runs = runs


class SignificanceComputed(Message):
    """A target's significance is ready, or failed (from the worker thread)."""

    def __init__(self, key: Any, result: Any, error: str | None) -> None:
        super().__init__()
        self.key = key
        self.result = result  # a TargetSignificance, or None on error
        self.error = error


COMPUTING = "computing intervals…"


class LanguageFilter(ModalScreen[list[str] | None]):
    """Tick the languages to show; dismisses with them, or None to cancel."""

    DEFAULT_CSS = """
    LanguageFilter {
        align: center middle;
    }
    LanguageFilter > Vertical {
        width: 50;
        height: auto;
        max-height: 90%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    LanguageFilter SelectionList {
        height: auto;
        max-height: 16;
        border: none;
    }
    LanguageFilter .hint {
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("enter", "apply", "Apply", priority=True),
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("a", "all", "All"),
        Binding("n", "none", "None"),
    ]

    def __init__(self, languages: list[str], shown: list[str], target: str):
        super().__init__()
        self.languages = languages
        self.shown = set(shown)
        self.target = target

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Languages of {self.target}")
            # Ticks readable without colour (NO_COLOR), as in Launch.
            yield TickSelectionList(
                *((lg, lg, lg in self.shown) for lg in self.languages)
            )
            yield Label(
                "space: toggle · a/n: all/none · enter: apply · esc",
                classes="hint",
            )

    def action_all(self) -> None:
        self.query_one(SelectionList).select_all()

    def action_none(self) -> None:
        self.query_one(SelectionList).deselect_all()

    def action_apply(self) -> None:
        chosen = list(self.query_one(SelectionList).selected)
        if not chosen:
            self.notify("pick at least one language", severity="warning")
            return
        self.dismiss([lg for lg in self.languages if lg in chosen])


class ResultsScreen(Screen):
    if TYPE_CHECKING:
        # `self.app` is an XltApp (textual's idiom), for the type checker only.
        app = getters.app(XltApp)

    DEFAULT_CSS = """
    ResultsScreen #results-bar {
        height: 1;
        margin: 0 1;
    }
    ResultsScreen #results-bar Label {
        padding: 0 1 0 0;
        color: $text-muted;
    }
    ResultsScreen #results-bar Select {
        width: 1fr;
        margin: 0 1 0 0;
    }
    /* A run id (date-time-name-hash) is 25 characters: it must show whole at
       80 columns, so the run selector takes that first and the target the
       rest; "validation" is the longest split name. */
    ResultsScreen #results-run {
        width: 1fr;
        min-width: 30;
    }
    ResultsScreen #results-target {
        width: 1fr;
    }
    ResultsScreen #results-split {
        width: 14;
        margin: 0;
    }
    ResultsScreen #results-status {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    ResultsScreen #results-message {
        padding: 1 2;
        height: auto;
    }
    ResultsScreen #results-body {
        height: 1fr;
    }
    ResultsScreen Heatmap {
        height: 1fr;
        margin: 0 1;
    }
    ResultsScreen #results-detail {
        height: auto;
        min-height: 5;
        border-top: hkey $primary-darken-1;
        padding: 0 1;
    }
    """

    BINDINGS = [
        # show=False: listed by Help (?), kept off the footer so Help and Quit
        # fit at 80 columns.
        Binding("d", "toggle_mode", "Score/Δ"),
        Binding("v", "toggle_split", "Val/Test", show=False),
        Binding("s", "sort", "Sort"),
        Binding("f", "filter_languages", "Languages", show=False),
        Binding("i", "significance_settings", "Intervals", show=False),
        Binding("o", "toggle_overview", "Overview", show=False),
        Binding("x", "toggle_xtreme", "XTREME", show=False),
        Binding("e", "export", "Export"),
        Binding("p", "toggle_palette", "Palette", show=False),
        Binding("c", "compare", "Compare"),
    ]
    # 1,000 resamples: Koehn 2004 section 4 and sacrebleu's --paired-bs default;
    # Holm over the table (engine.significance.SignificanceSettings says why).
    significance_settings = SignificanceSettings()
    AUTO_FOCUS = "#results-heatmap"

    def __init__(self) -> None:
        super().__init__()
        self.state = ViewState()
        self.view: ResultsView | None = None
        self.overview: Grid | None = None
        self.xtreme: XtremeView | None = None
        self.page = HEATMAP
        self.index: ResultsIndex | None = None
        self._skipped_told = 0  # damaged results.jsonl lines already reported
        self.loaded = False
        self._runs: list[dict[str, Any]] = []
        self._wanted_run: str | None = _UNSET  # from show_run, not applied yet
        self._pinned_run: str | None = None  # asked for by id: kept while unknown
        self._refreshing = False
        self._shown_key: Any = None
        self._run_options: list[tuple[str, str]] = []
        self._target_options: list[tuple[str, str]] = []
        self._split_options: list[tuple[str, str]] = []
        self.splits: list[str] = []  # the splits the shown records have
        self.palette = DEFAULT_PALETTE
        # (run, target, split, languages, results stamp, settings) -> the
        # TargetSignificance, or the error text of a failed computation
        self._significance: dict[Any, Any] = {}
        self._computing: set[Any] = set()

    # -- layout -------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="results-bar"):
            yield Label("run")
            yield SelectWidget[str]([], id="results-run", prompt="run", compact=True)
            yield Label("target")
            yield SelectWidget[str](
                [], id="results-target", prompt="target", compact=True
            )
            yield Label("split")
            yield SelectWidget[str](
                [], id="results-split", prompt="split", compact=True
            )
        yield Static("", id="results-status")
        with Vertical(id="results-body"):
            yield Static("loading results…", id="results-message")
            yield Heatmap(id="results-heatmap")
            yield Heatmap(id="results-overview")
            yield Heatmap(id="results-xtreme")
        yield HeatmapLegend(id="results-legend")
        yield Static("", id="results-detail")
        yield Footer(compact=True)  # Help and Quit fit at 80 columns

    def on_mount(self) -> None:
        self.index = ResultsIndex.for_store(self.app.client.store)
        self.query_one("#results-overview").display = False
        self.query_one("#results-xtreme").display = False
        self.query_one("#results-heatmap").display = False
        self.refresh_results()
        self.set_interval(self.app.poll_seconds, self.refresh_results)

    def on_screen_resume(self) -> None:
        # Back from another mode: catch up now rather than at the next tick.
        self.refresh_results()

    @property
    def _index(self) -> ResultsIndex:
        # Made on mount; everything that reads it runs after that.
        if self.index is None:
            raise RuntimeError("the results screen is not mounted yet")
        return self.index

    # -- the app's entry point ----------------------------------------------
    def show_run(self, run_id: str | None) -> None:
        """Show `run_id` (None: the latest run with results)."""
        self._wanted_run = run_id
        self.page = HEATMAP
        if self.loaded:
            self._sync()
        if self.index is not None:
            self.refresh_results()

    # -- reading, off the UI thread -----------------------------------------
    def refresh_results(self) -> None:
        if self.index is None or self._refreshing or not self.is_current:
            return
        self._refreshing = True
        self._refresh_worker()

    @work(thread=True, group="results-refresh", exit_on_error=False)
    def _refresh_worker(self) -> None:
        try:
            changed = self._index.refresh()
            runs = self.app.client.store.runs()
        except Exception as exc:  # a store being rewritten, a bad file: say so
            self.app.call_from_thread(
                self.notify, f"results: {exc}", severity="error", timeout=6
            )
            self.post_message(ResultsRefreshed(False, None))
            return
        skipped = self._index.skipped
        if len(skipped) > self._skipped_told:
            # Damaged lines of results.jsonl: said once each, never a silent gap.
            lines = ", ".join(str(n) for n, _ in skipped[self._skipped_told :][:5])
            first_reason = skipped[self._skipped_told][1]
            self._skipped_told = len(skipped)
            self.app.call_from_thread(
                self.notify,
                f"results.jsonl: skipped damaged line(s) {lines} ({first_reason})",
                severity="warning",
                timeout=10,
            )
        self.post_message(ResultsRefreshed(changed, runs))

    def on_results_refreshed(self, message: ResultsRefreshed) -> None:
        self._refreshing = False
        first = not self.loaded
        self.loaded = True
        runs_changed = message.runs is not None and message.runs != self._runs
        if message.runs is not None:
            self._runs = message.runs
        if first or message.changed or runs_changed:
            self._sync()

    # -- state -> screen ----------------------------------------------------
    def _latest_run(self) -> str | None:
        with_results = set(self._index.run_ids())
        for run in reversed(self._runs):
            if run["id"] in with_results:
                return run["id"]
        ids = self._index.run_ids()
        return ids[-1] if ids else None

    def _run_record(self, run_id: str | None) -> dict[str, Any] | None:
        return next((r for r in self._runs if r["id"] == run_id), None)

    def _sync(self, force: bool = False) -> None:
        """Reconcile the state with the index, then redraw what changed."""
        index = self._index
        run_id = self.state.run_id
        if self._wanted_run is not _UNSET:
            run_id = self._pinned_run = self._wanted_run
            self._wanted_run = _UNSET
        known = {r["id"] for r in self._runs} | set(index.run_ids())
        if run_id in known:
            self._pinned_run = None  # seen: if it goes away now, it was deleted
        elif run_id is None or run_id != self._pinned_run:
            run_id = self._latest_run()  # none chosen, or the chosen one deleted
        targets = index.targets(run_id) if run_id else []
        target = self.state.target if self.state.target in targets else None
        if target is None and targets:
            target = targets[0]
        self.state = replace(self.state, run_id=run_id, target=target)
        self._update_selectors(run_id, targets)

        key = (
            self.state,
            self.page,
            (self._run_record(run_id) or {}).get("status"),
            index.stamp(run_id, target if self.page == HEATMAP else None)
            if run_id
            else None,
        )
        if key == self._shown_key and not force:
            return
        self._shown_key = key
        self._redraw()

    def _update_selectors(self, run_id: str | None, targets: list[str]) -> None:
        with_results = set(self._index.run_ids())
        runs = [
            r
            for r in self._runs
            if r["id"] in with_results
            or r.get("status") in LIVE_STATUSES
            or r["id"] == run_id
        ]
        options = [(_run_label(r), r["id"]) for r in runs]
        listed = {r["id"] for r in runs}
        # Results whose run record is gone (or not written yet) still show.
        options += [(rid, rid) for rid in self._index.run_ids() if rid not in listed]
        if run_id is not None and run_id not in listed | set(self._index.run_ids()):
            options.append((run_id, run_id))
        options.reverse()  # newest first
        run_select = self.query_one("#results-run", SelectWidget)
        target_select = self.query_one("#results-target", SelectWidget)
        with self.prevent(SelectWidget.Changed):
            if options != self._run_options:
                self._run_options = options
                run_select.set_options(options)
            if run_id is not None and run_select.value != run_id:
                run_select.value = run_id
            target_options = [(t, t) for t in targets]
            if target_options != self._target_options:
                self._target_options = target_options
                target_select.set_options(target_options)
            if (
                self.state.target is not None
                and target_select.value != self.state.target
            ):
                target_select.value = self.state.target

    def _redraw(self) -> None:
        message = self.query_one("#results-message", Static)
        heatmap = self.query_one("#results-heatmap", Heatmap)
        overview = self.query_one("#results-overview", Heatmap)
        xtreme_table = self.query_one("#results-xtreme", Heatmap)
        legend = self.query_one("#results-legend", HeatmapLegend)
        run_id, target = self.state.run_id, self.state.target
        self.view = self.overview = self.xtreme = None
        text = ""
        if run_id is None:
            text = EMPTY_MESSAGE
        elif target is None:
            run = self._run_record(run_id)
            status = run.get("status") if run else None
            text = f"run {run_id} has no results yet"
            if status in LIVE_STATUSES:
                text += ": they appear here as its target stages finish"
            elif status:
                text += f" (status: {status})"
        elif self.page == OVERVIEW:
            run = self._run_record(run_id)
            records = self._index.records(run_id)
            self.splits = splits_in(records)
            self.overview = build_overview(
                records,
                self.state.mode,
                lambda t: language_order(t, run),
                self.state.split,
            )
        elif self.page == XTREME_TABLE:
            text = self._build_xtreme(run_id)
        else:
            records = self._index.records(run_id, target)
            self.splits = splits_in(records)
            self.view = build_view(
                records,
                self.state,
                language_order(target, self._run_record(run_id)),
            )
            if self.state.mode == DELTA and not self.view.has_baseline:
                text = f"run {run_id} has no baseline for {target}: no changes to show"
        self._dress_grids()
        message.update(text)
        shown = self.view or self.overview or self.xtreme
        message.display = bool(text) and shown is None
        heatmap.display = self.view is not None
        overview.display = self.overview is not None
        xtreme_table.display = self.xtreme is not None
        if self.view is not None:
            heatmap.show(self.view, self.view.sort_column, self.view.descending)
            legend.show(self.view, text or self._legend_note())
        elif self.overview is not None:
            overview.show(self.overview)
            legend.show(self.overview, "enter: open that target's heatmap")
        elif self.xtreme is not None:
            xtreme_table.show(self.xtreme)
            legend.show(self.xtreme, text or self.xtreme.caption)
        else:
            legend.show(None)
        shown = self.view or self.overview or self.xtreme
        self._update_split_selector(shown.split if shown else None)
        self._update_status()
        self._update_detail()

    def _update_split_selector(self, split: str | None) -> None:
        select = self.query_one("#results-split", SelectWidget)
        options = [(s, s) for s in self.splits]
        with self.prevent(SelectWidget.Changed):
            if options != self._split_options:
                self._split_options = options
                select.set_options(options)
            if split in self.splits and select.value != split:
                select.value = split

    def _build_xtreme(self, run_id: str) -> str:
        """Build self.xtreme; returns what to say instead, or beside it."""
        run = self._run_record(run_id)
        records = self._index.records(run_id)
        self.splits = splits_in(records)
        try:
            table = build_xtreme(
                records,
                self.state.mode,
                lambda t: language_order(t, run),
                run_id,
                self.state.split,
            )
        except ValueError as exc:  # a QA result without exact_match, say
            return f"run {run_id}: no XTREME table: {exc}"
        if not table.rows:
            targets = self._index.targets(run_id)
            return f"{no_xtreme_message(run_id, targets)} (x: back to the heatmap)"
        self.xtreme = table
        if self.state.mode == DELTA and not table.has_baseline:
            return f"run {run_id} has no baseline: no changes to show"
        return ""

    def _legend_note(self) -> str:
        view = self.view
        if view is None or view.empty:
            return ""
        notes = []
        if view.filtered:
            notes.append(f"avg: the {len(view.shown_languages)} shown")
        found = self._significance.get(self._significance_key(view))
        if isinstance(found, str):
            notes.append(f"no intervals: {found}")
        elif found is None and view.has_baseline:
            notes.append(self._computing_note())
        return "  ".join(notes)

    def _computing_note(self) -> str:
        """'computing intervals… (1000 resamples, Holm, seed 0)'."""
        return f"{COMPUTING} ({settings_summary(self.significance_settings)})"

    # -- colours and significance -------------------------------------------
    def _dress_grids(self) -> None:
        """The palette and theme on every grid; the significance marks on the
        heatmap (computed in a worker when not cached)."""
        palette, dark = self.palette, bool(self.app.current_theme.dark)
        if self.overview is not None:
            self.overview = replace(self.overview, palette=palette, dark=dark)
        if self.xtreme is not None:
            self.xtreme = replace(self.xtreme, palette=palette, dark=dark)
        if self.view is None:
            return
        self.view = replace(self.view, palette=palette, dark=dark)
        if self.view.empty or not self.view.has_baseline:
            return
        key = self._significance_key(self.view)
        found = self._significance.get(key)
        if found is None:
            self._compute_significance(key, self.view)
        elif not isinstance(found, str):
            self.view = with_significance(self.view, found)

    def _significance_key(self, view: ResultsView) -> Any:
        run_id, target = view.run_id, view.target
        return (
            run_id,
            target,
            view.split,
            tuple(view.shown_languages),
            self._index.stamp(run_id, target),
            self.significance_settings,
        )

    def _compute_significance(self, key: Any, view: ResultsView) -> None:
        # One bootstrap at a time: while a live run adds results, the table
        # changes faster than it is bootstrapped; the newest is done next.
        if self._computing:
            return
        self._computing.add(key)
        shown = set(view.shown_languages)
        records = [
            r
            for r in self._index.records(view.run_id, view.target)
            if r["language"] in shown  # the average is over the shown ones
        ]
        self._significance_worker(key, records, view.target, view.split)

    @work(thread=True, group="results-significance", exit_on_error=False)
    def _significance_worker(
        self, key: Any, records: list[dict[str, Any]], target: str, split: str
    ) -> None:
        from engine.significance import target_significance

        try:
            sig = target_significance(
                records,
                self.app.client.workspace,
                target,
                split,
                self.significance_settings,
            )
        except Exception as exc:  # unreadable predictions: say so, keep going
            self.post_message(SignificanceComputed(key, None, str(exc)))
            return
        self.post_message(SignificanceComputed(key, sig, None))

    def on_significance_computed(self, message: SignificanceComputed) -> None:
        self._computing.discard(message.key)
        self._significance[message.key] = (
            message.error if message.result is None else message.result
        )
        while len(self._significance) > 32:  # oldest first: a bounded cache
            del self._significance[next(iter(self._significance))]
        if message.error is not None:
            self.notify(f"significance: {message.error}", severity="warning")
        if self.view is not None:
            current = self._significance_key(self.view)
            if current == message.key or current not in self._significance:
                self._sync(force=True)  # show it, or start the table shown now

    def action_toggle_palette(self) -> None:
        self.palette = (
            COLOUR_BLIND if self.palette == DEFAULT_PALETTE else DEFAULT_PALETTE
        )
        self.notify(f"palette: {self.palette}", timeout=2)
        self._sync(force=True)

    def action_compare(self) -> None:
        from xlt_tui.screens.compare import CompareScreen

        records = [
            r for run_id in self._index.run_ids() for r in self._index.records(run_id)
        ]
        if not records:
            self.notify("no results to compare yet", timeout=3)
            return
        self.app.push_screen(
            CompareScreen(
                records,
                self.app.client.workspace,
                self.significance_settings,
                run_id=self.state.run_id,
                split=(self.view.split if self.view else None),
            )
        )

    def _update_status(self) -> None:
        status = self.query_one("#results-status", Static)
        if self.state.run_id is None or self.state.target is None:
            status.update("")
            return
        parts = ["scores" if self.state.mode == SCORE else "change vs baseline"]
        if self.page == OVERVIEW:
            parts.insert(0, "overview: avg over languages per target")
        elif self.page == XTREME_TABLE:
            parts.insert(0, "XTREME: task scores, group scores, overall")
        elif self.view is not None:
            view = self.view
            if view.metric:
                parts.insert(0, view.metric)
            if view.sort_column:
                arrow = "▼" if view.descending else "▲"
                parts.append(f"sorted by {view.sort_column} {arrow}")
            langs = f"{len(view.shown_languages)}/{len(view.languages)} languages"
            parts.append(langs)
        shown = self.view or self.overview or self.xtreme
        if shown is not None and shown.split:
            # The split leads: the one thing that must never be misread.
            parts.insert(0, f"{shown.split} split")
        run = self._run_record(self.state.run_id)
        if run and run.get("status") in LIVE_STATUSES:
            parts.append(f"live: {run['status']}")
        status.update(" · ".join(parts))

    def _update_detail(self) -> None:
        detail = self.query_one("#results-detail", Static)
        if self.overview is not None:
            detail.update(self._overview_detail())
            return
        if self.page == XTREME_TABLE:
            detail.update(self._xtreme_detail())
            return
        heatmap = self.query_one("#results-heatmap", Heatmap)
        here = heatmap.cursor_cell() if self.view is not None else None
        info = self.view.detail(*here) if here and self.view else None
        if info is None:
            hint = "move the cursor onto a cell for its seeds, mean, std and run"
            if here:
                hint = f"{here[0]} → {self.state.target} [{here[1]}]: no result"
            detail.update(Text(hint if self.view else "", style="dim"))
            return
        lines = info.lines()
        text = Text(lines[0], style="bold")
        for line in lines[1:]:
            text.append("\n" + line)
        view = self.view
        if view is not None and view.significance is not None and here:
            for line in significance_lines(view, here[0], here[1]):
                text.append("\n" + line)
        elif view is not None and view.has_baseline:
            found = self._significance.get(self._significance_key(view))
            text.append(
                "\n"
                + (
                    self._computing_note()
                    if found is None
                    else f"no intervals: {found}"
                ),
                style="dim",
            )
        self._append_provenance(text)
        detail.update(text)

    def _append_provenance(self, text: Text) -> None:
        """The run's provenance, dim, under a cell's detail."""
        run = self._run_record(self.state.run_id) or {}
        for line in provenance_lines(run.get("provenance")):
            text.append("\n" + line, style="dim")

    def _overview_detail(self) -> Text:
        grid = self.overview
        here = self.query_one("#results-overview", Heatmap).cursor_cell()
        if grid is None or here is None:
            return Text("")
        row, target = here
        value = grid.text(row, target)
        what = "change against the baseline" if grid.shows_change(row) else "score"
        text = Text(f"{row} → {target}", style="bold")
        text.append(f"\naverage over languages ({what}): {value}")
        if grid.value(row, target) is None:
            text.append("\nno average: a language is missing, or no baseline")
        text.append("\nenter: open the heatmap of this target", style="dim")
        return text

    def _xtreme_detail(self) -> Text:
        grid = self.xtreme
        here = self.query_one("#results-xtreme", Heatmap).cursor_cell()
        if grid is None or here is None:
            return Text("")
        row, column = here
        info = grid.detail(row, column)
        if info is None:
            text = Text(f"{row} → XTREME [{column}]: no value", style="bold")
            missing = grid.missing(row, column)
            if missing:
                text.append(f"\n{row} has no result for {', '.join(missing)}")
            text.append("\n" + grid.averages(row, column))
            return text
        lines = info.lines()
        text = Text(lines[0], style="bold")
        if column in grid.tasks:
            text.append(f"  enter: the heatmap of {column}", style="dim")
        for line in lines[1:]:
            text.append("\n" + line)
        self._append_provenance(text)
        return text

    # -- events -------------------------------------------------------------
    @on(SelectWidget.Changed, "#results-run")
    def _run_chosen(self, event: SelectWidget.Changed) -> None:
        run_id = event.value  # a run id, or the NULL of no selection
        if not isinstance(run_id, str) or run_id == self.state.run_id:
            return
        self.state = replace(self.state, run_id=run_id, target=self.state.target)
        self._sync()

    @on(SelectWidget.Changed, "#results-target")
    def _target_chosen(self, event: SelectWidget.Changed) -> None:
        target = event.value  # a target task, or the NULL of no selection
        if not isinstance(target, str) or target == self.state.target:
            return
        self.state = replace(self.state, target=target)
        self._sync()

    @on(SelectWidget.Changed, "#results-split")
    def _split_chosen(self, event: SelectWidget.Changed) -> None:
        split = event.value  # a split, or the NULL of no selection
        if not isinstance(split, str) or split == self.state.split:
            return
        self.state = replace(self.state, split=split)
        self._sync()

    @on(DataTable.CellHighlighted)
    def _cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        self._update_detail()

    @on(DataTable.CellSelected, "#results-overview")
    def _overview_cell_chosen(self, event: DataTable.CellSelected) -> None:
        here = self.query_one("#results-overview", Heatmap).cursor_cell()
        if here is None:
            return
        self._open_target(*here)

    @on(DataTable.CellSelected, "#results-xtreme")
    def _xtreme_cell_chosen(self, event: DataTable.CellSelected) -> None:
        here = self.query_one("#results-xtreme", Heatmap).cursor_cell()
        if here is None or self.xtreme is None or here[1] not in self.xtreme.tasks:
            return
        self._open_target(*here)

    def _open_target(self, row: str, target: str) -> None:
        """Show the heatmap of `target` with the cursor on `row`'s average."""
        self.page = HEATMAP
        self.state = replace(self.state, target=target)
        self._sync()
        self.query_one("#results-heatmap", Heatmap).move_to(row, AVG)
        self.query_one("#results-heatmap").focus()

    # -- actions ------------------------------------------------------------
    def action_toggle_mode(self) -> None:
        self.state = self.state.toggled_mode()
        self._sync()

    def action_toggle_split(self) -> None:
        shown = self.view or self.overview or self.xtreme
        current = shown.split if shown is not None else None
        others = [s for s in self.splits if s != current]
        if not others:
            have = current or "no"
            self.notify(f"this view has {have} results only: no other split", timeout=3)
            return
        self.state = replace(self.state, split=others[0])
        self._sync()

    def action_sort(self) -> None:
        if self.page != HEATMAP or self.view is None:
            self.notify("sorting applies to the heatmap of a target", timeout=3)
            return
        here = self.query_one("#results-heatmap", Heatmap).cursor_cell()
        if here is None:
            return
        self.state = self.state.sorted_by(here[1])
        self._sync()

    def action_filter_languages(self) -> None:
        view = self.view
        if self.page != HEATMAP or view is None or not view.languages:
            self.notify("no languages to filter: pick a run and target", timeout=3)
            return

        def chosen(languages: list[str] | None) -> None:
            if languages is not None:
                self.state = self.state.showing(languages, view.languages)
                self._sync()

        self.app.push_screen(
            LanguageFilter(view.languages, view.shown_languages, view.target), chosen
        )

    def action_significance_settings(self) -> None:
        """Change resamples, bootstrap seed or correction; the heatmap's marks
        are recomputed in the worker (the cache is keyed by the settings)."""
        from xlt_tui.screens.significance_dialog import SignificanceDialog

        def chosen(settings: SignificanceSettings | None) -> None:
            if settings is None or settings == self.significance_settings:
                return
            # On the instance: kept while the app runs (the screen is kept).
            self.significance_settings = settings
            self.notify(f"intervals: {settings_summary(settings)}", timeout=3)
            self._sync(force=True)

        self.app.push_screen(SignificanceDialog(self.significance_settings), chosen)

    def action_toggle_overview(self) -> None:
        if self.state.run_id is None or self.state.target is None:
            self.notify("no results to summarise yet", timeout=3)
            return
        self._switch_page(OVERVIEW)

    def action_toggle_xtreme(self) -> None:
        if self.state.run_id is None or self.state.target is None:
            self.notify("no results to tabulate yet", timeout=3)
            return
        self._switch_page(XTREME_TABLE)

    def _switch_page(self, page: str) -> None:
        """Show `page`, or the heatmap when it is showing already."""
        self.page = HEATMAP if self.page == page else page
        self._sync()
        widget = {
            HEATMAP: "#results-heatmap",
            OVERVIEW: "#results-overview",
            XTREME_TABLE: "#results-xtreme",
        }[self.page]
        self.query_one(widget).focus()

    def action_export(self) -> None:
        from xlt_tui.screens.export_dialog import ExportDialog

        view = self.xtreme if self.page == XTREME_TABLE else self.view
        if self.page == OVERVIEW or view is None or view.empty:
            what = "the XTREME table" if self.page == XTREME_TABLE else "the view"
            self.notify(
                f"nothing to export: {what} has no values; "
                "open a target's heatmap or the XTREME table (x)",
                timeout=3,
            )
            return

        def chosen(ext: str | None) -> None:
            if ext is not None:
                self._export(view, ext)

        folder = self.app.client.workspace.exports_dir
        self.app.push_screen(ExportDialog(str(folder)), chosen)

    @work(thread=True, group="results-export", exit_on_error=False)
    def _export(self, view: ResultsView | XtremeView, ext: str) -> None:
        from xlt_tui.export import (
            ENGINE_EXPORTS,
            FORMATS,
            export_files,
            export_with_engine,
        )

        workspace = self.app.client.workspace
        try:
            if ext in ENGINE_EXPORTS:  # drawn by `xlt-engine` in a child process
                paths = export_with_engine(ext, view, workspace)
            else:
                exts = list(FORMATS) if ext == "all" else [ext]
                paths = [p for e in exts for p in export_files(view, workspace, e)]
        except Exception as exc:  # a full disk, a bad folder: tell, don't crash
            self.app.call_from_thread(
                self.notify, f"export failed: {exc}", severity="error", timeout=8
            )
            return
        text = "wrote " + ", ".join(str(p) for p in paths)
        self.app.call_from_thread(self.notify, text, timeout=8)


def _run_label(run: dict[str, Any]) -> str:
    status = run.get("status")
    return run["id"] if status == "finished" else f"{run['id']} ({status})"
