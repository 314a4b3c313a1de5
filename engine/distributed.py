"""Data parallelism for one stage: `gpus_per_stage` ranks train it together
with torch DistributedDataParallel.

The process that runs the stage (a worker of engine.executors.local, whose
device is a group such as "cuda:0+cuda:1") is rank 0. It starts the other
ranks here (torch.multiprocessing, "spawn": fresh interpreters, no CUDA
state inherited) and sends each what training needs: the model as bytes
(torch.save of the module, so no rank shares parameter memory with another),
the tasks' training features, the hyperparameters, precision, seed and the
sampling choices. Every rank runs the same loop, engine.train.train_stage;
what differs by rank is written there (which units of a batch it takes, and
that only rank 0 checks, selects, emits and stops). Only rank 0 writes
anything: helper ranks get no workspace, emit nothing and return nothing.
The process group meets on a free TCP port of 127.0.0.1 (gloo on CPUs, nccl
on GPUs), so nothing is written to disk for the rendezvous.

Helper ranks die with rank 0: the kernel kills them when it goes
(PR_SET_PDEATHSIG), a watchdog thread exits when rank 0 is no longer their
parent, and rank 0 kills them when its training ends in an error or a cancel.
The other way round, rank 0 watches its helpers while it trains (HelperWatch):
a helper that dies (killed, out of memory) ends the stage as lost, named,
and run again like a stage whose worker died. Gloo sees the closed
connection at the next collective anyway; nccl would wait for it until
COLLECTIVE_TIMEOUT, so there the watch aborts the process group, which makes
the waiting collective raise (torch.distributed's _abort_process_group, the
call torchrun's elastic agent relies on for nccl, NCCL-only by its docs).
"""

from __future__ import annotations

import datetime
import io
import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch

from engine.config import StageHparams
from engine.control import die_with_parent
from engine.errors import StageLost
from engine.train import Emit, Runtime, TrainResult, TrainTask, train_stage

# Rank 0 alone runs validation checks while the other ranks wait at the next
# collective: gloo's default timeout (30 min), not nccl's (10 min), which a
# long check on a large selection subset could pass.
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=30)


@dataclass(frozen=True)
class HelperJob:
    """What a helper rank needs (pickled to it)."""

    model_bytes: bytes
    tasks: list[TrainTask]
    hp: StageHparams
    group: tuple[str, ...]
    precision: str
    seed: int
    pad_id: int
    sampling: dict[str, Any]
    address: str
    threads: int
    parent_pid: int
    ready: Any
    """A spawn-context queue: (rank, None) once the rank's model is loaded, or
    (rank, traceback) when it could not be."""


def backend_for(group: tuple[str, ...]) -> str:
    return "nccl" if group[0].startswith("cuda") else "gloo"


def train_data_parallel(
    model: Any,
    tasks: list[TrainTask],
    hp: StageHparams,
    runtime: Runtime,
    seed: int,
    pad_id: int,
    emit: Emit,
    should_stop: Callable[[], bool] = lambda: False,
    select_best: bool = True,
    **sampling: Any,
) -> TrainResult:
    """train_stage on every device of `runtime.group`, this process rank 0;
    `model` ends with the weights train_stage would leave (the state dict of
    the unwrapped module: the checkpoint format of one device)."""
    import torch.distributed as dist
    import torch.multiprocessing as mp

    group = runtime.group
    world = len(group)
    threads = torch.get_num_threads()
    # CPU ranks share this worker's cores rather than each taking all of them.
    per_rank = max(1, threads // world) if group[0] == "cpu" else threads
    buffer = io.BytesIO()
    torch.save(model.to("cpu"), buffer)
    ready = mp.get_context("spawn").SimpleQueue()
    job = HelperJob(
        model_bytes=buffer.getvalue(),
        # Helpers train only: validation stays with rank 0.
        tasks=[TrainTask(t.spec, t.kind, t.train) for t in tasks],
        hp=hp,
        group=group,
        precision=runtime.precision,
        seed=seed,
        pad_id=pad_id,
        sampling=sampling,
        address=f"tcp://127.0.0.1:{_free_port()}",
        threads=per_rank,
        parent_pid=os.getpid(),
        ready=ready,
    )
    del buffer
    helpers = mp.start_processes(
        _helper_main,
        args=(job,),
        nprocs=world - 1,
        join=False,
        start_method="spawn",
    )
    ok = False
    try:
        _wait_until_ready(helpers, ready, group)
        if group[0].startswith("cuda"):
            torch.cuda.set_device(runtime.device)
        torch.set_num_threads(per_rank)
        dist.init_process_group(
            backend_for(group),
            init_method=job.address,
            rank=0,
            world_size=world,
            timeout=COLLECTIVE_TIMEOUT,
        )
        abort = _abort_nccl if backend_for(group) == "nccl" else lambda: None
        watch = HelperWatch(helpers.processes, group, abort)
        try:
            result = train_stage(
                model,
                tasks,
                hp,
                replace(runtime, rank=0),
                seed=seed,
                pad_id=pad_id,
                emit=emit,
                should_stop=should_stop,
                select_best=select_best,
                **sampling,
            )
        except RuntimeError as exc:
            # A closed connection or an aborted group: a helper died first?
            lost = watch.stop(wait_for_death=1.0)
            if lost is not None:
                raise StageLost(lost) from exc
            raise
        finally:
            watch.stop()
            if dist.is_initialized():  # an abort (nccl) took the group down
                dist.destroy_process_group()
        ok = True
    finally:
        torch.set_num_threads(threads)
        if ok:
            _join(helpers)
        else:
            _kill(helpers)
    return result


class HelperWatch:
    """A thread of rank 0 that looks at its helper ranks every `every`
    seconds while training runs; the first that has died is named in `lost`
    and `abort` is called (once), so rank 0 does not wait for it."""

    def __init__(
        self,
        processes: list[Any],
        group: tuple[str, ...],
        abort: Callable[[], None],
        every: float = 0.2,
    ) -> None:
        self.processes, self.group, self.abort = processes, group, abort
        self.lost: str | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, args=(every,), name="helper-watch", daemon=True
        )
        self._thread.start()

    def dead(self) -> str | None:
        """The first helper that ended in failure, named; None while all live
        (or ended cleanly, as they do after the last step)."""
        for index, process in enumerate(self.processes):
            code = process.exitcode
            if code not in (None, 0):
                how = (
                    f"killed by {signal.Signals(-code).name}"
                    if code < 0
                    else f"exit code {code}"
                )
                return (
                    f"rank {index + 1} of {' + '.join(self.group)} died during "
                    f"training ({how})"
                )
        return None

    def _watch(self, every: float) -> None:
        while not self._stopped.wait(every):
            if (lost := self.dead()) is not None:
                self.lost = lost
                try:
                    self.abort()
                except Exception:  # noqa: BLE001 - the collective times out instead
                    logging.getLogger("xlt.engine").exception(
                        "could not abort the process group after: %s", lost
                    )
                return

    def stop(self, wait_for_death: float = 0.0) -> str | None:
        """Stop watching; the helper that died, if one did, looking for up to
        `wait_for_death` seconds (rank 0 can see a closed connection a moment
        before the helper's exit code exists)."""
        self._stopped.set()
        self._thread.join()
        deadline = time.monotonic() + wait_for_death
        while self.lost is None:
            self.lost = self.dead()
            if self.lost is not None or time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        return self.lost


