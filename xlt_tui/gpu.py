"""GPU utilisation and memory through NVML (the nvidia-ml-py package).

`pynvml` is imported on first use, not at import time. No package, no driver,
no GPU, or a driver that fails mid-way: `GpuProbe.sample()` returns None and
`describe()` says "no GPU"; nothing here raises. Each sample costs a few NVML
calls (a millisecond or so, sometimes far more on a busy driver), so the
monitor calls it from a worker thread, about once a second.

Light module: no textual, no torch.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GIB = 1024**3


@dataclass(frozen=True)
class GpuStats:
    index: int
    name: str
    utilization: int | None  # percent of time a kernel ran, last sample period
    memory_used: int  # bytes
    memory_total: int  # bytes
    temperature: int | None = None  # °C
    process_memory: int | None = None  # bytes held by the watched process
    has_process: bool = False  # the watched process runs on this GPU


class GpuProbe:
    """Samples every GPU NVML sees. Thread-safe; initialises NVML once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nvml: Any = None
        self._failed = False
        self._closed = False
        self.reason: str | None = None  # why there is nothing to show

    @property
    def unavailable(self) -> bool:
        """NVML could not be loaded at all (no package, no driver)."""
        return self._failed

    def _init(self) -> Any:
        if self._nvml is not None or self._failed or self._closed:
            return self._nvml
        try:
            import pynvml

            pynvml.nvmlInit()
        except Exception as exc:  # noqa: BLE001 - ImportError, NVMLError, OSError...
            self._failed = True
            self.reason = _reason(exc)
            return None
        self._nvml = pynvml
        return pynvml

    def sample(self, pid: int | None = None) -> list[GpuStats] | None:
        """One reading per GPU, or None when there is no usable GPU.

        With `pid`, GPUs where that process, or one of its descendants (the
        engine's per-device workers), holds memory are marked."""
        with self._lock:
            nvml = self._init()
            if nvml is None:
                return None
            family = process_family(pid) if pid is not None else set()
            try:
                count = nvml.nvmlDeviceGetCount()
                stats = [_read_device(nvml, i, family) for i in range(count)]
            except Exception as exc:  # noqa: BLE001 - a driver gone mid-run
                self.reason = _reason(exc)
                return None
        if not stats:
            self.reason = "no GPU"
            return None
        self.reason = None
        return stats

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._nvml is not None:
                try:
                    self._nvml.nvmlShutdown()
                except Exception:  # noqa: BLE001
                    pass
                self._nvml = None


def process_family(pid: int, proc: Path = Path("/proc")) -> set[int]:
    """`pid` and its descendants, read from /proc/<pid>/task/*/children
    (Linux); just `pid` where that cannot be read."""
    family, todo = {pid}, [pid]
    while todo:
        for children in (proc / str(todo.pop()) / "task").glob("*/children"):
            try:
                kids = {int(x) for x in children.read_text().split()}
            except (OSError, ValueError):
                continue
            todo.extend(kids - family)
            family |= kids
    return family


def _read_device(nvml: Any, index: int, family: Collection[int]) -> GpuStats:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    name = nvml.nvmlDeviceGetName(handle)
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    utilization = _optional(lambda: int(nvml.nvmlDeviceGetUtilizationRates(handle).gpu))
    temperature = _optional(
        lambda: int(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
    )
    has_process, process_memory = False, None
    if family:
        processes = _optional(lambda: nvml.nvmlDeviceGetComputeRunningProcesses(handle))
        for proc in processes or []:
            if getattr(proc, "pid", None) in family:
                has_process = True
                used = getattr(proc, "usedGpuMemory", None)
                if isinstance(used, int):
                    process_memory = (process_memory or 0) + used
    return GpuStats(
        index=index,
        name=str(name),
        utilization=utilization,
        memory_used=int(memory.used),
        memory_total=int(memory.total),
        temperature=temperature,
        process_memory=process_memory,
        has_process=has_process,
    )


def _optional(read):
    """Some readings are unsupported on some boards (MIG, vGPU): skip them."""
    try:
        return read()
    except Exception:  # noqa: BLE001
        return None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ImportError):
        return "no GPU (nvidia-ml-py not installed)"
    return f"no GPU ({exc})" if str(exc) else "no GPU"


def describe(
    stats: Sequence[GpuStats] | None, limit: int = 2, short: bool = False
) -> str:
    """One line: the GPUs the run uses (all GPUs if it cannot be told)."""
    if not stats:
        return "no GPU"
    shown = [s for s in stats if s.has_process] or list(stats)
    parts = [_describe_one(s, short) for s in shown[:limit]]
    if len(shown) > limit:
        parts.append(f"+{len(shown) - limit} more")
    return " │ ".join(parts)


_CUDA = re.compile(r"^cuda(?::(\d+))?$")


def cuda_index(device: str | None) -> int | None:
    """ "cuda:1" -> 1, "cuda" -> 0 (torch's current device, 0 unless set);
    None for "cpu", "mps" and the like. The index is the worker's own: under
    CUDA_VISIBLE_DEVICES it may differ from NVML's, which the panel then
    shows as it reads it (NVML order)."""
    match = _CUDA.match(device or "")
    if match is None:
        return None
    return int(match.group(1) or 0)


def describe_devices(
    stats: Sequence[GpuStats] | None,
    devices: Collection[str],
    short: bool = False,
) -> list[str]:
    """One line per GPU in use: those the running stages name ("cuda:1"),
    and those the run's processes hold memory on. Nothing in use (every stage
    on the CPU, or nothing known yet): the one-line `describe`."""
    if not stats:
        return ["no GPU"]
    wanted = {i for d in devices if (i := cuda_index(d)) is not None}
    used = [s for s in stats if s.index in wanted or s.has_process]
    if not used:
        return [describe(stats, limit=1 if short else 2, short=short)]
    return [_describe_one(s, short) for s in used]


def _describe_one(s: GpuStats, short: bool) -> str:
    util = "--" if s.utilization is None else f"{s.utilization}%"
    text = f"GPU{s.index} {util} {s.memory_used / GIB:.1f}/{s.memory_total / GIB:.0f}G"
    if not short:
        text = f"GPU{s.index} {s.name}: util {util}, mem {s.memory_used / GIB:.1f}/"
        text += f"{s.memory_total / GIB:.1f} GiB"
        if s.process_memory is not None:
            text += f" (run {s.process_memory / GIB:.1f})"
        if s.temperature is not None:
            text += f", {s.temperature}°C"
    return text
