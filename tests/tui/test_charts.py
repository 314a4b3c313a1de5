"""The Monitor's loss / learning-rate bars (issue 15 item 6)."""

from __future__ import annotations

from xlt_tui.widgets.charts import bar_lines


def test_the_lowest_point_is_drawn_not_blank():
    rows = bar_lines([3.0, 2.0, 1.5, 1.0], width=10, height=2)
    bottom = rows[-1]
    assert bottom[3] == "▁"  # the lowest loss: the thinnest bar, still visible
    assert rows[0][0] == "█" and bottom[0] == "█"  # the highest: full height
    assert all(bottom[c] != " " for c in range(4))


def test_a_single_point_is_one_column_at_mid_height_not_a_filled_chart():
    rows = bar_lines([0.7], width=10, height=2)
    assert rows == [" " * 10, "█" + " " * 9]


def test_a_flat_series_sits_at_mid_height():
    rows = bar_lines([2.0e-5] * 30, width=10, height=2)
    assert rows == [" " * 10, "█" * 10]


def test_more_points_than_columns_are_averaged_into_the_width():
    rows = bar_lines([float(v) for v in range(100)], width=10, height=1)
    assert len(rows[0]) == 10
    assert rows[0][0] == "▁" and rows[0][-1] == "█"
