"""EvalPlus's stronger test suites (Liu et al. 2023, "Is Your Code Generated
by ChatGPT Really Correct?"): HumanEval+ and MBPP+.

Read from a local file named by HUMANEVAL_OVERRIDE_PATH / MBPP_OVERRIDE_PATH
(the variables the evalplus package itself honours), else from the `evalplus`
package where it is installed (`evalplus.data.get_human_eval_plus()` /
`get_mbpp_plus()`). `xlt-engine codeeval --task humaneval-plus` (or
`mbpp-plus`) scores samples with them. The files are in EvalPlus's released
format: HumanEvalPlus.jsonl / MbppPlus.jsonl,
optionally gzipped, one problem per line with at least

    task_id, prompt, entry_point, canonical_solution,
    base_input, plus_input, atol

(the fields EvalPlus's README lists; base_input are the original benchmark's
test inputs, plus_input the inputs EvalPlus added; each input is the list of
positional arguments). Nothing is downloaded.

Each problem becomes a canonical code record (engine.data.code_adapters)
whose `test_program` is EvalPlus's differential test: for every input, the
completion's output must equal the canonical solution's on a copy of the
same arguments. As EvalPlus's evaluator does, an expected output that is a
float, or a list or tuple of floats, is compared within the problem's `atol`
(1e-6 where atol is 0) and a relative tolerance of 1e-07; anything else must
be equal (`==`). EvalPlus's special oracles (MBPP+'s set-equality tasks,
HumanEval+'s `find_zero` checked by polynomial value) are not reproduced:
those few problems are judged by exact output here, which can be stricter.
The tolerances are as we read EvalPlus's evaluate.py, not checked against a
run of the package here (it is not installed).

`with_evalplus_tests(records, plus)` swaps a task's own tests for EvalPlus's,
matched by task_id, keeping prompts (so a translated HumanEval keeps its
language and gets HumanEval+'s tests).
"""

from __future__ import annotations

import gzip
import importlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from engine.errors import InputError

REQUIRED = (
    "task_id",
    "prompt",
    "entry_point",
    "canonical_solution",
    "base_input",
    "plus_input",
)
DATASETS = {"humaneval": "get_human_eval_plus", "mbpp": "get_mbpp_plus"}
# The variables with which the evalplus package itself reads a local file.
OVERRIDE_VARIABLES = {
    "humaneval": "HUMANEVAL_OVERRIDE_PATH",
    "mbpp": "MBPP_OVERRIDE_PATH",
}

# Runs in the sandbox's harness process, not in the program's: the canonical
# solution (trusted data) is defined here under its own name, the candidate
# is the program's function reached over the harness's pipe.
_TEST_TEMPLATE = """\
import copy as _copy
import json as _json
import math as _math

_REFERENCE = _json.loads({reference!r})
_INPUTS = _json.loads({inputs!r})
_ATOL = {atol!r}


def _is_floats(value):
    if isinstance(value, float):
        return True
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(
        isinstance(v, float) for v in value
    )


def _close(got, expected):
    if not _is_floats(expected):
        return got == expected
    atol = _ATOL or 1e-6
    if isinstance(expected, float):
        got, expected = [got], [expected]
    if not isinstance(got, (list, tuple)) or len(got) != len(expected):
        return False
    return all(
        isinstance(g, (int, float))
        and _math.isclose(g, e, rel_tol=1e-07, abs_tol=atol)
        for g, e in zip(got, expected)
    )


def check(candidate):
    scope = {{}}
    exec(_REFERENCE, scope)
    reference = scope[{entry_point!r}]
    for number, args in enumerate(_INPUTS):
        expected = reference(*_copy.deepcopy(args))
        got = candidate(*_copy.deepcopy(args))
        assert _close(got, expected), (
            f"EvalPlus input {{number}}: got {{got!r}}, expected {{expected!r}}"
        )
"""


