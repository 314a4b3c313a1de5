"""The life of one run: check, register, execute, record the end.

Everything that can be checked before training is checked before the run is
written: the config, every local data file, the model, the device. After that
the run is registered as `running`, its resolved config and event stream are
written under runs/<run_id>/, and it ends as finished, failed or cancelled. A
run killed outright is shown as interrupted by the store, because its process
is gone and it never recorded an end.

A run started by id (`xlt-engine run --run-id`, as the TUI does) is in the
store from the start, as `starting` (`StartingRun`): whoever started it finds
it at once, and a start that ends early (bad input, an error, a cancel) is
recorded as such, with the engine's own message. Without an id (a person at a
terminal) bad input writes nothing at all.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from engine.atomic import (
    disk_full_error,
    disk_full_message,
    remove_leftovers,
    write_text_atomic,
)
from engine.config import BUILTIN_MODELS, ExperimentConfig, load_config
from engine.config.model_files import check_max_seq_length
from engine.control import (
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_OK,
    StopFlag,
    process_alive,
    process_start_time,
)
from engine.data.loaders import check_local_data, has_split
from engine.data.rows import manual_data_message
from engine.errors import Cancelled, InputError, did_you_mean
from engine.events import EventWriter
from engine.models.loading import check_start_model
from engine.pipeline import Plan, make_plan
from engine.runinfo import (
    command_line,
    git_commit,
    host,
    package_versions,
    provenance,
)
from engine.store import Store
from engine.trackers import check_installed, open_trackers
from engine.trackers.base import RunStart
from engine.workspace import Workspace

if TYPE_CHECKING:
    from engine.executors.local import LocalExecutor
    from engine.executors.ray_executor import RayExecutor


@dataclass
class Prepared:
    config: ExperimentConfig
    plan: Plan
    workspace: Workspace
    missing_data: dict[str, str] = field(default_factory=dict)  # task -> what to fetch
    notices: list[str] = field(default_factory=list)  # what stops a real run


def with_executor(
    config: ExperimentConfig, executor: str | None, ray_address: str | None
) -> ExperimentConfig:
    """The config with --executor / --ray-address in place of its own."""
    chosen = executor if executor is not None else config.executor
    if chosen not in ("local", "ray"):
        raise InputError(
            f"--executor: expected local or ray, got {chosen!r}"
            f"{did_you_mean(chosen, ('local', 'ray'))}"
        )
    if ray_address is not None and chosen != "ray":
        raise InputError(
            "--ray-address: only with the ray executor (add --executor ray, or "
            'executor = "ray" in the file)'
        )
    return dataclasses.replace(
        config,
        executor=chosen,
        ray_address=ray_address if ray_address is not None else config.ray_address,
    )


def prepare(
    config_path: str,
    workspace: Workspace,
    dry_run: bool = False,
    allow_code_execution: bool = False,
    starting: StartingRun | None = None,
    devices: str | None = None,
    executor: str | None = None,
    ray_address: str | None = None,
) -> Prepared:
    """Load, validate and plan; check every local data file. InputError if bad.

    What would stop a real run before it trains (data to fetch by hand, code
    execution not allowed, a contaminated code target) stops it here; a dry run
    plans it anyway and says so in `missing_data` / `notices`."""
    config = load_config(config_path)
    if allow_code_execution and not config.allow_code_execution:
        config = dataclasses.replace(config, allow_code_execution=True)
    if devices is not None:  # --devices a,b: in place of the file's
        from engine.executors.devices import with_devices

        config = with_devices(config, devices)
    if executor is not None or ray_address is not None:
        config = with_executor(config, executor, ray_address)
    if starting is not None:
        starting.configured(config)
    # A real run reads the data anyway: let the guard read it too, to settle
    # overlaps the task specs alone cannot (ODEX-en vs CoNaLa's training set).
    notices = [
        *_execution_notice(config),
        *_contamination_notice(config, download=not dry_run),
    ]
    if notices and not dry_run:
        raise InputError(notices[0])
    members = [m for choice in config.intermediate for m in config.members(choice)]
    missing = {
        name: manual_data_message(config.task(name))
        for name in dict.fromkeys([*members, *config.targets])
        if config.task(name).manual
    }
    if missing and not dry_run:
        name, message = next(iter(missing.items()))
        raise InputError(f"{config.source_file}: {message}")
    for name in dict.fromkeys(members):
        task = config.task(name)
        if name in missing:
            continue
        wanted = [(s, task.train_language) for s in ("train", "validation")]
        check_local_data(task, [w for w in wanted if has_split(task, *w)])
    for name in config.targets:
        task = config.task(name)
        if name in missing:
            continue
        wanted = [(s, task.train_language) for s in ("train", "validation")]
        wanted += [(task.eval_split, lang) for lang in config.languages[name]]
        check_local_data(task, [w for w in wanted if has_split(task, *w)])
    # A max_seq_length beyond the model's positions fails at its first long
    # batch: refused now where the model's config is at hand (a built-in
    # already written, a folder, the hub cache), else in execute.
    check_max_seq_length(config, _model_files(config, workspace))
    plan = make_plan(config, workspace)
    return Prepared(config, plan, workspace, missing, notices)


def _model_files(config: ExperimentConfig, workspace: Workspace) -> str:
    """Where the model's files are read from before it is loaded: a
    built-in's copy in the workspace, else the folder or hub id itself."""
    if config.model in BUILTIN_MODELS:
        return str(workspace.model_dir(config.model))
    return config.model


