"""[report] to = [...]: a run's live metrics forwarded to TensorBoard, MLflow
and W&B (engine.trackers), read back with each tracker's own reader.

W&B is a fake module here (what the engine called it with): a real W&B run,
offline or online, is untested.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from engine.trackers.base import RunStart
from engine.trackers.dispatch import TrackerListener
from tests.conftest import REPO, experiment_toml, run_engine, write_sentiment_files

REPORT = """
[report]
to = ["tensorboard", "mlflow", "wandb"]
"""

# A stand-in for the wandb package: records every call as a JSON line in
# $FAKE_WANDB_LOG; its 3rd run.log raises, as a full disk would mid-run.
FAKE_WANDB = """
import json, os

def _note(*record):
    with open(os.environ["FAKE_WANDB_LOG"], "a") as fh:
        fh.write(json.dumps(record, default=str) + "\\n")

class _Run:
    logs = 0
    def define_metric(self, name, **kw):
        _note("define_metric", name, kw)
    def log(self, data):
        _Run.logs += 1
        if _Run.logs == 3:
            raise OSError(28, "No space left on device (fake)")
        _note("log", data)
    def finish(self, exit_code=0):
        _note("finish", exit_code)

def init(**kw):
    _note("init", kw)
    return _Run()
"""


def events_of(workspace: Path, run_id: str) -> list[dict]:
    path = workspace / "runs" / run_id / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """One tiny run with all three trackers (W&B faked), shared by the tests."""
    root = tmp_path_factory.mktemp("tracked")
    write_sentiment_files(root / "data", n_train=64, n_eval=16)
    config = root / "exp.toml"
    config.write_text(experiment_toml(epochs=1, extra=REPORT), encoding="utf-8")
    shim = root / "shim" / "wandb"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(FAKE_WANDB)
    workspace, log = root / "ws", root / "wandb_calls.jsonl"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(
            "PYTHONPATH", f"{shim.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
        )
        mp.setenv("FAKE_WANDB_LOG", str(log))
        result = run_engine(
            "run", str(config), "--workspace", str(workspace), "--run-id", "r1"
        )
    assert result.returncode == 0, result.stdout + result.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return workspace, events_of(workspace, "r1"), calls


def steps_and_scores(events: list[dict]) -> tuple[list[dict], list[dict]]:
    steps = [e for e in events if e["type"] == "step"]
    finals = [e for e in events if e["type"] == "eval" and e.get("final")]
    assert steps and finals  # the run trained and scored something
    return steps, finals


def score_tag(e: dict) -> str:
    return f"{e['task']}/{e['intermediate']}/{e['language']}/{e['split']}/{e['metric']}"


def test_tensorboard_has_every_step_loss_and_every_final_score(tracked):
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    workspace, events, _ = tracked
    steps, finals = steps_and_scores(events)
    board = EventAccumulator(str(workspace / "runs" / "r1" / "tensorboard"))
    board.Reload()
    for stage in {e["stage"] for e in steps}:
        logged = {(s.step, round(s.value, 5)) for s in board.Scalars(f"{stage}/loss")}
        expected = {
            (e["step"], round(e["loss"], 5)) for e in steps if e["stage"] == stage
        }
        assert logged == expected
    for e in finals:
        [point] = [s for s in board.Scalars(score_tag(e)) if s.step == e["seed"]]
        assert point.value == pytest.approx(e["value"], abs=1e-6)
    checks = [e for e in events if e["type"] == "eval" and "step" in e]
    assert checks  # validation checks during training, at their step
    for e in checks:
        tag = f"{e['stage']}/{e['task']}/{e['language']}/{e['split']}_{e['metric']}"
        assert e["step"] in {s.step for s in board.Scalars(tag)}
    # The config, provenance and end status as text summaries.
    assert {"config/text_summary", "provenance/text_summary"} <= set(
        board.Tags()["tensors"]
    )
    [status] = board.Tensors("status/text_summary")
    assert status.tensor_proto.string_val == [b"finished"]


def test_mlflow_file_store_has_params_metrics_and_config(tracked, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # as the engine does
    from mlflow.tracking import MlflowClient

    workspace, events, _ = tracked
    steps, finals = steps_and_scores(events)
    client = MlflowClient(tracking_uri=(workspace / "mlruns").resolve().as_uri())
    experiment = client.get_experiment_by_name("exp")
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.tags["xlt.run_id"] == "r1"
    assert run.data.params["model"] == "xlt-tiny"
    assert run.data.params["report.to"] == "tensorboard, mlflow, wandb"
    stage = steps[0]["stage"]
    history = client.get_metric_history(run.info.run_id, f"{stage}/loss")
    assert sorted(m.step for m in history) == [
        e["step"] for e in steps if e["stage"] == stage
    ]
    for e in finals:
        [metric] = client.get_metric_history(run.info.run_id, score_tag(e))
        assert metric.value == pytest.approx(e["value"])
        assert metric.step == e["seed"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.toml", "provenance.json"} <= artifacts
    config = Path(client.download_artifacts(run.info.run_id, "config.toml"))
    text = config.read_text()
    assert "xlt-tiny" in text and "[report]" in text


def test_a_tracker_failing_mid_run_is_dropped_with_one_warning(tracked):
    workspace, events, calls = tracked
    # (The tiny run's own warnings, about eval_every, are not the trackers'.)
    warnings = [
        e for e in events if e["type"] == "warning" and "tracker" in e["message"]
    ]
    assert len(warnings) == 1
    assert "wandb" in warnings[0]["message"]
    assert "No space left" in warnings[0]["message"]
    assert events[-1]["type"] == "run_end" and events[-1]["status"] == "finished"
    # W&B heard the start and two logs, then nothing (not even finish).
    kinds = [c[0] for c in calls]
    assert kinds.count("log") == 2 and "finish" not in kinds
    init = calls[0][1]
    assert init["mode"] == "offline" and init["project"] == "xlt"
    assert init["id"] == "r1"
    assert init["config"]["xlt"]["model"] == "xlt-tiny"
    assert "provenance" in init["config"]
    # The other trackers kept going to the end (their checks above).


def test_resolved_config_keeps_the_report_table(tracked, tmp_path):
    from engine.config import load_config

    workspace, _, _ = tracked
    resolved = workspace / "runs" / "r1" / "config.toml"
    assert "[report]" in resolved.read_text()
    # The resolved file loads again to the same [report] (its data paths are
    # absolute, so it loads from anywhere).
    copy = tmp_path / "again.toml"
    text = resolved.read_text()
    copy.write_text(text.replace("[report]\n", '[report]\nwandb_mode = "disabled"\n'))
    report = load_config(copy).report
    assert report.to == ("tensorboard", "mlflow", "wandb")
    assert report.wandb_mode == "disabled" and report.wandb_project == "xlt"


def test_missing_tracker_package_is_bad_input_with_the_pip_line(tmp_path):
    write_sentiment_files(tmp_path / "data", n_train=32, n_eval=8)
    config = tmp_path / "exp.toml"
    config.write_text(
        experiment_toml(extra='[report]\nto = ["mlflow"]\n'), encoding="utf-8"
    )
    shim = tmp_path / "shim" / "mlflow"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text('raise ImportError("no mlflow (shim)")\n')
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(shim.parent))
        result = run_engine("run", str(config), "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 2, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert f"-m pip install -e '{REPO}[mlflow]'" in out
    assert "Traceback" not in out
    assert not (tmp_path / "ws" / "runs").exists() or not any(
        (tmp_path / "ws" / "runs").iterdir()
    )


def test_unknown_tracker_names_the_nearest(tmp_path):
    write_sentiment_files(tmp_path / "data", n_train=32, n_eval=8)
    config = tmp_path / "exp.toml"
    config.write_text(
        experiment_toml(extra='[report]\nto = ["tensorbord"]\n'), encoding="utf-8"
    )
    result = run_engine("run", str(config), "--dry-run")
    assert result.returncode == 2
    out = result.stdout + result.stderr
    assert "tensorbord" in out and "tensorboard" in out and "Traceback" not in out


class _Recorder:
    def __init__(self, name: str, fail_on: str = ""):
        self.name, self.fail_on, self.calls = name, fail_on, []

    def start(self, run):
        self.calls.append(("start",))

    def scalar(self, tag, value, step):
        if self.fail_on and tag.endswith(self.fail_on):
            raise ConnectionError("server down")
        self.calls.append((tag, value, step))

    def finish(self, status):
        self.calls.append(("finish", status))


def test_dispatch_maps_events_to_tags_and_drops_a_failing_tracker(tmp_path):
    good, bad = _Recorder("good"), _Recorder("bad", fail_on="/lr")
    warned: list[str] = []
    run = RunStart("r", "n", tmp_path, {}, "", {})
    listen = TrackerListener([good, bad], run, warned.append)
    listen({"type": "run_start"})
    listen(
        {
            "type": "step",
            "stage": "s1",
            "step": 4,
            "loss": 0.5,
            "lr": 1e-3,
            "samples_per_s": 10.0,
            "tokens_per_s": None,
        }
    )
    listen(
        {
            "type": "eval",
            "stage": "s1",
            "task": "t",
            "language": "en",
            "split": "validation",
            "metric": "accuracy",
            "value": 0.7,
            "step": 4,
        }
    )
    listen(
        {
            "type": "eval",
            "stage": "s2",
            "task": "t",
            "intermediate": "baseline",
            "seed": 7,
            "language": "de",
            "split": "test",
            "metric": "accuracy",
            "value": 0.6,
            "final": True,
        }
    )
    listen({"type": "step", "stage": "s1", "step": 5, "loss": float("nan")})
    listen({"type": "run_end", "status": "finished"})
    assert good.calls == [
        ("start",),
        ("s1/loss", 0.5, 4),
        ("s1/lr", 1e-3, 4),
        ("s1/samples_per_s", 10.0, 4),
        ("s1/t/en/validation_accuracy", 0.7, 4),
        ("t/baseline/de/test/accuracy", 0.6, 7),
        ("finish", "finished"),
    ]
    assert bad.calls == [("start",), ("s1/loss", 0.5, 4)]
    assert len(warned) == 1 and "bad" in warned[0] and "server down" in warned[0]


def test_engine_imports_no_tracker_package_without_report(tmp_path):
    code = textwrap.dedent("""
        import sys, engine.launch, engine.trackers
        print([m for m in ("tensorboard", "mlflow", "wandb") if m in sys.modules])
    """)
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("tensorboard_dir", "/tmp/tb"),
        ("tensorboard_dir", "~/tb"),
        ("tensorboard_dir", "runs/../../tb"),
        ("mlflow_tracking_uri", "file:///tmp/mlruns"),
        ("mlflow_tracking_uri", "sqlite:////tmp/m.db"),
        ("mlflow_tracking_uri", "../mlruns"),
    ],
)
def test_tracker_folders_stay_inside_the_workspace(tmp_path, key, value):
    """A config may not make a tracker write outside its workspace."""
    from engine.config import parse_config
    from engine.errors import InputError

    raw = {"name": "d", "model": "xlt-tiny", "targets": ["demo-sentiment"]}
    raw["report"] = {"to": ["tensorboard"], key: value}
    with pytest.raises(InputError, match=f"report.{key}|{key}") as err:
        parse_config(raw, tmp_path / "d.toml")
    assert "relative to the workspace" in str(err.value)
    inside = {**raw, "report": {"to": ["tensorboard"], key: "logs/tb"}}
    assert parse_config(inside, tmp_path / "d.toml").report is not None
