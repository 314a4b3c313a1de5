"""Check many completions: each one a program run in the sandbox.

`check_completions(problems, samples, limits, workers)` runs every sample's
program (the problem's program_prefix + the completion) in its own sandboxed
process (engine.codeeval.sandbox) and the problem's test_program in a harness
process beside it, whose exit status is the verdict (sandbox/harness.py), with a
small pool of threads, each supervising one child process at a time. Results
come back in the order of `samples`. `read_samples` reads the JSONL files that
`xlt-engine codeeval` scores.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from engine.codeeval.sandbox import STATUSES, Limits, Verdict, run_program
from engine.errors import InputError, did_you_mean


@dataclass(frozen=True)
class SampleResult:
    task_id: str
    completion_index: int
    """The sample's position among the samples of its problem (from 0), or the
    sample's own "completion_index" when it has one."""
    verdict: Verdict

    def as_dict(self) -> dict:
        v = self.verdict
        return {
            "task_id": self.task_id,
            "completion_index": self.completion_index,
            "status": v.status,
            "reason": v.reason,
            "seconds": v.seconds,
            "output_tail": v.output_tail,
        }


def _check_known(problems: Mapping[str, Mapping], samples: Sequence[Mapping]) -> None:
    for i, sample in enumerate(samples):
        task_id = sample.get("task_id")
        if not isinstance(task_id, str) or task_id not in problems:
            raise InputError(
                f"sample {i}: unknown task_id {task_id!r}"
                f"{did_you_mean(str(task_id), problems)}"
            )
        if not problems[task_id].get("test_program"):
            raise InputError(
                f"sample {i}: problem {task_id!r} has no tests to execute "
                "(a BLEU-scored task?)"
            )


def check_completions(
    problems: Mapping[str, Mapping],
    samples: Sequence[Mapping],
    limits: Limits | None = None,
    workers: int = 2,
    on_result: Callable[[int, int], None] | None = None,
) -> list[SampleResult]:
    """Run every sample against its problem's tests; results in input order.

    `problems` maps task_id to a canonical code record; each sample is
    {"task_id", "completion"} (optionally "completion_index"). An unknown
    task_id raises InputError before anything runs. `on_result(done, total)`
    is called after each finished sample (from a worker thread)."""
    _check_known(problems, samples)
    limits = limits or Limits()
    seen: Counter[str] = Counter()
    jobs = []
    for sample in samples:
        task_id = sample["task_id"]
        index = sample.get("completion_index", seen[task_id])
        seen[task_id] += 1
        record = problems[task_id]
        program = f"{record['program_prefix']}{sample['completion']}\n"
        jobs.append((task_id, index, program, record["test_program"]))
    done = 0
    total = len(jobs)

    def run(job) -> SampleResult:
        nonlocal done
        task_id, index, program, tests = job
        # The tests run apart from the program, in a harness whose exit
        # status is the verdict (sandbox/harness.py): no program can forge it.
        result = SampleResult(task_id, index, run_program(program, limits, tests))
        if on_result is not None:
            done += 1  # only a progress count: an off-by-a-race is harmless
            on_result(done, total)
        return result

    if total == 0:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, total))) as pool:
        return list(pool.map(run, jobs))


def pass_counts(results: Iterable[SampleResult]) -> dict[str, tuple[int, int]]:
    """{task_id: (samples, passed)} in first-seen order, for pass@k."""
    counts: dict[str, list[int]] = {}
    for result in results:
        n_c = counts.setdefault(result.task_id, [0, 0])
        n_c[0] += 1
        n_c[1] += result.verdict.passed
    return {task_id: (n, c) for task_id, (n, c) in counts.items()}


def status_counts(results: Iterable[SampleResult]) -> dict[str, int]:
    counts = Counter(result.verdict.status for result in results)
    return {status: counts.get(status, 0) for status in STATUSES}


def read_samples(
    path: str | Path, problems: Mapping[str, Mapping], task: str
) -> list[dict]:
    """A JSONL file of {"task_id", "completion"} records, every line checked.

    Errors name the file and line; an unknown task_id names the nearest known
    one. Blank lines are skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"--samples: no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--samples: cannot read {path}: {exc}") from None
    samples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{where}: not a JSON object ({exc})") from None
        if not isinstance(record, dict):
            raise InputError(
                f"{where}: expected a JSON object with task_id and completion, "
                f"got {type(record).__name__}"
            )
        for key in ("task_id", "completion"):
            if key not in record:
                raise InputError(
                    f"{where}: missing '{key}'{did_you_mean(key, record)} "
                    f"(keys present: {', '.join(record) or 'none'})"
                )
            if not isinstance(record[key], str):
                raise InputError(
                    f"{where}: '{key}' must be a string, got "
                    f"{type(record[key]).__name__}"
                )
        task_id = record["task_id"]
        if task_id not in problems:
            raise InputError(
                f"{where}: unknown task_id {task_id!r} for task '{task}'"
                f"{did_you_mean(task_id, problems)}"
            )
        samples.append({"task_id": task_id, "completion": record["completion"]})
    if not samples:
        raise InputError(f"{path}: no samples (expected one JSON object per line)")
    return samples
