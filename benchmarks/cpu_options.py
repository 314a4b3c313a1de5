"""CPU training options, each against its baseline in the same process.

What is measured (an XLM-R-base-shaped encoder built from a config with random
weights, no download; shape from FacebookAI/xlm-roberta-base's config.json:
12 layers, hidden 768, 12 heads, intermediate 3072):

* attention dropout: the time of one forward + backward pass in train mode
  with `attention_probs_dropout_prob` 0.1 (XLM-R's value) against 0.0, at
  each `--lengths`; plus SDPA's math path with dropout 0.0, which splits the
  cost into "math path instead of the fused kernel" and "the dropout mask".
  torch's CPU flash kernel refuses dropout > 0 ("Both fused kernels do not
  support non-zero dropout", aten/src/ATen/native/transformers/
  sdp_utils_cpp.h), so with dropout on, SDPA runs its math path, which
  materialises every (batch x heads x length x length) score matrix and its
  float dropout mask and keeps both for the backward pass.
* fused AdamW: one `optimizer.step()` over the encoder's parameters with
  `fused=True` against torch's default (foreach), and the largest relative
  difference of the weights after `--adam-steps` steps from the same
  gradients.
* bf16 autocast: forward + backward in bf16 autocast against fp32 (dropout
  on), with whether this CPU has native bf16 (AMX-BF16 / AVX512-BF16).

Timed runs alternate (A B, B A, ...) so load that comes and goes hits both
sides alike; the figure is the ratio of medians.

    .venv/bin/python benchmarks/cpu_options.py              # ~3-6 min on 2 cores
    .venv/bin/python benchmarks/cpu_options.py --layers 4 --repeats 3 --json
"""

from __future__ import annotations

import os

# As in train_throughput.py: sleeping OpenMP threads on a shared machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from engine.runinfo import cpu_bf16_native, cpu_flags

# FacebookAI/xlm-roberta-base config.json (hub), except the vocabulary.
XLMR_BASE = dict(
    hidden_size=768,
    num_attention_heads=12,
    intermediate_size=3072,
    max_position_embeddings=514,
    type_vocab_size=1,
    pad_token_id=1,
    layer_norm_eps=1e-5,
)


def build_model(layers: int, vocab: int, attention_dropout: float):
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(0)
    config = XLMRobertaConfig(
        **XLMR_BASE,
        num_hidden_layers=layers,
        vocab_size=vocab,
        attention_probs_dropout_prob=attention_dropout,
        hidden_dropout_prob=0.1,
        attn_implementation="sdpa",
    )
    return XLMRobertaModel(config, add_pooling_layer=False).train()


def fwd_bwd(model, ids: torch.Tensor, kernel=None, autocast=None) -> Callable[[], None]:
    mask = torch.ones_like(ids)

    def step() -> None:
        with kernel() if kernel else nullcontext(), autocast or nullcontext():
            out = model(input_ids=ids, attention_mask=mask).last_hidden_state
        out.float().pow(2).mean().backward()
        model.zero_grad(set_to_none=True)

    return step


def median_seconds(fns: dict[str, Callable[[], None]], repeats: int) -> dict:
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def attention_dropout(args) -> list[dict]:
    on = build_model(args.layers, args.vocab, 0.1)
    off = build_model(args.layers, args.vocab, 0.0)
    off.load_state_dict(on.state_dict())
    rows = []
    for length in args.lengths:
        ids = torch.randint(5, args.vocab, (args.batch_size, length))
        s = median_seconds(
            {
                "dropout 0.1 (math path)": fwd_bwd(on, ids),
                "dropout 0 (fused kernel)": fwd_bwd(off, ids),
                "dropout 0, math path forced": fwd_bwd(
                    off, ids, kernel=lambda: sdpa_kernel(SDPBackend.MATH)
                ),
            },
            args.repeats,
        )
        base = s["dropout 0 (fused kernel)"]
        rows.append(
            {
                "length": length,
                "seconds": {k: round(v, 4) for k, v in s.items()},
                "ratio_dropout_on_over_off": round(
                    s["dropout 0.1 (math path)"] / base, 3
                ),
                "ratio_math_path_over_fused": round(
                    s["dropout 0, math path forced"] / base, 3
                ),
            }
        )
    return rows


