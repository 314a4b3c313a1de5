"""Stages side by side: the scheduler's order over a plan's DAG, and runs on
two CPU workers (`--devices cpu,cpu`) that give the sequential run's results,
survive a killed worker, stop every worker on cancel, and leave none behind
when the driver itself is killed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import tomllib

from engine.control import process_alive
from engine.errors import InputError
from engine.executors.devices import with_devices
from engine.pipeline import IntermediateStage, TargetStage
from engine.scheduler import StageScheduler
from tests.conftest import REPO, engine_cmd, run_engine

# -- the scheduler (fast) -------------------------------------------------------


def _grid(seeds=(1, 2)):
    """The plan's shape for one intermediate task and one target: per seed,
    the baseline's target, the intermediate stage, the target reading it."""
    stages = []
    for seed in seeds:
        stages.append(TargetStage(f"b{seed}", "baseline", None, "t", seed, ("en",)))
        stages.append(IntermediateStage(f"i{seed}", "a", seed))
        stages.append(TargetStage(f"t{seed}", "a", f"i{seed}", "t", seed, ("en",)))
    return stages


def _ids(stages):
    return [s.key for s in stages]


def test_ready_stages_follow_the_dag_longest_chain_first():
    scheduler = StageScheduler(_grid())
    # Targets wait for their checkpoint; the baseline's may start at once,
    # but the checkpoints head longer chains: they go first.
    assert _ids(scheduler.ready()) == ["i1", "i2", "b1", "b2"]
    first, second = scheduler.take(), scheduler.take()
    assert _ids([first, second]) == ["i1", "i2"]  # two workers: both checkpoints
    assert first is not None
    scheduler.done(first)
    # The checkpoint exists: its target goes next, ahead of the baseline's.
    assert _ids(scheduler.ready()) == ["t1", "b1", "b2"]
    assert not scheduler.finished


def test_two_workers_share_the_demo_grid_evenly():
    """The shape of the demo grid on two workers of equal speed, every stage
    one unit long: critical path first ends at 3 units, where plan order
    (baseline targets first) ended at 4 with one worker idle at the end."""
    scheduler = StageScheduler(_grid())
    clock, running, ends = 0, [], {}
    while not scheduler.finished:
        while len(running) < 2 and (stage := scheduler.take()) is not None:
            running.append((clock + 1, stage))
        running.sort(key=lambda item: item[0])
        clock, stage = running.pop(0)
        scheduler.done(stage)
        ends[stage.key] = clock
    assert max(ends.values()) == 3
    assert ends["i1"] == ends["i2"] == 1
    assert ends["t1"] == ends["t2"] == 2  # each right after its checkpoint


def test_a_checkpoint_more_targets_wait_for_goes_first():
    stages = [
        TargetStage("b1", "baseline", None, "t", 1, ("en",)),
        IntermediateStage("small", "a", 1),
        TargetStage("ta", "a", "small", "t", 1, ("en",)),
        IntermediateStage("wide", "w", 1),
        TargetStage("tw1", "w", "wide", "t", 1, ("en",)),
        TargetStage("tw2", "w", "wide", "u", 1, ("en",)),
    ]
    assert _ids(StageScheduler(stages).ready()) == ["wide", "small", "b1"]


def test_a_failed_stage_fails_its_dependents_only():
    scheduler = StageScheduler(_grid())
    stages = {s.key: s for s in scheduler.stages}
    while (stage := scheduler.take()) is not None:
        if stage.key == "i2":
            assert _ids(scheduler.failed(stage)) == ["t2"]
        else:
            scheduler.done(stage)
    assert scheduler.finished
    assert scheduler.state[stages["t2"].id] == "skipped"
    assert scheduler.count("done") == 4 and scheduler.count("failed") == 1


def test_a_stage_run_again_is_ready_again_and_a_reused_checkpoint_is_no_wait():
    stages = _grid(seeds=(1,))
    scheduler = StageScheduler(stages[2:])  # i1 not in the plan: already there
    assert _ids(scheduler.ready()) == ["t1"]
    stage = scheduler.take()
    assert stage is not None and scheduler.take() is None
    scheduler.again(stage)  # its worker died
    assert _ids(scheduler.ready()) == ["t1"]


# -- the devices key and --devices (fast) ----------------------------------------


def _config(tmp_path: Path, extra: str):
    from engine.config import parse_config

    raw = {"name": "d", "model": "xlt-tiny", "targets": ["demo-sentiment"]}
    raw.update(tomllib.loads(extra))
    return parse_config(raw, tmp_path / "d.toml")


