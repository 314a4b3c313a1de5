"""The sandbox against hostile programs: each one is contained, recorded with its
reason, leaves the files outside untouched, and the evaluation goes on.

Every hostile program runs under both backends: bubblewrap (skipped, with the
reason, where bwrap is missing or does not work) and the namespaces launcher.
Hostile programs run with the Python guard OFF wherever the kernel layer that
should contain them is in effect (a guard is not a sandbox: these tests prove
the kernel layers); where that layer is missing on a machine, the test falls
back to the guard and says so in its assertion message.
"""

from __future__ import annotations

import os
import socket
import stat
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from engine.codeeval.execute import check_completions
from engine.codeeval.sandbox import BACKENDS, Limits, probe_isolation, run_program
from engine.codeeval.sandbox import bubblewrap as bubblewrap_backend
from engine.errors import InputError
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the sandbox's layers are Linux"
)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request):
    """Each test that takes this runs once per backend, chosen the way a user
    chooses it: the XLT_SANDBOX environment variable."""
    if request.param == "bubblewrap":
        reason = bubblewrap_backend.unusable_reason()
        if reason is not None:
            pytest.skip(f"bubblewrap not usable here: {reason}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XLT_SANDBOX", request.param)
        yield request.param


@pytest.fixture(scope="module")
def isolation(backend):
    found = probe_isolation()
    assert found.backend == backend, found
    return found


def hostile(**overrides) -> Limits:
    """Short limits, guard off: only the kernel layers contain the program."""
    values = {"timeout_s": 5.0, "python_guard": False}
    values.update(overrides)
    return Limits(**values)


