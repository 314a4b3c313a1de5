"""One worker of benchmarks/gpu_check.sh: a few training steps of xlt's own
loop (engine.train.train_stage) on an XLM-R-Large-shaped encoder built from
its config with random weights (no download), on one device.

Prints one line per finding and, last, one JSON object: samples/s, tokens/s,
model TFLOP/s and MFU (benchmarks/mfu.py), peak CUDA memory, the losses.
Exit code 1 when a loss is not finite or the loss did not go down.

    python benchmarks/gpu_worker.py --info                # devices and versions
    python benchmarks/gpu_worker.py --precision bf16      # on the visible GPU
    python benchmarks/gpu_worker.py --cpu-smoke           # tiny model, CPU
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch
from mfu import device_peak, encoder_shape, mfu_line, training_flops
from train_throughput import SEED, bench_task

from engine.config import StageHparams
from engine.data.features import Features
from engine.errors import TrainingDiverged
from engine.kinds import load_kind
from engine.models.heads import TaskModel
from engine.runinfo import runtime_record
from engine.train import Runtime, TrainTask, train_stage

# FacebookAI/xlm-roberta-large config.json on the hub (Conneau et al. 2020,
# "Unsupervised Cross-lingual Representation Learning at Scale", table 7:
# XLM-R Large, L=24, H=1024, A=16, 250k vocabulary).
XLMR_LARGE = dict(
    num_hidden_layers=24,
    hidden_size=1024,
    num_attention_heads=16,
    intermediate_size=4096,
    vocab_size=250002,
    max_position_embeddings=514,
    type_vocab_size=1,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
    layer_norm_eps=1e-5,
)
# The --cpu-smoke model: the same architecture and code path, tiny.
XLMR_TINY = dict(
    XLMR_LARGE,
    num_hidden_layers=2,
    hidden_size=64,
    num_attention_heads=4,
    intermediate_size=128,
    vocab_size=512,
)
UNIQUE_EXAMPLES = 64  # repeated, so a few steps can fit them: the loss must fall


def info() -> None:
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}")
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            print(f"GPU {i}: {p.name}, {p.total_memory / 2**30:.1f} GiB")
    else:
        print("no CUDA device")


def build_model(shape: dict, device: torch.device) -> TaskModel:
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(SEED)
    config = XLMRobertaConfig(**shape, attn_implementation="sdpa")
    with device:  # weights initialised where they will live: fast on a GPU
        encoder = XLMRobertaModel(config, add_pooling_layer=False)
        model = TaskModel(encoder, "cls")
        task = bench_task(2)
        model.add_head(task, load_kind(task.kind))
    return model


def synthetic_features(n: int, length: int, vocab: int) -> Features:
    """`n` sequences of `length` tokens, UNIQUE_EXAMPLES of them distinct;
    label 0 draws its tokens from the lower half of the vocabulary, label 1
    from the upper half, so even a randomly initialised encoder separates
    them and a few steps lower the loss."""
    rng = np.random.default_rng(SEED)
    unique_labels = np.arange(UNIQUE_EXAMPLES) % 2
    half = vocab // 2
    unique = rng.integers(5, half, size=(UNIQUE_EXAMPLES, length))
    unique += unique_labels[:, None] * (half - 5)
    unique[:, 0], unique[:, -1] = 0, 2  # <s> ... </s>
    rows = unique[np.arange(n) % UNIQUE_EXAMPLES]
    labels = unique_labels[np.arange(n) % UNIQUE_EXAMPLES].astype(np.int64)
    offsets = np.arange(n + 1, dtype=np.int64) * length
    return Features(
        rows.reshape(-1).astype(np.int64), offsets, 1, None, {"labels": labels}
    )


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--info", action="store_true", help="print devices and exit")
    p.add_argument("--cpu-smoke", action="store_true", help="tiny model on the CPU")
    p.add_argument(
        "--precision",
        nargs="+",
        default=["bf16"],
        choices=("bf16", "fp16", "fp32"),
        help="one run each, in this order, fresh weights each time",
    )
    p.add_argument("--steps", type=int, default=None, help="default 40 (smoke 8)")
    p.add_argument("--batch-size", type=int, default=None, help="default 32 (smoke 8)")
    p.add_argument("--length", type=int, default=None, help="default 128 (smoke 32)")
    p.add_argument("--warmup", type=int, default=3, help="steps left out of the rates")
    p.add_argument("--lr", type=float, default=None, help="default 5e-5 (smoke 1e-3)")
    args = p.parse_args(argv)
    smoke = args.cpu_smoke
    args.steps = args.steps or (8 if smoke else 40)
    args.batch_size = args.batch_size or (8 if smoke else 32)
    args.length = args.length or (32 if smoke else 128)
    args.lr = args.lr or (1e-3 if smoke else 5e-5)
    if args.warmup >= args.steps:
        p.error(f"--warmup {args.warmup} leaves no measured step of {args.steps}")
    return args


def train_once(args, device: torch.device, shape: dict, precision: str) -> dict:
    """One run of xlt's loop; its figures, printed and returned."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    model = build_model(shape, device)
    built = time.perf_counter() - start
    data = synthetic_features(
        args.steps * args.batch_size, args.length, shape["vocab_size"]
    )
    spec = bench_task(2)
    hp = StageHparams(
        batch_size=args.batch_size,
        max_seq_length=args.length,
        learning_rate=args.lr,
        max_steps=args.steps,
        warmup_ratio=0.1,  # XLM-R fine-tuning's usual 10% warm-up
        log_every=1,  # one loss (and one device sync) per step
    )
    events: list[dict] = []
    failures = []
    try:
        result = train_stage(
            model,
            TrainTask(spec, load_kind(spec.kind), data),
            hp,
            Runtime(device, precision),
            SEED,
            pad_id=shape["pad_token_id"],
            emit=lambda kind, **e: events.append(e) if kind == "step" else None,
        )
        seconds = result.seconds
    except TrainingDiverged as exc:  # a NaN/inf loss stops the loop
        failures.append(f"a loss is not finite: {exc}")
        seconds = time.perf_counter() - start - built
    losses = [e["loss"] for e in events]
    measured = events[args.warmup :] or events
    samples_s = (
        statistics.median(e["samples_per_s"] for e in measured) if measured else 0.0
    )
    tokens_s = (
        statistics.median(e["tokens_per_s"] for e in measured) if measured else 0.0
    )
    params, layers, hidden = encoder_shape(model)
    flops = samples_s * training_flops(params, layers, hidden, [args.length])
    peak = device_peak(device.type, precision, name)
    memory = (
        torch.cuda.max_memory_allocated(device) / 2**30
        if device.type == "cuda"
        else None
    )

    print(
        f"{name}, {precision}: {args.steps} steps x batch {args.batch_size} x "
        f"{args.length} tokens, {params / 1e6:.1f}M non-embedding parameters "
        f"(model built in {built:.1f} s, trained in {seconds:.1f} s)"
    )
    print(f"  {samples_s:.1f} samples/s, {tokens_s:.0f} tokens/s (median of steps "
          f"{args.warmup + 1}-{args.steps})")  # fmt: skip
    print(f"  {mfu_line(flops, peak)}")
    if memory is not None:
        print(f"  peak CUDA memory {memory:.2f} GiB")
    if losses and not failures:
        window = max(1, len(losses) // 4)
        first = statistics.mean(losses[:window])
        last = statistics.mean(losses[-window:])
        print(
            f"  loss {first:.4f} (first {window} steps) -> {last:.4f} (last {window})"
        )
        if not last < first:
            failures.append(
                f"{precision}: the loss did not go down ({first:.4f} -> {last:.4f})"
            )
    for failure in failures:
        print(f"FAIL: {failure}")
    return {
        "device": name,
        "precision": precision,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "length": args.length,
        "samples_per_s": samples_s,
        "tokens_per_s": tokens_s,
        "model_tflops_per_s": flops / 1e12,
        "mfu": flops / (peak.tflops * 1e12) if peak else None,
        "peak_tflops": peak.tflops if peak else None,
        "peak_memory_gib": memory,
        "losses": losses,
        "runtime": runtime_record(str(device), precision),
        "ok": not failures,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.info:
        info()
        return 0
    if args.cpu_smoke:
        device, shape = torch.device("cpu"), XLMR_TINY
    elif torch.cuda.is_available():
        device, shape = torch.device("cuda"), XLMR_LARGE
    else:
        print("FAIL: no CUDA device visible to torch (--cpu-smoke runs on the CPU)")
        return 1
    runs = [train_once(args, device, shape, p) for p in args.precision]
    ok = all(r["ok"] for r in runs)
    print(json.dumps({"runs": runs, "ok": ok}))  # last line: read by gpu_check.sh
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
