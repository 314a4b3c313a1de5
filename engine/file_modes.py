"""The modes the workspace's files and folders get: what a plain open() or
mkdir() gives under this process's umask (0644 / 0755 under 022; 0664 / 0775
under 002, so a group-shared workspace stays shared).

Some writers create files private (mkstemp, safetensors: 0600);
`normal_modes` gives a finished copy the normal modes before it is moved into
place. Below engine.atomic and engine.workspace, which both use it.

Light module: standard library only.
"""

from __future__ import annotations

import os
from pathlib import Path


def read_umask() -> int:
    try:  # Linux: read it without changing it (os.umask would, for all threads)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def file_mode() -> int:
    """The mode a plain open() gives a new file."""
    return 0o666 & ~read_umask()


def folder_mode() -> int:
    """The mode a plain mkdir() gives a new folder."""
    return 0o777 & ~read_umask()


def normal_modes(folder: Path) -> None:
    """Give `folder` and everything in it the normal modes (symlinks skipped)."""
    files, folders = file_mode(), folder_mode()
    os.chmod(folder, folders)
    for path in folder.rglob("*"):
        if path.is_symlink():
            continue
        os.chmod(path, folders if path.is_dir() else files)
