"""The training loop: one function you can read top to bottom.

AdamW with linear warm-up and decay, gradient accumulation and clipping,
mixed precision through autocast, length-grouped batches with dynamic padding,
model selection on English validation: every `eval_every` steps the first
`selection_examples` validation units are scored, the best step is kept, and
training stops after `patience` checks without improvement. One `step` event
every `log_every` optimizer steps; a cancel request is honoured between steps.

Model selection follows jiant, the toolkit of Phang et al. 2020:
jiant/proj/main/runscript.py `eval_every_steps`, `no_improvements_for_n_evals`
(early stopping) and `eval_subset_num` (the first N cached validation
features, jiant/shared/caching.py; its default and the X-STILTs runs used
500); several tasks are compared on the mean of their primary metrics
(jiant's EqualMetricAggregator).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from engine.config import SAMPLINGS, StageHparams
from engine.data.batching import eval_batches, length_grouped_batches
from engine.data.features import Features
from engine.errors import Cancelled, TrainingDiverged
from engine.models.heads import TaskModel
from engine.runinfo import cpu_bf16_native, fused_adamw

Emit = Callable[..., Any]


@dataclass
class TrainTask:
    """One task of a stage: its spec, kind, features and validation data."""

    spec: Any  # TaskSpec
    kind: Any  # engine.kinds.Kind
    train: Features
    validation: Features | None = None
    validation_records: list[dict] | None = None

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class TrainResult:
    steps: int
    best_step: int
    best_score: float | None
    """The selection score (mean primary metric over the tasks) of the kept step."""
    seconds: float
    samples_per_second: float
    tokens_per_second: float
    last_scores: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per task: its validation metrics at the last check (the last step)."""
    kept_scores: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per task: its validation metrics at the step whose weights are kept."""
    stopped_early: bool = False
    world_size: int = 1
    """Processes that trained the stage together (gpus_per_stage, DDP)."""


@dataclass(frozen=True)
class Runtime:
    """Where and how tensors are computed."""

    device: torch.device
    precision: str = "fp32"
    group: tuple[str, ...] = ()
    """gpus_per_stage > 1: the device of every rank ("cuda:0", "cuda:1"; or
    "cpu", "cpu"), trained together with DDP (engine.distributed); empty for
    one device."""
    rank: int = 0

    @property
    def world_size(self) -> int:
        return max(1, len(self.group))

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    def autocast(self):
        # device_type "cpu" too: torch's CPU autocast takes bf16 and fp16
        # (native bf16 where the CPU has AMX or AVX512-BF16, see
        # engine.runinfo.cpu_bf16_native).
        dtype = self.autocast_dtype
        if dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.device.type != "cuda":
            return batch
        # Pinned host memory lets the copy overlap with the GPU's work.
        return {
            k: v.pin_memory().to(self.device, non_blocking=True)
            for k, v in batch.items()
        }

    @property
    def pad_to_multiple(self) -> int:
        # Tensor cores like multiples of 8; on the CPU padding is pure waste.
        return 8 if self.device.type == "cuda" else 1


def runtime_for(name: str, precision: str) -> Runtime:
    """The runtime of a device ("cpu", "cuda:0") or of a group of devices
    joined with "+" ("cuda:0+cuda:1"), this process being the group's rank 0."""
    group = tuple(name.split("+")) if "+" in name else ()
    return Runtime(resolve_device(group[0] if group else name), precision, group)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def total_steps(n_units: int, hp: StageHparams) -> int:
    if hp.max_steps:
        return hp.max_steps
    batches_per_epoch = math.ceil(n_units / hp.batch_size)
    return max(1, math.ceil(hp.epochs * batches_per_epoch / hp.grad_accum))


def task_weights(
    sizes: list[int], sampling: str = "proportional", cap: int = 0, temperature=1.0
) -> np.ndarray:
    """How often each task of a multi-task stage is drawn for a step:
    proportional to its size, to min(size, cap), or to size^(1/temperature)."""
    n = np.asarray(sizes, dtype=np.float64)
    if sampling == "capped":
        n = np.minimum(n, cap) if cap else n
    elif sampling == "temperature":
        n = n ** (1.0 / temperature)
    elif sampling != "proportional":
        raise ValueError(f"sampling: {sampling!r} is not one of {SAMPLINGS}")
    return n / n.sum()


