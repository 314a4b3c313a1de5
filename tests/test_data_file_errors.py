"""Bad local data files, as `xlt-engine run --dry-run` reports them: the
config key behind a wrong column, the split and language of an empty file,
and JSON syntax errors as file:line:column with a readable description."""

from __future__ import annotations

import json

import pytest

from engine.data.local_files import read_records
from engine.errors import InputError
from tests.conftest import run_engine


def dry_run(config):
    out = run_engine("run", str(config), "--dry-run")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    return " ".join(out.stderr.split())


def test_wrong_text_field_names_the_config_key(experiment):
    config = experiment()
    text = config.read_text().replace(
        'kind = "classification"',
        'kind = "classification"\ntext_fields = ["sentence"]',
    )
    config.write_text(text)
    message = dry_run(config)
    assert "train.jsonl:1: missing column 'sentence'" in message
    assert '[tasks.sent] text_fields = ["sentence"]' in message


def test_wrong_label_field_names_the_config_key(experiment):
    config = experiment()
    text = config.read_text().replace(
        'kind = "classification"', 'kind = "classification"\nlabel_field = "gold"'
    )
    config.write_text(text)
    assert '[tasks.sent] label_field = "gold"' in dry_run(config)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".json"])
def test_empty_file_names_split_and_language(experiment, tmp_path, suffix):
    config = experiment()
    empty = tmp_path / "data" / f"test.de{suffix}"
    empty.write_text("\n")
    config.write_text(
        config.read_text().replace("data/test.de.jsonl", f"data/test.de{suffix}")
    )
    message = dry_run(config)
    assert f"test.de{suffix}: empty file" in message
    assert "task 'sent', test split, language 'de'" in message


def test_jsonl_syntax_error_has_line_column_and_words(experiment, tmp_path):
    config = experiment()
    dev = tmp_path / "data" / "dev.jsonl"
    lines = dev.read_text().splitlines()
    lines[2] = '{"text": "tab\there", "label": "positive"}'
    dev.write_text("\n".join(lines) + "\n")
    message = dry_run(config)
    assert "dev.jsonl:3:14: not valid JSON: a raw control character" in message
    assert "found '\\t'" in message
    assert "Invalid control character at," not in message


def test_json_file_syntax_error_line_and_column(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"text": "a"}], indent=1).replace("}", "},"))
    with pytest.raises(InputError) as info:
        list(read_records(path))
    message = str(info.value)
    assert message.startswith(f"{path}:5:1: not valid JSON: a value was expected")


def test_model_json_syntax_error_is_readable(tmp_path):
    from engine.config.model_files import read_json_file

    path = tmp_path / "config.json"
    path.write_text('{\n  "model_type": "bert\tx"\n}\n')
    with pytest.raises(InputError) as info:
        read_json_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}:2:22: not valid JSON: a raw control character")
    assert "Invalid control character at," not in message
