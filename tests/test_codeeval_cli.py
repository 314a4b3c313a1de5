"""`xlt-engine codeeval`: scores a JSONL file of completions against a task's tests.

Done when: HumanEval's own canonical solutions score pass@1 = 1.0 through
`codeeval`, and empty completions score 0.0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.codeeval.humaneval import humaneval_records
from tests.conftest import run_engine

HAS_CLOSE_ELEMENTS = (
    "    for i, a in enumerate(numbers):\n"
    "        for b in numbers[i + 1:]:\n"
    "            if abs(a - b) < threshold:\n"
    "                return True\n"
    "    return False\n"
)


def write_samples(path: Path, samples) -> Path:
    path.write_text(
        "".join(json.dumps(s) + "\n" if isinstance(s, dict) else s for s in samples)
    )
    return path


def codeeval(*args: str):
    return run_engine("codeeval", *args, timeout=300)


def assert_rejected(result, *fragments: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_execution_is_off_unless_allowed(tmp_path):
    samples = write_samples(
        tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "completion": "    pass\n"}]
    )
    result = codeeval("--task", "humaneval", "--samples", str(samples))
    assert_rejected(result, "code execution is off", "--allow-code-execution")
    assert "running" not in result.stderr  # nothing was run


@pytest.mark.parametrize(
    ("lines", "fragments"),
    [
        (
            ['{"task_id": "HumanEval/0", "completion": ""}\n', "{not json\n"],
            ["s.jsonl:2:", "not a JSON object"],
        ),
        (
            ['{"task_id": "HumanEval/0", "completions": ""}\n'],
            ["s.jsonl:1:", "missing 'completion'", "did you mean 'completions'"],
        ),
        (
            ["\n", '{"task_id": "HumanEval/0", "completion": 3}\n'],
            ["s.jsonl:2:", "'completion' must be a string"],
        ),
        (
            [
                '{"task_id": "HumanEval/0", "completion": ""}\n',
                '{"task_id": "HumanEval/1640", "completion": ""}\n',
            ],
            ["s.jsonl:2:", "unknown task_id 'HumanEval/1640'", "did you mean"],
        ),
        (['["HumanEval/0", ""]\n'], ["s.jsonl:1:", "expected a JSON object"]),
        ([], ["no samples"]),
    ],
)
def test_bad_sample_files_name_file_and_line(tmp_path, lines, fragments):
    samples = write_samples(tmp_path / "s.jsonl", lines)
    result = codeeval(
        "--task", "humaneval", "--samples", str(samples), "--allow-code-execution"
    )
    assert_rejected(result, *fragments)


def test_bad_task_k_and_missing_file(tmp_path):
    samples = write_samples(
        tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "completion": ""}]
    )
    assert_rejected(
        codeeval("--task", "humanevl", "--samples", str(samples)),
        "no executable code task 'humanevl'",
        "did you mean 'humaneval'",
    )
    assert_rejected(
        codeeval("--task", "humaneval", "--samples", str(samples), "--k", "1,x"),
        "--k: expected positive integers",
    )
    assert_rejected(
        codeeval("--task", "humaneval", "--samples", str(tmp_path / "nope.jsonl")),
        "no such file",
    )


def test_small_run_reports_pass_at_k_counts_and_left_out_k(tmp_path):
    wrong = "    return not False\n"  # HumanEval/0 answers True for everything
    samples = write_samples(
        tmp_path / "s.jsonl",
        [
            {"task_id": "HumanEval/0", "completion": HAS_CLOSE_ELEMENTS},
            {"task_id": "HumanEval/0", "completion": wrong},
            {"task_id": "HumanEval/2", "completion": "    return number % 1.0\n"},
            {"task_id": "HumanEval/2", "completion": "    return (number\n"},
        ],
    )
    args = ["--task", "humaneval", "--samples", str(samples), "--k", "1,2,10"]
    result = codeeval(*args, "--allow-code-execution", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # HumanEval/0: 1 of 2 passes; HumanEval/2: 1 of 2 (the other does not parse).
    assert report["pass_at_k"] == pytest.approx({"pass@1": 0.5, "pass@2": 1.0})
    assert list(report["left_out_k"]) == ["pass@10"]
    assert "needs at least 10 samples per problem" in report["left_out_k"]["pass@10"]
    assert report["status_counts"] == {
        "passed": 2,
        "failed": 1,
        "timed_out": 0,
        "error": 1,
    }
    verdicts = [
        (r["task_id"], r["completion_index"], r["status"]) for r in report["results"]
    ]
    assert verdicts == [
        ("HumanEval/0", 0, "passed"),
        ("HumanEval/0", 1, "failed"),
        ("HumanEval/2", 0, "passed"),
        ("HumanEval/2", 1, "error"),
    ]
    assert report["results"][1]["reason"] == "AssertionError"
    assert report["problems_without_samples"] == 162
    assert report["sandbox"]

    text = codeeval(*args, "--allow-code-execution")
    assert text.returncode == 0, text.stderr
    assert "pass@1    0.5000" in text.stdout
    assert "pass@2    1.0000" in text.stdout
    assert "pass@10 left out" in text.stdout
    assert "passed 2 · failed 1 · timed_out 0 · error 1" in text.stdout
    assert "HumanEval/2 #1 error: SyntaxError" in text.stdout


def run_whole_humaneval(tmp_path: Path, completion_of) -> dict:
    records = humaneval_records()
    assert len(records) == 164
    samples = write_samples(
        tmp_path / "samples.jsonl",
        [{"task_id": r["task_id"], "completion": completion_of(r)} for r in records],
    )
    result = codeeval(
        "--task", "humaneval", "--samples", str(samples), "--allow-code-execution",
        "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["samples"] == 164 and report["problems_without_samples"] == 0
    return report


def test_canonical_solutions_score_pass_at_1_of_one(tmp_path):
    report = run_whole_humaneval(tmp_path, lambda r: r["solution"])
    failures = [r for r in report["results"] if r["status"] != "passed"]
    assert not failures, failures[:3]
    assert report["pass_at_k"] == {"pass@1": 1.0}
    assert "pass@10" in report["left_out_k"]


def test_empty_completions_score_zero(tmp_path):
    report = run_whole_humaneval(tmp_path, lambda r: "")
    assert report["pass_at_k"] == {"pass@1": 0.0}
    assert report["status_counts"]["passed"] == 0
