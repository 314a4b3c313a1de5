"""The Runs list: progress and ETA (the Monitor's estimator), filter, sort,
the cursor that follows its run, and columns that fit 80 cells."""

from __future__ import annotations

import os
import re
import time

import pytest
from textual.widgets import DataTable, Input

from engine.control import process_start_time
from engine.store import Store
from tests.tui.conftest import T0, finished_run_events, run_record, write_events
from tests.tui.helpers import table_text, wait_until
from xlt_tui.app import XltApp
from xlt_tui.monitor_state import MonitorState
from xlt_tui.run_list import COLUMN_KEYS, RunFilter, fit_rows, sort_records
from xlt_tui.run_progress import RunProgress, record_fraction

LIVE = "20261126-100000-demo-live"
FINISHED = "20261126-080000-demo-a1b2"
FAILED = "20261126-085000-demo-c3d4"
CANCELLED = "20261126-092000-demo-e5f6"
COL = {key: i for i, key in enumerate(COLUMN_KEYS)}


def runs_table(app) -> DataTable:
    return app.screen.query_one("#runs-table", DataTable)


def ids(app) -> list[str]:
    return [r[0] for r in table_text(runs_table(app))]


def column(app, key: str) -> dict[str, str]:
    return {r[0]: r[COL[key]] for r in table_text(runs_table(app))}


def live_events(run_id: str) -> list[dict]:
    """The demo run halfway through its first of 2 stages, its last step a
    second ago (times moved to now, so the ETA is a live one)."""
    events = finished_run_events(run_id)[:8]  # header, run_start, stage, 5 steps
    shift = time.time() - 1 - events[-1]["t"]
    return [{**e, "t": e["t"] + shift} for e in events]


def add_live_run(ws, run_id: str = LIVE) -> list[dict]:
    """A running run whose engine is this test process (alive)."""
    record = run_record(run_id, "running", T0 + 9000, 0, ended_at=None)
    record.update(
        pid=os.getpid(),
        pid_start=process_start_time(os.getpid()),
        stages_done=0,
        stages_total=2,
        name="live-one",
    )
    Store(ws.store_path).create_run(record)
    events = live_events(run_id)
    write_events(ws, run_id, events)
    return events


def eta_seconds(text: str) -> int:
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    assert m and text, f"not a duration: {text!r}"
    h, mi, s = (int(x or 0) for x in m.groups())
    return 3600 * h + 60 * mi + s


# --------------------------------------------------------------------------
# progress and ETA


async def test_progress_and_eta_of_a_running_run_are_the_monitors(tui_workspace):
    events = add_live_run(tui_workspace)
    app = XltApp(tui_workspace, poll_seconds=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: column(app, "eta").get(LIVE))
        progress, eta = column(app, "progress"), column(app, "eta")
        # Halfway through stage 1 of 2: 25 %, the Monitor's overall progress.
        assert progress[LIVE] == "25%"
        state = MonitorState()
        state.apply_many(events)
        expected = state.overall_eta(time.time())
        assert expected is not None
        assert abs(eta_seconds(eta[LIVE]) - expected) <= 3
        # Ended runs: finished is 100 % without an ETA; failed and cancelled
        # show where they stopped (3 of 8 stages), no ETA either.
        assert (progress[FINISHED], eta[FINISHED]) == ("100%", "")
        assert (progress[FAILED], eta[FAILED]) == ("37%", "")
        assert (progress[CANCELLED], eta[CANCELLED]) == ("37%", "")


def test_progress_of_a_run_record():
    assert record_fraction({"status": "finished", "stages_done": 2}) == 1.0
    assert record_fraction(
        {"status": "failed", "stages_done": 3, "stages_total": 8}
    ) == pytest.approx(0.375)
    assert record_fraction({"status": "starting", "stages_done": 0}) is None
    assert RunProgress(0.999, None).percent_text == "99%"  # 100% only when done
    assert RunProgress(None, None).percent_text == ""


# --------------------------------------------------------------------------
# filter


async def test_filter_by_name_and_status_and_clear_it(tui_workspace):
    add_live_run(tui_workspace)
    app = XltApp(tui_workspace, poll_seconds=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: runs_table(app).row_count == 4)
        box = app.screen.query_one("#runs-filter", Input)
        assert not box.display
        await pilot.press("slash")
        assert box.display and box.has_focus
        await pilot.press(*"live-one")  # "v" (Results on this screen) is text here
        await wait_until(pilot, lambda: runs_table(app).row_count == 1)
        assert table_text(runs_table(app))[0][0] == LIVE
        box.value = "status:fail"  # a status by its start
        await wait_until(pilot, lambda: ids(app) == [FAILED])
        assert table_text(runs_table(app))[0][:3] == [FAILED, "demo", "failed"]
        box.value = "status:ended demo"  # a group, and a word of id or name
        await wait_until(pilot, lambda: ids(app) == [CANCELLED, FAILED, FINISHED])
        box.value = "status:runing"
        await wait_until(pilot, lambda: runs_table(app).row_count == 0)
        empty = app.screen.query_one("#runs-empty")
        assert "did you mean 'running'" in str(empty.render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: runs_table(app).row_count == 4)
        assert not box.display and runs_table(app).has_focus


