"""How runs read to a person, shared by `xlt-engine runs` and the TUI.

Light module: no torch.
"""

from __future__ import annotations

from engine.control import LIVE_STATUSES

STATUS_COLOURS = {
    "starting": "blue",
    "queued": "white",
    "running": "cyan",
    "finished": "green",
    "failed": "red",
    "interrupted": "red",
    "cancelled": "yellow",
}


def status_markup(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "white")
    return f"[{colour}]{status}[/{colour}]"


def duration_text(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def run_duration(run: dict, now: float) -> float | None:
    """Seconds a run took, or has taken so far if it is still live."""
    started = run.get("started_at")
    if not started:
        return None
    ended = run.get("ended_at")
    if ended is None and run.get("status") not in LIVE_STATUSES:
        return None  # died without recording its end: unknown
    return (ended or now) - started