def _code_run_fields(config: ExperimentConfig) -> dict[str, Any]:
    """What a code run records: that execution was allowed, and any
    contamination the user chose to allow (the results carry the caveat)."""
    if not config.is_code:
        return {}
    from engine.codeeval.contamination import check_plan_contamination
    from engine.codeeval.overlap_report import plan_ngram_overlap

    report = check_plan_contamination(config)
    return {
        "allow_code_execution": config.allow_code_execution,
        "allow_contamination": config.allow_contamination,
        # Ids and, beyond them, n-gram overlap per target (recorded with the
        # run, so the results carry it).
        "contamination": report.as_dict() | plan_ngram_overlap(config).as_dict(),
        "generation": dict(config.generation),
    }


def _execution_notice(config: ExperimentConfig) -> list[str]:
    """Generated code is untrusted: running it is the user's decision."""
    executed = [t for t in config.targets if config.task(t).runs_generated_code]
    if not executed or config.allow_code_execution:
        return []
    return [
        f"{config.source_file}: target {', '.join(map(repr, executed))} is scored by "
        "running the programs the model generates, and code execution is off. "
        "Each program would run in a sandbox (its own process group and temporary "
        "folder, CPU, memory, process and output limits, a timeout, no network "
        "where the OS allows it), but it is still code nobody has read. To allow "
        "it, pass --allow-code-execution or set allow_code_execution = true"
    ]


def _contamination_notice(config: ExperimentConfig, download: bool) -> list[str]:
    """A code target that evaluates translations of problems an intermediate
    stage trains on measures memory, not transfer: refused unless allowed."""
    if not config.is_code:
        return []
    from engine.codeeval.contamination import contamination_messages

    messages = contamination_messages(config, download=download)
    if not messages or config.allow_contamination:
        return []
    return [f"{config.source_file}: {m}" for m in messages]


def check_device(config: ExperimentConfig) -> None:
    import torch

    device = config.device
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(
                f"{config.source_file}: device: '{device}' asked for, but torch "
                f'{torch.__version__} sees no CUDA GPU; use device = "auto" or "cpu"'
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise InputError(
                f"{config.source_file}: device: '{device}' does not exist; this "
                f"machine has cuda:0..cuda:{torch.cuda.device_count() - 1}"
            )
    if device == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"{config.source_file}: device: 'mps' is not available here")
    from engine.train import resolve_device

    resolved = resolve_device(device)
    if config.precision == "fp16" and resolved.type != "cuda":
        raise InputError(
            f"{config.source_file}: precision: 'fp16' needs a CUDA device (this run "
            f'would use {resolved}); use "bf16" or "fp32"'
        )
    if (
        config.precision == "bf16"
        and resolved.type == "cuda"
        and not torch.cuda.is_bf16_supported()
    ):
        raise InputError(
            f"{config.source_file}: precision: this GPU does not support 'bf16'; "
            'use "fp16" or "fp32"'
        )


