"""Whole-file writes: temp file in the same folder, fsync, rename.

A reader (or a process killed mid-write) sees the old file or the new one,
never half of one.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.file_modes import file_mode
from engine.file_modes import read_umask as _umask  # noqa: F401 - tests read it


def write_text_atomic(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Named as Workspace.partial names them (with the writer's pid), so the
    # next start removes a copy left by a writer that died (remove_leftovers).
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.partial-{os.getpid()}-", suffix=".tmp", dir=path.parent
    )
    try:
        # mkstemp makes the file private (0600); give it the mode a plain
        # open() would have, so a shared workspace stays readable by the group.
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)  # a full disk's message names the file
        raise
    _fsync_dir(path.parent)


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777  # keep the mode of the file replaced
    except FileNotFoundError:
        return file_mode()


def is_disk_full(exc: BaseException) -> bool:
    """A write failed for want of room: the device is full (ENOSPC) or the
    user's quota is spent (EDQUOT); either way nothing the user typed is wrong."""
    return isinstance(exc, OSError) and exc.errno in _DISK_FULL


_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


# How libraries that write through their own code (safetensors in Rust, torch's
# zip writer) word a full disk when they do not raise OSError.
_DISK_FULL_WORDS = ("No space left on device", "os error 28", "Disk quota exceeded")


def disk_full_error(exc: BaseException) -> OSError | None:
    """The full-disk error behind `exc` (itself, its cause or context), or None;
    a library's own error that says so reads as ENOSPC."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if is_disk_full(current):
            assert isinstance(current, OSError)
            return current
        if any(words in str(current) for words in _DISK_FULL_WORDS):
            return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        current = current.__cause__ or current.__context__
    return None


def disk_full_message(exc: OSError, where: str | Path | None = None) -> str:
    """'disk full: ...' naming the file being written (or `where`) and the room
    left on its device."""
    target = Path(exc.filename) if exc.filename else Path(where) if where else None
    if target is None:
        return f"disk full: {exc.strerror or exc}; free some space and run again"
    return (
        f"disk full: no space left on the device holding {target}"
        f"{_free_space_note(target)}; free some space and run again"
    )


def _free_space_note(path: Path) -> str:
    for folder in (path, *path.parents):
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            continue
        return f" ({free / 2**20:.1f} MiB free now)"
    return ""


_LEFTOVER = re.compile(r"\.partial-(\d+)-[^/]*$")


def remove_leftovers(
    root: Path, abandoned: Callable[[int, float], bool], depth: int = 4
) -> list[Path]:
    """Remove the half-written copies (`*.partial-<pid>-*`, named by
    Workspace.partial and write_text_atomic) under `root` that
    `abandoned(pid, seconds since last written)` says nobody will finish.
    Returns what was removed. Looks `depth` folders deep (the workspace's
    layout is shallow), never into a leftover itself."""
    removed: list[Path] = []
    folders = [(root, 0)]
    now = time.time()
    while folders:
        folder, level = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            match = _LEFTOVER.search(entry.name)
            is_dir = entry.is_dir(follow_symlinks=False)
            if match is None:
                if is_dir and level < depth:
                    folders.append((Path(entry.path), level + 1))
                continue
            path = Path(entry.path)
            if not abandoned(int(match.group(1)), now - _last_written(path)):
                continue
            if is_dir:
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _last_written(path: Path) -> float:
    """The newest mtime of a file, or of a folder and everything in it."""
    newest = 0.0
    try:
        newest = path.lstat().st_mtime
        if path.is_dir():
            for inner in path.rglob("*"):
                newest = max(newest, inner.lstat().st_mtime)
    except OSError:
        pass  # (removed meanwhile: its writer is done with it)
    return newest


def write_json_atomic(path: str | Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=1))


def _fsync_dir(folder: Path) -> None:
    # The rename itself is durable only once the directory entry is flushed.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
