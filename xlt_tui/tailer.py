"""Tailing a run's files off the UI thread, the way toolong's watcher does.

One thread per monitored run. It keeps a byte offset per file, reads bounded
chunks, hands on whole lines only and sleeps 50 ms when there is nothing new.
Each pass over the files becomes ONE `TailBatch` message (every event parsed
in that pass, every new log line, the new count of unreadable lines), so a run
writing thousands of events a second costs the UI a handful of messages a
second, not thousands. When the screen's message queue grows (the UI is
behind), the thread waits instead of piling on more.

Files: `events.jsonl` from byte 0 (the whole history, then live); the tail of
`engine.log` (the last `log_history_bytes` of it, then live); and, while
`events.jsonl` does not exist yet, the launch's `.out` file (the engine's
console output while it starts). The reading itself (offsets, whole lines,
rewritten files) is engine.jsonl's, shared with the store and the CLI.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from textual.message import Message

from engine.events import EventFileReader
from engine.jsonl import TextLinesTail

CHUNK_BYTES = 512 * 1024
LOG_CHUNK_BYTES = 64 * 1024
LOG_HISTORY_BYTES = 64 * 1024
IDLE_SLEEP_S = 0.05
MAX_BACKLOG = 4  # queued messages on the target before the thread waits
UNFINISHED_AFTER_S = 1.0  # an unterminated last line this old is reported


@dataclass
class TailBatch(Message, bubble=False):
    """What one pass over the run's files found."""

    events: list[dict[str, Any]] = field(default_factory=list)
    """Parsed events, in file order."""
    log_lines: list[str] = field(default_factory=list)
    """New whole lines of engine.log (or of the launch output, before the run
    registered)."""
    bad_lines: int = 0
    """Lines of events.jsonl found unreadable in this pass (skipped)."""
    bad_line_numbers: list[int] = field(default_factory=list)
    """Their 1-based line numbers."""
    reset: bool = False
    """events.jsonl was replaced by a new file: forget what came before."""
    caught_up: bool = False
    """This pass reached the end of events.jsonl (history done) for the first
    time."""
    events_file_exists: bool = False
    unfinished_tail_bytes: int | None = None
    """When set: the size of an unterminated last line of events.jsonl that has
    not grown for a while (a run killed mid-write); 0 when that went away."""


class _Target(Protocol):
    """Who receives the batches: a Textual message pump (the screen)."""

    def post_message(self, message: Message) -> bool: ...

    @property
    def message_queue_size(self) -> int: ...


class RunTailer(threading.Thread):
    """Follows one run's events and log; posts `TailBatch` messages to `target`.

    Start with `start()`, end with `stop()` (the screen does it when it is
    dismissed). A daemon thread: it never keeps the app from exiting.
    """

    def __init__(
        self,
        target: _Target,
        events_path: Path,
        log_path: Path | None = None,
        launch_output_path: Path | None = None,
        *,
        chunk_bytes: int = CHUNK_BYTES,
        idle_sleep: float = IDLE_SLEEP_S,
        max_backlog: int = MAX_BACKLOG,
        log_history_bytes: int = LOG_HISTORY_BYTES,
    ):
        super().__init__(name=f"xlt-tail-{Path(events_path).parent.name}", daemon=True)
        self.target = target
        self.events_path = Path(events_path)
        self.reader = EventFileReader(self.events_path)
        self.log = TextLinesTail(log_path, log_history_bytes) if log_path else None
        self.launch_output = (
            TextLinesTail(launch_output_path) if launch_output_path else None
        )
        self.chunk_bytes = chunk_bytes
        self.idle_sleep = idle_sleep
        self.max_backlog = max_backlog
        self.batches_posted = 0
        self.events_read = 0
        self._stop_event = threading.Event()
        self._bad_reported = 0
        self._caught_up = False
        self._events_existed = False
        self._partial_size = 0
        self._partial_since = 0.0
        self._partial_reported = 0
        self._last_error: str | None = None

    def stop(self) -> None:
        self._stop_event.set()

    @property
    def stopped(self) -> bool:
        return self._stop_event.is_set()

    def run(self) -> None:
        while not self._stop_event.is_set():
            if self._backlogged():
                self._stop_event.wait(self.idle_sleep)
                continue
            try:
                batch, more = self.read_batch()
            except Exception as exc:  # noqa: BLE001 - the monitor must not die
                batch, more = self._error_batch(exc), False
            if batch is not None and not self._post(batch):
                return
            if not more:
                self._stop_event.wait(self.idle_sleep)

    def _backlogged(self) -> bool:
        """The UI is behind: our target (the screen), or the app that
        dispatches keys to it, has a long queue."""
        try:
            if self.target.message_queue_size > self.max_backlog:
                return True
            app = getattr(self.target, "app", None)
            return app is not None and app.message_queue_size > 4 * self.max_backlog
        except Exception:  # noqa: BLE001 - a closing target: let _post decide
            return False

    def _post(self, batch: TailBatch) -> bool:
        try:
            posted = self.target.post_message(batch)
        except Exception:  # noqa: BLE001 - the screen went away under us
            posted = False
        if posted is False:
            self.stop()
            return False
        self.batches_posted += 1
        self.events_read += len(batch.events)
        return True

    def _error_batch(self, exc: Exception) -> TailBatch | None:
        message = f"monitor: cannot read {self.events_path.parent}: {exc}"
        if message == self._last_error:
            return None  # said once is enough
        self._last_error = message
        return TailBatch(log_lines=[message])

    def read_batch(self) -> tuple[TailBatch | None, bool]:
        """One pass over the files: (the batch or None if nothing new, whether
        more is waiting to be read right away)."""
        exists = self._events_existed or self.events_path.exists()
        events: list[dict[str, Any]] = []
        reset = False
        more = False
        appeared = exists and not self._events_existed
        self._events_existed = exists
        if exists:
            events = self.reader.read_new(self.chunk_bytes)
            reset = self.reader.rewritten
            if reset:
                self._bad_reported = 0
            more = not self.reader.at_end
        log_lines: list[str] = []
        source = self.log if exists else self.launch_output
        if source is not None:
            log_lines = source.read_new(LOG_CHUNK_BYTES)
            more = more or not source.at_end
        bad_numbers = list(self.reader.bad_line_numbers[self._bad_reported :])
        bad = self.reader.bad_lines - self._bad_reported
        self._bad_reported = self.reader.bad_lines
        caught_up = False
        if not more and not self._caught_up:
            caught_up = self._caught_up = True
        unfinished = self._unfinished_tail(bool(events) or more)
        if not (
            events
            or log_lines
            or bad
            or reset
            or caught_up
            or appeared
            or unfinished is not None
        ):
            return None, more
        self._last_error = None
        return (
            TailBatch(
                events=events,
                log_lines=log_lines,
                bad_lines=bad,
                bad_line_numbers=bad_numbers,
                reset=reset,
                caught_up=caught_up,
                events_file_exists=exists,
                unfinished_tail_bytes=unfinished,
            ),
            more,
        )

    def _unfinished_tail(self, busy: bool) -> int | None:
        """The size of an unterminated last line that stopped growing, once;
        0 once it is gone again; None when there is nothing new to say."""
        size = self.reader.pending_bytes
        now = time.monotonic()
        if size != self._partial_size:
            self._partial_size, self._partial_since = size, now
        if busy:
            return None
        if size and size != self._partial_reported:
            if now - self._partial_since >= UNFINISHED_AFTER_S:
                self._partial_reported = size
                return size
        elif not size and self._partial_reported:
            self._partial_reported = 0
            return 0
        return None
