"""The paper's figures: drawn from plain inputs and from a run in a
workspace, saved as PNG/SVG/PDF, with the numbers a reader checks."""

from __future__ import annotations

import json
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from matplotlib.container import ErrorbarContainer
from typer.testing import CliRunner

from engine.cli import app
from engine.errors import InputError
from engine.figures.canvas import save
from engine.figures.correlation import pearson, ranks, spearman
from engine.figures.inputs import AVERAGE, Change, ValidationPoint
from engine.figures.languages import draw_languages
from engine.figures.learning_curve import draw_learning_curve
from engine.figures.main import draw_main
from engine.figures.ordering import read_ordering
from engine.figures.run_data import (
    changes_from_results,
    intermediate_validation,
    learning_curve,
    load_run,
    validation_points,
)
from engine.figures.validation_gain import correlation_title, draw_validation_gain
from engine.store import Store
from tests.figure_runs import (
    GAIN,
    INTERMEDIATES,
    RUN_ID,
    TARGETS,
    VALIDATION,
    write_run,
)


def changes(intervals: bool = True) -> list[Change]:
    out = []
    for t in ("xnli", "pawsx"):
        for i, name in enumerate(("mnli", "squad", "cosmos")):
            for lang in (AVERAGE, "de", "ru", "zh"):
                d = 0.01 * (i - 1)
                out.append(
                    Change(
                        t,
                        name,
                        lang,
                        0.7 + d,
                        d,
                        "accuracy",
                        d - 0.005 if intervals else None,
                        d + 0.005 if intervals else None,
                        (i != 1) if intervals else None,
                    )
                )
    return out


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def errorbars(fig) -> list[ErrorbarContainer]:
    return [
        c for ax in fig.axes for c in ax.containers if isinstance(c, ErrorbarContainer)
    ]


# -- correlation ------------------------------------------------------------


def test_pearson_and_spearman_match_hand_computed_values():
    xs, ys = [1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 4.0, 3.0]
    # mean 2.5 each; sxy = 3, sxx = syy = 5 -> r = 0.6
    assert pearson(xs, ys) == pytest.approx(0.6)
    # Monotone but not linear: Spearman 1, Pearson below 1.
    assert spearman([1, 2, 3, 4], [1, 4, 9, 100]) == pytest.approx(1.0)
    assert pearson([1, 2, 3, 4], [1, 4, 9, 100]) < 0.95
    assert ranks([10, 20, 20, 30]) == [1.0, 2.5, 2.5, 4.0]
    assert pearson([1, 2], [3, 4]) is None  # two points: r is always ±1
    assert pearson([1, 1, 1], [1, 2, 3]) is None


def test_validation_vs_gain_title_carries_the_correlations_and_n():
    points = [
        ValidationPoint(n, v, "accuracy", g, "accuracy")
        for n, v, g in (
            ("a", 0.1, 0.02),
            ("b", 0.2, 0.01),
            ("c", 0.3, 0.04),
            ("d", 0.4, 0.03),
        )
    ]
    title = correlation_title(points)
    assert title == "Pearson r = 0.60, Spearman rho = 0.60 (n = 4)"
    fig = draw_validation_gain(points, "test")
    assert "Pearson r = 0.60" in fig.axes[0].get_title()
    assert "few points (n = 4 < 10)" in fig.get_supxlabel()
    assert "undefined (n = 2" in correlation_title(points[:2])


