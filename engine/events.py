"""The run's event stream: JSON lines, one object per line, flushed per line.

The first line is a header naming the schema and its version. Every record has
`type` and `t` (unix time). Readers ignore types and keys they do not know, so
the schema can grow; docs/events.md is the reference.

Light module: the TUI tails these files.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.jsonl import JsonLinesTail

SCHEMA = "xlt.events"
VERSION = 1

# THE declaration of the event types: each type, and the keys every record of
# it carries (besides `type` and `t`). docs/events.md documents the same, and
# tests/test_events_contract.py holds the two and the engine's emits together.
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "header": ("schema", "version", "run_id", "producer"),
    "run_start": ("run_id", "name", "model", "device", "workspace", "pid", "host"),
    "plan": ("summary", "stages"),
    "stage_start": (
        "stage",
        "kind",
        "key",
        "index",
        "total",
        "seed",
        "reused",
        "device",
    ),
    "step": (
        "stage",
        "step",
        "total_steps",
        "epoch",
        "loss",
        "lr",
        "samples_per_s",
        "tokens_per_s",
        "progress",
        "eta_s",
    ),
    "eval": ("stage", "task", "language", "split", "metric", "value"),
    "checkpoint": ("stage", "key", "path", "reused"),
    "stage_end": ("stage", "kind", "index", "total", "seconds", "reused"),
    "phase": ("stage", "phase", "message"),
    "log": ("level", "message"),
    "warning": ("message",),
    "error": ("message", "traceback"),
    "run_end": ("status", "seconds", "stages_done", "stages_total", "error"),
}

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
        """Write one record; ValueError for a type not in EVENT_TYPES (a
        programming error: declare and document a new type first)."""
        if type not in EVENT_TYPES:
            raise ValueError(
                f"event type '{type}' is not declared in engine.events.EVENT_TYPES"
            )
        record = {"type": type, "t": round(time.time(), 3)}
        if type == "header":
            record["run_id"] = self.run_id
        record.update(fields)
        line = json.dumps(
            _strict(record), ensure_ascii=False, allow_nan=False, default=_plain
        )
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


def log_line(event: dict[str, Any]) -> tuple[int, str] | None:
    """(logging level, text) of an event for the run's engine.log, or None for
    events the log leaves to events.jsonl (header, plan; `error`, whose
    traceback the engine logs itself)."""
    e, stage = event, event.get("stage", "")
    kind = e.get("type")
    if kind == "run_start":
        text = (
            f"run {e.get('run_id')} ({e.get('name')}): model {e.get('model')}, "
            f"device {e.get('device')}, pid {e.get('pid')} on {e.get('host')}"
        )
    elif kind == "stage_start":
        text = f"[{e.get('index')}/{e.get('total')}] {stage} starts" + (
            " (reused)" if e.get("reused") else f" on {e.get('device')}"
        )
    elif kind == "phase":
        text = f"{stage}: {e.get('message')}"
    elif kind == "step":
        text = (
            f"{stage}: step {e.get('step')}/{e.get('total_steps')} loss "
            f"{_number(e.get('loss'))} lr {_number(e.get('lr'), '.2e')} "
            f"{_number(e.get('samples_per_s'), '.1f')} samples/s"
        )
    elif kind == "eval":
        at = f"step {e['step']} " if "step" in e else ""
        text = (
            f"{stage}: {at}{e.get('task')} [{e.get('language')}] {e.get('split')} "
            f"{e.get('metric')} {_number(e.get('value'))}"
        )
    elif kind == "checkpoint":
        verb = "reused" if e.get("reused") else "written"
        text = f"{stage}: checkpoint {verb}: {e.get('path')}"
    elif kind == "stage_end":
        text = f"{stage} ends after {_number(e.get('seconds'), '.1f')} s" + (
            f": {e['error']}" if e.get("error") else ""
        )
    elif kind in ("log", "warning"):
        text = (f"{stage}: " if stage else "") + str(e.get("message"))
        return (logging.WARNING if kind == "warning" else logging.INFO), text
    elif kind == "run_end":
        text = (
            f"run {e.get('status')} after {_number(e.get('seconds'), '.1f')} s: "
            f"{e.get('stages_done')} of {e.get('stages_total')} stages"
            + (f"; {e['error']}" if e.get("error") else "")
        )
    else:
        return None
    return logging.INFO, text


def _number(value: Any, spec: str = ".4f") -> str:
    return format(value, spec) if isinstance(value, int | float) else str(value)


def to_log(logger: logging.Logger) -> Listener:
    """A listener writing each event's log line to `logger` (engine.log)."""

    def listener(event: dict[str, Any]) -> None:
        line = log_line(event)
        if line is not None:
            logger.log(*line)

    return listener


def _strict(value: Any) -> Any:
    """The value with every NaN or infinity as null: json.dumps would write
    bare NaN / Infinity, which strict JSON readers (jq, JavaScript, Go)
    refuse; null says "no number" to all of them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    # What json cannot write itself: a numpy or torch scalar as its number
    # (NaN as null), anything else as its text.
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return _strict(item())
        except (TypeError, ValueError, RuntimeError):
            pass
    return str(value)


class EventFileReader(JsonLinesTail):
    """Incremental reader of an events.jsonl that may still be growing.

    Keeps its byte offset and hands on whole lines only; a line that does not
    parse, or is not an event (no `type`), is counted in `bad_lines` and
    skipped, never fatal.
    """

    def __init__(self, path: str | Path):
        super().__init__(Path(path), required_key="type")
