"""Model FLOPs per second and MFU (model FLOPs utilisation) of a training run.

Training FLOPs of a transformer encoder, forward + backward, per sequence of
T tokens: 6 * N * T + 12 * L * d * T^2, where N is the number of
non-embedding parameters and L, d the layers and hidden size.
  - 6 * N per token: Kaplan et al. 2020, "Scaling Laws for Neural Language
    Models", section 2.1 (C ~ 6N; N without embeddings, whose lookup is no
    matrix product).
  - 12 * L * H * Q * T per token for attention (H heads of size Q, H * Q = d):
    Chowdhery et al. 2022, "PaLM", appendix B, the same formula MFU is
    defined with there. Summed over a batch's own sequence lengths, so
    padding counts as no useful work.
MFU is those FLOPs per second over the device's peak for the precision.

Peaks are dense (no 2:4 sparsity) tensor-core figures from the vendors'
datasheets; fp32 is the plain fp32 rate, since torch does not use TF32 for
matrix products unless asked (torch.backends.cuda.matmul.allow_tf32 = False).
CPU peaks are estimates: cores (torch's threads) x clock x FLOPs per cycle for
the ISA found in /proc/cpuinfo. `XLT_PEAK_TFLOPS` (or `--peak-tflops` where a
script offers it) overrides either.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# TFLOP/s (dense) per precision. Sources: NVIDIA datasheets -
# A100 (80GB SXM/PCIe): BF16/FP16 tensor 312, FP32 19.5.
# H100 SXM5: 989.4 / 989.4 / 67; H100 PCIe: 756 / 756 / 51; H100 NVL: 835 /
# 835 / 60 (the datasheets print twice these tensor figures "with sparsity").
# H200 SXM: as H100 SXM; H200 NVL: as H100 NVL.
# L40S: 362.05 / 362.05 / 91.6.
# RTX 4090 (Ada Lovelace architecture whitepaper, appendix): FP16/BF16 tensor
#   with FP32 accumulate 165.2 (what autocast does), FP32 82.6.
# V100 SXM2: FP16 tensor 125, FP32 15.7; V100 PCIe: 112 / 14; no bf16 units.
# Order matters: the first name found in the device name wins.
GPU_PEAKS_TFLOPS: tuple[tuple[str, dict[str, float]], ...] = (
    ("H200 NVL", {"bf16": 835.0, "fp16": 835.0, "fp32": 60.0}),
    ("H200", {"bf16": 989.4, "fp16": 989.4, "fp32": 67.0}),
    ("H100 NVL", {"bf16": 835.0, "fp16": 835.0, "fp32": 60.0}),
    ("H100 PCIe", {"bf16": 756.0, "fp16": 756.0, "fp32": 51.0}),
    ("H100", {"bf16": 989.4, "fp16": 989.4, "fp32": 67.0}),
    ("A100", {"bf16": 312.0, "fp16": 312.0, "fp32": 19.5}),
    ("L40S", {"bf16": 362.05, "fp16": 362.05, "fp32": 91.6}),
    ("4090", {"bf16": 165.2, "fp16": 165.2, "fp32": 82.6}),
    ("V100 PCIe", {"fp16": 112.0, "fp32": 14.0}),
    ("V100", {"fp16": 125.0, "fp32": 15.7}),
)

# FLOPs per cycle per core, estimates for two FMA units per core (true of
# Zen 2-5 with AVX2 and of Xeon Gold/Platinum with AVX-512; some Xeon Silver
# parts have one 512-bit FMA unit, half this): fp32 = 2 units x lanes x 2.
# AMX: one TMUL per core, 1024 bf16 FLOPs per cycle (Intel's AMX overview
# for 4th-gen Xeon); AVX512-BF16: VDPBF16PS, 2 units x 32 pairs x 2 = 128.
CPU_FLOPS_PER_CYCLE = {
    "avx512f": {"fp32": 64},
    "avx2": {"fp32": 32},
    "sse2": {"fp32": 8},
}
AMX_BF16_FLOPS_PER_CYCLE = 1024
AVX512_BF16_FLOPS_PER_CYCLE = 128


@dataclass(frozen=True)
class Peak:
    tflops: float
    source: str
    """Where the figure comes from (a datasheet row, an estimate, an override)."""


def training_flops(
    non_embedding_params: int, layers: int, hidden: int, lengths
) -> float:
    """Forward + backward FLOPs for sequences of the given lengths."""
    tokens = sum(int(n) for n in lengths)
    squares = sum(int(n) ** 2 for n in lengths)
    return 6.0 * non_embedding_params * tokens + 12.0 * layers * hidden * squares


def encoder_shape(model) -> tuple[int, int, int]:
    """(non-embedding parameters, layers, hidden) of a transformers model or
    a module holding one (xlt's TaskModel: its `.encoder`)."""
    # A transformers model has a config; xlt's TaskModel holds one as .encoder
    # (a bare XLMRobertaModel's own .encoder is its layer stack: not that).
    encoder = model if hasattr(model, "config") else model.encoder
    config = encoder.config
    # BERT-like models keep word, position and type embeddings in one module.
    embeddings = getattr(encoder, "embeddings", None) or encoder.get_input_embeddings()
    embedding_params = sum(p.numel() for p in embeddings.parameters())
    total = sum(p.numel() for p in model.parameters())
    return total - embedding_params, config.num_hidden_layers, config.hidden_size


def override_peak() -> Peak | None:
    value = os.environ.get("XLT_PEAK_TFLOPS")
    if not value:
        return None
    try:
        return Peak(float(value), "XLT_PEAK_TFLOPS")
    except ValueError:
        raise SystemExit(
            f"XLT_PEAK_TFLOPS={value!r}: expected a number of TFLOP/s"
        ) from None


def gpu_peak(device_name: str, precision: str) -> Peak | None:
    for key, peaks in GPU_PEAKS_TFLOPS:
        if key.lower() in device_name.lower():
            if precision not in peaks:
                return None  # e.g. bf16 on a V100: no bf16 tensor cores
            return Peak(peaks[precision], f"{key} datasheet, dense {precision}")
    return None


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_ghz() -> float | None:
    """The highest clock the kernel reports (cpufreq's maximum, else the
    `cpu MHz` of /proc/cpuinfo, which under a hypervisor is the TSC rate)."""
    try:
        khz = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text()
        return int(khz) / 1e6
    except (OSError, ValueError):
        pass
    mhz = [
        float(line.partition(":")[2])
        for line in _cpuinfo().splitlines()
        if line.startswith("cpu MHz")
    ]
    return max(mhz) / 1e3 if mhz else None


def cpu_peak(precision: str, cores: int, flags: frozenset[str]) -> Peak | None:
    ghz = cpu_ghz()
    if not ghz:
        return None
    isa = next((i for i in CPU_FLOPS_PER_CYCLE if i in flags), None)
    if isa is None:
        return None
    per_cycle = CPU_FLOPS_PER_CYCLE[isa]["fp32"]
    note = isa
    if precision == "bf16" and "amx_bf16" in flags:
        per_cycle, note = AMX_BF16_FLOPS_PER_CYCLE, "amx_bf16"
    elif precision == "bf16" and "avx512_bf16" in flags:
        per_cycle, note = AVX512_BF16_FLOPS_PER_CYCLE, "avx512_bf16"
    tflops = cores * ghz * per_cycle / 1e3
    return Peak(
        tflops,
        f"estimate: {cores} cores x {ghz:.2f} GHz x {per_cycle} FLOPs/cycle ({note})",
    )


def device_peak(device_type: str, precision: str, device_name: str = "") -> Peak | None:
    """The peak to divide by, or None when unknown (then MFU is not printed)."""
    override = override_peak()
    if override:
        return override
    if device_type == "cuda":
        return gpu_peak(device_name, precision)
    if device_type == "cpu":
        import torch

        from engine.runinfo import cpu_flags

        return cpu_peak(precision, torch.get_num_threads(), cpu_flags())
    return None


def mfu_line(flops_per_second: float, peak: Peak | None) -> str:
    if flops_per_second >= 1e12:
        achieved = f"{flops_per_second / 1e12:.1f} TFLOP/s model FLOPs"
    else:
        achieved = f"{flops_per_second / 1e9:.2f} GFLOP/s model FLOPs"
    if peak is None:
        return f"{achieved}; MFU unknown (no peak for this device; set XLT_PEAK_TFLOPS)"
    return (
        f"{achieved}; MFU {flops_per_second / (peak.tflops * 1e12):.4f} "
        f"(peak {peak.tflops:.4g} TFLOP/s: {peak.source})"
    )
