"""The results screen: heatmaps per run and target, score/delta, sort, language
filter, cell details, overview, live updates; and the view model and index
underneath it."""

from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path

import pytest
from rich.style import Style
from textual.widgets import Select as SelectWidget
from textual.widgets import Static

from engine.metrics import xtreme
from engine.report import NOT_COMPARABLE
from engine.store import Store
from engine.workspace import Workspace
from tests.test_light_imports import top_level_modules_after
from tests.tui.helpers import screen_text, wait_until
from xlt_tui.export import export_view, to_csv, to_latex, to_markdown
from xlt_tui.results_index import ResultsIndex
from xlt_tui.results_view import (
    DELTA,
    SCORE,
    ViewState,
    build_overview,
    build_view,
    build_xtreme,
    language_order,
)

# Zero-shot accuracy per (intermediate, language) for seeds 1 and 2, written in
# this order: the baseline comes last, so showing it first is the screen's work;
# "de" comes before "ar", so column order is the task's (en, ar, de), not the
# file's.
XNLI = {
    "mnli": {"de": (0.70, 0.74), "en": (0.80, 0.84), "ar": (0.60, 0.62)},
    "qqp": {"de": (0.64, 0.66), "en": (0.86, 0.88), "ar": (0.44, 0.46)},
    "anli": {"de": (0.67, 0.69), "en": (0.83, 0.85), "ar": (0.54, 0.56)},
    "baseline": {"de": (0.60, 0.62), "en": (0.78, 0.80), "ar": (0.50, 0.52)},
}
# A second target: qqp lacks "de", so it has no average there.
PAWSX = {
    "baseline": {"en": (0.90, 0.90), "de": (0.80, 0.80)},
    "mnli": {"en": (0.92, 0.92), "de": (0.84, 0.84)},
    "qqp": {"en": (0.91, 0.91)},
}


def rec(run_id, inter, target, lang, seed, value, n=500):
    return {
        "run_id": run_id,
        "seed": seed,
        "model": "xlt-tiny",
        "intermediate": inter,
        "target": target,
        "language": lang,
        "split": "test",
        "metric": "accuracy",
        "value": value,
        "n_examples": n,
    }


def records_of(run_id: str, target: str, table: dict) -> list[dict]:
    return [
        rec(run_id, inter, target, lang, seed, value)
        for inter, langs in table.items()
        for lang, values in langs.items()
        for seed, value in zip((1, 2), values, strict=True)
    ]


def r1_records() -> list[dict]:
    return records_of("r1", "xnli", XNLI) + records_of("r1", "pawsx", PAWSX)


def run(run_id: str, started: float, status: str = "finished") -> dict:
    return {"id": run_id, "name": "demo", "status": status, "started_at": started}


def make_workspace(root: Path) -> Workspace:
    ws = Workspace.open(root)
    store = Store(ws.store_path)
    store.create_run(run("r1", 100.0))
    store.create_run(run("r2", 200.0))
    store.create_run(run("r3", 300.0, status="failed"))  # no results
    store.add_results(r1_records())
    store.add_results([rec("r2", "baseline", "xnli", "en", 1, 0.5)])
    return ws


# -- helpers for the live screen -------------------------------------------------


def make_app(ws: Workspace):
    from xlt_tui.app import XltApp

    return XltApp(ws, start_mode="results", poll_seconds=0.2)


def results_screen(app):
    from xlt_tui.screens.results import ResultsScreen

    for screen in reversed(app.screen_stack):
        if isinstance(screen, ResultsScreen):
            return screen
    raise AssertionError(f"no results screen in {app.screen_stack}")


def heatmap(app, overview: bool = False):
    from xlt_tui.widgets.heatmap import Heatmap

    name = "#results-overview" if overview else "#results-heatmap"
    return results_screen(app).query_one(name, Heatmap)


def cells(app, overview: bool = False) -> list[list[str]]:
    """The heatmap as shown: [row label, cell texts...] per row."""
    table = heatmap(app, overview)
    return [
        [str(row.label).strip(), *(str(c).strip() for c in table.get_row(row.key))]
        for row in table.ordered_rows
    ]


def header(app, overview: bool = False) -> list[str]:
    return [str(c.label).strip() for c in heatmap(app, overview).ordered_columns]


def text_of(app, widget_id: str) -> str:
    return str(results_screen(app).query_one(widget_id, Static).render())


def background(app, row: int, column: int):
    cell = heatmap(app).get_row_at(row)[column]
    style = Style.parse(str(cell.style)) if cell.style else Style()
    return style.bgcolor.triplet if style.bgcolor else None


async def open_run(app, pilot, run_id: str | None = "r1"):
    app.open_results(run_id)
    await wait_until(
        pilot,
        lambda: results_screen(app).view is not None and heatmap(app).row_count > 0,
        describe=lambda: text_of(app, "#results-message"),
    )
    # Settle: no read in flight, so what comes next is read by the polling.
    await wait_until(pilot, lambda: not results_screen(app)._refreshing)


