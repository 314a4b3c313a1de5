"""A workspace with fixed contents for the TUI tests: three finished-looking
runs, their results and one run's event log, all with fixed times, so screens
render the same on every machine (snapshots)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from engine.config import load_config
from engine.store import Store
from engine.workspace import Workspace
from tests.conftest import REPO

os.environ["TZ"] = "UTC"  # start times print the same everywhere
time.tzset()

T0 = 1795680000.0  # 2026-11-26 08:00 UTC
LANGS = ("en", "de", "es", "ru", "zh", "ar")
DEMO_CONFIG = REPO / "sample_configs" / "demo.toml"


def demo_config_dict() -> dict:
    return load_config(DEMO_CONFIG).to_toml_dict()


def run_record(run_id: str, status: str, start: float, seconds: float, **extra):
    return {
        "id": run_id,
        "name": "demo",
        "status": status,
        "config": demo_config_dict(),
        "config_file": str(DEMO_CONFIG),
        "started_at": start,
        "ended_at": start + seconds,
        "pid": 1,
        "pid_start": None,
        "host": socket.gethostname(),
        "device": "cpu",
        "stages_total": 8,
        "stages_done": 8 if status == "finished" else 3,
        "error": "RuntimeError: CUDA out of memory" if status == "failed" else None,
        **extra,
    }


# Zero-shot accuracy per (intermediate, language), two seeds apart by 0.02.
SCORES = {
    "baseline": (0.76, 0.55, 0.58, 0.47, 0.45, 0.44),
    "demo-topic": (0.96, 0.71, 0.69, 0.52, 0.50, 0.49),
    "demo-trivia-qa": (0.94, 0.66, 0.73, 0.50, 0.43, 0.51),
}


def result_records(run_id: str, target: str = "demo-xqa") -> list[dict]:
    out = []
    for inter, values in SCORES.items():
        for seed, shift in ((1, 0.0), (2, 0.02)):
            for lang, value in zip(LANGS, values, strict=True):
                out.append(
                    {
                        "run_id": run_id,
                        "seed": seed,
                        "model": "xlt-tiny",
                        "intermediate": inter,
                        "target": target,
                        "language": lang,
                        "split": "test",
                        "metric": "accuracy",
                        "value": round(value + shift, 4),
                        "n_examples": 300,
                    }
                )
    return out


def build_workspace(root: Path) -> Workspace:
    ws = Workspace.open(root)
    store = Store(ws.store_path)
    store.create_run(run_record("20261126-080000-demo-a1b2", "finished", T0, 353))
    store.create_run(run_record("20261126-085000-demo-c3d4", "failed", T0 + 3000, 75))
    store.create_run(
        run_record("20261126-092000-demo-e5f6", "cancelled", T0 + 4800, 130)
    )
    store.add_results(result_records("20261126-080000-demo-a1b2", "demo-xqa"))
    store.add_results(result_records("20261126-080000-demo-a1b2", "demo-sentiment"))
    rid = "20261126-080000-demo-a1b2"
    write_events(ws, rid, finished_run_events(rid))
    return ws


@pytest.fixture
def tui_workspace(tmp_path: Path) -> Workspace:
    return build_workspace(tmp_path / "ws")


def finished_run_events(run_id: str) -> list[dict]:
    """The event log of a finished demo-like run: 2 stages, fixed times."""
    t = T0
    events: list[dict] = [
        {
            "type": "header",
            "t": t,
            "run_id": run_id,
            "schema": "xlt.events",
            "version": 1,
            "producer": "xlt",
        },
        {
            "type": "run_start",
            "t": t + 1,
            "run_id": run_id,
            "name": "demo",
            "model": "xlt-tiny",
            "device": "cpu",
            "workspace": "ws",
            "pid": 1,
            "host": "box",
        },
    ]
    stages = [
        ("intermediate/demo-topic/seed1", "intermediate", {"task": "demo-topic"}),
        (
            "target/demo-xqa/from-demo-topic/seed1",
            "target",
            {
                "target": "demo-xqa",
                "intermediate": "demo-topic",
                "languages": list(LANGS),
            },
        ),
    ]
    for index, (stage, kind, extra) in enumerate(stages, start=1):
        t += 2
        events.append(
            {
                "type": "stage_start",
                "t": t,
                "stage": stage,
                "kind": kind,
                "key": f"k{index}",
                "index": index,
                "total": 2,
                "seed": 1,
                "reused": False,
                **extra,
            }
        )
        for step in range(10, 101, 10):
            t += 1.5
            events.append(
                {
                    "type": "step",
                    "t": t,
                    "stage": stage,
                    "step": step,
                    "total_steps": 100,
                    "epoch": 1 + step // 50,
                    "loss": round(0.7 * 0.97**step + 0.05, 4),
                    "lr": round(1e-3 * min(1, step / 10) * (1 - step / 110), 6),
                    "samples_per_s": 410.0 + step,
                    "tokens_per_s": 24000.0 + 10 * step,
                    "progress": step / 100,
                    "eta_s": (100 - step) * 0.15,
                }
            )
        if kind == "target":
            for lang, value in zip(LANGS, SCORES["demo-topic"], strict=True):
                t += 0.5
                events.append(
                    {
                        "type": "eval",
                        "t": t,
                        "stage": stage,
                        "task": "demo-xqa",
                        "intermediate": "demo-topic",
                        "seed": 1,
                        "language": lang,
                        "split": "test",
                        "metric": "accuracy",
                        "value": value,
                        "n_examples": 300,
                        "final": True,
                        "reused": False,
                    }
                )
        t += 1
        events.append(
            {
                "type": "stage_end",
                "t": t,
                "stage": stage,
                "kind": kind,
                "index": index,
                "total": 2,
                "seconds": 17.0,
                "reused": False,
            }
        )
    events.append(
        {
            "type": "warning",
            "t": t,
            "message": "demo warning: few examples",
            "stage": stages[1][0],
        }
    )
    events.append(
        {
            "type": "run_end",
            "t": t + 1,
            "status": "finished",
            "seconds": t + 1 - T0,
            "stages_done": 2,
            "stages_total": 2,
            "error": None,
        }
    )
    return events


def write_events(ws: Workspace, run_id: str, events: list[dict]) -> Path:
    import json

    path = ws.run_events(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    ws.run_log(run_id).write_text(
        "2026-11-26 08:00:01 INFO xlt.engine: run started\n"
        "2026-11-26 08:00:40 INFO xlt.engine: run finished\n"
    )
    return path


PARALLEL_STAGES = (
    # (stage id, device, steps done of 100): stages side by side, one per device
    ("target/demo-xqa/from-demo-topic/seed1", "cuda:0", 40),
    ("target/demo-sentiment/from-demo-topic/seed1", "cuda:1", 70),
)


def parallel_run_events(run_id: str, ended: bool = False) -> list[dict]:
    """A run whose intermediate stage finished on cuda:0, then two target
    stages running at once on cuda:0 and cuda:1, their step events
    interleaved (as the engine's per-device workers write them); `ended`:
    the first of them has ended since. Fixed times from T0."""
    events = finished_run_events(run_id)[:2]  # header, run_start
    events[1] = {**events[1], "device": "cuda:0"}
    t = T0 + 2
    plan = [{"id": "intermediate/demo-topic/seed1", "reused": False}]
    plan += [{"id": stage, "reused": False} for stage, _, _ in PARALLEL_STAGES]
    plan.append({"id": "target/demo-xqa/from-baseline/seed1", "reused": False})
    summary = {"stages": 4, "trainings": 4}
    events.append({"type": "plan", "t": t, "summary": summary, "stages": plan})
    inter = "intermediate/demo-topic/seed1"
    events += [
        {
            "type": "stage_start",
            "t": t,
            "stage": inter,
            "kind": "intermediate",
            "index": 1,
            "total": 4,
            "seed": 1,
            "reused": False,
            "task": "demo-topic",
            "device": "cuda:0",
        },
        {"type": "stage_end", "t": t + 60, "stage": inter, "index": 1, "total": 4},
    ]
    t += 60
    for index, (stage, device, _) in enumerate(PARALLEL_STAGES, start=2):
        target = stage.split("/")[1]
        events.append(
            {
                "type": "stage_start",
                "t": t,
                "stage": stage,
                "kind": "target",
                "index": index,
                "total": 4,
                "seed": 1,
                "reused": False,
                "target": target,
                "intermediate": "demo-topic",
                "languages": list(LANGS),
                "device": device,
            }
        )
    for step in range(10, 101, 10):  # interleaved: one event of each in turn
        for n, (stage, device, done) in enumerate(PARALLEL_STAGES):
            if step > done:
                continue
            t += 1.0
            speed = 400.0 + 100 * n
            events.append(
                {
                    "type": "step",
                    "t": t,
                    "stage": stage,
                    "device": device,
                    "step": step,
                    "total_steps": 100,
                    "epoch": 1,
                    "loss": round(0.7 * 0.97**step + 0.05 * (n + 1), 4),
                    "lr": 1e-4,
                    "samples_per_s": speed,
                    "tokens_per_s": 60 * speed,
                    "progress": step / 100,
                    "eta_s": (100 - step) * 0.5,
                }
            )
    if ended:
        stage = PARALLEL_STAGES[1][0]
        t += 1.0
        events.append(
            {"type": "stage_end", "t": t, "stage": stage, "index": 3, "total": 4}
        )
    return events
