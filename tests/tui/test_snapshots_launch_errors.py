"""The Launch form with two bad fields, at 80x24, 120x40 and with NO_COLOR:
both fields marked (a heavy red border, a heavy one without colour too) and
both problems listed by key under the form. After an intended change, look
at the report, then `pytest tests/tui/test_snapshots_launch_errors.py
--snapshot-update`."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.tui.helpers import wait_until
from tests.tui.test_snapshots import make_app, no_gpu, settle  # noqa: F401

CASES = [((80, 24), False), ((120, 40), False), ((80, 24), True)]


def case_id(case) -> str:
    (width, height), no_color = case
    return f"{width}x{height}" + ("-no-color" if no_color else "")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_launch_form_with_two_bad_fields(snap_compare, tmp_path, monkeypatch, case):
    size, no_color = case
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")  # read by App.__init__
    app = make_app(tmp_path, "launch")

    async def before(pilot):
        check = pilot.app.screen.query_one("#check")
        await wait_until(pilot, lambda: str(check.render()).startswith("ok"))
        batch = pilot.app.screen.query_one("#hp-intermediate-batch_size", Input)
        batch.value = "0"
        pilot.app.screen.query_one("#hp-target-learning_rate", Input).value = "-1"
        await wait_until(pilot, lambda: str(check.render()).count("error:") == 2)
        await pilot.pause(0.1)  # the two-line check box laid out first
        batch.scroll_visible(animate=False)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=before)
