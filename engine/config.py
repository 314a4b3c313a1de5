"""Experiment config: a TOML file -> validated, typed objects.

Every error names the file, the key, what was expected and, where there is one,
the nearest valid value. Relative paths (custom task files, a local model
directory) are resolved against the folder of the config file, so a config
means the same thing whichever directory it is run from.

Light module: no torch, no transformers (the TUI validates configs too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from engine.errors import InputError, did_you_mean
from engine.tasks import REGISTRY, get_task
from engine.tasks.spec import (
    CLASSIFICATION_KINDS,
    KIND_METRICS,
    ROW_FORMATS,
    TASK_KINDS,
    TEXTS_PER_KIND,
    HubSource,
    LocalSource,
    ManualSource,
    TaskSpec,
)

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

BUILTIN_MODELS = ("xlt-tiny", "xlt-tiny-causal")  # encoder; causal LM for code
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "fp16")
DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True)
class StageHparams:
    """Hyperparameters of one training stage (intermediate or target)."""

    learning_rate: float = 2e-5
    """Peak learning rate of AdamW, reached after warm-up."""
    batch_size: int = 32
    """Examples per forward pass."""
    grad_accum: int = 1
    """Forward passes per optimizer step (effective batch = batch_size * this)."""
    epochs: float = 3.0
    """Passes over the training data; ignored when max_steps is set."""
    max_steps: int = 0
    """Optimizer steps to train for; 0 means use epochs."""
    warmup_ratio: float = 0.1
    """Fraction of the steps spent warming the learning rate up from 0."""
    weight_decay: float = 0.01
    """Decoupled weight decay, not applied to biases and LayerNorm."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm; 0 disables clipping."""
    max_seq_length: int = 128
    """Tokens per example after truncation (both sentences of a pair together)."""
    doc_stride: int = 128
    """Extractive QA: tokens of overlap between the windows of a long context."""
    retrieval_layer: int = -1
    """Retrieval targets: the hidden layer whose mean-pooled states embed a
    sentence; -1 means the middle layer (the XTREME reference's choice)."""
    eval_every: int = 0
    """Evaluate on English validation every this many steps; 0 means once an epoch."""
    log_every: int = 10
    """Emit a step event every this many optimizer steps."""
    max_train_examples: int = 0
    """Use at most this many training examples; 0 means all."""
    max_eval_examples: int = 0
    """Use at most this many validation/test examples per language; 0 means all."""

    def as_dict(self) -> dict[str, Any]:
        """Every field by name (keys, stored metadata)."""
        return asdict(self)

    def __post_init__(self) -> None:
        checks = {
            "learning_rate": self.learning_rate > 0,
            "batch_size": self.batch_size >= 1,
            "grad_accum": self.grad_accum >= 1,
            "epochs": self.epochs > 0,
            "max_steps": self.max_steps >= 0,
            "warmup_ratio": 0 <= self.warmup_ratio < 1,
            "weight_decay": self.weight_decay >= 0,
            "max_grad_norm": self.max_grad_norm >= 0,
            "max_seq_length": self.max_seq_length >= 8,
            "doc_stride": self.doc_stride >= 1,
            "retrieval_layer": self.retrieval_layer >= -1,
            "eval_every": self.eval_every >= 0,
            "log_every": self.log_every >= 1,
            "max_train_examples": self.max_train_examples >= 0,
            "max_eval_examples": self.max_eval_examples >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"{name}: {_RANGES[name]}, got {getattr(self, name)}")


_RANGES = {
    "learning_rate": "expected a number > 0",
    "batch_size": "expected an integer >= 1",
    "grad_accum": "expected an integer >= 1",
    "epochs": "expected a number > 0",
    "max_steps": "expected an integer >= 0 (0 = use epochs)",
    "warmup_ratio": "expected a number in [0, 1)",
    "weight_decay": "expected a number >= 0",
    "max_grad_norm": "expected a number >= 0 (0 = no clipping)",
    "max_seq_length": "expected an integer >= 8",
    "doc_stride": "expected an integer >= 1",
    "retrieval_layer": "expected an integer >= 0 (a hidden layer), or -1 (middle)",
    "eval_every": "expected an integer >= 0 (0 = once an epoch)",
    "log_every": "expected an integer >= 1",
    "max_train_examples": "expected an integer >= 0 (0 = all)",
    "max_eval_examples": "expected an integer >= 0 (0 = all)",
}

