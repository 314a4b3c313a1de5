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
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from engine.atomic import write_text_atomic
from engine.config import ExperimentConfig, load_config
from engine.control import (
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_OK,
    StopFlag,
    process_start_time,
)
from engine.data.loaders import check_local_data, has_split
from engine.data.rows import manual_data_message
from engine.errors import Cancelled, InputError
from engine.events import EventWriter
from engine.pipeline import Plan, make_plan
from engine.runinfo import (
    command_line,
    git_commit,
    host,
    package_versions,
    provenance,
)
from engine.store import Store
from engine.workspace import Workspace


@dataclass
class Prepared:
    config: ExperimentConfig
    plan: Plan
    workspace: Workspace
    missing_data: dict[str, str] = field(default_factory=dict)  # task -> what to fetch
    notices: list[str] = field(default_factory=list)  # what stops a real run


def prepare(
    config_path: str,
    workspace: Workspace,
    dry_run: bool = False,
    allow_code_execution: bool = False,
    starting: StartingRun | None = None,
) -> Prepared:
    """Load, validate and plan; check every local data file. InputError if bad.

    What would stop a real run before it trains (data to fetch by hand, code
    execution not allowed, a contaminated code target) stops it here; a dry run
    plans it anyway and says so in `missing_data` / `notices`."""
    config = load_config(config_path)
    if allow_code_execution and not config.allow_code_execution:
        config = dataclasses.replace(config, allow_code_execution=True)
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
    plan = make_plan(config, workspace)
    return Prepared(config, plan, workspace, missing, notices)


def _code_run_fields(config: ExperimentConfig) -> dict[str, Any]:
    """What a code run records: that execution was allowed, and any
    contamination the user chose to allow (the results carry the caveat)."""
    if not config.is_code:
        return {}
    from engine.codeeval.contamination import check_plan_contamination

    report = check_plan_contamination(config)
    return {
        "allow_code_execution": config.allow_code_execution,
        "allow_contamination": config.allow_contamination,
        "contamination": report.as_dict(),
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
            status, error = "failed", _failure_message(exc)
        self.store.update_run(
            self.run_id, status=status, error=error, ended_at=time.time()
        )


def _failure_message(exc: BaseException) -> str:
    """What a failed run records: an InputError's own message (the line the
    CLI prints after `error:`), else the exception's type and message."""
    if isinstance(exc, InputError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


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
    config, plan, workspace = prepared.config, prepared.plan, prepared.workspace
    check_device(config)
    store = Store(workspace)
    if starting is None:
        _check_unused(store, workspace, run_id)

    from engine.runner import PlanRunner

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
    runner = PlanRunner(
        config, plan, workspace, store, run_id, EventWriter(None, run_id), stop
    )

    # From here on the run exists: folder, resolved config, store record; a
    # signal stops it at the next safe point, keeping what finished.
    stop.defer()
    run_dir.mkdir(parents=True)
    write_text_atomic(
        workspace.run_config(run_id), tomli_w.dumps(config.to_toml_dict())
    )
    log_handler = _log_to(workspace.run_log(run_id))
    events = EventWriter(workspace.run_events(run_id), run_id)
    for listener in listeners:
        events.listeners.append(listener)
    runner.events = events
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
        "provenance": provenance(config, runner.device_name, plan.data),
        **_code_run_fields(config),
        "stages_total": len(plan.stages),
        "stages_done": 0,
        "error": None,
    }
    if starting is None:
        store.create_run(record)
    else:
        starting.running(record)
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
    events.listeners.append(_progress_to_store(store, run_id))

    status, error, code = "finished", None, EXIT_OK
    try:
        runner.run()
    except Exception as exc:  # noqa: BLE001 - every failure ends the run cleanly
        if isinstance(exc, Cancelled):
            status, code = "cancelled", EXIT_FAILED
            events.emit(
                "log",
                level="info",
                message=f"{exc} ({stop.signal_name or 'cancel'} received)",
            )
        else:
            # Bad input found mid-run reads as it would before the run: the
            # message alone, as the CLI prints it after `error:`.
            status, error = "failed", _failure_message(exc)
            code = EXIT_INPUT if isinstance(exc, InputError) else EXIT_FAILED
            logging.getLogger("xlt.engine").error(
                "run failed\n%s", traceback.format_exc()
            )
            events.emit("error", message=error, traceback=traceback.format_exc())
    except KeyboardInterrupt:
        status, code = "cancelled", EXIT_FAILED
    ended = time.time()
    store.update_run(
        run_id, status=status, ended_at=ended, error=error, stages_done=runner.completed
    )
    events.emit(
        "run_end",
        status=status,
        seconds=round(ended - started, 2),
        stages_done=runner.completed,
        stages_total=len(plan.stages),
        error=error,
    )
    events.close()
    logging.getLogger().removeHandler(log_handler)
    log_handler.close()
    return code


def _progress_to_store(store: Store, run_id: str):
    def on_event(event: dict[str, Any]) -> None:
        if event["type"] == "stage_end":
            store.update_run(run_id, stages_done=event["index"])

    return on_event


def _log_to(path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
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
