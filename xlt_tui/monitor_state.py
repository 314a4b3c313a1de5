"""What the monitor shows, folded from a run's events (docs/events.md).

Pure logic: no textual, no I/O, no clock. Times that depend on "now" (ETAs,
elapsed) take `now` as an argument, so a test can pin it and a history replay
of an old run gives the same answer as a live one.

Readers ignore types and keys they do not know; a record with a key of the
wrong type is counted in `malformed_events` and skipped, never fatal.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from xlt_tui.score_text import score_text

MAX_POINTS = 2000
MAX_NOTICES = 500
# The overall ETA of stages running side by side: remaining work over the
# aggregate rate of the last RATE_WINDOW_S seconds (see MonitorState.overall_eta).
RATE_WINDOW_S = 120.0
MIN_RATE_SPAN_S = 20.0
# The overall ETA of one stage at a time: work left over an exponential moving
# average of the work rate, one sample per RATE_SAMPLE_S at least, weighted by
# 1 - exp(-dt / RATE_EMA_TAU_S). Not the lifetime mean (time spent / progress):
# that counts the model load and tokenising before the first step as training
# time and halves within seconds once steps arrive. A tau of a minute is our
# choice (no source): long enough to average out evaluation pauses between
# steps, short enough to follow a change of stage.
RATE_SAMPLE_S = 1.0
RATE_EMA_TAU_S = 60.0

# What changed since the screen last looked (see MonitorState.take_changes).
RUN = "run"  # run_start, header, plan
STAGE = "stage"  # stage start/end, progress
SERIES = "series"  # loss / lr / throughput
SCORES = "scores"  # final zero-shot evals
VALIDATION = "validation"
NOTICES = "notices"  # warnings, errors
END = "end"  # run_end


@dataclass
class StageProgress:
    """One stage of the run: running, or the last one seen."""

    id: str
    kind: str
    index: int | None = None
    total: int | None = None
    seed: int | None = None
    reused: bool = False
    task: str | None = None  # intermediate stages
    target: str | None = None  # target stages
    intermediate: str | None = None
    languages: list[str] = field(default_factory=list)
    started_t: float | None = None
    step: int = 0
    total_steps: int | None = None
    epoch: int | None = None
    progress: float = 0.0
    eta_s: float | None = None
    eta_t: float | None = None  # when eta_s was reported
    ended: bool = False
    seconds: float | None = None
    device: str | None = None  # "cuda:1", "cpu": where its worker runs
    error: str | None = None  # ended without finishing (several devices)
    loss: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_POINTS))
    lr: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_POINTS))
    samples_per_s: float | None = None
    tokens_per_s: float | None = None

    @property
    def last_loss(self) -> float | None:
        return self.loss[-1] if self.loss else None

    def eta(self, now: float) -> float | None:
        """Seconds left, counted down since the last step. The engine's eta_s
        is already smoothed: the stage's mean step time so far times the steps
        left (engine/train.py), so no second smoothing here."""
        if self.ended or self.eta_s is None:
            return None
        since = now - self.eta_t if self.eta_t is not None else 0.0
        return max(0.0, self.eta_s - max(0.0, since))

    @property
    def label(self) -> str:
        seed = f" (seed {self.seed})" if self.seed is not None else ""
        if self.kind == "target":
            return f"target {self.target} ← {self.intermediate}{seed}"
        if self.kind == "intermediate":
            return f"intermediate {self.task}{seed}"
        return self.id


@dataclass
class ScoreRow:
    """Final zero-shot scores of one target stage, one value per language."""

    stage: str
    target: str
    intermediate: str
    seed: int | None
    metric: str | None = None
    languages: list[str] = field(default_factory=list)  # column order
    values: dict[str, float] = field(default_factory=dict)
    reused: bool = False

    @property
    def label(self) -> str:
        seed = f" (seed {self.seed})" if self.seed is not None else ""
        return f"{self.target} ← {self.intermediate}{seed}"


@dataclass
class ValidationScore:
    """The latest English validation check of a stage, and its best so far."""

    stage: str
    metric: str
    value: float
    step: int | None
    best_value: float
    best_step: int | None


@dataclass
class Notice:
    t: float | None
    level: str  # "info", "warning", "error"
    message: str
    stage: str | None = None


def parse_stage_id(stage_id: str) -> dict[str, Any]:
    """Fields encoded in a stage id (`intermediate/<task>/seed<N>`,
    `target/<target>/from-<intermediate>/seed<N>`), for records that lack them."""
    parts = stage_id.split("/")
    out: dict[str, Any] = {"kind": parts[0] if parts else ""}
    if parts and parts[-1].startswith("seed") and parts[-1][4:].isdigit():
        out["seed"] = int(parts[-1][4:])
    if out["kind"] == "intermediate" and len(parts) >= 2:
        out["task"] = parts[1]
    elif out["kind"] == "target" and len(parts) >= 3:
        out["target"] = parts[1]
        out["intermediate"] = parts[2].removeprefix("from-")
    return out


class MonitorState:
    """Everything the monitor screen displays, updated one event at a time."""

    def __init__(self, max_points: int = MAX_POINTS):
        self.max_points = max_points
        self.reset()

    def reset(self) -> None:
        self.run_id: str | None = None
        self.name: str | None = None
        self.model: str | None = None
        self.device: str | None = None
        self.started_t: float | None = None  # header / run_start
        self.trained_started_t: float | None = None  # first stage that trains
        self.last_t: float | None = None
        self.plan: list[dict[str, Any]] = []
        self.stages_total: int | None = None
        # The stage the screen follows (its charts, its line): the one started
        # last; when it ends while others still run, the latest of those.
        self.stage: StageProgress | None = None
        # Every stage started and not yet ended, in start order: several at
        # once when the engine runs stages side by side (one per device).
        self.running: dict[str, StageProgress] = {}
        self.max_running = 0  # the most stages seen running at once
        self._stages: dict[str, StageProgress] = {}  # every stage seen, by id
        # (t, trained work done in stage units) for the parallel overall ETA.
        self._work: deque[tuple[float, float]] = deque()
        # (t, work) of the last rate sample, and the smoothed work rate
        # (stage units per second) for the overall ETA.
        self._rate_point: tuple[float, float] | None = None
        self.rate_ema: float | None = None
        self.stages_done = 0
        self.trained_done = 0  # finished stages that were not reused
        self.reused_seen = 0  # reused stages seen start (when there is no plan)
        self._no_series: deque[float] = deque(maxlen=0)
        self.scores: dict[str, ScoreRow] = {}
        self.languages: list[str] = []  # union of score columns, in order
        self.validation: dict[str, ValidationScore] = {}
        self.notices: deque[Notice] = deque(maxlen=MAX_NOTICES)
        self.warnings = 0
        self.errors = 0
        self.last_error: str | None = None
        self.run_end: dict[str, Any] | None = None
        self.events_seen = 0
        self.steps_seen = 0
        self.malformed_events = 0
        self._changes: set[str] = set()

    # -- folding ------------------------------------------------------------
    def apply_many(self, events: Iterable[dict[str, Any]]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: dict[str, Any]) -> None:
        self.events_seen += 1
        kind = event.get("type")
        handler = self._HANDLERS.get(kind) if isinstance(kind, str) else None
        t = event.get("t")
        if isinstance(t, (int, float)):
            self.last_t = float(t)
        if handler is None:
            return  # unknown types are for newer readers
        try:
            handler(self, event)
        except (TypeError, ValueError, KeyError, AttributeError):
            self.malformed_events += 1

    def take_changes(self) -> set[str]:
        """The areas changed since the last call (for cheap, partial redraws)."""
        changes, self._changes = self._changes, set()
        return changes

    def _on_header(self, e: dict[str, Any]) -> None:
        self.run_id = e.get("run_id") or self.run_id
        if self.started_t is None:
            self.started_t = _float(e.get("t"))
        self._changes.add(RUN)

    def _on_run_start(self, e: dict[str, Any]) -> None:
        self.run_id = e.get("run_id") or self.run_id
        self.name = e.get("name") or self.name
        self.model = e.get("model") or self.model
        self.device = e.get("device") or self.device
        self.started_t = _float(e.get("t")) or self.started_t
        self._changes.add(RUN)

    def _on_plan(self, e: dict[str, Any]) -> None:
        stages = e.get("stages") or []
        self.plan = [s for s in stages if isinstance(s, dict)]
        self.stages_total = len(self.plan) or self.stages_total
        self._changes.update((RUN, STAGE))

    def _on_stage_start(self, e: dict[str, Any]) -> None:
        stage_id = str(e["stage"])
        parsed = parse_stage_id(stage_id)
        stage = self._new_stage(
            id=stage_id,
            kind=e.get("kind") or parsed.get("kind", ""),
            index=_int(e.get("index")),
            total=_int(e.get("total")),
            seed=_int(e.get("seed", parsed.get("seed"))),
            reused=bool(e.get("reused")),
            task=e.get("task") or parsed.get("task"),
            target=e.get("target") or parsed.get("target"),
            intermediate=e.get("intermediate") or parsed.get("intermediate"),
            languages=[str(x) for x in e.get("languages") or []],
            started_t=_float(e.get("t")),
            device=_str(e.get("device")),
        )
        self._start(stage)
        if stage.total is not None:
            self.stages_total = stage.total
        if stage.reused:
            self.reused_seen += 1
        elif self.trained_started_t is None:
            self.trained_started_t = stage.started_t
        self._changes.update((STAGE, SERIES))

    def _new_stage(self, **fields: Any) -> StageProgress:
        return StageProgress(
            **fields,
            loss=deque(maxlen=self.max_points),
            lr=deque(maxlen=self.max_points),
        )

    def _start(self, stage: StageProgress) -> None:
        """A stage begins: it runs, and the screen (its charts) follows it."""
        self.running.pop(stage.id, None)
        self.running[stage.id] = stage
        self._stages[stage.id] = stage
        self.max_running = max(self.max_running, len(self.running))
        self.stage = stage
        if self.parallel:
            self._note_work(stage.started_t)

    def _current(self, stage_id: str) -> StageProgress:
        """The stage with this id, created from the id if its stage_start was
        missed (it then runs, and takes the screen, as if it had started)."""
        stage = self._stages.get(stage_id)
        if stage is None:
            parsed = parse_stage_id(stage_id)
            stage = self._new_stage(
                id=stage_id,
                kind=parsed.get("kind", ""),
                seed=parsed.get("seed"),
                task=parsed.get("task"),
                target=parsed.get("target"),
                intermediate=parsed.get("intermediate"),
            )
            self._start(stage)
            self._changes.add(SERIES)
        return stage

    def _on_step(self, e: dict[str, Any]) -> None:
        stage = self._current(str(e["stage"]))
        self.steps_seen += 1
        stage.step = int(e.get("step") or 0)
        stage.total_steps = _int(e.get("total_steps")) or stage.total_steps
        stage.epoch = _int(e.get("epoch"))
        progress = _float(e.get("progress"))
        if progress is None and stage.total_steps:
            progress = stage.step / stage.total_steps
        stage.progress = min(1.0, max(0.0, progress or 0.0))
        stage.eta_s = _float(e.get("eta_s"))
        stage.eta_t = _float(e.get("t"))
        stage.device = _str(e.get("device")) or stage.device
        if self.trained_started_t is None:
            self.trained_started_t = stage.started_t or stage.eta_t
        loss, lr = _float(e.get("loss")), _float(e.get("lr"))
        if loss is not None:
            stage.loss.append(loss)
        if lr is not None:
            stage.lr.append(lr)
        stage.samples_per_s = _float(e.get("samples_per_s"))
        stage.tokens_per_s = _float(e.get("tokens_per_s"))
        self._note_rate(stage.eta_t)
        if self.max_running > 1:
            self._note_work(stage.eta_t)
        self._changes.update((STAGE, SERIES) if stage is self.stage else (STAGE,))

    # The series and rates of the stage the screen follows.
    @property
    def loss(self) -> deque[float]:
        return self.stage.loss if self.stage is not None else self._no_series

    @property
    def lr(self) -> deque[float]:
        return self.stage.lr if self.stage is not None else self._no_series

    @property
    def samples_per_s(self) -> float | None:
        return self.stage.samples_per_s if self.stage is not None else None

    @property
    def tokens_per_s(self) -> float | None:
        return self.stage.tokens_per_s if self.stage is not None else None

    def _on_eval(self, e: dict[str, Any]) -> None:
        stage_id = str(e["stage"])
        value = float(e["value"])
        if e.get("final"):
            self._on_final_eval(stage_id, value, e)
            return
        metric = str(e.get("metric") or "")
        step = _int(e.get("step"))
        previous = self.validation.get(stage_id)
        best_value, best_step = value, step
        if previous is not None and not (e.get("best") or value > previous.best_value):
            best_value, best_step = previous.best_value, previous.best_step
        self.validation[stage_id] = ValidationScore(
            stage_id, metric, value, step, best_value, best_step
        )
        self._changes.add(VALIDATION)

    def _on_final_eval(self, stage_id: str, value: float, e: dict[str, Any]) -> None:
        row = self.scores.get(stage_id)
        if row is None:
            parsed = parse_stage_id(stage_id)
            known = self._stages.get(stage_id)
            languages = list(known.languages) if known is not None else []
            row = ScoreRow(
                stage=stage_id,
                target=str(e.get("task") or parsed.get("target") or "?"),
                intermediate=str(
                    e.get("intermediate") or parsed.get("intermediate") or "?"
                ),
                seed=_int(e.get("seed", parsed.get("seed"))),
                metric=e.get("metric"),
                languages=languages,
                reused=bool(e.get("reused")),
            )
            self.scores[stage_id] = row
            for language in languages:
                self._add_language(language)
        language = str(e["language"])
        if language not in row.languages:
            row.languages.append(language)
        self._add_language(language)
        row.values[language] = value
        self._changes.add(SCORES)

    def _add_language(self, language: str) -> None:
        if language not in self.languages:
            self.languages.append(language)

    def _on_stage_end(self, e: dict[str, Any]) -> None:
        stage = self._current(str(e["stage"]))
        if e.get("error"):
            # It did not finish (failed, its worker died, the run was
            # cancelled): it leaves the running stages, it is not done.
            stage.ended, stage.error = True, str(e["error"])
        elif not stage.ended:
            stage.ended = True
            self.stages_done += 1
            reused = bool(e.get("reused", stage.reused))
            if not reused:
                self.trained_done += 1
                stage.progress = 1.0
        stage.seconds = _float(e.get("seconds"))
        self.running.pop(stage.id, None)
        index = _int(e.get("index"))
        # One stage at a time, stage k ending means k are done (this also
        # covers stage ends that were lost). Side by side, stages end out of
        # plan order, so only the count holds.
        if index is not None and not self.parallel:
            self.stages_done = max(self.stages_done, index)
        if stage is self.stage and self.running:
            # The screen follows the latest stage still running.
            self.stage = next(reversed(self.running.values()))
            self._changes.add(SERIES)
        if self.parallel:
            self._note_work(_float(e.get("t")))
        self._changes.add(STAGE)

    def _on_log(self, e: dict[str, Any]) -> None:
        level = str(e.get("level") or "info")
        self.notices.append(Notice(_float(e.get("t")), level, str(e.get("message"))))
        self._changes.add(NOTICES)

    def _on_warning(self, e: dict[str, Any]) -> None:
        self.warnings += 1
        self.notices.append(
            Notice(_float(e.get("t")), "warning", str(e.get("message")), e.get("stage"))
        )
        self._changes.add(NOTICES)

    def _on_error(self, e: dict[str, Any]) -> None:
        self.errors += 1
        self.last_error = str(e.get("message") or "error")
        self.notices.append(
            Notice(_float(e.get("t")), "error", self.last_error, e.get("stage"))
        )
        self._changes.add(NOTICES)

    def _on_run_end(self, e: dict[str, Any]) -> None:
        self.run_end = dict(e)
        if e.get("error"):
            self.last_error = str(e["error"])
        done = _int(e.get("stages_done"))
        if done is not None:
            self.stages_done = done
        total = _int(e.get("stages_total"))
        if total is not None:
            self.stages_total = total
        self._changes.update((END, STAGE))

    _HANDLERS = {
        "header": _on_header,
        "run_start": _on_run_start,
        "plan": _on_plan,
        "stage_start": _on_stage_start,
        "step": _on_step,
        "eval": _on_eval,
        "stage_end": _on_stage_end,
        "log": _on_log,
        "warning": _on_warning,
        "error": _on_error,
        "run_end": _on_run_end,
    }

    def _note_rate(self, t: float | None) -> None:
        """Fold the work done since the last sample into rate_ema."""
        if t is None:
            return
        if self._rate_point is None:
            self._rate_point = (t, self.trained_done + self._running_progress())
            return
        t0, w0 = self._rate_point
        dt = t - t0
        if dt < RATE_SAMPLE_S:
            return  # (checked first: thousands of steps a second are cheap)
        work = self.trained_done + self._running_progress()
        rate = max(0.0, work - w0) / dt
        if self.rate_ema is None:
            self.rate_ema = rate
        else:
            weight = 1.0 - math.exp(-dt / RATE_EMA_TAU_S)
            self.rate_ema += weight * (rate - self.rate_ema)
        self._rate_point = (t, work)

    def _note_work(self, t: float | None) -> None:
        """Record the trained work done at `t`, for the parallel overall ETA
        (from the moment stages run side by side: one at a time, the
        lifetime estimate is the one used, and steps stay cheap)."""
        if t is None:
            return
        work = self.trained_done + self._running_progress()
        if len(self._work) >= 2 and t - self._work[-2][0] < 1.0:
            self._work[-1] = (t, work)  # a sample a second is enough
        else:
            self._work.append((t, work))
        # Keep one sample at or before the window's start as its anchor.
        while len(self._work) > 2 and self._work[1][0] <= t - RATE_WINDOW_S:
            self._work.popleft()

    def _running_progress(self) -> float:
        return sum(s.progress for s in self.running.values() if not s.reused)

    # -- derived ------------------------------------------------------------
    @property
    def parallel(self) -> bool:
        """Stages have run side by side in this run (several started, none of
        them ended yet): the screen then shows one row per running stage."""
        return self.max_running > 1

    @property
    def end_status(self) -> str | None:
        """The status the run ended with, per its own run_end record."""
        return self.run_end.get("status") if self.run_end else None

    @property
    def trained_total(self) -> int | None:
        """Stages that actually train (reused ones take no time)."""
        if self.plan:
            return sum(1 for s in self.plan if not s.get("reused"))
        if self.stages_total is not None:
            return max(0, self.stages_total - self.reused_seen)
        return None

    def stage_eta(self, now: float) -> float | None:
        """Seconds left in the current stage, counted down since the last step."""
        if self.stage is None or self.run_end:
            return None
        return self.stage.eta(now)

    def overall_progress(self) -> float | None:
        """(finished trained stages + current stage progress) / trained stages."""
        if self.end_status == "finished":
            return 1.0
        total = self.trained_total
        if total is None:
            return None
        if total == 0:
            stages = self.stages_total or 0
            return min(1.0, self.stages_done / stages) if stages else None
        return min(1.0, (self.trained_done + self._running_progress()) / total)

    def elapsed(self, now: float) -> float | None:
        if self.started_t is None:
            return None
        if self.run_end is not None:
            seconds = _float(self.run_end.get("seconds"))
            if seconds is not None:
                return seconds
            end = _float(self.run_end.get("t")) or now
            return max(0.0, end - self.started_t)
        return max(0.0, now - self.started_t)

    def overall_eta(self, now: float) -> float | None:
        """Seconds left in the run: the trained work left over the smoothed
        work rate (see RATE_EMA_TAU_S), counted down since its last sample;
        before a rate is measured, time spent training so far scaled by what
        is left. With stages side by side, what is left over the recent
        aggregate rate instead (see _parallel_eta). Never less than the
        running stage's own ETA: the run cannot end before that stage."""
        if self.run_end is not None:
            return None
        progress = self.overall_progress()
        start = self.trained_started_t or self.started_t
        if progress is None or start is None or progress < 1e-3:
            return None
        spent = max(0.0, now - start)
        estimate = spent * (1.0 - progress) / progress
        if self.rate_ema and self._rate_point is not None:
            total = self.trained_total or 0
            left = max(0.0, total - (self.trained_done + self._running_progress()))
            since = max(0.0, now - self._rate_point[0])
            estimate = max(0.0, left / self.rate_ema - since)
        if not self.parallel:
            stage_eta = self.stage_eta(now)
            return max(estimate, stage_eta) if stage_eta is not None else estimate
        return self._parallel_eta(now, estimate)

    def _parallel_eta(self, now: float, lifetime: float) -> float:
        """The work left (in stages, each stage one unit as in the overall
        bar) over the rate all running stages made it at together in the last
        RATE_WINDOW_S seconds. Why not the lifetime mean: the number of
        stages in flight changes in a run (one intermediate stage alone, then
        its targets on every device), and the mean since the start would keep
        the slow part's rate for a long time. Why a window of minutes and not
        the last steps: a target stage scores its languages without step
        events, and the rate must not drop to nothing while it does. Until
        the window spans MIN_RATE_SPAN_S, or while no work was done in it, the
        lifetime estimate stands. Never less than the slowest running
        stage's own ETA: the run cannot end before that stage does."""
        total = self.trained_total or 0
        left = max(0.0, total - (self.trained_done + self._running_progress()))
        eta = lifetime
        if len(self._work) >= 2:
            (t0, w0), (t1, w1) = self._work[0], self._work[-1]
            if t1 - t0 >= MIN_RATE_SPAN_S and w1 > w0:
                since = max(0.0, now - t1)
                eta = max(0.0, left / ((w1 - w0) / (t1 - t0)) - since)
        etas = [s.eta(now) for s in self.running.values()]
        return max([eta, *(x for x in etas if x is not None)])


