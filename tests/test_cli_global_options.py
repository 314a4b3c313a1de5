"""Global options before the command (`xlt-engine -w DIR run CFG`), as a
researcher types them; after the command they keep working."""

from __future__ import annotations

import json

from engine.store import Store
from tests.conftest import run_engine


def test_workspace_before_the_command(tmp_path, experiment):
    ws = tmp_path / "elsewhere"
    Store(ws / "xlt.json").create_run({"id": "r-here", "status": "finished"})
    for args in (
        ("--workspace", str(ws), "runs", "--json"),
        ("-w", str(ws), "runs", "--json"),
        ("runs", "--json", "--workspace", str(ws)),
    ):
        out = run_engine(*args)
        assert out.returncode == 0, (args, out.stderr)
        assert [r["id"] for r in json.loads(out.stdout)] == ["r-here"], args
    # The command's own option wins over the global one.
    out = run_engine("-w", str(tmp_path / "empty"), "runs", "--json", "-w", str(ws))
    assert [r["id"] for r in json.loads(out.stdout)] == ["r-here"]
    # A dry run plans against the global workspace (its store, its checkpoints).
    config = experiment()
    out = run_engine("--workspace", str(ws), "run", str(config), "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "plan for 'exp'" in out.stdout


def test_tasks_with_a_config_lists_its_custom_tasks(experiment):
    config = experiment()
    out = run_engine("tasks", str(config), "--json")
    assert out.returncode == 0, out.stderr
    by_name = {t["name"]: t for t in json.loads(out.stdout)}
    assert by_name["sent"]["defined_in"] == str(config)
    assert by_name["sent"]["languages"] == ["en", "de"]
    assert "xnli" in by_name  # the built-ins are still there
    table = run_engine("tasks", str(config))
    assert "sent *" in table.stdout
    assert "custom tasks of" in table.stdout
    missing = run_engine("tasks", str(config) + ".nosuch")
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
