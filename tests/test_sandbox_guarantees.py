"""What the sandbox promises a user, under both backends (issue 11, items 4-6):

- secrets stay on the host: canary files in a home folder, in /root (next to
  the interpreter's own folders too) and in /tmp cannot be read or listed by
  a sandboxed program, whether the evaluator runs as root or as a normal user;
- no sandbox process outlives its evaluator: `kill -9` of the evaluator ends
  the program at once, and the next evaluator removes the dead one's folders;
- a program cannot be told it passed: its tests run in a harness process of
  their own (sandbox/harness.py) whose exit status is the verdict, so reading
  the caller's frame, scanning frames and the heap, or an answer that equals
  anything, all fail.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from engine.codeeval.execute import check_completions
from engine.codeeval.sandbox import BACKENDS, Limits, run_program
from engine.codeeval.sandbox import bubblewrap as bubblewrap_backend
from engine.codeeval.sandbox.interpreter import interpreter_folders
from engine.codeeval.sandbox.leftovers import WORKDIR_PREFIX
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the sandbox's layers are Linux"
)
NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"
"""A normal user cannot run an interpreter that lives under /root: the
normal-user evaluator runs on the system's Python, with the repository on
its path (the sandbox needs the standard library only)."""


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    if request.param == "bubblewrap":
        reason = bubblewrap_backend.unusable_reason()
        if reason is not None:
            pytest.skip(f"bubblewrap not usable here: {reason}")
    return request.param


def _plant(path: Path, owner: int | None = None, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"CANARY {path}")
    path.chmod(mode)
    if owner is not None:
        os.chown(path.parent, owner, owner)
        os.chown(path, owner, owner)
    return path


@pytest.fixture
def canaries():
    """Files a sandboxed program must not see, each readable on the host by
    the user it is planted for: in /tmp, in a home folder (a normal user's,
    owned by that user, and root's own), in /root, and next to each of the
    interpreter's own folders (the venv's parent, the base installation's)."""
    tag = uuid.uuid4().hex[:8]
    planted: list[Path] = []
    made_dirs: list[Path] = []

    def plant(path: Path, owner: int | None = None, mode: int = 0o644) -> None:
        planted.append(path)
        _plant(path, owner, mode)

    try:
        plant(Path(tempfile.gettempdir()) / f"xlt-canary-tmp-{tag}")
        if Path("/home").is_dir() and os.geteuid() == 0:
            made_dirs.append(Path("/home") / f"xlt-canary-{tag}")
            plant(made_dirs[-1] / ".ssh" / "id_rsa", NOBODY, 0o600)
        made_dirs.append(Path.home() / f".xlt-canary-{tag}")
        plant(made_dirs[-1] / "id_rsa", mode=0o600)
        if os.geteuid() == 0:
            plant(Path("/root") / f".xlt-canary-root-{tag}")
        for folder in interpreter_folders():
            parent = Path(folder).parent
            if os.access(parent, os.W_OK) and parent != Path("/"):
                plant(parent / f".xlt-canary-next-{tag}")
        yield planted
    finally:
        for path in planted:
            path.unlink(missing_ok=True)
        for folder in made_dirs:
            shutil.rmtree(folder, ignore_errors=True)


def _probe(paths: list[Path]) -> str:
    """A program that reports every canary it can read, and every listing of
    a canary's folder that names it."""
    return textwrap.dedent(
        f"""
        import json, os
        seen = []
        for path in {[str(p) for p in paths]!r}:
            try:
                with open(path) as fh:
                    seen.append(["read", path, fh.read()])
            except OSError:
                pass
            try:
                if os.path.basename(path) in os.listdir(os.path.dirname(path)):
                    seen.append(["listed", path])
            except OSError:
                pass
        print(json.dumps(seen))
        """
    )


def _seen(verdict) -> list:
    assert verdict.status == "passed", verdict
    return json.loads(verdict.output_tail.splitlines()[-1])


def test_canaries_are_invisible_to_a_root_evaluators_program(backend, canaries):
    if os.geteuid() != 0:
        pytest.skip("the evaluator does not run as root here")
    verdict = run_program(
        _probe(canaries), Limits(backend=backend, timeout_s=10, python_guard=False)
    )
    assert verdict.isolation.empty_root, verdict.isolation
    assert _seen(verdict) == []
    # On the host the evaluator reads them all: the sandbox hides them.
    assert all(path.read_text().startswith("CANARY") for path in canaries)


def test_canaries_are_invisible_to_a_normal_users_program(backend, canaries):
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("becoming a normal user needs root and setpriv")
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"no {SYSTEM_PYTHON} for a normal user to run the evaluator on")
    evaluator = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from engine.codeeval.sandbox import Limits, run_program
        v = run_program(sys.stdin.read(), Limits(backend={backend!r},
                        timeout_s=10, python_guard=False))
        print(v.status, v.isolation.empty_root if v.isolation else None)
        print(v.output_tail.splitlines()[-1] if v.output_tail else v.reason)
        """
    )
    done = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        + [SYSTEM_PYTHON, "-I", "-c", evaluator],
        input=_probe(canaries),
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    if "ModuleNotFoundError" in done.stderr or "SyntaxError" in done.stderr:
        pytest.skip(f"{SYSTEM_PYTHON} cannot import the engine: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr
    status_line, seen = done.stdout.splitlines()[-2:]
    assert status_line == "passed True", done.stdout
    assert json.loads(seen) == []
    # The normal user's own key is readable to that user on the host.
    own_key = [p for p in canaries if p.parts[1:2] == ("home",)]
    for path in own_key:
        assert path.stat().st_uid == NOBODY


def _processes_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == name:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _evaluator_running(source: str, backend: str) -> subprocess.Popen:
    code = (
        "from engine.codeeval.sandbox import Limits, run_program\n"
        f"run_program({source!r}, Limits(backend={backend!r}, timeout_s=60, "
        "python_guard=False))\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO)


def test_a_killed_evaluator_takes_its_program_along(backend):
    token = "xltk" + uuid.uuid4().hex[:8]
    sleeper = (
        "import ctypes, time\n"
        f"ctypes.CDLL(None).prctl(15, {token.encode()!r}, 0, 0, 0)\n"
        "time.sleep(60)\n"
    )
    evaluator = _evaluator_running(sleeper, backend)
    try:
        deadline = time.monotonic() + 15
        while not _processes_named(token) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_named(token), "the program never started"
        evaluator.send_signal(signal.SIGKILL)
        evaluator.wait()
        deadline = time.monotonic() + 3
        while _processes_named(token) and time.monotonic() < deadline:
            time.sleep(0.05)
        survivors = _processes_named(token)
        assert survivors == [], "the program outlived its evaluator"
    finally:
        for pid in _processes_named(token):
            os.kill(pid, signal.SIGKILL)
        if evaluator.poll() is None:
            evaluator.kill()
            evaluator.wait()
    mine = f"{WORKDIR_PREFIX}{evaluator.pid}-*"
    folders = list(Path(tempfile.gettempdir()).glob(mine))
    assert len(folders) == 1, folders  # a killed evaluator cleans nothing up...
    nxt = subprocess.run(
        [sys.executable, "-c", "from engine.codeeval.sandbox import run_program\n"
         "assert run_program('pass').passed"],
        cwd=REPO,
        timeout=60,
    )  # fmt: skip
    assert nxt.returncode == 0
    assert not folders[0].exists()  # ...the next evaluator's first run does


FORGERIES = {
    # The exploit in the issue: the bootstrap's frame held the pass marker.
    "caller-frame": (
        "import os, sys\n"
        "os.write(1, repr(sys._getframe(1).f_locals).encode())\n"
        "os._exit(0)\n"
    ),
    # A variant: walk every frame and the heap for anything marker-like.
    "frame-and-gc-scan": (
        "import gc, os, sys\n"
        "found = []\n"
        "frame = sys._getframe()\n"
        "while frame is not None:\n"
        "    found += [v for v in frame.f_locals.values()\n"
        "              if isinstance(v, (str, bytes))]\n"
        "    frame = frame.f_back\n"
        "for o in gc.get_objects():\n"
        "    if isinstance(o, dict):\n"
        "        found += [v for v in o.values() if isinstance(v, (str, bytes))]\n"
        "for v in found:\n"
        "    if 'PASS' in str(v) or 'XLT' in str(v):\n"
        "        os.write(1, (v if isinstance(v, bytes) else v.encode()) + b'\\n')\n"
        "os._exit(0)\n"
    ),
    # An answer that claims to equal anything.
    "always-equal": (
        "class Anything:\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "def add(a, b):\n"
        "    return Anything()\n"
    ),
}
TESTS = "def check(candidate):\n    assert candidate(2, 3) == 5\n\ncheck(add)\n"


@pytest.mark.parametrize("forgery", FORGERIES, ids=list(FORGERIES))
def test_a_program_cannot_forge_its_pass(forgery, backend):
    """The tests run in a harness process of their own; its exit status is
    the verdict, and no marker exists for the program to find."""
    limits = Limits(backend=backend, timeout_s=10, python_guard=False)
    verdict = run_program(FORGERIES[forgery], limits, tests=TESTS)
    assert verdict.status == "failed", verdict
    honest = run_program("def add(a, b):\n    return a + b\n", limits, tests=TESTS)
    assert honest.status == "passed", honest
    wrong = run_program("def add(a, b):\n    return a - b\n", limits, tests=TESTS)
    assert (wrong.status, wrong.reason) == ("failed", "AssertionError"), wrong


def test_pass_at_k_judges_with_the_harness(backend, monkeypatch):
    """check_completions (what pass@k and `xlt-engine codeeval` use) runs the
    problem's tests apart from the completion: the issue's exploit fails."""
    monkeypatch.setenv("XLT_SANDBOX", backend)
    problems = {"P/0": {"program_prefix": "def add(a, b):\n", "test_program": TESTS}}
    exploit = (
        "    return 0\n"
        "import os, sys\n"
        "os.write(1, sys._getframe(1).f_locals['done'])\n"
        "os._exit(0)\n"
    )
    samples = [
        {"task_id": "P/0", "completion": exploit},
        {"task_id": "P/0", "completion": "    return a + b\n"},
    ]
    limits = Limits(timeout_s=10, python_guard=False)
    results = check_completions(problems, samples, limits, workers=1)
    assert [r.verdict.status for r in results] == ["failed", "passed"], results
