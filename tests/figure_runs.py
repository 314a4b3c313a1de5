"""A finished run written straight into a workspace (store record, results,
events), as the engine writes them: the figure and report tests need its
shape, not a trained model."""

from __future__ import annotations

import json
from pathlib import Path

from engine.store import Store
from engine.workspace import Workspace

RUN_ID = "20261203-120000-fig-0001"
TARGETS = ("xnli", "pawsx")
INTERMEDIATES = ("mnli", "squad", "cosmos")
LANGUAGES = ("de", "ru", "zh")
# Each intermediate's change against the baseline, in points: what the
# figures must show.
GAIN = {"mnli": 0.04, "squad": -0.02, "cosmos": 0.01}
# Each intermediate's last English validation check (two seeds: the mean).
VALIDATION = {"mnli": (0.80, 0.84), "squad": (0.60, 0.62), "cosmos": (0.70, 0.70)}
HOSTILE_NAME = "fig<script>alert('x')</script>"


def write_run(root: Path, name: str = HOSTILE_NAME, baseline: bool = True) -> Workspace:
    ws = Workspace.open(root)
    store = Store(ws)
    store.create_run(
        {
            "id": RUN_ID,
            "name": name,
            "status": "finished",
            "config": {"name": name, "model": "xlt-tiny", "seeds": [1, 2]},
            "config_file": "/home/u/exp.toml",
            "started_at": 1795684629.0,
            "ended_at": 1795685240.0,
            "host": "box",
            "command": "xlt-engine run exp.toml",
            "provenance": {"xlt": "0.1", "git_commit": "abc123", "device": "cpu"},
        }
    )
    rows = (("baseline",) if baseline else ()) + INTERMEDIATES
    records = []
    for t_index, target in enumerate(TARGETS):
        for seed in (1, 2):
            for row in rows:
                for l_index, lang in enumerate(LANGUAGES):
                    value = 0.6 + 0.01 * l_index + 0.02 * t_index
                    value += GAIN.get(row, 0.0) + 0.002 * seed
                    record = {
                        "run_id": RUN_ID,
                        "seed": seed,
                        "model": "xlt-tiny",
                        "intermediate": row,
                        "target": target,
                        "language": lang,
                        "split": "test",
                        "metric": "accuracy",
                        "value": round(value, 6),
                        "n_examples": 100,
                    }
                    if target == "pawsx":
                        record["comparable"] = False
                        record["not_comparable"] = "test set subsampled to 100"
                    records.append(record)
    store.add_results(records)
    events = [
        {"type": "header", "schema": "xlt.events", "version": 1, "run_id": RUN_ID}
    ]
    for name_, checks in VALIDATION.items():
        for seed, final in zip((1, 2), checks, strict=True):
            stage = f"intermediate/{name_}/seed{seed}"
            events.append(
                {
                    "type": "stage_start",
                    "stage": stage,
                    "kind": "intermediate",
                    "task": name_,
                }
            )
            for step in (5, 10, 15, 20):
                events.append(
                    {"type": "step", "stage": stage, "step": step, "loss": 1.0 / step}
                )
            for step, value in ((10, final - 0.1), (20, final)):
                events.append(
                    {
                        "type": "eval",
                        "stage": stage,
                        "task": name_,
                        "language": "en",
                        "split": "validation",
                        "metric": "accuracy",
                        "value": value,
                        "step": step,
                        "best": True,
                    }
                )
            events.append(
                {
                    "type": "stage_end",
                    "stage": stage,
                    "kind": "intermediate",
                    "steps": 20,
                }
            )
    stage = "target/xnli/from-mnli/seed1"
    events.append({"type": "stage_start", "stage": stage, "kind": "target"})
    for step in range(2, 42, 2):
        events.append(
            {"type": "step", "stage": stage, "step": step, "loss": 2.0 / step}
        )
    for step, value in ((10, 0.6), (20, 0.7), (30, 0.75), (40, 0.72)):
        events.append(
            {
                "type": "eval",
                "stage": stage,
                "task": "xnli",
                "language": "en",
                "split": "validation",
                "metric": "accuracy",
                "value": value,
                "step": step,
            }
        )
    events.append(
        {
            "type": "stage_end",
            "stage": stage,
            "kind": "target",
            "best_step": 30,
            "steps": 40,
        }
    )
    path = ws.run_events(RUN_ID)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps({"t": 0.0, **e}) + "\n" for e in events), encoding="utf-8"
    )
    return ws
