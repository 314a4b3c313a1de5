"""The namespaces launcher: today's sandbox where bubblewrap is not used.

Executed as a script by a fresh `python -I -B -S launcher.py` (standard library
only; it never imports the engine, which it could not find). It reads its
settings as JSON on stdin, joins the program's cgroups, sets up the isolation
(each step the kernel refuses is recorded and skipped), then forks a child that
sets the rlimits, drops privileges and execs a fresh `python -I -B -c
<bootstrap>` for the program. It reports to the evaluator over a socket (one
JSON object a line; the program's pidfd comes along with its pid): what held,
and at the end the program's exit status or signal and its CPU time.

Linux calls go through ctypes. What each layer does, and why, is in the
package docstring.
"""

from __future__ import annotations

import json
import os
import sys

PROGRAM_FILE = "program.py"
UNPRIVILEGED_UID = 65534  # "nobody": what a root evaluator runs programs as
EXEC_FAILED = "xlt sandbox: cannot start "
"""How a launcher's child says on stderr that the interpreter did not start."""

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
AT_EMPTY_PATH = 0x1000
SYS_MOUNT_SETATTR = 442  # the same number on every architecture since 5.12
SYS_PIVOT_ROOT = {
    "x86_64": 155,
    "aarch64": 41,
    "riscv64": 41,
    "ppc64le": 203,
    "s390x": 217,
}
"""pivot_root(2) has no libc wrapper; its number differs per architecture."""
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
CAP_DAC_READ_SEARCH = 2
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


class _Libc:
    def __init__(self) -> None:
        import ctypes

        self.ctypes = ctypes
        self.lib = ctypes.CDLL(None, use_errno=True)
        self.lib.mount.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
        ]
        self.lib.syscall.restype = ctypes.c_long

    def _check(self, result: int, what: str) -> None:
        if result != 0:
            errno = self.ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    def unshare(self, flags: int) -> None:
        self._check(self.lib.unshare(self.ctypes.c_int(flags)), "unshare")

    def mount(self, source, target, fstype, flags: int, data=None) -> None:
        def enc(x):
            return None if x is None else os.fsencode(x)

        self._check(
            self.lib.mount(enc(source), enc(target), enc(fstype), flags, enc(data)),
            f"mount {target}",
        )

    def mount_setattr(
        self,
        path: str,
        attr_set: int,
        attr_clr: int = 0,
        recursive: bool = False,
        dir_fd: int = AT_FDCWD,
    ) -> None:
        import ctypes  # loaded by __init__ already

        class MountAttr(ctypes.Structure):
            _fields_ = [
                ("attr_set", ctypes.c_uint64),
                ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64),
            ]

        attr = MountAttr(attr_set, attr_clr, 0, 0)
        flags = (AT_RECURSIVE if recursive else 0) | (AT_EMPTY_PATH if not path else 0)
        result = self.lib.syscall(
            ctypes.c_long(SYS_MOUNT_SETATTR),
            ctypes.c_int(dir_fd),
            os.fsencode(path),
            ctypes.c_uint(flags),
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        )
        self._check(0 if result == 0 else -1, "mount_setattr")

    def enter_root(self, new_root: str) -> None:
        """Make `new_root` (a mount point) this mount namespace's root and
        detach the old one: nothing of the host's tree stays reachable."""
        c = self.ctypes
        os.chdir(new_root)
        number = SYS_PIVOT_ROOT.get(os.uname().machine)
        if number is None:
            raise OSError(38, f"pivot_root: no syscall number for {os.uname().machine}")
        # pivot_root(".", "."): the old root ends up on top of the new one,
        # from where it is detached.
        result = self.lib.syscall(c.c_long(number), b".", b".")
        self._check(0 if result == 0 else -1, "pivot_root")
        self._check(self.lib.umount2(b".", c.c_int(MNT_DETACH)), "umount the old root")
        os.chdir("/")

    def prctl(self, option: int, arg: int) -> None:
        c = self.ctypes
        self._check(
            self.lib.prctl(
                c.c_int(option),
                c.c_ulong(arg),
                c.c_ulong(0),
                c.c_ulong(0),
                c.c_ulong(0),
            ),
            f"prctl {option}",
        )


