"""Shared fixtures: workspaces, small custom tasks on local files, CLI helpers."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Nothing in the tests may reach the hub: fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Engine processes run side by side in the tests: idle OpenMP threads that spin
# would slow each of them several-fold on a 2-core machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


POSITIVE = ["great", "good", "excellent", "lovely", "superb", "wonderful"]
NEGATIVE = ["bad", "awful", "terrible", "poor", "horrible", "dreadful"]
THINGS = ["film", "meal", "phone", "hotel", "book", "concert", "game"]


def write_sentiment_files(
    folder: Path, n_train=400, n_eval=60, langs=("en", "de"), seed=0
) -> dict[str, Path]:
    """A small learnable sentiment task as JSONL files (label names as strings)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)

    def make(path: Path, n: int) -> Path:
        with open(path, "w", encoding="utf-8") as fh:
            for _ in range(n):
                positive = rng.random() < 0.5
                word = rng.choice(POSITIVE if positive else NEGATIVE)
                text = (
                    f"the {rng.choice(THINGS)} was {word}, {rng.randint(1, 99)} times"
                )
                label = "positive" if positive else "negative"
                fh.write(json.dumps({"text": text, "label": label}) + "\n")
        return path

    files = {
        "train": make(folder / "train.jsonl", n_train),
        "validation": make(folder / "dev.jsonl", n_eval),
    }
    for lang in langs:
        files[f"test.{lang}"] = make(folder / f"test.{lang}.jsonl", n_eval)
    return files


def experiment_toml(
    name="exp",
    intermediate=("sent",),
    targets=("sent",),
    extra="",
    epochs=3,
    seeds=(1,),
    languages=("en", "de"),
) -> str:
    tests = "\n".join(f'{lang} = "data/test.{lang}.jsonl"' for lang in languages)
    return (
        textwrap.dedent(f"""\
        name = "{name}"
        model = "xlt-tiny"
        intermediate = {json.dumps(list(intermediate))}
        targets = {json.dumps(list(targets))}
        seeds = {json.dumps(list(seeds))}
        {extra}
        [train]
        learning_rate = 1e-3
        epochs = {epochs}
        batch_size = 16
        max_seq_length = 64
        log_every = 2

        [tasks.sent]
        kind = "classification"
        labels = ["negative", "positive"]
        [tasks.sent.files]
        train = "data/train.jsonl"
        validation = "data/dev.jsonl"
        [tasks.sent.files.test]
        """)
        + tests
        + "\n"
    )


@pytest.fixture
def experiment(tmp_path: Path):
    """A config with one custom sentiment task used as intermediate and target."""

    def make(**kwargs) -> Path:
        write_sentiment_files(
            tmp_path / "data", langs=kwargs.get("languages", ("en", "de"))
        )
        path = tmp_path / f"{kwargs.get('name', 'exp')}.toml"
        path.write_text(experiment_toml(**kwargs), encoding="utf-8")
        return path

    return make


def engine_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "engine.cli", *args]


def run_engine(*args: str, timeout=600, **kwargs) -> subprocess.CompletedProcess:
    """Run `xlt-engine` in a child process, as a user would."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        engine_cmd(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=kwargs.pop("cwd", REPO),
        env=env,
        **kwargs,
    )
