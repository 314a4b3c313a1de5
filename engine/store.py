"""The store: runs in a TinyDB JSON file (`xlt.json`), results in an
append-only JSON-lines file beside it (`results.jsonl`).

Why two files: a workspace collects 100,000s of per-language results but only
hundreds of runs. TinyDB rewrites its whole file on each write and readers
parse it whole, so results there made every progress update of the engine and
every refresh of the TUI's runs list cost a parse of megabytes. Appended lines
cost only themselves, and a reader that keeps its offset (engine.jsonl) reads
only what is new.

One writer at a time (a file lock next to the store). Every runs write lands
whole (temp file, fsync, rename); results are appended whole lines at a time,
fsynced, and a line cut short by a kill is cut off before the next append, so a
killed engine never leaves a half-written store. Readers take no lock.

A live run whose process is gone without having recorded its end is reported
as `interrupted` (`engine.control.effective_status`, applied to every record
read).

Light module: no torch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock
from tinydb import Query, TinyDB
from tinydb.storages import Storage

from engine.atomic import write_text_atomic
from engine.control import effective_status
from engine.errors import InputError
from engine.jsonl import JsonLinesTail
from engine.workspace import Workspace

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
    def __init__(self, where: Workspace | str | Path):
        """The store of a workspace; `where` is the workspace or its xlt.json."""
        if isinstance(where, Workspace):
            workspace = where
            self.path = workspace.store_path
        else:
            workspace = Workspace(Path(where).parent)
            self.path = Path(where)
        self.results_path = workspace.results_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(workspace.store_lock_path), timeout=60)
        self._move_legacy_results()

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
        with self._lock:
            with TinyDB(self.path, storage=AtomicJSONStorage) as db:
                db.table("runs").remove(Query().id == run_id)
            kept = [r for r in self._read_results() if r.get("run_id") != run_id]
            write_text_atomic(self.results_path, "".join(map(_result_line, kept)))

    # -- results ----------------------------------------------------------
    def add_results(self, records: Iterable[dict[str, Any]]) -> None:
        records = list(records)
        for rec in records:
            missing = [k for k in RESULT_KEYS if k not in rec]
            if missing:
                raise ValueError(f"result record lacks {missing}")
        if records:
            with self._lock:
                self._append_results(records)

    def results(
        self, run_id: str | None = None, target: str | None = None
    ) -> list[dict[str, Any]]:
        return [
            r
            for r in self._read_results()
            if (run_id is None or r.get("run_id") == run_id)
            and (target is None or r.get("target") == target)
        ]

    def _read_results(self) -> list[dict[str, Any]]:
        return JsonLinesTail(self.results_path, required_key="run_id").read_new()

    def _append_results(self, records: list[dict[str, Any]]) -> None:
        payload = "".join(map(_result_line, records)).encode("utf-8")
        with open(self.results_path, "ab+") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size:
                # A kill mid-append leaves a cut line: drop it before appending.
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    fh.seek(0)
                    data = fh.read()
                    fh.truncate(data.rfind(b"\n") + 1)
                    fh.seek(0, os.SEEK_END)
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())

    def _move_legacy_results(self) -> None:
        """Workspaces made before results.jsonl kept results in xlt.json."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        if '"results"' not in text:
            return
        with self._db(write=True) as db:
            legacy = [dict(d) for d in db.table("results").all()]
            if legacy:
                self._append_results(legacy)
            db.drop_table("results")


def _result_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def _with_effective_status(run: dict[str, Any]) -> dict[str, Any]:
    run["status"] = effective_status(run)
    return run
