"""Training throughput: the engine's loop against `transformers.Trainer`.

What is compared
    `engine.train.train_stage` (length-grouped batches, dynamic padding, AdamW
    with linear warm-up and decay) against `transformers.Trainer` training the
    same model on the same data, in one process. The figure is training samples
    per second; the verdict is the ratio engine / Trainer of the medians.

Why the comparison is fair
    * Same starting weights: each run loads the encoder from the same saved
      folder and adds the classification head under the same seed.
    * Same model and compute: Trainer trains the engine's own `TaskModel` (the
      AutoModel encoder + `ClassificationHead`), wrapped only so that it takes a
      batch dict and returns the same cross-entropy loss.
    * Same data: both read one `Features` split, tokenized once (outside the
      timing) with the same tokenizer and maximum length. The split is cut to a
      multiple of the batch size, so every batch of both sides is full and both
      see exactly `steps * batch_size` samples.
    * Same optimisation: batch size, optimizer steps, AdamW settings (the fused
      kernel exactly where the engine uses it: CUDA, and the CPU from torch
      2.4, engine.runinfo.fused_adamw), weight decay, gradient
      clipping, a linear schedule with the same warm-up steps, fp32, one device.
    * Nothing else in the timed region: no evaluation, no checkpoints, no
      logging integrations (report_to="none"), no progress bar, no data loader
      workers (dataloader_num_workers=0 for Trainer; the engine has none).
    * Batching is each side's own default: the engine always groups batches by
      length; Trainer samples randomly and pads with DataCollatorWithPadding
      (what it does when given a tokenizer). `--trainer-group-by-length` turns on
      Trainer's length-grouped sampler instead, and `--both` reports both.
    * Timing: wall clock from calling the training function until it returns
      (train_stage(...) / trainer.train()), with the model already on the
      device, so both include their own optimizer, scheduler and data setup.
      Each side first runs a few untimed warm-up steps; then runs alternate
      (engine, Trainer, Trainer, engine, ...) so drift on a shared machine hits
      both alike, and the median of `--repeats` runs is compared.

Model FLOPs per second and MFU (benchmarks/mfu.py: 6 N T + 12 L d T^2 per
sequence, over the device's peak) are printed for each side; both sides draw
every example of the split equally often, so one expected FLOPs-per-sample
figure (over the split's own lengths, padding not counted) serves both.

Exit code 0 when every ratio is at least `--min-ratio` (default 1.0), else 1.

    .venv/bin/python benchmarks/train_throughput.py            # defaults, CPU
    .venv/bin/python benchmarks/train_throughput.py --both --json
"""

from __future__ import annotations

import os

# Read by OpenMP when torch loads it, so it must be set before `import torch`.
# By default idle OpenMP threads spin; on a shared machine a spinning thread
# competes with other processes for its core and every parallel region waits for
# the slowest thread: on 2 busy cores a step took 3-20x longer and varied as much
# from run to run. Sleeping threads lower both sides' samples/s by ~10-15% on an
# idle machine but leave the ratio as it was. OMP_WAIT_POLICY=ACTIVE in the
# environment measures spinning threads instead.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import dataclasses
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from mfu import Peak, device_peak, encoder_shape, mfu_line, training_flops
from torch import nn

from engine.config import StageHparams
from engine.data.features import Features
from engine.kinds import load_kind
from engine.models.heads import TaskModel, pooling_for
from engine.models.loading import load_encoder, load_tokenizer
from engine.models.tiny import TINY_NAME, ensure_tiny_model
from engine.runinfo import fused_adamw
from engine.train import Runtime, TrainTask, train_stage

TASK = "bench"  # head name; any name works, both sides use the same one
SEED = 42
DEMO_TASK = "demo-xqa"
SYNTHETIC_EXAMPLES = 4000

ENGINE = "engine"
TRAINER = "Trainer"
TRAINER_GROUPED = "Trainer+group_by_length"


# --------------------------------------------------------------------------
# Data


