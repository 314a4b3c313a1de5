"""Run one stage on one device: the unit of work an executor hands out.

`execute_stage(stage, env)` takes a stage description from the plan
(engine.pipeline: what it reads, its key, seed, task specs and
hyperparameters) and a `StageEnvironment` (one device, the experiment's model
family and tokenizer, the workspace, callbacks for events and scores), writes
the stage's outputs into the workspace and returns what its `stage_end` event
reports:

    intermediate   train on the English task(s), no best-step selection (the
                   paper's intermediate stage trains a fixed budget), save the
                   checkpoint whole under a temporary name, then move it into
                   checkpoints/<key>/
    target         the kind's target strategy (engine.kinds: train then
                   evaluate; embed and score; generate and score) gets the
                   model ready; each language is scored, recorded as soon as it
                   exists, and the stage's result written to
                   stages/<key>/result.json

A stage whose output exists is not run again: its checkpoint is reused, or
its saved scores are recorded again. A stage is computed under its lock
(engine.stage_lock, locks/<key>.lock): a run that finds another run computing
the same stage waits for it, then reuses what it wrote, so two runs sharing a
stage (side by side, or on two machines over NFS) compute it once. The
function knows nothing of where it
runs: every event and score leaves through the environment's callbacks, so
the executor (engine.runner) stays the one writer of the store and of the
run's event stream.

Heavy module (torch): imported when a run starts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from engine.atomic import write_json_atomic
from engine.codegen.prompts import apply_template
from engine.config import ExperimentConfig
from engine.data.features import Features
from engine.data.loaders import data_fingerprint, has_split
from engine.data.records import load_records
from engine.data.tokenize import cached_features
from engine.errors import Cancelled
from engine.kinds import load_kind
from engine.kinds.base import Score
from engine.models.families import model_family
from engine.models.loading import allow_remote_code
from engine.pipeline import Evaluation, IntermediateStage, Stage, TargetStage
from engine.predictions import write_predictions
from engine.stage_lock import LockHolder, StageLock, holding
from engine.tasks.spec import TaskSpec
from engine.train import Runtime, TrainResult, TrainTask, runtime_for, train_stage
from engine.workspace import CHECKPOINT_MARKER, Workspace


@dataclass
class StageEnvironment:
    """Everything a stage needs besides its description (the StageContext of
    engine.kinds.base): where it runs and how it reports."""

    workspace: Workspace
    runtime: Runtime
    family: Any  # engine.models.families: EncoderFamily | CausalLMFamily
    model_path: str
    """The pretrained model: a folder, or a hub id."""
    base_model: str
    """The model as the config names it (recorded with checkpoints)."""
    tokenizer: Any
    run_id: str
    emit_event: Callable[..., Any]
    """Writes one event: emit_event(type, **fields)."""
    record_score: Callable[[TargetStage, Score, bool], None]
    """Records one language's score (stage, score, reused) as soon as it exists."""
    should_stop: Callable[[], bool]
    current_stage: Stage | None = None
    """The stage being executed: what `phase` events name."""

    @classmethod
    def for_run(
        cls,
        config: ExperimentConfig,
        workspace: Workspace,
        run_id: str,
        emit_event: Callable[..., Any],
        record_score: Callable[[TargetStage, Score, bool], None],
        should_stop: Callable[[], bool],
        device: str | None = None,
    ) -> StageEnvironment:
        """The environment of a run's stages on `device` (default: the
        config's): the experiment's model family, its tokenizer (loaded now:
        a model that cannot be loaded fails here) and the runtime. What a
        worker process builds for itself, given the resolved config."""
        # Every model this process loads runs its own code only if allowed.
        allow_remote_code(config.trust_remote_code)
        family = model_family(config.model_family)
        model_path = family.resolve(config.model, workspace)
        return cls(
            workspace=workspace,
            runtime=runtime_for(device or config.device, config.precision),
            family=family,
            model_path=model_path,
            base_model=config.model,
            tokenizer=family.tokenizer(model_path),
            run_id=run_id,
            emit_event=emit_event,
            record_score=record_score,
            should_stop=should_stop,
        )

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id or 0

    def emit(self, stage: Stage, type: str, **fields: Any) -> None:
        self.emit_event(type, stage=stage.id, **fields)

    def phase(self, phase: str, message: str) -> None:
        """Say what the stage is doing before its first step (loading a
        model, tokenizing): minutes on a large model or dataset."""
        if self.current_stage is not None:
            self.emit(self.current_stage, "phase", phase=phase, message=message)

    @contextmanager
    def computing(self, stage: Stage) -> Iterator[None]:
        """Hold the stage's lock while computing its outputs: waits (with a
        `log` event naming the run it waits for) while another live run
        computes the same stage; breaks a stale lock with a `warning`."""

        def waiting(holder: LockHolder | None) -> None:
            who = (
                f"run {holder.run_id} (pid {holder.pid} on {holder.host})"
                if holder
                else "another run"
            )
            self.emit(
                stage,
                "log",
                level="info",
                message=f"waiting for {who} to "
                f"finish stage {stage.id} (key {stage.key}); its output will be "
                "reused",
            )

        def broken(holder: LockHolder | None, why: str) -> None:
            self.emit(
                stage,
                "warning",
                message=f"broke the stale lock of stage {stage.id} (key "
                f"{stage.key}) held by "
                + (f"run {holder.run_id}" if holder else "an unknown run")
                + f": {why}",
            )

        lock = StageLock(self.workspace.stage_lock(stage.key), self.run_id)
        with holding(
            lock, should_stop=self.should_stop, on_wait=waiting, on_break=broken
        ):
            yield

    def start_of(self, stage: TargetStage) -> str:
        if stage.intermediate_key:
            return str(self.workspace.checkpoint_dir(stage.intermediate_key))
        return self.model_path

    def records(self, task: TaskSpec, split: str, language: str) -> list[dict]:
        return load_records(task, split, language)

    def features(
        self,
        task: TaskSpec,
        split: str,
        language: str,
        hp,
        limit: int,
        prompt_format: str = "native",
    ) -> Features:
        self.phase("tokenize", f"tokenizing {task.name} {split} [{language}]")
        fingerprint = data_fingerprint(task, split, language)
        if prompt_format != "native":  # other prompts: other features
            fingerprint += f"+prompt:{prompt_format}"
        data = cached_features(
            load_kind(task.kind),
            self.tokenizer,
            task,
            lambda: apply_template(load_records(task, split, language), prompt_format),
            fingerprint,
            hp.max_seq_length,
            self.workspace.cache_root,
            stride=hp.doc_stride,
        )
        return data.head(limit) if limit else data

    def train_task(
        self, task: TaskSpec, hp, prompt_format: str = "native"
    ) -> TrainTask:
        """The task's English train split, and its validation split if any
        (code tasks: in `prompt_format`, engine.codegen.prompts)."""
        kind = load_kind(task.kind)
        lang = task.train_language
        train = self.features(
            task, "train", lang, hp, hp.max_train_examples, prompt_format
        )
        validation = records = None
        if has_split(task, "validation", lang):
            validation = self.features(
                task, "validation", lang, hp, hp.max_eval_examples, prompt_format
            )
            if kind.scores_with_records:
                records = apply_template(
                    load_records(task, "validation", lang), prompt_format
                )
        return TrainTask(task, kind, train, validation, records)

    def train(
        self, stage: Stage, model, tasks: list[TrainTask], hp, select_best: bool
    ) -> TrainResult:
        sampling = getattr(stage, "sampling", None)
        # gpus_per_stage > 1: this worker's group trains the stage with DDP.
        if self.runtime.world_size > 1:
            from engine.distributed import train_data_parallel

            self.emit(
                stage,
                "log",
                level="info",
                message=f"training on {' + '.join(self.runtime.group)} "
                f"(torch DDP, world size {self.runtime.world_size})",
            )
        trainer = train_data_parallel if self.runtime.world_size > 1 else train_stage
        return trainer(
            model,
            tasks,
            hp,
            self.runtime,
            seed=stage.seed,
            pad_id=self.pad_id,
            emit=lambda type, **fields: self.emit(stage, type, **fields),
            should_stop=self.should_stop,
            select_best=select_best,
            **(
                {}
                if sampling is None
                else dict(
                    sampling=sampling.sampling,
                    sampling_cap=sampling.cap,
                    temperature=sampling.temperature,
                )
            ),
        )


