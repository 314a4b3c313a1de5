"""A cgroup for one program: a memory limit that kernel memory cannot escape,
and a task limit that holds for root, where the kernel lets this process make
one.

RLIMIT_AS bounds what a process maps; pipe buffers, memfd and tmpfs files and
other kernel memory are not mapped, so a program could hold gigabytes in them.
The memory cgroup charges all of it and, past the limit, its OOM killer ends
the program. RLIMIT_NPROC never applies to host uid 0; the pids cgroup does.

Where: cgroup v2 (one folder with `memory.max`, `memory.swap.max`,
`pids.max`), as a sibling of this process's own cgroup (a cgroup that holds
processes cannot also hold children with controllers: the "no internal
processes" rule), in a parent that is writable and delegates `memory` and
`pids`; or v1, as children of this process's own memory and pids cgroups
(`memory.limit_in_bytes` and `memory.memsw.limit_in_bytes`, `pids.max`), which
keeps the program inside this process's own limits too. The evaluator creates
it; the launcher (or the bubblewrap entry) moves itself in before it starts the
program, so everything the program forks is inside; the evaluator kills what
is left and removes it at the end. Where none can be made, `create` says why
and the run goes on without.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass

_NAME_PREFIX = "xlt-sandbox-"


@dataclass
class ProgramCgroup:
    version: int
    memory_dir: str | None
    """The cgroup holding the memory limit (v2: the one folder)."""
    pids_dir: str | None
    """The cgroup holding the task limit (v2: the same folder as memory_dir)."""

    def entries(self) -> list[dict]:
        """[{"procs": path of cgroup.procs, "controls": [...]}] for the process
        that moves itself in: one entry per folder."""
        by_dir: dict[str, list[str]] = {}
        if self.memory_dir:
            by_dir.setdefault(self.memory_dir, []).append("memory")
        if self.pids_dir:
            by_dir.setdefault(self.pids_dir, []).append("pids")
        return [
            {"procs": os.path.join(folder, "cgroup.procs"), "controls": controls}
            for folder, controls in by_dir.items()
        ]

    def oom_kills(self) -> int:
        """How many processes the cgroup's OOM killer ended."""
        if not self.memory_dir:
            return 0
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        counts = _read_counts(os.path.join(self.memory_dir, name))
        kills = counts.get("oom_kill", 0)
        if self.version == 1 and "oom_kill" not in counts:
            # Kernels before 4.13 have no counter: the limit was hit at least.
            kills = _read_int(os.path.join(self.memory_dir, "memory.memsw.failcnt"))
        return kills

    def remove(self) -> None:
        """Kill every process left inside, then remove the folders."""
        for folder in {d for d in (self.memory_dir, self.pids_dir) if d}:
            _empty(folder)
            deadline = time.monotonic() + 2.0
            while True:
                try:
                    os.rmdir(folder)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break  # left behind: never fatal
                    _empty(folder)
                    time.sleep(0.02)


def create(memory_bytes: int, max_tasks: int) -> tuple[ProgramCgroup | None, list[str]]:
    """A fresh cgroup for one program, and notes on what could not be had."""
    notes: list[str] = []
    if not os.path.isfile("/proc/self/cgroup"):
        return None, ["no cgroups on this system"]
    own = _own_cgroups()
    mounts = _cgroup_mounts()
    name = f"{_NAME_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    v2 = _create_v2(own, mounts, name, memory_bytes, max_tasks, notes)
    if v2 is not None:
        return v2, notes
    if not any(mounts.keys() - {""}):
        return None, notes or ["no cgroup hierarchy mounted"]
    memory_dir = _create_v1(own, mounts, "memory", name, notes)
    if memory_dir is not None:
        try:
            limit = str(memory_bytes)
            _write(os.path.join(memory_dir, "memory.limit_in_bytes"), limit)
            memsw = os.path.join(memory_dir, "memory.memsw.limit_in_bytes")
            if os.path.exists(memsw):
                _write(memsw, limit)
            else:
                notes.append("memory cgroup: swap not limited (no memsw accounting)")
        except OSError as exc:
            notes.append(f"memory cgroup: cannot set its limit: {_why(exc)}")
            _rmdir_quietly(memory_dir)
            memory_dir = None
    pids_dir = _create_v1(own, mounts, "pids", name, notes)
    if pids_dir is not None:
        try:
            _write(os.path.join(pids_dir, "pids.max"), str(max_tasks))
        except OSError as exc:
            notes.append(f"pids cgroup: cannot set its limit: {_why(exc)}")
            _rmdir_quietly(pids_dir)
            pids_dir = None
    if memory_dir is None and pids_dir is None:
        return None, notes
    return ProgramCgroup(1, memory_dir, pids_dir), notes


