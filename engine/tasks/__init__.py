"""The task registry: task name -> TaskSpec.

One module per family registers its tasks as data. Custom tasks declared in an
experiment config are built by engine.config and looked up next to these.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.errors import InputError, did_you_mean
from engine.tasks import (
    code,
    demo,
    multiple_choice,
    nli,
    paraphrase,
    qa,
    retrieval,
    sentiment,
    tagging,
)
from engine.tasks.spec import TaskSpec

REGISTRY: dict[str, TaskSpec] = {
    task.name: task
    for module in (
        nli,
        paraphrase,
        sentiment,
        multiple_choice,
        qa,
        tagging,
        retrieval,
        demo,
        code,
    )
    for task in module.TASKS
}


def get_task(name: str, custom: Mapping[str, TaskSpec] | None = None) -> TaskSpec:
    """The task called `name`: a custom one first, then the registry."""
    if custom and name in custom:
        return custom[name]
    if name in REGISTRY:
        return REGISTRY[name]
    known = [*REGISTRY, *(custom or {})]
    raise InputError(f"unknown task '{name}'{did_you_mean(name, known)}")


def all_tasks() -> list[TaskSpec]:
    return list(REGISTRY.values())
