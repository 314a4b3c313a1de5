"""What the sandbox speaks: the limits asked for, the layers that held, the verdict.

Plain dataclasses, no behaviour beyond validation and display, so that every
other module (and every caller) can import them without starting anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

STATUSES = ("passed", "failed", "timed_out", "error")
BACKENDS = ("bubblewrap", "namespaces")
"""The launchers a run can go through (see the package docstring)."""
BACKEND_CHOICES = ("auto", *BACKENDS)


@dataclass(frozen=True)
class Limits:
    """Per-program limits. Each field is enforced as described in the package."""

    timeout_s: float = 10.0
    """Wall-clock seconds, from the launcher's start to the program's end."""
    cpu_s: int = 10
    """CPU seconds per process (RLIMIT_CPU)."""
    memory_mb: int = 1024
    """Address space per process (RLIMIT_AS), in MiB; with a memory cgroup also
    all the memory the program holds together (+ 32 MiB for its launcher),
    kernel memory included (pipe buffers, memfd and tmpfs files)."""
    max_processes: int = 64
    """Processes and threads the program may have at once (RLIMIT_NPROC, and
    the pids cgroup where there is one)."""
    max_output_bytes: int = 1_000_000
    """stdout and stderr together; more is cut off and the program killed."""
    max_file_bytes: int = 10_000_000
    """Largest file the program may write (RLIMIT_FSIZE)."""
    max_disk_bytes: int = 100_000_000
    """Size of the private tmpfs working directory (with a mount namespace)."""
    namespaces: bool = True
    """Use kernel namespaces where the OS allows them (off: the namespaces
    launcher with rlimits, the cgroup and the guard only)."""
    python_guard: bool = True
    """The in-interpreter layer: reliability_guard + audit hook (not a sandbox)."""
    backend: str = "auto"
    """"bubblewrap", "namespaces", or "auto": the XLT_SANDBOX environment
    variable if set, else bubblewrap where it is installed and works, else the
    namespaces launcher. An explicit choice never falls back."""

    def __post_init__(self) -> None:
        for name in (
            "timeout_s",
            "cpu_s",
            "memory_mb",
            "max_processes",
            "max_output_bytes",
            "max_file_bytes",
            "max_disk_bytes",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive")
        if self.backend not in BACKEND_CHOICES:
            raise ValueError(
                f"Limits.backend must be one of {', '.join(BACKEND_CHOICES)}, "
                f"not {self.backend!r}"
            )
        if self.backend == "bubblewrap" and not self.namespaces:
            raise ValueError(
                "Limits(backend='bubblewrap', namespaces=False) contradicts "
                "itself: bubblewrap is made of namespaces"
            )


@dataclass(frozen=True)
class Isolation:
    """Which layers were in effect for a run (see the package docstring)."""

    backend: str = "namespaces"
    """The launcher that ran the program: "bubblewrap" or "namespaces"."""
    user_ns: bool = False
    """The program ran in a user namespace of its own making (or its launcher's)."""
    mount_ns: bool = False
    readonly_fs: bool = False
    """The host's files were read-only for the program (it writes only to its
    private tmpfs mounts)."""
    private_tmp: bool = False
    """The working directory was a private, size-limited tmpfs."""
    empty_root: bool = False
    """The program's root was empty but for `host_paths` (bubblewrap)."""
    host_paths: tuple[str, ...] = ()
    """The host folders mounted read-only into an empty root (bubblewrap)."""
    hidden_dirs: tuple[str, ...] = ()
    """Host directories replaced by empty read-only mounts (/tmp, /run, ...)."""
    net_ns: bool = False
    """No network: a fresh network namespace with only a loopback device."""
    pid_ns: bool = False
    """The program ran in a fresh pid namespace."""
    private_proc: bool = False
    """/proc showed only the sandbox's processes."""
    nested_userns_blocked: bool = False
    """The program could not create user namespaces of its own."""
    uid: int | None = None
    """The program's user id as the host sees it."""
    process_limit: bool = False
    """The number of tasks was capped: RLIMIT_NPROC (never for host uid 0) or
    the pids cgroup."""
    memory_cgroup: bool = False
    """The program ran in a memory cgroup of `memory_mb` (kernel memory too)."""
    read_override: bool = False
    """CAP_DAC_READ_SEARCH kept in the program's user namespace (root's files)."""
    python_guard: bool = False
    """The audit hook and reliability_guard were installed."""
    notes: tuple[str, ...] = ()
    """Why a layer is missing, in words."""

    @property
    def network_blocked(self) -> bool:
        """Network access was refused by the kernel or, failing that, the guard."""
        return self.net_ns or self.python_guard

    def summary(self) -> str:
        layers = [
            name
            for name, on in (
                ("user-ns", self.user_ns),
                ("mount-ns", self.mount_ns),
                ("empty-root", self.empty_root),
                ("read-only-fs", self.readonly_fs),
                ("private-tmpfs", self.private_tmp),
                ("net-ns", self.net_ns),
                ("pid-ns", self.pid_ns),
                ("process-limit", self.process_limit),
                ("memory-cgroup", self.memory_cgroup),
                ("python-guard", self.python_guard),
            )
            if on
        ]
        who = f"uid {self.uid}" if self.uid is not None else "uid ?"
        return f"{self.backend}: {', '.join(layers) or 'rlimits only'} ({who})"

    @classmethod
    def from_report(cls, report: dict, python_guard: bool) -> Isolation:
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in report.items() if k in known}
        for name in ("hidden_dirs", "host_paths", "notes"):
            values[name] = tuple(values.get(name, ()))
        values["python_guard"] = python_guard
        return cls(**values)


@dataclass(frozen=True)
class Verdict:
    status: str
    """passed, failed, timed_out or error."""
    reason: str
    """Why, in one line ("" when passed)."""
    seconds: float
    output_tail: str
    """The end of the program's stdout and stderr."""
    isolation: Isolation | None = field(default=None, compare=False)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def as_dict(self) -> dict:
        out = asdict(self)
        out["isolation"] = None if self.isolation is None else self.isolation.summary()
        return out
