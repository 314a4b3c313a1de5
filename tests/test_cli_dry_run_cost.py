"""`xlt-engine run --dry-run` says what the run costs: time per stage from
the examples it trains on and scores, at the throughput measured in this
workspace's earlier runs of the model on this device, else a stated FLOPs
guess."""

from __future__ import annotations

import json

import pytest

from engine.cost import GPU_PEAKS, MFU, device_peak, model_parameters
from engine.store import Store
from engine.workspace import Workspace
from tests.conftest import run_engine


def earlier_run(workspace, samples_per_s, model="xlt-tiny", device="cpu"):
    """A finished run of `model` on `device` whose steps ran at that speed."""
    ws = Workspace.open(str(workspace))
    Store(ws).create_run(
        {
            "id": "earlier",
            "status": "finished",
            "started_at": 1.0,
            "ended_at": 2.0,
            "device": device,
            "config": {"model": model},
        }
    )
    path = ws.run_events("earlier")
    path.parent.mkdir(parents=True)
    steps = [
        {"type": "step", "t": 1.0, "stage": "s", "step": i, "samples_per_s": rate}
        for i, rate in enumerate([samples_per_s, samples_per_s, 5 * samples_per_s])
    ]
    path.write_text("".join(json.dumps(s) + "\n" for s in steps))


def test_dry_run_times_stages_from_measured_throughput(experiment, workspace):
    earlier_run(workspace, samples_per_s=100.0)
    config = experiment()  # 400 train, 60 validation/test examples, 3 epochs
    out = run_engine("run", str(config), "--dry-run", "--workspace", str(workspace))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "measured: 100.0 training samples/s" in text
    assert "earlier run(s) of xlt-tiny on cpu (earlier" in text
    # 1,200 examples trained / 100 per s = 12 s.
    assert "intermediate/sent/seed1" in text and "~0m12s" in text
    # Target: 1,200 trained + (2 x 60 test + 3 x 60 validation) scored at 3x.
    assert "trains on 1,200 examples, scores 300" in text
    assert "~0m13s" in text
    plan = run_engine(
        "run", str(config), "--dry-run", "--json", "--workspace", str(workspace)
    )
    cost = json.loads(plan.stdout)["cost"]
    assert cost["estimate"] is True and cost["complete"] is True
    by_stage = {s["stage"]: s["seconds"] for s in cost["stages"]}
    assert by_stage["intermediate/sent/seed1"] == pytest.approx(12.0)
    assert by_stage["target/sent/from-sent/seed1"] == pytest.approx(13.0)
    assert cost["total_seconds"] == pytest.approx(12.0 + 13.0 + 13.0)


def test_other_models_or_devices_are_not_measurements(experiment, workspace):
    earlier_run(workspace, samples_per_s=100.0, device="cuda:0 (NVIDIA H200)")
    config = experiment()
    out = run_engine("run", str(config), "--dry-run", "--workspace", str(workspace))
    assert out.returncode == 0, out.stderr
    assert "measured" not in out.stdout
    assert "none possible: no earlier run of xlt-tiny on cpu" in out.stdout


def test_flops_guess_from_the_model_on_disk(experiment, workspace):
    from engine.models.tiny import ensure_tiny_model

    ws = Workspace.open(str(workspace))
    ensure_tiny_model(ws.model_dir("xlt-tiny"))
    params = model_parameters("xlt-tiny", ws)
    # 2 layers x (4 x 128^2 attention + 2 x 128 x 256 feed-forward) weights,
    # plus biases and layer norms; the embedding tables are left out.
    assert 2 * (4 * 128**2 + 2 * 128 * 256) <= params < 300_000
    config = experiment()
    out = run_engine(
        "run", str(config), "--dry-run", "--json", "--workspace", str(workspace)
    )
    cost = json.loads(out.stdout)["cost"]
    assert cost["source"].startswith("rough FLOPs guess: 6 x 0.3M parameters")
    flops, _ = device_peak("cpu", "fp32")
    seconds = {s["stage"]: s["seconds"] for s in cost["stages"]}
    assert seconds["intermediate/sent/seed1"] == pytest.approx(
        6 * 1200 * params * 64 / flops
    )


def test_device_peaks_follow_precision():
    h200_bf16, how = device_peak("cuda:0 (NVIDIA H200)", "bf16")
    assert h200_bf16 == GPU_PEAKS["H200"][0] * MFU["cuda"]
    assert "H200" in how and "assumed utilisation" in how
    h200_fp32, _ = device_peak("cuda:0 (NVIDIA H200)", "fp32")
    assert h200_fp32 < h200_bf16
    cpu, how = device_peak("cpu", "fp32")
    assert cpu < h200_fp32 and "CPU cores" in how
