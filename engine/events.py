"""The run's event stream: JSON lines, one object per line, flushed per line.

The first line is a header naming the schema and its version. Every record has
`type` and `t` (unix time). Readers ignore types and keys they do not know, so
the schema can grow; docs/events.md is the reference.

Light module: the TUI tails these files.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.jsonl import JsonLinesTail

SCHEMA = "xlt.events"
VERSION = 1

EVENT_TYPES = (
    "header",
    "run_start",
    "plan",
    "stage_start",
    "step",
    "eval",
    "stage_end",
    "checkpoint",
    "log",
    "warning",
    "error",
    "run_end",
)

Listener = Callable[[dict[str, Any]], None]


class EventWriter:
    """Appends events to a run's events.jsonl and hands each to listeners.

    Thread-safe: the training loop and a signal handler may both emit.
    """

    def __init__(self, path: str | Path | None, run_id: str, producer: str = "xlt"):
        self.path = Path(path) if path else None
        self.run_id = run_id
        self.listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._fh = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Line buffering: each record reaches the file as soon as it is written.
            self._fh = open(self.path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self.emit("header", schema=SCHEMA, version=VERSION, producer=producer)

    def emit(self, type: str, **fields: Any) -> dict[str, Any]:
        record = {"type": type, "t": round(time.time(), 3)}
        if type == "header":
            record["run_id"] = self.run_id
        record.update(fields)
        line = json.dumps(record, ensure_ascii=False, default=str)
        with self._lock:
            if self._fh is not None:
                self._fh.write(line + "\n")
                self._fh.flush()
        for listener in list(self.listeners):
            listener(record)
        return record

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


class EventFileReader(JsonLinesTail):
    """Incremental reader of an events.jsonl that may still be growing.

    Keeps its byte offset and hands on whole lines only; a line that does not
    parse, or is not an event (no `type`), is counted in `bad_lines` and
    skipped, never fatal.
    """

    def __init__(self, path: str | Path):
        super().__init__(Path(path), required_key="type")