# --------------------------------------------------------------------------
# Words for the log panel


def describe(event: dict[str, Any]) -> str | None:
    """One log-panel line for an event worth reading, None for the rest
    (steps, evals: those show in the charts and the table)."""
    kind = event.get("type")
    try:
        text = _DESCRIBE[kind](event) if kind in _DESCRIBE else None
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    if text is None:
        return None
    return f"{clock(_float(event.get('t')))} {text}"


def _describe_stage_start(e: dict[str, Any]) -> str:
    parsed = {**parse_stage_id(str(e["stage"])), **e}
    stage = StageProgress(
        id=str(e["stage"]),
        kind=str(parsed.get("kind")),
        seed=_int(parsed.get("seed")),
        task=parsed.get("task"),
        target=parsed.get("target"),
        intermediate=parsed.get("intermediate"),
    )
    reused = " (reused)" if e.get("reused") else ""
    on = f" on {e['device']}" if isinstance(e.get("device"), str) else ""
    where = f"{e.get('index', '?')}/{e.get('total', '?')}"
    return f"▶ stage {where}: {stage.label}{reused}{on}"


def _describe_stage_end(e: dict[str, Any]) -> str:
    where = f"{e.get('index', '?')}/{e.get('total', '?')}"
    if e.get("error"):
        return f"✖ stage {where} did not finish: {e['error']}"
    parts = [f"■ stage {where} done"]
    seconds = _float(e.get("seconds"))
    if seconds is not None:
        parts.append(f"in {duration(seconds)}")
    if e.get("best_step") is not None:
        parts.append(f"best step {e['best_step']}")
    # validation_accuracy: what earlier runs named it.
    score = _float(e.get("validation_score", e.get("validation_accuracy")))
    if score is not None:
        parts.append(f"validation {score_text(score, _str(e.get('metric')))}")
    return " ".join(parts[:2]) + (", " + ", ".join(parts[2:]) if parts[2:] else "")


