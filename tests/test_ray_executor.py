"""The Ray executor (`executor = "ray"`): its config and options, the slots it
asks a cluster for, the workspace check on every node, and whole runs on a
local two-CPU Ray cluster that these tests start (loopback, token auth):
the sequential run's results, a killed worker's stage run again, and no
worker left when the driver is killed."""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.executors.worker import WorkerSpec
from tests.conftest import REPO, engine_cmd, run_engine
from tests.test_parallel_runs import (
    _all_gone,
    _config,
    _events,
    _results,
    _status,
    _training,
    _wait_for,
    _worker_pids,
)

# -- config, options, slots (fast) ------------------------------------------------


def test_executor_keys_round_trip_and_what_they_refuse(tmp_path):
    config = _config(tmp_path, 'executor = "ray"\nray_address = "10.0.0.5:6379"')
    assert (config.executor, config.ray_address) == ("ray", "10.0.0.5:6379")
    out = config.to_toml_dict()
    assert (out["executor"], out["ray_address"]) == ("ray", "10.0.0.5:6379")
    assert "executor" not in _config(tmp_path, "").to_toml_dict()
    with pytest.raises(InputError, match='only with executor = "ray"'):
        _config(tmp_path, 'ray_address = "auto"')
    with pytest.raises(InputError, match="executor"):
        _config(tmp_path, 'executor = "slurm"')


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--executor", "rya"), "did you mean 'ray'"),
        (("--ray-address", "auto"), "--ray-address: only with the ray executor"),
    ],
)
def test_bad_executor_options_exit_2_without_a_traceback(
    experiment, tmp_path, options, message
):
    config = experiment(epochs=1)
    ws = tmp_path / "ws"
    done = run_engine("run", str(config), "-w", str(ws), "--dry-run", *options)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_without_ray_installed_the_error_says_how_to_get_it(monkeypatch):
    from engine.executors.ray_executor import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails
    with pytest.raises(InputError) as refused:
        import_ray()
    # The command that works for xlt installed from its folder (setup.sh).
    assert f"-m pip install -e '{REPO}[ray]'" in str(refused.value)


def _executor(tmp_path, devices, **config_changes):
    from engine.executors.ray_executor import RayExecutor

    config = dataclasses.replace(
        _config(tmp_path, 'executor = "ray"'), **config_changes
    )
    return RayExecutor(config, str(tmp_path), "r", devices, print, print)


def test_slots_are_the_cluster_s_gpus_or_the_cpu_workers_asked_for(tmp_path):
    cluster = {"GPU": 4.0, "CPU": 32.0}
    slots = _executor(tmp_path, ["all"])._slot_requests(cluster)
    assert slots == [{"num_gpus": 1, "num_cpus": 8}] * 4
    cpus = _executor(tmp_path, ["cpu", "cpu"])._slot_requests(cluster)
    assert cpus == [{"num_gpus": 0, "num_cpus": 16, "ranks": 1}] * 2
    # gpus_per_stage: each slot holds that many GPUs (or CPU ranks) for DDP.
    pairs = _executor(tmp_path, ["all"], gpus_per_stage=2)._slot_requests(cluster)
    assert pairs == [{"num_gpus": 2, "num_cpus": 16}] * 2
    ranks = _executor(tmp_path, ["cpu"] * 4, gpus_per_stage=2)
    assert (
        ranks._slot_requests(cluster)
        == [{"num_gpus": 0, "num_cpus": 16, "ranks": 2}] * 2
    )
    with pytest.raises(InputError, match="gpus_per_stage: 2 does not divide"):
        _executor(tmp_path, ["cpu"] * 3, gpus_per_stage=2)._slot_requests(cluster)
    with pytest.raises(InputError, match=r'"all" means every GPU .* has 0'):
        _executor(tmp_path, ["all"])._slot_requests({"CPU": 8.0})
    with pytest.raises(InputError, match="names a device of one machine"):
        _executor(tmp_path, ["cuda:1", "cuda:2"])._slot_requests(cluster)
    with pytest.raises(InputError, match="has 2 CPUs; list at most 2"):
        _executor(tmp_path, ["cpu"] * 3)._slot_requests({"CPU": 2.0})


def test_a_node_that_does_not_see_the_workspace_says_so(tmp_path):
    from engine.executors.ray_worker import StageActor, WorkspaceNotVisible

    spec = WorkerSpec(None, str(tmp_path / "ws"), "r", "cpu", 1, os.getpid())
    actor = StageActor(spec, None, 0, str(tmp_path / "ws/tmp/check"), "abc")
    with pytest.raises(WorkspaceNotVisible, match=r"does not see the workspace .*ws"):
        actor.setup()


# -- runs on a local Ray cluster (slow: a cluster, engine and worker processes) ----


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pids: set[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1]
            except OSError:
                continue
            children.setdefault(int(stat.split()[1]), []).append(int(entry))
    found, todo = set(), list(pids)
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children.get(pid, [])
    return found


def _cluster_pids(marker: str) -> set[int]:
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmd:
                pids.add(int(entry))
    return _descendants(pids)