class StartingRun:
    """A run registered by id before anything is loaded (`xlt-engine run
    --run-id`): a store record with status `starting`, pid, host and start time
    as soon as the engine has parsed its arguments.

    Use it as a context manager around `prepare` and `execute`: until
    `execute` takes the record over (status `running`), however the start ends
    is recorded: bad input as `failed` with the InputError's message (the line
    the CLI prints after `error:`), any other exception as `failed` with its
    type and message, a signal or Ctrl-C as `cancelled`. A signal while
    starting stops at once (nothing to keep yet). InputError, with nothing
    written, when the id is already used.
    """

    def __init__(self, workspace: Workspace, run_id: str, config_file: str | Path):
        self.workspace, self.run_id = workspace, run_id
        self.store = Store(workspace)
        _check_unused(self.store, workspace, run_id)
        pid = os.getpid()
        self.started_at = time.time()
        self.store.create_run(
            {
                "id": run_id,
                "name": "",
                "status": "starting",
                "config_file": str(Path(config_file).resolve()),
                "started_at": self.started_at,
                "ended_at": None,
                "pid": pid,
                "pid_start": process_start_time(pid),
                "host": host(),
                "workspace": str(workspace.root),
                "stages_done": 0,
                "error": None,
            }
        )
        self.stop = StopFlag(immediate=True)
        self.taken_over = False

    def __enter__(self) -> StartingRun:
        self.stop.install()
        return self

    def configured(self, config: ExperimentConfig) -> None:
        """The config loaded: the record gets its name and config (so a run
        that fails on its data can be relaunched as it was)."""
        self.store.update_run(
            self.run_id,
            name=config.name,
            config=config.to_toml_dict(),
            config_file=str(Path(config.source_file).resolve()),
        )

    def running(self, record: dict[str, Any]) -> None:
        """`execute` takes over: the record becomes the running run's."""
        fields = {k: v for k, v in record.items() if k not in ("id", "started_at")}
        self.store.update_run(self.run_id, **fields)
        self.taken_over = True

    def __exit__(self, exc_type, exc, tb) -> None:
        # (never swallows the exception: the record says how the start ended)
        self.stop.defer()  # a signal now must not cut the record short
        if self.taken_over or exc_type is None:
            return
        if issubclass(exc_type, (Cancelled, KeyboardInterrupt)):
            status, error = "cancelled", None
        else:
            status, error = "failed", _failure_message(exc, self.workspace)
        _remove_own_leftovers(self.workspace)
        try:
            self.store.update_run(
                self.run_id, status=status, error=error, ended_at=time.time()
            )
        except OSError:
            # A disk too full even for the record: the exception on its way
            # out says so; the record reads as interrupted once we are gone.
            pass


def _failure_message(exc: BaseException, workspace: Workspace | None = None) -> str:
    """What a failed run records: an InputError's own message (the line the
    CLI prints after `error:`), a full disk as such (where, and the room left),
    else the exception's type and message."""
    if isinstance(exc, InputError):
        return str(exc)
    full = disk_full_error(exc)
    if full is not None:
        return disk_full_message(full, workspace.root if workspace else None)
    return f"{type(exc).__name__}: {exc}"


# Half-written copies left by a writer that is gone are removed when a run
# starts, once nothing has written to them for this long: a writer on another
# host sharing the workspace is not "alive" here, but its copy keeps changing.
_LEFTOVER_MIN_AGE_S = 60.0


def _remove_abandoned_leftovers(workspace: Workspace) -> list[Path]:
    me = os.getpid()
    return remove_leftovers(
        workspace.root,
        lambda pid, idle_s: (
            pid != me and idle_s >= _LEFTOVER_MIN_AGE_S and not process_alive(pid)
        ),
    )


