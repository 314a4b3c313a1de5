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
from collections.abc import Callable, Iterable, Iterator
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


# What a result record's keys hold (bool is refused where numbers are meant:
# json writes True for a Python bool, never for a score).
_RESULT_TYPES: dict[str, tuple[type, ...]] = {
    "run_id": (str,),
    "seed": (int,),
    "model": (str,),
    "intermediate": (str,),
    "target": (str,),
    "language": (str,),
    "split": (str,),
    "metric": (str,),
    "value": (int, float),
    "n_examples": (int,),
}
# The run keys every reader relies on, and what they hold.
_RUN_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "status": (str,),
}
_RUN_OPTIONAL_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "started_at": (int, float, type(None)),
    "ended_at": (int, float, type(None)),
    "pid": (int, type(None)),
    "stages_done": (int,),
    "error": (str, type(None)),
}
_CHANGED_OUTSIDE = (
    "it was changed outside xlt: restore it from a backup, or move it aside "
    "to start a new, empty store"
)


def result_problem(record: dict[str, Any]) -> str | None:
    """What is wrong with a results.jsonl record, or None when it is whole."""
    missing = [k for k in RESULT_KEYS if k not in record]
    if missing:
        return f"lacks {', '.join(missing)}"
    return _type_problem(record, _RESULT_TYPES)


def _type_problem(
    record: dict[str, Any], types: dict[str, tuple[type, ...]]
) -> str | None:
    for key, allowed in types.items():
        if key not in record:
            continue
        value = record[key]
        if isinstance(value, bool) or not isinstance(value, allowed):
            shown = [t for t in allowed if not (t is int and float in allowed)]
            names = " or ".join(
                "null" if t is type(None) else _TYPE_NAMES.get(t, t.__name__)
                for t in shown
            )
            return f"{key}: expected {names}, got {json.dumps(value)[:40]}"
    return None


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number"}


class AtomicJSONStorage(Storage):
    """TinyDB storage whose writes replace the file whole.

    A file that is not the store's (not UTF-8 JSON, not tables of records, a
    run without its id) is bad input naming the file and the record, never a
    crash inside TinyDB; an empty file reads as an empty store, with a
    warning through `warn`."""

    def __init__(self, path: str | Path, warn: Callable[[str], None] | None = None):
        self.path = Path(path)
        self.warn = warn

    def read(self) -> dict[str, Any] | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InputError(_unreadable(self.path, exc, "the runs store")) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{self.path}: the runs store is not UTF-8 text (byte {exc.start} "
                f"of {len(data)}); {_CHANGED_OUTSIDE}"
            ) from None
        if not text.strip():
            if self.warn is not None:
                self.warn(
                    f"{self.path} is empty: read as a store with no runs (xlt never "
                    "writes an empty store; results of runs recorded there are "
                    "not listed)"
                )
            return None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{self.path}: the runs store is not valid JSON ({exc.msg} at "
                f"line {exc.lineno}, column {exc.colno}); {_CHANGED_OUTSIDE}"
            ) from None
        problem = _store_shape_problem(document)
        if problem:
            raise InputError(f"{self.path}: {problem}; {_CHANGED_OUTSIDE}")
        return document

    def write(self, data: dict[str, Any]) -> None:
        write_text_atomic(self.path, json.dumps(data, ensure_ascii=False))

    def close(self) -> None:
        pass


def _store_shape_problem(document: Any) -> str | None:
    """What keeps a parsed xlt.json from being TinyDB tables of runs."""
    if not isinstance(document, dict):
        return f"expected an object of tables, got {type(document).__name__}"
    for table, docs in document.items():
        if not isinstance(docs, dict):
            return f"table '{table}': expected an object of records"
        for doc_id, doc in docs.items():
            where = f"table '{table}', record {doc_id}"
            if not doc_id.isdigit():
                return f"table '{table}': record key '{doc_id}' is not a number"
            if not isinstance(doc, dict):
                return f"{where}: expected an object, got {json.dumps(doc)[:40]}"
            if table != "runs":
                continue
            missing = [k for k in _RUN_TYPES if k not in doc]
            if missing:
                return f"{where}: a run without {', '.join(missing)}"
            problem = _type_problem(doc, {**_RUN_TYPES, **_RUN_OPTIONAL_TYPES})
            if problem:
                return f"{where} (run '{doc['id']}'): {problem}"
    return None


