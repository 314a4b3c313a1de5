"""A small grid on one worker against two CPU workers, in one process.

The grid: the tiny built-in model, one intermediate task and one target (a
learnable sentiment task on local files, as the tests write it), `--seeds`
seeds: per seed the baseline's target, the intermediate stage and the target
reading its checkpoint. Each side is one `xlt-engine run` (`python -m
engine run`), a fresh process in a fresh workspace, timed from start to
exit as a user waits for it: each pays its own imports (torch and
transformers take seconds; a side run inside this process after another
would find them imported already, and the first side would pay for both).

* baseline, "1 worker": one device (cpu), stages one after another in the
  run's process, torch with every core (what a run without `devices` does);
* "2 workers": `--devices cpu,cpu`, two worker processes, each with half the
  cores (engine.executors.devices.threads_per_worker);
* with --ray, "2 Ray workers": `--executor ray --devices cpu,cpu` on a local
  Ray instance started by this script after the sides above (a cluster is
  up before a run in practice), compared with "2 workers, Ray up", the local
  side run again beside that instance, whose own processes take CPU time on
  a 2-core machine: the Ray executor's overhead (target: <= 15%).

Printed: wall time of each, the ratio 2 workers / 1 worker, whether both
gave the same scores, and the scheduling overhead per dependent stage: the
seconds from the intermediate stage's `stage_end` to its target's first
`step` event (the driver seeing the end, handing the stage out, the worker
loading the checkpoint and its data).

    .venv/bin/python benchmarks/grid_parallel.py            # ~2-4 min on 2 cores
    .venv/bin/python benchmarks/grid_parallel.py --seeds 3 --epochs 3
    .venv/bin/python benchmarks/grid_parallel.py --ray     # needs xlt[ray]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see train_throughput.py
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The grid's data and config are the tests' own (tests/conftest.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.store import Store  # noqa: E402
from engine.workspace import Workspace  # noqa: E402
from tests.conftest import experiment_toml, write_sentiment_files  # noqa: E402

SIDES = [("1 worker", None, "local"), ("2 workers", "cpu,cpu", "local")]
# With --ray, after a Ray instance is up (its processes take CPU time of
# their own): the local side again, as the Ray side's baseline, then Ray.
RAY_SIDES = [
    ("2 workers, Ray up", "cpu,cpu", "local"),
    ("2 Ray workers", "cpu,cpu", "ray"),
]


def run_side(
    config: Path,
    root: Path,
    name: str,
    devices: str | None,
    executor: str,
    ray_address: str | None,
) -> dict:
    run_id = "-".join(name.replace(",", "").split())
    ws = root / run_id
    command = [
        sys.executable, "-m", "engine", "run", str(config),
        "--workspace", str(ws), "--run-id", run_id, "--plain",
    ]  # fmt: skip
    if devices:
        command += ["--devices", devices]
    if executor == "ray":
        command += ["--executor", "ray", "--ray-address", str(ray_address)]
    t0 = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - t0
    assert done.returncode == 0, f"{name}: exit {done.returncode}\n{done.stderr}"
    workspace = Workspace.open(ws)
    lines = workspace.run_events(run_id).read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    scores = {
        (r["intermediate"], r["seed"], r["language"]): r["value"]
        for r in Store(workspace).results(run_id=run_id)
    }
    return {"wall_s": wall, "events": events, "scores": scores}


def overheads(events: list[dict]) -> list[float]:
    """Per target reading a checkpoint: its first step - its dependency's end."""
    ended = {e["stage"]: e["t"] for e in events if e["type"] == "stage_end"}
    first_step: dict[str, float] = {}
    for e in events:
        if e["type"] == "step":
            first_step.setdefault(e["stage"], e["t"])
    out = []
    for e in events:
        reads = e.get("intermediate") not in (None, "baseline")
        if e["type"] == "stage_start" and reads:
            dependency = f"intermediate/{e['intermediate']}/seed{e['seed']}"
            out.append(first_step[e["stage"]] - ended[dependency])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--ray", action="store_true", help="also the Ray executor (xlt[ray])"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grid-parallel-") as tmp:
        root = Path(tmp)
        write_sentiment_files(root / "data")
        config = root / "grid.toml"
        seeds = tuple(range(1, args.seeds + 1))
        config.write_text(experiment_toml(epochs=args.epochs, seeds=seeds))
        sides = {
            name: run_side(config, root, name, dev, executor, None)
            for name, dev, executor in SIDES
        }
        if args.ray:
            import ray

            ray.init(num_cpus=len(os.sched_getaffinity(0)), include_dashboard=False)
            address = ray.get_runtime_context().gcs_address
            for name, dev, executor in RAY_SIDES:
                sides[name] = run_side(config, root, name, dev, executor, address)
    one, two = sides["1 worker"], sides["2 workers"]
    report = {
        "stages": sum(1 for e in one["events"] if e["type"] == "stage_start"),
        "cores": len(os.sched_getaffinity(0)),
        "wall_s": {name: round(s["wall_s"], 2) for name, s in sides.items()},
        "ratio_2_workers_over_1_worker": round(two["wall_s"] / one["wall_s"], 3),
        "same_scores": all(s["scores"] == one["scores"] for s in sides.values()),
        "overhead_s": {
            name: [round(x, 2) for x in overheads(s["events"])]
            for name, s in sides.items()
        },
    }
    if args.ray:
        local, ray_side = (sides[name]["wall_s"] for name, _, _ in RAY_SIDES)
        report["ratio_ray_over_2_workers"] = round(ray_side / local, 3)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"grid: {report['stages']} stages ({args.seeds} seeds x baseline target, "
        f"intermediate, target), {args.epochs} epochs, xlt-tiny, "
        f"{report['cores']} cores"
    )
    for name, wall in report["wall_s"].items():
        print(f"  {name:<18} wall {wall:8.2f} s")
    print(
        f"  2 workers / 1 worker (baseline) = {report['ratio_2_workers_over_1_worker']}"
        f"  (speed-up {one['wall_s'] / two['wall_s']:.2f}x)"
    )
    if args.ray:
        print(
            f"  2 Ray workers / 2 workers, Ray up (baseline) = "
            f"{report['ratio_ray_over_2_workers']}  (target <= 1.15)"
        )
    print(f"  same scores per (intermediate, seed, language): {report['same_scores']}")
    for name, values in report["overhead_s"].items():
        print(
            f"  scheduling overhead, {name}: intermediate stage_end -> target's "
            f"first step: mean {statistics.mean(values):.2f} s, max "
            f"{max(values):.2f} s ({values})"
        )


if __name__ == "__main__":
    main()
