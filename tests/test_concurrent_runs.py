"""Two runs in one workspace: a shared stage computed once (per-stage locks
that work on NFS), unique temporary names, checkpoints never replaced under a
reader, weights with the workspace's normal mode, orphan run folders, and a
workspace path that is a file."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import (
    REPO,
    engine_cmd,
    experiment_toml,
    run_engine,
    write_sentiment_files,
)

from engine.errors import Cancelled
from engine.stage_lock import LockHolder, StageLock
from engine.store import Store
from engine.workspace import Workspace

# --------------------------------------------------------------------------
# Two real `xlt-engine run` processes on the same config at once


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


@pytest.mark.slow
def test_two_runs_of_one_config_compute_the_shared_stage_once(tmp_path, workspace):
    write_sentiment_files(tmp_path / "data", n_train=96, n_eval=24)
    config = tmp_path / "exp.toml"
    config.write_text(experiment_toml(epochs=1), encoding="utf-8")
    # A folder left by a run killed while registering (no store record).
    orphan = workspace / "runs" / "killed-while-registering"
    orphan.mkdir(parents=True)
    (orphan / "config.toml").write_text('name = "exp"\n')
    _old(orphan)
    env = {**os.environ, "COLUMNS": "200"}
    ids = ["run-a", "run-b"]
    procs = [
        subprocess.Popen(
            engine_cmd("run", str(config), "-w", str(workspace), "--run-id", rid),
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rid in ids
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, output
        assert "Traceback" not in output

    ws = Workspace(workspace)
    events = {rid: _events(ws.run_events(rid)) for rid in ids}
    intermediate = next(
        e["stage"]
        for e in events["run-a"]
        if e["type"] == "stage_start" and e["kind"] == "intermediate"
    )
    steps = {
        rid: sum(1 for e in ev if e["type"] == "step" and e["stage"] == intermediate)
        for rid, ev in events.items()
    }
    # Trained by exactly one of the two; the other reused its checkpoint.
    assert sorted(steps.values())[0] == 0 and sorted(steps.values())[1] > 0, steps
    reused = [
        rid
        for rid, ev in events.items()
        if any(
            e["type"] == "checkpoint" and e["stage"] == intermediate and e["reused"]
            for e in ev
        )
    ]
    assert reused == [rid for rid, n in steps.items() if n == 0]

    # The same scores in both runs, each (target, language) computed once.
    results = {}
    for rid in ids:
        out = run_engine(
            "results", "--run", rid, "-w", str(workspace), "--format", "json"
        )
        assert out.returncode == 0, out.stderr
        results[rid] = {
            (r["target"], r["intermediate"], r["language"], r["metric"]): r["value"]
            for r in json.loads(out.stdout)
        }
    assert results["run-a"] and results["run-a"] == results["run-b"]
    stored = Store(ws).results()
    fresh = [r for r in stored if not r["reused"]]
    assert len(fresh) == len(results["run-a"])  # nothing scored twice

    # The orphan is gone, said so in a run's events, and never a run.
    assert not orphan.exists()
    assert any(
        e["type"] == "log" and "killed-while-registering" in e["message"]
        for ev in events.values()
        for e in ev
    )
    assert sorted(r["id"] for r in Store(ws).runs()) == ids
    # Nothing left behind: no lock, no temporary copy.
    assert not list((workspace / "locks").glob("*"))
    leftovers = [p for p in workspace.rglob("*") if ".partial-" in p.name]
    assert leftovers == []
    # Weights readable by whoever shares the workspace (mode from the umask).
    umask = os.umask(0)
    os.umask(umask)
    weights = list((workspace / "checkpoints").rglob("*.safetensors"))
    weights += list((workspace / "models").rglob("*.safetensors"))
    assert weights
    assert {oct(w.stat().st_mode & 0o777) for w in weights} == {oct(0o666 & ~umask)}


# --------------------------------------------------------------------------
# The lock itself


def _lock_file(path: Path, **fields) -> bytes:
    holder = {
        "run_id": "other-run",
        "pid": 1,
        "pid_start": None,
        "host": socket.gethostname(),
        "heartbeat": time.time(),
        "beat": 0,
        "token": "feedface",
        **fields,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    content = json.dumps(holder).encode()
    path.write_bytes(content)
    return content


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_lock_whose_process_is_gone_is_broken(tmp_path):
    path = tmp_path / "locks" / "k.lock"
    _lock_file(path, pid=_dead_pid(), pid_start=1)
    broken: list[tuple[LockHolder | None, str]] = []
    lock = StageLock(path, "me", poll_s=0.01)
    lock.acquire(on_break=lambda holder, why: broken.append((holder, why)))
    try:
        assert len(broken) == 1
        holder, why = broken[0]
        assert holder is not None and holder.run_id == "other-run"
        assert "is gone" in why
        mine = LockHolder.parse(path.read_bytes())
        assert mine is not None and mine.run_id == "me" and mine.pid == os.getpid()
    finally:
        lock.release()
    assert not path.exists()
    assert list(path.parent.iterdir()) == []  # the broken file is not kept aside


def test_a_lock_from_another_host_is_broken_after_its_heartbeat_stops(tmp_path):
    path = tmp_path / "k.lock"
    # Its clock an hour ahead of ours, and never refreshed: stale once it has
    # not changed for 0.3 s by our clock (skew cannot keep it alive).
    _lock_file(
        path, host="elsewhere.invalid", pid=os.getpid(), heartbeat=time.time() + 3600
    )
    waited, broken = [], []
    lock = StageLock(path, "me", stale_after_s=0.3, poll_s=0.02)
    t0 = time.monotonic()
    lock.acquire(on_wait=waited.append, on_break=lambda h, why: broken.append(why))
    lock.release()
    assert time.monotonic() - t0 >= 0.3
    assert [h.host for h in waited] == ["elsewhere.invalid"]
    assert "has not changed" in broken[0]

    # An old heartbeat is broken at once, without waiting.
    _lock_file(path, host="elsewhere.invalid", heartbeat=time.time() - 3600)
    broken.clear()
    lock = StageLock(path, "me", stale_after_s=300, poll_s=0.02)
    t0 = time.monotonic()
    lock.acquire(on_break=lambda h, why: broken.append(why))
    lock.release()
    assert time.monotonic() - t0 < 5
    assert "s old" in broken[0]


def test_a_held_lock_keeps_its_heartbeat_going(tmp_path):
    path = tmp_path / "k.lock"
    lock = StageLock(path, "me", heartbeat_s=0.05)
    lock.acquire()
    try:
        first = path.read_bytes()
        deadline = time.monotonic() + 5
        while path.read_bytes() == first and time.monotonic() < deadline:
            time.sleep(0.02)
        later = LockHolder.parse(path.read_bytes())
        assert later is not None and later.token == lock.token
        assert path.read_bytes() != first
    finally:
        lock.release()


HOLDER = textwrap.dedent("""
    import sys
    from engine.stage_lock import StageLock
    lock = StageLock(sys.argv[1], "holder-run")
    lock.acquire()
    print("held", flush=True)
    sys.stdin.readline()
    lock.release()
    print("released", flush=True)
