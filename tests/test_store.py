"""The store: whole writes under one lock, and runs whose process is gone
shown as interrupted."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys

import pytest

from engine.control import process_start_time
from engine.errors import InputError
from engine.store import Store


def result(run_id: str, i: int) -> dict:
    return {
        "run_id": run_id,
        "seed": 1,
        "model": "m",
        "intermediate": "baseline",
        "target": "t",
        "language": f"l{i}",
        "split": "test",
        "metric": "accuracy",
        "value": i / 100,
        "n_examples": 10,
    }


def _writer(path: str, worker: int, n: int) -> None:
    store = Store(path)
    for i in range(n):
        store.add_results([result(f"w{worker}", i)])


def test_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / "xlt.json")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 25)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    records = Store(path).results()
    assert len(records) == 75
    assert {r["run_id"] for r in records} == {"w0", "w1", "w2"}


def test_runs_write_replaces_the_file_whole(tmp_path):
    store = Store(tmp_path / "xlt.json")
    store.create_run({"id": "a", "status": "finished"})
    inode = os.stat(store.path).st_ino
    store.update_run("a", status="failed")
    assert os.stat(store.path).st_ino != inode  # a new file renamed into place
    json.loads(store.path.read_text())
    assert not list(tmp_path.glob(".xlt.json.*.tmp"))


def test_results_line_cut_by_a_kill_is_dropped_before_the_next_append(tmp_path):
    store = Store(tmp_path / "xlt.json")
    store.add_results([result("r", 1)])
    with open(store.results_path, "a") as fh:
        fh.write('{"run_id": "r", "seed": 1, "val')  # killed mid-write
    store.add_results([result("r", 2)])
    assert [r["language"] for r in store.results()] == ["l1", "l2"]


def test_delete_run_removes_its_results_only(tmp_path):
    store = Store(tmp_path / "xlt.json")
    for rid in ("a", "b"):
        store.create_run({"id": rid, "status": "finished"})
        store.add_results([result(rid, 1), result(rid, 2)])
    store.delete_run("a")
    assert [r["id"] for r in store.runs()] == ["b"]
    assert {r["run_id"] for r in store.results()} == {"b"}
    assert len(store.results()) == 2


def test_results_kept_in_xlt_json_by_older_versions_are_moved(tmp_path):
    legacy = {
        "runs": {"1": {"id": "old", "status": "finished"}},
        "results": {"1": result("old", 1), "2": result("old", 2)},
    }
    (tmp_path / "xlt.json").write_text(json.dumps(legacy))
    store = Store(tmp_path / "xlt.json")
    assert len(store.results(run_id="old")) == 2
    assert "results" not in json.loads(store.path.read_text())
    assert len(Store(tmp_path / "xlt.json").results()) == 2  # moved once only


def run_record(run_id: str, pid: int, **extra) -> dict:
    return {
        "id": run_id,
        "name": "x",
        "status": "running",
        "started_at": 1.0,
        "pid": pid,
        "pid_start": process_start_time(pid),
        "host": socket.gethostname(),
        **extra,
    }


def test_live_run_without_process_is_interrupted(tmp_path):
    store = Store(tmp_path / "xlt.json")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    record = run_record("gone", child.pid)
    child.wait()
    store.create_run(record)
    store.create_run({**record, "id": "gone-starting", "status": "starting"})
    store.create_run(run_record("alive", os.getpid()))
    store.create_run({**run_record("loading", os.getpid()), "status": "starting"})
    store.create_run({**run_record("done", 1), "status": "finished"})
    status = {r["id"]: r["status"] for r in store.runs()}
    assert status == {
        "gone": "interrupted",
        "gone-starting": "interrupted",
        "alive": "running",
        "loading": "starting",
        "done": "finished",
    }


def test_reused_pid_is_not_mistaken_for_the_run(tmp_path):
    store = Store(tmp_path / "xlt.json")
    record = run_record("old", os.getpid())
    record["pid_start"] = (record["pid_start"] or 0) - 1000  # another process's start
    store.create_run(record)
    assert store.get_run("old")["status"] == "interrupted"


def test_other_hosts_runs_are_left_as_recorded(tmp_path):
    store = Store(tmp_path / "xlt.json")
    store.create_run(run_record("remote", 999999, host="some-other-box"))
    assert store.get_run("remote")["status"] == "running"


def test_corrupt_store_is_a_clear_error(tmp_path):
    path = tmp_path / "xlt.json"
    path.write_text('{"runs": {')
    with pytest.raises(InputError, match="not valid JSON"):
        Store(path).runs()


def test_duplicate_run_id_is_refused(tmp_path):
    store = Store(tmp_path / "xlt.json")
    store.create_run(run_record("a", os.getpid()))
    with pytest.raises(InputError, match="already exists"):
        store.create_run(run_record("a", os.getpid()))


def test_atomic_writes_get_the_mode_a_plain_open_would(tmp_path):
    from engine.atomic import _umask, write_text_atomic

    path = tmp_path / "out.txt"
    write_text_atomic(path, "x")
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()  # not mkstemp's 0600
    path.chmod(0o640)
    write_text_atomic(path, "y")
    assert path.stat().st_mode & 0o777 == 0o640
