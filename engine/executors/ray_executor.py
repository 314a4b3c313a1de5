"""The Ray executor: a plan's stages on a Ray cluster (`executor = "ray"`).

The same contract as engine.executors.local, so the runner drives both
alike: slots (one Ray actor each, engine.executors.ray_worker) take one
stage at a time; events and scores come back through a Ray queue and go to
the driver's callbacks, which alone write the store and the event stream;
each stage ends as a `StageOutcome`. An actor that dies mid-stage (its node
lost, killed, out of memory) gives a `lost` outcome and is replaced.

Slots: `devices = "all"` (the default here) is one slot per GPU of the
cluster, or per `gpus_per_stage` GPUs; `devices = ["cpu", "cpu"]` is one
CPU slot per entry, anywhere in the cluster. Names of this machine's GPUs
(cuda:1) mean nothing on a cluster and are refused.

Actors, not one Ray task per stage: a worker builds its environment once
(tokenizer, the model's files) and serves stage after stage, as a local
worker does; each actor holds its resource request (num_gpus / num_cpus)
for the run's length, which is what the grid needs anyway.

Ray stays optional (`pip install 'xlt[ray]'`): imported only here, when a
run asks for it.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.config import ExperimentConfig
from engine.errors import InputError
from engine.executors.local import StageOutcome
from engine.executors.worker import WorkerSpec
from engine.extras import install_command
from engine.pipeline import Stage

# Workers that die again and again (a broken node) end the run, as locally.
_MAX_DEATHS = 10
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@dataclass
class _Slot:
    index: int
    actor: Any
    ready_ref: Any  # setup()'s result, from go() until it comes back
    device: str = ""  # as the cluster names it: host:cuda:3, host:cpu1
    pid: int | None = None
    stage: Stage | None = None
    stage_ref: Any = None


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError(
            'executor = "ray" needs Ray, which is not installed here: '
            f"{install_command('ray')} (or use the local executor, --executor local)"
        ) from None
    return ray


class RayExecutor:
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
        self.devices = list(devices) or ["all"]
        self.on_event = on_event
        self.on_score = on_score
        self.slots: list[_Slot] = []
        self._requests: list[dict[str, float]] = []  # one per slot, from start()
        self._ray: Any = None
        self._queue: Any = None
        self._started_ray = False
        self._stopping = False
        self._going = False
        self._deaths = 0
        self._token_file = os.path.join(workspace_root, "tmp", f"ray-check-{run_id}")
        self._token = secrets.token_hex(16)

    # -- life -----------------------------------------------------------------
    def start(self) -> RayExecutor:
        """Join the cluster and create the actors, which import what a stage
        needs while the driver checks the run; they look at the workspace
        only at go() (engine.launch starts them before the model check)."""
        if self._ray is None:
            ray = self._ray = import_ray()
            self._connect()
            from ray.util.queue import Queue

            self._queue = Queue()
            self._requests = self._slot_requests(ray.cluster_resources())
            self.slots = [self._spawn(i) for i in range(len(self._requests))]
        return self

    @property
    def threads(self) -> int | None:
        """Torch threads of each actor (its CPUs), once started."""
        return int(self._requests[0]["num_cpus"]) if self._requests else None

    def go(self) -> None:
        """The run exists: actors check the workspace (the file written here
        must be there for them) and build their environments."""
        self._going = True
        os.makedirs(os.path.dirname(self._token_file), exist_ok=True)
        with open(self._token_file, "w", encoding="utf-8") as f:
            f.write(self._token)
        for slot in self.slots:
            slot.ready_ref = slot.actor.setup.remote()

    def __enter__(self) -> RayExecutor:
        self.start()
        if not self._going:
            self.go()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        self.close()

    def _connect(self) -> None:
        ray = self._ray
        address = self.config.ray_address
        where = f"{self.config.source_file}: ray_address"
        if ray.is_initialized():
            return
        # Ray's core installs its own handlers for SIGTERM and friends (they
        # print a stack and abort): the run's stop flag must keep deciding,
        # so that a cancel stops at a safe point and is recorded.
        handlers = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
        try:
            ray.init(
                address=address,
                namespace="xlt",
                include_dashboard=False,
                log_to_driver=False,  # the run's console is the driver's
                logging_level="error",  # (its banner lines are not the run's)
            )
        except ConnectionError as exc:
            raise InputError(
                f"{where}: no Ray cluster answers at {address!r} ({exc}); start "
                "one with `ray start --head` (see README, More GPUs, more machines)"
            ) from None
        finally:
            for sig, handler in handlers.items():
                if handler is not None:
                    signal.signal(sig, handler)
        self._started_ray = address is None

    def _slot_requests(self, resources: dict[str, float]) -> list[dict[str, float]]:
        """One resource request per slot, from the cluster and `devices`."""
        gpus = int(resources.get("GPU", 0))
        cpus = int(resources.get("CPU", 0))
        per_stage = max(1, self.config.gpus_per_stage)
        where = f"{self.config.source_file}: devices"
        if self.devices == ["all"]:
            if gpus < per_stage:
                raise InputError(
                    f'{where}: "all" means every GPU of the Ray cluster, and it '
                    f"has {gpus}; for CPU workers use devices = "
                    '["cpu", "cpu"] (one slot each)'
                )
            n = gpus // per_stage
            # A GPU stage still needs CPUs for its data; share them out.
            cpu_each = max(1, cpus // n) if cpus else 1
            return [{"num_gpus": per_stage, "num_cpus": cpu_each}] * n
        named = [d for d in self.devices if d != "cpu"]
        if named:
            raise InputError(
                f"{where}: {named[0]!r} names a device of one machine; on a Ray "
                'cluster use "all" (every GPU of the cluster) or ["cpu", "cpu"]'
            )
        n = len(self.devices)
        if cpus < n:
            raise InputError(
                f"{where}: {n} CPU workers asked for, and the Ray cluster has "
                f"{cpus} CPUs; list at most {max(1, cpus)}"
            )
        if n % per_stage:
            raise InputError(
                f"{self.config.source_file}: gpus_per_stage: {per_stage} does not "
                f"divide the {n} CPU workers into groups"
            )
        # A CPU slot of gpus_per_stage entries trains each stage with that
        # many gloo ranks, as a local "cpu+cpu" group does.
        slots = n // per_stage
        return [
            {"num_gpus": 0, "num_cpus": max(1, cpus // slots), "ranks": per_stage}
        ] * slots

    def _spawn(self, index: int) -> _Slot:
        from engine.executors.ray_worker import StageActor

        request = self._requests[index]
        gpus = int(request["num_gpus"])
        ranks = int(request.get("ranks", 1))
        device = (
            "+".join(f"cuda:{i}" for i in range(gpus))
            if gpus
            else "+".join(["cpu"] * ranks)
        )
        spec = WorkerSpec(
            self.config,
            self.workspace_root,
            self.run_id,
            device,  # as the actor sees it: Ray pins its GPUs as cuda:0..
            int(request["num_cpus"]),
            os.getpid(),
        )
        remote = self._ray.remote(StageActor).options(
            num_gpus=request["num_gpus"],
            num_cpus=request["num_cpus"],
            max_concurrency=2,  # `stop` runs beside `run`
            max_restarts=0,  # a dead actor's stage is the driver's to retry
        )
        actor = remote.remote(spec, self._queue, index, self._token_file, self._token)
        return _Slot(index, actor, actor.setup.remote() if self._going else None)

    def close(self) -> None:
        ray = self._ray
        if ray is None:
            return
        for slot in self.slots:
            try:
                ray.kill(slot.actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.slots = []
        if self._queue is not None:
            self._queue.shutdown()
            self._queue = None
        try:
            os.remove(self._token_file)
        except OSError:
            pass
        if self._started_ray:
            ray.shutdown()
        self._ray = None

    def stop(self) -> None:
        self._stopping = True
        for slot in self.slots:
            if slot.stage is not None:
                slot.actor.stop.remote()

    # -- work -----------------------------------------------------------------
    def free_devices(self) -> list[int]:
        return [
            i
            for i, s in enumerate(self.slots)
            if s.ready_ref is None and s.pid is not None and s.stage is None
        ]

    def device(self, index: int) -> str:
        return self.slots[index].device

    def pid(self, index: int) -> int | None:
        return self.slots[index].pid

    def busy(self) -> int:
        return sum(1 for s in self.slots if s.stage is not None)

    def submit(self, index: int, stage: Stage) -> str:
        slot = self.slots[index]
        slot.stage = stage
        slot.stage_ref = slot.actor.run.remote(stage)
        return slot.device

    def kill_busy(self) -> None:
        for slot in self.slots:
            if slot.stage is not None:
                self._ray.kill(slot.actor)

    def poll(self, timeout: float) -> list[StageOutcome]:
        ray = self._ray
        refs = [s.ready_ref for s in self.slots if s.ready_ref is not None]
        refs += [s.stage_ref for s in self.slots if s.stage_ref is not None]
        if refs:
            done, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout)
        else:
            time.sleep(timeout)
            done = []
        # Events were queued before their stage's result existed: drain them
        # first, so a stage's last events precede its end.
        self._drain()
        finished = set(done)
        outcomes: list[StageOutcome] = []
        for i, slot in enumerate(list(self.slots)):
            if slot.ready_ref is not None and slot.ready_ref in finished:
                self._ready(slot)
            elif slot.stage_ref is not None and slot.stage_ref in finished:
                outcome = self._ended(slot)
                outcomes.append(outcome)
                if outcome.why == "lost":
                    self._replace(i)
        return outcomes

    def _drain(self) -> None:
        while True:
            items = self._queue.get_nowait_batch(self._queue.qsize())
            if not items:
                return
            for slot_index, kind, *rest in items:
                device = (
                    self.slots[slot_index].device
                    if slot_index < len(self.slots)
                    else "?"
                )
                if kind == "event":
                    self.on_event(rest[0], rest[1])
                elif kind == "score":
                    self.on_score(rest[0], rest[1], rest[2], device)

    def _ready(self, slot: _Slot) -> None:
        ref, slot.ready_ref = slot.ready_ref, None
        try:
            info = self._ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - the cause is in the message
            cause = getattr(exc, "cause", None) or exc
            raise InputError(
                f'executor = "ray": a worker could not start: '
                f"{type(cause).__name__}: {cause}"
            ) from None
        slot.device, slot.pid = info["device"], info["pid"]

    def _ended(self, slot: _Slot) -> StageOutcome:
        stage, ref = slot.stage, slot.stage_ref
        assert stage is not None
        slot.stage = slot.stage_ref = None
        try:
            result = self._ray.get(ref)
        except self._ray.exceptions.RayActorError as exc:
            return StageOutcome(
                stage,
                slot.device,
                why="lost",
                message=f"the Ray worker on {slot.device} (pid {slot.pid}) died "
                f"while running it ({type(exc).__name__})",
            )
        if result[0] == "done":
            return StageOutcome(stage, slot.device, info=result[1])
        return StageOutcome(
            stage, slot.device, why=result[1], message=result[2], traceback=result[3]
        )

    def _replace(self, index: int) -> None:
        self._deaths += 1
        if self._deaths > _MAX_DEATHS:
            raise RuntimeError(
                f"{self._deaths} Ray workers died during this run; stopping "
                "rather than starting more"
            )
        if not self._stopping:
            self.slots[index] = self._spawn(index)
        else:
            self.slots[index].ready_ref = None
            self.slots[index].stage = None
