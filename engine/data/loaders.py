"""Which splits a task has, what identifies their content, and reading every
local file a run will need before it starts.

`data_fingerprint` goes into checkpoint, stage and cache keys: a local file's
sha256, a hub dataset's id, config, split and revision, a mirror's file
listing; for a source made of parts, each part's. Light module.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from engine.data.records import load_records
from engine.data.rows import part_tasks
from engine.tasks.spec import CompositeSource, HubSource, LocalSource, TaskSpec


def has_split(task: TaskSpec, split: str, language: str) -> bool:
    # A training split with translated data has every training language's.
    langs = task.read_languages(split, language)
    return all(task.source.has(split, lang) for lang in langs)


def check_local_data(task: TaskSpec, splits: list[tuple[str, str]]) -> None:
    """Parse every local file a run will read, so bad data fails before it starts."""
    if not isinstance(task.source, LocalSource):
        return
    for split, language in splits:
        load_records(task, split, language)


def data_fingerprint(task: TaskSpec, split: str, language: str) -> str:
    """Content identity of one split: file hash, or hub path + config + revision.
    A training split of several languages (translated training data) is
    identified by every language's part, so stage and tokenize-cache keys
    change when any one translated file does."""
    langs = task.read_languages(split, language)
    if langs != (language,):
        return "+".join(f"{lang}={_fingerprint(task, split, lang)}" for lang in langs)
    return _fingerprint(task, split, language)


def _fingerprint(task: TaskSpec, split: str, language: str) -> str:
    source = task.source
    if isinstance(source, LocalSource):
        path = source.files.get((split, language))
        if path is None:
            return f"{task.name}:{split}:{language}:missing"
        return "+".join(
            f"sha256:{_file_sha256(str(f), _mtime(str(f)))}" for f in _read_with(path)
        )
    if isinstance(source, CompositeSource):
        # Every part, in order, and how its labels are mapped.
        return "parts:" + ";".join(
            f"{part.name}={data_fingerprint(part_task, split, language)}"
            f"[{','.join(part_task.labels)}>{sorted(part.label_map.items())}]"
            for part, part_task in part_tasks(task, split)
        )
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


def _read_with(path: str) -> list[Path]:
    """The files a data file stands for: itself, and for a BUCC 2018 gold
    file (xx-en.<release>.gold) the two corpora beside it, which are read
    with it (engine.data.retrieval_pairs)."""
    gold = Path(path)
    if gold.suffix != ".gold":
        return [gold]
    corpora = sorted(gold.parent.glob(f"{gold.stem}.*"))
    return [gold, *(f for f in corpora if f.suffix != ".gold" and f.is_file())]


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
