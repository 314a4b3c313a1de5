"""Which trackers a run asked for, whether their packages are installed, and
opening them. Light: a tracker's package is imported only when asked for."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.errors import InputError
from engine.extras import install_command
from engine.trackers.base import RunStart, Tracker
from engine.trackers.dispatch import TrackerListener

if TYPE_CHECKING:
    from engine.config.schema import ReportTable

# The package each tracker imports; the extra of the same name brings it.
PACKAGES = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}


def check_installed(report: ReportTable, source: str = "") -> None:
    """InputError (exit 2) naming the pip line for each tracker in `[report]
    to` whose package cannot be imported; checked before the run starts."""
    missing = [name for name in report.to if not _importable(PACKAGES[name])]
    if missing:
        where = f"{source}: " if source else ""
        lines = " and ".join(install_command(name) for name in missing)
        raise InputError(
            f"{where}[report] to lists {', '.join(missing)}, whose package is not "
            f"installed; install it ({lines}) or remove it from [report] to"
        )


def _importable(module: str) -> bool:
    if module in sys.modules:
        return sys.modules[module] is not None  # None: import blocked
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def open_trackers(
    report: ReportTable, run: RunStart, warn: Callable[[str], object]
) -> TrackerListener | None:
    """The listener forwarding the run's events to the trackers of `[report]
    to`, or None if it names none. A tracker that cannot be opened is left
    out with a warning, as one that fails later."""
    trackers: list[Tracker] = []
    for name in report.to:
        try:
            trackers.append(_open(name, report, run))
        except Exception as exc:  # noqa: BLE001 - a tracker never fails the run
            warn(f"tracker {name} is off for this run: {type(exc).__name__}: {exc}")
    return TrackerListener(trackers, run, warn) if report.to else None


def _open(name: str, report: ReportTable, run: RunStart) -> Tracker:
    if name == "tensorboard":
        from engine.trackers.tensorboard_writer import TensorBoardTracker

        return TensorBoardTracker(report, run)
    if name == "mlflow":
        from engine.trackers.mlflow_run import MlflowTracker

        return MlflowTracker(report, run)
    from engine.trackers.wandb_run import WandbTracker

    return WandbTracker(report, run)
