"""Significance in the TUI (issue 13): the heatmap's plain-character marks
(* significant, ! collapsed, ? no predictions) under NO_COLOR, the legend's
correction and resamples, the detail panel's interval, p and reference
levels, the bootstrap off the UI thread (cached), the compare screen, the
colour-blind palette, and exports with the marks and legend. The workspace is
built from constructed predictions files and store records
(tests/test_results_ci.py's builders; no training)."""

from __future__ import annotations

import threading

import pytest

import engine.significance as significance
from engine.significance import SignificanceSettings
from tests.test_results_ci import BALANCED, BASE, FIXER, N, add_result, build
from tests.tui.helpers import table_text, wait_until
from tests.tui.test_results import (
    background,
    cells,
    heatmap,
    make_app,
    open_run,
    results_screen,
    text_of,
)
from tests.tui.test_snapshots import settle
from xlt_tui.export import export_view
from xlt_tui.results_view import BLUE_ORANGE, DARK_MIDDLE, DELTA, Grid, interpolate
from xlt_tui.screens.results import ResultsScreen

SKEWED = ["neg" if i % 20 >= 3 else "pos" for i in range(N)]  # 85% neg


@pytest.fixture(autouse=True)
def fewer_resamples(monkeypatch):
    """200 resamples keep each table well under a second."""
    settings = SignificanceSettings(n_resamples=200, seed=0, correction="holm")
    monkeypatch.setattr(ResultsScreen, "significance_settings", settings)


def workspace(root):
    """r1: baseline, same (identical), fixer (+9 points) on en and de; old
    (no predictions files); skew: a collapsed model on 85%-neg gold."""
    build(root)
    for lang in ("en", "de"):
        add_result(root, "r1", "old", lang, FIXER, BALANCED, with_file=False)
    add_result(root, "r1", "baseline", "en", SKEWED, SKEWED, target="skew")
    add_result(root, "r1", "mnli", "en", ["neg"] * N, SKEWED, target="skew")
    from engine.workspace import Workspace

    return Workspace.open(root)


def row(app, name):
    return next(r for r in cells(app) if r[0] == name)


async def marked(app, pilot):
    await wait_until(
        pilot,
        lambda: (
            results_screen(app).view is not None
            and results_screen(app).view.significance is not None
        ),
        describe=lambda: text_of(app, "#results-legend"),
    )
    await pilot.pause(0.05)


async def test_marks_legend_and_detail_without_colour(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(workspace(tmp_path / "ws"))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_run(app, pilot)
        await marked(app, pilot)
        assert app.no_color
        await pilot.press("d")
        await marked(app, pilot)
        assert row(app, "fixer")[1:] == ["+9.0*", "+9.0*", "+9.0*"]
        assert row(app, "same")[1:] == ["+0.0", "+0.0", "+0.0"]
        assert row(app, "old")[1:] == ["+9.0?", "+9.0?", "+9.0?"]
        screen_text = app.export_screenshot()
        assert "+9.0*" in screen_text and "+9.0?" in screen_text
        legend = text_of(app, "#results-legend")
        assert "200 resamples, seed 0" in legend
        assert "significant at 0.05 after Holm over 6 comparisons" in legend
        assert "? no per-example predictions" in legend
        heatmap(app).move_to("fixer", "en")
        await pilot.pause(0.1)
        detail = text_of(app, "#results-detail")
        assert "change +9.0, 95% interval [+" in detail
        assert "adjusted p 0.0" in detail and "(Holm, 6 comparisons)" in detail
        assert "* significant" in detail
        assert "paired bootstrap on 200 examples both scored" in detail
        assert "en majority class 50.0" in detail and "chance 50.0" in detail
        heatmap(app).move_to("old", "de")
        await pilot.pause(0.1)
        assert "? no per-example predictions" in text_of(app, "#results-detail")


async def test_collapsed_model_is_flagged_and_explained(tmp_path):
    app = make_app(workspace(tmp_path / "ws"))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_run(app, pilot)
        results_screen(app).query_one("#results-target").value = "skew"
        await wait_until(pilot, lambda: results_screen(app).view.target == "skew")
        await marked(app, pilot)
        # Collapsed (beside the score), and significantly below the baseline,
        # which is right on every example here.
        assert row(app, "mnli")[1] == "85.0!*"
        assert row(app, "baseline")[1] == "100.0"
        heatmap(app).move_to("mnli", "en")
        await pilot.pause(0.1)
        detail = text_of(app, "#results-detail")
        assert "! collapsed: mnli on en predicts 'neg' for 100% of examples" in detail
        assert "en majority class 85.0 ('neg'), chance 50.0 (2 classes)" in detail


async def test_bootstrap_runs_off_the_ui_thread_and_is_cached(tmp_path, monkeypatch):
    release = threading.Event()
    calls = []
    real = significance.target_significance

    def slow(*args, **kwargs):
        calls.append(threading.current_thread().name)
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(significance, "target_significance", slow)
    app = make_app(workspace(tmp_path / "ws"))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_run(app, pilot)
        await wait_until(pilot, lambda: len(calls) == 1)
        assert "computing intervals…" in text_of(app, "#results-legend")
        assert "computing intervals…" in text_of(app, "#results-detail")
        await pilot.press("d")  # the screen answers while the worker waits
        assert row(app, "fixer")[1] == "+9.0"
        assert threading.main_thread().name not in calls
        release.set()
        await marked(app, pilot)
        assert row(app, "fixer")[1] == "+9.0*"
        await pilot.press("d", "d")  # the same table again: from the cache
        await pilot.pause(0.2)
        assert len(calls) == 1 and row(app, "fixer")[1] == "+9.0*"
        await pilot.press("f", "n")  # hide de: the average is over en only
        from textual.widgets import SelectionList

        app.screen.query_one(SelectionList).select("en")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(calls) == 2)


