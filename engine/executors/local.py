"""The local executor: one worker process per device, fed by the driver.

The driver (the `xlt-engine run` process) hands a stage to a free worker,
then listens to every worker's pipe and process at once: events and scores
go straight to the driver's callbacks (it alone writes the store and the
event stream), and each stage comes back as a `StageOutcome`. A worker whose
process is gone while it ran a stage (killed, out of memory) yields a `lost`
outcome and is replaced by a fresh worker on the same device, so the driver
can run the stage again.

Light to import (no torch): workers import torch themselves, after their
device is pinned.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from engine.config import ExperimentConfig
from engine.errors import InputError
from engine.executors.devices import threads_per_worker
from engine.executors.worker import GO, WorkerSpec, visible_devices, worker_main
from engine.pipeline import Stage

# How long stopping workers may take to reach a safe point before they are
# killed: one training step, one language's evaluation or one generation
# batch, which on the largest models takes well under this.
STOP_GRACE_S = 120.0
# Workers that die again and again (a device that crashes its process) end
# the run instead of being replaced forever.
_MAX_DEATHS = 10


@dataclass
class StageOutcome:
    """How a stage handed to a worker ended."""

    stage: Stage
    device: str
    info: dict[str, Any] | None = None  # for stage_end, when it finished
    why: str = ""  # "cancelled", "input", "error", "lost" when it did not
    message: str = ""
    traceback: str = ""

    @property
    def ok(self) -> bool:
        return self.info is not None


@dataclass
class _Worker:
    device: str
    process: Any  # multiprocessing.Process (spawn context)
    conn: Any  # the driver's end of its pipe
    stage: Stage | None = None
    ready: bool = False
    started_stage_at: float = 0.0


class LocalExecutor:
    def __init__(
        self,
        config: ExperimentConfig,
        workspace_root: str,
        run_id: str,
        devices: Sequence[str],
        on_event: Callable[[str, dict[str, Any]], object],
        on_score: Callable[[str, Any, bool, str], None],
    ):
        self.config = config
        self.workspace_root = workspace_root
        self.run_id = run_id
        self.devices = list(devices)
        self.on_event = on_event  # (type, fields)
        self.on_score = on_score  # (stage id, score, reused, device)
        self.threads = threads_per_worker(len(self.devices))
        self._context = multiprocessing.get_context("spawn")
        self._stop = self._context.Event()
        self.workers: list[_Worker] = []
        self._deaths = 0
        self._started = self._going = False

    # -- life -----------------------------------------------------------------
    def start(self) -> LocalExecutor:
        """Start the workers; they import what they need and wait for go()
        (engine.launch starts them while it checks the run)."""
        if not self._started:
            self._started = True
            for device in self.devices:
                self.workers.append(self._spawn(device))
        return self

    def go(self) -> None:
        """The run exists: workers build their environments and report ready."""
        self._going = True
        for worker in self.workers:
            self._send_go(worker)

    def __enter__(self) -> LocalExecutor:
        self.start()
        if not self._going:
            self.go()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is not None:
            self.kill_busy()  # the run ends now: nobody will take their results
        self.close()

    def _spawn(self, device: str) -> _Worker:
        spec = WorkerSpec(
            self.config,
            self.workspace_root,
            self.run_id,
            device,
            self.threads,
            os.getpid(),
        )
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=worker_main,
            args=(theirs, spec, self._stop),
            name=f"xlt-worker-{device}",
        )
        # The child inherits the environment at start: its GPU is pinned
        # before anything in it can import torch (the worker sets it again).
        visible = visible_devices(device)
        saved = os.environ.get("CUDA_VISIBLE_DEVICES")
        try:
            if visible is not None:
                os.environ["CUDA_VISIBLE_DEVICES"] = visible
            process.start()
        finally:
            if saved is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = saved
        theirs.close()
        worker = _Worker(device, process, ours)
        if self._going:  # a replacement for a worker that died
            self._send_go(worker)
        return worker

    @staticmethod
    def _send_go(worker: _Worker) -> None:
        try:
            worker.conn.send(GO)
        except (OSError, ValueError):
            pass  # it died already: poll() sees it

    def close(self) -> None:
        """Ask every worker to exit, then make sure: none outlives the run."""
        for worker in self.workers:
            try:
                worker.conn.send(None)
            except (OSError, ValueError):
                pass
        deadline = time.time() + 10.0
        for worker in self.workers:
            worker.process.join(max(0.1, deadline - time.time()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5.0)
            worker.conn.close()
        self.workers = []

    def stop(self) -> None:
        """Every worker stops its stage at the next safe point."""
        self._stop.set()

    # -- work -----------------------------------------------------------------
    def free_devices(self) -> list[int]:
        """Indexes of the workers ready for a stage (a stage's time starts
        when it does, not while its worker imports torch)."""
        return [i for i, w in enumerate(self.workers) if w.ready and w.stage is None]

    def device(self, index: int) -> str:
        return self.workers[index].device

    def pid(self, index: int) -> int | None:
        return self.workers[index].process.pid

    def busy(self) -> int:
        return sum(1 for w in self.workers if w.stage is not None)

    def submit(self, index: int, stage: Stage) -> str:
        """Hand `stage` to worker `index`; returns its device."""
        worker = self.workers[index]
        worker.stage = stage
        worker.started_stage_at = time.time()
        worker.conn.send(stage)
        return worker.device

    def kill_busy(self) -> None:
        """Workers that did not stop in time are killed (their stages lost)."""
        for worker in self.workers:
            if worker.stage is not None and worker.process.is_alive():
                worker.process.kill()

    def poll(self, timeout: float) -> list[StageOutcome]:
        """Hand on what the workers said within `timeout`; return the stages
        that ended."""
        conns = {w.conn: w for w in self.workers}
        sentinels = {w.process.sentinel: w for w in self.workers}
        outcomes: list[StageOutcome] = []
        for ready in wait([*conns, *sentinels], timeout):
            worker = conns.get(ready) or sentinels[ready]
            outcomes += self._drain(worker)
        living = []
        for worker in self.workers:
            if worker.process.is_alive():
                living.append(worker)
                continue
            outcomes += self._drain(worker)  # what it said before dying
            outcomes += self._lost(worker)
            self._deaths += 1
            if self._deaths > _MAX_DEATHS:
                raise RuntimeError(
                    f"{self._deaths} worker processes died during this run (the "
                    f"last on {worker.device}); stopping rather than starting more"
                )
            if not self._stop.is_set():  # (a stopping run starts nothing new)
                living.append(self._spawn(worker.device))
        self.workers = living
        return outcomes

    def _drain(self, worker: _Worker) -> list[StageOutcome]:
        outcomes = []
        try:
            while worker.conn.poll():
                outcome = self._handle(worker, worker.conn.recv())
                if outcome is not None:
                    outcomes.append(outcome)
        except (EOFError, OSError):
            pass  # its end is closed: its process is gone, seen below
        return outcomes

    def _handle(self, worker: _Worker, message: tuple) -> StageOutcome | None:
        kind = message[0]
        if kind == "event":
            self.on_event(message[1], message[2])
        elif kind == "score":
            self.on_score(message[1], message[2], message[3], worker.device)
        elif kind == "ready":
            worker.ready = True
        elif kind == "broken":
            # The worker could not build its environment (the driver could,
            # with the same config): a device that does not work.
            raise InputError(
                f"devices: the worker on {worker.device} could not start: {message[1]}"
            )
        elif kind in ("done", "failed"):
            stage, worker.stage = worker.stage, None
            assert stage is not None and stage.id == message[1], message
            if kind == "done":
                return StageOutcome(stage, worker.device, info=message[2])
            return StageOutcome(
                stage,
                worker.device,
                why=message[2],
                message=message[3],
                traceback=message[4],
            )
        return None

    def _lost(self, dead: _Worker) -> list[StageOutcome]:
        """A worker that died: the stage it ran, if any, is lost."""
        dead.process.join(1.0)
        dead.conn.close()
        if dead.stage is None:
            return []
        code = dead.process.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
        return [
            StageOutcome(
                dead.stage,
                dead.device,
                why="lost",
                message=f"the worker on {dead.device} (pid {dead.process.pid}) "
                f"died while running it ({how})",
            )
        ]
