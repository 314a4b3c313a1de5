"""Weights & Biases: one W&B run per xlt run, offline by default (files under
runs/<id>/ in the workspace; `wandb sync` uploads them). The config and
provenance go in as the W&B run's config. Each stage's charts use that
stage's own step counter (define_metric), as W&B's own step must only grow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.trackers.base import RunStart

if TYPE_CHECKING:
    from engine.config.schema import ReportTable


class WandbTracker:
    name = "wandb"

    def __init__(self, report: ReportTable, run: RunStart):
        import wandb

        self.wandb = wandb
        self.project = report.wandb_project
        self.mode = report.wandb_mode
        self.run: Any = None
        self.axes: set[str] = set()

    def start(self, run: RunStart) -> None:
        folder = run.workspace / "runs" / run.run_id
        folder.mkdir(parents=True, exist_ok=True)
        self.run = self.wandb.init(
            project=self.project,
            name=run.name,
            id=run.run_id,
            mode=self.mode,
            dir=str(folder),
            config={"xlt": run.config, "provenance": run.provenance},
        )

    def scalar(self, tag: str, value: float, step: int) -> None:
        axis = tag.rsplit("/", 1)[0]
        if axis not in self.axes:
            self.run.define_metric(f"{axis}/step", hidden=True)
            self.run.define_metric(f"{axis}/*", step_metric=f"{axis}/step")
            self.axes.add(axis)
        self.run.log({tag: value, f"{axis}/step": step})

    def finish(self, status: str) -> None:
        self.run.finish(exit_code=0 if status == "finished" else 1)
