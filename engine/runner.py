"""Execute a plan: train, select, evaluate, record.

The heavy side of the engine (torch, transformers): imported only once a run
starts, never by the CLI's light commands.

Each finished piece is written as soon as it exists: an intermediate checkpoint
when its stage ends, a language's score when it is evaluated. A crash or a kill
loses only the stage in progress.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from engine.atomic import write_json_atomic
from engine.config import ExperimentConfig, StageHparams
from engine.data.features import Features
from engine.data.loaders import data_fingerprint, has_split
from engine.data.records import load_records
from engine.data.tokenize import cached_features
from engine.errors import Cancelled
from engine.events import EventWriter
from engine.kinds import load_kind
from engine.models.heads import TaskModel, pooling_for
from engine.models.loading import load_encoder, load_tokenizer, resolve_model_path
from engine.pipeline import IntermediateStage, Plan, TargetStage
from engine.store import Store
from engine.tasks.spec import TaskSpec
from engine.train import (
    Runtime,
    TrainTask,
    evaluate,
    resolve_device,
    train_stage,
)
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
        self.workspace = workspace
        self.store = store
        self.run_id = run_id
        self.events = events
        self.should_stop = should_stop

        self.runtime = Runtime(resolve_device(config.device), config.precision)
        if config.is_code:  # a causal LM, trained and run whole
            from engine.models.causal import (
                load_causal_tokenizer,
                resolve_causal_model_path,
            )

            self.model_path = resolve_causal_model_path(config.model, workspace)
            self.tokenizer = load_causal_tokenizer(self.model_path)
        else:
            self.model_path = resolve_model_path(config.model, workspace)
            self.tokenizer = load_tokenizer(self.model_path)
        self.pad_id = self.tokenizer.pad_token_id or 0
        self.pooling = pooling_for(self.tokenizer)
        self.completed = 0

    @property
    def device_name(self) -> str:
        dev = self.runtime.device
        if dev.type == "cuda":
            return f"{dev} ({torch.cuda.get_device_name(dev)})"
        return str(dev)

    # -- data -----------------------------------------------------------------
    def features(
        self, task: TaskSpec, split: str, lang: str, hp: StageHparams, limit: int
    ) -> Features:
        data = cached_features(
            load_kind(task.kind),
            self.tokenizer,
            task,
            lambda: load_records(task, split, lang),
            data_fingerprint(task, split, lang),
            hp.max_seq_length,
            self.workspace.root / "cache",
            stride=hp.doc_stride,
        )
        return data.head(limit) if limit else data

    def train_task(self, task: TaskSpec, hp: StageHparams) -> TrainTask:
        """The task's English train split, and its validation split if any."""
        kind = load_kind(task.kind)
        lang = task.train_language
        train = self.features(task, "train", lang, hp, hp.max_train_examples)
        validation = records = None
        if has_split(task, "validation", lang):
            validation = self.features(
                task, "validation", lang, hp, hp.max_eval_examples
            )
            if kind.scores_with_records:
                records = load_records(task, "validation", lang)
        return TrainTask(task, kind, train, validation, records)

    # -- stages ---------------------------------------------------------------
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
            if isinstance(stage, IntermediateStage):
                info = self.run_intermediate(stage)
            else:
                info = self.run_target(stage)
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

    def _start_of(self, stage: TargetStage) -> str:
        """The weights a target stage starts from: its intermediate checkpoint,
        or the pretrained model for the baseline."""
        if stage.intermediate_key:
            return str(self.workspace.checkpoint_dir(stage.intermediate_key))
        return self.model_path

    def _new_model(self, start: str, tasks: list[TaskSpec]):
        torch.manual_seed(0)  # head init is seeded again in train_stage
        if self.config.is_code:
            from engine.kinds.code_generation import CausalLMModel
            from engine.models.causal import load_causal_lm

            return CausalLMModel(load_causal_lm(start))
        model = TaskModel(load_encoder(start), self.pooling)
        for task in tasks:
            model.add_head(task, load_kind(task.kind))
        return model

    def _train(
        self, stage, model, tasks: list[TrainTask], hp, select_best: bool, group=None
    ):
        sampling = {}
        if group is not None:
            sampling = dict(
                sampling=group.sampling,
                sampling_cap=group.cap,
                temperature=group.temperature,
            )
        return train_stage(
            model,
            tasks,
            hp,
            self.runtime,
            seed=stage.seed,
            pad_id=self.pad_id,
            emit=self._emit_for(stage),
            should_stop=self.should_stop,
            select_best=select_best,
            **sampling,
        )

    def run_intermediate(self, stage: IntermediateStage) -> dict[str, Any]:
        folder = self.workspace.checkpoint_dir(stage.key)
        if stage.reused:
            self.events.emit(
                "checkpoint",
                stage=stage.id,
                key=stage.key,
                path=str(folder),
                reused=True,
            )
            return {"checkpoint": str(folder)}
        members = [self.config.task(name) for name in self.config.members(stage.task)]
        group = self.config.groups.get(stage.task)
        # A group trains with the stage's values; each task's own values
        # ([train.tasks.<task>]) still decide how its data is read (length, stride).
        hp = (
            self.config.intermediate_hparams
            if group is not None
            else self.config.hparams_for("intermediate", stage.task)
        )
        model = self._new_model(self.model_path, members)
        tasks = [
            self.train_task(t, self.config.hparams_for("intermediate", t.name))
            for t in members
        ]
        # No best-step selection: the encoder trained to the end is the one kept.
        result = self._train(
            stage,
            model,
            tasks,
            hp,
            select_best=False,
            group=group,
        )
        # Write the encoder whole under a temporary name, then move it into place.
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        if self.config.is_code:
            model.save_pretrained(partial)  # the whole causal LM
        else:
            model.encoder.save_pretrained(partial, safe_serialization=True)
        self.tokenizer.save_pretrained(partial)
        meta = {
            "key": stage.key,
            "task": stage.task,
            "members": list(self.config.members(stage.task)),
            "seed": stage.seed,
            "base_model": self.config.model,
            "steps": result.steps,
            "validation_accuracy": result.best_score,
            "hparams": hp.as_dict(),
            "run_id": self.run_id,
            "created": time.time(),
        }
        write_json_atomic(partial / "xlt_stage.json", meta)
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
        self.events.emit(
            "checkpoint",
            stage=stage.id,
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

    def run_target(self, stage: TargetStage) -> dict[str, Any]:
        result_file = self.workspace.stage_dir(stage.key) / "result.json"
        task = self.config.task(stage.target)
        # Also reused when an earlier stage of this run wrote it (the baseline's
        # retrieval scores are the same for every seed).
        if stage.reused or result_file.is_file():
            saved = json.loads(result_file.read_text(encoding="utf-8"))
            for score in saved["scores"]:
                self._record(stage, task, score, reused=True)
            return {
                "best_step": saved.get("best_step"),
                "reused_from": saved.get("run_id"),
            }

        hp = self.config.hparams_for("target", task.name)
        if task.kind == "code_generation":
            return self.run_generation(stage, task, hp, result_file)
        if not stage.trains:
            return self.run_retrieval(stage, task, hp, result_file)
        if not has_split(task, "validation", task.train_language):
            self.events.emit(
                "warning",
                stage=stage.id,
                message=f"{task.name} has no {task.train_language} validation "
                "split; keeping the last step instead of the best one",
            )
        start = self._start_of(stage)
        model = self._new_model(start, [task])
        train_task = self.train_task(task, hp)
        result = self._train(stage, model, [train_task], hp, select_best=True)
        scores = []
        for language in stage.languages:
            if self.should_stop():
                raise Cancelled("cancelled during zero-shot evaluation")
            data = self.features(
                task, task.eval_split, language, hp, hp.max_eval_examples
            )
            records = None
            if train_task.kind.scores_with_records:
                records = load_records(task, task.eval_split, language)
            metrics = evaluate(
                model,
                train_task,
                data,
                records,
                hp,
                self.runtime,
                self.pad_id,
                language,
            )
            metric, value = next(iter(metrics.items()))
            score = {
                "language": language,
                "split": task.eval_split,
                "metric": metric,
                "value": value,
                "metrics": metrics,
                "n_examples": _examples_scored(data),
                "best_step": result.best_step,
            }
            scores.append(score)
            self._record(stage, task, score, reused=False)
        write_json_atomic(
            result_file,
            {
                "key": stage.key,
                "run_id": self.run_id,
                "best_step": result.best_step,
                "validation_accuracy": result.best_score,
                "steps": result.steps,
                "scores": scores,
            },
        )
        return {
            "best_step": result.best_step,
            "steps": result.steps,
            "validation_accuracy": result.best_score,
            "samples_per_s": round(result.samples_per_second, 2),
        }

    def run_retrieval(
        self, stage: TargetStage, task: TaskSpec, hp: StageHparams, result_file
    ) -> dict[str, Any]:
        """Score a retrieval target straight from the encoder of the stage it
        starts from (the intermediate checkpoint, or the pretrained model for
        the baseline): no target training, as in XTREME."""
        from engine.data.kind_records import load_retrieval_pairs
        from engine.kinds.retrieval import evaluate_retrieval, resolve_layer

        start = self._start_of(stage)
        encoder = load_encoder(start)
        layer = None if hp.retrieval_layer < 0 else hp.retrieval_layer
        used_layer = resolve_layer(encoder.config, layer)
        scores = []
        for language in stage.languages:
            if self.should_stop():
                raise Cancelled("cancelled during retrieval evaluation")
            source, target, gold = load_retrieval_pairs(task, task.eval_split, language)
            metrics = evaluate_retrieval(
                encoder,
                self.tokenizer,
                task,
                source,
                target,
                gold,
                used_layer,
                hp,
                self.runtime,
            )
            metric, value = next(iter(metrics.items()))
            score = {
                "language": language,
                "split": task.eval_split,
                "metric": metric,
                "value": value,
                "metrics": metrics,
                "n_examples": len(source),
                "best_step": None,
            }
            scores.append(score)
            self._record(stage, task, score, reused=False)
        write_json_atomic(
            result_file,
            {
                "key": stage.key,
                "run_id": self.run_id,
                "layer": used_layer,
                "scores": scores,
            },
        )
        return {"layer": used_layer, "trained": False}

    def run_generation(
        self, stage: TargetStage, task: TaskSpec, hp: StageHparams, result_file
    ) -> dict[str, Any]:
        """A code target: generate with the stage's LM (the intermediate
        checkpoint, or the pretrained model for the baseline) in every language,
        then score by sandboxed execution (pass@k) or BLEU. No target training."""
        from engine.codeeval.sandbox import Limits
        from engine.codegen.generate import GenerationSettings, generate_completions
        from engine.kinds.code_generation import score_generations
        from engine.models.causal import load_causal_lm

        start = self._start_of(stage)
        lm = load_causal_lm(start, dtype=self.runtime.autocast_dtype)
        lm.to(self.runtime.device)
        settings = GenerationSettings.from_mapping(self.config.generation)
        limits = Limits()
        folder = result_file.parent / "generations"
        scores = []
        for language in stage.languages:
            if self.should_stop():
                raise Cancelled("cancelled during generation")
            records = load_records(task, task.eval_split, language)
            if hp.max_eval_examples:
                records = records[: hp.max_eval_examples]
            completions = generate_completions(
                lm,
                self.tokenizer,
                records,
                settings,
                self.runtime,
                should_stop=self.should_stop,
            )
            scored = score_generations(records, completions, task, limits)
            _write_generations(folder / f"{language}.jsonl", completions, scored)
            metric, value = scored.primary
            score = {
                "language": language,
                "split": task.eval_split,
                "metric": metric,
                "value": value,
                "metrics": scored.metrics,
                "n_examples": len(records),
                "best_step": None,
                "generation": settings.as_dict(),
            }
            scores.append(score)
            self._record(stage, task, score, reused=False)
        write_json_atomic(
            result_file,
            {
                "key": stage.key,
                "run_id": self.run_id,
                "generation": settings.as_dict(),
                "limits": limits.__dict__,
                "scores": scores,
            },
        )
        return {"trained": False, "generation": settings.as_dict()}

    def _record(self, stage: TargetStage, task: TaskSpec, score: dict, reused: bool):
        self.events.emit(
            "eval",
            stage=stage.id,
            task=task.name,
            intermediate=stage.intermediate,
            seed=stage.seed,
            language=score["language"],
            split=score["split"],
            metric=score["metric"],
            value=round(score["value"], 6),
            n_examples=score["n_examples"],
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
                    "target": task.name,
                    "language": score["language"],
                    "split": score["split"],
                    "metric": score["metric"],
                    "value": score["value"],
                    "n_examples": score["n_examples"],
                    "best_step": score.get("best_step"),
                    "metrics": score.get("metrics", {score["metric"]: score["value"]}),
                    **(
                        {"generation": score["generation"]}
                        if "generation" in score
                        else {}
                    ),
                    "stage_key": stage.key,
                    "reused": reused,
                    "t": time.time(),
                }
            ]
        )

    def _emit_for(self, stage):
        def emit(type: str, **fields):
            return self.events.emit(type, stage=stage.id, **fields)

        return emit


def _stage_fields(stage) -> dict[str, Any]:
    if isinstance(stage, IntermediateStage):
        return {"task": stage.task}
    return {
        "target": stage.target,
        "intermediate": stage.intermediate,
        "languages": list(stage.languages),
    }


def _examples_scored(features: Features) -> int:
    """Examples behind the features: QA windows and tagging chunks map back
    to their record, so a record cut into several units counts once."""
    index = features.unit_arrays.get("record_index")
    return len(features) if index is None else len(np.unique(index))


def _write_generations(path, completions: list[dict], scored) -> None:
    """Every completion with its verdict, for reading why a problem failed."""
    verdicts = {
        (s.get("task_id"), s.get("completion_index")): s
        for s in getattr(scored, "samples", []) or []
        if isinstance(s, dict)
    }
    lines = []
    for c in completions:
        extra = verdicts.get((c["task_id"], c["completion_index"]), {})
        lines.append(json.dumps({**c, **extra}, ensure_ascii=False))
    from engine.atomic import write_text_atomic

    write_text_atomic(path, "\n".join(lines) + ("\n" if lines else ""))
