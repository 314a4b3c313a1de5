"""Model selection as the paper's toolkit did it, and seeds (issue 10, items
3 and 7): checks every eval_every steps on a subset of English validation,
early stopping after `patience` checks without improvement, the best step
kept, a warning when there is only one check; the stage's seed draws the
heads."""

from __future__ import annotations

import json

import pytest
import torch

from engine.config import load_config
from tests.conftest import run_engine


def run_baseline(experiment, workspace, target_table: str) -> list[dict]:
    """Train and evaluate the baseline's target only; its events."""
    cfg = experiment(intermediate=(), epochs=2, extra="")
    text = cfg.read_text().replace(
        "[train]\n", f"[train.target]\n{target_table}\n[train]\n"
    )
    cfg.write_text(text)
    out = run_engine(
        "run", str(cfg), "--workspace", str(workspace), "--run-id", "r1", "--plain"
    )
    assert out.returncode == 0, out.stderr + out.stdout
    path = workspace / "runs" / "r1" / "events.jsonl"
    return [json.loads(line) for line in path.open()]


def checks(events: list[dict]) -> list[dict]:
    return [e for e in events if e["type"] == "eval" and e.get("split") == "validation"
            and "step" in e]  # fmt: skip


@pytest.mark.slow
def test_early_stopping_keeps_the_best_step(experiment, workspace):
    # A learning rate too small to change any prediction: the first check is
    # the best, and two more without improvement stop training.
    events = run_baseline(
        experiment,
        workspace,
        "learning_rate = 1e-12\neval_every = 3\npatience = 2",
    )
    steps = [e["step"] for e in checks(events)]
    assert steps == [3, 6, 9]
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    assert any("early stopping at step 9" in m for m in warnings), warnings
    end = next(e for e in events if e["type"] == "stage_end" and e["kind"] == "target")
    assert end["steps"] == 9 and end["best_step"] == 3 and end["stopped_early"]


@pytest.mark.slow
def test_selection_reads_the_first_n_validation_examples(experiment, workspace):
    events = run_baseline(
        experiment, workspace, "eval_every = 10\nselection_examples = 8"
    )
    values = [e["value"] for e in checks(events)]
    assert len(values) >= 2
    # Accuracy over 8 examples is a multiple of 1/8 (over all 60 it would not be).
    assert all(abs(v * 8 - round(v * 8)) < 1e-6 for v in values), values
    # The zero-shot scores still read the whole test files.
    finals = [e for e in events if e["type"] == "eval" and e.get("final")]
    assert {e["n_examples"] for e in finals} == {60}


@pytest.mark.slow
def test_one_check_only_is_warned_about(experiment, workspace):
    events = run_baseline(experiment, workspace, "eval_every = 1000")
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    assert any("leaves one validation check" in m for m in warnings), warnings


def test_the_stages_seed_draws_the_heads(experiment, tmp_path):
    from engine.kinds import load_kind
    from engine.models.families import EncoderFamily
    from engine.models.loading import resolve_model_path
    from engine.models.tiny import TINY_NAME
    from engine.workspace import Workspace

    config = load_config(experiment())
    task = config.task("sent")
    family = EncoderFamily()
    path = resolve_model_path(TINY_NAME, Workspace.open(tmp_path / "ws"))
    tokenizer = family.tokenizer(path)
    heads = [(task, load_kind(task.kind))]

    def head_weights(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(1234)  # whatever ran before in the process
        model = family.training_model(path, tokenizer, heads, seed)
        return [p.detach().clone() for p in model.heads.parameters()]

    one, again, two = head_weights(1), head_weights(1), head_weights(2)
    assert all(torch.equal(a, b) for a, b in zip(one, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(one, two, strict=True))
