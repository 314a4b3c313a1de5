"""The program's memory cgroup: memory that RLIMIT_AS does not count (memfd
and tmpfs files are kernel memory, never mapped) still ends the program at
`memory_mb`, with a verdict that says so; the cgroup is gone after the run.
Under both backends; skipped, with the reason, where no cgroup can be made."""

from __future__ import annotations

import glob
import os
import sys
import textwrap

import pytest

from engine.codeeval.sandbox import BACKENDS, Limits, probe_isolation, run_program
from engine.codeeval.sandbox import bubblewrap as bubblewrap_backend
from engine.codeeval.sandbox import cgroup as cgroup_module

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="cgroups are Linux"
)

# 480 MB held outside the address space, 8 MB a piece (under RLIMIT_FSIZE).
HOARDERS = {
    "memfd": """
        import os
        held = []
        for i in range(60):
            fd = os.memfd_create(f"hoard{i}")
            os.write(fd, bytes(8_000_000))
            held.append(fd)
        print("held", 8 * len(held), "MB")
    """,
    "tmpfs files": """
        for i in range(60):
            with open(f"hoard{i}", "wb") as fh:
                fh.write(bytes(8_000_000))
        print("held", 8 * 60, "MB")
    """,
}


@pytest.fixture(scope="module", params=BACKENDS)
def memory_cgroup_backend(request):
    name = request.param
    if name == "bubblewrap":
        reason = bubblewrap_backend.unusable_reason()
        if reason is not None:
            pytest.skip(f"bubblewrap not usable here: {reason}")
    isolation = probe_isolation(Limits(backend=name))
    if not isolation.memory_cgroup:
        pytest.skip(f"no memory cgroup here: {isolation.notes}")
    return name


@pytest.mark.parametrize("hoard", sorted(HOARDERS))
def test_kernel_memory_past_the_limit_ends_the_program(memory_cgroup_backend, hoard):
    source = textwrap.dedent(HOARDERS[hoard]).lstrip()
    limits = Limits(
        backend=memory_cgroup_backend,
        memory_mb=128,
        max_disk_bytes=1_000_000_000,  # the tmpfs is not what stops it
        timeout_s=20,
        python_guard=False,
    )
    verdict = run_program(source, limits)
    assert verdict.status == "error", verdict
    assert verdict.reason.startswith("memory limit of 128 MiB exceeded"), verdict
    assert "held" not in verdict.output_tail
    assert verdict.isolation.memory_cgroup


def test_the_cgroup_is_removed_after_the_run():
    verdict = run_program("print('x')\n")
    assert verdict.status == "passed"
    if not verdict.isolation.memory_cgroup:
        pytest.skip(f"no memory cgroup here: {verdict.isolation.notes}")
    ours = f"xlt-sandbox-{os.getpid()}-*"
    left = [
        path
        for depth in range(6)
        for path in glob.glob(os.path.join("/sys/fs/cgroup", *["*"] * depth, ours))
    ]
    assert left == []


class FakeCgroupFs:
    """A cgroup hierarchy made of plain folders, for where the program's cgroup
    goes and what is written into it (a folder made in it gets the interface
    files a kernel would give it)."""

    FILES = {
        "memory.max": "max",
        "memory.swap.max": "max",
        "memory.oom.group": "0",
        "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
        "memory.limit_in_bytes": "9223372036854771712",
        "memory.memsw.limit_in_bytes": "9223372036854771712",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
        "pids.max": "max",
        "cgroup.procs": "",
    }

    def __init__(self, monkeypatch, root, own: dict, mounts: dict):
        self.root = root
        real_mkdir = os.mkdir

        def mkdir(path, *args, **kwargs):
            real_mkdir(path, *args, **kwargs)
            if str(path).startswith(str(root)):
                for name, text in self.FILES.items():
                    with open(os.path.join(path, name), "w") as fh:
                        fh.write(text)

        monkeypatch.setattr(cgroup_module.os, "mkdir", mkdir)
        monkeypatch.setattr(cgroup_module, "_own_cgroups", lambda: own)
        monkeypatch.setattr(cgroup_module, "_cgroup_mounts", lambda: mounts)


