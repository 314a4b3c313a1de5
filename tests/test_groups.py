"""Multi-task intermediate groups and per-task hyperparameters: config,
plan and a real multi-task stage on the tiny model."""

from __future__ import annotations

import json
import textwrap

import pytest

from engine.config import load_config
from engine.errors import InputError
from engine.pipeline import IntermediateStage, make_plan
from tests.conftest import run_engine


def write(tmp_path, body: str):
    path = tmp_path / "exp.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


BASE = """
name = "groups"
model = "xlt-tiny"
intermediate = ["demo-topic", "both"]
targets = ["demo-xqa"]
languages = { demo-xqa = ["en", "de"] }
seeds = [1]

[groups.both]
tasks = ["demo-topic", "demo-trivia-qa"]
sampling = "temperature"
temperature = 2.0

[train]
max_steps = 6
batch_size = 8
max_seq_length = 64
max_eval_examples = 40
log_every = 2

[train.tasks.demo-xqa]
max_seq_length = 96
"""


def test_group_is_one_intermediate_choice_trained_once(tmp_path):
    config = load_config(write(tmp_path, BASE))
    assert config.members("both") == ("demo-topic", "demo-trivia-qa")
    plan = make_plan(config, None)
    inter = [s for s in plan.stages if isinstance(s, IntermediateStage)]
    assert [(s.task, s.members) for s in inter] == [
        ("demo-topic", ("demo-topic",)),
        ("both", ("demo-topic", "demo-trivia-qa")),
    ]
    assert len({s.key for s in inter}) == 2
    summary = plan.summary()
    assert summary["intermediate_trainings"] == 2
    assert summary["target_trainings"] == 3  # baseline, demo-topic, both


def test_per_task_hyperparameters_apply_to_that_task_only(tmp_path):
    config = load_config(write(tmp_path, BASE))
    assert config.hparams_for("target", "demo-xqa").max_seq_length == 96
    assert config.hparams_for("intermediate", "demo-topic").max_seq_length == 64
    longer = load_config(write(tmp_path, BASE.replace("= 96", "= 128")))
    first = {s.id: s.key for s in make_plan(config, None).stages}
    second = {s.id: s.key for s in make_plan(longer, None).stages}
    changed = {sid for sid in first if first[sid] != second[sid]}
    assert changed == {s for s in first if s.startswith("target/")}


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            ('tasks = ["demo-topic", "demo-trivia-qa"]', 'tasks = ["demo-topic"]'),
            "groups.both.tasks: a group needs at least two tasks",
        ),
        (('"demo-trivia-qa"]', '"demo-trivia"]'), "did you mean 'demo-trivia-qa'"),
        (
            ('sampling = "temperature"', 'sampling = "capped"'),
            'groups.both.cap: sampling = "capped" needs cap',
        ),
        (
            ('sampling = "temperature"', 'sampling = "temprature"'),
            "did you mean 'temperature'",
        ),
        (
            (
                "[train.tasks.demo-xqa]\nmax_seq_length = 96",
                "[train.tasks.demo-xqa]\nmax_seq_lenght = 96",
            ),
            "did you mean 'max_seq_length'",
        ),
        (("[train.tasks.demo-xqa]", "[train.tasks.demo-xq]"), "train.tasks.demo-xq"),
    ],
)
def test_bad_groups_and_task_overrides_are_named(tmp_path, edit, message):
    body = BASE.replace(*edit)
    assert body != BASE
    with pytest.raises(InputError, match=None) as err:
        load_config(write(tmp_path, body))
    assert message in str(err.value)


def test_resolved_config_keeps_groups_and_overrides(tmp_path):
    config = load_config(write(tmp_path, BASE))
    import tomli_w

    again = tmp_path / "again.toml"
    again.write_text(tomli_w.dumps(config.to_toml_dict()))
    reloaded = load_config(again)
    assert reloaded.groups == config.groups
    assert reloaded.task_overrides == config.task_overrides
    plans = [make_plan(c, None) for c in (config, reloaded)]
    assert [s.key for s in plans[0].stages] == [s.key for s in plans[1].stages]


@pytest.mark.slow
def test_multi_task_stage_trains_both_heads_on_one_encoder(tmp_path):
    path = write(tmp_path, BASE.replace('["demo-topic", "both"]', '["both"]'))
    ws = tmp_path / "ws"
    out = run_engine("run", str(path), "--workspace", str(ws), "--plain")
    assert out.returncode == 0, out.stderr + out.stdout
    metas = [
        json.loads((c / "xlt_stage.json").read_text())
        for c in (ws / "checkpoints").iterdir()
    ]
    # The intermediate checkpoint, and the kept target models (with a target).
    (meta,) = [m for m in metas if "target" not in m]
    assert meta["members"] == ["demo-topic", "demo-trivia-qa"]
    events = [
        json.loads(line)
        for line in next((ws / "runs").iterdir()).joinpath("events.jsonl").open()
    ]
    checks = [
        e
        for e in events
        if e["type"] == "eval" and e.get("stage", "").startswith("intermediate/")
    ]
    assert {e["task"] for e in checks} == {"demo-topic", "demo-trivia-qa"}
    # The checkpoint records every member's English validation at the step
    # that is kept (the last), not the best seen, nor the first member's only.
    last = {e["task"]: e for e in checks if e["step"] == meta["steps"]}
    assert set(meta["validation"]) == {"demo-topic", "demo-trivia-qa"}
    for task, metrics in meta["validation"].items():
        assert metrics[last[task]["metric"]] == pytest.approx(last[task]["value"])
    stage_end = [e for e in events if e["type"] == "stage_end"]
    assert [e["stage"] for e in stage_end][:2] == [
        "target/demo-xqa/from-baseline/seed1",
        "intermediate/both/seed1",
    ]
