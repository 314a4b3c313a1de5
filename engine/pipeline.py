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
experiment trains nothing. A target stage's key covers what makes its model
(the starting checkpoint, the English training and validation data, the
hyperparameters, the seed) and nothing of the languages it is scored in;
each (split, language) evaluation has a key of its own, from the stage's key
and that language's data. Adding a language, or editing one language's test
file, costs one evaluation of the kept target model, not a training.

Light module: planning needs no torch (the TUI and --dry-run use it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.atomic import write_json_atomic
from engine.codegen.prompts import template_record
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
# 2: task kinds, per-task hyperparameters. 3: heads drawn from the stage's
# seed, early stopping, evaluations keyed per (split, language).
STAGE_CODE_VERSION = "3"

# The results' label of the [controls] untrained row (code targets).
CONTROL_UNTRAINED = "control:untrained"


def _oracles() -> Mapping[str, str]:
    from engine.tasks.code import ENGLISH_ORACLES

    return ENGLISH_ORACLES


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
    prompt_format: str = "native"
    """Code tasks: the prompt template the stage trains on (engine.codegen.
    prompts); "shared" puts every task in one format, as its targets see."""

    kind = "intermediate"

    @property
    def id(self) -> str:
        return f"intermediate/{self.task}/seed{self.seed}"

    @property
    def reads(self) -> tuple[str, ...]:
        return ()  # the pretrained model only


@dataclass(frozen=True)
class Evaluation:
    """One (split, language) a target stage is scored on, keyed by the stage's
    model and that language's data."""

    split: str
    language: str
    key: str
    done: bool = False  # its score is in the workspace


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
    evaluations: tuple[Evaluation, ...] = ()
    """Every (split, language) scored, split by split."""
    model_reused: bool = False
    """A trained target's model is kept in the workspace: nothing to train."""
    keep_model: bool = True
    """Keep the trained model (checkpoints/<key>/) for later evaluations."""
    target_kind: str = ""
    mode: str = TRAIN_THEN_EVALUATE
    """How it is run: engine.tasks.kinds' target mode of its kind."""
    target_task: TaskSpec | None = None
    hparams: StageHparams | None = None
    generation: GenerationSettings | None = None  # code targets
    train_task: TaskSpec | None = None
    """A code target's English training data ([targets_training]); None: a
    code target evaluated only (no target training)."""
    prompt: Mapping[str, Any] | None = None
    """A code target's prompt template (engine.codegen.prompts)."""
    model_key: str | None = None
    """A code control's variant scores the trained model of this stage."""
    variant: str = ""
    """"", "signature_only" or "translate_test" (code controls)."""
    oracle_of: TaskSpec | None = None
    """translate_test: the translated target whose problems are scored in
    their English original (target_task)."""

    kind = "target"

    @property
    def id(self) -> str:
        return f"target/{self.target}/from-{self.intermediate}/seed{self.seed}"

    @property
    def trains(self) -> bool:
        if self.mode == TRAIN_THEN_EVALUATE:
            return True
        return self.train_task is not None and self.model_key is None

    @property
    def action(self) -> str:
        if self.variant:
            model = "the target model" if self.model_key else "the start model"
            what = {
                "signature_only": "signature-only prompts",
                "translate_test": f"English originals of {self.target}",
            }[self.variant]
            return f"generate + score ({what}) with {model}"
        if self.mode == GENERATE_AND_SCORE:
            if self.train_task is None:
                return "generate + score: evaluation only (no target training)"
            return f"train on {self.train_task.name} + generate + score"
        return _ACTIONS[self.mode]

    @property
    def reads(self) -> tuple[str, ...]:
        """Keys of the stages whose outputs it needs (its checkpoint, and a
        control variant's trained target model)."""
        keys = (self.intermediate_key,) if self.intermediate_key else ()
        return keys + ((self.model_key,) if self.model_key else ())

    @property
    def pending(self) -> tuple[Evaluation, ...]:
        """The evaluations this run computes."""
        return tuple(e for e in self.evaluations if not e.done)

    @property
    def will_train(self) -> bool:
        return self.trains and not self.reused and not self.model_reused


Stage = IntermediateStage | TargetStage


@dataclass(frozen=True)
class Plan:
    stages: tuple[Stage, ...]
    data: Mapping[str, str] = field(default_factory=dict)
    """The fingerprint of every data split the plan reads, by
    "task/split/language" (a run's provenance)."""

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
            "target_trainings": sum(1 for s in fresh if s.will_train),
            "reused_target_models": sum(
                1 for s in fresh if s.trains and s.model_reused
            ),
            "retrieval_evaluations": sum(1 for s in fresh if s.mode == EMBED_AND_SCORE),
            "generation_evaluations": sum(
                1 for s in fresh if s.mode == GENERATE_AND_SCORE
            ),
            "reused_checkpoints": sum(1 for s in inter if s.reused),
            "reused_target_results": sum(1 for s in target if s.reused),
            "evaluations": sum(len(s.evaluations) for s in target),
            "pending_evaluations": sum(len(s.pending) for s in target),
        }

    def as_records(self, detail: bool = False) -> list[dict]:
        """A record per stage; with `detail`, also its hyperparameters, its
        evaluations with their keys, and (intermediate) what it reads."""
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
                    splits=list(s.splits),
                )
            if detail:
                rec.update(_detail(s))
            out.append(rec)
        return out


