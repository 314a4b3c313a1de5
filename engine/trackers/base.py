"""What every tracker does, and what it is told about the run at its start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class RunStart:
    """The run as a tracker first hears of it."""

    run_id: str
    name: str
    workspace: Path
    config: dict[str, Any]
    """The resolved config (ExperimentConfig.to_toml_dict())."""
    config_toml: str
    provenance: dict[str, Any]
    """engine.runinfo.provenance(...): model, data and code behind the run."""


class Tracker(Protocol):
    """One tracker's writer. Any exception it raises disables it (dispatch)."""

    name: str

    def start(self, run: RunStart) -> None: ...

    def scalar(self, tag: str, value: float, step: int) -> None: ...

    def finish(self, status: str) -> None: ...


def flat_params(value: Any, prefix: str = "") -> dict[str, str]:
    """A nested dict as flat "a.b.c" -> text pairs (MLflow params, TensorBoard
    hparams): trackers take one level of plain values."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(flat_params(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list | tuple):
        return {prefix: ", ".join(map(str, value))}
    return {prefix: str(value)}
