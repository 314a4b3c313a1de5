"""Data parallelism for one stage (`gpus_per_stage`, engine.distributed): two
CPU ranks (gloo) train like one process, up to float order; bad values are
bad input; helper ranks die with the stage's process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.config import StageHparams, load_config  # noqa: E402
from engine.distributed import train_data_parallel  # noqa: E402
from engine.errors import InputError  # noqa: E402
from engine.executors.devices import (  # noqa: E402
    group_devices,
    resolve_devices,
    with_devices,
)
from engine.executors.worker import local_device, visible_devices  # noqa: E402
from engine.runinfo import provenance  # noqa: E402
from engine.stages import StageEnvironment  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.train import train_stage  # noqa: E402
from engine.workspace import Workspace  # noqa: E402
from tests.conftest import REPO, engine_cmd, run_engine  # noqa: E402

# Two ranks sum the gradients of their halves of a batch in another order
# than one process sums the whole batch's; over a few AdamW steps the weights
# then differ by float32 rounding (measured below 1e-6; 1e-4 is a tenth of
# one lr = 1e-3 step, far below what a wrong shard or weighting gives).
WEIGHT_TOLERANCE = 1e-4


def _zero_dropout_model(folder: Path) -> Path:
    """xlt-tiny with dropout 0, so one and two processes are comparable step
    by step (each rank draws its own dropout masks)."""
    from engine.models.tiny import ensure_tiny_model

    ensure_tiny_model(folder)
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text())
    config["hidden_dropout_prob"] = config["attention_probs_dropout_prob"] = 0.0
    config_file.write_text(json.dumps(config))
    return folder


def _ddp_experiment(experiment, tmp_path: Path, extra: str = "", **kwargs) -> Path:
    path = experiment(extra=extra, **kwargs)
    model = _zero_dropout_model(tmp_path / "tiny0")
    text = path.read_text().replace('model = "xlt-tiny"', f'model = "{model}"')
    path.write_text(text)
    return path


def _train(config, ws: Path, device: str, hp: StageHparams):
    env = StageEnvironment.for_run(
        config,
        Workspace.open(ws),
        "r1",
        emit_event=lambda *a, **k: None,
        record_score=lambda *a: None,
        should_stop=lambda: False,
        device=device,
    )
    task = config.task("sent")
    train_task = env.train_task(task, hp)
    model = env.family.training_model(
        env.model_path, env.tokenizer, [(task, train_task.kind)], 3
    )
    events: list[tuple[str, dict]] = []
    trainer = train_data_parallel if env.runtime.world_size > 1 else train_stage
    result = trainer(
        model,
        [train_task],
        hp,
        env.runtime,
        seed=3,
        pad_id=env.pad_id,
        emit=lambda type, **fields: events.append((type, fields)),
        select_best=True,
    )
    return model, result, events


@pytest.mark.slow  # ~35 s on 2 cores: a helper rank is a fresh interpreter
def test_two_cpu_ranks_train_like_one_process(experiment, workspace, tmp_path):
    config = load_config(_ddp_experiment(experiment, tmp_path))
    # 15 units a batch: the ranks get 8 and 7 (unequal shards, still exact
    # for a per-example mean loss); two batches a step (gradients summed
    # locally, all-reduced once); 6 steps, checks at 3 and 6.
    hp = StageHparams(
        learning_rate=1e-3,
        batch_size=15,
        grad_accum=2,
        max_steps=6,
        eval_every=3,
        log_every=2,
        max_seq_length=64,
    )
    one, alone, alone_events = _train(config, workspace, "cpu", hp)
    two, together, together_events = _train(config, workspace, "cpu+cpu", hp)
    assert (alone.world_size, together.world_size) == (1, 2)
    assert together.steps == alone.steps == 6
    start = _train_start(config, workspace)
    moved = 0.0
    for (name, a), b in zip(
        one.state_dict().items(), two.state_dict().values(), strict=True
    ):
        assert a.shape == b.shape, name
        assert float((a - b).abs().max()) < WEIGHT_TOLERANCE, name
        moved = max(moved, float((a - start[name]).abs().max()))
    assert moved > 1e-3  # training moved the weights: the comparison compared
    assert together.best_step == alone.best_step
    assert together.kept_scores == alone.kept_scores  # same predictions
    # Rank 0 alone reports, with the loss of the whole batch (all-reduced).
    steps = lambda evs: [f for t, f in evs if t == "step"]  # noqa: E731
    assert [f["step"] for f in steps(together_events)] == [2, 4, 6]
    for a, b in zip(steps(alone_events), steps(together_events), strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-4)
        assert a["samples_per_s"] > 0 and b["samples_per_s"] > 0
    evals = lambda evs: [f["value"] for t, f in evs if t == "eval"]  # noqa: E731
    assert evals(together_events) == evals(alone_events)


def _train_start(config, ws: Path) -> dict:
    env = StageEnvironment.for_run(
        config,
        Workspace.open(ws),
        "r1",
        emit_event=lambda *a, **k: None,
        record_score=lambda *a: None,
        should_stop=lambda: False,
        device="cpu",
    )
    task = config.task("sent")
    from engine.kinds import load_kind

    model = env.family.training_model(
        env.model_path, env.tokenizer, [(task, load_kind(task.kind))], 3
    )
    return {k: v.clone() for k, v in model.state_dict().items()}


# -- the key, the groups, the device names (fast) ---------------------------------


def test_devices_are_grouped_gpus_per_stage_at_a_time(experiment, tmp_path):
    path = experiment(extra='devices = ["cpu", "cpu"]\ngpus_per_stage = 2')
    config = load_config(path)
    assert config.gpus_per_stage == 2
    assert config.to_toml_dict()["gpus_per_stage"] == 2
    assert resolve_devices(config) == ["cpu+cpu"]
    assert provenance(config, "cpu+cpu", {})["runtime"]["world_size"] == 2
    four = with_devices(config, "cpu,cpu,cpu,cpu")
    assert resolve_devices(four) == ["cpu+cpu", "cpu+cpu"]
    # The worker of a GPU group sees just its GPUs, as cuda:0 and cuda:1.
    assert visible_devices("cuda:2+cuda:3") == "2,3"
    assert local_device("cuda:2+cuda:3") == "cuda:0+cuda:1"
    assert (visible_devices("cpu+cpu"), local_device("cpu+cpu")) == ("", "cpu+cpu")
    assert (visible_devices("cuda:1"), local_device("cuda:1")) == ("1", "cuda:0")
    default = load_config(experiment(name="plain"))
    assert default.gpus_per_stage == 1 and "gpus_per_stage" not in (
        default.to_toml_dict()
    )


def test_groups_that_cannot_be_made_are_bad_input(experiment):
    odd = load_config(experiment(extra='devices = ["cpu", "cpu"]\ngpus_per_stage = 3'))
    with pytest.raises(InputError, match="gpus_per_stage: 3 does not divide the 2"):
        resolve_devices(odd)
    alone = load_config(experiment(name="alone", extra="gpus_per_stage = 2"))
    with pytest.raises(InputError, match="gpus_per_stage: 2 devices per stage needs"):
        resolve_devices(alone)
    # (group_devices: after resolve_devices checked the GPUs exist)
    pairs = with_devices(odd, "cpu,cpu")
    with pytest.raises(InputError, match="CUDA GPUs only or on CPUs only"):
        group_devices(["cpu", "cuda:0"], replace(pairs, gpus_per_stage=2))
    with pytest.raises(InputError, match="names one GPU twice"):
        group_devices(["cuda:0", "cuda:0"], replace(pairs, gpus_per_stage=2))


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('devices = ["cpu", "cpu"]\ngpus_per_stage = 0', "gpus_per_stage"),
        ('devices = ["cpu", "cpu"]\ngpus_per_stage = 3', "gpus_per_stage: 3 does"),
        ("gpus_per_stage = 2", "gpus_per_stage: 2 devices per stage needs"),
    ],
)
def test_bad_gpus_per_stage_exits_2_naming_the_key(
    experiment, workspace, extra, expected
):
    config = experiment(extra=extra)
    done = run_engine("run", str(config), "--workspace", str(workspace), "--plain")
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_a_batch_is_shared_out_whole_once():
    from engine.train import Runtime, _shard

    units = np.arange(15)
    shards = [
        _shard(units, Runtime(torch.device("cpu"), group=("cpu", "cpu"), rank=r))
        for r in (0, 1)
    ]
    assert np.array_equal(np.concatenate([s for s, _ in shards]), units)
    assert [len(s) for s, _ in shards] == [8, 7]
    assert sum(share for _, share in shards) == pytest.approx(1.0)
    # A batch smaller than the world: the idle rank runs one unit at weight 0.
    idle, share = _shard(
        units[:1], Runtime(torch.device("cpu"), group=("cpu",) * 2, rank=1)
    )
    assert (len(idle), share) == (1, 0.0)


# -- a whole run on CPU groups (slow: engine, worker and helper processes) --------


def _events(ws: Path, run_id: str) -> list[dict]:
    path = ws / "runs" / run_id / "events.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # the line being written
            pass
    return out


def _results(ws: Path, run_id: str) -> dict[tuple, float]:
    done = run_engine(
        "results", "--run", run_id, "--workspace", str(ws), "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    return {
        (r["intermediate"], r["target"], r["language"]): r["value"]
        for r in json.loads(done.stdout)
    }


@pytest.mark.slow
def test_a_run_on_groups_of_two_cpus_gives_the_sequential_results(experiment, tmp_path):
    seq = _ddp_experiment(experiment, tmp_path, epochs=1, languages=("en",))
    ddp = seq.with_name("ddp.toml")
    text = seq.read_text().replace("[train]", "gpus_per_stage = 2\n\n[train]", 1)
    ddp.write_text(text, encoding="utf-8")
    runs = {}
    # Four CPU "devices" in two groups: two workers, each rank 0 of a pair.
    for run_id, config, extra in (
        ("seq", seq, ()),
        ("ddp", ddp, ("--devices", "cpu,cpu,cpu,cpu")),
    ):
        ws = tmp_path / run_id
        done = run_engine(
            "run", str(config), "--workspace", str(ws), "--run-id", run_id,
            "--plain", *extra,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        runs[run_id] = ws
    sequential, parallel = _results(runs["seq"], "seq"), _results(runs["ddp"], "ddp")
    assert len(sequential) == 2  # (baseline, sent) x en
    assert parallel.keys() == sequential.keys()
    for key, value in sequential.items():
        # Accuracies on 60 examples: float order may flip one near-tie.
        assert abs(parallel[key] - value) <= 1 / 60 + 1e-9, key
    events = _events(runs["ddp"], "ddp")
    assert {e["device"] for e in events if e["type"] == "step"} == {"cpu+cpu"}
    assert any("torch DDP, world size 2" in e.get("message", "") for e in events)
    # The same steps and, up to float order, the same losses.
    losses = lambda evs: {  # noqa: E731
        (e["stage"], e["step"]): e["loss"] for e in evs if e["type"] == "step"
    }
    seq_losses, ddp_losses = losses(_events(runs["seq"], "seq")), losses(events)
    assert seq_losses.keys() == ddp_losses.keys()
    for key, loss in seq_losses.items():
        assert ddp_losses[key] == pytest.approx(loss, abs=1e-3), key


def _start_ddp_run(experiment, tmp_path: Path, run_id: str, devices: str, **popen):
    """`xlt-engine run` of a small DDP config (gpus_per_stage = 2) on
    `devices`, started in the background; (the driver, its workspace)."""
    config = _ddp_experiment(experiment, tmp_path, epochs=3, languages=("en",))
    text = config.read_text().replace("[train]", "gpus_per_stage = 2\n\n[train]", 1)
    config.write_text(text, encoding="utf-8")
    ws = tmp_path / "ws"
    command = engine_cmd(
        "run", str(config), "--workspace", str(ws), "--run-id", run_id, "--plain",
        "--devices", devices,
    )  # fmt: skip
    return subprocess.Popen(command, cwd=REPO, **popen), ws


@pytest.mark.slow
def test_killing_the_run_leaves_no_helper_rank(experiment, tmp_path):
    psutil = pytest.importorskip("psutil")
    driver, ws = _start_ddp_run(
        experiment, tmp_path, "k", "cpu,cpu,cpu,cpu",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.time() + 240
        while not any(
            e["type"] == "step" and e.get("device") == "cpu+cpu"
            for e in _events(ws, "k")
        ):
            assert time.time() < deadline and driver.poll() is None
            time.sleep(0.2)
        tree = psutil.Process(driver.pid).children(recursive=True)
        # Workers are the driver's children; helper ranks, the workers'.
        helpers = [p for p in tree if p.ppid() != driver.pid]
        assert helpers, [_cmdline(p) for p in tree]
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
        gone, alive = psutil.wait_procs(tree, timeout=20)
        assert not alive, [(p.pid, _cmdline(p)) for p in alive]
    finally:
        if driver.poll() is None:
            driver.kill()


def _cmdline(process) -> list[str]:
    try:
        return process.cmdline()
    except Exception:  # noqa: BLE001 - gone already
        return []


# -- a helper rank that dies -----------------------------------------------------


class _FakeProcess:
    def __init__(self) -> None:
        self.exitcode: int | None = None


def test_the_watch_names_a_dead_helper_and_aborts_once():
    from engine.distributed import HelperWatch

    helpers = [_FakeProcess(), _FakeProcess()]
    aborts: list[float] = []
    watch = HelperWatch(
        helpers, ("cuda:0", "cuda:1", "cuda:2"), lambda: aborts.append(1), every=0.01
    )
    time.sleep(0.05)
    assert watch.lost is None and not aborts  # all alive: nothing to do
    helpers[1].exitcode = -signal.SIGKILL
    deadline = time.time() + 5
    while not aborts and time.time() < deadline:
        time.sleep(0.01)
    assert aborts == [1]
    assert watch.stop() == (
        "rank 2 of cuda:0 + cuda:1 + cuda:2 died during training (killed by SIGKILL)"
    )
    assert aborts == [1]


def test_helpers_that_ended_cleanly_are_not_lost_and_a_late_death_is_seen():
    from engine.distributed import HelperWatch

    helpers = [_FakeProcess()]
    helpers[0].exitcode = 0  # after the last step, every rank exits 0
    watch = HelperWatch(helpers, ("cpu", "cpu"), lambda: None, every=0.01)
    time.sleep(0.05)
    assert watch.stop() is None
    # Rank 0 saw the closed connection a moment before the exit code existed.
    helpers[0].exitcode = None
    watch = HelperWatch(helpers, ("cpu", "cpu"), lambda: None, every=10)
    threading.Timer(0.1, lambda: setattr(helpers[0], "exitcode", 3)).start()
    assert watch.stop(wait_for_death=5.0) == (
        "rank 1 of cpu + cpu died during training (exit code 3)"
    )


def test_a_lost_stage_is_reported_as_lost_for_a_retry():
    from engine.errors import Cancelled, StageLost, stage_failure

    why, message, trace = stage_failure(StageLost("rank 1 of cpu + cpu died"))
    assert (why, message) == ("lost", "StageLost: rank 1 of cpu + cpu died")
    assert stage_failure(Cancelled("stop"))[:2] == ("cancelled", "stop")
    assert stage_failure(InputError("bad"))[:2] == ("input", "bad")
    assert stage_failure(ValueError("x"))[0] == "error"


@pytest.mark.slow
def test_a_killed_helper_rank_fails_its_stage_which_runs_again(experiment, tmp_path):
    psutil = pytest.importorskip("psutil")
    driver, ws = _start_ddp_run(
        experiment, tmp_path, "h", "cpu,cpu",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 240
        while not any(e["type"] == "step" for e in _events(ws, "h")):
            assert time.time() < deadline and driver.poll() is None
            time.sleep(0.1)
        tree = psutil.Process(driver.pid).children(recursive=True)
        helpers = [p for p in tree if p.ppid() != driver.pid]
        assert len(helpers) == 1, [_cmdline(p) for p in tree]
        victim_stage = next(e for e in _events(ws, "h") if e["type"] == "step")["stage"]
        helpers[0].kill()
        output = driver.communicate(timeout=300)[0]
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, output[-3000:]
    events = _events(ws, "h")
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    assert any(
        f"stage {victim_stage} failed: StageLost: rank 1 of cpu + cpu died during "
        "training (killed by SIGKILL); running it again (retry 1 of 1)" in w
        for w in warnings
    ), warnings
    ends = [
        e for e in events if e["type"] == "stage_end" and e["stage"] == victim_stage
    ]
    assert "error" in ends[0] and "error" not in ends[-1]
    assert Store(Workspace.open(ws)).results(run_id="h")
