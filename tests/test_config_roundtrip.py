"""A resolved config written back as TOML loads to the same experiment: what a
run stores as its config.toml is what it ran."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import tomli_w

from engine.config import GenerationSettings, load_config, parse_config
from engine.pipeline import make_plan
from tests.conftest import REPO, experiment_toml, write_sentiment_files

SAMPLES = sorted((REPO / "sample_configs").glob("*.toml"))
DEMO_DATA = REPO / "engine" / "tasks" / "demo_data"

EVERYTHING = """
baseline = false
device = "cpu"
precision = "bf16"
seeds = [1, 2]
allow_code_execution = true
[languages]
sent = ["de"]

[groups.both]
tasks = ["demo-topic", "demo-trivia-qa"]
sampling = "capped"
cap = 100

[generation]
do_sample = true
n_samples = 4
temperature = 0.7
stop_sequences = ["\\n\\n"]

[data.xnli]
revision = "abc123"

[data.demo-xqa.files]
train = "xqa/train.en.jsonl"
validation = "xqa/validation.en.jsonl"
[data.demo-xqa.files.test]
de = "xqa/test.de.jsonl"

[tasks.pairs]
kind = "pair_classification"
labels = ["same", "different"]
roles = ["intermediate"]  # it has test data, but is not to be a target
files = { train = "data/train.jsonl", test = { de = "data/test.de.jsonl" } }

[train.target]
epochs = 2

[train.tasks.demo-xqa]
max_seq_length = 96
doc_stride = 32

[train.tasks.sent]
epochs = 1
"""


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_every_sample_config_round_trips(sample):
    config = load_config(sample)
    assert parse_config(config.to_toml_dict(), sample) == config


@pytest.fixture
def everything(tmp_path: Path) -> Path:
    write_sentiment_files(tmp_path / "data")
    shutil.copytree(DEMO_DATA / "demo-xqa", tmp_path / "xqa")
    body = experiment_toml(
        intermediate=("sent", "both", "pairs"),
        targets=("sent", "demo-xqa"),
    )
    # The experiment's top-level keys must come before its first table.
    head, tables = body.split("[train]", 1)
    path = tmp_path / "exp.toml"
    path.write_text(
        head.replace("seeds = [1]\n", "") + EVERYTHING + "[train]" + tables,
        encoding="utf-8",
    )
    return path


def test_a_config_using_every_table_round_trips(everything):
    config = load_config(everything)
    # It really uses what it is meant to test.
    assert set(config.tasks) == {"sent", "pairs", "xnli", "demo-xqa"}
    assert config.groups["both"].cap == 100
    assert config.task_overrides == {
        "demo-xqa": {"max_seq_length": 96, "doc_stride": 32},
        "sent": {"epochs": 1.0},
    }
    assert config.generation != GenerationSettings()
    assert config.generation.stop_sequences == ("\n\n",)
    assert config.task("pairs").roles == ("intermediate",)
    assert (
        config.task("demo-xqa")
        .source.files[("test", "de")]
        .endswith("xqa/test.de.jsonl")
    )
    assert config.target_hparams.epochs == 2.0
    assert parse_config(config.to_toml_dict(), everything) == config


def test_the_resolved_file_loads_anywhere_to_the_same_plan(everything, tmp_path):
    config = load_config(everything)
    elsewhere = tmp_path / "run" / everything.name  # relative paths resolved
    elsewhere.parent.mkdir()
    elsewhere.write_text(tomli_w.dumps(config.to_toml_dict()), encoding="utf-8")
    again = load_config(elsewhere)
    assert dataclasses.replace(again, source_file=config.source_file) == config
    keys = [[s.key for s in make_plan(c, None).stages] for c in (config, again)]
    assert keys[0] == keys[1] and keys[0]
