"""`xlt --serve`: the TUI in a browser through textual-serve, on localhost by
default; a missing extra and an exposed address are said plainly."""

from __future__ import annotations

import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO
from xlt_tui import cli

pytest.importorskip("textual_serve", reason="the serve extra (pip install xlt[serve])")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch_page(url: str, deadline: float) -> str:
    """The page at `url`, retried until the server listens or `deadline`."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode("utf-8")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_serve_answers_with_the_page_on_loopback(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "xlt_tui", "--workspace", str(tmp_path / "ws")]
        + ["--serve", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        page = fetch_page(f"http://127.0.0.1:{port}/", time.monotonic() + 30)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            out, _ = server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            out, _ = server.communicate()
    # textual-serve's page: the terminal script and this server's websocket.
    assert "textual.js" in page
    assert f'data-session-websocket-url="ws://localhost:{port}/ws"' in page
    assert f"http://localhost:{port}" in out  # where it says it serves
    assert "warning" not in out


def test_each_session_runs_this_workspace_config_and_screen(tmp_path):
    ws = cli.Workspace.open(tmp_path / "my ws")
    config = REPO / "sample_configs" / "demo.toml"
    argv = shlex.split(cli.session_command(ws, config, "launch"))
    assert argv[:3] == [sys.executable, "-m", "xlt_tui"]
    assert argv[3:] == ["--workspace", str(ws.root), str(config), "--screen", "launch"]


def test_missing_extra_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "textual_serve", None)  # import fails
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)
    result = CliRunner().invoke(
        cli.cli, ["--workspace", str(tmp_path), "--serve"], catch_exceptions=False
    )
    assert result.exit_code == 2
    # The command that works for xlt installed from its folder (setup.sh).
    quoted = shlex.quote(f"{REPO}[serve]")  # brackets quoted: zsh globs them
    assert f"{sys.executable} -m pip install -e {quoted}" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("host", "warned"),
    [("localhost", False), ("127.0.0.1", False), ("0.0.0.0", True), ("box", True)],
)
def test_a_host_beyond_loopback_is_warned_about(tmp_path, monkeypatch, host, warned):
    from textual_serve.server import Server

    served: list[tuple[str, int]] = []
    monkeypatch.setattr(
        Server, "serve", lambda self, debug=False: served.append((self.host, self.port))
    )
    result = CliRunner().invoke(
        cli.cli,
        ["--workspace", str(tmp_path), "--serve", "--host", host, "--port", "8123"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert served == [(host, 8123)]
    said = "anyone who can reach this address" in " ".join(result.output.split())
    assert said == warned
    if warned:
        assert "no authentication" in " ".join(result.output.split())