def demo_examples() -> list[dict] | None:
    """demo-xqa's English training records ({"texts", "label"}), or None when
    they are not there."""
    from engine.data.records import load_records
    from engine.tasks import get_task

    task = get_task(DEMO_TASK)
    if not Path(task.source.files[("train", "en")]).is_file():
        return None
    return load_records(task, "train", "en")


def synthetic_examples(n: int, seed: int = 0) -> list[dict]:
    """PAWS-like sentence pairs with realistic, varied lengths (fallback data).

    Sentence lengths follow a log-normal distribution (median 9 words, 3 to 40;
    pairs of ~50 to ~300 byte tokens, mean ~140, 5% cut at 256), so batches need
    real padding and length grouping matters, as with natural text. The second
    sentence is the first with two words swapped (label 0, "no") or with one word
    replaced (label 1, "yes").
    """
    rng = random.Random(seed)
    words = (
        "the a of in on river city council museum history old new first last "
        "year born moved after before during because although international "
        "architecture composer novelist government election championship "
        "university professor orchestra premiered published released station "
        "village district province northern southern eastern western was is "
        "became remained founded built designed named by for with from"
    ).split()
    examples = []
    for _ in range(n):
        length = min(40, max(3, round(rng.lognormvariate(np.log(9), 0.4))))
        first = [rng.choice(words) for _ in range(length)]
        second = list(first)
        label = rng.randrange(2)
        if label == 0:
            i, j = rng.sample(range(length), 2)
            second[i], second[j] = second[j], second[i]
        else:
            second[rng.randrange(length)] = rng.choice(words)
        texts = (
            " ".join(first).capitalize() + ".",
            " ".join(second).capitalize() + ".",
        )
        examples.append({"texts": list(texts), "label": label})
    return examples


def bench_task(num_labels: int):
    """A task spec for the head: demo-xqa's, renamed, with `num_labels` labels."""
    from engine.tasks import get_task

    return dataclasses.replace(
        get_task(DEMO_TASK),
        name=TASK,
        kind="pair_classification",
        labels=tuple(str(i) for i in range(num_labels)),
    )


def featurize(tokenizer, records: list[dict], max_length: int) -> Features:
    task = bench_task(max(r["label"] for r in records) + 1)
    return load_kind(task.kind).featurize(tokenizer, records, task, max_length, 128)


def trainer_rows(split: Features) -> list[dict]:
    """The split as Trainer usually gets it: one tokenizer-output dict per example."""
    rows = []
    labels = split.unit_arrays["labels"]
    for i in range(len(split)):
        start, end = split.offsets[i], split.offsets[i + 1]
        ids = split.flat_ids[start:end].tolist()
        row = {"input_ids": ids, "attention_mask": [1] * len(ids)}
        if split.flat_type_ids is not None:
            row["token_type_ids"] = split.flat_type_ids[start:end].tolist()
        row["labels"] = int(labels[i])
        rows.append(row)
    return rows


# --------------------------------------------------------------------------
# Model


class LossModel(nn.Module):
    """The engine's TaskModel behind Trainer's interface: batch in, loss out.

    The forward pass and the loss are exactly the engine's (train_stage computes
    cross_entropy on the head's logits the same way); only the signature differs.
    """

    def __init__(self, task_model: TaskModel):
        super().__init__()
        self.task_model = task_model

    def forward(self, input_ids, attention_mask, labels, token_type_ids=None):
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            batch["token_type_ids"] = token_type_ids
        logits = self.task_model(TASK, batch)
        loss = nn.functional.cross_entropy(logits.float(), labels)
        return {"loss": loss, "logits": logits}


@dataclasses.dataclass
class Setup:
    """Everything both sides share; built once, outside the timing."""

    model_path: str
    tokenizer: object
    pooling: str
    num_labels: int
    data: Features
    rows: list[dict]
    hp: StageHparams
    device: torch.device
    out_dir: str

    def fresh_model(self) -> TaskModel:
        """The same starting weights every time: saved encoder + seeded head."""
        torch.manual_seed(SEED)
        model = TaskModel(load_encoder(self.model_path), self.pooling)
        task = bench_task(self.num_labels)
        model.add_head(task, load_kind(task.kind))
        return model


