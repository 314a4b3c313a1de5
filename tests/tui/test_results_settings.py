"""The Results screen's significance settings (issue 15): `i` opens the
resamples / bootstrap seed / correction dialog; a change recomputes the
heatmap's marks and says so in the legend; a value the engine refuses is
refused in place with the engine's message; the CSV export writes the
interval fields of `xlt-engine results --ci --format csv`, under the same
names and with the same numbers. Workspace: tests/test_results_ci.py's
constructed predictions (no training)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest
from textual.widgets import Input, Select, Static

from engine.significance import SignificanceSettings
from tests.test_results_ci import results
from tests.tui.helpers import wait_until
from tests.tui.test_results import make_app, open_run, results_screen, text_of
from tests.tui.test_significance import marked, row, workspace
from xlt_tui.screens.results import ResultsScreen
from xlt_tui.screens.significance_dialog import SignificanceDialog


@pytest.fixture(autouse=True)
def fewer_resamples(monkeypatch):
    """200 resamples keep each table well under a second."""
    settings = SignificanceSettings(n_resamples=200, seed=0, correction="holm")
    monkeypatch.setattr(ResultsScreen, "significance_settings", settings)


async def open_dialog(app, pilot) -> SignificanceDialog:
    await pilot.press("i")
    await wait_until(pilot, lambda: isinstance(app.screen, SignificanceDialog))
    dialog = app.screen
    assert isinstance(dialog, SignificanceDialog)
    return dialog


async def submit(pilot, dialog, resamples: str, correction: str | None = None):
    if correction is not None:
        dialog.query_one("#significance-correction", Select).value = correction
    field = dialog.query_one("#significance-resamples", Input)
    field.value = resamples
    field.focus()
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause(0.05)


async def test_changing_resamples_and_correction_recomputes_marks(tmp_path):
    app = make_app(workspace(tmp_path / "ws"))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_run(app, pilot)
        await pilot.press("d")
        await marked(app, pilot)
        assert row(app, "fixer")[1:] == ["+9.0*", "+9.0*", "+9.0*"]
        assert "after Holm over 6 comparisons" in text_of(app, "#results-legend")
        # 10 resamples: the smallest bootstrap p is 1/11 > 0.05, so no change
        # can be significant any more: the marks go.
        dialog = await open_dialog(app, pilot)
        assert dialog.query_one("#significance-resamples", Input).value == "200"
        await submit(pilot, dialog, "10", correction="bh")
        screen = results_screen(app)
        assert app.screen is screen
        await wait_until(
            pilot,
            lambda: (
                screen.view is not None
                and screen.view.significance is not None
                and screen.view.significance.settings.n_resamples == 10
            ),
            describe=lambda: text_of(app, "#results-legend"),
        )
        await pilot.pause(0.05)
        assert row(app, "fixer")[1:] == ["+9.0", "+9.0", "+9.0"]
        legend = text_of(app, "#results-legend")
        assert "10 resamples, seed 0" in legend
        assert "after Benjamini-Hochberg over 6 comparisons" in legend
        # Kept for the session: the dialog opens on the new settings, and the
        # compare screen gets them too.
        dialog = await open_dialog(app, pilot)
        assert dialog.query_one("#significance-resamples", Input).value == "10"
        assert dialog.query_one("#significance-correction", Select).value == "bh"
        await pilot.press("escape")
        assert screen.significance_settings.correction == "bh"


async def test_invalid_resamples_is_refused_with_the_engines_message(tmp_path):
    app = make_app(workspace(tmp_path / "ws"))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_run(app, pilot)
        await marked(app, pilot)
        dialog = await open_dialog(app, pilot)
        await submit(pilot, dialog, "0")
        assert app.screen is dialog  # still open, nothing applied
        error = str(dialog.query_one("#significance-error", Static).render())
        assert "--resamples: 0 is not a number of resamples" in error
        assert "expected a positive integer (default 1000)" in error
        await submit(pilot, dialog, "")
        error = str(dialog.query_one("#significance-error", Static).render())
        assert "--resamples: '' is not an integer (default 1000)" in error
        await pilot.press("escape")
        screen = results_screen(app)
        assert screen.significance_settings.n_resamples == 200
        assert "200 resamples, seed 0" in text_of(app, "#results-legend")


async def test_csv_export_has_the_clis_interval_columns_and_numbers(tmp_path):
    ws = workspace(tmp_path / "ws")
    app = make_app(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_run(app, pilot)
        await marked(app, pilot)
        await pilot.press("e", "c")
        wide = ws.root / "exports" / "r1-sent-test-score.csv"
        path = ws.root / "exports" / "r1-sent-test-score-intervals.csv"
        await wait_until(pilot, lambda: path.exists() and wide.exists())
    ours = list(csv.DictReader(io.StringIO(path.read_text())))
    code, out = results(
        ws.root, "--run", "r1", "--ci", "--resamples", "200", "--format", "csv"
    )
    assert code == 0, out
    cli = list(csv.DictReader(io.StringIO(out)))
    interval_columns = [
        "delta", "ci_low", "ci_high", "p", "p_adjusted", "significant",
        "n_paired", "n_resamples", "bootstrap_seed", "correction", "collapsed",
        "no_ci",
    ]  # fmt: skip
    assert set(interval_columns) <= set(cli[0])
    assert set(cli[0]) - {"seed", "model", "n_examples", "stage_key"} <= set(ours[0])

    def cell(rows, intermediate, language):
        (found,) = [
            r
            for r in rows
            if r["target"] == "sent"
            and r["intermediate"] == intermediate
            and r["language"] == language
        ]
        return {k: found[k] for k in interval_columns}

    for intermediate, language in [
        *((i, lg) for i in ("fixer", "same") for lg in ("en", "de", "avg")),
        ("old", "en"),  # no predictions file: no interval, the reason in no_ci
        ("old", "de"),
    ]:
        assert cell(ours, intermediate, language) == cell(
            cli, intermediate, language
        ), (intermediate, language)
    fixer = cell(ours, "fixer", "avg")
    assert fixer["significant"] == "True" and float(fixer["ci_low"]) > 0
    old = cell(ours, "old", "en")
    assert old["ci_low"] == "" and "predictions" in old["no_ci"]
    # The CLI writes no average row without an interval; the file says why.
    assert "predictions" in cell(ours, "old", "avg")["no_ci"]


async def test_no_intervals_file_before_intervals_are_computed(tmp_path):
    from xlt_tui.export import export_files

    app = make_app(workspace(tmp_path / "ws"))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_run(app, pilot)
        await marked(app, pilot)
        view = results_screen(app).view
    unmarked = replace(view, significance=None)
    paths = export_files(unmarked, tmp_path / "out", "csv")
    assert [p.name for p in paths] == ["r1-sent-test-score.csv"]
    paths = export_files(view, tmp_path / "out", "csv")
    assert [p.name for p in paths] == [
        "r1-sent-test-score.csv",
        "r1-sent-test-score-intervals.csv",
    ]
