"""What a planned run costs: an estimate of each stage's time, for `xlt-engine
run --dry-run`.

time = work / throughput, where the work of a stage is the examples it trains
on (train split x epochs, or max_steps x batch) and scores (validation checks,
zero-shot evaluations), and the throughput comes from one of two places, said
with the estimate:

1. measured: the step events (samples/s) of this workspace's earlier runs of
   the same model on the same device; scoring is taken as 3x faster than
   training (a forward pass is ~2N FLOPs a token, training ~6N);
2. otherwise a FLOPs guess: 6 x N x tokens to train, 2 x N x tokens to score
   (Kaplan et al. 2020, "Scaling Laws for Neural Language Models", section
   2.1; N: the model's non-embedding parameters), tokens = examples x
   max_seq_length (an upper bound: batches are padded to their longest
   example only), at an assumed share of the device's peak (MFU below).

Only local data files are counted: hub data is not read by a dry run, and a
stage that needs it has no estimate (said so). Code generation targets are
not estimated: their time is the tokens generated and the programs run.
"""

from __future__ import annotations

import json
import os
import statistics
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.events import EventFileReader
from engine.pipeline import IntermediateStage, Plan, Stage, TargetStage
from engine.store import Store
from engine.tasks.kinds import GENERATE_AND_SCORE
from engine.tasks.spec import LocalSource, TaskSpec
from engine.workspace import Workspace

# Dense peak FLOP/s per GPU, (bf16/fp16 tensor cores, fp32), from NVIDIA's
# data sheets (SXM parts where there are two; V100 and T4: fp16, no bf16).
GPU_PEAKS: dict[str, tuple[float, float]] = {
    "H200": (989e12, 67e12),
    "H100": (989e12, 67e12),
    "A100": (312e12, 19.5e12),
    "L40S": (362e12, 91.6e12),
    "A10": (125e12, 31.2e12),
    "L4": (121e12, 30.3e12),
    "V100": (125e12, 15.7e12),
    "T4": (65e12, 8.1e12),
    "4090": (165e12, 82.6e12),
    "3090": (71e12, 35.6e12),
}
UNKNOWN_GPU_PEAK = (100e12, 20e12)  # a guess for a GPU not in the table
# A CPU core: 2.5 GHz x 32 fp32 FLOPs a cycle (two AVX2 FMA units, 8 lanes).
CPU_CORE_PEAK = 2.5e9 * 32
# Share of the peak a fine-tuning run reaches (model FLOPs utilisation). No
# source fits small-batch fine-tuning of encoders: nanoGPT reports ~30-40% for
# GPT-2 pretraining on A100s; small models and CPUs reach less. A guess.
MFU = {"cuda": 0.3, "cpu": 0.1}
EVAL_SPEEDUP = 3.0  # forward only: 2N of training's 6N FLOPs a token


@dataclass
class StageCost:
    stage: str
    train_examples: int | None  # examples trained on (with epochs), None: unknown
    eval_examples: int | None  # examples scored
    seconds: float | None
    note: str = ""


@dataclass
class CostEstimate:
    stages: list[StageCost]
    source: str  # where the throughput came from, in words
    parameters: int | None = None

    @property
    def total_seconds(self) -> float | None:
        known = [s.seconds for s in self.stages if s.seconds is not None]
        return sum(known) if known else None

    @property
    def complete(self) -> bool:
        return all(s.seconds is not None for s in self.stages)


# -- data sizes ---------------------------------------------------------------