def execute_stage(stage: Stage, env: StageEnvironment) -> dict[str, Any]:
    """Run (or reuse) one stage; return what its stage_end event reports."""
    env.current_stage = stage
    if isinstance(stage, IntermediateStage):
        return _intermediate(stage, env)
    return _target(stage, env)


def _intermediate(stage: IntermediateStage, env: StageEnvironment) -> dict[str, Any]:
    if stage.reused or env.workspace.checkpoint_marker(stage.key).is_file():
        return _reuse_checkpoint(stage, env)
    with env.computing(stage):
        # Looked at again under the lock: a run we waited for may have made it.
        if env.workspace.checkpoint_marker(stage.key).is_file():
            return _reuse_checkpoint(stage, env)
        return _train_intermediate(stage, env)


def _reuse_checkpoint(stage: IntermediateStage, env: StageEnvironment) -> dict:
    folder = env.workspace.checkpoint_dir(stage.key)
    env.emit(stage, "checkpoint", key=stage.key, path=str(folder), reused=True)
    return {"checkpoint": str(folder)}


def _train_intermediate(
    stage: IntermediateStage, env: StageEnvironment
) -> dict[str, Any]:
    folder = env.workspace.checkpoint_dir(stage.key)
    assert stage.hparams is not None
    tasks = [
        env.train_task(task, hp, stage.prompt_format)
        for task, hp in zip(stage.member_tasks, stage.member_hparams, strict=True)
    ]
    env.phase("build_model", f"loading {env.base_model} and adding the task heads")
    model = env.family.training_model(
        env.model_path, env.tokenizer, [(t.spec, t.kind) for t in tasks], stage.seed
    )
    # No best-step selection: the model trained to the end is the one kept.
    result = env.train(stage, model, tasks, stage.hparams, select_best=False)
    # Written whole under a temporary name, then moved into place: a half-
    # written checkpoint never looks finished.
    partial = env.workspace.partial(folder)
    env.family.save_checkpoint(model, env.tokenizer, partial)
    meta = {
        "key": stage.key,
        "task": stage.task,
        "members": list(stage.members),
        "seed": stage.seed,
        "base_model": env.base_model,
        "steps": result.steps,
        # The English validation metrics of the weights kept (the last step),
        # per member: the paper's analysis of intermediate-task score against
        # transfer gain reads them (Phang et al. 2020, section 5).
        "validation": result.last_scores,
        "hparams": stage.hparams.as_dict(),
        "run_id": env.run_id,
        "created": time.time(),
    }
    write_json_atomic(partial / CHECKPOINT_MARKER, meta)  # last: marks it whole
    env.workspace.move_into_place(partial, folder)
    env.emit(
        stage,
        "checkpoint",
        key=stage.key,
        path=str(folder),
        reused=False,
        steps=result.steps,
    )
    return {
        "checkpoint": str(folder),
        "steps": result.steps,
        "samples_per_s": round(result.samples_per_second, 2),
    }