def test_devices_key_one_or_several_and_what_it_refuses(tmp_path):
    two = _config(tmp_path, 'devices = ["cpu", "cpu"]')
    assert two.devices == ("cpu", "cpu") and two.retries == 1
    # The resolved config (what a worker and a rerun read) keeps it.
    assert two.to_toml_dict()["devices"] == ["cpu", "cpu"]
    one = _config(tmp_path, 'devices = ["cuda:1"]')  # one device: in process
    assert (one.device, one.devices) == ("cuda:1", ())
    assert _config(tmp_path, 'devices = "all"').devices == ("all",)
    for extra, expected in [
        ('devices = "cpu"', 'one device is ["cpu"]'),
        ("devices = []", "non-empty list"),
        ('devices = ["auto", "cpu"]', "'auto' names no single device"),
        ('devices = ["cdua:0"]', "did you mean 'cuda:0'"),
        ('device = "cpu"\ndevices = ["cpu", "cpu"]', "keep one of the two"),
        ("retries = -1", "retries"),
    ]:
        with pytest.raises(InputError, match=re.escape(expected)):
            _config(tmp_path, extra)


def test_a_gpu_named_twice_is_two_workers_on_it(tmp_path):
    # Small stages share a GPU where its memory allows: one worker per entry.
    config = _config(tmp_path, 'devices = ["cuda:0", "cuda:0", "cuda:1"]')
    assert config.devices == ("cuda:0", "cuda:0", "cuda:1")


def test_devices_option_replaces_the_file_s(tmp_path):
    config = _config(tmp_path, 'device = "cpu"')
    two = with_devices(config, "cpu, cpu")
    assert (two.device, two.devices) == ("auto", ("cpu", "cpu"))
    assert with_devices(two, "cpu").devices == ()  # one device: in process
    with pytest.raises(InputError, match="--devices: 'gpu0' is not one of"):
        with_devices(config, "gpu0")


def test_bad_devices_option_exits_2_without_a_traceback(experiment):
    config = experiment(epochs=1)
    done = run_engine("run", str(config), "--devices", "cpu,gpu", "--dry-run")
    assert done.returncode == 2
    assert "--devices: 'gpu' is not one of" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(
    __import__("torch").cuda.is_available(), reason="this machine has a GPU"
)
def test_all_gpus_on_a_machine_without_any_is_bad_input(experiment, tmp_path):
    config = experiment(epochs=1, extra='devices = "all"')
    done = run_engine("run", str(config), "--workspace", str(tmp_path / "ws"))
    assert done.returncode == 2, done.stderr
    assert 'devices: "all" means every visible GPU' in done.stderr
    assert "Traceback" not in done.stderr


# -- runs on two CPU workers (slow: each starts engine and worker processes) ----


def _events(ws: Path, run_id: str) -> list[dict]:
    path = ws / "runs" / run_id / "events.jsonl"
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # the line being written
            pass
    return out


def _wait_for(ws: Path, run_id: str, test, timeout=240.0) -> list[dict]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        events = _events(ws, run_id)
        if test(events):
            return events
        time.sleep(0.2)
    raise AssertionError(f"timed out; events so far: {_events(ws, run_id)[-5:]}")


def _results(ws: Path, run_id: str) -> dict[tuple, float]:
    done = run_engine(
        "results", "--run", run_id, "--workspace", str(ws), "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    return {
        (r["intermediate"], r["target"], r["language"], r["seed"]): r["value"]
        for r in json.loads(done.stdout)
    }


def _losses(events: list[dict]) -> dict[tuple, float]:
    return {(e["stage"], e["step"]): e["loss"] for e in events if e["type"] == "step"}


def _worker_pids(events: list[dict]) -> set[int]:
    return {e["worker_pid"] for e in events if e["type"] == "stage_start"}


