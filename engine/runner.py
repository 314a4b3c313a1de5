"""The in-process executor: runs a plan's stages one after another on one
device, and is the one writer of the run's events and of the store.

Each stage is handed to engine.stages.execute_stage with a StageEnvironment
whose callbacks lead back here: every event goes to the run's event stream,
every language's score to the store as soon as it exists. A crash or a kill
loses only the stage in progress.

Heavy module (torch, transformers): imported only once a run starts, never by
the CLI's light commands.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from engine.config import ExperimentConfig
from engine.events import EventWriter
from engine.kinds.base import Score
from engine.pipeline import IntermediateStage, Plan, Stage, TargetStage
from engine.stages import StageEnvironment, execute_stage
from engine.store import Store
from engine.workspace import Workspace


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
    ):
        self.config = config
        self.plan = plan
        self.store = store
        self.run_id = run_id
        self.events = events  # replaced by the run's own once it is registered
        self.completed = 0
        # Loads the tokenizer now, so a model that cannot be loaded is bad
        # input before the run is registered.
        self.env = StageEnvironment.for_run(
            config,
            workspace,
            run_id,
            emit_event=lambda type, **fields: self.events.emit(type, **fields),
            record_score=self._record,
            should_stop=should_stop,
        )

    @property
    def device_name(self) -> str:
        dev = self.env.runtime.device
        if dev.type == "cuda":
            return f"{dev} ({torch.cuda.get_device_name(dev)})"
        return str(dev)

    def run(self) -> None:
        total = len(self.plan.stages)
        for index, stage in enumerate(self.plan.stages, start=1):
            self.events.emit(
                "stage_start",
                stage=stage.id,
                kind=stage.kind,
                key=stage.key,
                index=index,
                total=total,
                seed=stage.seed,
                reused=stage.reused,
                **_stage_fields(stage),
            )
            t0 = time.time()
            info = execute_stage(stage, self.env)
            self.completed += 1
            self.events.emit(
                "stage_end",
                stage=stage.id,
                kind=stage.kind,
                index=index,
                total=total,
                seconds=round(time.time() - t0, 2),
                reused=stage.reused,
                **info,
            )

    def _record(self, stage: TargetStage, score: Score, reused: bool) -> None:
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


def _stage_fields(stage: Stage) -> dict[str, Any]:
    if isinstance(stage, IntermediateStage):
        return {"task": stage.task}
    return {
        "target": stage.target,
        "intermediate": stage.intermediate,
        "languages": list(stage.languages),
    }