def _remove_own_leftovers(workspace: Workspace) -> list[Path]:
    """This process's half-written outputs, after a failure: nobody will
    finish them, and on a full disk they hold the room the run's end needs."""
    me = os.getpid()
    return remove_leftovers(workspace.root, lambda pid, idle_s: pid == me)


def _check_unused(store: Store, workspace: Workspace, run_id: str) -> None:
    if store.get_run(run_id) is not None or workspace.run_dir(run_id).exists():
        raise InputError(f"run id '{run_id}' is already used in {workspace.root}")


def execute(
    prepared: Prepared,
    run_id: str,
    listeners: Sequence[Callable[[dict[str, Any]], None]] = (),
    starting: StartingRun | None = None,
) -> int:
    """Run a prepared plan to its end; return the exit code. With `starting`,
    the run's `starting` record becomes its `running` one."""
    config, workspace = prepared.config, prepared.workspace
    if config.executor != "ray":  # (a cluster's devices are the cluster's)
        check_device(config)
    check_installed(config.report, config.source_file)
    store = Store(workspace)
    if starting is None:
        _check_unused(store, workspace, run_id)
    cleaned = _remove_abandoned_leftovers(workspace)

    from engine.executors import start_workers
    from engine.executors.devices import resolve_devices

    devices = resolve_devices(config)
    # Workers (local processes, Ray actors) start now and import torch and
    # transformers while this process loads the model to check it (seconds
    # each, side by side); they touch the workspace only once the runner
    # tells them the run exists.
    workers = start_workers(config, str(workspace.root), run_id, devices)
    try:
        return _execute(
            prepared, run_id, listeners, starting, store, cleaned, devices, workers
        )
    finally:
        if workers is not None:
            workers.close()  # (the runner closed them already if the run ran)


