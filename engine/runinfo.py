"""What a run records about where it ran: versions, git commit, host, device."""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from engine import __version__

# The packages whose versions change a score: seqeval 0.x and 1.x compute
# UD-POS / PAN-X F1 differently (1.x's default mode is the conlleval-style
# one), sacrebleu's BLEU depends on its version and tokenizer.
SCORING_PACKAGES = ("torch", "transformers", "datasets", "tokenizers", "numpy",
                    "seqeval", "sacrebleu", "safetensors")  # fmt: skip


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "xlt": __version__}
    for name in SCORING_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str | None:
    """The commit of the xlt source that runs, with '+dirty' for local changes."""
    source = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "") if commit else None


def host() -> str:
    return socket.gethostname()


def command_line() -> str:
    return " ".join(sys.argv)


def provenance(
    config, device: str, data: Mapping[str, str], threads: int | None = None
) -> dict:
    """Everything a reader needs to trust (or reproduce) a run's numbers: xlt
    version and commit, the versions of the packages that compute them, the
    device and precision, how tensors are computed (`runtime`), the
    fingerprint of every data split read, and the resolved config.
    `threads`: the torch threads of each worker, for a run on workers (this
    process's own count is not theirs)."""
    return {
        "xlt": __version__,
        "git_commit": git_commit(),
        "versions": package_versions(),
        "device": device,
        "precision": config.precision,
        "runtime": {
            **runtime_record(device, config.precision, threads),
            # Processes that train one stage together (gpus_per_stage, DDP).
            "world_size": getattr(config, "gpus_per_stage", 1),
        },
        "data": dict(sorted(data.items())),
        "config": config.to_toml_dict(),
    }


# --------------------------------------------------------------------------
# Runtime choices: kept here, in the engine's lowest layer, so engine.train and
# a run's record read one answer.

# torch.optim.AdamW(fused=True) has a CPU kernel from torch 2.4 (release notes
# of 2.4, "fused AdamW on CPU"); on CUDA it has been there since 2.0.
FUSED_ADAMW_CPU_SINCE = (2, 4)


def _torch_version() -> tuple[int, int]:
    try:
        major, minor = metadata.version("torch").split(".")[:2]
        return int(major), int(minor)
    except (metadata.PackageNotFoundError, ValueError):
        return (0, 0)


def fused_adamw(device_type: str) -> bool:
    """Whether the engine's AdamW runs torch's fused kernel on this device:
    on CUDA, and on the CPU from torch 2.4. The CPU kernel matches the
    unfused one to float32 rounding (largest relative difference of the
    weights after 20 steps 4.4e-7; tests/test_throughput_options.py asserts
    < 1e-5) and runs the optimizer step 3.9x faster (35M parameters, 2 AVX2
    cores, benchmarks/cpu_options.py)."""
    if device_type == "cuda":
        return True
    return device_type == "cpu" and _torch_version() >= FUSED_ADAMW_CPU_SINCE


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as the kernel lists them (lscpu's `Flags`);
    empty where /proc/cpuinfo is not there (macOS, Windows)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def cpu_bf16_native(flags: frozenset[str] | None = None) -> bool:
    """True where the CPU computes bf16 matrix products in hardware (AMX-BF16
    or AVX512-BF16); elsewhere bf16 autocast on the CPU converts in software
    and is usually slower than fp32."""
    flags = cpu_flags() if flags is None else flags
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def runtime_record(device: str, precision: str, threads: int | None = None) -> dict:
    """How tensors are computed in this run: autocast dtype, fused optimizer,
    attention implementation, torch threads (`threads`, or this process's),
    and, on the CPU, whether bf16 is native. Called in the run's process,
    where torch is already loaded."""
    import torch

    # "cpu", "cuda", "cuda:0 (NVIDIA H100 80GB HBM3)", "cpu, cpu" (workers),
    # "cpu+cpu" (a DDP group): the type is the first word.
    words = device.replace(":", " ").replace(",", " ").replace("+", " ").split()
    device_type = (words or [""])[0]
    autocast = {"bf16": "bfloat16", "fp16": "float16"}.get(precision)
    record: dict = {
        "autocast_dtype": autocast,
        "fused_optimizer": fused_adamw(device_type),
        # transformers' default for models that support it (engine.models.
        # loading passes nothing else). On the CPU, training with attention
        # dropout > 0 runs SDPA's math path: torch's CPU flash kernel takes no
        # dropout (benchmarks/README.md, "Attention dropout on the CPU").
        "attention_implementation": "sdpa",
        # Threads change how matrix products round (README, "More GPUs").
        "torch_threads": torch.get_num_threads() if threads is None else threads,
    }
    if device_type == "cpu":
        record["cpu_bf16_native"] = cpu_bf16_native()
    return record