def read(path) -> str:
    with open(path) as fh:
        return fh.read()


def test_v2_the_cgroup_is_a_sibling_with_memory_swap_and_task_limits(
    monkeypatch, tmp_path
):
    """Our own cgroup holds processes, so the program's is made next to it, in
    a parent that gets memory and pids delegated to its children."""
    parent = tmp_path / "user.slice" / "app.slice"
    (parent / "ours.scope").mkdir(parents=True)
    (parent / "cgroup.controllers").write_text("cpu memory pids\n")
    (parent / "cgroup.subtree_control").write_text("cpu\n")
    FakeCgroupFs(
        monkeypatch,
        tmp_path,
        own={"": "/user.slice/app.slice/ours.scope"},
        mounts={"": (str(tmp_path), "/")},
    )
    made, notes = cgroup_module.create(160 * 2**20, 66)
    assert notes == []
    assert made.version == 2 and made.memory_dir == made.pids_dir
    folder = made.memory_dir
    assert os.path.dirname(folder) == str(parent)
    assert os.path.basename(folder).startswith(f"xlt-sandbox-{os.getpid()}-")
    assert read(parent / "cgroup.subtree_control") == "+memory +pids"
    assert read(os.path.join(folder, "memory.max")) == str(160 * 2**20)
    assert read(os.path.join(folder, "memory.swap.max")) == "0"
    assert read(os.path.join(folder, "memory.oom.group")) == "1"
    assert read(os.path.join(folder, "pids.max")) == "66"
    assert made.entries() == [
        {"procs": os.path.join(folder, "cgroup.procs"), "controls": ["memory", "pids"]}
    ]
    assert made.oom_kills() == 0
    with open(os.path.join(folder, "memory.events"), "w") as fh:
        fh.write("max 12\noom 1\noom_kill 1\n")
    assert made.oom_kills() == 1


def test_v2_without_a_memory_controller_says_so(monkeypatch, tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu pids\n")
    FakeCgroupFs(
        monkeypatch, tmp_path, own={"": "/"}, mounts={"": (str(tmp_path), "/")}
    )
    made, notes = cgroup_module.create(2**27, 10)
    assert made is None
    assert notes == [f"cgroup v2: no memory controller in {tmp_path}"]


def test_v1_the_cgroups_are_children_of_ours(monkeypatch, tmp_path):
    memory_root = tmp_path / "memory"
    (memory_root / "session" / "me").mkdir(parents=True)
    pids_root = tmp_path / "pids"
    pids_root.mkdir()
    FakeCgroupFs(
        monkeypatch,
        tmp_path,
        own={"memory": "/session/me", "pids": "/"},
        mounts={"memory": (str(memory_root), "/"), "pids": (str(pids_root), "/")},
    )
    made, notes = cgroup_module.create(2**27, 18)
    assert notes == []
    assert made.version == 1
    assert os.path.dirname(made.memory_dir) == str(memory_root / "session" / "me")
    assert os.path.dirname(made.pids_dir) == str(pids_root)
    assert read(os.path.join(made.memory_dir, "memory.limit_in_bytes")) == str(2**27)
    assert read(os.path.join(made.memory_dir, "memory.memsw.limit_in_bytes")) == str(
        2**27
    )
    assert read(os.path.join(made.pids_dir, "pids.max")) == "18"
    assert [e["controls"] for e in made.entries()] == [["memory"], ["pids"]]
    with open(os.path.join(made.memory_dir, "memory.oom_control"), "w") as fh:
        fh.write("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert made.oom_kills() == 2


def test_no_permission_is_a_note_not_a_failure(monkeypatch, tmp_path):
    memory_root = tmp_path / "memory"
    memory_root.mkdir()
    FakeCgroupFs(
        monkeypatch,
        tmp_path,
        own={"memory": "/gone"},
        mounts={"memory": (str(memory_root), "/")},
    )
    made, notes = cgroup_module.create(2**27, 18)
    assert made is None
    assert "no memory cgroup: this process's is not visible" in notes
    assert "no pids cgroup (controller not mounted)" in notes
