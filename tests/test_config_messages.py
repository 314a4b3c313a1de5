"""Config errors as users read them: one line naming the file, the line, the key,
what was expected and the nearest valid value; never pydantic's own dump."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.config import HPARAM_NAMES, load_config, parse_config
from engine.errors import InputError
from tests.conftest import run_engine

BASE = """\
name = "messages"
model = "xlt-tiny"
intermediate = ["demo-topic", "both"]
targets = ["demo-xqa"]
seeds = [1]

[groups.both]
tasks = ["demo-topic", "demo-trivia-qa"]
sampling = "temperature"

[generation]
max_new_tokens = 64

[data.xnli]
revision = "abc"

[train]
batch_size = 8
max_seq_length = 64

[train.intermediate]
learning_rate = 1e-3

[train.tasks.demo-xqa]
max_seq_length = 96
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def message_for(tmp_path: Path, old: str, new: str) -> tuple[str, Path]:
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(InputError) as err:
        load_config(path)
    return str(err.value), path


def line_number(path: Path, text: str) -> int:
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(text))


def test_the_base_config_is_valid(tmp_path):
    config = load_config(write(tmp_path, BASE))
    assert config.hparams_for("target", "demo-xqa").max_seq_length == 96


@pytest.mark.parametrize(
    "line, typo, table",
    [
        ('model = "xlt-tiny"', "modle", "at the top level"),
        ("learning_rate = 1e-3", "learnin_rate", "in [train.intermediate]"),
        ("batch_size = 8", "bach_size", "in [train]"),
        ("max_seq_length = 96", "max_seq_lenght", "in [train.tasks.demo-xqa]"),
        ("max_new_tokens = 64", "max_new_token", "in [generation]"),
        ('sampling = "temperature"', "samplng", "in [groups.both]"),
        ('revision = "abc"', "revison", "in [data.xnli]"),
    ],
)
def test_unknown_keys_anywhere_name_table_nearest_key_and_line(
    tmp_path, line, typo, table
):
    nearest = line.split(" =")[0]
    message, path = message_for(tmp_path, line, line.replace(nearest, typo))
    number = line_number(path, typo)
    assert message.startswith(f"{path}:{number}: unknown key '{typo}' {table}")
    assert f"did you mean '{nearest}'?" in message
    assert "(allowed: " in message and nearest in message.split("(allowed: ")[1]


def test_unknown_key_in_train_lists_hyperparameters_and_stage_tables(tmp_path):
    message, _ = message_for(tmp_path, "batch_size = 8", "bach_size = 8")
    allowed = message.split("(allowed: ")[1].rstrip(")").split(", ")
    assert allowed == [*HPARAM_NAMES, "intermediate", "target", "tasks"]


def test_wrong_value_is_found_under_its_table_header(tmp_path):
    message, path = message_for(tmp_path, "learning_rate = 1e-3", "learning_rate = 0")
    line = line_number(path, "learning_rate = 0")
    assert line > line_number(path, "[train.intermediate]")
    assert message == (
        f"{path}:{line}: train.intermediate.learning_rate: expected a number > 0, got 0"
    )


def test_shared_value_points_at_the_train_table_line(tmp_path):
    # Named by the stage it reaches, found where it is written: [train].
    message, path = message_for(tmp_path, "batch_size = 8", 'batch_size = "eight"')
    line = line_number(path, 'batch_size = "eight"')
    assert message.startswith(f"{path}:{line}: train.intermediate.batch_size: ")
    assert "expected an integer >= 1, got 'eight'" in message


def test_registry_errors_carry_the_line_too(tmp_path):
    message, path = message_for(tmp_path, '"demo-trivia-qa"]', '"demo-trivia"]')
    line = line_number(path, "tasks = ")
    assert message.startswith(f"{path}:{line}: groups.both.tasks: unknown task")
    assert "did you mean 'demo-trivia-qa'?" in message


def test_keys_in_inline_tables_and_quoted_headers_are_found(tmp_path):
    inline = BASE.replace(
        "seeds = [1]", 'languages = { demo-xqa = ["en", "dee"] }\nseeds = [1]'
    )
    path = write(tmp_path, inline)
    with pytest.raises(InputError) as err:
        load_config(path)
    line = line_number(path, "languages = {")
    assert str(err.value).startswith(
        f"{path}:{line}: languages.demo-xqa: unknown language 'dee'"
    )
    quoted = BASE.replace(
        "[train.tasks.demo-xqa]\nmax_seq_length = 96",
        '[train.tasks."demo-xqa"]\nmax_seq_length = 4',
    )
    path = write(tmp_path, quoted)
    with pytest.raises(InputError) as err:
        load_config(path)
    line = line_number(path, "max_seq_length = 4")
    assert str(err.value).startswith(
        f"{path}:{line}: train.tasks.demo-xqa.max_seq_length: expected an integer >= 8"
    )


def test_missing_required_key_names_the_table(tmp_path):
    message, path = message_for(tmp_path, 'model = "xlt-tiny"\n', "")
    assert message == f"{path}: missing required key 'model'"
    message, path = message_for(
        tmp_path, 'tasks = ["demo-topic", "demo-trivia-qa"]\n', ""
    )
    line = line_number(path, "[groups.both]")
    assert message == f"{path}:{line}: groups.both: missing required key 'tasks'"


def test_a_table_given_without_its_text_has_no_line_numbers():
    # The TUI validates its form's table, which is not the file as written.
    with pytest.raises(InputError) as err:
        parse_config({"model": "xlt-tiny", "targets": ["xnil"]}, "exp.toml")
    assert (
        str(err.value) == "exp.toml: targets: unknown task 'xnil'; did you mean 'xnli'?"
    )


@pytest.mark.parametrize(
    "raw",
    [
        {"model": 3, "targets": {"a": 1}, "train": [1], "seeds": ["x"]},
        {"model": "xlt-tiny", "targets": ["demo-xqa"], "train": {"target": 5}},
        {"model": "xlt-tiny", "targets": ["demo-xqa"], "tasks": {"t": {"kind": 1}}},
        {"model": "xlt-tiny", "targets": ["demo-xqa"], "generation": []},
        {"model": "xlt-tiny", "targets": ["demo-xqa"], "groups": {"g": "a"}},
        {"model": "xlt-tiny", "targets": ["demo-xqa"], "data": {"xnli": {"files": 1}}},
    ],
)
def test_every_error_is_one_line_without_pydantics_words(raw):
    with pytest.raises(InputError) as err:
        parse_config(raw, "exp.toml")
    message = str(err.value)
    assert message.startswith("exp.toml: ") and "\n" not in message
    for word in ("validation error", "pydantic", "Input should", "type="):
        assert word not in message


def test_cli_prints_file_line_and_key(tmp_path):
    path = write(tmp_path, BASE.replace("max_seq_length = 64", "max_seq_length = 6"))
    result = run_engine("run", str(path), "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 2
    line = line_number(path, "max_seq_length = 6")
    assert (
        f"{path}:{line}: train.intermediate.max_seq_length: expected an integer >= 8, "
        "got 6"
    ) in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ws" / "runs").exists()
