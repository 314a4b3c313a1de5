"""Translated training data: translate-train targets and translated
intermediate tasks (train_languages). The training split concatenates every
training language's file, the stage keys cover each of them, and a config
that names a language without a file (or a file without its language) is
refused with exit code 2."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from engine.config import load_config
from engine.data.records import load_records
from engine.errors import InputError
from engine.pipeline import make_plan
from tests.conftest import run_engine, write_sentiment_files

CONFIG = """\
name = "translate-train"
model = "xlt-tiny"
intermediate = ["nli"]
targets = ["sent"]
seeds = [1]

[train]
learning_rate = 1e-3
epochs = 1
batch_size = 16
max_seq_length = 48
log_every = 1

[tasks.nli]                     # a translated intermediate task
kind = "classification"
labels = ["negative", "positive"]
train_languages = ["de", "fr"]  # English left out: translated data only
[tasks.nli.files]
train = {{ de = "inter/train.jsonl", fr = "inter/dev.jsonl" }}
validation = "inter/test.en.jsonl"

[tasks.sent]                    # translate-train: English + German training data
kind = "classification"
labels = ["negative", "positive"]
{train_languages}
[tasks.sent.files]
train = {{ en = "data/train.jsonl", de = "data/train.de.jsonl" }}
validation = "data/dev.jsonl"
test = {{ en = "data/test.en.jsonl", de = "data/test.de.jsonl" }}
"""


@pytest.fixture
def translated(tmp_path: Path):
    def make(train_languages: str = "") -> Path:
        files = write_sentiment_files(tmp_path / "data", n_train=48, n_eval=16)
        german = write_sentiment_files(tmp_path / "de", n_train=32, n_eval=8, seed=5)
        german["train"].replace(tmp_path / "data" / "train.de.jsonl")
        write_sentiment_files(tmp_path / "inter", n_train=16, n_eval=16, seed=9)
        assert files["train"].is_file()
        path = tmp_path / "exp.toml"
        text = CONFIG.format(train_languages=train_languages)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return make


def test_training_split_concatenates_every_language(translated):
    config = load_config(translated())
    sent, nli = config.task("sent"), config.task("nli")
    assert sent.training_languages == ("en", "de")
    assert nli.training_languages == ("de", "fr")
    assert len(load_records(sent, "train", "en")) == 48 + 32
    assert len(load_records(sent, "train", "de")) == 32  # one language alone
    assert len(load_records(nli, "train", "en")) == 16 + 16
    # The resolved config, written back and read again, trains the same.
    assert config.to_toml_dict()["tasks"]["sent"]["files"]["train"].keys() == {
        "en",
        "de",
    }


def test_stage_keys_change_when_one_translated_file_changes(translated, tmp_path):
    path = translated()
    before = {s.id: s.key for s in make_plan(load_config(path), None).stages}
    german = tmp_path / "data" / "train.de.jsonl"
    german.write_text(german.read_text().replace("the ", "die ", 1))
    after = {s.id: s.key for s in make_plan(load_config(path), None).stages}
    changed = {sid for sid in before if before[sid] != after[sid]}
    # Every stage training on `sent` (the targets), nothing else.
    assert changed == {
        "target/sent/from-baseline/seed1",
        "target/sent/from-nli/seed1",
    }
    french = tmp_path / "inter" / "dev.jsonl"  # nli's fr training file
    french.write_text(french.read_text().replace("the ", "le ", 1))
    again = {s.id: s.key for s in make_plan(load_config(path), None).stages}
    assert again["intermediate/nli/seed1"] != after["intermediate/nli/seed1"]


@pytest.mark.slow
def test_translate_train_runs_end_to_end(translated, tmp_path):
    path = translated()
    ws = tmp_path / "ws"
    done = run_engine("run", str(path), "--workspace", str(ws))
    assert done.returncode == 0, done.stderr[-3000:]
    events = [
        json.loads(line)
        for run in (ws / "runs").iterdir()
        for line in (run / "events.jsonl").read_text().splitlines()
    ]

    def steps(stage: str) -> int:
        return max(
            e["total_steps"]
            for e in events
            if e["type"] == "step" and e["stage"] == stage
        )

    # One epoch of batches of 16: English 48 + German 32 = 80 -> 5 steps
    # (English alone would be 3); nli's de 16 + fr 16 -> 2.
    assert steps("target/sent/from-baseline/seed1") == 5
    assert steps("intermediate/nli/seed1") == 2
    results = [
        json.loads(line)
        for line in (ws / "results.jsonl").read_text().splitlines()
        if line.strip()
    ]
    assert {(r["intermediate"], r["language"]) for r in results} == {
        (choice, lang) for choice in ("baseline", "nli") for lang in ("en", "de")
    }


def _rejected(path: Path, workspace: Path, *fragments: str) -> None:
    result = run_engine("run", str(path), "--workspace", str(workspace), "--dry-run")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def test_a_training_language_without_its_file_is_refused(translated, workspace):
    path = translated('train_languages = ["en", "es"]')
    _rejected(
        path,
        workspace,
        "tasks.sent.train_languages",
        "language 'es' has no training file in [tasks.sent.files.train]",
        "training files: en, de",
    )


def test_a_training_file_of_an_unlisted_language_is_refused(translated, workspace):
    path = translated('train_languages = ["en"]')
    _rejected(
        path,
        workspace,
        "tasks.sent.files.train.de",
        "'de' has a training file but is not one of train_languages (en)",
    )


def test_a_missing_translated_file_is_refused(translated, workspace, tmp_path):
    path = translated()
    (tmp_path / "data" / "train.de.jsonl").unlink()
    _rejected(path, workspace, "tasks.sent.files.train.de", "does not exist")


def _hub_config(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(
        textwrap.dedent(f"""\
        model = "xlt-tiny"
        targets = ["xnli", "xquad"]
        {table}
        """),
        encoding="utf-8",
    )
    return path


def test_translate_train_from_the_hub_splits(tmp_path):
    """XNLI's hub configs carry each language's machine-translated MultiNLI
    training set: train_languages reads them, and the key holds each."""
    plain = load_config(_hub_config(tmp_path, ""))
    path = _hub_config(tmp_path, '[data.xnli]\ntrain_languages = ["en", "de", "fr"]')
    config = load_config(path)
    assert config.task("xnli").training_languages == ("en", "de", "fr")

    def key(c) -> str:
        return next(s.key for s in make_plan(c, None).stages if s.target == "xnli")

    assert key(config) != key(plain)
    table = config.to_toml_dict()["data"]["xnli"]
    assert table["train_languages"] == ["en", "de", "fr"]


def test_translate_train_is_refused_where_the_hub_has_no_translation(tmp_path):
    """XQuAD trains on SQuAD v1.1 whatever the language (google/xtreme's
    SQuAD config): no translated copy on the hub, so a local file is asked
    for instead of training on English twice."""
    path = _hub_config(tmp_path, '[data.xquad]\ntrain_languages = ["en", "de"]')
    with pytest.raises(InputError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "data.xquad.train_languages" in message
    # google/xtreme holds SQuAD in English only: the message says where a
    # translation goes and where XTREME publishes one.
    assert "no 'de' training data on the hub (it has: en)" in message
    assert "[data.xquad] files.train.de" in message
    assert "xtreme_translations" in message

    path = _hub_config(tmp_path, '[data.xnli]\ntrain_languages = ["en", "xx"]')
    with pytest.raises(InputError, match="no 'xx' training data on the hub"):
        load_config(path)
