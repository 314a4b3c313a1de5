"""Train, then evaluate: how a target of the trained kinds is run (sentence and
pair classification, multiple choice, extractive QA, tagging).

The X-STILTs protocol's target stage (Phang et al. 2020, section 3): the
encoder from the intermediate checkpoint (or the pretrained model for the
baseline) with a fresh head, trained on the target's English training data,
the best step on English validation kept (engine.train.train_stage with
select_best), then evaluated zero-shot on every language's evaluation split.
Retrieval and code targets are not trained: engine.kinds.retrieval and
engine.kinds.code_generation have their own strategies.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.atomic import write_json_atomic
from engine.data.features import Features
from engine.kinds.base import Score, StageContext
from engine.tasks.kinds import TRAIN_THEN_EVALUATE
from engine.train import predict
from engine.workspace import CHECKPOINT_MARKER


class TrainThenEvaluate:
    mode = TRAIN_THEN_EVALUATE

    def prepare(self, stage, ctx: StageContext) -> TrainedTarget:
        task, hp = stage.target_task, stage.hparams
        train_task = ctx.train_task(task, hp)
        heads = [(task, train_task.kind)]
        kept = ctx.workspace.checkpoint_dir(stage.key)
        marker = ctx.workspace.checkpoint_marker(stage.key)
        if marker.is_file():
            # Trained by an earlier run: only new evaluations are left.
            summary = json.loads(marker.read_text(encoding="utf-8"))["summary"]
            model = ctx.family.trained_model(str(kept), ctx.tokenizer, heads)
            model.to(ctx.runtime.device)
            ctx.emit(stage, "checkpoint", key=stage.key, path=str(kept), reused=True)
            return TrainedTarget(
                stage, ctx, model, train_task, summary["best_step"], summary
            )
        if not task.source.has("validation", task.train_language):
            ctx.emit(
                stage,
                "warning",
                message=f"{task.name} has no {task.train_language} validation "
                "split; keeping the last step instead of the best one",
            )
        model = ctx.family.training_model(
            ctx.start_of(stage), ctx.tokenizer, heads, stage.seed
        )
        result = ctx.train(stage, model, [train_task], hp, select_best=True)
        summary = {
            "best_step": result.best_step,
            "steps": result.steps,
            # The kept step's English validation: the primary metric, and all.
            "validation_score": result.best_score,
            "validation": result.kept_scores.get(task.name, {}),
            "stopped_early": result.stopped_early,
            "samples_per_s": round(result.samples_per_second, 2),
        }
        if stage.keep_model:
            save_trained(ctx, stage, model, summary)
        return TrainedTarget(stage, ctx, model, train_task, result.best_step, summary)


def save_trained(ctx: StageContext, stage, model, summary: dict[str, Any]) -> None:
    """Keep the trained target model (checkpoints/<stage key>/), written whole
    under a temporary name, the marker last, then moved into place."""
    folder = ctx.workspace.checkpoint_dir(stage.key)
    partial = ctx.workspace.partial(folder)
    ctx.family.save_trained(model, ctx.tokenizer, partial)
    write_json_atomic(
        partial / CHECKPOINT_MARKER,
        {
            "key": stage.key,
            "stage": stage.id,
            "target": stage.target,
            "intermediate": stage.intermediate,
            "seed": stage.seed,
            "summary": summary,
            "hparams": stage.hparams.as_dict(),
            "created": time.time(),
        },
    )
    ctx.workspace.move_into_place(partial, folder)
    ctx.emit(stage, "checkpoint", key=stage.key, path=str(folder), reused=False)


@dataclass
class TrainedTarget:
    stage: Any
    ctx: StageContext
    model: Any
    train_task: Any  # engine.train.TrainTask
    best_step: int
    summary: dict[str, Any] = field(default_factory=dict)

    def score(self, language: str, split: str) -> Score:
        task, hp, ctx = self.stage.target_task, self.stage.hparams, self.ctx
        data = ctx.features(task, split, language, hp, hp.max_eval_examples)
        # Every kind reads its records here: QA to score, all for the ids of
        # their per-example predictions.
        records = ctx.records(task, split, language)
        kind = self.train_task.kind
        gathered = predict(
            self.model, self.train_task, data, hp, ctx.runtime, ctx.pad_id
        )
        metrics = kind.score(gathered, data, records, task, language)
        return Score(
            language,
            split,
            metrics,
            examples_scored(data),
            best_step=self.best_step,
            predictions=kind.predictions(gathered, data, records, task, language),
        )


def examples_scored(features: Features) -> int:
    """Examples behind the features: QA windows and tagging chunks map back
    to their record, so a record cut into several units counts once."""
    index = features.unit_arrays.get("record_index")
    return len(features) if index is None else len(np.unique(index))
