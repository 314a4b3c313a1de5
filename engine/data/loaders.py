"""One entry point for a task's data: `load_split(task, split, language)`.

Also the data fingerprint that goes into checkpoint and stage keys.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from engine.data.examples import Example
from engine.data.local_files import load_examples
from engine.errors import InputError
from engine.tasks.spec import CLASSIFICATION_KINDS, HubSource, LocalSource, TaskSpec


def load_split(task: TaskSpec, split: str, language: str) -> list[Example]:
    if isinstance(task.source, LocalSource):
        path = task.source.files.get((split, language))
        if path is None:
            have = ", ".join(f"{s}.{lang}" for s, lang in task.source.files)
            raise InputError(
                f"task '{task.name}' has no {split} file for language '{language}' "
                f"(it has {have})"
            )
        return _load_local(
            path,
            task.source.text_fields,
            task.source.label_field,
            task.labels,
            _mtime(path),
        )
    from engine.data.hub import load_hub_examples

    return load_hub_examples(task, split, language)


def has_split(task: TaskSpec, split: str, language: str) -> bool:
    if isinstance(task.source, LocalSource):
        return (split, language) in task.source.files
    return split in task.source.splits and language in task.source.configs


@lru_cache(maxsize=64)
def _load_local(path, text_fields, label_field, labels, _mtime_key) -> list[Example]:
    return load_examples(path, text_fields, label_field, labels)


@lru_cache(maxsize=256)
def _file_sha256(path: str, _mtime_key: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _mtime(path: str) -> int:
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return 0


def check_local_data(task: TaskSpec, splits: list[tuple[str, str]]) -> None:
    """Parse every local file a run will read, so bad data fails before it starts."""
    if not isinstance(task.source, LocalSource):
        return
    for split, language in splits:
        if task.kind in CLASSIFICATION_KINDS:
            load_split(task, split, language)
        elif task.kind == "code_generation":
            from engine.data.code_records import load_code_records

            load_code_records(task, split, language)
        elif task.kind == "retrieval":
            from engine.data.kind_records import load_retrieval_pairs

            load_retrieval_pairs(task, split, language)
        else:
            from engine.data.kind_records import load_kind_records

            load_kind_records(task, split, language)


def data_fingerprint(task: TaskSpec, split: str, language: str) -> str:
    """Content identity of one split: file hash, or hub path + config + revision."""
    source = task.source
    if isinstance(source, LocalSource):
        path = source.files.get((split, language))
        if path is None:
            return f"{task.name}:{split}:{language}:missing"
        return f"sha256:{_file_sha256(path, _mtime(path))}"
    assert isinstance(source, HubSource)
    # What is read: the config holding this split (xquad trains on SQuAD), the
    # rows kept (TyDiQA's languages share one config) and how rows are read.
    config = source.config_for(split, language)
    read = f"{config}:{source.id_prefix(split, language)}:{source.row_format}"
    if Path(source.path).is_dir():
        return f"mirror:{_folder_signature(Path(source.path))}:{read}:{split}"
    return (
        f"hub:{source.path}:{read}:{source.splits.get(split)}:"
        f"{source.revision or 'main'}:{','.join(source.text_fields)}"
    )


def _folder_signature(folder: Path) -> str:
    """Names, sizes and modification times of a mirror's files: cheap for
    gigabytes of parquet, and any edit or re-copy changes it."""
    digest = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = f.stat()
        digest.update(
            f"{f.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
        )
    return digest.hexdigest()[:16]