def _write_proc(path: str, text: str, dir_fd: int | None = None) -> None:
    fd = os.open(path, os.O_WRONLY, dir_fd=dir_fd)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _mount_flags_from(options: str) -> int:
    names = {
        "nosuid": MS_NOSUID,
        "nodev": MS_NODEV,
        "noexec": MS_NOEXEC,
        "noatime": MS_NOATIME,
        "nodiratime": MS_NODIRATIME,
        "relatime": MS_RELATIME,
        "strictatime": MS_STRICTATIME,
    }
    flags = 0
    for option in options.split(","):
        flags |= names.get(option, 0)
    return flags


def _loopback_up() -> None:
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", IFF_UP)
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, request)


def _bind_readonly(libc: _Libc, source: str, target: str) -> None:
    """`source` (and the mounts below it) at `target`, read-only, no setuid."""
    libc.mount(source, target, None, MS_BIND | MS_REC)
    try:
        libc.mount_setattr(
            target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, recursive=True
        )
    except OSError as exc:
        if exc.errno not in (38, 1):  # ENOSYS, EPERM: try the old way
            raise
        _remount_readonly_below(libc, target)


def _remount_readonly_below(libc: _Libc, top: str) -> None:
    """Fallback for kernels before mount_setattr: every mount at or below
    `top`, one by one, keeping the flags it has (a user namespace must)."""
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        entries = [line.split() for line in fh]
    for fields in entries:
        point = fields[4].encode().decode("unicode_escape")
        if point == top or point.startswith(top + "/"):
            flags = MS_BIND | MS_REMOUNT | MS_RDONLY | _mount_flags_from(fields[5])
            libc.mount(None, point, None, flags)


def _mkdirs(root: str, path: str) -> str:
    """`path` (absolute) made inside `root`, mode 0755; its full name."""
    target = root + path
    os.makedirs(target, mode=0o755, exist_ok=True)
    return target


def _private_filesystem(libc: _Libc, cfg: dict, facts: dict, source: bytes) -> None:
    """An otherwise empty root, built at the working folder's host path (the
    child pivots into it): read-only binds of the system folders and the
    interpreter's own prefixes (never their parents), an empty /tmp and
    /dev/shm, a minimal /dev, a mount point for the child's /proc, and the
    working directory, a private tmpfs of `max_disk_bytes` at the same path
    as on the host. No home, no /root, no host /tmp, /etc or /run."""
    workdir = cfg["workdir"]
    limits = cfg["limits"]
    mounts = cfg["mounts"]
    disk = int(limits["max_disk_bytes"])
    libc.mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = workdir  # the new root's tmpfs covers the host folder (and program.py)
    libc.mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    host_paths: list[str] = []
    links: list[str] = []
    for folder in mounts["system_dirs"]:
        if os.path.islink(folder):
            os.symlink(os.readlink(folder), root + folder)
            links.append(folder)
        elif os.path.isdir(folder):
            _bind_readonly(libc, folder, _mkdirs(root, folder))
            host_paths.append(folder)
    for path in mounts["files"]:
        if os.path.isfile(path):
            target = _mkdirs(root, os.path.dirname(path)) + "/" + os.path.basename(path)
            open(target, "wb").close()
            _bind_readonly(libc, path, target)
            host_paths.append(path)
    _minimal_dev(libc, root)
    for folder in ("/tmp", "/dev/shm"):
        libc.mount(
            "tmpfs",
            _mkdirs(root, folder),
            "tmpfs",
            MS_NOSUID | MS_NODEV,
            f"size={disk},mode=1777",
        )
    for folder in mounts["interpreter"]:
        if any(folder == p or folder.startswith(p + "/") for p in host_paths):
            continue
        if any(folder.startswith(link + "/") for link in links):
            continue  # (its real path, under the link's target, is mounted)
        _bind_readonly(libc, folder, _mkdirs(root, folder))
        host_paths.append(folder)
    _mkdirs(root, "/proc")  # the child mounts its pid namespace's /proc here
    uid, gid = facts["program_ids"]
    inner = _mkdirs(root, workdir)
    libc.mount(
        "tmpfs",
        inner,
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"size={disk},mode=0700,uid={uid},gid={gid}",
    )
    path = os.path.join(inner, PROGRAM_FILE)
    with open(path, "wb") as fh:
        fh.write(source)
    os.chown(path, uid, gid)
    # The root's own tmpfs read-only too: the program (uid 0 of an
    # unprivileged evaluator's namespace) owns it otherwise.
    libc.mount_setattr(root, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID)
    facts.update(
        empty_root=True,
        host_paths=host_paths,
        readonly_fs=True,
        private_tmp=True,
        new_root=root,
    )