def make_optimizer(model: torch.nn.Module, hp: StageHparams, device: torch.device):
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if param.ndim < 2 or "norm" in name.lower() or name.endswith(".bias"):
            no_decay.append(param)
        else:
            decay.append(param)
    groups = [
        {"params": decay, "weight_decay": hp.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    # Fused where torch has the kernel (CUDA; CPU from torch 2.4): the same
    # update to float32 rounding, in one pass over the parameters.
    fused = fused_adamw(device.type)
    return torch.optim.AdamW(groups, lr=hp.learning_rate, fused=fused)


def linear_schedule(optimizer, warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_stage(
    model: TaskModel,
    tasks: TrainTask | list[TrainTask],
    hp: StageHparams,
    runtime: Runtime,
    seed: int,
    pad_id: int,
    emit: Emit,
    should_stop: Callable[[], bool] = lambda: False,
    select_best: bool = True,
    sampling: str = "proportional",
    sampling_cap: int = 0,
    temperature: float = 1.0,
) -> TrainResult:
    """Train `model` on one task, or on several at once (one head each, one
    task drawn per optimizer step by `sampling`); return the best step on the
    (first) task's English validation when `select_best`."""
    tasks = [tasks] if isinstance(tasks, TrainTask) else list(tasks)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = runtime.device
    model.to(device)
    sizes = [len(t.train) for t in tasks]
    steps = sum(total_steps(n, hp) for n in sizes) if not hp.max_steps else hp.max_steps
    weights = task_weights(sizes, sampling, sampling_cap, temperature)
    warmup = int(hp.warmup_ratio * steps)
    optimizer = make_optimizer(model, hp, device)
    net = _data_parallel(model, runtime)
    scheduler = linear_schedule(optimizer, warmup, steps)
    use_scaler = runtime.precision == "fp16"
    scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)
    batches_per_epoch = math.ceil(sizes[0] / hp.batch_size)
    eval_every = hp.eval_every or max(1, batches_per_epoch // hp.grad_accum)
    checked = [t for t in tasks if t.validation is not None]
    if device.type == "cpu" and runtime.precision == "bf16" and not cpu_bf16_native():
        # Measured on an AVX2-only CPU (benchmarks/cpu_options.py): a forward
        # and backward pass ~50x slower than in fp32.
        emit(
            "warning",
            message="precision = 'bf16' on a CPU without AMX-BF16 or "
            "AVX512-BF16: bf16 is emulated here and far slower than fp32 "
            "(set precision = 'fp32')",
        )
    if checked and steps // eval_every < 2:
        emit(
            "warning",
            message=f"eval_every = {eval_every} leaves one validation check in "
            f"{steps} steps: the kept step is the last one, not a selected one "
            f"(set eval_every <= {max(1, steps // 2)})",
        )

    best_score: float | None = None
    best_step = 0
    best_state: dict[str, torch.Tensor] | None = None
    last_scores: dict[str, dict[str, float]] = {}
    kept_scores: dict[str, dict[str, float]] = {}
    checks_without_gain = 0
    stopped_early = False

    step = 0
    epochs = [0] * len(tasks)
    queues: list[list[np.ndarray]] = [[] for _ in tasks]
    current = 0
    t_start = time.perf_counter()
    t_log = t_start
    seen_samples = seen_tokens = 0
    log_samples = log_tokens = 0
    log_loss = 0.0
    log_micro = 0
    model.train()
    optimizer.zero_grad(set_to_none=True)
    while step < steps:
        if _agree(should_stop(), runtime):  # every rank stops at one step
            raise Cancelled(f"cancelled at step {step} of {steps}")
        # One task per optimizer step: its grad_accum batches all come from it.
        current = int(rng.choice(len(tasks), p=weights)) if len(tasks) > 1 else 0
        task = tasks[current]
        for micro in range(hp.grad_accum):
            if not queues[current]:
                queues[current] = length_grouped_batches(
                    task.train.unit_lengths, hp.batch_size, rng
                )
                epochs[current] += 1
            units = queues[current].pop()
            mine, share = _shard(units, runtime)
            batch = task.kind.collate(task.train, mine, pad_id, runtime.pad_to_multiple)
            batch = runtime.to_device(batch)
            # With DDP, gradients are averaged across ranks once per optimizer
            # step, at the last micro-batch.
            last = micro == hp.grad_accum - 1
            with _no_sync(net, last):
                with runtime.autocast():
                    outputs = net(task.name, batch)
                    loss = task.kind.loss(outputs, batch)
                # share * world_size (1.0 on one device): DDP's mean over
                # ranks of shard-weighted losses is the whole batch's mean.
                weighted = loss * (share * runtime.world_size)
                scaler.scale(weighted / hp.grad_accum).backward()
            log_micro += 1
            log_loss += loss.detach() * share
            log_samples += len(units)
            log_tokens += int(task.train.unit_tokens[units].sum())  # host-side

        if hp.max_grad_norm > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), hp.max_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1

        if step % hp.log_every == 0 or step == steps:
            now = time.perf_counter()
            elapsed = now - t_log
            seen_samples += log_samples
            seen_tokens += log_tokens
            # One device sync per log (and, with DDP, one all-reduce).
            mean_loss = float(_sum_over_ranks(log_loss, runtime)) / max(1, log_micro)
            # Checked here, on the loss already synchronised for the step
            # event, not per step: a per-step check would add a device sync
            # to every step. A NaN stays NaN in the sum, so none is missed.
            _check_finite(mean_loss, step, steps, tasks, hp)
            remaining = (steps - step) * (now - t_start) / step
            emit(
                "step",
                step=step,
                total_steps=steps,
                epoch=epochs[0] if len(tasks) == 1 else max(epochs),
                loss=round(mean_loss, 5),
                lr=scheduler.get_last_lr()[0],
                samples_per_s=round(log_samples / max(elapsed, 1e-9), 2),
                tokens_per_s=round(log_tokens / max(elapsed, 1e-9), 1),
                progress=round(step / steps, 4),
                eta_s=round(remaining, 1),
            )
            t_log = now
            log_samples = log_tokens = log_micro = 0
            log_loss = 0.0

        checking = step % eval_every == 0 or step == steps
        if checking and runtime.rank == 0:  # rank 0 alone checks and selects
            last_scores = {
                t.name: validation_scores(model, t, hp, runtime, pad_id)
                for t in checked
            }
            model.train()
            if last_scores:
                # Several tasks: the mean of their primary metrics, as jiant's
                # EqualMetricAggregator.
                score = float(
                    np.mean([next(iter(m.values())) for m in last_scores.values()])
                )
                improved = best_score is None or score > best_score
                for t in checked:
                    metric, value = next(iter(last_scores[t.name].items()))
                    emit(
                        "eval",
                        task=t.name,
                        language=t.spec.train_language,
                        split="validation",
                        metric=metric,
                        value=round(value, 6),
                        step=step,
                        best=improved,
                    )
                if improved:
                    best_score, best_step = score, step
                    checks_without_gain = 0
                    kept_scores = last_scores
                    if select_best and step != steps:
                        best_state = {
                            k: v.detach().to("cpu", copy=True)
                            for k, v in model.state_dict().items()
                        }
                    elif select_best:
                        best_state = None  # the final weights are the best ones
                else:
                    checks_without_gain += 1
                if (
                    select_best
                    and hp.patience
                    and checks_without_gain >= hp.patience
                    and step < steps
                ):
                    emit(
                        "warning",
                        message=f"early stopping at step {step} of {steps}: "
                        f"{checks_without_gain} checks without improvement "
                        f"(patience {hp.patience}); keeping step {best_step}",
                    )
                    stopped_early = True
        # Rank 0's decision, so every rank leaves the loop at the same step.
        if checking and _agree(stopped_early, runtime):
            stopped_early = True
            break

    if log_micro:
        # Stopped early between two step events: the loss since the last one
        # is checked too (one sync at the end of the stage).
        _check_finite(float(log_loss) / log_micro, step, steps, tasks, hp)
    if select_best and best_state is not None:
        model.load_state_dict(best_state)
    seconds = time.perf_counter() - t_start
    seen_samples += log_samples
    seen_tokens += log_tokens
    if not select_best:
        kept_scores = last_scores  # the last step's weights are the ones kept
    return TrainResult(
        steps=step,
        best_step=best_step if select_best and best_score is not None else step,
        best_score=best_score,
        seconds=seconds,
        samples_per_second=seen_samples / max(seconds, 1e-9),
        tokens_per_second=seen_tokens / max(seconds, 1e-9),
        last_scores=last_scores,
        kept_scores=kept_scores,
        stopped_early=stopped_early,
        world_size=runtime.world_size,
    )


# -- data parallelism (gpus_per_stage > 1, launched by engine.distributed) ------
# One device: every function below is the identity and no collective runs.


def _data_parallel(model: torch.nn.Module, runtime: Runtime):
    """`model` wrapped in DistributedDataParallel when the stage has ranks."""
    if runtime.world_size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [runtime.device.index] if runtime.device.type == "cuda" else None
    # Some parameters get no gradient in a step: the other tasks' heads of a
    # multi-task stage, and a checkpoint's pooler (BERT, XLM-R), which no
    # head reads. DDP must look for them (one graph walk per step).
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def _no_sync(net: torch.nn.Module, last: bool):
    from torch.nn.parallel import DistributedDataParallel

    if last or not isinstance(net, DistributedDataParallel):
        return nullcontext()
    return net.no_sync()


def _shard(units: np.ndarray, runtime: Runtime) -> tuple[np.ndarray, float]:
    """This rank's units of the batch every rank drew (one rng, one seed,
    so the same batch the one-device run takes), and its share of the batch.

    Each rank's loss is weighted by its share, so the averaged gradient is
    the one-device gradient of the whole batch: exactly (up to float order)
    for losses that are a mean over units (classification, multiple choice,
    span QA), approximately for losses that are a mean over tokens (tagging,
    MLM, code generation) when shards hold different numbers of tokens.
    Dropout masks differ from one device's (each rank draws its own), so
    runs with dropout agree only statistically. A rank whose shard is empty
    (a batch smaller than the world) runs one unit at weight 0, to take part
    in the gradient all-reduce."""
    if runtime.world_size == 1:
        return units, 1.0
    mine = np.array_split(units, runtime.world_size)[runtime.rank]
    if len(mine) == 0:
        return units[:1], 0.0
    return mine, len(mine) / len(units)


def _agree(flag: bool, runtime: Runtime) -> bool:
    """Rank 0's `flag`, on every rank."""
    if runtime.world_size == 1:
        return flag
    import torch.distributed as dist

    where = runtime.device if runtime.device.type == "cuda" else "cpu"
    value = torch.tensor([int(flag)], device=where)
    dist.broadcast(value, src=0)
    return bool(value.item())


def _sum_over_ranks(value: Any, runtime: Runtime) -> Any:
    if runtime.world_size == 1:
        return value
    import torch.distributed as dist

    where = runtime.device if runtime.device.type == "cuda" else "cpu"
    total = torch.as_tensor(value, dtype=torch.float32, device=where).clone()
    dist.all_reduce(total)
    return total


def _check_finite(
    loss: float, step: int, steps: int, tasks: list[TrainTask], hp: StageHparams
) -> None:
    """TrainingDiverged when the mean loss since the last check is NaN or
    infinite: the weights are broken, and scoring them would store numbers
    that mean nothing."""
    if math.isfinite(loss):
        return
    names = ", ".join(t.name for t in tasks)
    raise TrainingDiverged(
        f"the loss of {names} became {loss} by step {step} "
        f"of {steps} (learning_rate {hp.learning_rate:g}, max_grad_norm "
        f"{hp.max_grad_norm:g}); lower the learning rate, clip gradients "
        "(max_grad_norm > 0) or train in fp32"
    )


def validation_scores(
    model: TaskModel,
    task: TrainTask,
    hp: StageHparams,
    runtime: Runtime,
    pad_id: int,
) -> dict[str, float]:
    """The task's metrics on its model-selection subset: the first
    `selection_examples` validation units (all when 0), the same at every
    check so checks are comparable."""
    assert task.validation is not None
    features = task.validation
    if hp.selection_examples:
        features = features.head(hp.selection_examples)
    return evaluate(
        model,
        task,
        features,
        task.validation_records,
        hp,
        runtime,
        pad_id,
        task.spec.train_language,
    )


@torch.no_grad()
def predict(
    model: TaskModel,
    task: TrainTask,
    features: Features,
    hp: StageHparams,
    runtime: Runtime,
    pad_id: int,
) -> dict[str, np.ndarray]:
    """The kind's `gather` outputs for every unit, in the features' order."""
    model.eval()
    parts: dict[str, list[np.ndarray]] = {}
    order: list[np.ndarray] = []
    for units in eval_batches(features.unit_lengths, hp.batch_size * 2):
        batch = task.kind.collate(features, units, pad_id, runtime.pad_to_multiple)
        batch = runtime.to_device(batch)
        with runtime.autocast():
            outputs = model(task.name, batch)
        for k, v in task.kind.gather(outputs, batch).items():
            parts.setdefault(k, []).append(v)
        order.append(units)
    if not order:
        return {}
    position = np.argsort(np.concatenate(order), kind="stable")
    return {k: np.concatenate(v)[position] for k, v in parts.items()}


def evaluate(
    model: TaskModel,
    task: TrainTask,
    features: Features,
    records: list[dict] | None,
    hp: StageHparams,
    runtime: Runtime,
    pad_id: int,
    language: str,
) -> dict[str, float]:
    """The kind's metrics on one split; the first is the primary one."""
    gathered = predict(model, task, features, hp, runtime, pad_id)
    return task.kind.score(gathered, features, records or [], task.spec, language)
