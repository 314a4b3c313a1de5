"""Plan an experiment as data: a list of stages with the keys they read and write.

For every seed and every intermediate choice (baseline included):

    intermediate stage   train the encoder (or LM) on an English task or a
                         multi-task group -> checkpoint
    target stage         run the target from that checkpoint (or from the
                         pretrained model, for the baseline) as its kind says
                         (engine.tasks.kinds target_mode): train on English and
                         evaluate zero-shot; embed and score (retrieval); or
                         generate and score (code)

A stage is a self-contained unit of work: its description carries what it
reads (the key of the checkpoint it starts from), its own key, its seed, its
task specs and hyperparameters, so it can be handed to whatever runs it (the
engine's process today, a worker on another device later) without the
config. engine.stages.execute_stage runs one.

A stage's key is a hash of everything that determines its output, so a stage
whose output already exists in the workspace is reused, not re-run: one
intermediate checkpoint serves every target, and a second run of the same
experiment trains nothing.

Light module: planning needs no torch (the TUI and --dry-run use it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import BASELINE, ExperimentConfig, GenerationSettings, StageHparams
from engine.data.loaders import data_fingerprint, has_split
from engine.models.tiny import TINY_NAME, TINY_VERSION
from engine.models.tiny_causal import TINY_CAUSAL_NAME, TINY_CAUSAL_VERSION
from engine.tasks.kinds import (
    EMBED_AND_SCORE,
    GENERATE_AND_SCORE,
    TRAIN_THEN_EVALUATE,
    kind_info,
)
from engine.tasks.spec import TaskSpec
from engine.workspace import Workspace

# Bump when a stage's code changes what it produces: old outputs stop matching.
STAGE_CODE_VERSION = "2"  # 2: task kinds, per-task hyperparameters

# What a dry run says each kind of target stage does.
_ACTIONS = {
    TRAIN_THEN_EVALUATE: "train + evaluate",
    EMBED_AND_SCORE: "evaluate (retrieval)",
    GENERATE_AND_SCORE: "generate + score",
}


@dataclass(frozen=True)
class GroupSampling:
    """How a multi-task stage draws a task per step (engine.train.task_weights)."""

    sampling: str = "proportional"
    cap: int = 0
    temperature: float = 1.0


@dataclass(frozen=True)
class IntermediateStage:
    key: str
    task: str  # a task, or a multi-task group's name
    seed: int
    reused: bool = False
    members: tuple[str, ...] = ()  # the tasks trained: (task,) or the group's
    member_tasks: tuple[TaskSpec, ...] = ()
    hparams: StageHparams | None = None
    """The stage's training values: the task's (with [train.tasks.<task>]),
    or, for a group, [train.intermediate]'s."""
    member_hparams: tuple[StageHparams, ...] = ()
    """Per member: how its data is read (max_seq_length, doc_stride, caps)."""
    sampling: GroupSampling | None = None  # a group's

    kind = "intermediate"

    @property
    def id(self) -> str:
        return f"intermediate/{self.task}/seed{self.seed}"

    @property
    def reads(self) -> tuple[str, ...]:
        return ()  # the pretrained model only


@dataclass(frozen=True)
class TargetStage:
    key: str
    intermediate: str  # a task name, or "baseline"
    intermediate_key: str | None
    target: str
    seed: int
    languages: tuple[str, ...]
    reused: bool = False
    splits: tuple[str, ...] = ("test",)
    """The evaluation splits scored in every language (validation, test)."""
    target_kind: str = ""
    mode: str = TRAIN_THEN_EVALUATE
    """How it is run: engine.tasks.kinds' target mode of its kind."""
    target_task: TaskSpec | None = None
    hparams: StageHparams | None = None
    generation: GenerationSettings | None = None  # code targets

    kind = "target"

    @property
    def id(self) -> str:
        return f"target/{self.target}/from-{self.intermediate}/seed{self.seed}"

    @property
    def trains(self) -> bool:
        return self.mode == TRAIN_THEN_EVALUATE

    @property
    def action(self) -> str:
        return _ACTIONS[self.mode]

    @property
    def reads(self) -> tuple[str, ...]:
        """Keys of the stages whose outputs it needs (its checkpoint)."""
        return (self.intermediate_key,) if self.intermediate_key else ()


