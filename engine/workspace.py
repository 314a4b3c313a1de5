"""Where a workspace keeps things: $XLT_HOME or --workspace, default ~/.xlt.

xlt.json                    the store's runs table (TinyDB); xlt.json.lock beside it
results.jsonl               the store's results, one JSON record per line
runs/<run_id>/              config.toml, events.jsonl, engine.log
launches/<run_id>.*         runs started detached (the TUI): .toml config,
                            .json launch record, .out console output
exports/                    tables and heatmaps exported from the TUI
checkpoints/<key>/          intermediate encoders (safetensors), reused once
                            xlt_stage.json is in them
stages/<key>/result.json    finished target stages, reused; generations/ beside it
cache/<key>/                tokenized datasets, reused
models/<name>/              built-in models, written at first use
locks/<key>.lock            the run computing a stage right now (engine.stage_lock)

Every path of that layout is built here and nowhere else. `partial(path)` names
the temporary file or folder a writer fills before renaming it into place.

Light module: no torch.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError
from engine.file_modes import normal_modes

STORE_FILE = "xlt.json"
RESULTS_FILE = "results.jsonl"
CHECKPOINT_MARKER = "xlt_stage.json"
STAGE_RESULT = "result.json"


def default_home() -> Path:
    return Path(os.environ.get("XLT_HOME") or Path.home() / ".xlt").expanduser()


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, root: str | Path | None = None) -> Workspace:
        path = Path(root).expanduser() if root else default_home()
        where = "--workspace" if root else "the workspace ($XLT_HOME or ~/.xlt)"
        if path.exists() and not path.is_dir():
            raise InputError(
                f"{where} '{path}' is a file; expected a folder (the workspace), "
                f"e.g. '{path.parent / 'xlt-workspace'}'"
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InputError(
                f"{where} '{path}': a part of that path is a file; expected a "
                "path of folders"
            ) from None
        except PermissionError:
            raise InputError(
                f"{where} '{path}': no permission to create it; choose a folder "
                f"you can write to, e.g. '{Path.home() / '.xlt'}'"
            ) from None
        return cls(path.resolve())

    # -- the store ----------------------------------------------------------
    @property
    def store_path(self) -> Path:
        """The runs table (TinyDB)."""
        return self.root / STORE_FILE

    @property
    def results_path(self) -> Path:
        """The results, one JSON record per line."""
        return self.root / RESULTS_FILE

    @property
    def store_lock_path(self) -> Path:
        """The lock every writer of the store holds."""
        return self.root / f"{STORE_FILE}.lock"

    # -- runs ---------------------------------------------------------------
    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def run_config(self, run_id: str) -> Path:
        """The resolved config, as run."""
        return self.run_dir(run_id) / "config.toml"

    def run_events(self, run_id: str) -> Path:
        """The run's event stream (docs/events.md)."""
        return self.run_dir(run_id) / "events.jsonl"

    def run_log(self, run_id: str) -> Path:
        """The engine's own log."""
        return self.run_dir(run_id) / "engine.log"

    # -- launches (runs started detached, before the engine writes) ----------
    @property
    def launches_dir(self) -> Path:
        return self.root / "launches"

    def launch_config(self, run_id: str) -> Path:
        """The config a detached engine was started with."""
        return self.launches_dir / f"{run_id}.toml"

    def launch_record(self, run_id: str) -> Path:
        """Who started the engine and its pid (engine.control)."""
        return self.launches_dir / f"{run_id}.json"

    def launch_output(self, run_id: str) -> Path:
        """The detached engine's stdout and stderr."""
        return self.launches_dir / f"{run_id}.out"

    def launch_files(self, run_id: str) -> tuple[Path, Path, Path]:
        return (
            self.launch_config(run_id),
            self.launch_record(run_id),
            self.launch_output(run_id),
        )

    def launch_records(self) -> list[Path]:
        """Every launch record, in name order."""
        folder = self.launches_dir
        return sorted(folder.glob("*.json")) if folder.is_dir() else []

    # -- exports ------------------------------------------------------------
    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    def export_file(self, name: str) -> Path:
        return self.exports_dir / name

    # -- stage outputs, caches, models --------------------------------------
    def checkpoint_dir(self, key: str) -> Path:
        return self.root / "checkpoints" / key

    def checkpoint_marker(self, key: str) -> Path:
        """Written last into a checkpoint: its presence means it is whole."""
        return self.checkpoint_dir(key) / CHECKPOINT_MARKER

    def stage_dir(self, key: str) -> Path:
        return self.root / "stages" / key

    def stage_result(self, key: str) -> Path:
        """A finished target stage's scores."""
        return self.stage_dir(key) / STAGE_RESULT

    def stage_evaluation(self, key: str, evaluation_key: str) -> Path:
        """One (split, language) score of a target stage, keyed by the
        stage's model and that language's data (engine.pipeline.Evaluation)."""
        return self.stage_dir(key) / "evaluations" / f"{evaluation_key}.json"

    def stage_predictions(self, key: str, evaluation_key: str) -> Path:
        """That evaluation's per-example predictions (engine.predictions),
        written just before its score file."""
        name = f"{evaluation_key}.predictions.jsonl.gz"
        return self.stage_dir(key) / "evaluations" / name

    def stage_generations(self, key: str) -> Path:
        """A code target stage's generated programs, a JSONL file per language."""
        return self.stage_dir(key) / "generations"

    @property
    def cache_root(self) -> Path:
        return self.root / "cache"

    def cache_dir(self, key: str) -> Path:
        return self.cache_root / key

    def model_dir(self, name: str) -> Path:
        return self.root / "models" / name

    def stage_lock(self, key: str) -> Path:
        """Held by the run computing the stage with this key (engine.stage_lock)."""
        return self.root / "locks" / f"{key}.lock"

    # -- partial writes -----------------------------------------------------
    @staticmethod
    def partial(path: str | Path) -> Path:
        """A name beside `path` to write it under before renaming it into
        place: unique to this process and call, so two writers of the same
        output never share (or delete) each other's half-written copy."""
        path = Path(path)
        return path.with_name(
            f"{path.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
        )

    @staticmethod
    def move_into_place(
        partial: Path,
        final: Path,
        outdated: Callable[[Path], bool] | None = None,
    ) -> None:
        """Rename a finished folder written under `partial(final)` to `final`.

        A copy already at `final` holding every file ours holds (the same key:
        the same content, put there by another writer) is kept and ours
        dropped: a checkpoint is never replaced under a reader. Only a copy
        that is incomplete (an older writer's, without the marker written
        last) or `outdated(final)` (a built-in model of an older version) is
        replaced: renamed aside, so a reader with its files open keeps them,
        then removed.

        Files get the workspace's normal mode first (some writers, e.g.
        safetensors, create them 0600), so a group-shared workspace stays
        readable by the group."""
        normal_modes(partial)
        while True:
            try:
                partial.rename(final)
                return
            except OSError:
                if not final.is_dir():
                    raise
            if _whole(final, partial) and not (outdated and outdated(final)):
                shutil.rmtree(partial, ignore_errors=True)
                return
            aside = Workspace.partial(final.with_name(final.name + ".old"))
            try:
                final.rename(aside)
            except FileNotFoundError:
                continue  # another writer moved it first: look again
            shutil.rmtree(aside, ignore_errors=True)


def _whole(existing: Path, ours: Path) -> bool:
    """Whether `existing` holds every file `ours` holds (the marker included)."""
    return all(
        (existing / f.relative_to(ours)).exists()
        for f in ours.rglob("*")
        if f.is_file()
    )
