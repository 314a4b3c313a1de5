"""A config with several bad values: every problem is reported, not only the
first. The error's message stays the first problem's one line (the CLI's
contract); the further ones follow it on the CLI and mark fields in the TUI."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.config import load_config, parse_config
from engine.config.loading import ConfigProblems
from engine.config.messages import all_problems
from engine.config.schema import ExperimentFile
from engine.errors import InputError
from tests.conftest import run_engine

THREE_BAD = """\
name = "several"
model = "xlt-tiny"
intermediate = ["demo-topic"]
targets = ["demo-xqa"]
seeds = [1]

[train.intermediate]
batch_size = 0

[train.target]
learning_rate = -1
warmup_ratio = 2
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def problems_of(raw: dict) -> tuple[ValidationError, dict]:
    with pytest.raises(ValidationError) as err:
        ExperimentFile.model_validate(raw)
    return err.value, raw


def test_every_bad_value_is_carried_with_its_key_line_and_message(tmp_path):
    path = write(tmp_path, THREE_BAD)
    with pytest.raises(ConfigProblems) as err:
        load_config(path)
    problems = err.value.problems
    assert [p.loc for p in problems] == [
        ("train", "intermediate", "batch_size"),
        ("train", "target", "learning_rate"),
        ("train", "target", "warmup_ratio"),
    ]
    assert [p.line for p in problems] == [8, 11, 12]
    assert problems[0].message == (
        "train.intermediate.batch_size: expected an integer >= 1, got 0"
    )
    assert problems[2].message.startswith("train.target.warmup_ratio: expected")
    # str() is still the one line the CLI has always printed: the first problem.
    assert str(err.value) == f"{path}:8: {problems[0].message}"
    assert isinstance(err.value, InputError)


def test_problems_are_ranked_unknown_key_then_missing_key_then_wrong_value():
    # An unknown key outranks a missing one, which outranks a wrong value.
    exc, raw = problems_of(
        {"targets": ["demo-xqa"], "seeds": ["x"], "train": {"learnin_rate": 1}}
    )
    problems = all_problems(exc, raw)
    assert problems[0].message.startswith("unknown key 'learnin_rate' in [train]")
    assert problems[1].message == "missing required key 'model'"
    assert problems[2].loc == ("seeds",)


def test_a_list_with_two_bad_items_is_one_problem():
    exc, raw = problems_of(
        {"model": "xlt-tiny", "targets": ["demo-xqa"], "seeds": ["x", "y"]}
    )
    assert len(exc.errors()) == 2  # pydantic: one per item
    problems = all_problems(exc, raw)
    assert len(problems) == 1
    assert problems[0].loc == ("seeds",)


def test_a_table_without_its_text_has_problems_without_lines():
    raw = {
        "model": "xlt-tiny",
        "targets": ["demo-xqa"],
        "train": {"intermediate": {"batch_size": 0, "epochs": 0}},
    }
    with pytest.raises(ConfigProblems) as err:
        parse_config(raw, "new-experiment.toml")
    assert [p.line for p in err.value.problems] == [None, None]
    assert str(err.value).startswith("new-experiment.toml: train.intermediate.")


def test_a_name_the_registry_does_not_know_carries_its_key(tmp_path):
    with pytest.raises(ConfigProblems) as err:
        parse_config({"model": "xlt-tiny", "targets": ["xnil"]}, "exp.toml")
    (problem,) = err.value.problems
    assert problem.loc == ("targets",)
    assert problem.message == "targets: unknown task 'xnil'; did you mean 'xnli'?"


def test_cli_prints_every_problem_after_the_first_and_exits_2(tmp_path):
    path = write(tmp_path, THREE_BAD)
    result = run_engine("run", str(path), "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0] == (
        f"error: {path}:8: train.intermediate.batch_size: "
        "expected an integer >= 1, got 0"
    )
    assert lines[1].startswith(f"  also: {path}:11: train.target.learning_rate: ")
    assert lines[2].startswith(f"  also: {path}:12: train.target.warmup_ratio: ")
    assert len(lines) == 3
    assert "Traceback" not in result.stderr


def test_cli_caps_the_further_problems(tmp_path):
    body = "name = 'many'\nmodel = 'xlt-tiny'\ntargets = ['demo-xqa']\n"
    body += "".join(f"unknown_{i} = 1\n" for i in range(13))
    path = write(tmp_path, body)
    result = run_engine("run", str(path), "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: {path}:4: unknown key 'unknown_0'")
    assert sum(line.startswith("  also: ") for line in lines) == 10
    assert lines[-1] == "  ... and 2 more"