def _execute(
    prepared: Prepared,
    run_id: str,
    listeners: Sequence[Callable[[dict[str, Any]], None]],
    starting: StartingRun | None,
    store: Store,
    cleaned: list[Path],
    devices: list[str],
    workers: LocalExecutor | RayExecutor | None,
) -> int:
    from engine.runner import PlanRunner

    config, plan, workspace = prepared.config, prepared.plan, prepared.workspace
    _quiet_libraries()
    if starting is None:
        stop = StopFlag()
        stop.install()
    else:
        stop = starting.stop
    run_dir = workspace.run_dir(run_id)
    # The runner loads the model and tokenizer now, so a model that cannot be
    # loaded is still bad input with no run written. Its events go nowhere
    # until the run exists.
    try:
        runner = PlanRunner(
            config,
            plan,
            workspace,
            store,
            run_id,
            EventWriter(None, run_id),
            stop,
            devices=devices,
            workers=workers,
        )
    except BaseException as exc:
        _remove_own_leftovers(workspace)  # (a built-in model half written)
        full = disk_full_error(exc)
        if full is not None and not full.filename:
            # (safetensors, say, does not name the file): name the workspace
            raise OSError(full.errno, full.strerror, str(workspace.root)) from exc
        raise
    check_start_model(config, runner.env.model_path)

    # From here on the run exists: store record, folder, resolved config; a
    # signal stops it at the next safe point, keeping what finished.
    stop.defer()
    started = time.time()
    pid = os.getpid()
    record = {
        "id": run_id,
        "name": config.name,
        "status": "running",
        "config": config.to_toml_dict(),
        "config_file": str(Path(config.source_file).resolve()),
        "started_at": started,
        "ended_at": None,
        "pid": pid,
        "pid_start": process_start_time(pid),
        "host": host(),
        "command": command_line(),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "device": runner.device_name,
        "precision": config.precision,
        "workspace": str(workspace.root),
        "plan": plan.summary(),
        "provenance": provenance(
            config,
            runner.device_name,
            plan.data,
            threads=None if workers is None else workers.threads,
        ),
        **_code_run_fields(config),
        "trust_remote_code": config.trust_remote_code,
        "stages_total": len(plan.stages),
        "stages_done": 0,
        "error": None,
    }
    # The record first, then the folder: a kill in between leaves a run shown
    # as interrupted, never a folder no record accounts for (see
    # _orphan_run_folders, which deals with those older engines left).
    if starting is None:
        store.create_run(record)
    else:
        starting.running(record)
    # The run's own event stream and log, once they exist; a failure from
    # here on (a full disk included) ends the run on record.
    events, log_handler = runner.events, None
    status, error, code = "finished", None, EXIT_OK
    try:
        run_dir.mkdir(parents=True)
        write_text_atomic(
            workspace.run_config(run_id), tomli_w.dumps(config.to_toml_dict())
        )
        log_handler = _log_to(workspace.run_log(run_id))
        events = EventWriter(workspace.run_events(run_id), run_id)
        for listener in listeners:
            events.listeners.append(listener)
        runner.events = events
        # [report] to: the run's metrics also go to TensorBoard, MLflow, W&B;
        # from the driver only, which hears every worker's events.
        trackers = open_trackers(
            config.report,
            RunStart(
                run_id=run_id,
                name=config.name,
                workspace=workspace.root,
                config=record["config"],
                config_toml=tomli_w.dumps(record["config"]),
                provenance=record["provenance"],
            ),
            lambda message: events.emit("warning", message=message),
        )
        if trackers is not None:
            events.listeners.append(trackers)
        events.emit(
            "run_start",
            run_id=run_id,
            name=config.name,
            model=config.model,
            device=runner.device_name,
            workspace=str(workspace.root),
            pid=pid,
            host=host(),
        )
        events.emit("plan", summary=plan.summary(), stages=plan.as_records())
        for removed, message in _orphan_run_folders(store, workspace):
            if removed:
                events.emit("log", level="info", message=message)
            else:
                events.emit("warning", message=message)
        events.listeners.append(
            _progress_to_store(store, run_id, lambda: runner.completed)
        )

        for path in cleaned:
            events.emit("log", level="info", message=f"removed leftover {path}")
        runner.run()
    except Exception as exc:  # noqa: BLE001 - every failure ends the run cleanly
        if isinstance(exc, Cancelled):
            status, code = "cancelled", EXIT_FAILED
            _emit_safely(
                events,
                listeners,
                "log",
                level="info",
                message=f"{exc} ({stop.signal_name or 'cancel'} received)",
            )
        else:
            # Bad input found mid-run reads as it would before the run: the
            # message alone, as the CLI prints it after `error:`.
            status, error = "failed", _failure_message(exc, workspace)
            code = EXIT_INPUT if isinstance(exc, InputError) else EXIT_FAILED
            logging.getLogger("xlt.engine").error(
                "run failed\n%s", traceback.format_exc()
            )
            _emit_safely(
                events,
                listeners,
                "error",
                message=error,
                traceback=traceback.format_exc(),
            )
    except KeyboardInterrupt:
        status, code = "cancelled", EXIT_FAILED
    if status != "finished":
        _remove_own_leftovers(workspace)
    ended = time.time()
    try:
        store.update_run(
            run_id,
            status=status,
            ended_at=ended,
            error=error,
            stages_done=runner.completed,
        )
    except OSError as exc:
        # Even with our half-written files gone the disk refused the record:
        # it stays live and reads as interrupted once this process is gone.
        status, code = "failed", EXIT_FAILED
        error = f"the run's end could not be recorded in {store.path}: " + (
            _failure_message(exc, workspace)
        )
        _emit_safely(events, listeners, "error", message=error, traceback="")
    _emit_safely(
        events,
        listeners,
        "run_end",
        status=status,
        seconds=round(ended - started, 2),
        stages_done=runner.completed,
        stages_total=len(plan.stages),
        error=error,
    )
    _close_quietly(events, log_handler)
    return code


# Files a run's folder holds before its first stage starts.
_REGISTRATION_FILES = {"config.toml", "events.jsonl", "engine.log"}
# Left alone while this young: an older engine (folder first, record second)
# may be registering it right now.
_ORPHAN_MIN_AGE_S = 60.0