def fused_adamw(args) -> dict:
    model = build_model(args.layers, args.vocab, 0.1)
    params = [p for p in model.parameters()]
    torch.manual_seed(1)
    grads = [torch.randn_like(p) * 1e-2 for p in params]
    copies = {
        "fused": [p.detach().clone().requires_grad_() for p in params],
        "foreach": [p.detach().clone().requires_grad_() for p in params],
    }
    optims = {
        name: torch.optim.AdamW(ps, lr=2e-5, weight_decay=0.01, fused=name == "fused")
        for name, ps in copies.items()
    }
    for ps in copies.values():
        for p, g in zip(ps, grads, strict=True):
            p.grad = g.clone()

    for _ in range(args.adam_steps):  # parity: same gradients every step
        for opt in optims.values():
            opt.step()
    with torch.no_grad():
        worst = max(
            float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))
            for a, b in zip(copies["fused"], copies["foreach"], strict=True)
        )
    s = median_seconds({k: opt.step for k, opt in optims.items()}, args.repeats)
    return {
        "parameters": sum(p.numel() for p in params),
        "steps_compared": args.adam_steps,
        "max_relative_difference": worst,
        "seconds": {k: round(v, 4) for k, v in s.items()},
        "speedup_fused": round(s["foreach"] / s["fused"], 3),
    }


def bf16_autocast(args) -> dict:
    model = build_model(args.layers, args.vocab, 0.1)
    length = args.lengths[0]
    ids = torch.randint(5, args.vocab, (args.batch_size, length))
    bf16 = torch.autocast(device_type="cpu", dtype=torch.bfloat16)
    s = median_seconds(
        {
            "fp32": fwd_bwd(model, ids),
            "bf16 autocast": fwd_bwd(model, ids, autocast=bf16),
        },
        args.repeats,
    )
    return {
        "length": length,
        "bf16_native": cpu_bf16_native(),
        "seconds": {k: round(v, 4) for k, v in s.items()},
        "speedup_bf16": round(s["fp32"] / s["bf16 autocast"], 3),
    }


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=12, help="encoder layers (12: base)")
    p.add_argument(
        "--vocab",
        type=int,
        default=8192,
        help="vocabulary size (XLM-R's is 250002; the embedding does not change "
        "attention's cost, and a smaller one keeps the run short)",
    )
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lengths", type=int, nargs="+", default=[128, 256])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--adam-steps", type=int, default=20)
    p.add_argument(
        "--skip", nargs="*", default=[], choices=("dropout", "adamw", "bf16")
    )
    p.add_argument("--json", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    flags = cpu_flags()
    info = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "isa": sorted(
            flags & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}
        ),
        "load_average": round(os.getloadavg()[0], 2),
        "layers": args.layers,
        "vocab": args.vocab,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
    }
    out: dict = {"info": info}
    if "dropout" not in args.skip:
        out["attention_dropout"] = attention_dropout(args)
    if "adamw" not in args.skip:
        out["fused_adamw"] = fused_adamw(args)
    if "bf16" not in args.skip:
        out["bf16_autocast"] = bf16_autocast(args)
    out["info"]["load_average_end"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(json.dumps(info))
    for row in out.get("attention_dropout", []):
        print(
            f"length {row['length']}: dropout on/off "
            f"{row['ratio_dropout_on_over_off']:.2f}x, "
            f"math path/fused (no dropout) {row['ratio_math_path_over_fused']:.2f}x  "
            f"{row['seconds']}"
        )
    if "fused_adamw" in out:
        a = out["fused_adamw"]
        print(
            f"fused AdamW: {a['speedup_fused']:.2f}x faster, max relative difference "
            f"{a['max_relative_difference']:.2e} after {a['steps_compared']} steps  "
            f"{a['seconds']}"
        )
    if "bf16_autocast" in out:
        b = out["bf16_autocast"]
        print(
            f"bf16 autocast: {b['speedup_bf16']:.2f}x vs fp32 (native bf16: "
            f"{b['bf16_native']})  {b['seconds']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
