"""Plan an experiment as data: a list of stages with the keys they read and write.

For every seed and every intermediate choice (baseline included):

    intermediate stage   train the encoder on an English task -> checkpoint
    target stage         train on the target's English data from that encoder
                         (or from the pretrained model, for the baseline), keep
                         the best step on English validation, then evaluate
                         zero-shot on every language of the target

A stage's key is a hash of everything that determines its output, so a stage
whose output already exists in the workspace is reused, not re-run: one
intermediate checkpoint serves every target, and a second run of the same
experiment trains nothing.

Light module: planning needs no torch (the TUI and --dry-run use it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from engine.config import ExperimentConfig, StageHparams
from engine.data.loaders import data_fingerprint, has_split
from engine.models.tiny import TINY_NAME, TINY_VERSION
from engine.models.tiny_causal import TINY_CAUSAL_NAME, TINY_CAUSAL_VERSION
from engine.workspace import Workspace

# Bump when a stage's code changes what it produces: old outputs stop matching.
STAGE_CODE_VERSION = "2"  # 2: task kinds, per-task hyperparameters
BASELINE = "baseline"
# Targets scored from the stage's model as it is, without target training:
# retrieval (embeddings) and code generation (generate, then execute or BLEU).
EVAL_ONLY_KINDS = ("retrieval", "code_generation")


@dataclass(frozen=True)
class IntermediateStage:
    key: str
    task: str  # a task, or a multi-task group's name
    seed: int
    reused: bool = False
    members: tuple[str, ...] = ()  # the tasks trained: (task,) or the group's

    @property
    def id(self) -> str:
        return f"intermediate/{self.task}/seed{self.seed}"

    kind = "intermediate"


@dataclass(frozen=True)
class TargetStage:
    key: str
    intermediate: str  # a task name, or "baseline"
    intermediate_key: str | None
    target: str
    seed: int
    languages: tuple[str, ...]
    reused: bool = False
    trains: bool = True  # retrieval and code targets are scored without training
    target_kind: str = ""

    @property
    def id(self) -> str:
        return f"target/{self.target}/from-{self.intermediate}/seed{self.seed}"

    kind = "target"


Stage = IntermediateStage | TargetStage


@dataclass(frozen=True)
class Plan:
    stages: tuple[Stage, ...]

    @property
    def trainings(self) -> int:
        """Stages that will train a model in this run (the rest are reused, or
        retrieval targets, which only evaluate)."""
        return sum(1 for s in self.stages if not s.reused and _trains(s))

    @property
    def reused(self) -> int:
        return sum(1 for s in self.stages if s.reused)

    def summary(self) -> dict:
        inter = [s for s in self.stages if isinstance(s, IntermediateStage)]
        target = [s for s in self.stages if isinstance(s, TargetStage)]
        return {
            "stages": len(self.stages),
            "trainings": self.trainings,
            "intermediate_trainings": sum(1 for s in inter if not s.reused),
            "target_trainings": sum(1 for s in target if not s.reused and s.trains),
            "retrieval_evaluations": sum(
                1 for s in target if not s.reused and s.target_kind == "retrieval"
            ),
            "generation_evaluations": sum(
                1 for s in target if not s.reused and s.target_kind == "code_generation"
            ),
            "reused_checkpoints": sum(1 for s in inter if s.reused),
            "reused_target_results": sum(1 for s in target if s.reused),
            "evaluations": sum(len(s.languages) for s in target),
        }

    def as_records(self) -> list[dict]:
        out = []
        for s in self.stages:
            rec = {
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


def make_plan(config: ExperimentConfig, workspace: Workspace | None) -> Plan:
    base = model_fingerprint(config.model)
    stages: list[Stage] = []
    fp_cache: dict[tuple, str] = {}

    def fp(task_name: str, split: str, lang: str) -> str:
        key = (task_name, split, lang)
        if key not in fp_cache:
            task = config.task(task_name)
            fp_cache[key] = (
                data_fingerprint(task, split, lang)
                if has_split(task, split, lang)
                else "none"
            )
        return fp_cache[key]

    def checkpoint_exists(key: str) -> bool:
        return (
            bool(workspace)
            and (workspace.checkpoint_dir(key) / "xlt_stage.json").is_file()
        )

    def result_exists(key: str) -> bool:
        return bool(workspace) and (workspace.stage_dir(key) / "result.json").is_file()

    choices = ([BASELINE] if config.baseline else []) + list(config.intermediate)
    for seed in config.seeds:
        for choice in choices:
            inter_key = None
            if choice != BASELINE:
                members = config.members(choice)
                parts = []
                for member in members:
                    task = config.task(member)
                    lang = task.train_language
                    parts.append(
                        {
                            "task": member,
                            "kind": task.kind,
                            "labels": task.labels,
                            "train": fp(member, "train", lang),
                            "validation": fp(member, "validation", lang),
                            "hparams": _hp(config.hparams_for("intermediate", member)),
                        }
                    )
                group = config.groups.get(choice)
                inter_key = stage_key(
                    {
                        "stage": "intermediate",
                        "code": STAGE_CODE_VERSION,
                        "model": base,
                        # One task keeps the key it had before groups existed.
                        **(
                            {k: v for k, v in parts[0].items()}
                            if group is None
                            else {
                                "tasks": parts,
                                "sampling": [
                                    group.sampling,
                                    group.cap,
                                    group.temperature,
                                ],
                            }
                        ),
                        "precision": config.precision,
                        "seed": seed,
                    }
                )
                stages.append(
                    IntermediateStage(
                        key=inter_key,
                        task=choice,
                        seed=seed,
                        reused=checkpoint_exists(inter_key),
                        members=members,
                    )
                )
            for target in config.targets:
                task = config.task(target)
                lang = task.train_language
                languages = config.languages[target]
                hp = config.hparams_for("target", target)
                trains = task.kind not in EVAL_ONLY_KINDS
                parts = {
                    "stage": "target",
                    "code": STAGE_CODE_VERSION,
                    "start": inter_key or base,
                    "task": target,
                    "kind": task.kind,
                    "labels": task.labels,
                    "eval_split": task.eval_split,
                    "eval": {lg: fp(target, task.eval_split, lg) for lg in languages},
                    "precision": config.precision,
                }
                if trains:
                    parts.update(
                        train=fp(target, "train", lang),
                        validation=fp(target, "validation", lang),
                        hparams=_hp(hp),
                        seed=seed,
                    )
                elif task.kind == "code_generation":
                    # Sampling depends on the seed; everything that changes the
                    # generated text is in the key.
                    parts.update(
                        generation=dict(config.generation),
                        max_seq_length=hp.max_seq_length,
                        seed=seed if config.generation.get("do_sample") else None,
                    )
                else:
                    # Scored from the encoder as it is: no seed of its own, so
                    # the baseline's retrieval scores are computed once.
                    parts.update(
                        layer=hp.retrieval_layer,
                        max_seq_length=hp.max_seq_length,
                    )
                key = stage_key(parts)
                stages.append(
                    TargetStage(
                        key=key,
                        intermediate=choice,
                        intermediate_key=inter_key,
                        target=target,
                        seed=seed,
                        languages=languages,
                        reused=result_exists(key),
                        trains=trains,
                        target_kind=task.kind,
                    )
                )
    return Plan(tuple(stages))
