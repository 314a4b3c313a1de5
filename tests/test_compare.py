"""`xlt-engine compare A B`: the paired difference B - A per (target,
language) on the examples both evaluated, and clear refusals of bad names."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from engine.cli import app
from tests.test_results_ci import BALANCED, BASE, FIXER, add_result, build


def compare(root, *args):
    got = CliRunner().invoke(app, ["compare", "-w", str(root), *args])
    return got.exit_code, got.output


def cells(output: str) -> dict:
    data = json.loads(output)
    return {(c["target"], c["language"], c["choice"]): c for c in data["cells"]}


def test_two_choices_of_one_run(tmp_path):
    root = build(tmp_path)
    code, out = compare(root, "r1:baseline", "r1:fixer", "-f", "json",
                        "--resamples", "300")  # fmt: skip
    assert code == 0, out
    got = cells(out)
    en = got["sent", "en", "baseline -> fixer"]
    assert abs(en["delta"] - 0.09) < 1e-9 and en["ci_low"] > 0
    assert en["significant"] is True and en["n_paired"] == 200
    assert en["correction"] == "holm" and en["n_resamples"] == 300
    # The other way round: the change flips sign.
    code, out = compare(root, "r1:fixer", "r1:baseline", "-f", "json")
    assert abs(cells(out)["sent", "de", "fixer -> baseline"]["delta"] + 0.09) < 1e-9


def test_two_runs_pair_on_shared_examples(tmp_path):
    root = build(tmp_path)
    # r2 scored only the first 150 en examples, all of them right.
    add_result(root, "r2", "baseline", "en", BALANCED[:150], BALANCED[:150])
    code, out = compare(root, "r1", "r2", "-f", "json", "--resamples", "200")
    assert code == 0, out
    got = cells(out)
    assert list(got) == [("sent", "en", "baseline")]  # the one shared cell
    cell = got["sent", "en", "baseline"]
    assert cell["n_paired"] == 150 and (cell["n_a"], cell["n_b"]) == (200, 150)
    base_right = sum(p == g for p, g in zip(BASE[:150], BALANCED[:150], strict=True))
    assert abs(cell["delta"] - (1 - base_right / 150)) < 1e-9
    code, out = compare(root, "r1", "r2")
    assert code == 0 and "150 (200, 150)" in out, out


def test_table_output_marks_and_legend(tmp_path):
    root = build(tmp_path)
    code, out = compare(root, "r1:baseline", "r1:fixer", "--resamples", "200")
    assert code == 0, out
    assert "+9.0 [" in out and "]*" in out
    assert "significant at 0.05 after Holm over 2 comparisons" in out


def test_bad_names_exit_2(tmp_path):
    root = build(tmp_path)
    add_result(root, "r3", "baseline", "fr", FIXER, BALANCED, target="other")
    code, out = compare(root, "r9", "r1")
    assert code == 2 and "no run 'r9'" in out and "runs: r1, r3" in out
    code, out = compare(root, "r1:baseline", "r1:fixr")
    assert code == 2 and "no results for intermediate 'fixr'" in out
    assert "its choices: fixer" in out
    code, out = compare(root, "r1", "r3")
    assert code == 2 and "in common" in out and "sent/en" in out and "other/fr" in out
    code, out = compare(root, "r1", "r1:fixer", "--target", "nope")
    assert code == 2 and "has results for 'nope'; their targets: sent" in out
    assert "Traceback" not in out
