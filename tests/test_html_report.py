"""`xlt-engine report RUN`: one self-contained HTML file, checked as a
browser would read it (no browser is installed on the test machines: the
document is parsed strictly with html.parser instead)."""

from __future__ import annotations

import base64
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli import app
from tests.figure_runs import HOSTILE_NAME, RUN_ID, write_run

VOID = {"meta", "img", "br", "hr", "link", "input", "source", "wbr", "col"}


class StrictParser(HTMLParser):
    """Fails on what a browser would silently repair: unbalanced or
    misnested tags, and records every element for the checks below."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.doctype = ""

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("report") / "ws"
    ws = write_run(root)
    result = CliRunner().invoke(app, ["report", RUN_ID, "-w", str(root)])
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip())
    assert path == ws.export_file(f"{RUN_ID}-report.html")
    return path, path.read_text(encoding="utf-8")


def test_report_parses_strictly_as_one_balanced_document(report):
    _, text = report
    parser = StrictParser()
    parser.feed(text)
    parser.close()
    assert parser.doctype.lower() == "doctype html"
    assert parser.errors == []
    assert parser.stack == []  # every element closed
    assert [t for t, _ in parser.tags][:2] == ["html", "head"]


def test_report_is_self_contained(report):
    _, text = report
    parser = StrictParser()
    parser.feed(text)
    for tag, attrs in parser.tags:
        assert tag not in ("script", "link", "iframe", "object")
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith("data:"), (tag, name, value)
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text)
    assert "@import" not in text and "url(" not in text


def test_report_escapes_a_hostile_config_name(report):
    _, text = report
    assert "<script" not in text.lower()
    assert "fig&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    # And the reader sees the name as it was written.
    assert HOSTILE_NAME in unescape(text)


def test_report_has_the_figures_inline_as_png(report):
    _, text = report
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    # main, one per target (2), validation-vs-gain, and learning curves of the
    # 6 intermediate stages and 1 target stage.
    assert len(images) == 1 + 2 + 1 + 7
    for encoded in images:
        data = base64.b64decode(encoded)
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    assert "not drawn" not in text


def test_report_has_tables_config_provenance_and_not_comparable_notes(report):
    _, text = report
    plain = unescape(text)
    assert "<caption>xnli · accuracy · test split</caption>" in plain
    # mnli on xnli: de 0.643 (mean of seeds 0.642, 0.644), +4.0 over baseline.
    assert "64.3 ± 0.1" in plain and "+4.0" in plain
    assert "pawsx" in plain and "† not comparable: test set subsampled to 100" in plain
    assert 'model = "xlt-tiny"' in plain and "seeds = [" in plain  # config as TOML
    assert "abc123" in plain and "Provenance" in plain
    assert "no intervals" in plain  # this run kept no per-example predictions


def test_report_of_an_unknown_run_exits_2(tmp_path):
    root = tmp_path / "ws"
    write_run(root)
    result = CliRunner().invoke(app, ["report", "nope", "-w", str(root)])
    assert result.exit_code == 2
    assert "no run 'nope'" in result.output


@pytest.mark.slow
def test_report_of_a_real_run_shows_intervals(experiment, workspace):
    from tests.conftest import run_engine

    config = experiment(name="report<b>", languages=("en", "de"), epochs=1)
    ran = run_engine("run", str(config), "--workspace", str(workspace))
    assert ran.returncode == 0, ran.stderr
    run_id = next((workspace / "runs").iterdir()).name
    done = run_engine("report", run_id, "--workspace", str(workspace))
    assert done.returncode == 0, done.stderr
    text = Path(done.stdout.strip()).read_text(encoding="utf-8")
    parser = StrictParser()
    parser.feed(text)
    assert parser.errors == [] and parser.stack == []
    assert "report&lt;b&gt;" in text and "<b>" not in text
    # The tiny run keeps per-example predictions: paired-bootstrap intervals.
    assert "95% interval of the change" in text
    assert re.search(r"\[[+-]\d+\.\d, [+-]\d+\.\d\]", text)
    drawn = run_engine("plot", "main", "--run", run_id, "--workspace", str(workspace))
    assert drawn.returncode == 0, drawn.stderr
    assert Path(drawn.stdout.strip()).stat().st_size > 10_000


def test_a_collapsed_model_is_flagged_in_the_report_and_the_figures(tmp_path):
    """A baseline predicting the majority class of skewed gold: its score and
    every change against it carry the collapse mark, with the reason, and the
    majority/chance levels stand beside the scores."""
    from engine.figures.from_run import run_changes
    from engine.figures.run_data import load_run
    from engine.html_report import build_report
    from engine.store import Store
    from engine.workspace import Workspace
    from tests.test_results_ci import add_result

    gold = ["neg"] * 170 + ["pos"] * 30  # 85% majority
    learner = ["neg"] * 150 + ["pos"] * 20 + ["pos"] * 30  # predicts both
    for lang in ("en", "de"):
        add_result(tmp_path, "c1", "baseline", lang, ["neg"] * 200, gold)
        add_result(tmp_path, "c1", "mnli", lang, learner, gold)
    ws = Workspace.open(tmp_path)
    store = Store(ws)
    store.update_run("c1", name="skewed", config={"model": "xlt-tiny"})
    data = load_run(ws, store, store.get_run("c1"))
    html = build_report(data)
    assert "85.0!" in unescape(html)  # the baseline's score, marked
    assert "majority / chance" in html and "85.0 / 50.0" in html
    assert "! collapsed: baseline on en predicts &#x27;neg&#x27; for 100%" in html
    changes, _ = run_changes(data)
    mnli = [c for c in changes if c.intermediate == "mnli"]
    assert mnli and all(any("baseline on" in why for why in c.collapsed) for c in mnli)
