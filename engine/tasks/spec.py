"""What a task is: plain data, no behaviour.

A task names its kind (which head and metric it needs), its label set, its
languages and where its data comes from: a dataset on the hub, or local files
(per split and language). Loaders in engine.data read either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

TASK_KINDS = ("classification", "pair_classification")
ROLES = ("intermediate", "target")

# How many text fields each kind reads per example.
TEXTS_PER_KIND = {"classification": 1, "pair_classification": 2}


@dataclass(frozen=True)
class HubSource:
    """A dataset on the Hugging Face hub, read with `datasets.load_dataset`.

    `configs` maps a language to the dataset config that holds it (XNLI has one
    config per language); `splits` maps xlt's split names to the dataset's.
    `path` may be replaced by a local mirror in the same layout (see the config
    file's [data.<task>] table).
    """

    path: str
    configs: Mapping[str, str | None]
    splits: Mapping[str, str]
    text_fields: tuple[str, ...]
    label_field: str = "label"
    revision: str | None = None

    def describe(self) -> str:
        return f"hub:{self.path}" + (f"@{self.revision}" if self.revision else "")


@dataclass(frozen=True)
class LocalSource:
    """Local JSONL / CSV / TSV files, one per (split, language)."""

    files: Mapping[tuple[str, str], str]
    text_fields: tuple[str, ...]
    label_field: str = "label"

    def describe(self) -> str:
        return f"local files ({len(self.files)})"


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str
    labels: tuple[str, ...]
    languages: tuple[str, ...]
    source: HubSource | LocalSource
    roles: tuple[str, ...] = ROLES
    metric: str = "accuracy"
    train_language: str = "en"
    eval_split: str = "test"
    description: str = ""
    family: str = ""

    @property
    def source_text(self) -> str:
        return self.source.describe()

    def as_dict(self) -> dict:
        """The public description used by `xlt-engine tasks --json`."""
        return {
            "name": self.name,
            "kind": self.kind,
            "family": self.family,
            "roles": list(self.roles),
            "labels": list(self.labels),
            "languages": list(self.languages),
            "train_language": self.train_language,
            "metric": self.metric,
            "source": self.source_text,
            "description": self.description,
        }