def _detail(stage: Stage) -> dict[str, Any]:
    hp = stage.hparams.as_dict() if stage.hparams else None
    if isinstance(stage, IntermediateStage):
        out: dict[str, Any] = {"members": list(stage.members), "hparams": hp}
        if stage.sampling is not None:
            out["sampling"] = {
                "sampling": stage.sampling.sampling,
                "cap": stage.sampling.cap,
                "temperature": stage.sampling.temperature,
            }
        if len(stage.members) > 1:
            out["member_hparams"] = {
                m: h.as_dict()
                for m, h in zip(stage.members, stage.member_hparams, strict=True)
            }
        return out
    return {
        "task": stage.target,  # as an intermediate record names its task
        "target_kind": stage.target_kind,
        "action": stage.action,
        "reads": list(stage.reads),
        "hparams": hp,
        "generation": stage.generation.as_dict() if stage.generation else None,
        **(
            {
                "target_training": stage.train_task.name if stage.train_task else None,
                "prompt": dict(stage.prompt),
            }
            if stage.prompt is not None
            else {}
        ),
        "model_reused": stage.model_reused,
        "evaluations": [
            {"split": e.split, "language": e.language, "key": e.key, "done": e.done}
            for e in stage.evaluations
        ],
    }


def _trains(stage: Stage) -> bool:
    return isinstance(stage, IntermediateStage) or stage.will_train


def stage_key(parts: dict) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def model_fingerprint(model: str, workspace: Workspace | None = None) -> str:
    """Identity of the starting weights: built-in version, a local folder's
    content, or the hub id."""
    if model == TINY_NAME:
        return f"{TINY_NAME}:v{TINY_VERSION}"
    if model == TINY_CAUSAL_NAME:
        return f"{TINY_CAUSAL_NAME}:v{TINY_CAUSAL_VERSION}"
    folder = Path(model)
    if folder.is_dir():
        return f"dir:{folder_digest(folder, workspace)}"
    return f"hub:{model}"


