"""`xlt` rejects bad arguments like xlt-engine: one line, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def run_xlt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "xlt_tui.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


def test_missing_config_file(tmp_path):
    out = run_xlt("--workspace", str(tmp_path), "sample_configs/demo.tmol")
    assert out.returncode == 2
    assert "config file 'sample_configs/demo.tmol' does not exist" in out.stderr
    assert "Traceback" not in out.stderr


def test_unknown_screen_suggests_the_nearest(tmp_path):
    out = run_xlt("--workspace", str(tmp_path), "--screen", "result")
    assert out.returncode == 2
    assert "did you mean 'results'" in out.stderr
