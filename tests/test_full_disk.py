"""A disk that fills while a run writes: a clean failed run, never a traceback.

The disk is filled two ways. In-process, a write to one of the run's files
(the results store, the tokenized-data cache) is cut off part-way with
ENOSPC, as a full disk cuts it: the bytes that fit land, then the error.
And, where this machine lets a test mount one, a real tmpfs of 1, 3 and 20
MiB holds the workspace of a real engine process.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

import engine.data.tokenize
import engine.store
from engine.cli import app
from engine.store import Store
from engine.workspace import Workspace
from tests.conftest import REPO, engine_cmd, experiment_toml, write_sentiment_files


class _FillingFile(io.RawIOBase):
    """A file on a disk with `room` bytes left: writes land up to that, then
    ENOSPC (the partial write lands, as on a real disk)."""

    def __init__(self, real, room: int):
        self.real, self.room = real, room

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return self.real.readable()

    def seekable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        if len(data) > self.room:
            self.real.write(data[: self.room])
            self.real.flush()
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def seek(self, *args):
        return self.real.seek(*args)

    def tell(self):
        return self.real.tell()

    def read(self, *args):
        return self.real.read(*args)

    def truncate(self, *args):
        return self.real.truncate(*args)

    def fileno(self):
        return self.real.fileno()

    def flush(self):
        self.real.flush()

    def close(self):
        if not self.closed:
            super().close()  # (flushes: through to the real file)
            self.real.close()


def _filling_open(match: str, room: int):
    """builtins.open, except that a file whose name contains `match`, opened
    for writing, sits on a disk with `room` bytes left."""

    def fake_open(file, mode="r", *args, **kwargs):
        real = open(file, mode, *args, **kwargs)  # noqa: SIM115 - handed on
        if match in str(file) and any(c in mode for c in "wa+"):
            return _FillingFile(real, room)
        return real

    return fake_open


@pytest.fixture
def small_experiment(tmp_path: Path) -> Path:
    # A few training steps: the fault, not the training, is under test.
    write_sentiment_files(tmp_path / "data", n_train=48, n_eval=12)
    cfg = tmp_path / "exp.toml"
    cfg.write_text(experiment_toml(epochs=1, intermediate=()), encoding="utf-8")
    return cfg


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _assert_clean_failure(result, workspace: Path, run_id: str, where: str):
    output = result.output
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    assert "disk full" in output and where in output, output
    run = Store(Workspace(workspace)).get_run(run_id)  # the store still reads
    assert run is not None and run["status"] == "failed", run
    assert "disk full" in run["error"] and where in run["error"]
    events = [
        json.loads(line)
        for line in (workspace / "runs" / run_id / "events.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    assert events[-1]["type"] == "run_end" and events[-1]["status"] == "failed"
    assert any(e["type"] == "error" and "disk full" in e["message"] for e in events)
    leftovers = [p for p in workspace.rglob("*") if ".partial-" in p.name]
    assert leftovers == []


def test_disk_full_while_writing_a_result(small_experiment, workspace, monkeypatch):
    # Room for 40 bytes: the first result line is cut off part-way.
    monkeypatch.setattr(
        engine.store, "open", _filling_open("results.jsonl", 40), raising=False
    )
    result = CliRunner().invoke(
        app, ["run", str(small_experiment), "-w", str(workspace), "--run-id", "r1"]
    )
    _assert_clean_failure(result, workspace, "r1", "results.jsonl")
    # Nothing of the cut line is left for a reader or the next append.
    assert (workspace / "results.jsonl").read_bytes() == b""


def test_disk_full_while_writing_the_cache(small_experiment, workspace, monkeypatch):
    # Leftovers of an engine killed earlier: removed at this start once idle
    # a while and their writer is gone; a live writer's copy is left alone.
    dead = _dead_pid()
    old_folder = workspace / "checkpoints" / f"abc.partial-{dead}-0f0f0f0f"
    old_folder.mkdir(parents=True)
    (old_folder / "model.safetensors").write_bytes(b"x" * 100)
    old_store_copy = workspace / f".xlt.json.partial-{dead}-x1y2z3.tmp"
    old_store_copy.write_text("{")
    long_ago = time.time() - 3600
    for path in (old_folder / "model.safetensors", old_folder, old_store_copy):
        os.utime(path, (long_ago, long_ago))
    live = workspace / "cache" / f"k.partial-{os.getppid()}-1a2b3c4d"
    live.parent.mkdir(parents=True)
    live.write_bytes(b"being written")
    os.utime(live, (long_ago, long_ago))

    monkeypatch.setattr(
        engine.data.tokenize, "open", _filling_open(".partial-", 1000), raising=False
    )
    result = CliRunner().invoke(
        app, ["run", str(small_experiment), "-w", str(workspace), "--run-id", "r2"]
    )
    assert live.exists()  # a live writer's copy is kept
    live.unlink()
    assert not old_folder.exists() and not old_store_copy.exists()
    _assert_clean_failure(result, workspace, "r2", str(workspace))
    assert not list((workspace / "cache").rglob("features.npz"))


def _can_mount_tmpfs(folder: Path) -> str | None:
    """None when a tmpfs can be mounted at `folder`, else why not."""
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "no mount command"
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return f"cannot mount a tmpfs here: {proc.stderr.strip()}"
    subprocess.run(["umount", str(folder)], check=True)
    return None


@pytest.mark.slow
@pytest.mark.parametrize("mib", [1, 3, 20])
def test_real_small_disk(mib, tmp_path, experiment):
    disk = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    why_not = _can_mount_tmpfs(disk)
    if why_not:
        pytest.skip(why_not)
    cfg = experiment(epochs=1)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={mib}m", "tmpfs", str(disk)], check=True
    )
    try:
        ws = disk / "ws"
        proc = subprocess.run(
            engine_cmd("run", str(cfg), "--workspace", str(ws), "--run-id", "small"),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "COLUMNS": "200"},
        )
        output = proc.stdout + proc.stderr
        assert "Traceback" not in output
        leftovers = [p for p in ws.rglob("*") if ".partial-" in p.name]
        assert leftovers == []
        run = Store(Workspace(ws)).get_run("small")  # the store reads
        if proc.returncode == 0:
            # 20 MiB may be room enough for this tiny run: then it is whole.
            assert run is not None and run["status"] == "finished"
            return
        assert proc.returncode == 1, output
        assert "disk full" in output and str(ws) in output, output
        if run is not None:  # a record that exists is final
            assert run["status"] == "failed" and "disk full" in run["error"]
        events_file = ws / "runs" / "small" / "events.jsonl"
        if events_file.is_file():
            last = events_file.read_text().splitlines()[-1]
            assert json.loads(last)["type"] == "run_end"
    finally:
        subprocess.run(["umount", str(disk)], check=False)
