"""The Launch screen's model, without widgets: where configs can be opened
from, what the form's fields hold, and how they become the raw TOML table the
engine validates.

Light module: no textual, no torch.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import BUILTIN_MODELS, HPARAM_NAMES, StageHparams, parse_config
from engine.config.loading import ConfigProblems
from engine.errors import InputError
from engine.workspace import Workspace

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# The hyperparameters the form shows per stage; the rest keep the file's values.
FORM_HPARAMS = (
    "learning_rate",
    "batch_size",
    "epochs",
    "max_steps",
    "max_seq_length",
    "warmup_ratio",
)
assert set(FORM_HPARAMS) <= set(HPARAM_NAMES)
STAGES = ("intermediate", "target")

# The form's field (widget id) for each top-level key it edits; [train] and
# [groups] are mapped by `field_of`, as their keys hold names.
FIELD_OF_KEY = {
    "name": "name",
    "model": "model",
    "intermediate": "intermediate",
    "targets": "targets",
    "languages": "languages",
    "seeds": "seeds",
    "device": "device",
    "precision": "precision",
    "baseline": "baseline",
    "allow_code_execution": "allow-code-execution",
}
FIELD_OF_GROUP_KEY = {"tasks": "group-tasks", "sampling": "group-sampling"}


@dataclass(frozen=True)
class ConfigChoice:
    label: str
    path: Path


def sample_config_dirs() -> list[Path]:
    """sample_configs/ of the source checkout and of the current folder."""
    dirs = [Path(__file__).resolve().parent.parent / "sample_configs"]
    dirs.append(Path.cwd() / "sample_configs")
    out: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [o.resolve() for o in out]:
            out.append(d)
    return out


def config_choices(
    workspace: Workspace, runs: list[dict[str, Any]]
) -> list[ConfigChoice]:
    """Sample configs, then the configs of earlier runs (newest first)."""
    out = [
        ConfigChoice(f"sample: {p.name}", p)
        for d in sample_config_dirs()
        for p in sorted(d.glob("*.toml"))
    ]
    for run in reversed(runs):
        path = workspace.run_config(run["id"])
        if path.is_file():
            out.append(ConfigChoice(f"run: {run['id']}", path))
    return out


def recent_models(runs: list[dict[str, Any]]) -> list[str]:
    seen = [r.get("config", {}).get("model") for r in reversed(runs)]
    models = [m for m in dict.fromkeys(seen) if m]
    return models + [m for m in BUILTIN_MODELS if m not in models]


def read_toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


@dataclass
class LaunchForm:
    """The editable fields; `base` keeps everything else from the opened file
    (custom tasks, data overrides, other hyperparameters)."""

    base: dict[str, Any] = field(default_factory=dict)
    source: Path = Path("new-experiment.toml")
    name: str = "experiment"
    model: str = "xlt-tiny"
    intermediate: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    languages: dict[str, list[str]] = field(default_factory=dict)
    seeds: str = "1"
    baseline: bool = True
    device: str = "auto"
    precision: str = "fp32"
    hparams: dict[str, dict[str, str]] = field(default_factory=dict)
    # One multi-task group (several intermediate tasks trained together) can be
    # edited in the form; more stay as the file has them.
    group_name: str = ""
    group_tasks: str = ""
    group_sampling: str = "proportional"
    allow_code_execution: bool = False

    @classmethod
    def from_file(cls, path: Path) -> LaunchForm:
        """Open a config; InputError (the engine's words) if it is not valid."""
        raw = read_toml(path)
        cfg = parse_config(raw, source=path)
        group = next(iter(cfg.groups.values()), None)
        return cls(
            base=raw,
            source=path,
            name=cfg.name,
            model=cfg.model,
            intermediate=list(cfg.intermediate),
            targets=list(cfg.targets),
            languages={t: list(v) for t, v in cfg.languages.items()},
            seeds=", ".join(map(str, cfg.seeds)),
            baseline=cfg.baseline,
            device=cfg.device,
            precision=cfg.precision,
            hparams={
                "intermediate": _hparam_text(cfg.intermediate_hparams),
                "target": _hparam_text(cfg.target_hparams),
            },
            group_name=group.name if group else "",
            group_tasks=", ".join(group.tasks) if group else "",
            group_sampling=group.sampling if group else "proportional",
            allow_code_execution=cfg.allow_code_execution,
        )

    @classmethod
    def blank(cls) -> LaunchForm:
        defaults = _hparam_text(StageHparams())
        return cls(hparams={s: dict(defaults) for s in STAGES})

    def to_raw(self) -> dict[str, Any]:
        """The TOML table the engine reads: the opened file with the form on top.

        Text fields are converted where they clearly are numbers; anything else
        is passed as typed, so the engine's validation names the key."""
        raw = {k: v for k, v in self.base.items() if k not in ("languages",)}
        raw.update(
            name=self.name,
            model=self.model,
            intermediate=list(self.intermediate),
            targets=list(self.targets),
            seeds=_number_list(self.seeds),
            baseline=self.baseline,
            device=self.device,
            precision=self.precision,
        )
        if self.allow_code_execution:
            raw["allow_code_execution"] = True
        else:
            raw.pop("allow_code_execution", None)
        self._apply_group(raw)
        langs = {t: v for t, v in self.languages.items() if t in self.targets}
        if langs:
            raw["languages"] = langs
        train = dict(raw.get("train", {}))
        for stage in STAGES:
            table = dict(train.get(stage, {}))
            for key, text in self.hparams.get(stage, {}).items():
                table[key] = _number(text)
            train[stage] = table
        raw["train"] = train
        return raw

    def _apply_group(self, raw: dict[str, Any]) -> None:
        """The form's group becomes [groups.<name>] and one intermediate choice."""
        groups = dict(raw.get("groups", {}))
        base_groups = self.base.get("groups", {})
        original = next(iter(base_groups), None)
        if original is not None:
            groups.pop(original, None)
        # The task list shows tasks only: the file's other groups stay chosen.
        others = [
            c
            for c in self.base.get("intermediate", [])
            if c in base_groups and c != original
        ]
        raw["intermediate"] = [
            *(c for c in raw["intermediate"] if c != original and c not in others),
            *others,
        ]
        tasks = [t for t in self.group_tasks.replace(",", " ").split() if t]
        if tasks:
            name = self.group_name.strip() or "group"
            entry = dict(self.base.get("groups", {}).get(original) or {})
            entry.update(tasks=tasks, sampling=self.group_sampling)
            groups[name] = entry
            raw["intermediate"] = [*raw["intermediate"], name]
        if groups:
            raw["groups"] = groups
        else:
            raw.pop("groups", None)


@dataclass(frozen=True)
class FormProblem:
    """A problem of the form's check: the config key path it is about (empty
    when the engine named none) and the message as the form shows it, with
    the key, without the file (the form has none: what the engine read was
    its table, or a temporary copy of it)."""

    loc: tuple
    message: str


def form_problems(exc: InputError, source: Path | str) -> list[FormProblem]:
    """Every problem the engine found in the form, the first first."""
    if isinstance(exc, ConfigProblems):
        return [FormProblem(p.loc, p.message) for p in exc.problems]
    return [FormProblem((), _without_file(str(exc), source))]


def _without_file(message: str, source: Path | str) -> str:
    """'exp.toml:3: x' -> 'x' when exp.toml is the form's own file; a data
    file's name and line stay (they say which file to fix)."""
    prefix = f"{source}:"
    if not message.startswith(prefix):
        return message
    rest = message[len(prefix) :]
    line, colon, after = rest.partition(":")
    if colon and line.isdigit():
        rest = after
    return rest.strip()


def field_of(loc: tuple, form: LaunchForm) -> str | None:
    """The id of the form field that holds the key at `loc`, or None for a
    key only the opened file has (a shared [train] value, a custom task)."""
    if not loc:
        return None
    head = loc[0]
    if head == "train":
        # The form writes its hyperparameters per stage: [train.<stage>].<key>.
        if len(loc) >= 3 and loc[1] in STAGES and loc[2] in FORM_HPARAMS:
            return f"hp-{loc[1]}-{loc[2]}"
        return None
    if head == "groups":
        if len(loc) < 2 or not form.group_tasks.strip():
            return None
        if loc[1] != (form.group_name.strip() or "group"):
            return None  # another group of the file: no field edits it
        if len(loc) == 2:
            return "group-tasks"  # the group itself, e.g. missing its tasks
        return FIELD_OF_GROUP_KEY.get(str(loc[2]))
    return FIELD_OF_KEY.get(str(head))


def _hparam_text(h: StageHparams) -> dict[str, str]:
    return {k: _fmt(getattr(h, k)) for k in FORM_HPARAMS}


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1:
        return str(int(value))
    return str(value)


def _number(text: str) -> Any:
    text = text.strip()
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def _number_list(text: str) -> Any:
    parts = [p for p in text.replace(",", " ").split() if p]
    return [_number(p) for p in parts]