def read_evalplus_file(path: str | Path) -> list[dict[str, Any]]:
    """The problems of a local EvalPlus file (.jsonl or .jsonl.gz)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such EvalPlus data file")
    opener = gzip.open if path.suffix == ".gz" else open
    problems = []
    with opener(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"{path}:{number}: not JSON ({error.msg})") from None
            missing = [key for key in REQUIRED if key not in row]
            if missing:
                raise InputError(
                    f"{path}:{number}: an EvalPlus problem needs "
                    f"{', '.join(REQUIRED)}; missing {', '.join(missing)}"
                )
            problems.append(row)
    return problems


def package_problems(dataset: str) -> list[dict[str, Any]]:
    """A dataset's problems: from the local file that EvalPlus's own override
    variable names (HUMANEVAL_OVERRIDE_PATH / MBPP_OVERRIDE_PATH, as the
    evalplus package reads them), else from the installed `evalplus` package
    (which may fetch its release file into its own cache on first use; that
    is the package's doing)."""
    if dataset not in DATASETS:
        raise InputError(
            f"EvalPlus dataset {dataset!r}: expected one of {', '.join(DATASETS)}"
        )
    override = os.environ.get(OVERRIDE_VARIABLES[dataset])
    if override:
        return read_evalplus_file(override)
    try:
        # Optional, never a dependency: imported only when asked for.
        data = importlib.import_module("evalplus.data")
    except ImportError:
        raise InputError(
            "EvalPlus tests need the evalplus package (pip install evalplus) "
            f"or {OVERRIDE_VARIABLES[dataset]} set to a local "
            "HumanEvalPlus.jsonl / MbppPlus.jsonl file"
        ) from None
    return list(getattr(data, DATASETS[dataset])().values())


def evalplus_test_program(problem: Mapping[str, Any]) -> str:
    """The differential test of one problem (see the module text)."""
    entry = problem["entry_point"]
    solution = problem["canonical_solution"]
    # HumanEval+'s canonical solution continues the prompt; MBPP+'s is a
    # whole program that defines the function itself.
    reference = solution if f"def {entry}" in solution else problem["prompt"] + solution
    inputs = list(problem["base_input"]) + list(problem["plus_input"])
    test = _TEST_TEMPLATE.format(
        reference=json.dumps(reference),
        inputs=json.dumps(inputs),
        atol=float(problem.get("atol") or 0.0),
        entry_point=entry,
    )
    return f"{test}\ncheck({entry})\n"


def evalplus_records(problems: Iterable[Mapping[str, Any]]) -> list[dict]:
    """EvalPlus problems as canonical English code records."""
    records = []
    for problem in problems:
        prompt = problem["prompt"]
        defines = f"def {problem['entry_point']}" in problem["canonical_solution"]
        records.append(
            {
                "task_id": problem["task_id"],
                "problem_id": problem["task_id"],
                "language": "en",
                "prompt": prompt,
                "solution": problem["canonical_solution"],
                # A HumanEval+ completion continues its prompt; an MBPP+ one
                # is a whole program.
                "program_prefix": "" if defines else prompt,
                "test_program": evalplus_test_program(problem),
                "entry_point": problem["entry_point"],
                "reference_code": None,
            }
        )
    return records


def with_evalplus_tests(
    records: Iterable[Mapping[str, Any]], plus: Iterable[Mapping[str, Any]]
) -> list[dict]:
    """`records` with EvalPlus's tests in place of their own, matched by
    problem_id (HumanEval/12 in every translation); a record EvalPlus does
    not cover is an error naming it."""
    tests = {_problem_key(p["task_id"]): evalplus_test_program(p) for p in plus}
    out = []
    for record in records:
        problem = _problem_key(record.get("problem_id") or record["task_id"])
        if problem not in tests:
            raise InputError(
                f"EvalPlus has no tests for problem {problem!r} "
                f"(of {record['task_id']!r})"
            )
        out.append({**record, "test_program": tests[problem]})
    return out


def _problem_key(task_id: str) -> str:
    """MBPP+ spells MBPP's "MBPP/2" as "Mbpp/2"; HumanEval's ids are shared."""
    head, _, number = str(task_id).partition("/")
    return f"MBPP/{number}" if head.lower() == "mbpp" else str(task_id)
