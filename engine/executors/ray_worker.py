"""A Ray worker: an actor that runs the stages its driver hands it.

The Ray counterpart of engine.executors.worker: it builds the same stage
environment (engine.executors.worker.build_environment) on the device Ray gave it,
and reports events and scores through a Ray queue the driver drains; how a
stage ended is the return value of `run`. The driver (`xlt-engine run`) stays
the single writer of the store and the event stream.

Imported by Ray's worker processes on every node, so it must stay importable
without Ray on the driver's side of the import (the class is wrapped with
`ray.remote` by engine.executors.ray_executor) and without torch until
`setup` runs.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from engine.executors.worker import WorkerSpec

# Messages go to the driver in batches at most this far apart: a put on a
# Ray queue is a blocking call to the queue's actor, and a stage of small
# steps sends hundreds of events (one round trip each slowed a 2-core grid
# by a third; benchmarks/grid_parallel.py --ray). A live view lags by this.
SEND_EVERY_S = 0.2


class WorkspaceNotVisible(Exception):
    """This node does not see the driver's workspace (not on shared storage)."""


class StageActor:
    """One slot of the cluster: a GPU (or `gpus_per_stage` of them), or CPUs."""

    def __init__(
        self, spec: WorkerSpec, queue: Any, slot: int, token_file: str, token: str
    ):
        self.spec = spec
        self.queue = queue
        self.slot = slot
        self.token_file = token_file
        self.token = token
        self.stop_event = threading.Event()
        self.env: Any = None
        self.label = ""
        self._outbox: list[tuple] = []
        self._outbox_lock = threading.Lock()
        self._sender: threading.Thread | None = None
        # Imports now, while the driver checks the run; a failure is told at
        # setup(), where the driver looks for one.
        self._preload_error: BaseException | None = None
        try:
            from engine.executors.worker import preload

            preload(spec.threads)
        except Exception as exc:  # noqa: BLE001 - raised again by setup()
            self._preload_error = exc

    def setup(self) -> dict[str, Any]:
        """Check the workspace, build the environment; what the driver shows."""
        host = socket.gethostname()
        try:
            with open(self.token_file, encoding="utf-8") as f:
                seen = f.read()
        except OSError as exc:
            seen = f"({exc.strerror})"
        if seen != self.token:
            state = "missing" if seen.startswith("(") else "another one"
            raise WorkspaceNotVisible(
                f"the Ray worker on {host} does not see the workspace "
                f"{self.spec.workspace_root} (its check file "
                f"{self.token_file} is {state} there): put the workspace on "
                "storage every node mounts at the same path (NFS, a cluster "
                "file system) and pass it with -w"
            )
        import ray

        gpus = [str(g) for g in ray.get_runtime_context().get_accelerator_ids()["GPU"]]
        self.label = (
            f"{host}:cuda:{'+'.join(gpus)}" if gpus else f"{host}:cpu{self.slot}"
        )
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from engine.executors.worker import build_environment

        if self._preload_error is not None:
            raise self._preload_error
        self.env = build_environment(self.spec, self._send, self.stop_event)
        self._sender = threading.Thread(
            target=self._send_periodically, name="xlt-ray-outbox", daemon=True
        )
        self._sender.start()
        return {"pid": os.getpid(), "host": host, "device": self.label}

    def _send(self, *message: Any) -> None:
        if message[0] == "event" and "device" in message[2]:
            message[2]["device"] = self.label  # the cluster's name, not cuda:0
        with self._outbox_lock:
            self._outbox.append((self.slot, *message))

    def _flush(self) -> None:
        """Everything sent so far onto the driver's queue, in order: one call."""
        with self._outbox_lock:
            batch, self._outbox = self._outbox, []
            if batch:  # under the lock: two flushes never reorder batches
                self.queue.put_nowait_batch(batch)

    def _send_periodically(self) -> None:
        while True:
            time.sleep(SEND_EVERY_S)
            self._flush()

    def run(self, stage: Any) -> tuple:
        """Execute `stage`: ("done", info) or ("failed", why, message, traceback).
        Its messages are on the driver's queue before this returns (the driver
        drains the queue before it reads how a stage ended)."""
        try:
            return self._run(stage)
        finally:
            self._flush()

    def _run(self, stage: Any) -> tuple:
        from engine.errors import stage_failure
        from engine.stages import execute_stage

        try:
            return ("done", execute_stage(stage, self.env))
        except Exception as exc:  # noqa: BLE001 - the driver decides
            return ("failed", *stage_failure(exc))

    def stop(self) -> None:
        """Stop the running stage at its next safe point (runs beside `run`:
        the actor is created with two threads)."""
        self.stop_event.set()
