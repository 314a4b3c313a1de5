"""What the program's interpreter needs from the host: its folders, whether
uid 65534 can read them, and the environment it starts with."""

from __future__ import annotations

import functools
import os
import sys


def scrubbed_env(workdir: str) -> dict[str, str]:
    """The program's whole environment: no proxies, no tokens, HOME and TMPDIR
    in its working directory."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def interpreter_paths() -> list[str]:
    """The interpreter (as called and as resolved) and its library folders."""
    import sysconfig

    paths = [os.path.realpath(sys.executable), sys.executable]
    scheme = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if scheme.get(key) and os.path.isdir(scheme[key]):
            paths.append(scheme[key])
    return paths


def world_readable(path: str) -> bool:
    """Could uid 65534 reach and read `path` (o+x on every parent, o+r on it)?"""
    path = os.path.realpath(path)
    parts = path.split(os.sep)
    current = os.sep
    try:
        for part in parts[1:]:
            if not os.stat(current).st_mode & 0o001:
                return False
            current = os.path.join(current, part)
        return bool(os.stat(current).st_mode & 0o004)
    except OSError:
        return False


@functools.lru_cache(maxsize=1)
def readable_by_nobody() -> bool:
    """Can uid 65534 read the interpreter and its libraries where they are?"""
    return all(world_readable(p) for p in interpreter_paths())


def interpreter_folders() -> list[str]:
    """The host folders an empty root needs for this interpreter to run the
    program with the same packages: the prefixes (a venv's and its base's),
    the folder of the resolved executable, the standard library and
    site-packages, each folder once (none inside another)."""
    import sysconfig

    candidates = {
        sys.prefix,
        sys.exec_prefix,
        sys.base_prefix,
        sys.base_exec_prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
        os.path.dirname(os.path.abspath(sys.executable)),
    }
    scheme = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if scheme.get(key):
            candidates.add(scheme[key])
    folders = sorted(
        {os.path.realpath(p) for p in candidates if p and os.path.isdir(p)}
        | {os.path.abspath(p) for p in candidates if p and os.path.isdir(p)}
    )
    kept: list[str] = []
    for folder in folders:  # sorted: a parent comes before its children
        if not any(folder == k or folder.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(folder)
    return kept