Stage = IntermediateStage | TargetStage


@dataclass(frozen=True)
class Plan:
    stages: tuple[Stage, ...]

    @property
    def trainings(self) -> int:
        """Stages that will train a model in this run (the rest are reused, or
        targets scored without training)."""
        return sum(1 for s in self.stages if not s.reused and _trains(s))

    @property
    def reused(self) -> int:
        return sum(1 for s in self.stages if s.reused)

    def summary(self) -> dict:
        inter = [s for s in self.stages if isinstance(s, IntermediateStage)]
        target = [s for s in self.stages if isinstance(s, TargetStage)]
        fresh = [s for s in target if not s.reused]
        return {
            "stages": len(self.stages),
            "trainings": self.trainings,
            "intermediate_trainings": sum(1 for s in inter if not s.reused),
            "target_trainings": sum(1 for s in fresh if s.trains),
            "retrieval_evaluations": sum(1 for s in fresh if s.mode == EMBED_AND_SCORE),
            "generation_evaluations": sum(
                1 for s in fresh if s.mode == GENERATE_AND_SCORE
            ),
            "reused_checkpoints": sum(1 for s in inter if s.reused),
            "reused_target_results": sum(1 for s in target if s.reused),
            "evaluations": sum(len(s.languages) for s in target),
        }

    def as_records(self) -> list[dict]:
        out = []
        for s in self.stages:
            rec: dict[str, Any] = {
                "id": s.id,
                "kind": s.kind,
                "key": s.key,
                "seed": s.seed,
                "reused": s.reused,
            }
            if isinstance(s, IntermediateStage):
                rec["task"] = s.task
                if s.members != (s.task,):
                    rec["members"] = list(s.members)
            else:
                rec.update(
                    intermediate=s.intermediate,
                    target=s.target,
                    languages=list(s.languages),
                )
            out.append(rec)
        return out


def _trains(stage: Stage) -> bool:
    return isinstance(stage, IntermediateStage) or stage.trains


def stage_key(parts: dict) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def model_fingerprint(model: str) -> str:
    """Identity of the starting weights: built-in version, folder, or hub id."""
    if model == TINY_NAME:
        return f"{TINY_NAME}:v{TINY_VERSION}"
    if model == TINY_CAUSAL_NAME:
        return f"{TINY_CAUSAL_NAME}:v{TINY_CAUSAL_VERSION}"
    folder = Path(model)
    if folder.is_dir():
        digest = hashlib.sha256()
        for f in sorted(folder.iterdir()):
            if f.is_file():
                stat = f.stat()
                digest.update(f"{f.name}:{stat.st_size}".encode())
                if f.suffix == ".json":
                    digest.update(f.read_bytes())
        return f"dir:{digest.hexdigest()[:16]}"
    return f"hub:{model}"


def _hp(hp: StageHparams) -> dict:
    # Logging cadence does not change the weights.
    d = hp.as_dict()
    d.pop("log_every")
    return d


class _Fingerprints:
    """Data fingerprints of (task, split, language), each computed once."""

    def __init__(self, config: ExperimentConfig):
        self.config = config
        self.cache: dict[tuple, str] = {}

    def __call__(self, task_name: str, split: str, lang: str) -> str:
        key = (task_name, split, lang)
        if key not in self.cache:
            task = self.config.task(task_name)
            self.cache[key] = (
                data_fingerprint(task, split, lang)
                if has_split(task, split, lang)
                else "none"
            )
        return self.cache[key]


# -- what a target stage's key holds beyond the common parts, per target mode --


def _trained_parts(config, task, hp, seed, fp) -> dict:
    lang = task.train_language
    return {
        "train": fp(task.name, "train", lang),
        "validation": fp(task.name, "validation", lang),
        "hparams": _hp(hp),
        "seed": seed,
    }


def _embedding_parts(config, task, hp, seed, fp) -> dict:
    # Scored from the encoder as it is: no seed of its own, so the baseline's
    # retrieval scores are computed once.
    return {"layer": hp.retrieval_layer, "max_seq_length": hp.max_seq_length}


