"""Who generates code completions: transformers (engine.codegen.generate,
always there) or vLLM (faster on a GPU; never a dependency, imported only
when chosen).

`[generation] backend`: "transformers"; "vllm" (an error where vLLM or a
CUDA device is missing: asked for explicitly, it is not replaced silently);
"auto" (vLLM where it is importable and a CUDA device is visible, else
transformers, with the reason recorded in the run's provenance).

Both backends seed every (problem, sample) row on its own with
`sample_seed(seed, task_id, sample index)`: transformers through a per-row
torch.Generator, vLLM through `SamplingParams(seed=...)` on each request, so
a sample does not depend on the batch it ran in. The two backends draw
different random numbers, so samples differ between them; the backend used
is part of what is recorded with the scores.

Light at import (no torch, no transformers, no vllm).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from engine.config.generation import GenerationSettings
from engine.errors import InputError


@dataclass(frozen=True)
class BackendChoice:
    name: str
    """"transformers" or "vllm"."""
    note: str
    """Why this one (recorded with the scores)."""

    def as_dict(self) -> dict[str, str]:
        return {"backend": self.name, "backend_note": self.note}


def _vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def choose_backend(requested: str, device: Any = "cuda") -> BackendChoice:
    """The backend for `requested` on this machine (`device`: the run's, a
    string or a torch.device)."""
    if requested == "transformers":
        return BackendChoice("transformers", "asked for ([generation] backend)")
    installed = _vllm_installed()
    gpu = str(device).startswith("cuda") and _cuda_available()
    if requested == "vllm":
        if not installed:
            raise InputError(
                "[generation] backend = 'vllm', but the vllm package is not "
                "installed; install it (pip install vllm) or use 'auto' or "
                "'transformers'"
            )
        if not gpu:
            raise InputError(
                f"[generation] backend = 'vllm' needs a CUDA device; this run's "
                f"device is {device!r}; use 'auto' or 'transformers'"
            )
        return BackendChoice("vllm", "asked for ([generation] backend)")
    if requested != "auto":
        raise InputError(
            f"[generation] backend: unknown {requested!r}; expected auto, "
            "transformers or vllm"
        )
    if installed and gpu:
        return BackendChoice("vllm", "auto: vllm installed and a CUDA device")
    why = "vllm is not installed" if not installed else "no CUDA device"
    return BackendChoice("transformers", f"auto: fell back to transformers ({why})")


def vllm_requests(
    prompts: list[str], records: list[dict], settings: GenerationSettings, vllm
) -> list[tuple[str, Any, int, int]]:
    """One (prompt, SamplingParams, record index, sample index) per row,
    each sampled row with its own seed (`sample_seed`)."""
    from engine.codegen.generate import sample_seed

    requests = []
    for i, (prompt, record) in enumerate(zip(prompts, records, strict=True)):
        for j in range(settings.n_samples):
            if settings.do_sample:
                params = vllm.SamplingParams(
                    n=1,
                    temperature=settings.temperature,
                    top_p=settings.top_p,
                    max_tokens=settings.max_new_tokens,
                    stop=list(settings.stop_sequences),
                    seed=sample_seed(settings.seed, record["task_id"], j),
                )
            else:
                params = vllm.SamplingParams(
                    n=1,
                    temperature=0.0,
                    max_tokens=settings.max_new_tokens,
                    stop=list(settings.stop_sequences),
                )
            requests.append((prompt, params, i, j))
    return requests


class VllmGenerator:
    """A vLLM engine on one model folder, made once per target stage."""

    def __init__(self, model_path: str, dtype: str = "auto"):
        # Optional, never a dependency: imported only where chosen.
        vllm = importlib.import_module("vllm")
        self.vllm = vllm
        self.llm = vllm.LLM(model=model_path, dtype=dtype)

    def generate(
        self, records: list[dict], settings: GenerationSettings
    ) -> list[dict[str, Any]]:
        """Completions in generate_completions' order and shape."""
        from engine.codegen.generate import truncate_at_stop

        prompts = [
            r["prompt"].strip() if settings.strip_prompt else r["prompt"]
            for r in records
        ]
        requests = vllm_requests(prompts, records, settings, self.vllm)
        outputs = self.llm.generate(
            [p for p, _, _, _ in requests], [s for _, s, _, _ in requests]
        )
        completions = []
        for (_, _, i, j), output in zip(requests, outputs, strict=True):
            sample = output.outputs[0]
            text, cut = truncate_at_stop(sample.text, settings.stop_sequences)
            stopped = {"stop": "stop_sequence", "length": "length"}.get(
                str(sample.finish_reason), "eos"
            )
            if sample.stop_reason is None and sample.finish_reason == "stop":
                stopped = "eos"
            completions.append(
                {
                    "task_id": records[i]["task_id"],
                    "completion_index": j,
                    "completion": text,
                    "stopped": "stop_sequence" if cut else stopped,
                    "new_tokens": len(sample.token_ids),
                    "prompt_truncated": False,
                }
            )
        return completions
