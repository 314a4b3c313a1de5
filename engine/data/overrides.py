"""A registered task pointed at data on disk: [data.<task>] files = {...}, or
[data.<task>] path = the folder of a manual download (CCGbank for CCG).

Light module (config validation calls it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from engine.data.adapters import ccg_columns
from engine.data.columns import field
from engine.data.local_files import read_records
from engine.data.rows import RowError, manual_data_message
from engine.errors import InputError
from engine.tasks.spec import LocalSource, ManualSource, TaskSpec

__all__ = ["manual_data_message", "resolve_manual_folder", "with_local_files"]


def resolve_manual_folder(
    task: TaskSpec, folder: str | Path
) -> dict[tuple[str, str], str]:
    """The files of a manual task's folder: (split, language) -> path.
    InputError names what is missing."""
    assert isinstance(task.source, ManualSource)
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"'{folder}' is not a folder; {manual_data_message(task)}")
    present = sorted(p.name for p in folder.iterdir())
    files: dict[tuple[str, str], str] = {}
    for (split, lang), stem in task.source.layout.items():
        found = [folder / f"{stem}{ext}" for ext in (".jsonl", ".json", ".tsv", ".csv")]
        found = [p for p in found if p.is_file()]
        if found:
            files[(split, lang)] = str(found[0])
        elif split in ("train", "validation"):
            raise InputError(
                f"{folder}: no {stem}.jsonl (or {stem}.tsv) for task '{task.name}''s "
                f"{split} split; the folder has {', '.join(present) or 'nothing'}. "
                f"{task.manual}"
            )
    return files


def with_local_files(task: TaskSpec, files: Mapping[tuple[str, str], str]) -> TaskSpec:
    """The task reading these local files in its own row format. A tagging
    task without a fixed label set (CCG) takes it from tags.txt beside the
    training file, else from the training file's tags, sorted."""
    source = task.source
    local = LocalSource(
        files=dict(files),
        text_fields=source.text_fields,
        label_field=source.label_field,
        row_format=source.row_format,
    )
    task = dataclasses.replace(task, source=local)
    if task.kind == "tagging" and not task.labels:
        train = files.get(("train", task.train_language))
        if train is None:
            raise InputError(
                f"task '{task.name}': its tag set comes from the training data; "
                "give a train file"
            )
        task = dataclasses.replace(task, labels=_tag_set(Path(train), task))
    return task


def _tag_set(train: Path, task: TaskSpec) -> tuple[str, ...]:
    """tags.txt beside the training file, else every tag of that file, sorted."""
    listed = train.parent / "tags.txt"
    if listed.is_file():
        tags = [t.strip() for t in listed.read_text(encoding="utf-8").splitlines()]
        tags = [t for t in tags if t]
        if len(set(tags)) != len(tags):
            raise InputError(f"{listed}: a tag is listed twice")
    else:
        found: set[str] = set()
        for line, row in read_records(train):
            try:
                if task.row_format == "ccg":
                    _, row_tags = ccg_columns(row)
                else:
                    row_tags = field(row, task.source.label_field)
            except RowError as exc:
                raise InputError(f"{train}:{line}: {exc}") from None
            found.update(str(t) for t in row_tags)
        tags = sorted(found)
    if len(tags) < 2:
        where = listed if listed.is_file() else train
        raise InputError(f"task '{task.name}': fewer than two tags in {where}")
    return tuple(tags)
