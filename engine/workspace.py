"""Where a workspace keeps things: $XLT_HOME or --workspace, default ~/.xlt.

xlt.json                    the store's runs table (TinyDB)
results.jsonl               the store's results, one JSON record per line
runs/<run_id>/              config.toml, events.jsonl, engine.log
launches/<run_id>.*         runs launched from the TUI: config, launch record, output
exports/                    tables and heatmaps exported from the TUI
checkpoints/<key>/          intermediate encoders (safetensors), reused
stages/<key>/result.json    finished target stages, reused
cache/<key>/                tokenized datasets, reused
models/<name>/              built-in models, written at first use
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_home() -> Path:
    return Path(os.environ.get("XLT_HOME") or Path.home() / ".xlt").expanduser()


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, root: str | Path | None = None) -> Workspace:
        path = Path(root).expanduser() if root else default_home()
        path.mkdir(parents=True, exist_ok=True)
        return cls(path.resolve())

    @property
    def store_path(self) -> Path:
        return self.root / "xlt.json"

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def checkpoint_dir(self, key: str) -> Path:
        return self.root / "checkpoints" / key

    def stage_dir(self, key: str) -> Path:
        return self.root / "stages" / key

    def cache_dir(self, key: str) -> Path:
        return self.root / "cache" / key

    def model_dir(self, name: str) -> Path:
        return self.root / "models" / name