# --------------------------------------------------------------------------
# The two training loops, timed the same way


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(fn: Callable[[], object], device: torch.device) -> tuple[float, object]:
    """Seconds `fn()` took, and what it returned."""
    sync(device)
    start = time.perf_counter()
    value = fn()
    sync(device)  # queued GPU work belongs to the run that queued it
    return time.perf_counter() - start, value


def check_steps(side: str, done: int, steps: int) -> None:
    # Samples/s assumes both sides did exactly the steps asked for.
    if done != steps:
        raise RuntimeError(f"{side} ran {done} optimizer steps, expected {steps}")


def run_engine(setup: Setup, steps: int) -> float:
    model = setup.fresh_model().to(setup.device)  # Trainer moves it in __init__ too
    task = bench_task(setup.num_labels)
    task = TrainTask(task, load_kind(task.kind), setup.data)  # no validation
    hp = dataclasses.replace(setup.hp, max_steps=steps)
    runtime = Runtime(setup.device, "fp32")
    pad_id = setup.tokenizer.pad_token_id or 0  # as engine.runner does

    def train():
        return train_stage(
            model, task, hp, runtime, SEED, pad_id, emit=lambda *a, **k: None
        )

    seconds, result = timed(train, setup.device)
    check_steps(ENGINE, result.steps, steps)
    return seconds


def trainer_arguments(setup: Setup, steps: int, group_by_length: bool):
    from transformers import TrainingArguments

    hp = setup.hp
    kwargs = dict(
        output_dir=setup.out_dir,
        max_steps=steps,
        per_device_train_batch_size=hp.batch_size,
        gradient_accumulation_steps=1,
        learning_rate=hp.learning_rate,
        weight_decay=hp.weight_decay,
        max_grad_norm=hp.max_grad_norm,
        lr_scheduler_type="linear",
        warmup_steps=int(hp.warmup_ratio * steps),  # the engine's rounding
        # engine.train.make_optimizer: torch AdamW, fused where it has the kernel.
        optim="adamw_torch_fused" if fused_adamw(setup.device.type) else "adamw_torch",
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        remove_unused_columns=False,  # the rows hold only what the model takes
        use_cpu=setup.device.type == "cpu",
        seed=SEED,
    )
    if group_by_length:
        names = {f.name for f in dataclasses.fields(TrainingArguments)}
        if "train_sampling_strategy" in names:  # transformers >= 5
            kwargs["train_sampling_strategy"] = "group_by_length"
        else:
            kwargs["group_by_length"] = True
    return TrainingArguments(**kwargs)


def run_trainer(setup: Setup, steps: int, group_by_length: bool) -> float:
    from transformers import PrinterCallback, Trainer

    trainer = Trainer(
        model=LossModel(setup.fresh_model()),
        args=trainer_arguments(setup, steps, group_by_length),
        train_dataset=setup.rows,
        processing_class=setup.tokenizer,  # -> DataCollatorWithPadding
    )
    trainer.remove_callback(PrinterCallback)  # it would print the final metrics
    seconds, _ = timed(trainer.train, setup.device)
    check_steps(TRAINER, trainer.state.global_step, steps)
    return seconds


def run(side: str, setup: Setup, steps: int) -> float:
    try:
        if side == ENGINE:
            return run_engine(setup, steps)
        return run_trainer(setup, steps, group_by_length=side == TRAINER_GROUPED)
    finally:
        # Free the last run's model and optimizer before the next one is built.
        gc.collect()
        if setup.device.type == "cuda":
            torch.cuda.empty_cache()