HPARAM_NAMES = tuple(f.name for f in fields(StageHparams))


SAMPLINGS = ("proportional", "capped", "temperature")
CODE_KIND = "code_generation"

# [generation]: how code targets are generated. Every key changes the numbers,
# so all of them are part of a code target's key and of its stored results.
GENERATION_DEFAULTS: dict[str, Any] = {
    "n_samples": 1,
    "do_sample": False,
    "temperature": 0.2,
    "top_p": 0.95,
    "max_new_tokens": 512,
    "batch_size": 8,
    "seed": 0,
    "strip_prompt": True,
    "stop_sequences": ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"],
}
_GENERATION_RULES = {
    "n_samples": (lambda v: _is_int(v) and v >= 1, "expected an integer >= 1"),
    "do_sample": (lambda v: isinstance(v, bool), "expected true or false"),
    "temperature": (lambda v: _is_number(v) and v > 0, "expected a number > 0"),
    "top_p": (lambda v: _is_number(v) and 0 < v <= 1, "expected a number in (0, 1]"),
    "max_new_tokens": (lambda v: _is_int(v) and v >= 1, "expected an integer >= 1"),
    "batch_size": (lambda v: _is_int(v) and v >= 1, "expected an integer >= 1"),
    "seed": (lambda v: _is_int(v), "expected an integer"),
    "strip_prompt": (lambda v: isinstance(v, bool), "expected true or false"),
    "stop_sequences": (
        lambda v: isinstance(v, list) and all(isinstance(x, str) and x for x in v),
        "expected a list of non-empty strings",
    ),
}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class TaskGroup:
    """Several intermediate tasks trained together on one encoder, one head each;
    every optimizer step draws one task: proportional to its training examples,
    to min(examples, cap), or to examples^(1/temperature)."""

    name: str
    tasks: tuple[str, ...]
    sampling: str = "proportional"
    cap: int = 0
    temperature: float = 1.0


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
    generation: Mapping[str, Any] = field(
        default_factory=lambda: dict(GENERATION_DEFAULTS)
    )
    allow_code_execution: bool = False
    allow_contamination: bool = False

    def task(self, name: str) -> TaskSpec:
        return get_task(name, self.tasks)

    @property
    def is_code(self) -> bool:
        """A code-generation experiment (causal LM) rather than an encoder one."""
        return any(self.task(t).kind == CODE_KIND for t in self.targets)

    def members(self, choice: str) -> tuple[str, ...]:
        """The tasks an intermediate choice trains: a group's, or the task."""
        return self.groups[choice].tasks if choice in self.groups else (choice,)

    def hparams_for(self, stage: str, task: str) -> StageHparams:
        """A stage's hyperparameters with [train.tasks.<task>] applied."""
        base = (
            self.intermediate_hparams
            if stage == "intermediate"
            else (self.target_hparams)
        )
        over = self.task_overrides.get(task)
        return _replace(base, **over) if over else base

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
                "intermediate": asdict(self.intermediate_hparams),
                "target": asdict(self.target_hparams),
            },
        }
        if self.task_overrides:
            out["train"]["tasks"] = {t: dict(v) for t, v in self.task_overrides.items()}
        if self.generation != GENERATION_DEFAULTS:
            out["generation"] = dict(self.generation)
        if self.allow_code_execution:
            out["allow_code_execution"] = True
        if self.allow_contamination:
            out["allow_contamination"] = True
        if self.groups:
            out["groups"] = {
                g.name: {
                    "tasks": list(g.tasks),
                    "sampling": g.sampling,
                    "cap": g.cap,
                    "temperature": g.temperature,
                }
                for g in self.groups.values()
            }
        overrides = _hub_overrides(self)
        if overrides:
            out["data"] = overrides
        custom = {n: t for n, t in self.tasks.items() if n not in REGISTRY}
        if custom:
            out["tasks"] = {n: _custom_task_to_toml(t) for n, t in custom.items()}
        return out