def folder_digest(folder: Path, workspace: Workspace | None) -> str:
    """A hash of every file's name and content in a model folder: weights
    retrained into the same folder (same names, same sizes) change it. Each
    file's content hash is remembered in the workspace by (size, mtime,
    inode), so a multi-gigabyte checkpoint is read once, not at every plan."""
    memo_file = workspace.cache_root / "file-digests.json" if workspace else None
    memo: dict[str, str] = {}
    if memo_file is not None and memo_file.is_file():
        try:
            memo = json.loads(memo_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            memo = {}  # a damaged memo is only a cache
    digest = hashlib.sha256()
    changed = False
    for f in sorted(folder.iterdir()):
        if not f.is_file():
            continue
        stat = f.stat()
        stamp = f"{f.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}"
        content = memo.get(stamp)
        if content is None:
            content = _file_sha256(f)
            # This file's older stamps are stale: drop them.
            prefix = f"{f.resolve()}:"
            memo = {k: v for k, v in memo.items() if not k.startswith(prefix)}
            memo[stamp] = content
            changed = True
        digest.update(f"{f.name}:{content}".encode())
    if changed and memo_file is not None:
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(memo_file, memo)
    return digest.hexdigest()[:16]


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
    # retrieval scores are computed once. max_eval_examples is in each
    # evaluation's key.
    return {"layer": hp.retrieval_layer, "max_seq_length": hp.max_seq_length}


def _generation_parts(config, task, hp, seed, fp) -> dict:
    # Sampling depends on the seed; everything that changes the generated
    # text is in the key: the prompt template, and a target training's data,
    # values and seed.
    settings = config.generation
    parts = {
        "generation": settings.as_dict(),
        "max_seq_length": hp.max_seq_length,
        "seed": seed if settings.do_sample else None,
        "prompt": template_record(config.prompt_format),
    }
    train_name = config.targets_training.get(task.name)
    if train_name:
        train = config.task(train_name)
        lang = train.train_language
        parts["seed"] = seed
        parts["target_training"] = {
            "task": train.name,
            "train": fp(train.name, "train", lang),
            "validation": fp(train.name, "validation", lang),
            "hparams": _hp(hp),
        }
    return parts


_TARGET_KEY_PARTS: dict[str, Callable[..., dict]] = {
    TRAIN_THEN_EVALUATE: _trained_parts,
    EMBED_AND_SCORE: _embedding_parts,
    GENERATE_AND_SCORE: _generation_parts,
}


def make_plan(config: ExperimentConfig, workspace: Workspace | None) -> Plan:
    base = model_fingerprint(config.model, workspace)
    stages: list[Stage] = []
    fp = _Fingerprints(config)

    def checkpoint_exists(key: str) -> bool:
        return workspace is not None and workspace.checkpoint_marker(key).is_file()

    def evaluation_exists(key: str, evaluation_key: str) -> bool:
        return (
            workspace is not None
            and workspace.stage_evaluation(key, evaluation_key).is_file()
        )

    choices = ([BASELINE] if config.baseline else []) + list(config.intermediate)
    trained_code = dict(config.targets_training)
    controls = config.controls

    def target_stage(
        label, inter_key, target, seed, trains_code=True, variant="", base_key=None
    ) -> TargetStage:
        """One target stage: `label` names its row in the results; a code
        `variant` (signature_only, translate_test) scores the model of the
        stage `base_key` under other prompts or problems."""
        task = config.task(target)
        hp = config.hparams_for("target", target)
        mode = kind_info(task.kind).target_mode
        train_name = trained_code.get(target) if trains_code else None
        parts = {
            "stage": "target",
            "code": STAGE_CODE_VERSION,
            "start": inter_key or base,
            "task": target,
            "kind": task.kind,
            "labels": task.labels,
            "precision": config.precision,
            **_TARGET_KEY_PARTS[mode](config, task, hp, seed, fp),
        }
        if mode == GENERATE_AND_SCORE and train_name is None:
            parts.pop("target_training", None)
        if label == CONTROL_UNTRAINED:
            # Its own stage even where the baseline is also untrained (an
            # evaluation-only target): the plan names each row's stage.
            parts["control"] = "untrained"
        languages = config.languages[target]
        scored, oracle_of = task, None
        if variant:
            parts = {"variant": variant, "model": base_key}
        if variant == "translate_test":
            from engine.tasks.code import ENGLISH_ORACLES

            scored, oracle_of = config.task(ENGLISH_ORACLES[target]), task
            # The problems scored: those of the translated set's first
            # language (engine.kinds.code_generation narrows to them).
            parts["problems"] = fp(target, task.eval_split, task.languages[0])
            languages = ("en",)
        key = stage_key(parts)
        splits = config.eval_splits.get(target) or (task.eval_split,)
        if oracle_of is not None:
            splits = (scored.eval_split,)
        evaluations = tuple(
            _evaluation(key, scored.name, split, lang, hp, fp, evaluation_exists, mode)
            for split in splits
            for lang in languages
            # A split is scored in the languages that have it.
            if split == scored.eval_split or scored.source.has(split, lang)
        )
        model_key = base_key if variant and train_name else None
        return TargetStage(
            key=key,
            intermediate=label,
            intermediate_key=inter_key,
            target=target,
            seed=seed,
            languages=languages,
            splits=splits,
            evaluations=evaluations,
            model_reused=(mode == TRAIN_THEN_EVALUATE or train_name is not None)
            and checkpoint_exists(model_key or key),
            keep_model=config.keep_target_models,
            reused=all(e.done for e in evaluations),
            target_kind=task.kind,
            mode=mode,
            target_task=scored,
            hparams=hp,
            generation=(config.generation if mode == GENERATE_AND_SCORE else None),
            train_task=config.task(train_name) if train_name else None,
            prompt=(
                template_record(
                    config.prompt_format, signature_only=variant == "signature_only"
                )
                if mode == GENERATE_AND_SCORE
                else None
            ),
            model_key=model_key,
            variant=variant,
            oracle_of=oracle_of,
        )

    def with_variants(label, inter_key, seed, trains_code=True) -> None:
        """The choice's target stages, then its code controls' variants."""
        for target in config.targets:
            stage = target_stage(label, inter_key, target, seed, trains_code)
            stages.append(stage)
            if stage.mode != GENERATE_AND_SCORE:
                continue
            if controls.signature_only:
                stages.append(
                    target_stage(
                        f"{label}:signature-only", inter_key, target, seed,
                        trains_code, "signature_only", stage.key,
                    )
                )  # fmt: skip
            if controls.translate_test and target in _oracles():
                stages.append(
                    target_stage(
                        f"{label}:translate-test", inter_key, target, seed,
                        trains_code, "translate_test", stage.key,
                    )
                )  # fmt: skip

    def add_intermediate(stage: IntermediateStage) -> str:
        if checkpoint_exists(stage.key):
            stage = _replace(stage, reused=True)
        stages.append(stage)
        return stage.key

    code_targets = [
        t
        for t in config.targets
        if kind_info(config.task(t).kind).target_mode == GENERATE_AND_SCORE
    ]
    for seed in config.seeds:
        for choice in choices:
            inter_key = None
            if choice != BASELINE:
                inter_key = add_intermediate(
                    _intermediate_stage(config, choice, seed, base, fp)
                )
            with_variants(choice, inter_key, seed)
        # [controls] (code targets): the model with no training at all, and
        # a same-size SFT on non-code text.
        if controls.untrained:
            for target in code_targets:
                stages.append(
                    target_stage(CONTROL_UNTRAINED, None, target, seed, False)
                )
        if controls.non_code_sft:
            matched = controls.non_code_sft_matches or ""
            inter_key = add_intermediate(
                _intermediate_stage(
                    config, controls.non_code_sft, seed, base, fp, hparams_of=matched
                )
            )
            with_variants(f"control:sft-{controls.non_code_sft}", inter_key, seed)
    return Plan(
        tuple(stages),
        data={f"{t}/{sp}/{lg}": v for (t, sp, lg), v in fp.cache.items()},
    )


def _evaluation(key, target, split, language, hp, fp, exists, mode) -> Evaluation:
    """One (split, language) of a target stage, keyed by the stage's model
    (its key) and what decides this score: that language's data and how much
    of it is read."""
    parts = {
        "stage": "evaluation",
        "code": STAGE_CODE_VERSION,
        "model": key,
        "split": split,
        "language": language,
        "data": fp(target, split, language),
        "max_eval_examples": hp.max_eval_examples,
    }
    if mode == EMBED_AND_SCORE and split != "validation":
        # BUCC scores test at the threshold chosen on that language's
        # validation corpus (engine.kinds.retrieval): it decides the score too.
        parts["threshold_data"] = fp(target, "validation", language)
    evaluation_key = stage_key(parts)
    return Evaluation(split, language, evaluation_key, exists(key, evaluation_key))


def _intermediate_stage(
    config: ExperimentConfig, choice: str, seed: int, base: str, fp, hparams_of=""
) -> IntermediateStage:
    """`hparams_of`: train with another task's values (the non-code SFT
    control copies those of the intermediate task it controls)."""
    members = config.members(choice)
    tasks = tuple(config.task(m) for m in members)
    prompt_format = (
        config.prompt_format
        if any(t.kind == "code_generation" for t in tasks)
        else "native"
    )
    member_hparams = tuple(
        config.hparams_for("intermediate", hparams_of or m) for m in members
    )
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
            # Code tasks in another format than their own are other training
            # data (native keeps the key it had before formats existed).
            **(
                {"prompt": template_record(prompt_format)}
                if prompt_format != "native"
                else {}
            ),
        }
    )
    # A group trains with the stage's values; each task's own values
    # ([train.tasks.<task>]) still decide how its data is read (length, stride).
    hparams = (
        config.intermediate_hparams
        if group is not None
        else config.hparams_for("intermediate", hparams_of or choice)
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
        prompt_format=prompt_format,
    )


def _replace(obj, **changes):
    from dataclasses import replace

    return replace(obj, **changes)