def _abort_nccl() -> None:
    """Abort every process group: a collective waiting on a dead rank raises
    (rather than wait for COLLECTIVE_TIMEOUT)."""
    from torch.distributed import distributed_c10d

    distributed_c10d._abort_process_group()


def _helper_main(index: int, job: HelperJob) -> None:
    """Rank index + 1: the same loop as rank 0 on its own device."""
    import torch.distributed as dist

    from engine.errors import Cancelled

    die_with_parent(job.parent_pid, "rank0-watchdog")
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # rank 0 decides
    rank = index + 1
    device = torch.device(job.group[rank])
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        torch.set_num_threads(job.threads)
        model = torch.load(io.BytesIO(job.model_bytes), weights_only=False)
    except BaseException:
        job.ready.put((rank, traceback.format_exc()))
        raise
    job.ready.put((rank, None))
    dist.init_process_group(
        backend_for(job.group),
        init_method=job.address,
        rank=rank,
        world_size=len(job.group),
        timeout=COLLECTIVE_TIMEOUT,
    )
    try:
        train_stage(
            model,
            job.tasks,
            job.hp,
            Runtime(device, job.precision, group=job.group, rank=rank),
            seed=job.seed,
            pad_id=job.pad_id,
            emit=lambda *args, **fields: None,
            select_best=False,
            **job.sampling,
        )
    except Cancelled:
        pass  # rank 0 was asked to stop; every rank stopped at the same step
    finally:
        dist.destroy_process_group()


def _wait_until_ready(helpers: Any, ready: Any, group: tuple[str, ...]) -> None:
    """Return once every helper rank has its model; raise, naming the rank,
    when one failed or died first (rank 0 would otherwise wait for it at the
    rendezvous until COLLECTIVE_TIMEOUT)."""
    waiting = set(range(1, len(group)))
    while waiting:
        while not ready.empty():
            rank, failure = ready.get()
            if failure is not None:
                raise RuntimeError(
                    f"rank {rank} of {' + '.join(group)} could not start: {failure}"
                )
            waiting.discard(rank)
        for index, process in enumerate(helpers.processes):
            if index + 1 in waiting and process.exitcode is not None:
                raise RuntimeError(
                    f"rank {index + 1} of {' + '.join(group)} exited with code "
                    f"{process.exitcode} before training"
                )
        if waiting:
            time.sleep(0.05)


def _free_port() -> int:
    # A port free now; another process could take it before rank 0 binds it
    # (then init_process_group fails and the stage is reported as failed).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _join(helpers: Any) -> None:
    """Wait for the helpers' clean exit; a helper that failed after rank 0
    finished is an error of the stage."""
    while not helpers.join(timeout=1.0):
        pass


def _kill(helpers: Any) -> None:
    for process in helpers.processes:
        if process.is_alive():
            process.kill()
    for process in helpers.processes:
        process.join(timeout=10.0)
