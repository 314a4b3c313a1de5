"""Between the evaluator and bwrap: join the program's cgroups, set its
rlimits, become uid 65534 if asked, and exec bwrap.

Executed as a script by a fresh `python -I -B -S bwrap_entry.py` (standard
library only; it never imports the engine). Its settings arrive as JSON on
stdin: the bwrap command line, the rlimits, the cgroups to join, the uid to
become, and which inherited descriptors go to which numbers (the program's
settings pipe must be fd 3 for the bootstrap; bwrap is told the others' numbers
on its command line). One JSON line on the report descriptor says which
cgroups it joined; bwrap then writes its own status (`--json-status-fd`) to the
same descriptor. Rlimits and cgroups survive exec, so they hold for bwrap and
everything it starts.
"""

from __future__ import annotations

import json
import os
import sys

PR_SET_PDEATHSIG = 1


def main() -> int:
    import fcntl
    import resource

    cfg = json.loads(sys.stdin.buffer.read())
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # Every descriptor to its number: all out of the way first, so that no
    # target overwrites a source that is still to be moved.
    high = []
    for source, target in cfg["fds"]:
        high.append((fcntl.fcntl(source, fcntl.F_DUPFD_CLOEXEC, 64), target))
        os.close(source)
    for fd, target in high:
        os.dup2(fd, target)  # (dup2's copy is inheritable)
        os.close(fd)
    report_fd = cfg["report_fd"]

    def report(**record) -> None:
        try:
            os.write(report_fd, (json.dumps(record) + "\n").encode())
        except OSError:
            pass

    joined: list[str] = []
    notes: list[str] = []
    for entry in cfg["cgroups"]:
        try:
            with open(entry["procs"], "w", encoding="ascii") as fh:
                fh.write(str(os.getpid()))
            joined.extend(entry["controls"])
        except OSError as exc:
            notes.append(
                f"not moved into the {'+'.join(entry['controls'])} cgroup: {exc}"
            )
    report(cgroups=joined, notes=notes)
    try:
        for name, soft, hard in cfg["rlimits"]:
            resource.setrlimit(getattr(resource, name), (soft, hard))
        uid = cfg.get("uid")
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        # Dies with the evaluator (bwrap's --die-with-parent says the same
        # once it runs; this covers the moment before). After setresuid,
        # which clears it; kept across the exec of a bwrap that is not setuid.
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != int(sys.argv[1]):
            return 1  # the evaluator is gone already
        os.execv(cfg["argv"][0], cfg["argv"])
    except OSError as exc:
        report(setup_error=f"cannot run {cfg['argv'][0]}: {exc}")
    return 127


if __name__ == "__main__":
    sys.exit(main())
