"""Exports of the results view: what is written is what is shown (languages
filtered, rows sorted, scores or changes), where the user is told."""

from __future__ import annotations

import csv
import io

import pytest

from tests.tui.helpers import wait_until
from tests.tui.test_results import make_app, make_workspace, open_run, r1_records
from xlt_tui.export import (
    export_all,
    export_path,
    export_view,
    to_csv,
    to_latex,
    to_markdown,
)
from xlt_tui.results_view import DELTA, ViewState, build_view

ORDER = ("en", "ar", "de")


def view_of(**state):
    return build_view(r1_records(), ViewState("r1", "xnli", **state), ORDER)


def test_csv_is_the_view_filtered_sorted_in_its_units():
    view = build_view(
        r1_records(),
        ViewState("r1", "xnli", hidden_languages=frozenset({"ar"})).sorted_by("en"),
        ORDER,
    )
    rows = list(csv.reader(io.StringIO(to_csv(view))))
    header = ["intermediate", "quantity", "en", "de", "avg", "split", "marks"]
    assert rows[0] == header
    assert [r[0] for r in rows[1:]] == ["baseline", "qqp", "anli", "mnli"]
    qqp = dict(zip(rows[0], rows[2], strict=True))
    assert qqp["quantity"] == "score"
    assert float(qqp["en"]) == pytest.approx(87.0)
    assert float(qqp["avg"]) == pytest.approx((87.0 + 65.0) / 2)


def test_csv_in_delta_mode_keeps_baseline_scores_and_marks_quantities():
    rows = list(csv.reader(io.StringIO(to_csv(view_of(mode=DELTA)))))
    assert rows[1][:3] == ["baseline", "score", "79.0"]
    assert rows[2][:2] == ["mnli", "delta"]
    assert [float(x) for x in rows[2][2:6]] == pytest.approx([3.0, 10.0, 11.0, 8.0])
    assert rows[2][6:] == ["test", ""]  # the split; no marks


def test_markdown_and_latex_match_the_view():
    view = build_view(
        r1_records(),
        ViewState("r1", "xnli", hidden_languages=frozenset({"de"})).sorted_by("ar"),
        ORDER,
    )
    md = to_markdown(view)
    assert "| intermediate | en | ar | avg |" in md
    lines = [ln for ln in md.splitlines() if ln.startswith("| ") and "---" not in ln]
    assert [ln.split(" | ")[0][2:] for ln in lines[1:]] == [
        "baseline",
        "mnli",
        "anli",
        "qqp",
    ]
    assert "| mnli | 82.0±2.8 | 61.0±1.4 | 71.5±2.1 |" in md
    assert "score" in md.splitlines()[0] and "avg over en, ar" in md.splitlines()[0]

    delta = build_view(r1_records(), ViewState("r1", "xnli", mode=DELTA), ORDER)
    md = to_markdown(delta)
    assert "| baseline | 79.0±1.4 | 51.0±1.4 | 61.0±1.4 | 63.7±1.4 |" in md
    assert "| qqp | +8.0 | -6.0 | +4.0 | +2.0 |" in md
    tex = to_latex(delta)
    assert r"baseline & 79.0$\pm$1.4 & 51.0$\pm$1.4" in tex
    assert r"qqp & +8.0 & -6.0 & +4.0 & +2.0 \\" in tex
    assert r"\begin{tabular}{lrrrr}" in tex and r"\bottomrule" in tex


def test_files_are_named_after_run_target_and_mode(tmp_path):
    view = view_of(mode=DELTA)
    path = export_view(view, tmp_path, "md")
    assert path == tmp_path / "exports" / "r1-xnli-test-delta.md"
    assert path.read_text(encoding="utf-8") == to_markdown(view)
    assert export_path(tmp_path, view_of(), "csv").name == "r1-xnli-test-score.csv"
    with pytest.raises(ValueError, match="unknown export format"):
        export_view(view, tmp_path, "xlsx")


def test_png_is_a_real_image_of_the_heatmap(tmp_path):
    import matplotlib.image

    view = view_of(mode=DELTA)
    paths = export_all(view, tmp_path)
    assert [p.suffix for p in paths] == [".csv", ".md", ".tex", ".png"]
    png = tmp_path / "exports" / "r1-xnli-test-delta.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(png)
    height, width = pixels.shape[:2]
    assert width >= 600 and height >= 400  # 200 dpi, not a thumbnail
    # Not blank: the diverging colours are in it (some strongly green pixels).
    rgb = pixels[..., :3]
    green = (rgb[..., 1] > rgb[..., 0] + 0.2) & (rgb[..., 1] > rgb[..., 2] + 0.2)
    assert green.sum() > 1000
    # Only the finished files: no partial copy left behind.
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == [
        "r1-xnli-test-delta.csv",
        "r1-xnli-test-delta.md",
        "r1-xnli-test-delta.png",
        "r1-xnli-test-delta.tex",
    ]


async def test_e_exports_the_view_and_says_where(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run(app, pilot)
        await pilot.press("d", "right", "s")  # changes, sorted by "ar"
        await pilot.press("e")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ExportDialog")
        await pilot.press("c")
        target = ws.root / "exports" / "r1-xnli-test-delta.csv"
        await wait_until(pilot, target.exists)
        await wait_until(
            pilot, lambda: any(str(target) in n.message for n in app._notifications)
        )
        rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
        assert [r[0] for r in rows[1:]] == ["baseline", "mnli", "anli", "qqp"]
        assert rows[2][1] == "delta"
