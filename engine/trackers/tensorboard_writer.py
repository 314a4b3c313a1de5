"""TensorBoard: event files under the workspace (runs/<id>/tensorboard by
default), written with torch's SummaryWriter (which needs the `tensorboard`
package). The config and provenance go in as text summaries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from engine.trackers.base import RunStart

if TYPE_CHECKING:
    from engine.config.schema import ReportTable

# SummaryWriter's default is 120 s: too slow for watching a run live.
FLUSH_SECONDS = 10


def log_dir(report: ReportTable, run: RunStart) -> Path:
    """Where the run's event files go: [report] tensorboard_dir (relative to
    the workspace), else runs/<id>/tensorboard in the workspace."""
    if report.tensorboard_dir is None:
        return run.workspace / "runs" / run.run_id / "tensorboard"
    return run.workspace / report.tensorboard_dir  # (checked: inside it)


class TensorBoardTracker:
    name = "tensorboard"

    def __init__(self, report: ReportTable, run: RunStart):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(
            log_dir=str(log_dir(report, run)), flush_secs=FLUSH_SECONDS
        )

    def start(self, run: RunStart) -> None:
        # Text summaries are markdown: a code block keeps the TOML as written.
        self.writer.add_text("config", f"```toml\n{run.config_toml}\n```", 0)
        provenance = json.dumps(run.provenance, indent=2, default=str)
        self.writer.add_text("provenance", f"```json\n{provenance}\n```", 0)
        self.writer.flush()

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, step)

    def finish(self, status: str) -> None:
        self.writer.add_text("status", status, 0)
        self.writer.close()
