"""`load_records(task, split, language)`: the one way to read a task's data.

Records are in the canonical shape of the task's kind (engine/kinds/base.py),
whatever the source: rows come from engine.data.rows (local files, the hub, a
mirror, raw files, a package) and the task's row format
(engine.data.adapters) turns each row into a record. A source made of parts
(ANLI+) is read part by part, each part's labels mapped onto the task's.

Light module: `datasets` is imported only when hub data is read.
"""

from __future__ import annotations

from engine.data.adapters import RowFormat, get_format
from engine.data.local_files import config_key_hint
from engine.data.rows import RowError, describe, part_tasks, task_rows
from engine.errors import InputError
from engine.tasks.spec import (
    CLASSIFICATION_KINDS,
    CompositeSource,
    SourcePart,
    TaskSpec,
)


def load_records(task: TaskSpec, split: str, language: str) -> list[dict]:
    """The records of one split of one language; InputError naming the file and
    line (or dataset and row) and the column for anything that does not fit.
    A task with translated training data (TaskSpec.train_languages) reads its
    training split as every training language's records, concatenated."""
    languages = task.read_languages(split, language)
    if languages != (language,):
        return _concatenated(task, split, languages)
    return _one_language(task, split, language)


def _concatenated(task: TaskSpec, split: str, languages: tuple[str, ...]) -> list:
    """The languages' records one after another. Translations keep their
    source's ids, so ids are prefixed with the language ("de:q-17") to stay
    unique across the concatenation."""
    key = get_format(task).unique_key
    records = []
    for language in languages:
        part = _one_language(task, split, language)
        if key and len(languages) > 1:
            for record in part:
                record[key] = f"{language}:{record[key]}"
        records.extend(part)
    return records


def _one_language(
    task: TaskSpec, split: str, language: str, whole: TaskSpec | None = None
) -> list[dict]:
    """`whole`: the composite task `task` is one part of (for messages)."""
    if isinstance(task.source, CompositeSource):
        return _composite_records(task, split, language)
    fmt = get_format(task)
    if fmt.load_split is not None:
        return fmt.load_split(task, split, language)
    assert fmt.read is not None
    rows = task_rows(
        task,
        split,
        language,
        columns=fmt.required_columns(task),
        label_column=task.source.label_field if fmt.checks_label_names else None,
        whole=whole,
    )
    records = []
    for where, row in rows:
        try:
            record = fmt.read(row, task, language)
        except RowError as exc:
            raise InputError(f"{where}: {exc}{config_key_hint(task, row)}") from None
        if record is not None:
            records.append(record)
    if not records:
        what = "problems" if fmt.unique_key == "task_id" else "labelled examples"
        raise InputError(
            f"task '{task.name}' ({split}, {language}): no {what} in "
            f"{describe(task, split, language)}"
        )
    if fmt.unique_key:
        _unique(records, fmt, task, split, language)
    return records


def _composite_records(task: TaskSpec, split: str, language: str) -> list[dict]:
    """Each part's records in turn, part after part; a classification part's
    labels become the task's (by name, through the part's label_map)."""
    records: list[dict] = []
    for part, part_task in part_tasks(task, split):
        part_records = _one_language(part_task, split, language, whole=task)
        if task.kind in CLASSIFICATION_KINDS:
            index = _label_index(task, part, part_task.labels)
            for record in part_records:
                record["label"] = index[record["label"]]
        records.extend(part_records)
    fmt = get_format(task)
    if fmt.unique_key:
        _unique(records, fmt, task, split, language)
    return records


def _label_index(
    task: TaskSpec, part: SourcePart, part_labels: tuple[str, ...]
) -> list[int]:
    """Part label index -> task label index."""
    out = []
    for name in part_labels:
        mapped = part.task_label(name)
        if mapped not in task.labels:
            raise InputError(
                f"task '{task.name}': part '{part.name}' label {name!r} maps to "
                f"{mapped!r}, not one of the task's labels {list(task.labels)}"
            )
        out.append(task.labels.index(mapped))
    return out


def _unique(records: list[dict], fmt: RowFormat, task, split, language) -> None:
    """Answers and completions are matched to records by id: ids are unique.
    Formats whose rows may repeat an id (several solutions of one question)
    number the repeats instead: "q-2", "q-3", ..."""
    key = fmt.unique_key
    taken = {r[key] for r in records}
    seen: dict[str, int] = {}
    for record in records:
        value = record[key]
        if value not in seen:
            seen[value] = 1
            continue
        if not fmt.repeated_ids:
            matched = (
                "completions are matched to problems"
                if key == "task_id"
                else "predictions are matched to answers"
            )
            raise InputError(
                f"task '{task.name}' ({split}, {language}): {key} {value!r} "
                f"appears twice in {describe(task, split, language)}; "
                f"ids must be unique ({matched} by id)"
            )
        n = seen[value]
        while f"{value}-{n}" in taken or n == 1:
            n += 1
        seen[value] = n
        record[key] = f"{value}-{n}"
        taken.add(record[key])