""")


@pytest.fixture
def held_lock(tmp_path):
    """A lock held by another, live process until the test says go."""
    path = tmp_path / "locks" / "k.lock"
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline().strip() == "held"
    yield path, child
    if child.poll() is None:
        child.kill()
    child.wait()


def test_a_lock_held_by_a_live_process_makes_the_second_wait(held_lock):
    path, child = held_lock
    waited: list[LockHolder | None] = []
    lock = StageLock(path, "me", poll_s=0.02)
    acquirer = threading.Thread(target=lambda: lock.acquire(on_wait=waited.append))
    acquirer.start()
    time.sleep(0.5)
    assert acquirer.is_alive()  # still waiting: the holder lives
    assert [h.run_id for h in waited if h] == ["holder-run"]

    child.stdin.write("go\n")
    child.stdin.flush()
    acquirer.join(timeout=10)
    assert not acquirer.is_alive()
    assert child.stdout.readline().strip() == "released"
    assert LockHolder.parse(path.read_bytes()).run_id == "me"
    lock.release()


def test_waiting_for_a_lock_stops_on_cancel(held_lock):
    path, child = held_lock
    asked = []
    lock = StageLock(path, "me", poll_s=0.02)
    with pytest.raises(Cancelled, match="holder-run"):
        lock.acquire(should_stop=lambda: len(asked) > 2 or asked.append(1) or False)
    assert child.poll() is None  # the holder was left alone
    assert LockHolder.parse(path.read_bytes()).run_id == "holder-run"


# --------------------------------------------------------------------------
# Moving a finished copy into place


def _copy(folder: Path, weights: bytes, marker: bool = True) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "model.safetensors").chmod(0o600)
    if marker:
        (folder / "xlt_stage.json").write_text("{}")
    return folder


def test_an_existing_checkpoint_is_kept_not_replaced_under_its_reader(tmp_path):
    final = _copy(tmp_path / "checkpoints" / "k", b"theirs")
    ours = _copy(Workspace.partial(final), b"ours")
    with open(final / "model.safetensors", "rb") as reader:
        Workspace.move_into_place(ours, final)
        assert reader.read() == b"theirs"
    assert (final / "model.safetensors").read_bytes() == b"theirs"
    assert not ours.exists()
    assert sorted(p.name for p in final.parent.iterdir()) == ["k"]


def test_an_incomplete_or_outdated_copy_is_replaced(tmp_path):
    final = _copy(tmp_path / "k", b"half", marker=False)  # an old writer's
    Workspace.move_into_place(_copy(Workspace.partial(final), b"whole"), final)
    assert (final / "model.safetensors").read_bytes() == b"whole"

    Workspace.move_into_place(
        _copy(Workspace.partial(final), b"v2"), final, outdated=lambda f: True
    )
    assert (final / "model.safetensors").read_bytes() == b"v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k"]


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_weights_get_the_workspace_mode_not_0600(tmp_path, umask):
    from engine.models.tiny import ensure_tiny_model

    old = os.umask(umask)
    try:
        folder = ensure_tiny_model(tmp_path / "models" / "xlt-tiny")
    finally:
        os.umask(old)
    weights = folder / "model.safetensors"
    assert weights.stat().st_mode & 0o777 == 0o666 & ~umask  # 0644 / 0664
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask
    assert [p.name for p in folder.parent.iterdir()] == ["xlt-tiny"]


def test_two_writers_of_the_tiny_model_keep_the_first(tmp_path):
    from engine.models.tiny import ensure_tiny_model

    folder = ensure_tiny_model(tmp_path / "xlt-tiny")
    inode = (folder / "model.safetensors").stat().st_ino
    (folder / "xlt_tiny_version.txt").write_text("0")  # outdated: rewritten
    ensure_tiny_model(folder)
    assert (folder / "model.safetensors").stat().st_ino != inode
    assert (folder / "xlt_tiny_version.txt").read_text() == "1"


# --------------------------------------------------------------------------
# Orphan run folders, a workspace that is a file


def _old(folder: Path) -> None:
    past = time.time() - 3600
    for path in [*folder.iterdir(), folder]:
        os.utime(path, (past, past))


def test_orphan_run_folders_are_removed_or_reported(workspace):
    from engine.launch import _orphan_run_folders

    ws = Workspace(workspace)
    store = Store(ws)
    header = json.dumps({"type": "header", "run_id": "x"}) + "\n"
    cut = ws.run_dir("killed-while-registering")
    cut.mkdir(parents=True)
    (cut / "config.toml").write_text('name = "x"\n')
    (cut / "events.jsonl").write_text(header)
    _old(cut)
    worked = ws.run_dir("no-record-but-work")
    worked.mkdir()
    (worked / "events.jsonl").write_text(header + '{"type": "stage_start"}\n')
    (worked / "notes.txt").write_text("mine")
    _old(worked)
    young = ws.run_dir("registering-now")
    young.mkdir()
    (young / "config.toml").write_text('name = "x"\n')
    recorded = ws.run_dir("recorded")
    recorded.mkdir()
    _old(recorded)
    store.create_run({"id": "recorded", "status": "finished"})

    notes = _orphan_run_folders(store, ws)

    assert not cut.exists()
    assert worked.exists() and young.exists() and recorded.exists()
    assert [removed for removed, _ in notes] == [True, False]
    assert "killed-while-registering" in notes[0][1]
    assert "no-record-but-work" in notes[1][1] and "kept" in notes[1][1]
    assert [r["id"] for r in store.runs()] == ["recorded"]  # no phantom run


def test_a_workspace_that_is_a_file_is_bad_input(tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("not a workspace")
    for args in (["runs"], ["results"], ["run", "whatever.toml"]):
        out = run_engine(*args, "-w", str(afile))
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr
        assert f"'{afile}' is a file; expected a folder" in out.stderr
    assert afile.read_text() == "not a workspace"