def _orphan_run_folders(store: Store, workspace: Workspace) -> list[tuple[bool, str]]:
    """Deal with runs/<id>/ folders no store record accounts for (a run killed
    while registering, by an engine that made the folder before the record;
    a deletion cut short): those that hold nothing beyond what registration
    writes and never started a stage are removed; others are kept and
    reported. Returns (removed, message) pairs for the run's event stream.
    Never listed as runs either way: the store's records are the runs."""
    folders = (
        sorted(workspace.runs_dir.glob("*/")) if workspace.runs_dir.is_dir() else []
    )
    if not folders:
        return []
    # Read after listing: a record is written before its folder (execute), so
    # a folder listed here by a live engine of this version has its record.
    known = {r["id"] for r in store.runs()}
    notes: list[tuple[bool, str]] = []
    for folder in folders:
        if folder.name in known or not folder.is_dir():
            continue
        try:
            entries = list(folder.iterdir())
            newest = max(
                [folder.stat().st_mtime, *(e.stat().st_mtime for e in entries)]
            )
        except OSError:
            continue  # being removed by whoever deletes it
        if time.time() - newest < _ORPHAN_MIN_AGE_S:
            continue
        names = {e.name for e in entries}
        events = folder / "events.jsonl"
        started = events.is_file() and b'"stage_start"' in events.read_bytes()
        if names <= _REGISTRATION_FILES and not started:
            shutil.rmtree(folder, ignore_errors=True)
            notes.append(
                (
                    True,
                    f"removed {folder}: a run folder with no record in "
                    f"{store.path.name} (a run killed while registering; "
                    "nothing was computed in it)",
                )
            )
        else:
            notes.append(
                (
                    False,
                    f"{folder} has no record in {store.path.name}, so it is not "
                    "listed as a run; it holds more than a registration "
                    f"({', '.join(sorted(names)) or 'nothing'}): kept for you to "
                    "look at or remove",
                )
            )
    return notes


def _emit_safely(
    events: EventWriter,
    listeners: Sequence[Callable[[dict[str, Any]], None]],
    type: str,
    **fields: Any,
) -> None:
    """Emit an event of the run's end even where its file cannot take it (a
    full disk, or a failure before the stream existed): the console still
    hears it, from the listeners the run was started with."""
    try:
        if events.path is not None:
            events.emit(type, **fields)
            return
    except OSError:
        pass
    record = {"type": type, "t": round(time.time(), 3), **fields}
    for listener in listeners:
        listener(record)


def _close_quietly(events: EventWriter, log_handler: logging.Handler | None) -> None:
    # Closing flushes what a full disk refused: that was said already.
    try:
        events.close()
    except OSError:
        pass
    if log_handler is not None:
        logging.getLogger().removeHandler(log_handler)
        try:
            log_handler.close()
        except OSError:
            pass


def _progress_to_store(store: Store, run_id: str, done: Callable[[], int]):
    # stages_done counts stages finished (done()), not the ended stage's
    # index: on several devices stages end out of plan order, some failed.
    running: set[str] = set()  # stages started, not ended (several side by side)

    def on_event(event: dict[str, Any]) -> None:
        if event["type"] == "stage_start":
            running.add(event["stage"])
            if len(running) > 1:  # one at a time needs no store write per start
                store.update_run(run_id, stages_running=len(running))
        if event["type"] == "stage_end":
            running.discard(event["stage"])
            store.update_run(run_id, stages_done=done(), stages_running=len(running))

    return on_event


class _RunLogHandler(logging.FileHandler):
    """engine.log. A line the disk refuses is dropped: logging's default
    prints a traceback to the console for each one, on a full disk for every
    line, and the failure itself reaches the console and the record anyway."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def _log_to(path) -> logging.Handler:
    handler = _RunLogHandler(path, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


def _quiet_libraries() -> None:
    """Library chatter (load reports, download bars) goes to engine.log only."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import datasets
        import transformers

        # Errors only: the slow tokenizers warn once per truncated pair otherwise.
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_default_handler()
        transformers.logging.enable_propagation()
        transformers.utils.logging.disable_progress_bar()
        datasets.logging.disable_progress_bar()
        datasets.logging.set_verbosity_warning()
    except ImportError:  # pragma: no cover
        pass
