"""Which sandbox runs a program: asked for in Limits or XLT_SANDBOX, else
bubblewrap where it works, else the namespaces launcher, and the verdict says
which. An explicit choice that cannot be honoured is an error that says so,
never a quiet fallback."""

from __future__ import annotations

import sys

import pytest

from engine.codeeval.sandbox import Limits, run_program
from engine.codeeval.sandbox import bubblewrap as bubblewrap_backend

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the sandbox's layers are Linux"
)

FAKE_HELP = """usage: bwrap [OPTIONS...] [--] COMMAND [ARGS...]
    --unshare-all                Unshare every namespace we support by default
    --die-with-parent            Kills with SIGKILL child process
    --json-status-fd FD          Write container status to FD
    --size BYTES                 Set size of next argument (only for --tmpfs)
    --perms OCTAL                Set permissions of next argument
"""


@pytest.fixture
def no_bwrap(monkeypatch, tmp_path):
    """A machine without bubblewrap: nothing on PATH, nothing in /usr/bin."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(bubblewrap_backend, "FALLBACK_PATHS", ())
    monkeypatch.delenv("XLT_SANDBOX", raising=False)


@pytest.fixture
def broken_bwrap(monkeypatch, tmp_path):
    """A bwrap that is installed but cannot make namespaces (as in a container
    that forbids them)."""
    folder = tmp_path / "broken-bin"
    folder.mkdir()
    (folder / "help.txt").write_text(FAKE_HELP)
    script = folder / "bwrap"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = --help ]; then cat {folder / "help.txt"}; exit 0; fi\n'
        'echo "bwrap: No permissions to create new namespace" >&2\n'
        "exit 1\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    monkeypatch.delenv("XLT_SANDBOX", raising=False)


def test_bubblewrap_asked_for_where_it_is_missing_is_a_clear_error(
    no_bwrap, monkeypatch
):
    verdict = run_program("print('hi')\n", Limits(backend="bubblewrap"))
    assert verdict.status == "error"
    assert verdict.reason.startswith("the sandbox could not start: bubblewrap was")
    assert "Limits(backend='bubblewrap')" in verdict.reason
    assert "not installed" in verdict.reason and "bwrap" in verdict.reason
    assert verdict.isolation is None
    monkeypatch.setenv("XLT_SANDBOX", "bubblewrap")
    verdict = run_program("print('hi')\n")
    assert verdict.status == "error"
    assert "(XLT_SANDBOX=bubblewrap)" in verdict.reason
    assert "hi" not in verdict.output_tail


def test_auto_falls_back_to_the_namespaces_launcher_and_says_why(no_bwrap):
    verdict = run_program("print('hi')\n")
    assert verdict.status == "passed", verdict
    assert verdict.isolation.backend == "namespaces"
    assert any(
        note.startswith("bubblewrap not used: no bwrap on PATH")
        for note in verdict.isolation.notes
    ), verdict.isolation.notes


def test_a_broken_bwrap_fails_loudly_when_asked_for_and_is_skipped_by_auto(
    broken_bwrap,
):
    asked = run_program("print('hi')\n", Limits(backend="bubblewrap"))
    assert asked.status == "error", asked
    assert asked.reason == (
        "the sandbox could not start: bwrap: No permissions to create new namespace"
    )
    assert asked.isolation is None
    auto = run_program("print('hi')\n")
    assert auto.status == "passed", auto
    assert auto.isolation.backend == "namespaces"
    assert any(
        "bubblewrap not used: its probe failed: bwrap: No permissions" in note
        for note in auto.isolation.notes
    ), auto.isolation.notes


def test_the_environment_variable_chooses_and_limits_override_it(monkeypatch):
    monkeypatch.setenv("XLT_SANDBOX", "namespaces")
    assert run_program("pass\n").isolation.backend == "namespaces"
    if bubblewrap_backend.unusable_reason() is None:
        monkeypatch.setenv("XLT_SANDBOX", "bubblewrap")
        assert run_program("pass\n").isolation.backend == "bubblewrap"
        verdict = run_program("pass\n", Limits(backend="namespaces"))
        assert verdict.isolation.backend == "namespaces"
    monkeypatch.setenv("XLT_SANDBOX", "docker")
    verdict = run_program("pass\n")
    assert verdict.status == "error"
    assert "XLT_SANDBOX='docker' is not a sandbox backend" in verdict.reason
    assert "auto, bubblewrap, namespaces" in verdict.reason


def test_limits_refuse_an_unknown_or_contradictory_backend():
    with pytest.raises(ValueError, match="one of auto, bubblewrap, namespaces"):
        Limits(backend="docker")
    with pytest.raises(ValueError, match="contradicts"):
        Limits(backend="bubblewrap", namespaces=False)