def _generation_parts(config, task, hp, seed, fp) -> dict:
    # Sampling depends on the seed; everything that changes the generated
    # text is in the key.
    settings = config.generation
    return {
        "generation": settings.as_dict(),
        "max_seq_length": hp.max_seq_length,
        "seed": seed if settings.do_sample else None,
    }


_TARGET_KEY_PARTS: dict[str, Callable[..., dict]] = {
    TRAIN_THEN_EVALUATE: _trained_parts,
    EMBED_AND_SCORE: _embedding_parts,
    GENERATE_AND_SCORE: _generation_parts,
}


def make_plan(config: ExperimentConfig, workspace: Workspace | None) -> Plan:
    base = model_fingerprint(config.model)
    stages: list[Stage] = []
    fp = _Fingerprints(config)

    def checkpoint_exists(key: str) -> bool:
        return workspace is not None and workspace.checkpoint_marker(key).is_file()

    def result_exists(key: str) -> bool:
        return workspace is not None and workspace.stage_result(key).is_file()

    choices = ([BASELINE] if config.baseline else []) + list(config.intermediate)
    for seed in config.seeds:
        for choice in choices:
            inter_key = None
            if choice != BASELINE:
                stage = _intermediate_stage(config, choice, seed, base, fp)
                inter_key = stage.key
                if checkpoint_exists(stage.key):
                    stage = _replace(stage, reused=True)
                stages.append(stage)
            for target in config.targets:
                task = config.task(target)
                hp = config.hparams_for("target", target)
                mode = kind_info(task.kind).target_mode
                parts = {
                    "stage": "target",
                    "code": STAGE_CODE_VERSION,
                    "start": inter_key or base,
                    "task": target,
                    "kind": task.kind,
                    "labels": task.labels,
                    "eval_split": task.eval_split,
                    "eval": {
                        lg: fp(target, task.eval_split, lg)
                        for lg in config.languages[target]
                    },
                    "precision": config.precision,
                    **_TARGET_KEY_PARTS[mode](config, task, hp, seed, fp),
                }
                key = stage_key(parts)
                stages.append(
                    TargetStage(
                        key=key,
                        intermediate=choice,
                        intermediate_key=inter_key,
                        target=target,
                        seed=seed,
                        languages=config.languages[target],
                        splits=(task.eval_split,),
                        reused=result_exists(key),
                        target_kind=task.kind,
                        mode=mode,
                        target_task=task,
                        hparams=hp,
                        generation=(
                            config.generation if mode == GENERATE_AND_SCORE else None
                        ),
                    )
                )
    return Plan(tuple(stages))


def _intermediate_stage(
    config: ExperimentConfig, choice: str, seed: int, base: str, fp
) -> IntermediateStage:
    members = config.members(choice)
    tasks = tuple(config.task(m) for m in members)
    member_hparams = tuple(config.hparams_for("intermediate", m) for m in members)
    parts = [
        {
            "task": task.name,
            "kind": task.kind,
            "labels": task.labels,
            "train": fp(task.name, "train", task.train_language),
            "validation": fp(task.name, "validation", task.train_language),
            "hparams": _hp(hp),
        }
        for task, hp in zip(tasks, member_hparams, strict=True)
    ]
    group = config.groups.get(choice)
    sampling = None
    if group is not None:
        sampling = GroupSampling(group.sampling, group.cap, group.temperature)
    key = stage_key(
        {
            "stage": "intermediate",
            "code": STAGE_CODE_VERSION,
            "model": base,
            # One task keeps the key it had before groups existed.
            **(
                dict(parts[0])
                if sampling is None
                else {
                    "tasks": parts,
                    "sampling": [sampling.sampling, sampling.cap, sampling.temperature],
                }
            ),
            "precision": config.precision,
            "seed": seed,
        }
    )
    # A group trains with the stage's values; each task's own values
    # ([train.tasks.<task>]) still decide how its data is read (length, stride).
    hparams = (
        config.intermediate_hparams
        if group is not None
        else config.hparams_for("intermediate", choice)
    )
    return IntermediateStage(
        key=key,
        task=choice,
        seed=seed,
        members=members,
        member_tasks=tasks,
        hparams=hparams,
        member_hparams=member_hparams,
        sampling=sampling,
    )


def _replace(obj, **changes):
    from dataclasses import replace

    return replace(obj, **changes)