def _hub_overrides(cfg: ExperimentConfig) -> dict[str, dict[str, Any]]:
    """[data.<task>] tables: registered tasks whose source was replaced (a hub
    mirror or revision, or local files)."""
    out: dict[str, dict[str, Any]] = {}
    names = [m for choice in cfg.intermediate for m in cfg.members(choice)]
    for name in dict.fromkeys([*names, *cfg.targets]):
        task = cfg.task(name)
        if name not in REGISTRY or task.source == REGISTRY[name].source:
            continue  # custom tasks are written under [tasks]
        if isinstance(task.source, HubSource):
            entry: dict[str, Any] = {"path": task.source.path}
            if task.source.revision:
                entry["revision"] = task.source.revision
        else:
            entry = {"files": task.source.detail()["files"]}
        out[name] = entry
    return out


def _custom_task_to_toml(task: TaskSpec) -> dict[str, Any]:
    assert isinstance(task.source, LocalSource)
    files: dict[str, Any] = {}
    for (split, lang), path in task.source.files.items():
        files.setdefault(split, {})[lang] = path
    out: dict[str, Any] = {"kind": task.kind}
    if task.labels:
        out["labels"] = list(task.labels)
    if task.kind in CLASSIFICATION_KINDS:
        out["text_fields"] = list(task.source.text_fields)
    else:
        out["row_format"] = task.source.row_format
    return {
        **out,
        "label_field": task.source.label_field,
        "languages": list(task.languages),
        "train_language": task.train_language,
        "metric": task.metric,
        "files": files,
    }