class _Counts:
    """Examples per (task, split, language), of local files only."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, str, str], int | None] = {}

    def __call__(self, task: TaskSpec, split: str, language: str) -> int | None:
        key = (task.name, split, language)
        if key not in self._memo:
            self._memo[key] = self._count(task, split, language)
        return self._memo[key]

    @staticmethod
    def _count(task: TaskSpec, split: str, language: str) -> int | None:
        if not isinstance(task.source, LocalSource) or not task.source.has(
            split, language
        ):
            return None
        from engine.data.records import load_records

        return len(load_records(task, split, language))


def _capped(n: int | None, cap: int) -> int | None:
    return None if n is None else (min(n, cap) if cap else n)


def _train_examples(tasks: list, hparams, counts: _Counts) -> int | None:
    """Examples a stage trains on, all epochs (or max_steps' batches).
    `tasks`: (task, its hyperparameters) of each task trained together;
    `hparams`: the stage's (epochs, max_steps, batch size)."""
    if hparams.max_steps:
        return int(hparams.max_steps * hparams.batch_size * hparams.grad_accum)
    sizes = [
        _capped(counts(t, "train", t.train_language), hp.max_train_examples)
        for t, hp in tasks
    ]
    if any(n is None for n in sizes):
        return None
    return int(sum(n or 0 for n in sizes) * hparams.epochs)


def _validation_examples(task: TaskSpec, hp, train: int | None, counts) -> int:
    """Examples scored by the validation checks during training."""
    n = _capped(counts(task, "validation", task.train_language), hp.max_eval_examples)
    if not n or train is None:
        return 0
    steps = train / (hp.batch_size * hp.grad_accum)
    checks = steps / hp.eval_every if hp.eval_every else hp.epochs
    return int(n * max(1, checks))


def _work(stage: Stage, counts: _Counts) -> tuple[int | None, int | None, str]:
    """(train examples, eval examples, note) of a stage this run computes."""
    if isinstance(stage, IntermediateStage):
        assert stage.hparams is not None
        tasks = list(stage.member_tasks)
        hps = list(stage.member_hparams) or [stage.hparams] * len(tasks)
        trained = _train_examples(
            list(zip(tasks, hps, strict=True)), stage.hparams, counts
        )
        return trained, 0, "" if trained is not None else "hub data: not counted"
    task = stage.target_task
    assert task is not None
    if stage.mode == GENERATE_AND_SCORE:
        return None, None, "code generation: not estimated"
    hp = stage.hparams
    assert hp is not None
    scored = [
        _capped(counts(task, e.split, e.language), hp.max_eval_examples)
        for e in stage.pending
    ]
    evaluated = None if any(n is None for n in scored) else sum(n or 0 for n in scored)
    train: int | None = 0
    if stage.will_train:
        train = _train_examples([(task, hp)], hp, counts)
        if evaluated is not None and train is not None:
            evaluated += _validation_examples(task, hp, train, counts)
    known = train is not None and evaluated is not None
    return train, evaluated, "" if known else "hub data: not counted"


# -- throughput ---------------------------------------------------------------


def measured_samples_per_s(
    workspace: Workspace, model: str, device: str, runs: int = 5
) -> tuple[float, list[str]] | None:
    """Median training samples/s of the step events of the latest `runs`
    runs of `model` on `device` in this workspace, and those runs' ids."""
    records = [
        r
        for r in Store(workspace).runs()
        if (r.get("config") or {}).get("model") == model and r.get("device") == device
    ]
    rates: list[float] = []
    used: list[str] = []
    for record in reversed(records):
        path = workspace.run_events(record["id"])
        if not path.is_file():
            continue
        reader = EventFileReader(path)
        found = [
            float(e["samples_per_s"])
            for e in reader.read_new()
            if e.get("type") == "step" and (e.get("samples_per_s") or 0) > 0
        ]
        if found:
            rates += found
            used.append(record["id"])
        if len(used) == runs:
            break
    return (statistics.median(rates), used) if rates else None


def model_parameters(model: str, workspace: Workspace) -> int | None:
    """Non-embedding parameters of a model on disk (its safetensors header,
    or its config.json), None for one that is not (a hub id, or the built-in
    tiny model before its first use)."""
    folder = Path(model) if Path(model).is_dir() else workspace.model_dir(model)
    if not folder.is_dir():
        return None
    total = 0
    for weights in sorted(folder.glob("*.safetensors")):
        total += _safetensors_parameters(weights)
    if total:
        return total
    config = folder / "config.json"
    if not config.is_file():
        return None
    c = json.loads(config.read_text(encoding="utf-8"))
    hidden = c.get("hidden_size") or c.get("n_embd") or c.get("d_model")
    layers = c.get("num_hidden_layers") or c.get("n_layer") or c.get("num_layers")
    if not hidden or not layers:
        return None
    ffn = c.get("intermediate_size") or c.get("n_inner") or 4 * hidden
    return int(layers * (4 * hidden * hidden + 2 * hidden * ffn))


def _safetensors_parameters(path: Path) -> int:
    """Parameters in a safetensors file, embedding tables left out (a lookup
    costs no FLOPs), read from its JSON header without loading a weight."""
    with open(path, "rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(size))
    total = 0
    for name, info in header.items():
        if (
            name == "__metadata__"
            or "embed" in name
            or name.endswith(("wte.weight", "wpe.weight"))
        ):
            continue
        n = 1
        for dim in info.get("shape", []):
            n *= dim
        total += n
    return total


def device_peak(device: str, precision: str) -> tuple[float, str]:
    """(FLOP/s we may expect, how that was chosen) for the run's device."""
    half = precision in ("bf16", "fp16")
    if device.startswith("cuda"):
        name, peaks = next(
            ((n, p) for n, p in GPU_PEAKS.items() if n in device),
            ("an unknown GPU", UNKNOWN_GPU_PEAK),
        )
        peak = peaks[0] if half else peaks[1]
        return peak * MFU["cuda"], (
            f"{name} peak {peak / 1e12:.0f} TFLOP/s ({precision}) x "
            f"{MFU['cuda']:.0%} assumed utilisation"
        )
    cores = os.cpu_count() or 1
    peak = cores * CPU_CORE_PEAK
    return peak * MFU["cpu"], (
        f"{cores} CPU cores x ~{CPU_CORE_PEAK / 1e9:.0f} GFLOP/s peak x "
        f"{MFU['cpu']:.0%} assumed utilisation"
    )


# -- the estimate -------------------------------------------------------------


def estimate(
    plan: Plan, config: Any, workspace: Workspace, device: str
) -> CostEstimate:
    """Each stage this run computes, with its estimated seconds. `device` as
    the run would record it ("cpu", "cuda:0 (NVIDIA H200)")."""
    counts = _Counts()
    measured = measured_samples_per_s(workspace, config.model, device)
    parameters = model_parameters(config.model, workspace)
    if measured is not None:
        rate, runs = measured
        source = (
            f"measured: {rate:.1f} training samples/s, the median of the step "
            f"events of {len(runs)} earlier run(s) of {config.model} on {device} "
            f"({', '.join(runs)}; at their settings)"
        )
    elif parameters is not None:
        flops, how = device_peak(device, config.precision)
        source = (
            f"rough FLOPs guess: 6 x {parameters / 1e6:.1f}M parameters x tokens "
            f"at {flops / 1e12:.2f} TFLOP/s ({how}); no earlier run of "
            f"{config.model} on {device} in this workspace to measure"
        )
    else:
        source = (
            f"none possible: no earlier run of {config.model} on {device} in "
            "this workspace to measure, and its size is not known before it is "
            "loaded (a hub model, or the built-in model before its first use)"
        )
    stages = []
    for stage in plan.stages:
        if stage.reused or (isinstance(stage, TargetStage) and not stage.pending):
            continue
        train, evaluated, note = _work(stage, counts)
        seconds = None
        if train is not None and evaluated is not None:
            if measured is not None:
                seconds = (train + evaluated / EVAL_SPEEDUP) / measured[0]
            elif parameters is not None:
                flops, _ = device_peak(device, config.precision)
                tokens = _seq_length(stage)
                seconds = (6 * train + 2 * evaluated) * parameters * tokens / flops
        stages.append(StageCost(stage.id, train, evaluated, seconds, note))
    return CostEstimate(stages, source, parameters)


def _seq_length(stage: Stage) -> int:
    assert stage.hparams is not None
    return int(stage.hparams.max_seq_length)


def device_name(config: Any) -> str:
    """The device a run of `config` records (engine.runner's device_name for
    one device): "cpu", "cuda:0 (NVIDIA H200)". Several devices or a Ray
    cluster: the first device of the config, whose throughput is estimated."""
    import torch

    from engine.train import resolve_device

    devices = [d for d in (getattr(config, "devices", ()) or ()) if d != "all"]
    wanted = devices[0] if devices else config.device
    try:
        dev = resolve_device(wanted)
    except Exception:  # noqa: BLE001 - (a GPU not here: a dry run still plans)
        return str(wanted)
    if dev.type == "cuda":
        return f"{dev} ({torch.cuda.get_device_name(dev)})"
    return str(dev)


def as_record(cost: CostEstimate) -> dict[str, Any]:
    """The estimate for `--dry-run --json`."""
    return {
        "estimate": True,
        "source": cost.source,
        "parameters": cost.parameters,
        "total_seconds": cost.total_seconds,
        "complete": cost.complete,
        "stages": [
            {
                "stage": s.stage,
                "train_examples": s.train_examples,
                "eval_examples": s.eval_examples,
                "seconds": s.seconds,
                "note": s.note or None,
            }
            for s in cost.stages
        ],
    }