def _unreadable(path: Path, exc: OSError, what: str) -> str:
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        return f"{path}: expected {what} (a file), found a folder; move it aside"
    return f"{path}: cannot read {what}: {exc.strerror or exc}"


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
        # What reading skipped or made do with (damaged lines, an empty
        # store), each said once: the CLI prints them, the TUI shows them.
        self.warnings: list[str] = []
        self._move_legacy_results()

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self._lock.acquire()
        except OSError as exc:
            lock = Path(self._lock.lock_file)
            raise InputError(_unreadable(lock, exc, "the store's lock file")) from None
        try:
            yield
        finally:
            self._lock.release()

    def _tinydb(self) -> TinyDB:
        return TinyDB(self.path, storage=AtomicJSONStorage, warn=self._warn)

    @contextmanager
    def _db(self, write: bool) -> Iterator[TinyDB]:
        if write:
            with self._locked():
                db = self._tinydb()
                try:
                    yield db
                finally:
                    db.close()
        else:
            db = self._tinydb()
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
        with self._locked():
            with self._tinydb() as db:
                db.table("runs").remove(Query().id == run_id)
            # Line by line: lines that are not results (damaged) stay as they
            # were, for whoever repairs the file; only this run's go.
            kept = [
                line
                for line in self._results_bytes().splitlines(keepends=True)
                if _run_of_line(line) != run_id
            ]
            if kept and not kept[-1].endswith(b"\n"):
                kept[-1] += b"\n"
            write_text_atomic(
                self.results_path, b"".join(kept).decode("utf-8", "replace")
            )

    # -- results ----------------------------------------------------------
    def add_results(self, records: Iterable[dict[str, Any]]) -> None:
        records = list(records)
        for rec in records:
            missing = [k for k in RESULT_KEYS if k not in rec]
            if missing:
                raise ValueError(f"result record lacks {missing}")
        if records:
            with self._locked():
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
        tail = JsonLinesTail(self.results_path, check=result_problem)
        try:
            records = tail.read_new()
        except OSError as exc:
            raise InputError(
                _unreadable(self.results_path, exc, "the results")
            ) from None
        if tail.bad_line_reasons:
            self._warn(_skipped_lines_message(self.results_path, tail.bad_line_reasons))
        return records

    def _results_bytes(self) -> bytes:
        try:
            return self.results_path.read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise InputError(
                _unreadable(self.results_path, exc, "the results")
            ) from None

    def _append_results(self, records: list[dict[str, Any]]) -> None:
        payload = "".join(map(_result_line, records)).encode("utf-8")
        try:
            fh = open(self.results_path, "ab+")  # noqa: SIM115 - closed below
        except IsADirectoryError as exc:
            raise InputError(
                _unreadable(self.results_path, exc, "the results")
            ) from None
        with fh:
            size = fh.seek(0, os.SEEK_END)
            if size:
                # A kill mid-append leaves a cut line: drop it before appending.
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    fh.seek(0)
                    data = fh.read()
                    size = data.rfind(b"\n") + 1
                    fh.truncate(size)
                    fh.seek(0, os.SEEK_END)
            try:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            except OSError as exc:
                # A full disk: leave the file as it was, not with a cut line.
                fh.truncate(size)
                if exc.filename is None:
                    exc.filename = str(self.results_path)
                raise

    def _move_legacy_results(self) -> None:
        """Workspaces made before results.jsonl kept results in xlt.json."""
        try:
            data = self.path.read_bytes()
        except OSError:
            # (missing: nothing to move; unreadable: every read and write of
            # the store says so, naming the file; opening it must not fail,
            # or the TUI could not even start to show that message)
            return
        if b'"results"' not in data:
            return
        with self._db(write=True) as db:
            legacy = [dict(d) for d in db.table("results").all()]
            if legacy:
                self._append_results(legacy)
            db.drop_table("results")


def _result_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def _run_of_line(line: bytes) -> Any:
    try:
        record = json.loads(line)
    except ValueError:  # (UnicodeDecodeError is one)
        return None
    return record.get("run_id") if isinstance(record, dict) else None


def _skipped_lines_message(path: Path, bad: list[tuple[int, str]]) -> str:
    shown = "; ".join(f"line {n}: {why}" for n, why in bad[:5])
    more = f"; and {len(bad) - 5} more" if len(bad) > 5 else ""
    plural = "s" if len(bad) != 1 else ""
    return (
        f"{path}: skipped {len(bad)} damaged line{plural} that are not results "
        f"({shown}{more})"
    )


def _with_effective_status(run: dict[str, Any]) -> dict[str, Any]:
    run["status"] = effective_status(run)
    return run
