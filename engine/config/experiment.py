"""The resolved experiment: what the pipeline, the runner and the TUI read.

Built from a validated file (engine.config.schema) whose names were checked
against the registry (engine.config.references): every task is a TaskSpec,
every path absolute, every default filled in. `to_toml_dict()` writes it back
as a file that loads to an equal object (a run keeps its resolved config).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.config.generation import GenerationSettings
from engine.config.hparams import StageHparams
from engine.config.schema import ControlsTable, GroupTable, ReportTable
from engine.tasks import REGISTRY, get_task
from engine.tasks.kinds import CAUSAL_LM, kind_info
from engine.tasks.spec import HubSource, LocalSource, TaskSpec


class TaskGroup(GroupTable):
    """A [groups.<name>] table with its name: one intermediate choice."""

    name: str


@dataclass(frozen=True)
class ExperimentConfig:
    """A validated experiment: what to train, in which order, and how."""

    name: str
    model: str
    intermediate: tuple[str, ...]
    targets: tuple[str, ...]
    languages: Mapping[str, tuple[str, ...]]
    seeds: tuple[int, ...]
    baseline: bool
    device: str
    precision: str
    intermediate_hparams: StageHparams
    target_hparams: StageHparams
    tasks: Mapping[str, TaskSpec] = field(default_factory=dict)
    source_file: str = ""
    groups: Mapping[str, TaskGroup] = field(default_factory=dict)
    task_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    allow_code_execution: bool = False
    allow_contamination: bool = False
    eval_splits: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per target: the evaluation splits it is scored on."""
    eval_splits_chosen: tuple[str, ...] | None = None
    """The file's eval_splits (None: each target's own split)."""
    keep_target_models: bool = True
    targets_training: Mapping[str, str] = field(default_factory=dict)
    """Per code target: the English code task its target stage trains on."""
    prompt_format: str = "native"
    controls: ControlsTable = field(default_factory=ControlsTable)
    """[controls] of code targets (engine.pipeline)."""
    """Code prompts: native or shared (engine.codegen.prompts)."""
    trust_remote_code: bool = False
    """Whether a model's own code (config.json auto_map) may run when loaded."""
    devices: tuple[str, ...] = ()
    """Several devices, one worker each (("all",): every visible GPU); empty
    for one device, `device`, run in the engine's own process."""
    retries: int = 1
    """Runs again of a stage whose worker process died (several devices)."""
    executor: str = "local"
    """local (worker processes here) or ray (tasks on a Ray cluster)."""
    ray_address: str | None = None
    """The Ray cluster to join; None: one started for the run, here."""
    gpus_per_stage: int = 1
    """Devices that train one stage together (torch DDP, engine.distributed)."""
    report: ReportTable = field(default_factory=ReportTable)
    """[report]: trackers the run's live metrics go to (engine.trackers)."""

    def task(self, name: str) -> TaskSpec:
        return get_task(name, self.tasks)

    @property
    def model_family(self) -> str:
        """The model family every task of the experiment shares
        (engine.tasks.kinds ENCODER or CAUSAL_LM; validation refuses a mix)."""
        return kind_info(self.task(self.targets[0]).kind).family

    @property
    def is_code(self) -> bool:
        """A code-generation experiment (causal LM) rather than an encoder one."""
        return self.model_family == CAUSAL_LM

    def members(self, choice: str) -> tuple[str, ...]:
        """The tasks an intermediate choice trains: a group's, or the task."""
        return self.groups[choice].tasks if choice in self.groups else (choice,)

    def hparams_for(self, stage: str, task: str) -> StageHparams:
        """A stage's hyperparameters with [train.tasks.<task>] applied."""
        base = (
            self.intermediate_hparams
            if stage == "intermediate"
            else self.target_hparams
        )
        over = self.task_overrides.get(task)
        return dataclasses.replace(base, **over) if over else base

    def to_toml_dict(self) -> dict[str, Any]:
        """The resolved config, every default filled in, loadable again as is."""
        out: dict[str, Any] = {
            "name": self.name,
            "model": self.model,
            "intermediate": list(self.intermediate),
            "targets": list(self.targets),
            "seeds": list(self.seeds),
            "baseline": self.baseline,
            "device": self.device,
            "precision": self.precision,
            "languages": {t: list(v) for t, v in self.languages.items()},
            "train": {
                "intermediate": self.intermediate_hparams.as_dict(),
                "target": self.target_hparams.as_dict(),
            },
        }
        if self.task_overrides:
            out["train"]["tasks"] = {t: dict(v) for t, v in self.task_overrides.items()}
        if self.generation != GenerationSettings():
            out["generation"] = self.generation.as_dict()
        if self.allow_code_execution:
            out["allow_code_execution"] = True
        if self.allow_contamination:
            out["allow_contamination"] = True
        if self.trust_remote_code:
            out["trust_remote_code"] = True
        if self.devices:
            out["devices"] = "all" if self.devices == ("all",) else list(self.devices)
        if self.retries != 1:
            out["retries"] = self.retries
        if self.executor != "local":
            out["executor"] = self.executor
        if self.ray_address is not None:
            out["ray_address"] = self.ray_address
        if self.gpus_per_stage != 1:
            out["gpus_per_stage"] = self.gpus_per_stage
        if self.eval_splits_chosen is not None:
            out["eval_splits"] = list(self.eval_splits_chosen)
        if not self.keep_target_models:
            out["keep_target_models"] = False
        if self.targets_training:
            out["targets_training"] = dict(self.targets_training)
        if self.prompt_format != "native":
            out["prompt_format"] = self.prompt_format
        if self.report != ReportTable():
            out["report"] = self.report.model_dump(mode="json", exclude_defaults=True)
        if self.controls != ControlsTable():
            out["controls"] = self.controls.model_dump(exclude_defaults=True)
        if self.groups:
            out["groups"] = {
                g.name: g.model_dump(mode="json", exclude={"name"})
                for g in self.groups.values()
            }
        overrides = {
            name: _data_table(task)
            for name, task in self.tasks.items()
            if name in REGISTRY
            and (
                task.source != REGISTRY[name].source
                or task.train_languages != REGISTRY[name].train_languages
            )
        }
        if overrides:
            out["data"] = overrides
        custom = {n: t for n, t in self.tasks.items() if n not in REGISTRY}
        if custom:
            out["tasks"] = {n: _custom_task_table(t) for n, t in custom.items()}
        return out


def _data_table(task: TaskSpec) -> dict[str, Any]:
    """[data.<task>] of a registered task whose source was replaced: a hub
    mirror or revision, or local files."""
    if isinstance(task.source, HubSource):
        entry: dict[str, Any] = {"path": task.source.path}
        if task.source.revision:
            entry["revision"] = task.source.revision
        if task.train_languages:  # translate-train from the hub's own splits
            entry["train_languages"] = list(task.train_languages)
        return entry
    return {"files": task.source.detail()["files"]}


def _custom_task_table(task: TaskSpec) -> dict[str, Any]:
    assert isinstance(task.source, LocalSource)
    files: dict[str, Any] = {}
    for (split, lang), path in task.source.files.items():
        files.setdefault(split, {})[lang] = path
    out: dict[str, Any] = {"kind": task.kind}
    if task.labels:
        out["labels"] = list(task.labels)
    if kind_info(task.kind).text_fields:
        out["text_fields"] = list(task.source.text_fields)
    else:
        out["row_format"] = task.source.row_format
    return {
        **out,
        "label_field": task.source.label_field,
        "languages": list(task.languages),
        "train_language": task.train_language,
        "metric": task.metric,
        "roles": list(task.roles),
        "files": files,
    }
