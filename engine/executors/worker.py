"""A local worker process: runs the stages its driver sends, on one device.

Started with the multiprocessing "spawn" context (a fresh interpreter: no
CUDA state inherited, and CUDA_VISIBLE_DEVICES is set before torch is
imported here). It starts while its driver still checks the run (the model
loads, the run is recorded), so the seconds both spend importing torch and
transformers overlap: it imports them, then waits for the driver's GO before
it touches the workspace (a run that never starts leaves nothing of a
worker's behind). Reports everything over its pipe: events, scores, and how
each stage ended; the driver (`xlt-engine run`) writes them. Ignores Ctrl-C
and hang-ups, which reach the whole process group: the driver decides, and
stops workers through the shared stop event. Dies with its driver: the
kernel kills it when the driver goes (PR_SET_PDEATHSIG), and a watchdog
thread exits when the driver's pid is no longer its parent.

Heavy module once `worker_main` runs (torch); importing it is light.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from dataclasses import dataclass
from typing import Any

from engine.control import die_with_parent

# Messages a worker sends (tuples, first item the kind):
#   ("ready", pid)                          environment built
#   ("broken", message, traceback)          no environment: the worker exits
#   ("event", type, fields)                 an event of the running stage
#   ("score", stage_id, Score, reused)      one language's score
#   ("done", stage_id, info)                the stage ended; info for stage_end
#   ("failed", stage_id, why, message, traceback)  engine.errors.stage_failure
# What a worker receives: GO once (the run exists: build the environment),
# then a Stage to run, or None to exit.
GO = "go"


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to build its environment (pickled to it)."""

    config: Any  # engine.config.ExperimentConfig (it pickles whole)
    workspace_root: str
    run_id: str
    device: str
    """The device as the run names it (cuda:1); the worker sees it as cuda:0."""
    threads: int
    driver_pid: int


def visible_devices(device: str) -> str | None:
    """CUDA_VISIBLE_DEVICES for a worker on `device`: its GPU alone (its
    group's GPUs, "0,1", for a group "cuda:0+cuda:1" of gpus_per_stage), or
    none for a CPU worker (no CUDA context on a GPU it does not use)."""
    members = device.split("+")
    if all(d.startswith("cuda:") for d in members):
        return ",".join(d.split(":", 1)[1] for d in members)
    if all(d == "cpu" for d in members):
        return ""
    return None


def local_device(device: str) -> str:
    """The name torch uses inside the worker, where only its GPU(s) are
    visible: rank r of a group sees its GPU as cuda:r ("cuda:0+cuda:1")."""
    members = device.split("+")
    return "+".join(
        f"cuda:{rank}" if d.startswith("cuda:") else d for rank, d in enumerate(members)
    )


def worker_main(conn, spec: WorkerSpec, stop_event) -> None:
    die_with_parent(spec.driver_pid, "driver-watchdog")
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    visible = visible_devices(spec.device)
    if visible is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = visible
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    send_lock = threading.Lock()

    def send(*message: Any) -> None:
        with send_lock:
            conn.send(message)

    try:
        preload(spec.threads)
        try:
            if conn.recv() != GO:
                return  # the run did not start
        except (EOFError, OSError):
            return  # the driver is gone
        env = build_environment(spec, send, stop_event)
    except BaseException as exc:  # noqa: BLE001 - reported, then the worker exits
        send("broken", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        return
    send("ready", os.getpid())
    _serve(conn, env, send)
    # Told to exit, every stage reported: skip the interpreter's teardown of
    # torch and transformers (a second or more, which the driver would wait
    # for at the end of every run). Nothing of the worker's is left to flush
    # but its console.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def preload(threads: int) -> None:
    """Import what every stage needs, before the run exists: seconds a
    fresh interpreter spends once (torch, transformers' model code, datasets)
    while the driver is busy with its own checks. Writes nothing."""
    import torch

    torch.set_num_threads(threads)
    import datasets  # noqa: F401 - the data loaders' (imported by a stage)
    import transformers.modeling_utils  # noqa: F401 - every model class's base

    import engine.stages  # noqa: F401
    import engine.train  # noqa: F401


def build_environment(spec: WorkerSpec, send, stop_event):
    _quiet_libraries()
    from engine.stages import StageEnvironment
    from engine.workspace import Workspace

    def emit(type: str, **fields: Any) -> None:
        if type in ("step", "eval"):
            fields["device"] = spec.device
        send("event", type, fields)

    return StageEnvironment.for_run(
        spec.config,
        Workspace.open(spec.workspace_root),
        spec.run_id,
        emit_event=emit,
        record_score=lambda stage, score, reused: send(
            "score", stage.id, score, reused
        ),
        should_stop=stop_event.is_set,
        device=local_device(spec.device),
    )


def _serve(conn, env, send) -> None:
    from engine.errors import stage_failure
    from engine.stages import execute_stage

    while True:
        try:
            stage = conn.recv()
        except (EOFError, OSError):
            return  # the driver is gone
        if stage is None:
            return
        try:
            info = execute_stage(stage, env)
        except Exception as exc:  # noqa: BLE001 - the driver decides
            send("failed", stage.id, *stage_failure(exc))
        else:
            send("done", stage.id, info)


def _quiet_libraries() -> None:
    """The driver's console is the run's; library chatter stays out of it."""
    try:
        import datasets
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        datasets.logging.disable_progress_bar()
        datasets.logging.set_verbosity_warning()
    except ImportError:  # pragma: no cover
        pass