def program(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def processes_named(name: str) -> list[int]:
    """Host pids whose command name (comm) is `name`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == name:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def name_self(token: str) -> str:
    """Program lines that rename the process (PR_SET_NAME) so the test can find
    its leftovers on the host."""
    return f"import ctypes\nctypes.CDLL(None).prctl(15, {token.encode()!r}, 0, 0, 0)\n"


def assert_no_leftovers(token: str) -> None:
    deadline = time.monotonic() + 2.0
    while processes_named(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes_named(token), f"processes named {token} survived the run"


def test_ordinary_verdicts_and_reasons(backend):
    cases = [
        ("print('hello')\n", "passed", ""),
        (
            "assert 1 + 1 == 3, 'arithmetic is broken'\n",
            "failed",
            "AssertionError: arithmetic is broken",
        ),
        ("def f(:\n    pass\n", "error", "SyntaxError"),
        ("import sys\nsys.exit(3)\n", "failed", "exit status 3"),
        ("raise KeyError('k')\n", "failed", "KeyError: 'k'"),
    ]
    for source, status, reason in cases:
        verdict = run_program(source, Limits(timeout_s=10))
        assert verdict.status == status, (source, verdict)
        assert verdict.reason.startswith(reason), (source, verdict.reason)
    assert "hello" in run_program("print('hello')\n").output_tail


def test_infinite_loop_hits_the_wall_clock_then_the_next_program_runs(backend):
    start = time.monotonic()
    verdict = run_program("while True:\n    pass\n", hostile(timeout_s=1.5))
    assert verdict.status == "timed_out"
    assert "wall-clock limit of 1.5 s" in verdict.reason
    assert time.monotonic() - start < 4
    assert run_program("print('next')\n").status == "passed"


def test_cpu_limit_is_reported_as_such(backend):
    verdict = run_program("while True:\n    pass\n", hostile(timeout_s=8, cpu_s=1))
    assert verdict.status == "timed_out"
    assert verdict.reason == "CPU time limit of 1 s exceeded"
    assert verdict.seconds < 7  # well before the wall clock


def test_fork_bomb_is_capped_and_killed(isolation):
    if not isolation.process_limit:
        pytest.skip(f"RLIMIT_NPROC cannot hold here: {isolation.notes}")
    token = "xltb" + uuid.uuid4().hex[:8]
    # First: how many processes can it make? Exactly up to the cap.
    counter = name_self(token) + program(
        """
        import os, time
        made = 0
        while True:
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            made += 1
        print("made", made)
        """
    )
    verdict = run_program(counter, hostile(max_processes=16))
    assert verdict.status == "passed", verdict
    made = int(verdict.output_tail.split("made")[-1].split()[0])
    assert 6 <= made < 16, verdict.output_tail  # the program itself counts too
    assert_no_leftovers(token)
    # Then the real thing: fork forever, swallowing the failures.
    bomb = name_self(token) + program(
        """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """
    )
    start = time.monotonic()
    verdict = run_program(bomb, hostile(timeout_s=2, max_processes=32))
    assert verdict.status == "timed_out", verdict
    assert time.monotonic() - start < 5
    assert_no_leftovers(token)
    assert run_program("print('still fine')\n").status == "passed"


def test_memory_hog_gets_a_memory_error(backend):
    hog = "chunks = []\nwhile True:\n    chunks.append(bytearray(50_000_000))\n"
    verdict = run_program(hog, hostile(memory_mb=256, timeout_s=15))
    assert verdict.status == "error", verdict
    assert "memory limit of 256 MiB" in verdict.reason


@pytest.fixture
def sentinels(tmp_path):
    """Two sentinel files the program will attack: one in pytest's tmp_path,
    one in a folder the sandbox can see (the repository's .pytest_cache)."""
    visible = REPO / ".pytest_cache" / f"xlt-sandbox-{uuid.uuid4().hex[:8]}"
    visible.mkdir(parents=True)
    files = []
    for folder in (tmp_path, visible):
        path = folder / "sentinel.txt"
        path.write_text("do not touch")
        path.chmod(0o644)
        files.append(path)
    yield files
    for path in visible.iterdir():
        path.unlink()
    visible.rmdir()


def test_files_outside_the_working_directory_stay_untouched(sentinels, isolation):
    guard = not isolation.readonly_fs
    attack = program(
        f"""
        import os, shutil
        for path in {[str(p) for p in sentinels]!r}:
            attempts = {{
                "overwrite": lambda: open(path, "w").write("gone"),
                "append": lambda: open(path, "a").write("more"),
                "chmod": lambda: os.chmod(path, 0o777),
                "rename": lambda: os.rename(path, path + ".moved"),
                "remove": lambda: os.remove(path),
                "rmtree": lambda: shutil.rmtree(os.path.dirname(path)),
                "new file": lambda: open(path + ".new", "w").write("x"),
            }}
            for what, attempt in attempts.items():
                try:
                    attempt()
                    print("DID", what, path)
                except Exception as exc:
                    print("refused", what, type(exc).__name__)
        open("inside.txt", "w").write("mine")
        assert open("inside.txt").read() == "mine"
        """
    )
    verdict = run_program(attack, hostile(python_guard=guard))
    assert verdict.status == "passed", verdict
    assert "DID" not in verdict.output_tail, verdict.output_tail
    assert verdict.output_tail.count("refused") == 14
    for path in sentinels:
        assert path.read_text() == "do not touch"
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        assert sorted(p.name for p in path.parent.iterdir()) == ["sentinel.txt"]


def test_the_read_only_view_cannot_be_undone(isolation):
    if not isolation.readonly_fs:
        pytest.skip(f"no read-only view on this machine: {isolation.notes}")
    attack = program(
        """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        MS_REMOUNT, MS_BIND, CLONE_NEWUSER, CLONE_NEWNS = 32, 4096, 0x10000000, 0x20000
        print("remount", libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND, None))
        print("unshare", libc.unshare(CLONE_NEWUSER | CLONE_NEWNS))
        print("remount", libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND, None))
        """
    )
    verdict = run_program(attack, hostile())
    assert verdict.status == "passed", verdict
    results = dict.fromkeys(("remount", "unshare"), "")
    for line in verdict.output_tail.splitlines()[1:]:
        what, value = line.split()
        results[what] += value
    assert results["remount"] == "-1-1", verdict.output_tail
    if isolation.nested_userns_blocked:
        assert results["unshare"] == "-1", verdict.output_tail


def test_network_connection_never_arrives(isolation):
    guard = not isolation.net_ns
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        server.setblocking(False)
        port = server.getsockname()[1]
        attack = program(
            f"""
            import socket
            with socket.create_connection(("127.0.0.1", {port}), timeout=2) as s:
                s.sendall(b"hello from the sandbox")
            print("connected")
            """
        )
        verdict = run_program(attack, hostile(python_guard=guard))
        with pytest.raises(BlockingIOError):
            server.accept()
    assert verdict.status == "failed", verdict
    assert "connected" not in verdict.output_tail
    if guard:
        assert "xlt sandbox" in verdict.reason, "the guard refused the connection"
    else:
        assert verdict.isolation.net_ns
        assert "Connection refused" in verdict.reason or "unreachable" in verdict.reason


def test_stdout_flood_is_cut_off(backend):
    verdict = run_program(
        "while True:\n    print('x' * 1000)\n", hostile(max_output_bytes=200_000)
    )
    assert verdict.status == "error"
    assert "output limit exceeded: more than 200000 bytes" in verdict.reason
    assert verdict.seconds < 3
    assert len(verdict.output_tail) <= 2100


@pytest.mark.parametrize(
    "early_exit", ["import os\nos._exit(0)\n", "import sys\nsys.exit(0)\n"]
)
def test_exit_before_the_tests_is_not_a_pass(early_exit, backend):
    verdict = run_program(early_exit + "assert False, 'the tests'\n", hostile())
    assert verdict.status == "failed"
    assert "before its tests finished" in verdict.reason


def test_killing_its_parent_kills_only_the_launcher(backend):
    """The namespaces launcher is the program's parent and killable: the run
    ends as an error that says so. Under bubblewrap the parent is the sandbox's
    init (pid 1 of its pid namespace), which the kernel does not let the
    program signal: the attack changes nothing. Either way the evaluator goes
    on."""
    attack = program(
        """
        import os, signal, time
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(2)
        print("survived")
        """
    )
    verdict = run_program(attack, hostile())
    if backend == "namespaces":
        assert verdict.status == "error", verdict
        assert "launcher" in verdict.reason and "SIGKILL" in verdict.reason
        assert "survived" not in verdict.output_tail
    else:
        assert verdict.status == "passed", verdict
        assert "survived" in verdict.output_tail
    assert run_program("print('evaluator alive')\n").status == "passed"


def test_a_descendant_that_leaves_the_session_is_killed_too(isolation):
    token = "xltd" + uuid.uuid4().hex[:8]
    escapee = program(
        f"""
        import ctypes, os, time
        if os.fork() == 0:
            os.setsid()
            libc = ctypes.CDLL(None)
            libc.prctl(15, {token.encode()!r}, 0, 0, 0)
            libc.prctl(1, 0, 0, 0, 0)  # no parent-death signal either
            time.sleep(60)
            os._exit(0)
        time.sleep(0.3)
        """
    )
    verdict = run_program(escapee, hostile())
    assert verdict.status == "passed", verdict
    if not isolation.pid_ns:
        pytest.skip("without a pid namespace a setsid() descendant can escape")
    assert_no_leftovers(token)


def test_file_size_and_disk_limits(isolation):
    big = run_program(
        "open('big', 'wb').write(b'x' * 3_000_000)\n", hostile(max_file_bytes=1_000_000)
    )
    assert big.status == "error" and "file size limit" in big.reason, big
    if not isolation.private_tmp:
        pytest.skip("no private tmpfs: the disk limit is the host disk's")
    many = "for i in range(10):\n    open(f'f{i}', 'wb').write(b'x' * 900_000)\n"
    full = run_program(many, hostile(max_disk_bytes=2_000_000))
    assert full.status == "error" and "disk limit exceeded" in full.reason, full


def test_isolation_is_recorded(isolation, backend):
    verdict = run_program("pass\n")
    assert verdict.isolation is not None
    assert verdict.isolation.python_guard
    assert verdict.isolation.backend == backend
    assert verdict.isolation.summary().startswith(f"{backend}: ")
    if isolation.net_ns:
        assert verdict.isolation.network_blocked


def test_guard_layer_refuses_what_the_kernel_would_allow(tmp_path):
    """The guard alone (namespaces off): writes outside, sockets, subprocesses."""
    target = tmp_path / "victim.txt"
    target.write_text("safe")
    target.chmod(0o666)
    tmp_path.chmod(0o777)  # writable for whoever the program runs as
    try:
        for attack, refusal in [
            (f"open({str(target)!r}, 'w').write('x')\n", "writing outside"),
            (
                "import socket\nsocket.socket().connect(('127.0.0.1', 9))\n",
                "socket.connect is not allowed",
            ),
            (
                "import _posixsubprocess, os\nos.execv('/bin/true', ['true'])\n",
                "os.exec is not allowed",
            ),
        ]:
            verdict = run_program(attack, Limits(timeout_s=10, namespaces=False))
            assert verdict.status == "failed", verdict
            assert refusal in verdict.reason, verdict.reason
    finally:
        tmp_path.chmod(0o700)
    assert target.read_text() == "safe"


def test_check_completions_goes_on_after_each_hostile_program(backend):
    problems = {
        "P/0": {
            "program_prefix": "def f():\n",
            "test_program": "assert f() == 1\n",
        }
    }
    samples = [
        {"task_id": "P/0", "completion": "    while True:\n        pass\n"},
        {"task_id": "P/0", "completion": "    import os\n    os._exit(0)\n"},
        {"task_id": "P/0", "completion": "    return 1\n"},
        {"task_id": "P/0", "completion": "    return 2\n"},
        {"task_id": "P/0", "completion": "    print('x' * 10**7)\n"},
    ]
    results = check_completions(
        problems, samples, Limits(timeout_s=3, max_output_bytes=100_000), workers=2
    )
    assert [r.completion_index for r in results] == [0, 1, 2, 3, 4]
    assert [r.verdict.status for r in results] == [
        "timed_out",
        "failed",
        "passed",
        "failed",
        "error",
    ]
    assert results[3].verdict.reason == "AssertionError"


def test_check_completions_refuses_unknown_task_ids_before_running():
    problems = {"HumanEval/1": {"program_prefix": "", "test_program": "pass\n"}}
    with pytest.raises(InputError, match=r"unknown task_id 'HumanEval/2'.*HumanEval/1"):
        check_completions(problems, [{"task_id": "HumanEval/2", "completion": ""}])