# -- the screen -----------------------------------------------------------------


async def test_heatmap_baseline_first_task_language_order_and_values(tmp_path):
    app = make_app(make_workspace(tmp_path / "ws"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run(app, pilot, "r1")
        assert header(app) == ["en", "ar", "de", "avg"]
        assert cells(app) == [
            ["baseline", "79.0", "51.0", "61.0", "63.7"],
            ["mnli", "82.0", "61.0", "72.0", "71.7"],
            ["qqp", "87.0", "45.0", "65.0", "65.7"],
            ["anli", "84.0", "55.0", "68.0", "69.0"],
        ]
        # The first target of the run is shown; the selectors say which.
        screen = results_screen(app)
        assert screen.query_one("#results-target").value == "xnli"
        assert screen.query_one("#results-run").value == "r1"
        # Sequential scale: the highest score is darker than the lowest.
        top, low = background(app, 2, 0), background(app, 2, 1)  # 87.0, 45.0
        assert sum(top) < sum(low)
        assert "45.0" in text_of(app, "#results-legend")
        assert "87.0" in text_of(app, "#results-legend")


async def test_d_toggles_changes_against_baseline(tmp_path):
    app = make_app(make_workspace(tmp_path / "ws"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run(app, pilot)
        await pilot.press("d")
        assert cells(app) == [
            ["baseline", "79.0", "51.0", "61.0", "63.7"],  # the reference: scores
            ["mnli", "+3.0", "+10.0", "+11.0", "+8.0"],
            ["qqp", "+8.0", "-6.0", "+4.0", "+2.0"],
            ["anli", "+5.0", "+4.0", "+7.0", "+5.3"],
        ]
        assert "change vs baseline" in text_of(app, "#results-legend")
        # Diverging colours: gains green, losses red, the baseline uncoloured.
        r, g, b = background(app, 1, 2)  # mnli de +11.0, the largest change
        assert g > r and g > b
        r, g, b = background(app, 2, 1)  # qqp ar -6.0
        assert r > g and r > b
        assert background(app, 0, 0) is None
        await pilot.press("d")
        assert cells(app)[1] == ["mnli", "82.0", "61.0", "72.0", "71.7"]


async def test_s_sorts_by_cursor_column_then_reverses_keeping_baseline_first(tmp_path):
    app = make_app(make_workspace(tmp_path / "ws"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run(app, pilot)
        await pilot.press("s")  # cursor on "en"
        assert [row[0] for row in cells(app)] == ["baseline", "qqp", "anli", "mnli"]
        assert header(app)[0] == "en ▼"
        await pilot.press("s")
        assert [row[0] for row in cells(app)] == ["baseline", "mnli", "anli", "qqp"]
        assert header(app)[0] == "en ▲"
        await pilot.press("right", "s")  # "ar", best first
        assert [row[0] for row in cells(app)] == ["baseline", "mnli", "anli", "qqp"]
        await pilot.press("right", "right", "s")  # "avg"
        assert [row[0] for row in cells(app)] == ["baseline", "mnli", "anli", "qqp"]
        assert [row[-1] for row in cells(app)] == ["63.7", "71.7", "69.0", "65.7"]


async def test_f_filters_languages_and_recomputes_the_average(tmp_path):
    app = make_app(make_workspace(tmp_path / "ws"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run(app, pilot)
        await pilot.press("f")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "LanguageFilter")
        await pilot.press("down", "space", "enter")  # untick "ar"
        await wait_until(pilot, lambda: header(app) == ["en", "de", "avg"])
        assert cells(app)[1] == ["mnli", "82.0", "72.0", "77.0"]
        assert "2/3 languages" in text_of(app, "#results-status")
        # Esc leaves the filter as it was; "a" ticks every language again.
        await pilot.press("f")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "LanguageFilter")
        await pilot.press("escape")
        assert header(app) == ["en", "de", "avg"]
        await pilot.press("f")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "LanguageFilter")
        await pilot.press("a", "enter")
        await wait_until(pilot, lambda: header(app) == ["en", "ar", "de", "avg"])


async def test_language_filter_ticks_read_without_colour(tmp_path, monkeypatch):
    """NO_COLOR: a ticked language shows X, an unticked one a blank box (not
    the same grey X in both)."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(make_workspace(tmp_path / "ws"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run(app, pilot)
        await pilot.press("f")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "LanguageFilter")
        await pilot.press("down", "space")  # untick "ar"
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "▐X▌ en" in text and "▐ ▌ ar" in text and "▐X▌ de" in text


async def test_cursor_moves_update_the_detail_panel(tmp_path):
    app = make_app(make_workspace(tmp_path / "ws"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run(app, pilot)
        await pilot.press("down", "right", "right")  # mnli, de
        detail = text_of(app, "#results-detail")
        assert "mnli → xnli [de]" in detail
        assert "seed 1: 70.0  seed 2: 74.0" in detail
        std = statistics.stdev([70.0, 74.0])
        assert f"mean 72.0 ± {std:.1f}" in detail
        assert "+11.0 against baseline 61.0" in detail
        assert "n_examples 500" in detail and "run r1" in detail
        await pilot.press("right")  # avg: per seed over the three languages
        detail = text_of(app, "#results-detail")
        assert "seed 1: 70.0  seed 2: 73.3" in detail
        assert "n_examples 1500" in detail


async def test_results_appended_while_open_appear(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run(app, pilot)
        Store(ws.store_path).add_results(
            [rec("r1", "sst2", "xnli", lg, 1, 0.9) for lg in ("en", "ar", "de")]
        )
        await wait_until(pilot, lambda: cells(app)[-1][0] == "sst2", timeout=5)
        assert cells(app)[-1] == ["sst2", "90.0", "90.0", "90.0", "90.0"]


async def test_overview_averages_per_target_and_opens_a_target(tmp_path):
    app = make_app(make_workspace(tmp_path / "ws"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run(app, pilot)
        await pilot.press("o")
        await wait_until(pilot, lambda: heatmap(app, overview=True).row_count > 0)
        assert header(app, overview=True) == ["xnli", "pawsx"]
        assert cells(app, overview=True) == [
            ["baseline", "63.7", "85.0"],
            ["mnli", "71.7", "88.0"],
            ["qqp", "65.7", "–"],  # no "de": no average
            ["anli", "69.0", "–"],
        ]
        assert not heatmap(app).display
        await pilot.press("right", "enter")  # baseline × pawsx
        await wait_until(pilot, lambda: header(app) == ["en", "de", "avg"])
        assert results_screen(app).state.target == "pawsx"
        assert results_screen(app).query_one("#results-target").value == "pawsx"


async def test_latest_run_with_results_by_default_and_switching_runs(tmp_path):
    app = make_app(make_workspace(tmp_path / "ws"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run(app, pilot, None)  # r3 is newer but has no results
        assert cells(app) == [["baseline", "50.0", "50.0"]]
        assert header(app) == ["en", "avg"]
        await open_run(app, pilot, "r1")
        await wait_until(pilot, lambda: len(cells(app)) == 4)
        app.open_results("r3")
        await wait_until(
            pilot, lambda: "r3 has no results" in text_of(app, "#results-message")
        )
        assert not heatmap(app).display


async def test_deleted_run_gives_way_to_the_latest_one(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run(app, pilot, "r2")
        assert len(cells(app)) == 1
        Store(ws.store_path).delete_run("r2")
        await wait_until(pilot, lambda: len(cells(app)) == 4, timeout=5)
        assert results_screen(app).state.run_id == "r1"
        assert results_screen(app).query_one("#results-run").value == "r1"


async def test_empty_workspace_says_how_to_get_results(tmp_path):
    app = make_app(Workspace.open(tmp_path / "empty"))
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_results(None)
        screen = results_screen(app)
        await wait_until(pilot, lambda: screen.loaded)
        await pilot.pause()
        message = screen.query_one("#results-message", Static)
        assert message.display
        assert "no results yet: launch an experiment (2)" in text_of(
            app, "#results-message"
        )
        assert not heatmap(app).display
        await pilot.press("d", "s", "f", "o", "x", "e")  # nothing to act on: no crash
        assert results_screen(app) is app.screen


async def test_wide_terminal(tmp_path):
    app = make_app(make_workspace(tmp_path / "ws"))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_run(app, pilot)
        region = heatmap(app).region
        detail = results_screen(app).query_one("#results-detail").region
        assert region.height >= 5 and detail.y > region.y
        assert detail.bottom <= 39  # above the footer


# -- the view model --------------------------------------------------------------------


def xnli_view(**state) -> object:
    return build_view(
        r1_records(), ViewState("r1", "xnli", **state), language_order("xnli")
    )


def test_view_rows_columns_and_values():
    view = xnli_view()
    assert view.rows == ["baseline", "mnli", "qqp", "anli"]
    assert view.columns == ["en", "ar", "de", "avg"]
    assert view.value("mnli", "de") == pytest.approx(0.72)
    assert view.text("mnli", "avg") == "71.7"
    assert (view.vmin, view.vmax) == pytest.approx((0.45, 0.87))


def test_sort_descending_ascending_baseline_pinned_missing_last():
    records = r1_records() + [rec("r1", "sst2", "xnli", "en", 1, 0.99)]
    view = build_view(
        records, ViewState("r1", "xnli").sorted_by("de"), ("en", "ar", "de")
    )
    assert view.rows == ["baseline", "mnli", "anli", "qqp", "sst2"]  # sst2: no "de"
    state = ViewState("r1", "xnli").sorted_by("de").sorted_by("de")
    assert not state.descending
    view = build_view(records, state, ("en", "ar", "de"))
    assert view.rows == ["baseline", "qqp", "anli", "mnli", "sst2"]
    # Delta mode sorts by the change: the same order as the scores here.
    view = build_view(records, state.toggled_mode(), ("en", "ar", "de"))
    assert view.rows == ["baseline", "qqp", "anli", "mnli", "sst2"]
    # A sort column the target lacks is ignored: the run's order.
    view = build_view(records, ViewState("r1", "xnli").sorted_by("ja"), ())
    assert view.rows[:4] == ["baseline", "mnli", "qqp", "anli"]


def test_filter_recomputes_average_and_never_hides_everything():
    view = xnli_view(hidden_languages=frozenset({"ar"}))
    assert view.columns == ["en", "de", "avg"]
    assert view.languages == ["en", "ar", "de"]
    assert view.filtered
    assert view.value("mnli", "avg") == pytest.approx((0.82 + 0.72) / 2)
    assert view.detail("mnli", "avg").languages == ("en", "de")
    view = xnli_view(hidden_languages=frozenset({"en", "ar", "de"}))
    assert view.columns == ["en", "ar", "de", "avg"] and not view.filtered


def test_colours_sequential_and_diverging():
    view = xnli_view()
    darkest, lightest = view.colour("qqp", "en"), view.colour("qqp", "ar")
    assert darkest == "#08306b" and lightest == "#f7fbff"  # the scale's ends
    delta = xnli_view(mode=DELTA)
    assert delta.colour("baseline", "en") is None  # the reference row
    assert (delta.vmin, delta.vmax) == pytest.approx((-0.11, 0.11))  # symmetric
    assert delta.colour("mnli", "de") == "#1b7837"  # +11: full green
    assert delta.fraction(0.0) == pytest.approx(0.5)  # 0 sits at the white middle
    r, g, b = (int(delta.colour("qqp", "ar")[i : i + 2], 16) for i in (1, 3, 5))
    assert r > g and r > b  # -6: red
    assert "baseline row: scores" in delta.legend_text()


def test_detail_per_seed_mean_std_examples_and_run():
    detail = xnli_view().detail("qqp", "ar")
    assert detail.seeds == ((1, 0.44), (2, 0.46))
    assert detail.mean == pytest.approx(0.45)
    assert detail.std == pytest.approx(statistics.stdev([0.44, 0.46]))
    assert detail.delta == pytest.approx(-0.06)
    assert detail.baseline == pytest.approx(0.51)
    assert detail.n_examples == 500 and detail.run_ids == ("r1",)
    assert xnli_view().detail("nope", "en") is None


def test_overview_averages_over_languages_per_target():
    grid = build_overview(r1_records(), SCORE, language_order)
    assert grid.columns == ["xnli", "pawsx"]
    assert grid.rows == ["baseline", "mnli", "qqp", "anli"]
    assert grid.value("mnli", "xnli") == pytest.approx((0.70 + 0.7333333) / 2)
    assert grid.value("mnli", "pawsx") == pytest.approx(0.88)
    assert grid.value("qqp", "pawsx") is None
    grid = build_overview(r1_records(), DELTA, language_order)
    assert grid.value("mnli", "pawsx") == pytest.approx(0.03)
    assert grid.text("mnli", "pawsx") == "+3.0"
    assert grid.text("baseline", "pawsx") == "85.0"


def test_language_order_prefers_the_runs_config():
    run_record = {"config": {"languages": {"xnli": ["de", "en"]}}}
    assert language_order("xnli", run_record) == ("de", "en")
    assert language_order("xnli")[:3] == ("en", "ar", "bg")
    assert language_order("my-custom-task") == ()


# -- the index -------------------------------------------------------------------


def test_index_reads_only_appended_lines(tmp_path):
    store = Store(tmp_path / "xlt.json")
    store.add_results(r1_records())
    index = ResultsIndex.for_store(store)
    assert index.refresh() is True
    total = len(r1_records())
    assert len(index) == total
    assert index.run_ids() == ["r1"] and index.targets("r1") == ["xnli", "pawsx"]
    assert len(index.records("r1", "xnli")) == 24
    version, stamp = index.version, index.stamp("r1", "xnli")
    assert index.refresh() is False and index.version == version
    store.add_results([rec("r2", "baseline", "xnli", "en", 1, 0.5)])
    assert index.refresh() is True
    # Re-reading the whole file would have counted r1's records twice.
    assert len(index) == total + 1
    assert index.records("r2", "xnli")[0]["value"] == 0.5
    assert index.stamp("r1", "xnli") == stamp  # r1's heatmap need not redraw
    store.add_results([rec("r1", "sst2", "xnli", "en", 1, 0.5)])
    index.refresh()
    assert index.stamp("r1", "xnli") != stamp
    assert index.records("nope") == [] and index.targets("nope") == []


def test_index_rebuilds_after_a_run_is_deleted(tmp_path):
    store = Store(tmp_path / "xlt.json")
    store.create_run(run("r1", 1.0))
    store.create_run(run("r2", 2.0))
    store.add_results(r1_records())
    store.add_results([rec("r2", "baseline", "xnli", "en", 1, 0.5)])
    index = ResultsIndex.for_store(store)
    index.refresh()
    stamp = index.stamp("r2", "xnli")
    store.delete_run("r1")
    assert index.refresh() is True
    assert index.run_ids() == ["r2"]
    assert len(index) == 1
    assert index.stamp("r2", "xnli") != stamp  # same length, new generation


def test_view_modules_stay_light():
    loaded = top_level_modules_after(
        "xlt_tui.results_index", "xlt_tui.results_view", "xlt_tui.export"
    )
    assert not loaded & {"textual", "torch", "transformers", "matplotlib"}


# -- the XTREME table (x) -----------------------------------------------------------

# Per (intermediate, seed): xnli accuracy per language, xquad (EM, F1) per
# language, bucc2018 F1 per language. Task scores by hand (x100):
#   xnli    baseline s1 (80+60)/2 = 70, s2 (82+62)/2 = 72 -> 71.0
#           mnli     s1 (84+70)/2 = 77, s2 (86+72)/2 = 79 -> 78.0 (+7.0)
#   xquad   (EM+F1)/2 per language, then the mean over languages:
#           baseline s1 en (50+70)/2=60, ar (30+50)/2=40 -> 50; s2 62, 42 -> 52 -> 51.0
#           mnli     s1 en (60+80)/2=70, ar (40+60)/2=50 -> 60; s2 72, 52 -> 62 -> 61.0
#   bucc2018 on all four of XTREME's languages (de fr ru zh), so complete:
#           baseline s1 (40+50+40+50)/4 = 45, s2 47 -> 46.0
#           mnli     s1 (50+60+50+60)/4 = 55, s2 57 -> 56.0 (+10.0)
#   xnli (2 of 15 languages) and xquad (2 of 11) are partial: shown with their
#   coverage, left out of the overall score, which is bucc2018's alone (1/9).
XTREME_XNLI = {
    "baseline": {1: {"en": 0.80, "de": 0.60}, 2: {"en": 0.82, "de": 0.62}},
    "mnli": {1: {"en": 0.84, "de": 0.70}, 2: {"en": 0.86, "de": 0.72}},
}
XTREME_XQUAD = {  # (exact_match, f1)
    "baseline": {
        1: {"en": (0.50, 0.70), "ar": (0.30, 0.50)},
        2: {"en": (0.52, 0.72), "ar": (0.32, 0.52)},
    },
    "mnli": {
        1: {"en": (0.60, 0.80), "ar": (0.40, 0.60)},
        2: {"en": (0.62, 0.82), "ar": (0.42, 0.62)},
    },
}
XTREME_BUCC = {
    inter: {
        seed: {
            lg: low + 0.02 * (seed - 1) + 0.1 * (lg in ("fr", "zh"))
            for lg in "de fr ru zh".split()
        }
        for seed in (1, 2)
    }
    for inter, low in (("baseline", 0.40), ("mnli", 0.50))
}
XTREME_COLUMNS = ["xnli", "xquad", "bucc2018", "overall"]


def xtreme_records(run_id: str = "rx") -> list[dict]:
    out = []
    # The mnli rows first: the table still shows the baseline first.
    for inter in ("mnli", "baseline"):
        for seed in (1, 2):
            for lang, acc in XTREME_XNLI[inter][seed].items():
                r = rec(run_id, inter, "xnli", lang, seed, acc)
                out.append({**r, "metrics": {"accuracy": acc}})
            for lang, (em, f1) in XTREME_XQUAD[inter][seed].items():
                r = rec(run_id, inter, "xquad", lang, seed, f1)
                out.append(
                    {**r, "metric": "f1", "metrics": {"f1": f1, "exact_match": em}}
                )
            for lang, f1 in XTREME_BUCC[inter][seed].items():
                r = rec(run_id, inter, "bucc2018", lang, seed, f1)
                out.append({**r, "metric": "f1", "metrics": {"f1": f1}})
    return out


def make_xtreme_workspace(root: Path) -> Workspace:
    ws = Workspace.open(root)
    store = Store(ws.store_path)
    store.create_run(run("rd", 100.0))  # demo targets only
    store.create_run(run("rx", 200.0))
    store.add_results(
        [rec("rd", inter, "demo-topic", "en", 1, 0.7) for inter in ("baseline", "x")]
    )
    store.add_results(xtreme_records("rx"))
    return ws


def xtreme_heatmap(app):
    from xlt_tui.widgets.heatmap import Heatmap

    return results_screen(app).query_one("#results-xtreme", Heatmap)


def xtreme_cells(app) -> list[list[str]]:
    table = xtreme_heatmap(app)
    return [
        [str(row.label).strip(), *(str(c).strip() for c in table.get_row(row.key))]
        for row in table.ordered_rows
    ]


async def open_xtreme(app, pilot, run_id: str = "rx"):
    await open_run(app, pilot, run_id)
    await pilot.press("x")
    await wait_until(
        pilot,
        lambda: xtreme_heatmap(app).display and xtreme_heatmap(app).row_count > 0,
        describe=lambda: text_of(app, "#results-message"),
    )


async def test_x_shows_the_xtreme_table_of_the_run(tmp_path):
    app = make_app(make_xtreme_workspace(tmp_path / "ws"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_xtreme(app, pilot)
        header_ = [str(c.label).strip() for c in xtreme_heatmap(app).ordered_columns]
        assert header_ == XTREME_COLUMNS
        assert xtreme_cells(app) == [
            ["baseline", "71.0 (2/15)", "51.0 (2/11)", "46.0", "46.0 (1/9)"],
            ["mnli", "78.0 (2/15)", "61.0 (2/11)", "56.0", "56.0 (1/9)"],
        ]
        assert not heatmap(app).display and not heatmap(app, overview=True).display
        assert "XTREME" in text_of(app, "#results-status")
        # The caption is the legend's note.
        legend = text_of(app, "#results-legend")
        assert "mean of the complete, comparable tasks only" in legend
        assert "(k/n) is partial" in legend
        # The cursor starts on baseline × xnli; move to mnli × xquad.
        await pilot.press("down", "right")
        detail = text_of(app, "#results-detail")
        assert "mnli → XTREME [xquad]" in detail
        assert "seed 1: 60.0  seed 2: 62.0" in detail
        std = statistics.stdev([60.0, 62.0])
        assert f"mean 61.0 ± {std:.1f}" in detail
        assert "+10.0 against baseline 51.0" in detail
        assert "xquad: mean over its 2 languages (en, ar) of (EM+F1)/2" in detail
        assert "partial: 2 of XTREME's 11 languages" in detail
        await pilot.press("right", "right")  # overall: the caption says what
        detail = text_of(app, "#results-detail")
        assert "seed 1: 55.0  seed 2: 57.0" in detail
        assert "covers 1/9: bucc2018" in detail
        # x again: back to the target's heatmap.
        await pilot.press("x")
        await wait_until(pilot, lambda: heatmap(app).display)
        assert not xtreme_heatmap(app).display


async def test_xtreme_table_in_delta_mode(tmp_path):
    app = make_app(make_xtreme_workspace(tmp_path / "ws"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_xtreme(app, pilot)
        await pilot.press("d")
        await wait_until(pilot, lambda: xtreme_cells(app)[1][1].startswith("+"))
        assert xtreme_cells(app) == [  # the baseline, the reference: scores
            ["baseline", "71.0 (2/15)", "51.0 (2/11)", "46.0", "46.0 (1/9)"],
            ["mnli", "+7.0 (2/15)", "+10.0 (2/11)", "+10.0", "+10.0 (1/9)"],
        ]
        assert "change vs baseline" in text_of(app, "#results-legend")
        assert "complete, comparable tasks" in text_of(app, "#results-legend")
        table = xtreme_heatmap(app)

        def bg(row: int, column: int):
            cell = table.get_row_at(row)[column]
            style = Style.parse(str(cell.style)) if cell.style else Style()
            return style.bgcolor.triplet if style.bgcolor else None

        assert bg(0, 0) is None  # the baseline: uncoloured
        r, g, b = bg(1, 1)  # +10.0, the largest change: green
        assert g > r and g > b


async def test_xtreme_table_of_a_run_without_xtreme_targets_says_so(tmp_path):
    app = make_app(make_xtreme_workspace(tmp_path / "ws"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run(app, pilot, "rd")
        await pilot.press("x")
        await wait_until(
            pilot, lambda: "no XTREME target task" in text_of(app, "#results-message")
        )
        message = text_of(app, "#results-message")
        assert "this run (rd) has no XTREME target task" in message
        assert "demo-topic" in message and "xnli" in message
        assert results_screen(app).query_one("#results-message").display
        assert not xtreme_heatmap(app).display and not heatmap(app).display
        await pilot.press("d", "s", "f", "e")  # nothing to act on: no crash
        assert results_screen(app) is app.screen


async def test_enter_on_an_xtreme_task_opens_its_heatmap(tmp_path):
    app = make_app(make_xtreme_workspace(tmp_path / "ws"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_xtreme(app, pilot)
        await pilot.press("down", "right", "enter")  # mnli × xquad
        await wait_until(pilot, lambda: heatmap(app).display)
        assert results_screen(app).state.target == "xquad"
        assert heatmap(app).cursor_cell() == ("mnli", "avg")


async def test_e_exports_the_xtreme_table(tmp_path):
    ws = make_xtreme_workspace(tmp_path / "ws")
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_xtreme(app, pilot)
        await pilot.press("d", "e")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ExportDialog")
        await pilot.press("c")
        target = ws.root / "exports" / "rx-xtreme-test-delta.csv"
        await wait_until(pilot, target.exists)
        rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
        assert rows[0] == [
            "intermediate",
            "quantity",
            *XTREME_COLUMNS,
            "split",
            "marks",
        ]
        assert rows[1][:2] == ["baseline", "score"]
        assert [float(x) for x in rows[1][2:5]] == pytest.approx([71, 51, 46])
        assert float(rows[1][5]) == pytest.approx(46)
        marks = "xnli: (2/15) | xquad: (2/11) | overall: (1/9)"
        assert rows[1][6:] == ["test", marks]
        assert rows[2][:2] == ["mnli", "delta"]
        assert [float(x) for x in rows[2][2:6]] == pytest.approx([7, 10, 10, 10])
        # The file is the view on screen.
        assert target.read_text(encoding="utf-8") == to_csv(results_screen(app).xtreme)


def test_xtreme_view_values_groups_and_details():
    view = build_xtreme(xtreme_records(), SCORE, language_order, "rx")
    assert view.rows == ["baseline", "mnli"]
    assert view.columns == XTREME_COLUMNS and view.tasks == XTREME_COLUMNS[:3]
    assert view.value("mnli", "xquad") == pytest.approx(0.61)
    assert view.text("baseline", "overall") == "46.0 (1/9)"
    detail = view.detail("baseline", "bucc2018")
    assert detail.seeds == ((1, pytest.approx(0.45)), (2, pytest.approx(0.47)))
    assert detail.delta is None and detail.baseline is None
    assert "bucc2018: mean over its 4 languages (de, fr, ru, zh) of f1" in (
        detail.lines()
    )
    # A row without every task has no overall score, and says what it lacks.
    qqp = [rec("rx", "qqp", "xnli", "en", seed, 0.7) for seed in (1, 2)]
    view = build_xtreme(xtreme_records() + qqp, SCORE, language_order, "rx")
    assert view.rows == ["baseline", "mnli", "qqp"]
    assert view.text("qqp", "xnli") == "70.0 (1/15)"
    assert view.text("qqp", "overall") == "–"
    assert view.detail("qqp", "overall") is None
    assert view.missing("qqp", "overall") == ["xquad", "bucc2018"]
    assert view.averages("qqp", "xnli").endswith("; the baseline's: 2 languages")
    # A group whose tasks are all in the run gets a column, averaging its
    # complete tasks (pawsx on all 7 languages; xnli is partial) and saying so.
    recs = xtreme_records() + [
        {**rec("rx", inter, "pawsx", lg, seed, 0.9), "metrics": {"accuracy": 0.9}}
        for inter in ("baseline", "mnli")
        for seed in (1, 2)
        for lg in xtreme.TASK_LANGUAGES["pawsx"]
    ]
    view = build_xtreme(recs, DELTA, language_order, "rx")
    assert view.columns == [
        *("xnli", "pawsx", "xquad", "bucc2018"),
        *("classification", "overall"),
    ]
    assert view.value("mnli", "classification") == pytest.approx(0.0)
    assert view.averages("mnli", "classification") == (
        "classification: mean of the task scores of xnli, pawsx; covers 1/2: pawsx"
    )
    assert view.summary_columns == ("classification", "overall")
    # The markdown and LaTeX exports carry the caption.
    assert "mean of the complete, comparable tasks only" in to_markdown(view)
    # overall: pawsx and bucc2018, (0 + 10) / 2
    assert view.value("mnli", "overall") == pytest.approx(0.05)
    row = "| mnli | +7.0 (2/15) | +0.0 | +10.0 (2/11) | +10.0 | +0.0 (1/2) |"
    assert row + " +5.0 (2/9) |" in to_markdown(view)
    assert r"baseline & 71.0$\pm$1.4 (2/15)" in to_latex(view)


def test_xtreme_view_of_no_xtreme_records_is_empty_and_bad_records_raise():
    demo = [rec("rd", "baseline", "demo-topic", "en", 1, 0.7)]
    assert build_xtreme(demo).rows == []
    no_em = [rec("rq", "baseline", "xquad", "en", 1, 0.7)]  # F1 only
    with pytest.raises(ValueError, match="exact_match"):
        build_xtreme([{**r, "metric": "f1"} for r in no_em])


def test_xtreme_png_is_written(tmp_path):
    view = build_xtreme(xtreme_records(), DELTA, language_order, "rx")
    path = export_view(view, tmp_path, "png")
    assert path == tmp_path / "exports" / "rx-xtreme-test-delta.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- splits, not-comparable marks, provenance ----------------------------------------

PROVENANCE = {
    "xlt": "0.1.0",
    "git_commit": "0123456789abcdef0123",
    "device": "cpu",
    "precision": "fp32",
    "versions": {"torch": "2.5.1", "transformers": "4.46.0"},
}


def make_split_workspace(root: Path) -> Workspace:
    """Run "rs": xnli on test and on validation (0.013 higher, so a number of
    one split never equals one of the other); mnli's German test result is
    not comparable."""
    ws = Workspace.open(root)
    store = Store(ws.store_path)
    store.create_run({**run("rs", 100.0), "provenance": PROVENANCE})
    test = [
        {**r, "comparable": False, "not_comparable": "gold pairs only"}
        if r["intermediate"] == "mnli" and r["language"] == "de"
        else r
        for r in records_of("rs", "xnli", XNLI)
    ]
    validation = [
        {**r, "split": "validation", "value": r["value"] + 0.013}
        for r in records_of("rs", "xnli", XNLI)
    ]
    store.add_results(test + validation)
    return ws


async def test_split_selector_switches_the_heatmap(tmp_path):
    app = make_app(make_split_workspace(tmp_path / "ws"))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_run(app, pilot, "rs")
        # Validation by default, and the status line says so.
        assert text_of(app, "#results-status").startswith("validation split")
        screen = results_screen(app)
        assert screen.view.split == "validation"
        mnli = next(row for row in cells(app) if row[0] == "mnli")
        assert mnli[1:4] == ["83.3", "62.3", "73.3"]  # en ar de + 0.013
        select = screen.query_one("#results-split", SelectWidget)
        assert select.value == "validation"
        select.value = "test"
        await wait_until(pilot, lambda: results_screen(app).view.split == "test")
        assert text_of(app, "#results-status").startswith("test split")
        mnli = next(row for row in cells(app) if row[0] == "mnli")
        assert mnli[1:4] == ["82.0", "61.0", f"72.0{NOT_COMPARABLE}"]
        # v switches back; the overview and XTREME pages follow the choice.
        await pilot.press("v")
        await wait_until(pilot, lambda: results_screen(app).view.split == "validation")
        await pilot.press("o")
        await wait_until(pilot, lambda: results_screen(app).overview is not None)
        assert results_screen(app).overview.split == "validation"


async def test_not_comparable_mark_and_reason_show_without_colour(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(make_split_workspace(tmp_path / "ws"))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_run(app, pilot, "rs")
        await pilot.press("v")  # to test, where mnli/de is not comparable
        await wait_until(pilot, lambda: results_screen(app).view.split == "test")
        assert app.no_color
        screen_text = app.export_screenshot()
        assert f"72.0{NOT_COMPARABLE}" in screen_text  # the mark, uncoloured
        legend = text_of(app, "#results-legend")
        assert f"{NOT_COMPARABLE} not comparable: gold pairs only" in legend
        heatmap(app).move_to("mnli", "de")
        await pilot.pause(0.1)
        detail = text_of(app, "#results-detail")
        assert "mnli → xnli [de]" in detail and "· test" in detail
        assert f"{NOT_COMPARABLE} not comparable: gold pairs only" in detail
        # The run's provenance is in the panel too.
        assert "provenance: xlt 0.1.0 · git_commit 0123456789ab…" in detail
        assert "versions: torch 2.5.1, transformers 4.46.0" in detail
        # The average over the marked language is marked as well.
        mnli = next(row for row in cells(app) if row[0] == "mnli")
        assert mnli[-1].endswith(NOT_COMPARABLE)


def test_views_and_exports_carry_the_split_and_the_marks(tmp_path):
    records = make_split_workspace(tmp_path / "ws")
    recs = Store(records.store_path).results()
    view = build_view(recs, ViewState("rs", "xnli", split="test"), ("en", "ar", "de"))
    assert view.title == "xnli · accuracy · test"
    rows = list(csv.reader(io.StringIO(to_csv(view))))
    mnli = dict(zip(rows[0], next(r for r in rows if r[0] == "mnli"), strict=True))
    assert mnli["split"] == "test"
    assert mnli["de"] == "72.0"  # the number stays a number
    assert mnli["marks"] == (
        f"de: {NOT_COMPARABLE} not comparable: gold pairs only | "
        f"avg: {NOT_COMPARABLE} not comparable: gold pairs only"
    )
    md = to_markdown(view)
    assert "zero-shot, test split;" in md and f"72.0±2.8{NOT_COMPARABLE}" in md
    assert f"{NOT_COMPARABLE} not comparable: gold pairs only" in md
    assert r"$^\dagger$ not comparable: gold pairs only" in to_latex(view)
    assert export_view(view, tmp_path, "md").name == "rs-xnli-test-score.md"
    # A split the run lacks falls back to the default: validation.
    other = build_view(recs, ViewState("rs", "xnli", split="dev"), ())
    assert other.split == "validation"


async def test_damaged_result_lines_are_said_not_silently_skipped(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    with (ws.root / "results.jsonl").open("a", encoding="utf-8") as f:
        f.write("not json at all\n")
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run(app, pilot, "r1")

        def told() -> list[str]:
            return [str(n.message) for n in app._notifications]

        await wait_until(
            pilot, lambda: any("skipped damaged" in m for m in told()), describe=told
        )
        # The good lines are still shown.
        assert cells(app)[0][0] == "baseline"
