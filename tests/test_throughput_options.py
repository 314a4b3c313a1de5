"""Throughput options: fused AdamW on the CPU, bf16 autocast on the CPU, the
runtime a run records, MFU, and benchmarks/gpu_check.sh without a GPU."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.config import StageHparams
from engine.config.loading import parse_config
from engine.runinfo import cpu_bf16_native, fused_adamw, provenance, runtime_record
from engine.train import Runtime, make_optimizer

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
GPU_CHECK = BENCHMARKS / "gpu_check.sh"
# Fused and unfused AdamW compute the same update in a different order; the
# weights after 20 steps agree to float32 rounding (measured ~2e-7 relative).
FUSED_TOLERANCE = 1e-5


@pytest.fixture
def mfu(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.delenv("XLT_PEAK_TFLOPS", raising=False)
    return importlib.import_module("mfu")


def _small_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Embedding(50, 16),
        torch.nn.LayerNorm(16),
        torch.nn.Linear(16, 32),
        torch.nn.GELU(),
        torch.nn.Linear(32, 3),
    )


def _train(model: torch.nn.Module, optimizer, steps: int = 20) -> None:
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        ids = torch.randint(0, 50, (8, 5), generator=gen)
        labels = torch.randint(0, 3, (8,), generator=gen)
        logits = model(ids).mean(dim=1)
        torch.nn.functional.cross_entropy(logits, labels).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


@pytest.mark.skipif(not fused_adamw("cpu"), reason="torch < 2.4: no fused CPU AdamW")
def test_engine_optimizer_is_fused_on_cpu_and_matches_the_unfused_one():
    hp = StageHparams(learning_rate=1e-2, weight_decay=0.01)
    fused_model, plain_model = _small_model(), _small_model()
    fused = make_optimizer(fused_model, hp, torch.device("cpu"))
    assert fused.defaults["fused"] is True
    plain = torch.optim.AdamW(
        [
            {"params": g["params"], "weight_decay": g["weight_decay"]}
            for g in make_optimizer(plain_model, hp, torch.device("cpu")).param_groups
        ],
        lr=hp.learning_rate,
        fused=False,
        foreach=False,
    )
    _train(fused_model, fused)
    _train(plain_model, plain)
    start = _small_model().state_dict()
    with torch.no_grad():
        for (name, a), b in zip(
            fused_model.named_parameters(), plain_model.parameters(), strict=True
        ):
            assert float((a - b).abs().max() / b.abs().max()) < FUSED_TOLERANCE, name
            # 20 steps moved every weight: the comparison compared something.
            assert float((a - start[name]).abs().max()) > 1e-3, name


def test_bf16_autocast_runs_on_cpu():
    runtime = Runtime(torch.device("cpu"), "bf16")
    layer = torch.nn.Linear(4, 4)
    with runtime.autocast():
        out = layer(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16
    with Runtime(torch.device("cpu"), "fp32").autocast():
        assert layer(torch.randn(2, 4)).dtype == torch.float32


def test_native_bf16_is_read_from_the_cpu_flags():
    assert cpu_bf16_native(frozenset({"avx2", "fma", "amx_bf16", "amx_tile"}))
    assert cpu_bf16_native(frozenset({"avx512f", "avx512_bf16"}))
    assert not cpu_bf16_native(frozenset({"avx2", "fma", "f16c"}))
    assert not cpu_bf16_native(frozenset())


def test_provenance_records_the_runtime(tmp_path):
    config = parse_config(
        {"model": "xlt-tiny", "targets": ["demo-xqa"], "precision": "bf16"},
        tmp_path / "exp.toml",
    )
    runtime = provenance(config, "cpu", {})["runtime"]
    assert runtime["autocast_dtype"] == "bfloat16"
    assert runtime["fused_optimizer"] is fused_adamw("cpu")
    assert runtime["attention_implementation"] == "sdpa"
    assert runtime["torch_threads"] == torch.get_num_threads()
    assert isinstance(runtime["cpu_bf16_native"], bool)
    cuda = runtime_record("cuda:0 (NVIDIA H100 80GB HBM3)", "fp32")
    assert cuda["autocast_dtype"] is None and cuda["fused_optimizer"] is True
    assert "cpu_bf16_native" not in cuda


def test_training_flops_follow_6nt_plus_attention(mfu):
    # One sequence of 128 tokens through an XLM-R-Large-shaped encoder
    # (~303M non-embedding parameters, 24 layers, hidden 1024).
    n, layers, hidden, t = 303_000_000, 24, 1024, 128
    expected = 6 * n * t + 12 * layers * hidden * t * t
    assert mfu.training_flops(n, layers, hidden, [t]) == expected
    # A batch is the sum of its sequences: padding is not counted.
    assert mfu.training_flops(n, layers, hidden, [t, 64]) == expected + (
        6 * n * 64 + 12 * layers * hidden * 64 * 64
    )


def test_encoder_shape_leaves_out_embeddings(mfu):
    from transformers import XLMRobertaConfig, XLMRobertaModel

    config = XLMRobertaConfig(
        num_hidden_layers=2, hidden_size=32, num_attention_heads=2,
        intermediate_size=64, vocab_size=300,
    )  # fmt: skip
    model = XLMRobertaModel(config, add_pooling_layer=False)
    params, layers, hidden = mfu.encoder_shape(model)
    embeddings = sum(p.numel() for p in model.embeddings.parameters())
    assert params == sum(p.numel() for p in model.parameters()) - embeddings
    assert (layers, hidden) == (2, 32)


def test_device_peaks(mfu, monkeypatch):
    assert mfu.gpu_peak("NVIDIA H100 80GB HBM3", "bf16").tflops == 989.4
    assert mfu.gpu_peak("NVIDIA H100 PCIe", "fp16").tflops == 756.0
    assert mfu.gpu_peak("NVIDIA H200", "bf16").tflops == 989.4
    assert mfu.gpu_peak("NVIDIA A100-SXM4-80GB", "fp32").tflops == 19.5
    assert mfu.gpu_peak("NVIDIA GeForce RTX 4090", "bf16").tflops == 165.2
    assert mfu.gpu_peak("Tesla V100-SXM2-16GB", "bf16") is None  # no bf16 units
    assert mfu.gpu_peak("Some Future GPU", "bf16") is None
    monkeypatch.setattr(mfu, "cpu_ghz", lambda: 2.0)
    avx2 = mfu.cpu_peak("fp32", 4, frozenset({"avx2", "fma"}))
    assert avx2.tflops == pytest.approx(4 * 2.0 * 32 / 1e3)
    assert "estimate" in avx2.source
    amx = mfu.cpu_peak("bf16", 4, frozenset({"avx512f", "amx_bf16"}))
    assert amx.tflops == pytest.approx(4 * 2.0 * 1024 / 1e3)
    monkeypatch.setenv("XLT_PEAK_TFLOPS", "123.5")
    assert mfu.device_peak("cuda", "bf16", "NVIDIA H100").tflops == 123.5
    line = mfu.mfu_line(61.75e12, mfu.device_peak("cuda", "bf16", "x"))
    assert "MFU 0.5000 (peak 123.5 TFLOP/s" in line


def _run_gpu_check(*args: str, timeout: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(GPU_CHECK), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")
def test_gpu_check_without_cuda_says_so_and_skips():
    result = _run_gpu_check(timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("SKIP: no CUDA device")
    assert "--cpu-smoke" in result.stdout


@pytest.mark.slow  # three Python processes that import transformers: ~20-60 s
def test_gpu_check_cpu_smoke_trains_in_bf16_and_fp16_and_runs_two_workers():
    result = _run_gpu_check("--cpu-smoke", timeout=600)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "cpu, bf16: 8 steps" in out and "cpu, fp16: 8 steps" in out
    assert out.count("MFU ") == 4  # bf16, fp16 and the two parallel workers
    assert "aggregate of two workers:" in out
    assert out.rstrip().splitlines()[-1].startswith("PASS")


@pytest.mark.parametrize("native", [False, True])
def test_bf16_stage_on_a_cpu_without_native_bf16_warns(monkeypatch, native):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    worker = importlib.import_module("gpu_worker")
    import engine.train as train

    monkeypatch.setattr(train, "cpu_bf16_native", lambda: native)
    device = torch.device("cpu")
    model = worker.build_model(worker.XLMR_TINY, device)
    spec = worker.bench_task(2)
    data = worker.synthetic_features(8, 16, worker.XLMR_TINY["vocab_size"])
    events: list[tuple[str, dict]] = []
    train.train_stage(
        model,
        train.TrainTask(spec, train_kind(spec), data),
        StageHparams(batch_size=4, max_steps=1),
        Runtime(device, "bf16"),
        0,
        pad_id=1,
        emit=lambda kind, **e: events.append((kind, e)),
    )
    warned = [
        e["message"] for k, e in events if k == "warning" and "bf16" in e["message"]
    ]
    assert bool(warned) is not native
    assert any(k == "step" for k, _ in events)  # it trained all the same


def train_kind(spec):
    from engine.kinds import load_kind

    return load_kind(spec.kind)
