"""The driver's listener that turns a run's events into tracker calls.

Tags: `<stage>/<field>` for a stage's steps (its own step counter), the
validation checks during training as `<stage>/<task>/<language>/<split>_<metric>`
at their step, and the final scores as
`<target>/<intermediate>/<language>/<split>/<metric>` at step = seed (so
several seeds are several points of one series). The split is part of a final
score's tag because a target may be scored on validation and test both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from engine.trackers.base import RunStart, Tracker

# The step event's numbers worth a chart: loss, learning rate, throughput.
STEP_SCALARS = ("loss", "lr", "samples_per_s", "tokens_per_s")


class TrackerListener:
    """Hands each event to every tracker still working. A tracker that raises
    (its server down, a full disk) is dropped with one warning, through
    `warn`; the run goes on."""

    def __init__(
        self, trackers: Sequence[Tracker], run: RunStart, warn: Callable[[str], object]
    ):
        self.trackers = list(trackers)
        self.run = run
        self.warn = warn

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "run_start":
            self._each(lambda t: t.start(self.run))
        elif kind == "step":
            stage, step = event.get("stage"), event.get("step")
            if isinstance(step, int):
                for field in STEP_SCALARS:
                    self._scalar(f"{stage}/{field}", event.get(field), step)
        elif kind == "eval":
            self._eval(event)
        elif kind == "run_end":
            self._each(lambda t: t.finish(str(event.get("status"))))
            self.trackers = []  # finished: nothing after run_end

    def _eval(self, e: dict[str, Any]) -> None:
        where = f"{e.get('language')}/{e.get('split')}"
        if e.get("final"):
            tag = f"{e.get('task')}/{e.get('intermediate')}/{where}/{e.get('metric')}"
            seed = e.get("seed")
            self._scalar(tag, e.get("value"), seed if isinstance(seed, int) else 0)
        elif isinstance(e.get("step"), int):
            tag = f"{e.get('stage')}/{e.get('task')}/{where}_{e.get('metric')}"
            self._scalar(tag, e.get("value"), e["step"])

    def _scalar(self, tag: str, value: Any, step: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return  # a field the event left out (no tokens/s for code stages)
        if not math.isfinite(value):
            return  # NaN is in events.jsonl as null; no tracker charts it well
        number = float(value)
        self._each(lambda t: t.scalar(tag, number, step))

    def _each(self, call: Callable[[Tracker], None]) -> None:
        for tracker in list(self.trackers):
            try:
                call(tracker)
            except Exception as exc:  # noqa: BLE001 - a tracker never fails the run
                self.trackers.remove(tracker)
                self.warn(
                    f"tracker {tracker.name} stopped receiving this run's metrics: "
                    f"{type(exc).__name__}: {exc}"
                )
