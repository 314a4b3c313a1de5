"""Records of a split, in the canonical shape of the task's kind (see
engine/kinds/base.py): what featurization reads, whatever the source."""

from __future__ import annotations

from engine.data.loaders import load_split
from engine.tasks.spec import TaskSpec

CLASSIFICATION_KINDS = ("classification", "pair_classification")


def load_records(task: TaskSpec, split: str, language: str) -> list[dict]:
    if task.kind in CLASSIFICATION_KINDS:
        return [
            {"texts": list(ex.texts), "label": ex.label}
            for ex in load_split(task, split, language)
        ]
    if task.kind == "code_generation":
        from engine.data.code_records import load_code_records

        return load_code_records(task, split, language)
    from engine.data.kind_records import load_kind_records

    return load_kind_records(task, split, language)