def _create_v2(
    own: dict, mounts: dict, name: str, memory_bytes: int, max_tasks: int, notes
) -> ProgramCgroup | None:
    if "" not in own or "" not in mounts:
        return None
    mount_point, mount_root = mounts[""]
    own_dir = _host_dir(mount_point, mount_root, own[""])
    if own_dir is None:
        notes.append("cgroup v2: this process's cgroup is not visible")
        return None
    # The root cgroup may hold processes and children alike; below it, a
    # sibling of ours.
    parent = own_dir if own[""] == "/" else os.path.dirname(own_dir)
    try:
        with open(os.path.join(parent, "cgroup.controllers"), encoding="ascii") as fh:
            available = set(fh.read().split())
    except OSError as exc:
        notes.append(f"cgroup v2: cannot read {parent}: {_why(exc)}")
        return None
    if "memory" not in available:
        if "memory" not in mounts:  # (else it is on v1: that attempt says why not)
            notes.append(f"cgroup v2: no memory controller in {parent}")
        return None
    try:
        with open(
            os.path.join(parent, "cgroup.subtree_control"), encoding="ascii"
        ) as fh:
            enabled = set(fh.read().split())
        missing = [c for c in ("memory", "pids") if c in available and c not in enabled]
        if missing:
            _write(
                os.path.join(parent, "cgroup.subtree_control"),
                " ".join(f"+{c}" for c in missing),
            )
        folder = os.path.join(parent, name)
        os.mkdir(folder)
    except OSError as exc:
        notes.append(f"cgroup v2: cannot make a cgroup in {parent}: {_why(exc)}")
        return None
    try:
        _write(os.path.join(folder, "memory.max"), str(memory_bytes))
        if os.path.exists(os.path.join(folder, "memory.swap.max")):
            _write(os.path.join(folder, "memory.swap.max"), "0")
        if os.path.exists(os.path.join(folder, "memory.oom.group")):
            _write(os.path.join(folder, "memory.oom.group"), "1")  # all or nothing
        has_pids = os.path.exists(os.path.join(folder, "pids.max"))
        if has_pids:
            _write(os.path.join(folder, "pids.max"), str(max_tasks))
        else:
            notes.append(f"cgroup v2: no pids controller in {parent}")
    except OSError as exc:
        notes.append(f"cgroup v2: cannot set the limits of {folder}: {_why(exc)}")
        _rmdir_quietly(folder)
        return None
    return ProgramCgroup(2, folder, folder if has_pids else None)


def _create_v1(own: dict, mounts: dict, controller: str, name: str, notes):
    if controller not in mounts or controller not in own:
        notes.append(f"no {controller} cgroup (controller not mounted)")
        return None
    mount_point, mount_root = mounts[controller]
    own_dir = _host_dir(mount_point, mount_root, own[controller])
    if own_dir is None:
        notes.append(f"no {controller} cgroup: this process's is not visible")
        return None
    folder = os.path.join(own_dir, name)
    try:
        os.mkdir(folder)
    except OSError as exc:
        notes.append(
            f"no {controller} cgroup: cannot make one in {own_dir}: {_why(exc)}"
        )
        return None
    return folder


def _own_cgroups() -> dict[str, str]:
    """controller -> this process's cgroup path ("" for the v2 hierarchy)."""
    own: dict[str, str] = {}
    with open("/proc/self/cgroup", encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split(":", 2)
            if len(parts) != 3:
                continue
            _, controllers, path = parts
            if parts[0] == "0" and controllers == "":
                own[""] = path
            else:
                for controller in controllers.split(","):
                    own[controller] = path
    return own


def _cgroup_mounts() -> dict[str, tuple[str, str]]:
    """controller -> (mount point, the cgroup path mounted there); "" for v2."""
    mounts: dict[str, tuple[str, str]] = {}
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if len(fields) < 5 or len(tail) < 3:
                continue
            fstype, options = tail[0], tail[2]
            point = fields[4].encode().decode("unicode_escape")
            root = fields[3].encode().decode("unicode_escape")
            if fstype == "cgroup2":
                mounts.setdefault("", (point, root))
            elif fstype == "cgroup":
                for option in options.split(","):
                    mounts.setdefault(option, (point, root))
    return mounts


def _host_dir(mount_point: str, mount_root: str, path: str) -> str | None:
    """Where cgroup `path` is under a mount of `mount_root` at `mount_point`."""
    if mount_root != "/" and not (
        path == mount_root or path.startswith(mount_root + "/")
    ):
        return None
    relative = path[len(mount_root) :] if mount_root != "/" else path
    folder = os.path.normpath(os.path.join(mount_point, relative.lstrip("/")))
    return folder if os.path.isdir(folder) else None


def _empty(folder: str) -> None:
    """SIGKILL every process in `folder` (cgroup.kill where there is one)."""
    import signal

    kill_file = os.path.join(folder, "cgroup.kill")
    if os.path.exists(kill_file):
        try:
            _write(kill_file, "1")
            return
        except OSError:
            pass
    for _ in range(50):
        pids = _read_pids(folder)
        if not pids:
            return
        for pid in pids:
            # A pidfd pins the process: checked to be inside, then signalled,
            # so a reused pid is never hit.
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                continue
            try:
                if pid in _read_pids(folder):
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                pass
            finally:
                os.close(fd)
        time.sleep(0.01)


def _read_pids(folder: str) -> set[int]:
    try:
        with open(os.path.join(folder, "cgroup.procs"), encoding="ascii") as fh:
            return {int(line) for line in fh if line.strip()}
    except (OSError, ValueError):
        return set()


def _read_counts(path: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                key, _, value = line.partition(" ")
                if value.strip().isdigit():
                    counts[key] = int(value)
    except OSError:
        pass
    return counts


def _read_int(path: str) -> int:
    try:
        with open(path, encoding="ascii") as fh:
            return int(fh.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as fh:
        fh.write(text)


def _rmdir_quietly(folder: str) -> None:
    try:
        os.rmdir(folder)
    except OSError:
        pass


def _why(exc: OSError) -> str:
    """The error in words, without the path the note already names."""
    return exc.strerror or str(exc)