# -- main figure --------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_main_figure_one_interval_series_per_intermediate(tmp_path, fmt):
    fig = draw_main(changes(), "test", "95% paired bootstrap")
    bars = errorbars(fig)
    assert len(bars) == 3  # one per intermediate
    assert all(len(b.lines[2][0].get_segments()) == 2 for b in bars)  # 2 targets
    ax = fig.axes[0]
    # Significant: filled; not significant (squad): hollow markers over them.
    hollow = [ln for ln in ax.lines if ln.get_markerfacecolor() == "white"]
    assert len(hollow) == 1 and len(hollow[0].get_xdata()) == 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["xnli", "pawsx"]
    assert any(ln.get_ydata()[0] == 0.0 for ln in ax.lines)  # the zero line
    # Deltas drawn in points: -1.0, 0.0, +1.0.
    ys = sorted({round(y, 6) for ln in ax.lines[:-1] for y in ln.get_ydata()})
    assert -1.0 in ys and 1.0 in ys
    path = save(fig, tmp_path / f"main.{fmt}")
    assert path.stat().st_size > 10_000
    if fmt == "png":
        width, height = png_size(path)
        assert width >= 900 and height >= 600
    elif fmt == "svg":
        assert ET.parse(path).getroot().tag.endswith("svg")
    else:
        assert path.read_bytes()[:5] == b"%PDF-"


def test_main_figure_without_intervals_says_so_and_draws_no_bars():
    fig = draw_main(changes(intervals=False), "test", "no intervals: reason")
    assert errorbars(fig) == []
    note = fig.get_supxlabel()
    assert "no intervals: reason" in note and "significance not tested" in note


def test_not_comparable_target_is_marked_with_its_reason():
    marked = [
        Change(
            c.target,
            c.intermediate,
            c.language,
            c.value,
            c.delta,
            c.metric,
            not_comparable=("subsampled",) if c.target == "pawsx" else (),
        )
        for c in changes(intervals=False)
    ]
    fig = draw_main(marked)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["xnli", "pawsx†"]
    assert "not comparable with the literature: subsampled" in fig.get_supxlabel()


# -- languages --------------------------------------------------------------


@pytest.mark.parametrize(
    "name,text",
    [
        ("order.toml", "zh = 0.9\nde = 0.2\nru = 0.5\n"),
        ("order.json", json.dumps({"zh": 0.9, "de": 0.2, "ru": 0.5})),
        ("order.csv", "language,distance\nzh,0.9\nde,0.2\nru,0.5\n"),
    ],
)
def test_languages_follow_the_users_ordering(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    ordering = read_ordering(tmp_path / name)
    fig = draw_languages(changes(), "xnli", ordering, "distance", "test")
    ticks = [t.get_text().split("\n")[0] for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["de", "ru", "zh"]
    assert "distance" in fig.axes[0].get_xlabel()
    assert len(errorbars(fig)) == 3
    assert all(len(b.lines[2][0].get_segments()) == 3 for b in errorbars(fig))


def test_languages_missing_from_the_ordering_come_last_and_are_named():
    fig = draw_languages(changes(), "xnli", {"zh": 1.0, "ru": 2.0}, "size")
    ticks = [t.get_text().split("\n")[0] for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["zh", "ru", "de"]
    assert "not in the ordering, drawn last: de" in fig.get_supxlabel()


@pytest.mark.parametrize(
    "name,text,expected",
    [
        ("o.toml", 'de = "far"\n', "key 'de': expected a number"),
        ("o.csv", "de,0.1\nru,far\n", "line 2: 'far' for 'ru' is no number"),
        ("o.yaml", "de: 1\n", "got '.yaml'"),
        ("o.json", "[1, 2]", "expected a table of language -> number"),
    ],
)
def test_bad_ordering_files_are_named_with_what_was_expected(
    tmp_path, name, text, expected
):
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=expected.replace("(", r"\(")) as info:
        read_ordering(tmp_path / name)
    assert name in str(info.value)


# -- from a run's store and events -------------------------------------------


@pytest.fixture
def run_ws(tmp_path):
    return write_run(tmp_path / "ws")


def test_changes_and_validation_scores_come_from_results_and_events(run_ws):
    data = load_run(run_ws, Store(run_ws), Store(run_ws).get_run(RUN_ID))
    found = changes_from_results(data.shown_results, data.split)
    avg = {(c.target, c.intermediate): c for c in found if c.language == AVERAGE}
    assert set(avg) == {(t, i) for t in TARGETS for i in INTERMEDIATES}
    for (_, name), c in avg.items():
        assert c.delta == pytest.approx(GAIN[name])
    assert avg["pawsx", "mnli"].not_comparable == ("test set subsampled to 100",)
    validation = intermediate_validation(data.events)
    for name, checks in VALIDATION.items():
        # The last check of each seed's stage, mean over the seeds.
        assert validation[name][0] == pytest.approx(sum(checks) / 2)
    points = {p.intermediate: p for p in validation_points(found, validation)}
    assert points["squad"].gain == pytest.approx(-0.02)


def test_learning_curve_from_events_marks_the_kept_step(run_ws, tmp_path):
    data = load_run(run_ws, Store(run_ws), Store(run_ws).get_run(RUN_ID))
    curve = learning_curve(data.events, "target/xnli/from-mnli/seed1")
    assert curve.steps == list(range(2, 42, 2))
    assert [c.step for c in curve.checks] == [10, 20, 30, 40]
    assert (curve.kept_step, curve.kept_how) == (30, "best validation")
    fig = draw_learning_curve(curve)
    ax = fig.axes[0]
    assert len(ax.lines[0].get_xdata()) == 20
    assert list(ax.lines[-1].get_xdata()) == [30, 30]  # the kept step's line
    checks = fig.axes[1].lines[0]
    assert list(checks.get_ydata()) == pytest.approx([60, 70, 75, 72])
    intermediate = learning_curve(data.events, "intermediate/mnli/seed1")
    assert (intermediate.kept_step, intermediate.kept_how) == (20, "last step")
    assert png_size(save(fig, tmp_path / "lc.png"))[0] > 600


runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        ["main"],
        ["languages", "--target", "xnli", "--format", "svg"],
        ["validation-vs-gain", "--format", "pdf"],
        ["learning-curve", "--stage", "target/xnli/from-mnli/seed1"],
    ],
)
def test_plot_command_writes_each_kind_into_exports(run_ws, args):
    result = runner.invoke(
        app, ["plot", *args, "--run", RUN_ID, "-w", str(run_ws.root)]
    )
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip())
    assert path.parent == run_ws.exports_dir and path.stat().st_size > 10_000