async def test_compare_screen_shows_paired_differences(tmp_path):
    ws = workspace(tmp_path / "ws")
    for lang in ("en", "de"):  # a second run: its "fixer" is the baseline's twin
        add_result(ws.root, "r2", "baseline", lang, BASE, BALANCED)
        add_result(ws.root, "r2", "fixer", lang, BASE, BALANCED)
    app = make_app(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_run(app, pilot, "r1")
        commands = app.get_system_commands(results_screen(app))
        titles = [command.title for command in commands]
        assert "Compare runs or choices" in titles and "Heatmap palette" in titles
        await pilot.press("c")
        from textual.widgets import DataTable, Select

        from xlt_tui.screens.compare import CompareScreen

        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        table = screen.query_one("#compare-table", DataTable)
        # Opens on the run's baseline against its first other choice.
        await wait_until(pilot, lambda: table.row_count == 2)
        assert table_text(table)[0][2] == "baseline -> same"
        screen.query_one("#compare-b", Select).value = "r1:fixer"
        await wait_until(pilot, lambda: table_text(table)[0][2] == "baseline -> fixer")
        rows = table_text(table)
        en = next(r for r in rows if r[1] == "en")
        assert en[:5] == ["sent", "en", "baseline -> fixer", "70.0", "79.0"]
        assert en[5].startswith("+9.0 [+") and en[5].endswith("]*")
        assert en[7] == "200 (200, 200)"
        legend = str(screen.query_one("#compare-legend").render())
        assert "200 resamples" in legend and "after Holm over 2 comparisons" in legend
        # Two runs: each choice they share, against itself.
        screen.query_one("#compare-a", Select).value = "r1"
        screen.query_one("#compare-b", Select).value = "r2"
        await wait_until(
            pilot,
            lambda: any(r[2] == "fixer" for r in table_text(table)),
            describe=lambda: table_text(table),
        )
        fixer_en = next(
            r for r in table_text(table) if r[2] == "fixer" and r[1] == "en"
        )
        assert fixer_en[5].startswith("-9.0 [")  # r2's fixer fixes nothing
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ResultsScreen))


async def test_colour_blind_palette_and_dark_theme(tmp_path):
    app = make_app(workspace(tmp_path / "ws"))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_run(app, pilot)
        await pilot.press("d", "p")
        await wait_until(pilot, lambda: results_screen(app).palette == "colour-blind")
        view = results_screen(app).view
        assert view.palette == "colour-blind"
        # The largest gain takes the Okabe-Ito blue end of the scale.
        blue = tuple(int(BLUE_ORANGE[-1][i : i + 2], 16) for i in (1, 3, 5))
        assert background(app, 2, 0) == blue
        await pilot.press("p")
        await wait_until(pilot, lambda: results_screen(app).palette == "default")
        r, g, b = background(app, 2, 0)
        assert g > r and g > b  # back to the default green


