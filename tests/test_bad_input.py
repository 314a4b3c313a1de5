"""Bad input: one clear message, exit code 2, no traceback, nothing in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_engine


def assert_rejected(result, *fragments: str, workspace: Path) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    message = result.stderr
    assert "Traceback" not in message + result.stdout
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    # Nothing half-written: no store, no run folder.
    assert not (workspace / "xlt.json").exists()
    assert not (workspace / "runs").exists()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_unknown_key_names_file_key_and_nearest(experiment, workspace):
    cfg = experiment()
    edit(cfg, "learning_rate = 1e-3", "learning_rat = 1e-3")
    result = run_engine("run", str(cfg), "--workspace", str(workspace))
    assert_rejected(
        result,
        cfg.name,
        "learning_rat",
        "did you mean 'learning_rate'",
        "[train]",
        workspace=workspace,
    )


def test_wrong_type(experiment, workspace):
    cfg = experiment()
    edit(cfg, "batch_size = 16", 'batch_size = "sixteen"')
    result = run_engine("run", str(cfg), "--workspace", str(workspace))
    assert_rejected(
        result,
        "train.intermediate.batch_size",
        "expected an integer",
        "'sixteen'",
        workspace=workspace,
    )


def test_out_of_range_value(experiment, workspace):
    cfg = experiment()
    edit(cfg, "learning_rate = 1e-3", "learning_rate = -1.0")
    result = run_engine("run", str(cfg), "--workspace", str(workspace))
    assert_rejected(result, "learning_rate", "> 0", workspace=workspace)


def test_unknown_task_suggests_nearest(experiment, workspace):
    cfg = experiment()
    edit(cfg, 'targets = ["sent"]', 'targets = ["xnil"]')
    result = run_engine("run", str(cfg), "--workspace", str(workspace))
    assert_rejected(
        result,
        "targets",
        "unknown task 'xnil'",
        "did you mean 'xnli'",
        workspace=workspace,
    )


def test_unknown_language(experiment, workspace):
    cfg = experiment()
    cfg.write_text(
        cfg.read_text().replace(
            "seeds = [1]", 'seeds = [1]\n[languages]\nsent = ["en", "dee"]'
        )
    )
    result = run_engine("run", str(cfg), "--workspace", str(workspace))
    assert_rejected(
        result,
        "languages.sent",
        "unknown language 'dee'",
        "did you mean 'de'",
        workspace=workspace,
    )


def test_missing_data_file(experiment, workspace):
    cfg = experiment()
    edit(cfg, 'validation = "data/dev.jsonl"', 'validation = "data/devv.jsonl"')
    result = run_engine("run", str(cfg), "--workspace", str(workspace))
    assert_rejected(
        result,
        "tasks.sent.files.validation",
        "devv.jsonl",
        "does not exist",
        "did you mean 'dev.jsonl'",
        workspace=workspace,
    )


def test_jsonl_line_that_does_not_parse(experiment, workspace, tmp_path):
    cfg = experiment()
    data = tmp_path / "data" / "train.jsonl"
    lines = data.read_text().splitlines()
    lines[6] = '{"text": "the film was great", "label": "positive"'  # no closing brace
    data.write_text("\n".join(lines) + "\n")
    result = run_engine("run", str(cfg), "--workspace", str(workspace))
    assert_rejected(result, f"{data}:7", "not valid JSON", workspace=workspace)


def test_label_not_in_label_set(experiment, workspace, tmp_path):
    cfg = experiment()
    data = tmp_path / "data" / "dev.jsonl"
    lines = data.read_text().splitlines()
    lines[2] = '{"text": "fine", "label": "positiv"}'
    data.write_text("\n".join(lines) + "\n")
    result = run_engine("run", str(cfg), "--workspace", str(workspace))
    assert_rejected(
        result, f"{data}:3", "'positiv'", "did you mean 'positive'", workspace=workspace
    )


def test_model_path_that_does_not_exist(experiment, workspace):
    cfg = experiment()
    edit(cfg, 'model = "xlt-tiny"', 'model = "./models/my-encoder"')
    result = run_engine("run", str(cfg), "--workspace", str(workspace))
    assert_rejected(
        result, "model", "my-encoder", "does not exist", workspace=workspace
    )


def test_model_typo_suggests_builtin(experiment, workspace):
    cfg = experiment()
    edit(cfg, 'model = "xlt-tiny"', 'model = "xlt_tiny!"')
    result = run_engine("run", str(cfg), "--workspace", str(workspace))
    assert_rejected(result, "model", "did you mean 'xlt-tiny'", workspace=workspace)


def test_toml_syntax_error_names_line(experiment, workspace):
    cfg = experiment()
    edit(cfg, "epochs = 3", "epochs = = 3")
    result = run_engine("run", str(cfg), "--workspace", str(workspace))
    assert_rejected(result, cfg.name, "not valid TOML", "line", workspace=workspace)


def test_missing_config_file(workspace, tmp_path):
    result = run_engine(
        "run", str(tmp_path / "nope.toml"), "--workspace", str(workspace)
    )
    assert_rejected(result, "nope.toml", "does not exist", workspace=workspace)


def test_fp16_on_cpu_is_refused_before_anything_is_written(experiment, workspace):
    cfg = experiment(extra='precision = "fp16"\ndevice = "cpu"')
    result = run_engine("run", str(cfg), "--workspace", str(workspace))
    assert_rejected(result, "fp16", "CUDA", workspace=workspace)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["results", "--format", "markdwn"], "did you mean 'markdown'"),
        (["results", "--run", "no-such-run"], "no run 'no-such-run'"),
        (["cancel", "no-such-run"], "no run 'no-such-run'"),
    ],
)
def test_bad_cli_arguments(args, fragment, workspace):
    result = run_engine(*args, "--workspace", str(workspace))
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
