"""Executors: where a plan's stages run. The in-process one is engine.runner's
sequential loop; `local` runs one worker process per device of this machine,
`ray_executor` one actor per slot of a Ray cluster. Both offer the same calls
(free_devices, device, pid, submit, poll, busy, stop, kill_busy). Whatever
the executor, the `xlt-engine run` process writes the store and the event
stream: workers only report to it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from engine.config import ExperimentConfig

if TYPE_CHECKING:
    from engine.executors.local import LocalExecutor
    from engine.executors.ray_executor import RayExecutor


def on_workers(config: ExperimentConfig, devices: Sequence[str]) -> bool:
    """Whether a run's stages run in worker processes (several devices, a
    group of devices training each stage together, or a Ray cluster) rather
    than one after another in the `xlt-engine run` process."""
    return (
        len(devices) > 1
        or any("+" in d for d in devices)  # one DDP group: a worker
        or config.executor == "ray"
    )


def start_workers(
    config: ExperimentConfig,
    workspace_root: str,
    run_id: str,
    devices: Sequence[str],
) -> LocalExecutor | RayExecutor | None:
    """The executor of a run whose stages run on workers, started: its
    workers exist and import what stages need, and wait for go() before they
    touch the workspace. None for a run in process. The runner sets its
    callbacks and lets it go."""
    if not on_workers(config, devices):
        return None

    def unset(*args: Any) -> None:
        raise AssertionError("the runner sets the callbacks before go()")

    executor = make_executor(config, workspace_root, run_id, devices, unset, unset)
    return executor.start()


def make_executor(
    config: ExperimentConfig,
    workspace_root: str,
    run_id: str,
    devices: Sequence[str],
    on_event: Callable[[str, dict[str, Any]], object],
    on_score: Callable[[str, Any, bool, str], None],
) -> LocalExecutor | RayExecutor:
    """The executor the config asks for (Ray imported only when asked)."""
    if config.executor == "ray":
        from engine.executors.ray_executor import RayExecutor

        return RayExecutor(config, workspace_root, run_id, devices, on_event, on_score)
    from engine.executors.local import LocalExecutor

    return LocalExecutor(config, workspace_root, run_id, devices, on_event, on_score)
