"""Progress and ETA of every run in the Runs list.

A live run's numbers are the Monitor's own: its events.jsonl is read
incrementally (engine.events.EventFileReader keeps the offset) into a
MonitorState, whose `overall_progress` and `overall_eta` are the estimator the
Monitor shows; there is no second one here. An ended run's numbers come from
its record: finished is 100 %, failed / cancelled / interrupted stop at the
engine's stages_done / stages_total (the same count on every machine and
after a restart of the TUI, without reading old event logs).

Called from the Runs screen's worker thread: no textual here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.control import LIVE_STATUSES
from engine.events import EventFileReader
from xlt_tui.monitor_state import MonitorState, duration

# Bytes of one run's events read per refresh: a long history is caught up
# over a few polls instead of stalling one.
READ_BYTES_PER_POLL = 4 * 1024 * 1024


@dataclass(frozen=True)
class RunProgress:
    """What the list shows for one run."""

    fraction: float | None
    """0..1; None when nothing is known yet."""
    eta_s: float | None
    """Seconds left (live runs only)."""
    stopped: bool = False
    """The run ended before its last stage (failed, cancelled, interrupted)."""

    @property
    def percent_text(self) -> str:
        if self.fraction is None:
            return ""
        # Floor, so a run shows 100% only when it is done.
        return f"{int(self.fraction * 100 + 1e-9)}%"

    @property
    def eta_text(self) -> str:
        return duration(self.eta_s) if self.eta_s is not None else ""


def record_fraction(record: dict[str, Any]) -> float | None:
    """stages_done / stages_total of the run record; 1.0 when finished."""
    if record.get("status") == "finished":
        return 1.0
    done, total = record.get("stages_done"), record.get("stages_total")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        return None
    if not isinstance(done, int) or isinstance(done, bool):
        return None
    return min(1.0, max(0.0, done / total))


class _LiveRun:
    """One live run's events, folded as the Monitor folds them."""

    def __init__(self, events_path: Path):
        self.reader = EventFileReader(events_path)
        self.state = MonitorState(max_points=0)  # no charts here

    def catch_up(self) -> None:
        events = self.reader.read_new(READ_BYTES_PER_POLL)
        if self.reader.rewritten:
            self.state.reset()
        self.state.apply_many(events)


class RunProgressTracker:
    """Keeps a reader per live run between refreshes; forgets a run once it
    has ended (its record has the final count)."""

    def __init__(self, events_path: Callable[[str], Path]):
        self.events_path = events_path
        self._live: dict[str, _LiveRun] = {}

    def progress(
        self, records: Iterable[dict[str, Any]], now: float
    ) -> dict[str, RunProgress]:
        out: dict[str, RunProgress] = {}
        live_ids = set()
        for record in records:
            rid = record["id"]
            status = record.get("status")
            if status in LIVE_STATUSES:
                live_ids.add(rid)
                out[rid] = self._live_progress(rid, record, now)
            else:
                out[rid] = RunProgress(
                    record_fraction(record), None, stopped=status != "finished"
                )
        for rid in set(self._live) - live_ids:
            del self._live[rid]  # ended or deleted
        return out

    def _live_progress(
        self, rid: str, record: dict[str, Any], now: float
    ) -> RunProgress:
        run = self._live.get(rid)
        if run is None:
            run = self._live[rid] = _LiveRun(self.events_path(rid))
        run.catch_up()
        fraction = run.state.overall_progress()
        if fraction is None:  # no plan or stage seen yet: the record's count
            fraction = record_fraction(record)
        return RunProgress(fraction, run.state.overall_eta(now))
