"""The results store: one TinyDB JSON file with tables `runs` and `results`.

One writer at a time (a file lock next to the store); every write lands whole
(temp file, fsync, rename), so a killed engine never leaves a half-written
store. Readers take no lock: they always see a whole file.

A run whose process is gone without having recorded its end is reported as
`interrupted` (see `effective_status`).

Light module: no torch.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock
from tinydb import Query, TinyDB
from tinydb.storages import Storage

from engine.atomic import write_text_atomic
from engine.errors import InputError

RUN_STATUSES = ("queued", "running", "finished", "failed", "cancelled", "interrupted")
LIVE_STATUSES = ("queued", "running")
RESULT_KEYS = (
    "run_id",
    "seed",
    "model",
    "intermediate",
    "target",
    "language",
    "split",
    "metric",
    "value",
    "n_examples",
)


class AtomicJSONStorage(Storage):
    """TinyDB storage whose writes replace the file whole."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def read(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{self.path}: the results store is not valid JSON ({exc.msg} at "
                f"line {exc.lineno}); it was changed outside xlt"
            ) from None

    def write(self, data: dict[str, Any]) -> None:
        write_text_atomic(self.path, json.dumps(data, ensure_ascii=False))

    def close(self) -> None:
        pass


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.path) + ".lock", timeout=60)

    @contextmanager
    def _db(self, write: bool) -> Iterator[TinyDB]:
        if write:
            with self._lock:
                db = TinyDB(self.path, storage=AtomicJSONStorage)
                try:
                    yield db
                finally:
                    db.close()
        else:
            db = TinyDB(self.path, storage=AtomicJSONStorage)
            try:
                yield db
            finally:
                db.close()

    # -- runs -------------------------------------------------------------
    def create_run(self, record: dict[str, Any]) -> None:
        with self._db(write=True) as db:
            runs = db.table("runs")
            if runs.contains(Query().id == record["id"]):
                raise InputError(
                    f"run id '{record['id']}' already exists in {self.path}"
                )
            runs.insert(record)

    def update_run(self, run_id: str, **fields: Any) -> None:
        with self._db(write=True) as db:
            db.table("runs").update(fields, Query().id == run_id)

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with self._db(write=False) as db:
            doc = db.table("runs").get(Query().id == run_id)
        return _with_effective_status(dict(doc)) if doc else None

    def runs(self) -> list[dict[str, Any]]:
        with self._db(write=False) as db:
            docs = [dict(d) for d in db.table("runs").all()]
        docs.sort(key=lambda r: r.get("started_at") or 0)
        return [_with_effective_status(d) for d in docs]

    def delete_run(self, run_id: str) -> None:
        with self._db(write=True) as db:
            db.table("runs").remove(Query().id == run_id)
            db.table("results").remove(Query().run_id == run_id)

    # -- results ----------------------------------------------------------
    def add_results(self, records: Iterable[dict[str, Any]]) -> None:
        records = list(records)
        for rec in records:
            missing = [k for k in RESULT_KEYS if k not in rec]
            if missing:
                raise ValueError(f"result record lacks {missing}")
        if records:
            with self._db(write=True) as db:
                db.table("results").insert_multiple(records)

    def results(
        self, run_id: str | None = None, target: str | None = None
    ) -> list[dict[str, Any]]:
        with self._db(write=False) as db:
            docs = db.table("results").all()
        return [
            dict(d)
            for d in docs
            if (run_id is None or d.get("run_id") == run_id)
            and (target is None or d.get("target") == target)
        ]


# --------------------------------------------------------------------------
# Is the run's process still there?


def process_start_time(pid: int) -> int | None:
    """The kernel's start time of a process (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 counted after the parenthesised command name, which may hold spaces.
    return int(stat.rsplit(")", 1)[1].split()[19])


def process_alive(pid: int, start_time: int | None = None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if start_time is not None:
        now = process_start_time(pid)
        if now is not None and now != start_time:
            return False  # the pid was reused by another process
        if _is_zombie(pid):
            return False
    return True


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def effective_status(run: dict[str, Any]) -> str:
    status = run.get("status", "queued")
    if status not in LIVE_STATUSES:
        return status
    if run.get("host") != socket.gethostname() or not run.get("pid"):
        return status  # another machine's run: we cannot look at its process
    if process_alive(run["pid"], run.get("pid_start")):
        return status
    return "interrupted"


def _with_effective_status(run: dict[str, Any]) -> dict[str, Any]:
    run["status"] = effective_status(run)
    return run
