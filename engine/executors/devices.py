"""The devices a run's workers get: `devices` from the config, resolved and
checked against what torch sees on this machine (exit 2 if it cannot be).

Touches torch.cuda only to count GPUs (NVML where available), so the
`xlt-engine run` process does not take a CUDA context its workers need.
"""

from __future__ import annotations

import dataclasses
import os

from engine.config import ExperimentConfig
from engine.errors import InputError


def resolve_devices(config: ExperimentConfig) -> list[str]:
    """One entry per worker; a single entry means the in-process path. With
    `gpus_per_stage` N > 1 an entry is a group of N devices joined with "+"
    ("cuda:0+cuda:1", "cpu+cpu"): one worker trains each stage on all N."""
    if config.executor == "ray":
        # The cluster's devices, resolved (and grouped) by the Ray executor
        # against the cluster's resources: this machine may have none of them.
        return list(config.devices) or (
            [config.device] if config.device != "auto" else ["all"]
        )
    return group_devices(_each_device(config), config)


def group_devices(devices: list[str], config: ExperimentConfig) -> list[str]:
    """`devices` grouped `gpus_per_stage` at a time, in order; InputError
    (exit 2) naming the key when they do not divide into such groups."""
    n = config.gpus_per_stage
    if n == 1:
        return devices
    where = f"{config.source_file}: gpus_per_stage"
    if not config.devices:
        raise InputError(
            f"{where}: {n} devices per stage needs several devices to group: "
            f"set devices = {_example(n)} (or --devices) and gpus_per_stage = "
            f"{n}, or gpus_per_stage = 1 to train on `device` alone"
        )
    if len(devices) % n:
        fits = max(
            d for d in range(1, len(devices) + 1) if len(devices) % d == 0 and d <= n
        )
        raise InputError(
            f"{where}: {n} does not divide the {len(devices)} devices "
            f"({', '.join(devices)}) into groups; the nearest that does is "
            f"gpus_per_stage = {fits}"
        )
    groups = [devices[i : i + n] for i in range(0, len(devices), n)]
    for group in groups:
        # One process group talks one backend (gloo on CPUs, nccl on GPUs),
        # and nccl refuses two ranks on one GPU; torch DDP has no MPS backend.
        kinds = {d.split(":")[0] for d in group}
        if kinds - {"cpu", "cuda"} or len(kinds) > 1:
            raise InputError(
                f"{where}: a group trains on CUDA GPUs only or on CPUs only, "
                f"not on {' + '.join(group)}; reorder devices or set "
                "gpus_per_stage = 1"
            )
        if kinds == {"cuda"} and len(set(group)) < len(group):
            raise InputError(
                f"{where}: the group {' + '.join(group)} names one GPU twice; "
                "each rank of a group needs a GPU of its own"
            )
    return ["+".join(group) for group in groups]


def _example(n: int) -> str:
    return "[" + ", ".join(f'"cuda:{i}"' for i in range(n)) + "]"


def _each_device(config: ExperimentConfig) -> list[str]:
    if not config.devices:
        return [config.device]
    import torch

    where = f"{config.source_file}: devices"
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if config.devices == ("all",):
        # Chosen: an error rather than one CPU worker. "all" asks for GPUs;
        # quietly running on one CPU would turn an hour into days.
        if count == 0:
            raise InputError(
                f'{where}: "all" means every visible GPU, and torch '
                f"{torch.__version__} sees none here; use devices = "
                '["cpu", "cpu"] for CPU workers, or device = "cpu"'
            )
        return [f"cuda:{i}" for i in range(count)]
    for device in config.devices:
        if device.startswith("cuda:"):
            index = int(device.split(":")[1])
            if index >= count:
                have = f"cuda:0..cuda:{count - 1}" if count else "no CUDA GPU"
                raise InputError(
                    f"{where}: '{device}' does not exist; this machine has {have}"
                )
        if device == "mps" and not torch.backends.mps.is_available():
            raise InputError(f"{where}: 'mps' is not available here")
    if config.precision == "fp16" and any(
        not d.startswith("cuda") for d in config.devices
    ):
        raise InputError(
            f"{config.source_file}: precision: 'fp16' needs CUDA devices (devices "
            f'lists {", ".join(config.devices)}); use "bf16" or "fp32"'
        )
    return list(config.devices)


def cpu_cores() -> int:
    """The cores this process may run on (its affinity), not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def threads_per_worker(workers: int) -> int:
    """Torch threads of each worker: the cores shared out. Left alone, every
    worker takes all cores, and N workers each spinning N threads per core
    run slower together than one worker alone."""
    return max(1, cpu_cores() // max(1, workers))


def with_devices(config: ExperimentConfig, option: str) -> ExperimentConfig:
    """The config with `--devices a,b` in place of its device(s); InputError
    (exit 2) naming the option for a value the config key would refuse."""
    from engine.config.schema import devices_value

    text = option.strip()
    value: object = text if text == "all" else [d.strip() for d in text.split(",")]
    try:
        devices = devices_value(value)
    except ValueError as exc:
        raise InputError(f"--devices: {exc}") from None
    if len(devices) == 1 and devices != ("all",):  # one device: in process
        return dataclasses.replace(config, device=devices[0], devices=())
    return dataclasses.replace(config, device="auto", devices=devices)