def _start(config: Path, ws: Path, run_id: str) -> subprocess.Popen:
    return subprocess.Popen(
        engine_cmd(
            "run",
            str(config),
            "--workspace",
            str(ws),
            "--run-id",
            run_id,
            "--devices",
            "cpu,cpu",
            "--plain",
        ),  # fmt: skip
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _status(ws: Path, run_id: str) -> str:
    done = run_engine("runs", "--workspace", str(ws), "--json")
    (run,) = [r for r in json.loads(done.stdout) if r["id"] == run_id]
    return run["status"]


def _all_gone(pids: set[int], timeout=15.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not any(process_alive(p) for p in pids):
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def grid_runs(tmp_path_factory):
    """One small grid (two seeds: six stages), run sequentially and on two
    CPU workers, each in a fresh workspace."""
    from tests.conftest import experiment_toml, write_sentiment_files

    root = tmp_path_factory.mktemp("grid")
    write_sentiment_files(root / "data", n_train=200)
    config = root / "grid.toml"
    config.write_text(experiment_toml(epochs=2, seeds=(1, 2)), encoding="utf-8")
    runs = {}
    for run_id, extra in (("seq", ()), ("par", ("--devices", "cpu,cpu"))):
        ws = root / run_id
        done = run_engine(
            "run", str(config), "--workspace", str(ws), "--run-id", run_id, *extra
        )
        assert done.returncode == 0, done.stderr[-3000:]
        runs[run_id] = (ws, _events(ws, run_id))
    return runs


@pytest.mark.slow
def test_two_cpu_workers_give_the_sequential_results(grid_runs):
    (seq_ws, seq_events), (par_ws, par_events) = grid_runs["seq"], grid_runs["par"]
    sequential, parallel = _results(seq_ws, "seq"), _results(par_ws, "par")
    assert len(sequential) == 8  # 2 seeds x (baseline, sent) x (en, de)
    assert parallel == sequential
    # The same training, step by step (same seeds, same batches).
    assert _losses(par_events) == _losses(seq_events)
    # One device keeps the in-process path; two run in two worker processes.
    assert {e["device"] for e in seq_events if e["type"] == "stage_start"} == {"cpu"}
    assert "worker_pid" not in next(e for e in seq_events if e["type"] == "stage_start")
    assert len(_worker_pids(par_events)) == 2
    assert all(e.get("device") == "cpu" for e in par_events if e["type"] == "step")


@pytest.mark.slow
def test_each_run_records_the_threads_its_stages_trained_with(grid_runs):
    """Threads change how matrix products round, so a run's provenance says
    how many each training process had: all cores in process, each worker's
    share on workers (not the driver's own count)."""
    from engine.executors.devices import cpu_cores, threads_per_worker
    from engine.store import Store
    from engine.workspace import Workspace

    for run_id, threads in (("seq", cpu_cores()), ("par", threads_per_worker(2))):
        ws = Workspace.open(grid_runs[run_id][0])
        (record,) = [r for r in Store(ws).runs() if r["id"] == run_id]
        runtime = record["provenance"]["runtime"]
        assert runtime["torch_threads"] == threads, run_id
        assert runtime["cpu_bf16_native"] in (True, False), run_id  # a CPU run


@pytest.mark.slow
def test_two_stages_run_at_once(grid_runs):
    _, events = grid_runs["par"]
    spans: dict[str, list[float]] = {}
    for e in events:
        if e["type"] in ("stage_start", "stage_end"):
            spans.setdefault(e["stage"], []).append(e["t"])
    overlapping = [
        (a, b)
        for a in spans
        for b in spans
        if a < b and spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]
    ]
    assert overlapping, spans
    # Targets still start only after their checkpoint exists.
    end = {e["stage"]: e["t"] for e in events if e["type"] == "stage_end"}
    for seed in (1, 2):
        assert (
            spans[f"target/sent/from-sent/seed{seed}"][0]
            >= end[f"intermediate/sent/seed{seed}"]
        )
    (run_end,) = [e for e in events if e["type"] == "run_end"]
    assert run_end["status"] == "finished" and run_end["stages_done"] == 6


@pytest.fixture
def slow_grid(tmp_path):
    """Stages of a few seconds each (so a signal lands mid-stage)."""
    from tests.conftest import experiment_toml, write_sentiment_files

    write_sentiment_files(tmp_path / "data")
    config = tmp_path / "slow.toml"
    config.write_text(experiment_toml(epochs=3, seeds=(1,)), encoding="utf-8")
    return config


def _training(events: list[dict]) -> dict | None:
    """The stage_start of a stage that has logged a training step."""
    stepped = {e["stage"] for e in events if e["type"] == "step"}
    ended = {e["stage"] for e in events if e["type"] == "stage_end"}
    for e in events:
        if e["type"] == "stage_start" and e["stage"] in stepped - ended:
            return e
    return None


@pytest.mark.slow
def test_a_killed_worker_s_stage_runs_again_and_the_run_finishes(slow_grid, tmp_path):
    ws = tmp_path / "ws"
    driver = _start(slow_grid, ws, "k1")
    events = _wait_for(ws, "k1", lambda ev: _training(ev) is not None)
    victim = _training(events)
    assert victim is not None
    os.kill(victim["worker_pid"], signal.SIGKILL)
    assert driver.wait(timeout=300) == 0, driver.stderr.read()[-3000:]
    events = _events(ws, "k1")
    warnings = [e for e in events if e["type"] == "warning" and "again" in e["message"]]
    assert [w["stage"] for w in warnings] == [victim["stage"]]
    starts = [e for e in events if e["type"] == "stage_start"]
    again = [e for e in starts if e["stage"] == victim["stage"]]
    assert len(again) == 2 and again[1]["worker_pid"] != victim["worker_pid"]
    assert events[-1]["type"] == "run_end" and events[-1]["status"] == "finished"
    assert len(_results(ws, "k1")) == 4  # (baseline, sent) x (en, de)


@pytest.mark.slow
def test_cancel_stops_every_worker(slow_grid, tmp_path):
    ws = tmp_path / "ws"
    driver = _start(slow_grid, ws, "c1")
    events = _wait_for(ws, "c1", lambda ev: _training(ev) is not None)
    done = run_engine("cancel", "c1", "--workspace", str(ws))
    assert done.returncode == 0, done.stderr
    assert driver.wait(timeout=180) == 1
    pids = _worker_pids(_events(ws, "c1"))
    assert pids and _all_gone(pids, timeout=5.0)
    assert _status(ws, "c1") == "cancelled"
    assert _events(ws, "c1")[-1]["status"] == "cancelled"
    del events


@pytest.mark.slow
def test_kill_9_of_the_driver_leaves_no_worker_and_a_second_run_resumes(
    slow_grid, tmp_path
):
    ws = tmp_path / "ws"
    driver = _start(slow_grid, ws, "d1")

    def one_done_one_training(events):
        return any(e["type"] == "stage_end" for e in events) and _training(events)

    events = _wait_for(ws, "d1", one_done_one_training)
    pids = _worker_pids(events)
    finished = {e["stage"] for e in events if e["type"] == "stage_end"}
    driver.kill()
    driver.wait(timeout=30)
    assert _all_gone(pids), [p for p in pids if process_alive(p)]
    assert _status(ws, "d1") == "interrupted"

    again = run_engine(
        "run", str(slow_grid), "--workspace", str(ws), "--run-id", "d2",
        "--devices", "cpu,cpu",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    events = _events(ws, "d2")
    reused = {e["stage"] for e in events if e["type"] == "stage_start" and e["reused"]}
    assert finished <= reused  # what the killed run finished is not run again
    assert len(_results(ws, "d2")) == 4


@pytest.mark.slow
def test_a_failed_stage_skips_its_dependents_and_keeps_the_rest(tmp_path):
    """The intermediate stage diverges (a learning rate of 1e30 makes its
    loss NaN): its target is not run, the baseline's is, and kept."""
    from tests.conftest import experiment_toml, write_sentiment_files

    write_sentiment_files(tmp_path / "data", n_train=100)
    config = tmp_path / "fail.toml"
    config.write_text(
        experiment_toml(epochs=1).replace(
            "log_every = 2", "log_every = 2\n[train.intermediate]\nlearning_rate = 1e30"
        ),
        encoding="utf-8",
    )
    ws = tmp_path / "ws"
    done = run_engine(
        "run", str(config), "--workspace", str(ws), "--run-id", "f1",
        "--devices", "cpu,cpu",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    assert "intermediate/sent/seed1: TrainingDiverged" in done.stdout
    events = _events(ws, "f1")
    ended = {e["stage"]: e for e in events if e["type"] == "stage_end"}
    assert "error" in ended["intermediate/sent/seed1"]
    assert "error" not in ended["target/sent/from-baseline/seed1"]
    assert "target/sent/from-sent/seed1" not in ended  # never started
    assert any(
        e["type"] == "warning" and e.get("stage") == "target/sent/from-sent/seed1"
        for e in events
    )
    assert set(_results(ws, "f1")) == {
        ("baseline", "sent", "en", 1),
        ("baseline", "sent", "de", 1),
    }
    assert _status(ws, "f1") == "failed"


def test_workers_started_before_a_refused_model_check_are_stopped(
    experiment, tmp_path, monkeypatch
):
    """Local workers start (and import torch) while the driver checks the
    model; a model refused there ends the run before it exists, with no
    worker left running and nothing written for the run."""
    import multiprocessing

    from engine.executors.local import LocalExecutor
    from engine.launch import execute, prepare
    from engine.workspace import Workspace

    model = tmp_path / "no-weights"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert"}')
    config = experiment()
    text = config.read_text().replace('model = "xlt-tiny"', f'model = "{model}"')
    config.write_text(text, encoding="utf-8")
    started: list[int] = []
    real_start = LocalExecutor.start

    def start(self):
        started.append(len(self.devices))
        return real_start(self)

    monkeypatch.setattr(LocalExecutor, "start", start)
    ws = Workspace.open(tmp_path / "ws")
    prepared = prepare(str(config), ws, devices="cpu,cpu")
    with pytest.raises(InputError):
        execute(prepared, "r1")
    assert started == [2]  # the workers were started before the refusal
    assert multiprocessing.active_children() == []
    assert not ws.run_dir("r1").exists()