def _minimal_dev(libc: _Libc, root: str) -> None:
    """/dev with the harmless character devices (bound from the host) and the
    usual links into /proc, as bubblewrap's --dev makes it."""
    dev = _mkdirs(root, "/dev")
    libc.mount("tmpfs", dev, "tmpfs", MS_NOSUID, "size=64k,mode=0755")
    for name in ("null", "zero", "full", "random", "urandom", "tty"):
        if os.path.exists("/dev/" + name):
            open(f"{dev}/{name}", "wb").close()
            libc.mount("/dev/" + name, f"{dev}/{name}", None, MS_BIND)
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(target, f"{dev}/{name}")
    os.makedirs(f"{dev}/shm", mode=0o755)
    libc.mount_setattr(dev, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID)


def _forbid_nested_userns(notes: list) -> bool:
    """No user namespaces below this one: the program, holding no capability,
    could otherwise make one, be root there, and mount tmpfs (memory that no
    rlimit counts) or reach kernel code that only namespace root reaches."""
    try:
        _write_proc("/proc/sys/user/max_user_namespaces", "0")
        return True
    except OSError as exc:
        notes.append(f"nested user namespaces not forbidden: {exc}")
        return False


def _count_tasks_of(uid: int) -> int:
    """Tasks (processes and threads) whose real uid is `uid`, as RLIMIT_NPROC counts."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii") as fh:
                real_uid = threads = None
                for line in fh:
                    if line.startswith("Uid:"):
                        real_uid = int(line.split()[1])
                    elif line.startswith("Threads:"):
                        threads = int(line.split()[1])
            if real_uid == uid and threads:
                count += threads
        except (OSError, ValueError):
            continue
    return count


def _launcher_main() -> int:
    # Everything the launcher will import, imported now: once it has dropped to
    # uid 65534 it may no longer be able to read the standard library.
    import resource  # noqa: F401  (os.wait4 needs it)
    import socket

    evaluator = int(sys.argv[1])
    libc = _Libc() if sys.platform.startswith("linux") else None
    if libc and not _die_with(libc, evaluator):
        return 1  # the evaluator is gone already: nobody is waiting
    cfg = json.loads(sys.stdin.buffer.read())
    cfg["evaluator_pid"] = evaluator
    status = socket.socket(fileno=cfg["status_fd"])
    os.set_inheritable(status.fileno(), False)

    def report(**record) -> None:
        try:
            status.sendall((json.dumps(record) + "\n").encode())
        except OSError:
            pass

    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        return _launch(cfg, report, status)
    except Exception as exc:  # the launcher's own failure, never the program's
        report(setup_error=f"{type(exc).__name__}: {exc}")
        return 1


def _die_with(libc: _Libc, parent: int) -> bool:
    """SIGKILL to this process when `parent` (its parent) dies; False if it
    is dead already (the signal would never come). Set again after every
    change of credentials, which clears it."""
    import signal

    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    return os.getppid() == parent


def _join_cgroups(cfg: dict, facts: dict) -> None:
    """Move this process into the program's cgroups, first of all: everything
    it forks from here on (the program and all its descendants) is inside."""
    joined: set[str] = set()
    for entry in cfg.get("cgroups", []):
        try:
            _write_proc(entry["procs"], str(os.getpid()))
            joined.update(entry["controls"])
        except OSError as exc:
            facts["notes"].append(
                f"not moved into the {'+'.join(entry['controls'])} cgroup: {exc}"
            )
    facts["memory_cgroup"] = "memory" in joined
    facts["pids_cgroup"] = "pids" in joined


def _launch(cfg: dict, report, status) -> int:
    import socket

    limits = cfg["limits"]
    workdir = cfg["workdir"]
    linux = sys.platform.startswith("linux")
    root = os.geteuid() == 0
    facts: dict = {
        "backend": "namespaces",
        "notes": [],
        "caller_uid": os.getuid(),
    }
    _join_cgroups(cfg, facts)
    caller_gid = os.getgid()
    with open(os.path.join(workdir, PROGRAM_FILE), "rb") as fh:
        source = fh.read()
    libc = _Libc() if linux else None
    # Who the program will be on the host, and inside its user namespace.
    if root:
        facts["program_ids"] = (UNPRIVILEGED_UID, UNPRIVILEGED_UID)
    else:
        facts["program_ids"] = (os.getuid(), os.getgid())

    ns = 0
    if libc and limits["namespaces"]:
        wanted = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
        if not root:
            wanted |= CLONE_NEWUSER
        try:
            libc.unshare(wanted)
            ns = wanted
        except OSError as exc:
            facts["notes"].append(f"namespaces refused ({exc}); trying one by one")
            if not root:
                try:
                    libc.unshare(CLONE_NEWUSER)
                    ns = CLONE_NEWUSER
                except OSError as exc2:
                    facts["notes"].append(f"no user namespace: {exc2}")
            if root or ns:
                for flag in (CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWIPC):
                    try:
                        libc.unshare(flag)
                        ns |= flag
                    except OSError:
                        pass
        if not root and ns & CLONE_NEWUSER:
            # (getuid() now answers the overflow id: use the ones from before)
            _write_proc("/proc/self/setgroups", "deny")
            _write_proc("/proc/self/uid_map", f"0 {facts['caller_uid']} 1")
            _write_proc("/proc/self/gid_map", f"0 {caller_gid} 1")
            facts["program_ids"] = (0, 0)  # inside: uid 0 = the caller outside
            facts["user_ns"] = True
            facts["nested_userns_blocked"] = _forbid_nested_userns(facts["notes"])
    facts["mount_ns"] = bool(ns & CLONE_NEWNS)
    facts["pid_ns"] = bool(ns & CLONE_NEWPID)
    if ns & CLONE_NEWNET:
        try:
            _loopback_up()
        except OSError as exc:
            facts["notes"].append(f"loopback left down: {exc}")
        facts["net_ns"] = True
    else:
        facts["notes"].append("no network namespace: the network is reachable")
    if libc and ns & CLONE_NEWNS:  # (ns is 0 without libc)
        try:
            _private_filesystem(libc, cfg, facts, source)
        except OSError as exc:
            # Fail closed: with a mount namespace the program never sees the
            # host's files; a root that cannot be built is a setup error.
            raise OSError(exc.errno, f"cannot build the empty root: {exc}") from None
    if not facts.get("private_tmp"):
        uid, gid = facts["program_ids"]
        if root and (uid, gid) != (0, 0):
            # The program will run as nobody in the host's directory.
            os.chown(workdir, uid, gid)
            os.chown(os.path.join(workdir, PROGRAM_FILE), uid, gid)

    # Root runs the program as nobody in a user namespace that it maps for the
    # child (an unprivileged user is already in one).
    child_userns = bool(root and libc and limits["namespaces"])
    read_override = root and not cfg["nobody_can_read_python"]
    to_parent_r, to_parent_w = os.pipe()
    to_child_r, to_child_w = os.pipe()
    runner_r, runner_w = os.pipe()
    os.write(
        runner_w,
        json.dumps(
            {
                **cfg["program_settings"],
                "program": os.path.join(workdir, PROGRAM_FILE),
                "workdir": workdir,
            }
        ).encode(),
    )
    os.close(runner_w)
    pid = os.fork()
    if pid == 0:
        os.close(to_parent_r)
        os.close(to_child_w)
        status.close()
        _child(
            cfg,
            libc,
            facts,
            child_userns,
            read_override,
            to_parent_w,
            to_child_r,
            runner_r,
        )
        os._exit(127)  # not reached
    os.close(to_parent_w)
    os.close(to_child_r)
    os.close(runner_r)
    pidfd = None
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pidfd = None
    if pidfd is not None:
        socket.send_fds(status, [b'{"pid": %d}\n' % pid], [pidfd])
        os.close(pidfd)
    else:
        report(pid=pid)
    # The child may mount a /proc of its own pid namespace over ours: keep a
    # handle on this one first (the root of the mount, for mount_setattr).
    proc_dir = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
    os.write(to_child_w, b"G")
    if child_userns:
        answer = os.read(to_parent_r, 1)
        if answer == b"U":
            try:
                if read_override:
                    # nobody is uid 0 inside; root's files show up as uid 1.
                    ids = f"0 {UNPRIVILEGED_UID} 1\n1 0 1\n"
                else:
                    ids = f"0 {UNPRIVILEGED_UID} 1\n"
                _write_proc(f"{pid}/uid_map", ids, proc_dir)
                _write_proc(f"{pid}/gid_map", ids, proc_dir)
                os.write(to_child_w, b"M")
            except OSError as exc:
                facts["notes"].append(f"user namespace not mapped: {exc}")
                os.write(to_child_w, b"m")
        else:
            os.write(to_child_w, b"m")
    os.close(to_child_w)
    os.close(proc_dir)
    child_report = b""
    while True:
        chunk = os.read(to_parent_r, 65536)
        if not chunk:
            break
        child_report += chunk
    os.close(to_parent_r)
    try:
        child_facts = json.loads(child_report.decode() or "{}")
    except ValueError:
        child_facts = {"exec_error": child_report.decode(errors="replace")}
    exec_error = child_facts.pop("exec_error", None)
    facts["notes"].extend(child_facts.pop("notes", []))
    facts.update(child_facts)
    facts.pop("program_ids", None)
    facts.pop("caller_uid", None)
    facts.pop("pids_cgroup", None)
    report(isolation=facts)
    if exec_error:
        report(setup_error=exec_error)
    if root:
        # Killable by the program (same uid), like an unprivileged launcher:
        # a program that kills its parent is recorded, never hidden.
        try:
            os.setgroups([])
            os.setresgid(UNPRIVILEGED_UID, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
            os.setresuid(UNPRIVILEGED_UID, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
        except OSError:
            pass
    if libc and not _die_with(libc, cfg["evaluator_pid"]):
        return 1  # (the program, pid 1 of its namespace, dies with us)
    if libc:
        try:
            libc.prctl(PR_SET_DUMPABLE, 0)
        except OSError:
            pass
    _, wait_status, usage = os.wait4(pid, 0)
    cpu = round(usage.ru_utime + usage.ru_stime, 3)
    if os.WIFSIGNALED(wait_status):
        report(signal=os.WTERMSIG(wait_status), cpu_s=cpu)
    else:
        report(exit=os.WEXITSTATUS(wait_status), cpu_s=cpu)
    return 0


def _child(
    cfg, libc, facts, child_userns, read_override, to_parent, from_parent, runner_r
) -> None:
    """Between fork and exec: become the program. Never returns."""
    import resource
    import signal

    limits = cfg["limits"]
    root = facts["caller_uid"] == 0  # (inside a user namespace geteuid() is 0)
    out: dict = {"notes": []}
    try:
        os.read(from_parent, 1)  # the launcher holds our /proc entry now
        shared_userns = bool(facts.get("user_ns"))  # the launcher's (unprivileged)
        if not shared_userns:
            # Without a user namespace of its own the count is the uid's total.
            counted_uid = UNPRIVILEGED_UID if root else os.getuid()
            tasks_before = _count_tasks_of(counted_uid)
        new_root = facts.get("new_root")
        if new_root:
            # A mount namespace of the child's own: the launcher keeps the
            # host's tree (and its /proc, for the program's uid_map).
            libc.unshare(CLONE_NEWNS)
        if new_root and facts.get("pid_ns"):
            # pid 1 of the new namespace: a /proc that shows only its processes
            # (mounted while the host's /proc is still in view, as the kernel
            # asks of a user namespace).
            try:
                # Root's program writes its user-namespace limit here later,
                # so its /proc stays writable (nothing in it is writable
                # without a capability, and the program will have none).
                readonly = 0 if child_userns else MS_RDONLY
                libc.mount(
                    "proc",
                    new_root + "/proc",
                    "proc",
                    MS_NOSUID | MS_NODEV | MS_NOEXEC | readonly,
                )
                out["private_proc"] = True
            except OSError as exc:
                out["notes"].append(f"no /proc: {exc}")
        elif new_root:
            out["notes"].append(
                "no /proc: without a pid namespace it would show the host's"
            )
        if new_root:
            libc.enter_root(new_root)
        own_userns = False
        if child_userns:
            try:
                libc.unshare(CLONE_NEWUSER)
                os.write(to_parent, b"U")
            except OSError as exc:
                out["notes"].append(f"no user namespace for the program: {exc}")
                os.write(to_parent, b"u")
            if os.read(from_parent, 1) == b"M":
                os.setresgid(0, 0, 0)  # uid/gid 0 inside = 65534 outside
                os.setgroups([])
                os.setresuid(0, 0, 0)
                own_userns = True
                out["user_ns"] = True
                out["read_override"] = read_override
                out["nested_userns_blocked"] = _forbid_nested_userns(out["notes"])
        os.close(from_parent)
        if libc:
            # Empty the bounding set: after exec the program holds no capability
            # (root inside a user namespace included), so it cannot undo the
            # read-only mounts. CAP_DAC_READ_SEARCH stays only where the
            # interpreter is unreadable to uid 65534 (see the module docstring).
            keep = {CAP_DAC_READ_SEARCH} if out.get("read_override") else set()
            try:
                with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as fh:
                    last_cap = int(fh.read())
            except (OSError, ValueError):
                last_cap = 40
            for cap in range(last_cap + 1):
                if cap not in keep:
                    try:
                        libc.prctl(PR_CAPBSET_DROP, cap)
                    except OSError:
                        break  # no CAP_SETPCAP: there are no capabilities to drop
        if root and not own_userns:
            if cfg["nobody_can_read_python"]:
                os.setgroups([])
                os.setresgid(UNPRIVILEGED_UID, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
                os.setresuid(UNPRIVILEGED_UID, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
            else:
                out["notes"].append(
                    "runs as root: uid 65534 cannot read the interpreter and there "
                    "is no user namespace, so RLIMIT_NPROC does not apply"
                )
                # The launcher gave the working directory to uid 65534; root
                # without capabilities (after exec) needs it back.
                for path in (
                    cfg["workdir"],
                    os.path.join(cfg["workdir"], PROGRAM_FILE),
                ):
                    os.chown(path, 0, 0)
        if root:
            host_uid = UNPRIVILEGED_UID if (own_userns or os.getuid() != 0) else 0
        else:
            host_uid = facts["caller_uid"]
        out["uid"] = host_uid
        # RLIMIT_NPROC never applies to host uid 0; the pids cgroup does.
        out["process_limit"] = host_uid != 0 or bool(facts.get("pids_cgroup"))
        if host_uid == 0 and facts.get("pids_cgroup"):
            out["notes"].append("runs as root: the pids cgroup caps its processes")
        if libc:
            libc.prctl(PR_SET_NO_NEW_PRIVS, 1)
        # The program's limits, set before exec.
        budget = limits["max_processes"] + cfg["harness_tasks"]
        if shared_userns:
            nproc = budget + 1  # the launcher counts there too
        elif own_userns:
            nproc = budget
        else:
            nproc = tasks_before + budget
        cpu = int(limits["cpu_s"])
        memory = int(limits["memory_mb"]) * 1024 * 1024
        fsize = int(limits["max_file_bytes"])
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        if libc:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.chdir(cfg["workdir"])
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        os.write(to_parent, json.dumps(out).encode())
    except BaseException as exc:  # noqa: BLE001 - report anything, then die
        out["exec_error"] = f"{type(exc).__name__}: {exc}"
        try:
            os.write(to_parent, json.dumps(out).encode())
        finally:
            os._exit(127)
    # The report is sent: from here on only the program's stderr can tell.
    os.close(to_parent)
    if runner_r != 3:
        os.dup2(runner_r, 3)
        os.close(runner_r)
    os.set_inheritable(3, True)
    python = cfg["python"]
    try:
        os.execve(
            python,
            [python, "-I", "-B", "-c", cfg["bootstrap_source"]],
            dict(os.environ),
        )
    except OSError as exc:
        os.write(2, f"{EXEC_FAILED}{python}: {exc}\n".encode())
        os._exit(127)


if __name__ == "__main__":
    code = _launcher_main()
    # No interpreter shutdown: the report is sent, and the evaluator may kill
    # this process group as soon as the status channel closes.
    os._exit(code)
