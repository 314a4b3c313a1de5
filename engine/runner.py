"""Runs a plan's stages and is the one writer of the run's events and of the
store.

One device: the stages run one after another in this process, as they always
have. Several devices (`devices`, `--devices`): the plan's DAG is walked by
engine.scheduler and ready stages go to engine.executors.local, one worker
process per device; workers report every event and score back here.

Each stage is handed to engine.stages.execute_stage with a StageEnvironment
whose callbacks lead back here: every event goes to the run's event stream,
every language's score to the store as soon as it exists. A crash or a kill
loses only the stages in progress.

Heavy module (torch, transformers): imported only once a run starts, never by
the CLI's light commands.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from engine.config import ExperimentConfig
from engine.errors import Cancelled, InputError
from engine.events import EventWriter
from engine.executors import make_executor, on_workers
from engine.executors.local import STOP_GRACE_S, LocalExecutor, StageOutcome
from engine.kinds.base import Score
from engine.pipeline import IntermediateStage, Plan, Stage, TargetStage
from engine.scheduler import StageScheduler
from engine.stages import StageEnvironment, execute_stage
from engine.store import Store
from engine.workspace import Workspace

if TYPE_CHECKING:
    from engine.executors.ray_executor import RayExecutor


class StagesFailed(Exception):
    """Stages failed in a run on several devices; the others finished."""


class PlanRunner:
    def __init__(
        self,
        config: ExperimentConfig,
        plan: Plan,
        workspace: Workspace,
        store: Store,
        run_id: str,
        events: EventWriter,
        should_stop: Callable[[], bool],
        devices: Sequence[str] = (),
        workers: LocalExecutor | RayExecutor | None = None,
    ):
        """`workers`: an executor started already (engine.launch starts it
        before this checks the model); otherwise one is made when the run
        starts."""
        self.config = config
        self.plan = plan
        self.workspace = workspace
        self.store = store
        self.run_id = run_id
        self.events = events  # replaced by the run's own once it is registered
        self.should_stop = should_stop
        self.devices = list(devices)
        self.workers = workers
        self.completed = 0
        # Loads the tokenizer now, so a model that cannot be loaded is bad
        # input before the run is registered. With several devices the
        # workers build their own; this one only checks (on the CPU: the
        # driver takes no GPU memory its workers need).
        self.env = StageEnvironment.for_run(
            config,
            workspace,
            run_id,
            emit_event=self._emit_in_process,
            record_score=lambda stage, score, reused: self._record(
                stage, score, reused, self.device_label
            ),
            should_stop=should_stop,
            device="cpu" if self.parallel else None,
        )

    @property
    def parallel(self) -> bool:
        """Stages in worker processes (engine.executors.on_workers)."""
        return on_workers(self.config, self.devices)

    @property
    def device_label(self) -> str:
        """The in-process device as events name it: cpu, cuda:0, mps."""
        return str(self.env.runtime.device)

    @property
    def device_name(self) -> str:
        if self.config.executor == "ray":
            where = self.config.ray_address or "a Ray instance started here"
            return f"Ray cluster ({where}): devices {', '.join(self.devices)}"
        if self.parallel:
            return ", ".join(self.devices)
        dev = self.env.runtime.device
        if dev.type == "cuda":
            return f"{dev} ({torch.cuda.get_device_name(dev)})"
        return str(dev)

    def run(self) -> None:
        if self.parallel:
            self._run_on_workers()
        else:
            self._run_in_process()

    # -- one device: in this process --------------------------------------------
    def _emit_in_process(self, type: str, **fields: Any) -> None:
        if type in ("step", "eval"):
            fields["device"] = self.device_label
        self.events.emit(type, **fields)

    def _run_in_process(self) -> None:
        for index, stage in enumerate(self.plan.stages, start=1):
            self._stage_start(stage, index, self.device_label)
            t0 = time.time()
            info = execute_stage(stage, self.env)
            self.completed += 1
            self._stage_end(stage, index, t0, self.device_label, info)

    # -- several devices: one worker process each ---------------------------------
    def _run_on_workers(self) -> None:
        stages = {s.id: s for s in self.plan.stages}
        index = {s.id: i for i, s in enumerate(self.plan.stages, start=1)}
        started: dict[str, float] = {}
        scheduler = StageScheduler(self.plan.stages)
        attempts: Counter[str] = Counter()
        failures: list[StageOutcome] = []
        stopping_since: float | None = None

        def on_score(stage_id: str, score: Score, reused: bool, device: str) -> None:
            stage = stages[stage_id]
            assert isinstance(stage, TargetStage)
            self._record(stage, score, reused, device)

        def on_event(type: str, fields: dict[str, Any]) -> None:
            self.events.emit(type, **fields)

        executor: LocalExecutor | RayExecutor
        if self.workers is not None:
            executor = self.workers
            executor.on_event, executor.on_score = on_event, on_score
        else:
            executor = make_executor(
                self.config,
                str(self.workspace.root),
                self.run_id,
                self.devices,
                on_event=on_event,
                on_score=on_score,
            )
        with executor:
            while not scheduler.finished:
                if self.should_stop() and stopping_since is None:
                    stopping_since = time.time()
                    executor.stop()
                if stopping_since is None:
                    for worker in executor.free_devices():
                        stage = scheduler.take()
                        if stage is None:
                            break
                        self._stage_start(
                            stage,
                            index[stage.id],
                            executor.device(worker),
                            worker_pid=executor.pid(worker),
                        )
                        started[stage.id] = time.time()
                        executor.submit(worker, stage)
                elif not executor.busy():
                    break
                elif time.time() - stopping_since > STOP_GRACE_S:
                    executor.kill_busy()
                for outcome in executor.poll(0.2):
                    stage = outcome.stage
                    i, t0 = index[stage.id], started[stage.id]
                    if outcome.ok:
                        scheduler.done(stage)
                        self.completed += 1
                        assert outcome.info is not None
                        self._stage_end(stage, i, t0, outcome.device, outcome.info)
                        continue
                    self._stage_end(
                        stage, i, t0, outcome.device, {"error": outcome.message}
                    )
                    if outcome.why == "cancelled" or stopping_since is not None:
                        scheduler.again(stage)  # not run: the run was cancelled
                    elif outcome.why == "lost" and attempts[stage.id] < (
                        self.config.retries
                    ):
                        attempts[stage.id] += 1
                        self.events.emit(
                            "warning",
                            stage=stage.id,
                            message=f"stage {stage.id} failed: {outcome.message}; "
                            f"running it again (retry {attempts[stage.id]} of "
                            f"{self.config.retries})",
                        )
                        scheduler.again(stage)
                    else:
                        self._failed(scheduler, outcome)
                        failures.append(outcome)
        if stopping_since is not None:
            raise Cancelled(
                f"cancelled with {self.completed} of {len(self.plan.stages)} "
                "stages finished"
            )
        if failures:
            raise _failure(failures, scheduler)

    def _failed(self, scheduler: StageScheduler, outcome: StageOutcome) -> None:
        logging.getLogger("xlt.engine").error(
            "stage %s failed on %s: %s\n%s",
            outcome.stage.id,
            outcome.device,
            outcome.message,
            outcome.traceback,
        )
        self.events.emit(
            "warning",
            stage=outcome.stage.id,
            message=f"stage {outcome.stage.id} failed on {outcome.device}: "
            f"{outcome.message}",
            **({"traceback": outcome.traceback} if outcome.traceback else {}),
        )
        for skipped in scheduler.failed(outcome.stage):
            self.events.emit(
                "warning",
                stage=skipped.id,
                message=f"stage {skipped.id} not run: it needs stage "
                f"{outcome.stage.id}, which failed",
            )

    # -- what every path writes -----------------------------------------------------
    def _stage_start(self, stage: Stage, index: int, device: str, **extra: Any) -> None:
        self.events.emit(
            "stage_start",
            stage=stage.id,
            kind=stage.kind,
            key=stage.key,
            index=index,
            total=len(self.plan.stages),
            seed=stage.seed,
            reused=stage.reused,
            device=device,
            **_stage_fields(stage),
            **extra,
        )

    def _stage_end(
        self, stage: Stage, index: int, t0: float, device: str, info: dict[str, Any]
    ) -> None:
        self.events.emit(
            "stage_end",
            stage=stage.id,
            kind=stage.kind,
            index=index,
            total=len(self.plan.stages),
            seconds=round(time.time() - t0, 2),
            reused=stage.reused,
            device=device,
            **info,
        )

    def _record(
        self, stage: TargetStage, score: Score, reused: bool, device: str
    ) -> None:
        self.events.emit(
            "eval",
            stage=stage.id,
            task=stage.target,
            intermediate=stage.intermediate,
            seed=stage.seed,
            language=score.language,
            split=score.split,
            metric=score.metric,
            value=round(score.value, 6),
            n_examples=score.n_examples,
            final=True,
            reused=reused,
            device=device,
        )
        self.store.add_results(
            [
                {
                    "run_id": self.run_id,
                    "seed": stage.seed,
                    "model": self.config.model,
                    "intermediate": stage.intermediate,
                    "target": stage.target,
                    "language": score.language,
                    "split": score.split,
                    "metric": score.metric,
                    "value": score.value,
                    "n_examples": score.n_examples,
                    "best_step": score.best_step,
                    "metrics": dict(score.metrics),
                    **score.extra,
                    "stage_key": stage.key,
                    "reused": reused,
                    "t": time.time(),
                }
            ]
        )


def _failure(failures: list[StageOutcome], scheduler: StageScheduler) -> Exception:
    """The run's error: bad input as such (exit 2), else which stages failed."""
    if all(f.why == "input" for f in failures):
        return InputError(failures[0].message)
    skipped = scheduler.count("skipped")
    return StagesFailed(
        f"{len(failures)} stage(s) failed ("
        + "; ".join(f"{f.stage.id}: {f.message}" for f in failures)
        + ")"
        + (f"; {skipped} stage(s) that need them not run" if skipped else "")
        + f"; {scheduler.count('done')} finished and kept"
    )


def _stage_fields(stage: Stage) -> dict[str, Any]:
    if isinstance(stage, IntermediateStage):
        return {"task": stage.task}
    return {
        "target": stage.target,
        "intermediate": stage.intermediate,
        "languages": list(stage.languages),
    }