# --------------------------------------------------------------------------
# Loading


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment file; InputError on any problem."""
    path = Path(path)
    if not path.is_file():
        hint = ""
        if path.parent.is_dir():
            near = did_you_mean(path.name, [p.name for p in path.parent.glob("*.toml")])
            hint = near
        raise InputError(f"config file '{path}' does not exist{hint}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None
    return parse_config(raw, source=path)


def parse_config(raw: Mapping[str, Any], source: str | Path) -> ExperimentConfig:
    v = _Validator(Path(source))
    return v.experiment(raw)


_TOP_KEYS = (
    "name",
    "model",
    "intermediate",
    "targets",
    "languages",
    "seeds",
    "baseline",
    "device",
    "precision",
    "train",
    "data",
    "tasks",
    "groups",
    "generation",
    "allow_code_execution",
    "allow_contamination",
)
_TASK_KEYS = (
    "kind",
    "labels",
    "text_fields",
    "label_field",
    "languages",
    "train_language",
    "metric",
    "roles",
    "files",
    "row_format",
)


class _Validator:
    def __init__(self, file: Path):
        self.file = file
        self.base = file.parent.resolve()

    # -- helpers ----------------------------------------------------------
    def fail(self, where: str, message: str) -> InputError:
        return InputError(f"{self.file}: {where}: {message}")

    def known_keys(self, table: Mapping, allowed, where: str) -> None:
        for key in table:
            if key not in allowed:
                hint = did_you_mean(key, allowed)
                place = f"in [{where}]" if where else "at the top level"
                raise InputError(
                    f"{self.file}: unknown key '{key}' {place}{hint} "
                    f"(allowed: {', '.join(allowed)})"
                )

    def string(self, value, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected a non-empty string, got {value!r}")
        return value

    def string_list(self, value, where: str, allow_empty=False) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise self.fail(where, f"expected a list of strings, got {value!r}")
        if not value and not allow_empty:
            raise self.fail(where, "expected at least one entry, got an empty list")
        dupes = sorted({x for x in value if value.count(x) > 1})
        if dupes:
            raise self.fail(where, f"'{dupes[0]}' is listed twice")
        return tuple(value)

    def choice(self, value, choices, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(
                where, f"expected one of {', '.join(choices)}, got {value!r}"
            )
        if value not in choices:
            raise self.fail(
                where,
                f"'{value}' is not one of {', '.join(choices)}"
                f"{did_you_mean(value, choices)}",
            )
        return value

    def path(self, value, where: str, must_exist=True) -> str:
        text = self.string(value, where)
        p = Path(text).expanduser()
        if not p.is_absolute():
            p = self.base / p
        if must_exist and not p.exists():
            near = ""
            if p.parent.is_dir():
                near = did_you_mean(p.name, [c.name for c in p.parent.iterdir()])
            raise self.fail(
                where,
                f"file '{p}' does not exist{near} "
                "(relative paths are read from the config file's folder)",
            )
        return str(p)

    # -- sections ---------------------------------------------------------
    def experiment(self, raw: Mapping[str, Any]) -> ExperimentConfig:
        self.known_keys(raw, _TOP_KEYS, "")
        for key in ("model", "targets"):
            if key not in raw:
                raise InputError(f"{self.file}: missing required key '{key}'")
        name = self.string(raw.get("name", self.file.stem), "name")
        custom = self.custom_tasks(raw.get("tasks", {}))
        overrides = self.data_overrides(raw.get("data", {}), custom)
        tasks = {**overrides, **custom}

        def lookup(task_name: str, where: str) -> TaskSpec:
            try:
                return get_task(task_name, tasks)
            except InputError as exc:
                raise self.fail(where, str(exc)) from None

        groups = self.groups(raw.get("groups", {}), tasks, lookup)
        intermediate = self.string_list(
            raw.get("intermediate", []), "intermediate", allow_empty=True
        )
        for task_name in intermediate:
            if task_name in groups:
                continue
            task = lookup(task_name, "intermediate")
            self.check_intermediate(task, "intermediate")
        targets = self.string_list(raw["targets"], "targets")
        for task_name in targets:
            task = lookup(task_name, "targets")
            if "target" not in task.roles:
                targets_known = [
                    n for n, t in {**REGISTRY, **tasks}.items() if "target" in t.roles
                ]
                raise self.fail(
                    "targets",
                    f"task '{task_name}' is an intermediate-only task (no test data "
                    f"in other languages); targets are: {', '.join(targets_known)}",
                )
        languages = self.languages(raw.get("languages", {}), targets, tasks)
        seeds = self.seeds(raw.get("seeds", [42]))
        baseline = raw.get("baseline", True)
        if not isinstance(baseline, bool):
            raise self.fail("baseline", f"expected true or false, got {baseline!r}")
        if not intermediate and not baseline:
            raise self.fail(
                "baseline", "nothing to run: no intermediate tasks and baseline = false"
            )
        device = self.device(raw.get("device", "auto"))
        precision = self.choice(raw.get("precision", "fp32"), PRECISIONS, "precision")
        inter_hp, target_hp, task_overrides = self.train(raw.get("train", {}))
        for task_name in task_overrides:
            lookup(task_name, f"train.tasks.{task_name}")
        model = self.model(raw["model"])
        self.one_model_family(intermediate, groups, targets, lookup)
        generation = self.generation(raw.get("generation", {}))
        flags = {}
        for key in ("allow_code_execution", "allow_contamination"):
            value = raw.get(key, False)
            if not isinstance(value, bool):
                raise self.fail(key, f"expected true or false, got {value!r}")
            flags[key] = value
        return ExperimentConfig(
            name=name,
            model=model,
            intermediate=intermediate,
            targets=targets,
            languages=languages,
            seeds=seeds,
            baseline=baseline,
            device=device,
            precision=precision,
            intermediate_hparams=inter_hp,
            target_hparams=target_hp,
            tasks=tasks,
            source_file=str(self.file),
            groups=groups,
            task_overrides=task_overrides,
            generation=generation,
            **flags,
        )

    def one_model_family(self, intermediate, groups, targets, lookup) -> None:
        """Code tasks train and run a causal LM; the others an encoder with
        heads: one experiment is one or the other."""
        names = [
            m for c in intermediate for m in (groups[c].tasks if c in groups else (c,))
        ]
        where = {n: "intermediate" for n in names} | {t: "targets" for t in targets}
        code = {n for n in where if lookup(n, where[n]).kind == CODE_KIND}
        if code and len(code) != len(where):
            other = next(n for n in where if n not in code)
            raise self.fail(
                where[other],
                f"task '{other}' needs an encoder with task heads, but "
                f"'{sorted(code)[0]}' is a code-generation task (a causal LM); "
                "put code tasks and the others in separate experiments",
            )

    def generation(self, table) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise self.fail("generation", "expected a table")
        self.known_keys(table, GENERATION_DEFAULTS, "generation")
        out = dict(GENERATION_DEFAULTS)
        for key, value in table.items():
            ok, expected = _GENERATION_RULES[key]
            if not ok(value):
                raise self.fail(f"generation.{key}", f"{expected}, got {value!r}")
            out[key] = float(value) if key in ("temperature", "top_p") else value
        if out["n_samples"] > 1 and not out["do_sample"]:
            raise self.fail(
                "generation.n_samples",
                f"{out['n_samples']} samples with greedy decoding would all be "
                "the same; set do_sample = true (with temperature / top_p) or "
                "n_samples = 1",
            )
        return out

    def check_intermediate(self, task: TaskSpec, where: str) -> None:
        # A task whose data must be fetched by hand (CCG) is refused when a run
        # starts, not here: --dry-run still shows the plan and what it costs.
        if "intermediate" not in task.roles:
            raise self.fail(
                where,
                f"task '{task.name}' has no English training data to use as an "
                "intermediate task",
            )

    def groups(self, table, tasks, lookup) -> dict[str, TaskGroup]:
        """[groups.<name>]: intermediate tasks trained together (multi-task)."""
        if not isinstance(table, dict):
            raise self.fail("groups", "expected a table of [groups.<name>] tables")
        out = {}
        for name, entry in table.items():
            where = f"groups.{name}"
            if not isinstance(entry, dict):
                raise self.fail(where, "expected a table with tasks = [...]")
            self.known_keys(entry, ("tasks", "sampling", "cap", "temperature"), where)
            if name in REGISTRY or name in tasks:
                raise self.fail(where, f"'{name}' is a task name; name the group apart")
            members = self.string_list(entry.get("tasks", []), f"{where}.tasks")
            if len(members) < 2:
                raise self.fail(f"{where}.tasks", "a group needs at least two tasks")
            for member in members:
                self.check_intermediate(
                    lookup(member, f"{where}.tasks"), f"{where}.tasks"
                )
            sampling = self.choice(
                entry.get("sampling", "proportional"), SAMPLINGS, f"{where}.sampling"
            )
            cap = entry.get("cap", 0)
            if not isinstance(cap, int) or isinstance(cap, bool) or cap < 0:
                raise self.fail(
                    f"{where}.cap", f"expected an integer >= 0, got {cap!r}"
                )
            if sampling == "capped" and cap == 0:
                raise self.fail(
                    f"{where}.cap", 'sampling = "capped" needs cap = <examples>'
                )
            temperature = entry.get("temperature", 1.0)
            if (
                not isinstance(temperature, (int, float))
                or isinstance(temperature, bool)
                or temperature <= 0
            ):
                raise self.fail(
                    f"{where}.temperature",
                    f"expected a number > 0, got {temperature!r}",
                )
            out[name] = TaskGroup(name, members, sampling, cap, float(temperature))
        return out

    def model(self, value) -> str:
        text = self.string(value, "model")
        if text in BUILTIN_MODELS:
            return text
        looks_like_path = text.startswith(("/", ".", "~")) or text.count("/") > 1
        p = Path(text).expanduser()
        if not p.is_absolute():
            p = self.base / p
        if p.exists():
            if not (p / "config.json").is_file():
                raise self.fail(
                    "model",
                    f"'{p}' is not a model directory (no config.json); expected a "
                    "folder written by save_pretrained, a hub id such as "
                    "'FacebookAI/xlm-roberta-base', or 'xlt-tiny'",
                )
            return str(p)
        if looks_like_path or not _HUB_ID.match(text):
            raise self.fail(
                "model",
                f"model directory '{p}' does not exist; expected a local folder, a "
                "hub id such as 'FacebookAI/xlm-roberta-base', or the built-in "
                f"'xlt-tiny'{did_you_mean(text, BUILTIN_MODELS)}",
            )
        return text  # a hub id, fetched (or found in the hub cache) at run time

    def seeds(self, value) -> tuple[int, ...]:
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in value)
        ):
            raise self.fail("seeds", f"expected a list of integers, got {value!r}")
        if len(set(value)) != len(value):
            raise self.fail("seeds", f"a seed is listed twice in {value}")
        return tuple(value)

    def device(self, value) -> str:
        if isinstance(value, str) and re.fullmatch(r"cuda:\d+", value):
            return value
        return self.choice(value, (*DEVICES, "cuda:0"), "device")

    def languages(self, table, targets, tasks) -> dict[str, tuple[str, ...]]:
        if not isinstance(table, dict):
            raise self.fail("languages", "expected a table: target = [languages]")
        out = {}
        for target, langs in table.items():
            if target not in targets:
                raise self.fail(
                    f"languages.{target}",
                    f"'{target}' is not one of the targets"
                    f"{did_you_mean(target, targets)} (targets: {', '.join(targets)})",
                )
            task = get_task(target, tasks)
            chosen = self.string_list(langs, f"languages.{target}")
            for lang in chosen:
                if lang not in task.languages:
                    raise self.fail(
                        f"languages.{target}",
                        f"unknown language '{lang}' for task '{target}'"
                        f"{did_you_mean(lang, task.languages)} "
                        f"(available: {', '.join(task.languages)})",
                    )
            out[target] = chosen
        for target in targets:
            out.setdefault(target, get_task(target, tasks).languages)
        return out

    def train(self, table):
        """[train] shared values, [train.intermediate] / [train.target] per stage,
        [train.tasks.<task>] per task (e.g. a longer max_seq_length for QA)."""
        if not isinstance(table, dict):
            raise self.fail("train", "expected a table")
        stages = ("intermediate", "target")
        self.known_keys(table, (*HPARAM_NAMES, *stages, "tasks"), "train")
        shared = {k: v for k, v in table.items() if k not in (*stages, "tasks")}
        out = []
        for stage in stages:
            section = table.get(stage, {})
            if not isinstance(section, dict):
                raise self.fail(f"train.{stage}", "expected a table")
            self.known_keys(section, HPARAM_NAMES, f"train.{stage}")
            out.append(self.hparams({**shared, **section}, f"train.{stage}"))
        per_task = table.get("tasks", {})
        if not isinstance(per_task, dict):
            raise self.fail("train.tasks", "expected [train.tasks.<task>] tables")
        overrides: dict[str, dict[str, Any]] = {}
        for task_name, section in per_task.items():
            where = f"train.tasks.{task_name}"
            if not isinstance(section, dict):
                raise self.fail(where, "expected a table of hyperparameters")
            self.known_keys(section, HPARAM_NAMES, where)
            for hp in out:
                self.hparams({**asdict(hp), **section}, where)  # valid on both
            overrides[task_name] = {k: _as_field_type(k, v) for k, v in section.items()}
        return out[0], out[1], overrides

    def hparams(self, values: Mapping[str, Any], where: str) -> StageHparams:
        kwargs = {}
        for f in fields(StageHparams):
            if f.name not in values:
                continue
            value = values[f.name]
            ok = (
                isinstance(value, int) and not isinstance(value, bool)
                if f.type == "int"
                else isinstance(value, (int, float)) and not isinstance(value, bool)
            )
            if not ok:
                raise self.fail(
                    f"{where}.{f.name}", f"{_RANGES[f.name]}, got {value!r}"
                )
            kwargs[f.name] = float(value) if f.type == "float" else value
        try:
            return StageHparams(**kwargs)
        except ValueError as exc:
            key, _, msg = str(exc).partition(": ")
            raise self.fail(f"{where}.{key}", msg) from None

    def data_overrides(self, table, custom) -> dict[str, TaskSpec]:
        """[data.<task>]: read a registered task from a hub mirror or revision,
        from local files in its row format (files), or, for data fetched by
        hand, from the folder it was put in (path)."""
        if not isinstance(table, dict):
            raise self.fail("data", "expected a table of [data.<task>] tables")
        out = {}
        for name, entry in table.items():
            where = f"data.{name}"
            if name not in REGISTRY:
                raise self.fail(
                    where, f"unknown task '{name}'{did_you_mean(name, REGISTRY)}"
                )
            task = REGISTRY[name]
            if not isinstance(entry, dict):
                raise self.fail(
                    where, "expected a table with 'path', 'revision' or 'files'"
                )
            self.known_keys(entry, ("path", "revision", "files"), where)
            if "files" in entry or isinstance(task.source, ManualSource):
                out[name] = self.local_data(task, entry, where)
                continue
            if not isinstance(task.source, HubSource):
                raise self.fail(
                    where, f"task '{name}' ships its own data; there is nothing to set"
                )
            source = task.source
            if "path" in entry:
                text = self.string(entry["path"], f"{where}.path")
                local = Path(text).expanduser()
                if not local.is_absolute():
                    local = self.base / local
                if local.exists():
                    text = str(local)
                elif text.startswith(("/", ".", "~")):
                    self.path(text, f"{where}.path")  # raises with a hint
                source = _replace(source, path=text)
            if "revision" in entry:
                if Path(source.path).is_dir():
                    raise self.fail(
                        f"{where}.revision",
                        "a revision applies to hub datasets; the local folder "
                        f"'{source.path}' has none (drop 'revision')",
                    )
                source = _replace(
                    source, revision=self.string(entry["revision"], where)
                )
            out[name] = _replace(task, source=source)
        return out

    def local_data(self, task: TaskSpec, entry, where: str) -> TaskSpec:
        """[data.<task>] files = {...}, or path = the folder of a manual task."""
        from engine.data.kind_records import (
            manual_data_message,
            resolve_manual_folder,
            with_local_files,
        )

        if "revision" in entry or ("path" in entry and "files" in entry):
            raise self.fail(
                where,
                "give 'files' (local files) or 'path' (a folder), not both, and "
                "no 'revision' with local data",
            )
        try:
            if "files" in entry:
                suffixes = (
                    (*DATA_SUFFIXES, ".gold") if task.kind == "retrieval" else None
                )
                files = self.task_files(
                    entry["files"], f"{where}.files", task.train_language, suffixes
                )
            elif "path" in entry:
                folder = self.path(entry["path"], f"{where}.path")
                files = resolve_manual_folder(task, folder)
            else:
                raise InputError(manual_data_message(task))
            return with_local_files(task, files)
        except InputError as exc:
            message = str(exc)
            if message.startswith(f"{self.file}:"):
                raise
            raise self.fail(where, message) from None

    def custom_tasks(self, table) -> dict[str, TaskSpec]:
        if not isinstance(table, dict):
            raise self.fail("tasks", "expected a table of [tasks.<name>] tables")
        return {name: self.custom_task(name, entry) for name, entry in table.items()}

    def custom_task(self, name: str, entry) -> TaskSpec:
        where = f"tasks.{name}"
        if not isinstance(entry, dict):
            raise self.fail(where, "expected a table")
        if name in REGISTRY:
            raise self.fail(
                where,
                f"'{name}' is a built-in task; give the custom task another name, "
                f"or use [data.{name}] to read the built-in one from local files",
            )
        self.known_keys(entry, _TASK_KEYS, where)
        if "kind" not in entry:
            raise self.fail(where, "missing required key 'kind'")
        kind = self.choice(entry["kind"], TASK_KINDS, f"{where}.kind")
        # Classes and tags are named; choices may be; spans and sentences not.
        needs_labels = kind in (*CLASSIFICATION_KINDS, "tagging")
        for key in ("labels", "files") if needs_labels else ("files",):
            if key not in entry:
                raise self.fail(where, f"missing required key '{key}'")
        labels = ()
        if "labels" in entry:
            labels = self.string_list(entry["labels"], f"{where}.labels")
            if len(labels) < 2:
                raise self.fail(f"{where}.labels", "expected at least two labels")
        row_format = ""
        if kind in CLASSIFICATION_KINDS:
            n_texts = TEXTS_PER_KIND[kind]
            default_fields = ("text",) if n_texts == 1 else ("text_a", "text_b")
            text_fields = self.string_list(
                entry.get("text_fields", list(default_fields)), f"{where}.text_fields"
            )
            if len(text_fields) != n_texts:
                raise self.fail(
                    f"{where}.text_fields",
                    f"a {kind} task reads {n_texts} text field(s), "
                    f"got {len(text_fields)}",
                )
        else:
            if "text_fields" in entry:
                raise self.fail(
                    f"{where}.text_fields",
                    f"a {kind} task reads rows in its row_format, not text fields "
                    f"(row formats: {', '.join(ROW_FORMATS[kind])})",
                )
            text_fields = ()
            row_format = self.choice(
                entry.get("row_format", ROW_FORMATS[kind][0]),
                ROW_FORMATS[kind],
                f"{where}.row_format",
            )
        label_field = self.string(
            entry.get("label_field", "tags" if kind == "tagging" else "label"),
            f"{where}.label_field",
        )
        train_language = self.string(
            entry.get("train_language", "en"), f"{where}.train_language"
        )
        metric = self.choice(
            entry.get("metric", KIND_METRICS[kind][0]),
            KIND_METRICS[kind],
            f"{where}.metric",
        )
        files = self.task_files(
            entry["files"],
            f"{where}.files",
            train_language,
            (*DATA_SUFFIXES, ".gold") if kind == "retrieval" else None,
        )
        test_langs = tuple(lang for (split, lang) in files if split == "test")
        languages = self.string_list(
            entry.get("languages", list(test_langs) or [train_language]),
            f"{where}.languages",
        )
        for lang in languages:
            if test_langs and ("test", lang) not in files:
                raise self.fail(
                    f"{where}.languages",
                    f"language '{lang}' has no test file in [{where}.files.test]"
                    f"{did_you_mean(lang, test_langs)}",
                )
        roles = []
        if ("train", train_language) in files:
            roles.append("intermediate")
        if (test_langs and ("train", train_language) in files) or kind == "retrieval":
            roles.append("target")
        if "roles" in entry:
            roles = list(self.string_list(entry["roles"], f"{where}.roles"))
        if ("train", train_language) not in files and kind != "retrieval":
            raise self.fail(
                f"{where}.files",
                f"missing 'train' (the {train_language} training file)",
            )
        return TaskSpec(
            name=name,
            kind=kind,
            family="custom",
            labels=labels,
            languages=languages,
            roles=tuple(roles),
            metric=metric,
            train_language=train_language,
            eval_split="test" if test_langs else "validation",
            description=f"Custom task from {self.file.name}",
            allows_no_answer=metric == "squad_v2",
            source=LocalSource(
                files=files,
                text_fields=text_fields,
                label_field=label_field,
                row_format=row_format,
            ),
        )

    def task_files(self, table, where: str, train_language: str, suffixes=None):
        suffixes = suffixes or DATA_SUFFIXES
        if not isinstance(table, dict):
            raise self.fail(where, "expected a table: train, validation, test")
        self.known_keys(table, ("train", "validation", "test"), where)
        files: dict[tuple[str, str], str] = {}
        for split, value in table.items():
            # A bare path means the training language; a table maps language -> path.
            per_lang = value if isinstance(value, dict) else {train_language: value}
            for lang, path in per_lang.items():
                key = (
                    f"{where}.{split}.{lang}"
                    if isinstance(value, dict)
                    else (f"{where}.{split}")
                )
                resolved = self.path(path, key)
                if Path(resolved).suffix.lower() not in suffixes:
                    raise self.fail(
                        key,
                        f"'{Path(resolved).name}' is not a data file; expected one "
                        f"of {', '.join(suffixes)}",
                    )
                files[(split, lang)] = resolved
        return files


def _as_field_type(name: str, value: Any) -> Any:
    types = {f.name: f.type for f in fields(StageHparams)}
    return float(value) if types.get(name) == "float" else value


def _replace(obj, **changes):
    from dataclasses import replace

    return replace(obj, **changes)