@pytest.fixture(scope="module")
def ray_cluster():
    """A Ray head with 2 CPUs on this machine, its own token and folders;
    every process of it is stopped afterwards (and no other Ray)."""
    pytest.importorskip("ray")
    # Short: Ray's unix sockets live under it (a path limit of 107 bytes).
    root = Path(tempfile.mkdtemp(prefix="xr-", dir="/tmp"))
    token = root / "token"
    token.write_text(secrets.token_hex(32), encoding="utf-8")
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    port = _free_port()
    ray = Path(sys.executable).parent / "ray"
    subprocess.run(
        [str(ray), "start", "--head", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", "--disable-usage-stats",
         f"--temp-dir={root}", "--node-ip-address=127.0.0.1"],
        env=env, check=True, timeout=180, capture_output=True,
    )  # fmt: skip
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        pids = _cluster_pids(str(root))
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _start_on_ray(config: Path, ws: Path, run_id: str, cluster) -> subprocess.Popen:
    address, env = cluster
    return subprocess.Popen(
        engine_cmd("run", str(config), "--workspace", str(ws), "--run-id", run_id,
                   "--executor", "ray", "--ray-address", address,
                   "--devices", "cpu,cpu", "--plain"),
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def small_grid(tmp_path_factory):
    from tests.conftest import experiment_toml, write_sentiment_files

    root = tmp_path_factory.mktemp("raygrid")
    write_sentiment_files(root / "data", n_train=200)
    config = root / "grid.toml"
    config.write_text(experiment_toml(epochs=2, seeds=(1, 2)), encoding="utf-8")
    return root, config


@pytest.mark.slow
def test_a_ray_cluster_gives_the_sequential_results(ray_cluster, small_grid):
    root, config = small_grid
    seq = run_engine("run", str(config), "-w", str(root / "seq"), "--run-id", "seq")
    assert seq.returncode == 0, seq.stderr[-3000:]
    driver = _start_on_ray(config, root / "ray", "ray", ray_cluster)
    assert driver.wait(timeout=400) == 0, driver.stderr.read()[-3000:]
    assert _results(root / "ray", "ray") == _results(root / "seq", "seq")
    events = _events(root / "ray", "ray")
    # Two actors, each named by its node and slot, both used.
    assert len(_worker_pids(events)) == 2
    devices = {e["device"] for e in events if e["type"] == "stage_start"}
    assert len(devices) == 2 and all(":cpu" in d for d in devices), devices
    assert {e["device"] for e in events if e["type"] == "step"} == devices
    assert (
        "Ray cluster" in next(e for e in events if e["type"] == "run_start")["device"]
    )


@pytest.fixture
def slow_grid(tmp_path):
    from tests.conftest import experiment_toml, write_sentiment_files

    write_sentiment_files(tmp_path / "data")
    config = tmp_path / "slow.toml"
    config.write_text(experiment_toml(epochs=3, seeds=(1,)), encoding="utf-8")
    return config


@pytest.mark.slow
def test_a_killed_ray_worker_s_stage_runs_again(ray_cluster, slow_grid, tmp_path):
    ws = tmp_path / "ws"
    driver = _start_on_ray(slow_grid, ws, "k1", ray_cluster)
    events = _wait_for(ws, "k1", lambda ev: _training(ev) is not None)
    victim = _training(events)
    assert victim is not None
    os.kill(victim["worker_pid"], signal.SIGKILL)
    assert driver.wait(timeout=400) == 0, driver.stderr.read()[-3000:]
    events = _events(ws, "k1")
    warnings = [e for e in events if e["type"] == "warning" and "again" in e["message"]]
    assert [w["stage"] for w in warnings] == [victim["stage"]]
    assert "Ray worker" in warnings[0]["message"]
    again = [
        e
        for e in events
        if e["type"] == "stage_start" and e["stage"] == victim["stage"]
    ]
    assert len(again) == 2 and again[1]["worker_pid"] != victim["worker_pid"]
    assert events[-1]["type"] == "run_end" and events[-1]["status"] == "finished"


@pytest.mark.slow
def test_kill_9_of_the_driver_leaves_no_ray_worker(ray_cluster, slow_grid, tmp_path):
    ws = tmp_path / "ws"
    driver = _start_on_ray(slow_grid, ws, "d1", ray_cluster)
    events = _wait_for(ws, "d1", lambda ev: _training(ev) is not None)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    # Ray ends a job's actors when their owner (the driver) is gone.
    assert _all_gone(_worker_pids(events), timeout=60.0)
    assert _status(ws, "d1") == "interrupted"


def test_the_dry_run_says_where_stages_run(experiment, tmp_path):
    config = experiment(epochs=1, extra="gpus_per_stage = 2")
    ws = str(tmp_path / "ws")
    ray = run_engine(
        "run", str(config), "-w", ws, "--dry-run", "--executor", "ray",
        "--devices", "cpu,cpu",
    )  # fmt: skip
    assert ray.returncode == 0, ray.stderr
    assert (
        "stages run on a Ray instance started for the run here; devices cpu, cpu; "
        "each stage trains on 2 devices (torch DDP)."
    ) in ray.stdout.replace("\n", " ")
    local = run_engine(
        "run", str(config), "-w", ws, "--dry-run", "--devices", "cpu,cpu"
    )
    assert "one worker per device (cpu, cpu)" in local.stdout.replace("\n", " ")


@pytest.mark.slow
def test_cancel_stops_every_ray_worker(ray_cluster, slow_grid, tmp_path):
    ws = tmp_path / "ws"
    driver = _start_on_ray(slow_grid, ws, "c1", ray_cluster)
    events = _wait_for(ws, "c1", lambda ev: _training(ev) is not None)
    done = run_engine("cancel", "c1", "--workspace", str(ws))
    assert done.returncode == 0, done.stderr
    assert driver.wait(timeout=180) == 1
    events = _events(ws, "c1")
    assert _all_gone(_worker_pids(events), timeout=30.0)
    assert _status(ws, "c1") == "cancelled"
    assert events[-1]["status"] == "cancelled"