# --------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Training samples/s of the engine's loop vs transformers.Trainer "
        "(same model, data, batch size, steps and schedule).",
    )
    p.add_argument("--steps", type=int, default=60, help="optimizer steps per run")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=256, help="tokens per example")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each side")
    p.add_argument(
        "--warmup-steps",
        type=int,
        default=5,
        help="steps of the untimed warm-up run of each side (0: none)",
    )
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps"))
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads (default: torch's own choice)",
    )
    p.add_argument(
        "--model",
        default=TINY_NAME,
        help=f"'{TINY_NAME}' (built-in, written to a temp folder; the default), a "
        "local folder written by save_pretrained, or a hub id",
    )
    p.add_argument(
        "--synthetic",
        action="store_true",
        help=f"use synthetic sentence pairs even when {DEMO_TASK}'s data is present",
    )
    grouping = p.add_mutually_exclusive_group()
    grouping.add_argument(
        "--trainer-group-by-length",
        action="store_true",
        help="compare against Trainer with its length-grouped sampler",
    )
    grouping.add_argument(
        "--both",
        action="store_true",
        help="compare against Trainer with and without group_by_length",
    )
    p.add_argument(
        "--min-ratio",
        type=float,
        default=1.0,
        help="exit 1 when a ratio engine/Trainer is below this (default 1.0)",
    )
    p.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="the device's peak TFLOP/s for MFU (default: benchmarks/mfu.py's "
        "datasheet table on GPUs, an estimate on CPUs; or XLT_PEAK_TFLOPS)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.peak_tflops is not None:
        if args.peak_tflops <= 0:
            p.error("--peak-tflops must be positive")
        os.environ["XLT_PEAK_TFLOPS"] = str(args.peak_tflops)
    for name in ("steps", "batch_size", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.max_length < 8:
        p.error("--max-length must be at least 8")
    if args.device == "cuda" and torch.cuda.device_count() > 1:
        # Trainer would spread each batch over every GPU (DataParallel).
        p.error("several GPUs are visible; pick one with CUDA_VISIBLE_DEVICES=0")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prepare(args: argparse.Namespace, tmp: Path) -> tuple[Setup, dict]:
    if args.model == TINY_NAME:
        model_path = str(ensure_tiny_model(tmp / TINY_NAME))
    else:
        model_path = args.model
    tokenizer = load_tokenizer(model_path)

    examples = None if args.synthetic else demo_examples()
    source = f"{DEMO_TASK} train.en"
    if examples is None:
        examples = synthetic_examples(SYNTHETIC_EXAMPLES)
        source = "synthetic sentence pairs"
    num_labels = max(r["label"] for r in examples) + 1
    split = featurize(tokenizer, examples, args.max_length)
    n = len(split) // args.batch_size * args.batch_size  # full batches only
    if n == 0:
        raise SystemExit(f"{len(split)} examples: fewer than one batch")
    split = split.head(n)

    hp = StageHparams(batch_size=args.batch_size, max_seq_length=args.max_length)
    setup = Setup(
        model_path=model_path,
        tokenizer=tokenizer,
        pooling=pooling_for(tokenizer),
        num_labels=num_labels,
        data=split,
        rows=trainer_rows(split),
        hp=hp,
        device=torch.device(args.device),
        out_dir=str(tmp / "trainer_output"),
    )
    lengths = split.unit_lengths
    params, layers, hidden = encoder_shape(setup.fresh_model())
    device_name = (
        torch.cuda.get_device_name(setup.device)
        if args.device == "cuda"
        else args.device
    )
    peak = device_peak(args.device, "fp32", device_name)
    info = {
        "model": args.model,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
        "load_average": round(os.getloadavg()[0], 2),  # >= cores: expect noise
        "precision": "fp32",
        "data": source,
        "examples": n,
        "mean_tokens": round(float(lengths.mean()), 1),
        "max_tokens": int(lengths.max()),
        "steps": args.steps,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "repeats": args.repeats,
        "warmup_steps": args.warmup_steps,
        "torch": torch.__version__,
        "non_embedding_params": params,
        # Expected over the split: both sides draw every example equally often.
        "flops_per_sample": training_flops(params, layers, hidden, lengths) / n,
        "peak_tflops": peak.tflops if peak else None,
        "peak_source": peak.source if peak else None,
    }
    return setup, info


def measure(args: argparse.Namespace, setup: Setup, sides: list[str]) -> dict:
    if args.warmup_steps:
        for side in sides:
            log(f"warm-up: {side} ({args.warmup_steps} steps)")
            run(side, setup, args.warmup_steps)
    samples = args.steps * args.batch_size
    rates: dict[str, list[float]] = {side: [] for side in sides}
    for repeat in range(args.repeats):
        # Alternate the order (A B, B A, A B, ...) so slow drift hits both alike.
        for side in sides if repeat % 2 == 0 else sides[::-1]:
            seconds = run(side, setup, args.steps)
            rates[side].append(samples / seconds)
            log(
                f"run {repeat + 1}/{args.repeats}: {side:24s} {samples / seconds:9.1f} "
                "samples/s"
            )
    return {
        side: {
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
            "runs": values,
        }
        for side, values in rates.items()
    }


def compare(results: dict, trainers: list[str], min_ratio: float) -> dict:
    """Ratio of medians per Trainer variant (the verdict), and per-round ratios.

    Runs of one round are back to back, so a round's ratio is little affected by
    load that comes and goes; when the per-round ratios disagree with the ratio
    of medians, the machine was too noisy for the figures to mean much.
    """
    engine = results[ENGINE]
    out = {}
    for trainer in trainers:
        ratio = engine["median"] / results[trainer]["median"]
        pairs = zip(engine["runs"], results[trainer]["runs"], strict=True)
        rounds = [e / t for e, t in pairs]
        out[trainer] = {"ratio": ratio, "per_round": rounds, "ok": ratio >= min_ratio}
    return out


def report(info: dict, results: dict, ratios: dict, min_ratio: float) -> None:
    print(
        f"model {info['model']}, {info['device']}, fp32, {info['threads']} threads "
        f"(OMP_WAIT_POLICY={info['omp_wait_policy']}, load average "
        f"{info['load_average']} at start)"
    )
    print(
        f"data {info['data']}: {info['examples']} examples, "
        f"mean {info['mean_tokens']} tokens (max {info['max_tokens']})"
    )
    print(
        f"{info['steps']} steps x batch {info['batch_size']}, max length "
        f"{info['max_length']}, {info['repeats']} timed runs per side"
    )
    peak = (
        Peak(info["peak_tflops"], info["peak_source"]) if info["peak_tflops"] else None
    )
    for side, r in results.items():
        print(
            f"{side:24s} {r['median']:8.1f} samples/s (median of {info['repeats']}; "
            f"min {r['min']:.1f}, max {r['max']:.1f})"
        )
        print(f"{'':24s} {mfu_line(r['median'] * info['flops_per_sample'], peak)}")
    for trainer, r in ratios.items():
        rounds = ", ".join(f"{x:.2f}" for x in r["per_round"])
        print(
            f"ratio engine/{trainer}: {r['ratio']:.2f}  (>= {min_ratio:g} required)  "
            f"{'ok' if r['ok'] else 'TOO SLOW'}  [per round: {rounds}]"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # e.g. "pooler weights newly initialized"
    hf_logging.disable_progress_bar()  # weight-loading bars on every fresh model

    trainers = [TRAINER_GROUPED] if args.trainer_group_by_length else [TRAINER]
    if args.both:
        trainers = [TRAINER, TRAINER_GROUPED]
    sides = [ENGINE, *trainers]

    with tempfile.TemporaryDirectory(prefix="xlt-bench-") as tmp:
        setup, info = prepare(args, Path(tmp))
        results = measure(args, setup, sides)
    ratios = compare(results, trainers, args.min_ratio)
    passed = all(r["ok"] for r in ratios.values())

    if args.json:
        figures = {
            **info,
            "samples_per_second": results,
            "mfu": {
                side: r["median"]
                * info["flops_per_sample"]
                / (info["peak_tflops"] * 1e12)
                if info["peak_tflops"]
                else None
                for side, r in results.items()
            },
            "ratios": ratios,
            "min_ratio": args.min_ratio,
            "passed": passed,
        }
        print(json.dumps(figures, indent=2))
    else:
        report(info, results, ratios, args.min_ratio)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
