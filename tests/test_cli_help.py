"""Help texts keep their square brackets: typer renders help through rich,
which reads `[ray]` as a style tag and drops it (`pip install 'xlt'`)."""

from __future__ import annotations

from typer.testing import CliRunner

from engine.cli import app as engine_app


def _help(app, *args: str) -> str:
    out = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    return " ".join(out.output.split())


def test_engine_help_keeps_extras_and_table_names():
    assert "pip install 'xlt[ray]'" in _help(engine_app, "run")
    assert "custom tasks ([tasks.NAME]) too" in _help(engine_app, "tasks")


def test_tui_help_keeps_the_serve_extra():
    from xlt_tui.cli import cli as tui_app

    assert "(needs xlt[serve])" in _help(tui_app)


def test_the_install_hint_is_a_command_that_works_here(tmp_path, monkeypatch):
    import shlex
    import sys

    from engine import extras
    from tests.conftest import REPO

    # xlt runs from its source folder (setup.sh installs it editable): the
    # hint is this interpreter's pip on this folder, not a package index name.
    assert extras.install_command("ray") == (
        f"{sys.executable} -m pip install -e {shlex.quote(f'{REPO}[ray]')}"
    )
    monkeypatch.setattr(extras, "SOURCE", tmp_path)  # an installed package
    assert extras.install_command("ray") == "pip install 'xlt[ray]'"
