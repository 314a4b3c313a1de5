"""TUI responsiveness: start-up, monitor throughput, heatmap query and render.

Three figures, each against its target and against a baseline measured in the
same run of this script, on one generated workspace (`--results` results,
XNLI-like: 4 targets x 11 intermediate rows x 15 languages x 3 seeds per run,
so 51 finished runs for 100,000; at least 50 runs), all in a temporary folder
removed at the end.

1. Start to first screen (target < 1 s)
    The parent spawns `python benchmarks/tui.py --child-first-screen WS`, which
    builds `XltApp` headless (`run_test`, 120x40) and prints a line as soon as
    a frame drew the Runs screen's table with the workspace's runs in it (the
    compositor rendered the table's lines after its rows and column widths
    were in); the parent times spawn -> that line. The child imports what the
    `xlt` command imports (its typer CLI module) before it builds the app.
    Baseline: the same for a bare Textual `App` showing one `Static` (the
    floor: Python start-up, Textual's import, the first frame). Children
    alternate (bare, xlt, xlt, bare, ...) after one untimed warm-up each;
    medians. Headless, the very last step (turning the frame into terminal
    escape codes) is skipped; layout and widget rendering are not.

2. Monitor throughput (target >= 2,000 events/s kept up with)
    A writer thread appends `step` events to a running run's events.jsonl at a
    fixed rate for `--seconds` while its MonitorScreen is open in XltApp (the
    run is in the store as `running` with this process's pid and host, its
    file starts with a header, run_start and stage_start). Lines are serialised
    beforehand and written every 5 ms in one write, so the writer holds the GIL
    as little as possible (in real use the engine is another process). Every
    batch the screen folds into its MonitorState is stamped (`events_seen`);
    lag = when an event reached the state - when it was written. A rate is
    kept up with when the last event's lag is under 0.5 s and the writer held
    its rate. Rates rise (`--rates`, 1k to 100k/s) until one is not kept up
    with. During each flood a key bound in the app (F12, a no-op binding of
    this script's XltApp subclass) is pressed every 0.5 s (key latency: press
    -> its action ran), and every 10 ms sleep of the measuring coroutine is
    checked for overshoot (event loop stall: how long any key or redraw would
    have waited). Baseline: `engine.events.EventFileReader` parsing the
    largest file alone, in the tailer's 512 KiB chunks (the raw parse
    ceiling). Also shown: the monitor reading that file as history (open ->
    every event in the state).

3. Heatmap query and render (target < 200 ms)
    In XltApp, the Results screen is first opened on a run (cold: the screen
    is built and its index loads every result in a worker thread), then
    `app.open_results(run_id)` (the app's entry point, as from the Runs
    screen's `v`) alternates between runs: time from the call to the first
    frame that drew that run's heatmap (index query, view build, DataTable
    fill, layout, render). `ResultsIndex.refresh` on a fresh index (the cold
    load) is timed on its own. Baseline: what `xlt-engine results --run ID`
    does before printing: `Store.results(run_id=...)` (reads results.jsonl
    whole) and `engine.report.pivot` of the same target.

Progress goes to stderr; the report (or `--json`) to stdout. Exit code 0 when
every target is met, else 1.

    .venv/bin/python benchmarks/tui.py            # ~1 min on a 2-core VM
    .venv/bin/python benchmarks/tui.py --quick    # fewer repetitions
    .venv/bin/python benchmarks/tui.py --results 20000 --json
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import inspect
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python benchmarks/tui.py` puts benchmarks/ first
    sys.path.insert(0, str(REPO))

SIZE = (120, 40)
# Data: what an X-STILTs-like run of XNLI-like targets writes.
TARGETS = ("xnli", "xnli-b", "xnli-c", "xnli-d")
HEATMAP_TARGET = "xnli"  # registry languages: the heatmap orders its columns
LANGUAGES = (
    "en", "ar", "bg", "de", "el", "es", "fr", "hi",
    "ru", "sw", "th", "tr", "ur", "vi", "zh",
)  # fmt: skip
INTERMEDIATE = (
    "baseline", "mnli", "anli", "qqp", "sst2", "squad", "hellaswag",
    "cosmosqa", "commonsenseqa", "scitail", "swag",
)  # fmt: skip
SEEDS = (1, 2, 3)
PER_TARGET = len(INTERMEDIATE) * len(LANGUAGES) * len(SEEDS)  # 495
PER_RUN = PER_TARGET * len(TARGETS)  # 1980
MIN_RUNS = 50
T0 = 1795680000.0  # 2026-11-26 08:00 UTC: start of the first generated run

FIRST_SCREEN_TARGET_S = 1.0
MONITOR_TARGET_RATE = 2000.0
HEATMAP_TARGET_S = 0.2
KEPT_UP_LAG_S = 0.5
WRITER_TICK_S = 0.005
PING_KEY = "f12"
PING_EVERY_S = 0.5
READY = "first-screen"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


# --------------------------------------------------------------------------
# The workspace


_CONFIG: dict[str, Any] = {}


def run_config() -> dict[str, Any]:
    """A realistic config record (the demo's, with X-STILTs-like tasks)."""
    if not _CONFIG:
        from engine.config import load_config

        _CONFIG.update(
            load_config(REPO / "sample_configs" / "demo.toml").to_toml_dict()
        )
        _CONFIG.update(
            name="xstilts", model="xlm-roberta-base", seeds=list(SEEDS),
            intermediate=list(INTERMEDIATE[1:]), targets=list(TARGETS),
        )  # fmt: skip
    return json.loads(json.dumps(_CONFIG))


def run_record(run_id: str, index: int, status: str = "finished") -> dict[str, Any]:
    config = run_config()
    start = T0 + 3600 * index
    return {
        "id": run_id,
        "name": "xstilts",
        "status": status,
        "config": config,
        "started_at": start,
        "ended_at": start + 3000,
        "pid": 1,
        "pid_start": None,
        "host": socket.gethostname(),
        "device": "cuda",
        "stages_total": 55,
        "stages_done": 55,
        "error": None,
    }


def result_records(run_id: str, count: int) -> list[dict[str, Any]]:
    """The run's first `count` results, target by target (deterministic)."""
    out = []
    for t, target in enumerate(TARGETS):
        for i, inter in enumerate(INTERMEDIATE):
            for j, lang in enumerate(LANGUAGES):
                for seed in SEEDS:
                    if len(out) == count:
                        return out
                    value = 0.35 + ((t * 7 + i * 13 + j * 29 + seed * 3) % 50) / 100
                    out.append(
                        {
                            "run_id": run_id,
                            "seed": seed,
                            "model": "xlm-roberta-base",
                            "intermediate": inter,
                            "target": target,
                            "language": lang,
                            "split": "test",
                            "metric": "accuracy",
                            "value": round(value, 4),
                            "n_examples": 5010,
                        }
                    )
    return out


def build_workspace(root: Path, n_results: int) -> dict[str, Any]:
    """Runs (at least MIN_RUNS; as many as the results need) and results."""
    from engine.store import Store
    from engine.workspace import Workspace

    ws = Workspace.open(root)
    store = Store(ws.store_path)
    with_results = math.ceil(n_results / PER_RUN)
    n_runs = max(MIN_RUNS, with_results)
    ids = [f"20261126-{i:06d}-xstilts-{i:04x}" for i in range(n_runs)]
    left = n_results
    full = []  # runs holding every result of the heatmap's target
    for i, run_id in enumerate(ids):
        store.create_run(run_record(run_id, i))
        if left > 0:
            count = min(PER_RUN, left)
            store.add_results(result_records(run_id, count))
            left -= count
            if count >= PER_TARGET:
                full.append(run_id)
    return {
        "workspace": ws,
        "runs": n_runs,
        "runs_with_results": with_results,
        "full_runs": full,
        "results_bytes": store.results_path.stat().st_size,
    }


# --------------------------------------------------------------------------
# 1. Start to first screen (the child side runs in a fresh process)


def stamp_paints(widget_class) -> None:
    """Make every `widget_class` widget keep `bench_paints`: (time.monotonic(),
    rows, dimensions settled) each time the compositor renders its lines, i.e.
    each frame that drew it. A table's column widths and height are settled on
    idle after rows are added; a paint before that may show a half-laid table,
    so a figure waits for a paint with the rows and settled dimensions."""
    render_lines = widget_class.render_lines

    def wrapped(self, crop):
        lines = render_lines(self, crop)
        settled = not getattr(self, "_require_update_dimensions", False)
        paint = (time.monotonic(), getattr(self, "row_count", 0), settled)
        self.__dict__.setdefault("bench_paints", []).append(paint)
        return lines

    widget_class.render_lines = wrapped


def painted(widget, since: float, rows: int = 0) -> float | None:
    """When `widget` was first drawn after `since` with at least `rows` rows
    and settled dimensions (None: not yet)."""
    for t, count, settled in getattr(widget, "bench_paints", ()):
        if t >= since and count >= rows and settled:
            return t
    return None


async def wait_painted(find: Callable[[], Any], since: float, rows: int = 0):
    """Poll until the widget `find()` returns has been drawn (see painted)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            at = painted(find(), since, rows)
        except Exception:  # noqa: BLE001 - not composed yet
            at = None
        if at is not None:
            return at
        await asyncio.sleep(0.002)
    raise TimeoutError("the widget was not drawn")


def child_first_screen(workspace: str | None) -> None:
    """Child process: build the app, print one line as soon as a frame drew
    the screen's content, exit at once. Stamps are time.monotonic(), which is
    system-wide (CLOCK_MONOTONIC) on Linux, so the parent can subtract."""
    imports_from = time.monotonic()
    if workspace is None:
        from textual.app import App
        from textual.widgets import Static

        class Bare(App):
            def compose(self):
                yield Static("hello")

        app = Bare()
        stamp_paints(Static)
        rows = 0

        def find():
            return app.screen.query_one(Static)

    else:
        from textual.widgets import DataTable

        import xlt_tui.cli  # noqa: F401 - what `xlt` imports first
        from engine.workspace import Workspace
        from xlt_tui.app import XltApp

        app = XltApp(Workspace.open(workspace))
        stamp_paints(DataTable)
        rows = 1

        def find():
            return app.screen.query_one("#runs-table", DataTable)

    imported = time.monotonic()

    async def main() -> None:
        async with app.run_test(size=SIZE):
            frame = await wait_painted(find, imported, rows)
            stamps = {"imports_from": imports_from, "imported": imported}
            print(f"{READY} {json.dumps({**stamps, 'frame': frame})}", flush=True)
            os._exit(0)  # the parent's clock has stopped; skip the teardown

    asyncio.run(main())


def spawn_first_screen(workspace: Path | None) -> dict[str, float]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-first-screen"]
    if workspace is not None:
        cmd.append(str(workspace))
    started = time.monotonic()
    child = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = child.stdout.readline()
    elapsed = time.monotonic() - started
    _, err = child.communicate(timeout=30)
    if not line.startswith(READY):
        raise RuntimeError(f"first-screen child failed:\n{err[-3000:]}")
    stamps = json.loads(line.split(" ", 1)[1])
    return {
        "seconds": elapsed,
        "python": stamps["imports_from"] - started,  # interpreter start-up
        "imports": stamps["imported"] - stamps["imports_from"],
        "app": stamps["frame"] - stamps["imported"],  # app start -> frame
    }


def measure_first_screen(workspace: Path, repeats: int) -> dict[str, Any]:
    sides = {"bare": None, "xlt": workspace}
    for name, ws in sides.items():
        log(f"first screen: warm-up {name}")
        spawn_first_screen(ws)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    for i in range(repeats):
        order = list(sides) if i % 2 == 0 else list(sides)[::-1]
        for name in order:
            runs[name].append(spawn_first_screen(sides[name]))
        log(
            f"first screen {i + 1}/{repeats}: xlt {runs['xlt'][-1]['seconds']:.3f} s,"
            f" bare {runs['bare'][-1]['seconds']:.3f} s"
        )
    out: dict[str, Any] = {}
    for name, values in runs.items():
        out[name] = {
            key: median([v[key] for v in values])
            for key in ("seconds", "python", "imports", "app")
        }
        out[name]["all"] = [round(v["seconds"], 4) for v in values]
    return out


# --------------------------------------------------------------------------
# The app under test, with one extra key to time key handling


def bench_app_class():
    from textual.binding import Binding

    from xlt_tui.app import XltApp

    class BenchApp(XltApp):
        """XltApp plus a no-op key binding that stamps when it ran."""

        BINDINGS = [Binding(PING_KEY, "bench_ping", "ping", show=False)]
        # A relative CSS_PATH is read beside the subclass's module: point at
        # the app's own stylesheet.
        CSS_PATH = str(Path(inspect.getfile(XltApp)).with_name(XltApp.CSS_PATH))

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.pings: list[float] = []

        def action_bench_ping(self) -> None:
            self.pings.append(time.perf_counter())

    return BenchApp


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - a widget not composed yet
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def start_on_runs(app) -> None:
    from xlt_tui.screens.runs import RunsScreen

    await wait_for(
        lambda: (
            isinstance(app.screen, RunsScreen)
            and app.screen.query_one("#runs-table").row_count > 0
        ),
        30,
        "the runs list",
    )


# --------------------------------------------------------------------------
# 2. Monitor throughput


def make_running_run(ws, run_id: str, index: int) -> Path:
    """A run in the store as running in this process, and the start of its
    events.jsonl: header, run_start, stage_start (the engine's own writer)."""
    from engine.control import process_start_time
    from engine.events import EventWriter
    from engine.store import Store

    pid = os.getpid()
    record = run_record(run_id, index, status="running")
    record.update(
        started_at=time.time(), ended_at=None, pid=pid,
        pid_start=process_start_time(pid), stages_done=0,
    )  # fmt: skip
    Store(ws.store_path).create_run(record)
    path = ws.run_events(run_id)
    writer = EventWriter(path, run_id)
    writer.emit(
        "run_start", run_id=run_id, name="xstilts", model="xlm-roberta-base",
        device="cuda", workspace=str(ws.root), pid=pid, host=socket.gethostname(),
    )  # fmt: skip
    writer.emit(
        "stage_start", stage=STAGE, kind="intermediate", key="k1", index=1,
        total=55, seed=1, reused=False, task="mnli",
    )  # fmt: skip
    writer.close()
    return path


STAGE = "intermediate/mnli/seed1"


def step_lines(n: int, rate: float) -> list[bytes]:
    """`n` step events (docs/events.md), serialised, one line each."""
    t0 = time.time() + 0.5
    lines = []
    for step in range(1, n + 1):
        event = {
            "type": "step",
            "t": round(t0 + step / rate, 3),
            "stage": STAGE,
            "step": step,
            "total_steps": n,
            "epoch": 1 + 3 * step // (n + 1),
            "loss": round(0.7 * 0.9999**step + 0.05 + (step % 7) / 100, 4),
            "lr": round(2e-5 * min(1.0, step / 500) * (1 - step / (n + 1)), 9),
            "samples_per_s": 410.0 + step % 13,
            "tokens_per_s": 24100.5 + step % 101,
            "progress": round(step / n, 5),
            "eta_s": round((n - step) / rate, 2),
        }
        lines.append((json.dumps(event) + "\n").encode())
    return lines


class Flood(threading.Thread):
    """Appends `lines` to `path` at `rate` lines/s, one write per tick."""

    def __init__(self, path: Path, lines: list[bytes], rate: float):
        super().__init__(name="bench-writer", daemon=True)
        self.path, self.lines, self.rate = path, lines, rate
        self.ticks: list[tuple[float, int]] = []  # (after the write, lines so far)
        self.started_at = self.done_at = math.nan
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            n, written = len(self.lines), 0
            with open(self.path, "ab", buffering=0) as fh:
                self.started_at = start = time.perf_counter()
                while written < n:
                    due = min(n, int(self.rate * (time.perf_counter() - start)) + 1)
                    if due > written:
                        fh.write(b"".join(self.lines[written:due]))
                        written = due
                        self.ticks.append((time.perf_counter(), written))
                    time.sleep(WRITER_TICK_S)
            self.done_at = self.ticks[-1][0]
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            self.error = exc


def stage_line(screen) -> str:
    from textual.widgets import Static

    return str(screen.query_one("#stage-line", Static).content)


def watch_state(state) -> list[tuple[float, int]]:
    """Stamps (time, events_seen) after every batch folded into the state."""
    seen: list[tuple[float, int]] = []
    apply_many = state.apply_many

    def wrapped(events):
        apply_many(events)
        seen.append((time.perf_counter(), state.events_seen))

    state.apply_many = wrapped
    return seen


def lags(ticks: list[tuple[float, int]], seen: list[tuple[float, int]], base: int):
    """Per write tick: (when its last event reached the state) - (written)."""
    seen_counts = [count - base for _, count in seen]
    out = []
    for t_written, count in ticks:
        i = bisect.bisect_left(seen_counts, count)
        out.append(seen[i][0] - t_written if i < len(seen) else math.inf)
    return out


async def monitor_at_rate(ws, run_id: str, index: int, rate: float, seconds: float):
    from xlt_tui.screens.monitor import MonitorScreen

    path = make_running_run(ws, run_id, index)
    n = int(rate * seconds)
    lines = step_lines(n, rate)
    app = bench_app_class()(ws)
    async with app.run_test(size=SIZE) as pilot:
        await start_on_runs(app)
        app.open_monitor(run_id)
        await wait_for(
            lambda: isinstance(app.screen, MonitorScreen) and app.screen.history_loaded,
            30,
            "the monitor",
        )
        screen = app.screen
        base = screen.state.events_seen
        seen = watch_state(screen.state)
        flood = Flood(path, lines, rate)
        flood.start()
        latencies, stalls = [], []
        next_ping = time.perf_counter() + PING_EVERY_S / 2
        while flood.is_alive():
            slept = time.perf_counter()
            await asyncio.sleep(0.01)
            # Over the 10 ms asked for: the event loop was busy (or the GIL
            # elsewhere); a key pressed then would have waited as long.
            stalls.append(time.perf_counter() - slept - 0.01)
            if time.perf_counter() >= next_ping and flood.is_alive():
                before, pressed = len(app.pings), time.perf_counter()
                await pilot.press(PING_KEY)
                if len(app.pings) > before:
                    latencies.append(app.pings[-1] - pressed)
                next_ping = time.perf_counter() + PING_EVERY_S
        if flood.error is not None:
            raise flood.error
        drain = max(5.0, 2 * seconds)
        try:
            await wait_for(
                lambda: screen.state.events_seen - base >= n, drain, "the last event"
            )
            caught_up = True
        except TimeoutError:
            caught_up = False
        shown_at = math.nan
        if caught_up:
            try:
                await wait_for(
                    lambda: f"step {n}/{n}" in stage_line(screen), 5, "the stage line"
                )
                shown_at = time.perf_counter()
            except TimeoutError:
                pass
        folded = screen.state.events_seen - base
        batches = screen.tailer.batches_posted if screen.tailer else 0
    per_tick = lags(flood.ticks, seen, base)
    written_s = flood.done_at - flood.started_at
    achieved = n / written_s if written_s > 0 else math.inf
    final_lag = per_tick[-1] if per_tick else math.inf
    writer_ok = achieved >= 0.9 * rate
    last = next((t for t, count in seen if count - base >= n), math.nan)
    folded_rate = n / (last - flood.started_at)  # written and folded, end to end
    return {
        "rate": rate,
        "events": n,
        "writer_rate": achieved,
        "writer_ok": writer_ok,
        "folded": folded,
        "folded_rate": folded_rate,
        "final_lag_s": final_lag,
        "max_lag_s": max(per_tick) if per_tick else math.inf,
        "shown_lag_s": shown_at - flood.done_at,
        "batches": batches,
        "key_latency_s": latencies,
        "loop_stall_max_s": max(stalls, default=math.nan),
        "kept_up": caught_up and writer_ok and final_lag < KEPT_UP_LAG_S,
        "path": str(path),
    }


async def monitor_replay(ws, run_id: str) -> dict[str, float]:
    """Open the monitor on a run whose events.jsonl is already long: time from
    open to every event folded into the state (the history read)."""
    from engine.events import EventFileReader
    from xlt_tui.screens.monitor import MonitorScreen

    total = len(EventFileReader(ws.run_events(run_id)).read_new())
    app = bench_app_class()(ws)
    async with app.run_test(size=SIZE):
        await start_on_runs(app)
        started = time.perf_counter()
        app.open_monitor(run_id)
        await wait_for(
            lambda: (
                isinstance(app.screen, MonitorScreen)
                and app.screen.state.events_seen >= total
            ),
            60,
            "the history",
        )
        seconds = time.perf_counter() - started
    return {"events": total, "seconds": seconds, "rate": total / seconds}


def raw_parse(path: Path, repeats: int) -> dict[str, float]:
    """EventFileReader alone over the whole file, in the tailer's chunks."""
    from engine.events import EventFileReader
    from xlt_tui.tailer import CHUNK_BYTES

    times, count = [], 0
    for _ in range(repeats):
        reader = EventFileReader(path)
        started = time.perf_counter()
        count = 0
        while True:
            count += len(reader.read_new(CHUNK_BYTES))
            if reader.at_end:
                break
        times.append(time.perf_counter() - started)
    seconds = median(times)
    return {"events": count, "seconds": seconds, "rate": count / seconds}


def measure_monitor(ws, rates: list[float], seconds: float, repeats: int):
    rows = []
    for i, rate in enumerate(rates):
        run_id = f"20261127-{i:06d}-flood-{int(rate)}"
        log(f"monitor: {rate:,.0f} events/s for {seconds:g} s")
        row = asyncio.run(monitor_at_rate(ws, run_id, 1000 + i, rate, seconds))
        row["run_id"] = run_id
        rows.append(row)
        lat = row["key_latency_s"]
        log(
            f"  writer {row['writer_rate']:,.0f}/s, lag at end "
            f"{row['final_lag_s'] * 1000:.0f} ms (max {row['max_lag_s'] * 1000:.0f} "
            f"ms), key latency max {max(lat, default=math.nan) * 1000:.0f} ms, loop "
            f"stall max {row['loop_stall_max_s'] * 1000:.0f} ms: "
            f"{'kept up' if row['kept_up'] else 'NOT kept up'}"
        )
        if not row["kept_up"]:
            break
    largest = max(rows, key=lambda r: r["events"])
    log("monitor: raw parse and history replay of the largest file")
    raw = raw_parse(Path(largest["path"]), repeats)
    replay = asyncio.run(monitor_replay(ws, largest["run_id"]))
    kept = [r["rate"] for r in rows if r["kept_up"]]
    latencies = [x for r in rows for x in r["key_latency_s"]]
    stalls = [r["loop_stall_max_s"] for r in rows]
    return {
        "rates": rows,
        "highest_kept_up": max(kept) if kept else 0.0,
        "highest_tried": max(r["rate"] for r in rows),
        "raw_parse": raw,
        "replay": replay,
        "key_latency_median_s": median(latencies),
        "key_latency_max_s": max(latencies, default=math.nan),
        "loop_stall_max_s": max(stalls, default=math.nan),
        "seconds_per_rate": seconds,
    }


# --------------------------------------------------------------------------
# 3. Heatmap query and render


def index_cold_load(results_path: Path, repeats: int) -> dict[str, float]:
    from xlt_tui.results_index import ResultsIndex

    times, count = [], 0
    for _ in range(repeats):
        index = ResultsIndex(results_path)
        started = time.perf_counter()
        index.refresh()
        times.append(time.perf_counter() - started)
        count = len(index)
    return {"seconds": median(times), "records": count}


def cli_pivot(store_path: Path, run_ids: list[str], repeats: int):
    """The `xlt-engine results --run ID` path: read, filter, pivot."""
    from engine.report import pivot
    from engine.store import Store
    from engine.tasks import REGISTRY

    order = REGISTRY[HEATMAP_TARGET].languages
    store = Store(store_path)
    total, reads, pivots = [], [], []
    for i in range(repeats):
        run_id = run_ids[i % len(run_ids)]
        started = time.perf_counter()
        records = store.results(run_id=run_id)
        read = time.perf_counter()
        table = pivot(records, HEATMAP_TARGET, order)
        done = time.perf_counter()
        assert len(table.rows) == len(INTERMEDIATE), table.rows
        total.append(done - started)
        reads.append(read - started)
        pivots.append(done - read)
    return {"seconds": median(total), "read": median(reads), "pivot": median(pivots)}


async def heatmap_in_app(ws, run_ids: list[str], repeats: int) -> dict[str, Any]:
    from textual.widgets import DataTable

    from xlt_tui.screens.results import ResultsScreen

    stamp_paints(DataTable)  # the Heatmap is one
    app = bench_app_class()(ws)
    rows = len(INTERMEDIATE)

    def heatmap_of(run_id: str) -> Callable[[], Any]:
        def find():
            screen = app.screen
            assert isinstance(screen, ResultsScreen)
            assert screen.view is not None and screen.view.run_id == run_id
            return screen.query_one("#results-heatmap")

        return find

    async with app.run_test(size=SIZE):
        await start_on_runs(app)
        first = run_ids[0]
        started = time.monotonic()
        app.open_results(first)  # builds the screen; the index loads cold
        cold = await wait_painted(heatmap_of(first), started, rows) - started
        screen = app.screen
        warm, sync = [], []
        for i in range(repeats):
            run_id = run_ids[(i + 1) % len(run_ids)]
            await wait_for(lambda: not screen._refreshing, 10, "the index refresh")
            await asyncio.sleep(0.05)  # settle: no frame pending
            started = time.monotonic()
            app.open_results(run_id)  # the view is built before this returns
            sync.append(time.monotonic() - started)  # query + view + table
            drawn = await wait_painted(heatmap_of(run_id), started, rows)
            warm.append(drawn - started)  # ... + layout + render
            log(f"heatmap {i + 1}/{repeats}: {warm[-1] * 1000:.1f} ms")
        columns = len(screen.query_one("#results-heatmap").columns)
    return {
        "cold_seconds": cold,
        "seconds": median(warm),
        "max_seconds": max(warm),
        "sync_seconds": median(sync),
        "all": [round(x, 4) for x in warm],
        "cells": rows * columns,
    }


def measure_heatmap(info: dict[str, Any], repeats: int, base_repeats: int):
    ws = info["workspace"]
    run_ids = info["full_runs"][-6:]  # several runs: every show is a redraw
    log("heatmap: index cold load")
    index = index_cold_load(ws.results_path, base_repeats)
    log("heatmap: in the app")
    app = asyncio.run(heatmap_in_app(ws, run_ids, repeats))
    log("heatmap: baseline (Store.results + report.pivot)")
    base = cli_pivot(ws.store_path, run_ids, base_repeats)
    return {"index": index, "app": app, "baseline": base}


# --------------------------------------------------------------------------
# Report


def finite(value: Any) -> Any:
    """`value` with inf and nan as None (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(figures: dict[str, Any]) -> None:
    info, fs, mon, hm = (
        figures["info"],
        figures["first_screen"],
        figures["monitor"],
        figures["heatmap"],
    )
    print(
        f"python {info['python']}, textual {info['textual']}, {info['cpus']} CPUs, "
        f"load average {info['load_average']} at start"
    )
    print(
        f"workspace: {info['runs']} runs, {info['results']:,} results "
        f"({info['results_mb']:.1f} MB results.jsonl; {info['runs_with_results']} runs"
        f" x {len(TARGETS)} targets x {len(INTERMEDIATE)} rows x {len(LANGUAGES)} "
        f"languages x {len(SEEDS)} seeds)"
    )
    x, b = fs["xlt"], fs["bare"]
    print(
        f"\nstart to first screen (median of {info['first_screen_repeats']}; "
        "python start-up / imports / app start to frame):"
    )
    for name, r in (("xlt Runs screen", x), ("bare Textual App", b)):
        print(
            f"  {name:18s} {r['seconds']:.3f} s  ({r['python']:.3f} / "
            f"{r['imports']:.3f} / {r['app']:.3f})  all: {r['all']}"
        )
    print(f"\nmonitor, {mon['seconds_per_rate']:g} s per rate:")
    print(
        "   rate/s  writer/s  folded/s  lag end  lag max  shown    batches  "
        "key max  stall max  kept up"
    )
    for r in mon["rates"]:
        keys = max(r["key_latency_s"], default=math.nan)
        print(
            f"  {r['rate']:>7,.0f}  {r['writer_rate']:>8,.0f}  "
            f"{r['folded_rate']:>8,.0f}  {r['final_lag_s'] * 1000:4.0f} ms  "
            f"{r['max_lag_s'] * 1000:4.0f} ms  {r['shown_lag_s'] * 1000:4.0f} ms  "
            f"{r['batches']:7d}  {keys * 1000:4.0f} ms  "
            f"{r['loop_stall_max_s'] * 1000:6.0f} ms  {'yes' if r['kept_up'] else 'NO'}"
        )
    raw, replay = mon["raw_parse"], mon["replay"]
    print(
        f"  raw parse {raw['events']:,} events in {raw['seconds']:.3f} s; monitor "
        f"history replay of the same file {replay['seconds']:.3f} s"
    )
    app, base, index = hm["app"], hm["baseline"], hm["index"]
    print(
        f"\nheatmap ({len(INTERMEDIATE)} rows x {len(LANGUAGES)} languages + avg, "
        f"median of {info['heatmap_repeats']}): open_results -> frame "
        f"{app['seconds'] * 1000:.1f} ms (query + view + table "
        f"{app['sync_seconds'] * 1000:.1f} ms; max {app['max_seconds'] * 1000:.1f} "
        f"ms); baseline read {base['read'] * 1000:.1f} ms + pivot "
        f"{base['pivot'] * 1000:.1f} ms"
    )

    rows = [
        (
            "start to first screen",
            f"{x['seconds']:.3f} s",
            f"< {FIRST_SCREEN_TARGET_S:g} s",
            "bare Textual App",
            f"{b['seconds']:.3f} s",
            f"{x['seconds'] / b['seconds']:.2f}",
            verdict(x["seconds"] < FIRST_SCREEN_TARGET_S),
        ),
        (
            "monitor: highest rate kept up",
            f"{mon['highest_kept_up']:,.0f} ev/s"
            + (
                " (top tried)" if mon["highest_kept_up"] == mon["highest_tried"] else ""
            ),
            f">= {MONITOR_TARGET_RATE:,.0f} ev/s",
            "EventFileReader alone",
            f"{raw['rate']:,.0f} ev/s",
            f"{mon['highest_kept_up'] / raw['rate']:.2f}",
            verdict(mon["highest_kept_up"] >= MONITOR_TARGET_RATE),
        ),
        (
            "monitor: history replay",
            f"{replay['rate']:,.0f} ev/s",
            "-",
            "EventFileReader alone",
            f"{raw['rate']:,.0f} ev/s",
            f"{replay['rate'] / raw['rate']:.2f}",
            "info",
        ),
        (
            "monitor: key latency in flood",
            f"{mon['key_latency_max_s'] * 1000:.0f} ms max",
            "-",
            "median",
            f"{mon['key_latency_median_s'] * 1000:.0f} ms",
            "-",
            "info",
        ),
        (
            "monitor: event loop stall",
            f"{mon['loop_stall_max_s'] * 1000:.0f} ms max",
            "-",
            "-",
            "-",
            "-",
            "info",
        ),
        (
            "heatmap query + render",
            f"{app['seconds'] * 1000:.1f} ms",
            f"< {HEATMAP_TARGET_S * 1000:.0f} ms",
            "Store.results + pivot",
            f"{base['seconds'] * 1000:.1f} ms",
            f"{app['seconds'] / base['seconds']:.2f}",
            verdict(app["seconds"] < HEATMAP_TARGET_S),
        ),
        (
            "heatmap cold (screen + index)",
            f"{app['cold_seconds'] * 1000:.0f} ms",
            "-",
            "ResultsIndex.refresh",
            f"{index['seconds'] * 1000:.0f} ms",
            f"{app['cold_seconds'] / index['seconds']:.2f}",
            "info",
        ),
    ]
    head = ("figure", "value", "target", "baseline", "baseline value", "ratio", "")
    widths = [max(len(str(r[i])) for r in (head, *rows)) for i in range(len(head))]
    print()
    for r in (head, *rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))


# --------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="TUI start-up, monitor throughput and heatmap speed, each "
        "against its target and a baseline measured in the same run."
    )
    p.add_argument("--quick", action="store_true", help="fewer repetitions (smoke)")
    p.add_argument(
        "--results", type=int, default=100_000, help="results in the store (100000)"
    )
    p.add_argument(
        "--rates",
        default="1000,2000,5000,10000,20000,50000,100000",
        help="monitor writer rates, events/s, tried in order until one is not "
        "kept up with",
    )
    p.add_argument(
        "--seconds", type=float, default=None, help="flood length per rate (3; 2)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--child-first-screen",
        nargs="?",
        const="",
        default=None,
        metavar="WS",
        help=argparse.SUPPRESS,  # internal: the timed child process
    )
    args = p.parse_args(argv)
    if args.results < PER_RUN + PER_TARGET:
        # Two runs with a whole heatmap: the warm figure switches between runs.
        p.error(f"--results must be at least {PER_RUN + PER_TARGET}")
    try:
        args.rates = [float(x) for x in args.rates.split(",") if x.strip()]
    except ValueError:
        p.error("--rates: comma-separated numbers")
    if not args.rates or min(args.rates) <= 0:
        p.error("--rates: positive numbers")
    if args.seconds is None:
        args.seconds = 2.0 if args.quick else 3.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_first_screen is not None:
        child_first_screen(args.child_first_screen or None)
        return 0

    import textual

    repeats = {
        "first_screen": 3 if args.quick else 7,
        "heatmap": 5 if args.quick else 15,
        "baseline": 2 if args.quick else 5,
    }
    tmp = Path(tempfile.mkdtemp(prefix="xlt-bench-tui-"))
    try:
        info = {
            "python": sys.version.split()[0],
            "textual": textual.__version__,
            "cpus": os.cpu_count(),
            "load_average": round(os.getloadavg()[0], 2),
            "first_screen_repeats": repeats["first_screen"],
            "heatmap_repeats": repeats["heatmap"],
        }
        log(f"workspace: {args.results:,} results in {tmp}")
        built = build_workspace(tmp / "ws", args.results)
        ws = built["workspace"]
        info.update(
            runs=built["runs"],
            runs_with_results=built["runs_with_results"],
            results=args.results,
            results_mb=built["results_bytes"] / 1e6,
        )
        first = measure_first_screen(ws.root, repeats["first_screen"])
        heat = measure_heatmap(built, repeats["heatmap"], repeats["baseline"])
        mon = measure_monitor(ws, args.rates, args.seconds, repeats["baseline"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    figures = {"info": info, "first_screen": first, "monitor": mon, "heatmap": heat}
    passed = (
        first["xlt"]["seconds"] < FIRST_SCREEN_TARGET_S
        and mon["highest_kept_up"] >= MONITOR_TARGET_RATE
        and heat["app"]["seconds"] < HEATMAP_TARGET_S
    )
    figures["passed"] = passed
    if args.json:
        for row in mon["rates"]:
            row.pop("path", None)
        print(json.dumps(finite(figures), indent=2))
    else:
        report(figures)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
