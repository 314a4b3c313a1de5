"""One way to print a score across the TUI (issue 15 item 4)."""

from __future__ import annotations

from engine.report import Cell, format_cell
from xlt_tui.score_text import score_text


def test_scores_are_rounded_not_cut():
    assert score_text(0.497, "accuracy") == "49.7"
    assert score_text(0.4996, "accuracy") == "50.0"  # rounded up, never "49"
    assert score_text(None, "accuracy") == ""


def test_metrics_not_read_as_percentages_keep_their_scale():
    assert score_text(12.36, "perplexity") == "12.4"
    assert score_text(0.5, "") == "0.5"  # unknown metric: as the engine shows it


def test_the_tui_prints_what_the_cli_prints():
    for value in (0.0996, 0.497, 0.81234, 0.99951):
        assert score_text(value, "f1") == format_cell(Cell(values=[value]), "f1")