def test_filter_words():
    records = [
        {"id": "20261126-080000-xnli-a1b2", "name": "xnli", "status": "finished"},
        {"id": "r2", "name": "pawsx", "status": "interrupted"},
        {"id": "r3", "name": "xnli-big", "status": "running"},
    ]

    def kept(text: str) -> list[str]:
        flt = RunFilter.parse(text)
        return [r["id"] for r in records if flt.keeps(r)]

    assert kept("") == ["20261126-080000-xnli-a1b2", "r2", "r3"]
    assert kept("XNLI") == ["20261126-080000-xnli-a1b2", "r3"]
    assert kept("name:big") == ["r3"]
    assert kept("status:live") == ["r3"]
    assert kept("status:int status:fin") == ["20261126-080000-xnli-a1b2", "r2"]
    assert kept("status:") == kept("")  # half-typed: no filter yet
    assert RunFilter.parse("status:faild").problem.endswith("did you mean 'failed'?")


# --------------------------------------------------------------------------
# sort and the cursor


async def test_sort_keys_and_header_clicks_keep_the_cursor_on_its_run(
    tui_workspace,
):
    app = XltApp(tui_workspace, poll_seconds=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: runs_table(app).row_count == 3)
        table = runs_table(app)
        assert [r[0] for r in table_text(table)] == [CANCELLED, FAILED, FINISHED]
        table.move_cursor(row=1)  # the failed run
        await pilot.pause(0.1)
        # Click "duration": longest first (5m53s, 2m10s, 1m15s).
        await pilot.click("#runs-table", offset=(column_x(table, "duration"), 0))
        await wait_until(pilot, lambda: table_text(table)[0][0] == FINISHED)
        assert [r[0] for r in table_text(table)] == [FINISHED, CANCELLED, FAILED]
        assert str(table.columns["duration"].label).endswith("▼")
        assert table_text(table)[table.cursor_row][0] == FAILED
        await pilot.press("S")  # reverse: shortest first
        await wait_until(pilot, lambda: table_text(table)[0][0] == FAILED)
        assert str(table.columns["duration"].label).endswith("▲")
        assert table_text(table)[table.cursor_row][0] == FAILED
        await pilot.press("s")  # the next column after duration: the run id
        await wait_until(pilot, lambda: "▲" in str(table.columns["run"].label))
        assert [r[0] for r in table_text(table)] == [FINISHED, FAILED, CANCELLED]
        assert table_text(table)[table.cursor_row][0] == FAILED
        # A new run appears; a filter that hides the followed run, then none.
        add_live_run(tui_workspace)
        await wait_until(pilot, lambda: table.row_count == 4)
        assert table_text(table)[table.cursor_row][0] == FAILED
        app.screen.query_one("#runs-filter", Input).value = "status:cancelled"
        await wait_until(pilot, lambda: table.row_count == 1)
        await pilot.pause(0.3)  # a few polls while the followed run is hidden
        app.screen.query_one("#runs-filter", Input).value = ""
        await wait_until(pilot, lambda: table.row_count == 4)
        assert table_text(table)[table.cursor_row][0] == FAILED


def column_x(table: DataTable, key: str) -> int:
    x = 0
    for column in table.ordered_columns:
        if column.key.value == key:
            return x + 2
        x += column.get_render_width(table)
    raise AssertionError(key)


def test_runs_without_a_value_sort_last_both_ways():
    records = [
        {"id": "a", "status": "finished", "started_at": 1.0},
        {"id": "b", "status": "starting", "started_at": 3.0},
        {"id": "c", "status": "failed", "started_at": 2.0},
    ]
    progress = {
        "a": RunProgress(1.0, None),
        "b": RunProgress(None, None),
        "c": RunProgress(0.5, None),
    }
    order = [
        [r["id"] for r in sort_records(records, progress, "progress", d, 10.0)]
        for d in (True, False)
    ]
    assert order == [["a", "c", "b"], ["c", "a", "b"]]


# --------------------------------------------------------------------------
# 80 columns


def test_columns_fit_80_cells_keeping_start_and_duration():
    labels = ["run", "name", "status", "stages", "progress", "ETA", "started ▼"]
    labels.append("duration")
    short = ["run", "name", "status", "stages", "done", "ETA", "started ▼", "took"]
    row = [CANCELLED, "demo", "cancelled", "3/8", "37%", "", "11-26 09:20", "2m10s"]
    live = [LIVE, "demo", "running", "3/8", "45%", "12m05s", "11-26 10:00", "3m00s"]
    fitted_labels, rows = fit_rows(labels, short, [row, live], 78)
    assert fitted_labels == short
    widths = [max(len(x), *(len(r[i]) for r in rows)) for i, x in enumerate(short)]
    assert sum(w + 2 for w in widths) <= 78
    # The id loses its head (the start date, shown under "started") at a dash.
    assert [r[0] for r in rows] == ["…092000-demo-e5f6", "…100000-demo-live"]
    assert [r[6:] for r in rows] == [row[6:], live[6:]]
    # Wide enough: nothing changes.
    assert fit_rows(labels, short, [row], 120) == (labels, [row])


async def test_the_list_fits_80_columns_with_a_live_run(tui_workspace):
    add_live_run(tui_workspace)
    app = XltApp(tui_workspace, poll_seconds=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: column(app, "eta").get("…demo-live"))
        table = runs_table(app)
        width = sum(c.get_render_width(table) for c in table.ordered_columns)
        assert width <= 78
        started = column(app, "started")
        assert started["…demo-live"] == "11-26 10:30"
        assert column(app, "duration")["…demo-e5f6"] == "2m10s"
        # The detail line still names the whole id of the run under the cursor.
        table.move_cursor(row=[r[0] for r in table_text(table)].index("…demo-e5f6"))
        await pilot.pause(0.1)
        detail = str(app.screen.query_one("#runs-detail").render())
        assert CANCELLED in detail