def test_plot_command_writes_to_the_given_path(run_ws, tmp_path):
    out = tmp_path / "figs" / "main.pdf"
    result = runner.invoke(
        app,
        [
            "plot",
            "main",
            "--run",
            RUN_ID,
            "--format",
            "pdf",
            "-o",
            str(out),
            "-w",
            str(run_ws.root),
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:5] == b"%PDF-"


@pytest.mark.parametrize(
    "args,message",
    [
        (["mian", "--run", RUN_ID], "unknown figure 'mian'; did you mean 'main'?"),
        (["main", "--run", "20261203-120000-fig-0002"], "did you mean '" + RUN_ID),
        (["languages", "--run", RUN_ID, "--target", "xnlj"], "did you mean 'xnli'?"),
        (["languages", "--run", RUN_ID], "choose one of xnli, pawsx"),
        (
            [
                "learning-curve",
                "--run",
                RUN_ID,
                "--stage",
                "target/xnli/from-mnli/seed2",
            ],
            "did you mean 'target/xnli/from-mnli/seed1'?",
        ),
        (
            ["main", "--run", RUN_ID, "--format", "jpg"],
            "'jpg' is not one of png, svg, pdf",
        ),
    ],
)
def test_plot_command_bad_input_exits_2_naming_the_nearest(run_ws, args, message):
    result = runner.invoke(app, ["plot", *args, "-w", str(run_ws.root)])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_plot_without_a_baseline_says_nothing_to_plot(tmp_path):
    ws = write_run(tmp_path / "ws", baseline=False)
    result = runner.invoke(app, ["plot", "main", "--run", RUN_ID, "-w", str(ws.root)])
    assert result.exit_code == 2
    assert "nothing to plot" in result.output
