"""The footer of each mode (and the Monitor) keeps Help and Quit in view at
80 columns: compact keys, the current mode's own key left out, the less used
keys in Help only. Checked on the widgets, and as SVG snapshots at 80x24,
120x40 and without colour (NO_COLOR)."""

from __future__ import annotations

import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from tests.tui.test_snapshots import FINISHED, make_app, no_gpu, settle

__all__ = ["no_gpu"]  # the autouse fixture: no GPU reading in any of these

SCREENS = ("runs", "launch", "results", "monitor")
CASES = {"80x24": ((80, 24), False), "120x40": ((120, 40), False)}
CASES["80x24-no-colour"] = ((80, 24), True)


def build(tmp_path, screen: str):
    """The app, and what to do before looking at `screen`."""
    mode = "runs" if screen == "monitor" else screen
    app = make_app(tmp_path, mode)

    async def before(pilot) -> None:
        await settle(pilot, 0.3)
        if screen == "monitor":  # its tailer and polls never end: no settle
            pilot.app.open_monitor(FINISHED)
            await pilot.pause(1.0)
            return
        if screen == "results":
            pilot.app.open_results(FINISHED)
        await settle(pilot)

    return app, before


@pytest.mark.parametrize("screen", SCREENS)
async def test_help_and_quit_are_in_view_at_80_columns(tmp_path, screen):
    app, before = build(tmp_path, screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await before(pilot)
        footer = app.screen.query_one(Footer)
        keys = list(footer.query(FooterKey))
        palette = next(k for k in keys if k.has_class("-command-palette"))
        shown = {k.description: k.region for k in keys if k is not palette}
        for name in ("Help", "Quit"):
            assert name in shown, f"{name} is not in the footer: {list(shown)}"
            region = shown[name]
            # Whole, and left of the palette key docked on the right.
            assert 0 <= region.x and region.right <= palette.region.x, (
                f"{name} at columns {region.x}-{region.right}, the palette key "
                f"from {palette.region.x}"
            )


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("screen", SCREENS)
def test_footer_snapshot(snap_compare, tmp_path, monkeypatch, screen, case):
    size, no_colour = CASES[case]
    if no_colour:  # read by textual's App.__init__
        monkeypatch.setenv("NO_COLOR", "1")
    app, before = build(tmp_path, screen)
    assert snap_compare(app, terminal_size=size, run_before=before)