def _describe_run_end(e: dict[str, Any]) -> str:
    text = f"run {e.get('status', '?')}"
    seconds = _float(e.get("seconds"))
    if seconds is not None:
        text += f" after {duration(seconds)}"
    if e.get("stages_total") is not None:
        text += f" ({e.get('stages_done', '?')}/{e['stages_total']} stages)"
    if e.get("error"):
        text += f": {e['error']}"
    return text


_DESCRIBE = {
    "run_start": lambda e: (
        f"run {e.get('run_id', '')} started on "
        f"{e.get('device', '?')} (pid {e.get('pid', '?')}, {e.get('host', '?')})"
    ),
    "plan": lambda e: (
        "plan: " + ", ".join(f"{k} {v}" for k, v in (e.get("summary") or {}).items())
    ),
    "stage_start": _describe_stage_start,
    "stage_end": _describe_stage_end,
    "checkpoint": lambda e: (
        f"checkpoint {'reused' if e.get('reused') else 'written'}: {e.get('path', '?')}"
    ),
    "log": lambda e: f"{str(e.get('level') or 'info').upper()} {e.get('message')}",
    "warning": lambda e: f"WARNING {e.get('message')}",
    "error": lambda e: f"ERROR {e.get('message')}",
    "run_end": _describe_run_end,
}


_LOG_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} (\d{2}:\d{2}:\d{2}),\d{3} ")


def compact_log_line(line: str) -> str:
    """engine.log's "2026-11-26 09:17:05,123 INFO name: msg" as
    "09:17:05 INFO name: msg" (the date is the run's, the panel is narrow)."""
    return _LOG_TIMESTAMP.sub(r"\1 ", line, count=1)


# --------------------------------------------------------------------------
# Formatting helpers shared with the screen


def clock(t: float | None) -> str:
    if t is None:
        return "--:--:--"
    return time.strftime("%H:%M:%S", time.localtime(t))


def duration(seconds: float | None) -> str:
    """12s, 4m05s, 2h03m."""
    if seconds is None:
        return "--"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def rate(value: float | None) -> str:
    """402.1 -> "402", 24100.5 -> "24.1k"."""
    if value is None:
        return "--"
    if value >= 10_000:
        return f"{value / 1000:.1f}k"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}"


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)