def test_dark_theme_middle_on_screen_light_on_paper():
    grid = Grid(
        mode=DELTA,
        rows=["a"],
        columns=["x", "y"],
        values={("a", "x"): -0.1, ("a", "y"): 0.1},
        scales={"x": 100.0, "y": 100.0},
        palette="colour-blind",
        dark=True,
    )
    assert interpolate(grid.stops, 0.5) == DARK_MIDDLE
    assert interpolate(grid.paper_stops, 0.5) == "#f7f7f7"


async def test_markdown_and_latex_exports_carry_marks_and_legend(tmp_path):
    ws = workspace(tmp_path / "ws")
    app = make_app(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_run(app, pilot)
        await pilot.press("d")
        await marked(app, pilot)
        view = results_screen(app).view
    md = export_view(view, ws, "md").read_text()
    assert "+9.0*" in md and "+9.0?" in md
    assert "significant at 0.05 after Holm over 6 comparisons" in md
    assert "majority-class/chance level of the gold: en 50.0/50.0" in md
    tex = export_view(view, ws, "tex").read_text()
    assert r"95\% interval" in tex and "+9.0*" in tex


def test_heatmap_with_marks_snapshot(snap_compare, tmp_path):
    ws = workspace(tmp_path / "ws")
    app = make_app(ws)
    app.sub_title = "~/.xlt"

    async def before(pilot):
        await open_run(app, pilot)
        await pilot.press("d")
        await marked(app, pilot)
        heatmap(app).move_to("fixer", "en")
        await settle(pilot, 0.3)
        # The table measures its row labels when idle: wait for that too.
        await wait_until(pilot, lambda: heatmap(app)._row_label_column_width > 0)

    assert snap_compare(app, terminal_size=(120, 40), run_before=before)


def test_table_without_any_predictions_says_so_once(tmp_path):
    """A workspace scored before predictions were kept: no '?' on every
    cell, one legend line instead; the detail still gives the reason."""
    from engine.store import Store
    from engine.workspace import Workspace
    from xlt_tui.results_view import (
        ViewState,
        build_view,
        significance_lines,
        with_significance,
    )

    for inter, preds in (("baseline", BASE), ("fixer", FIXER)):
        add_result(tmp_path, "r1", inter, "en", preds, BALANCED, with_file=False)
    ws = Workspace.open(tmp_path)
    records = Store(ws).results()
    view = build_view(records, ViewState("r1", "sent", DELTA))
    sig = significance.target_significance(records, ws, "sent", "test")
    marked_view = with_significance(view, sig)
    assert marked_view.text("fixer", "en") == "+9.0"
    assert marked_view.footnotes[-1].startswith("? no per-example predictions in")
    lines = significance_lines(marked_view, "fixer", "en")
    assert lines[0].startswith("? no per-example predictions: scored before")


async def test_export_dialog_draws_the_engines_figures(tmp_path):
    """g in the export dialog: `xlt-engine plot` main and languages of the
    shown target, in a child process; the files land in exports/."""
    ws = workspace(tmp_path / "ws")
    app = make_app(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_run(app, pilot)
        await pilot.press("e")
        await pilot.pause(0.2)
        options = app.screen.query_one("OptionList")
        assert "the paper's figures" in str(options.get_option("figure").prompt)
        assert "HTML report" in str(options.get_option("html").prompt)
        await pilot.press("g")
        main = ws.export_file("r1-main.png")
        languages = ws.export_file("r1-languages-sent.png")
        await wait_until(pilot, lambda: main.is_file() and languages.is_file(), 60)
        assert main.read_bytes()[:4] == b"\x89PNG"


def test_html_report_through_the_engine_and_its_refusal(tmp_path):
    from xlt_tui.export import export_with_engine
    from xlt_tui.results_view import ViewState, build_view

    ws = workspace(tmp_path / "ws")
    from engine.store import Store

    view = build_view(Store(ws).results(), ViewState("r1", "sent"))
    (path,) = export_with_engine("html", view, ws)
    assert path == ws.export_file("r1-report.html") and "<html" in path.read_text()
    gone = build_view(Store(ws).results(), ViewState("r1", "sent"))
    gone.run_id = "r9"
    with pytest.raises(ValueError, match="xlt-engine report: no run 'r9'"):
        export_with_engine("html", gone, ws)