def _target(stage: TargetStage, env: StageEnvironment) -> dict[str, Any]:
    """Score every (split, language) of the stage whose score is not in the
    workspace yet; scores that are (from an earlier run, or from an earlier
    stage of this run: the baseline's retrieval scores are the same for every
    seed) are recorded again as reused. The strategy's model is made only when
    something is left to score."""
    pending = _record_saved(stage, env, stage.evaluations)
    if not pending:
        return _saved_summary(stage, env)
    with env.computing(stage):
        # Looked at again under the lock: a run we waited for may have scored
        # some (or all) of them.
        pending = _record_saved(stage, env, pending)
        if not pending:
            return _saved_summary(stage, env)
        return _score_target(stage, env, pending)


def _record_saved(
    stage: TargetStage, env: StageEnvironment, evaluations
) -> list[Evaluation]:
    """Record the saved scores among `evaluations` as reused; return the rest."""
    pending = []
    for evaluation in evaluations:
        saved_file = env.workspace.stage_evaluation(stage.key, evaluation.key)
        if saved_file.is_file():
            saved = json.loads(saved_file.read_text(encoding="utf-8"))
            score = Score.from_dict(saved["score"])
            score.extra["computed_in_run"] = saved.get("run_id")
            env.record_score(stage, score, True)
        else:
            pending.append(evaluation)
    return pending


def _saved_summary(stage: TargetStage, env: StageEnvironment) -> dict[str, Any]:
    summary_file = env.workspace.stage_result(stage.key)
    saved = (
        json.loads(summary_file.read_text(encoding="utf-8"))
        if summary_file.is_file()
        else {}
    )
    return {"best_step": saved.get("best_step"), "reused_from": saved.get("run_id")}


def _score_target(
    stage: TargetStage, env: StageEnvironment, pending: list[Evaluation]
) -> dict[str, Any]:
    summary_file = env.workspace.stage_result(stage.key)
    assert stage.target_task is not None
    strategy = load_kind(stage.target_task.kind).target
    env.phase(
        "prepare_target",
        f"preparing {stage.target_task.name}: data, then the model from "
        + (
            f"checkpoint {stage.intermediate_key[:12]}"
            if stage.intermediate_key
            else env.base_model
        ),
    )
    run = strategy.prepare(stage, env)
    for evaluation in pending:
        if env.should_stop():
            raise Cancelled("cancelled during zero-shot evaluation")
        score = run.score(evaluation.language, evaluation.split)
        if score.predictions is not None:
            # Before the score: a saved score always has its predictions.
            write_predictions(
                env.workspace.stage_predictions(stage.key, evaluation.key),
                score.predictions,
                stage.target_task.name,
                evaluation.language,
                evaluation.split,
            )
        # Written as soon as it exists: a killed run keeps every finished score.
        write_json_atomic(
            env.workspace.stage_evaluation(stage.key, evaluation.key),
            {"key": evaluation.key, "run_id": env.run_id, "score": score.as_dict()},
        )
        env.record_score(stage, score, False)
    write_json_atomic(
        summary_file, {"key": stage.key, "run_id": env.run_id, **run.summary}
    )
    return dict(run.summary)
