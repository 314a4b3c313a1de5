"""EvalPlus tests (HumanEval+, MBPP+) from local files in EvalPlus's released
format (tests/fixtures/evalplus, written by hand in that format: a few of its
problems' fields, not its data), run in the real sandbox."""

import sys
from pathlib import Path

import pytest

from engine.codeeval.evalplus import (
    evalplus_records,
    read_evalplus_file,
    with_evalplus_tests,
)
from engine.codeeval.execute import check_completions
from engine.codeeval.sandbox import Limits
from engine.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "evalplus"


def verdicts(records, completions):
    problems = {r["task_id"]: r for r in records}
    samples = [
        {"task_id": t, "completion_index": i, "completion": c}
        for i, (t, c) in enumerate(completions)
    ]
    results = check_completions(problems, samples, Limits(), workers=2)
    return [r.verdict.status for r in sorted(results, key=lambda r: r.completion_index)]


def test_plus_inputs_catch_what_the_base_tests_miss():
    records = evalplus_records(read_evalplus_file(FIXTURES / "HumanEvalPlus.jsonl.gz"))
    assert [r["task_id"] for r in records] == ["HumanEval/0", "HumanEval/2"]
    statuses = verdicts(
        records,
        [
            ("HumanEval/0", "    return x + y\n"),
            # right on the base inputs only (both non-negative and small)
            ("HumanEval/0", "    return abs(x) + y if x < 100 else 0\n"),
            # float outputs compared within atol, not exactly
            ("HumanEval/2", "    return number - int(number) + 1e-9\n"),
            ("HumanEval/2", "    return 0.5\n"),
        ],
    )
    assert statuses == ["passed", "failed", "passed", "failed"]


def test_mbpp_plus_completion_is_a_whole_program():
    records = evalplus_records(read_evalplus_file(FIXTURES / "MbppPlus.jsonl"))
    assert records[0]["program_prefix"] == ""
    right = "def similar_elements(a, b):\n    return tuple(sorted(set(a) & set(b)))\n"
    wrong = "def similar_elements(a, b):\n    return (4, 5)\n"
    statuses = verdicts(records, [("Mbpp/2", right), ("Mbpp/2", wrong)])
    assert statuses == ["passed", "failed"]


def test_a_tasks_records_take_evalplus_tests_by_problem_id():
    plus = read_evalplus_file(FIXTURES / "MbppPlus.jsonl")
    record = {"task_id": "MBPP/2", "problem_id": "MBPP/2", "test_program": "old"}
    swapped = with_evalplus_tests([record], plus)
    assert "EvalPlus input" in swapped[0]["test_program"]
    with pytest.raises(InputError, match="no tests for problem 'MBPP/3'"):
        with_evalplus_tests([{"task_id": "MBPP/3", "problem_id": "MBPP/3"}], plus)


def test_a_file_missing_fields_names_the_line_and_the_keys(tmp_path):
    bad = tmp_path / "HumanEvalPlus.jsonl"
    bad.write_text('{"task_id": "HumanEval/0", "prompt": "x"}\n')
    with pytest.raises(
        InputError, match=r"HumanEvalPlus.jsonl:1: .*missing entry_point"
    ):
        read_evalplus_file(bad)


def test_codeeval_task_reads_the_file_evalplus_own_variable_names(monkeypatch):
    from engine.codeeval import problems_for_task

    monkeypatch.setenv(
        "HUMANEVAL_OVERRIDE_PATH", str(FIXTURES / "HumanEvalPlus.jsonl.gz")
    )
    problems = problems_for_task("humaneval-plus")
    assert sorted(problems) == ["HumanEval/0", "HumanEval/2"]
    assert "EvalPlus input" in problems["HumanEval/0"]["test_program"]
    monkeypatch.delenv("HUMANEVAL_OVERRIDE_PATH")
    monkeypatch.setitem(sys.modules, "evalplus", None)  # not installed
    with pytest.raises(InputError, match="HUMANEVAL_OVERRIDE_PATH"):
        problems_for_task("humaneval-plus")
