"""The contamination guard: does a plan train on a problem it then evaluates?

HumanEval-XL, JHumanEval and HumanEval-ru are translations of HumanEval
problems; ODEX's English problems and CoNaLa's are StackOverflow questions. A
plan that fine-tunes on a problem and then evaluates a translation of that same
problem measures memory, not transfer. Every code record carries the id of the
problem it derives from (`problem_id`: "HumanEval/12" in every translation of
HumanEval/12), so an overlap is a shared problem id.

Problem ids come from the task specs first, without any data:

- `problem_space` (per language) names the id space: tasks in different
  spaces never share a problem (MBPP vs HumanEval; CoNaLa's stackoverflow.com
  vs MCoNaLa's es.stackoverflow.com), so most pairs are settled here;
- `derived_from = "humaneval"`: the task's problems translate HumanEval's and
  live in its space; `problem_ids` lists them where they are not all of
  HumanEval's 164 (HumanEval-XL's 80), else all of the base task's (HumanEval
  declares its 164).

Data refines this when it is on disk (local files, a local mirror, an
installed package): then the records' own problem ids are compared, which also
settles pairs in one space whose ids only the data knows (ODEX-en vs CoNaLa).
With `download=True` (a run that fetches its data anyway) hub data is read too.
A pair in one space with neither declared ids nor data is reported as
unchecked, not as contaminated.

The caller decides what to do: launch refuses a contaminated plan unless
allow_contamination = true (`contamination_messages`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.tasks.spec import TaskSpec

CODE_KIND = "code_generation"
SHOWN_IDS = 2


def find_overlap(
    train_problem_ids: Iterable[str], eval_records: Iterable[Mapping[str, Any]]
) -> list[tuple[str, str]]:
    """(problem_id, eval task_id) of every evaluation record whose problem is
    trained on, in the records' order."""
    trained = set(train_problem_ids)
    return [
        (record["problem_id"], record["task_id"])
        for record in eval_records
        if record["problem_id"] in trained
    ]


@dataclass(frozen=True)
class Overlap:
    """An intermediate task trains on problems a code target evaluates."""

    target: str
    intermediate: str
    """The config's intermediate choice: the task itself, or its group."""
    task: str
    """The task that trains on the problems (a member of the group)."""
    languages: tuple[str, ...]
    """The target's languages whose evaluation problems are trained on."""
    shared: tuple[tuple[str, str | None], ...]
    """(problem_id, eval task_id); the task id is None where only the task
    specs (no data) told the problems."""
    basis: str
    """"declared" (the task specs) or "data" (the records)."""
    translated_from: str = ""
    """The problem set the target translates ("HumanEval"), when it does."""
    all_languages: bool = True

    @property
    def problem_ids(self) -> tuple[str, ...]:
        return tuple(sorted({p for p, _ in self.shared}, key=natural_key))

    def message(self) -> str:
        ids = self.problem_ids
        shown = ", ".join(ids[:SHOWN_IDS]) + (", ..." if len(ids) > SHOWN_IDS else "")
        what = (
            f"translations of {self.translated_from} problems"
            if self.translated_from
            else "problems"
        )
        return (
            f"target '{self.target}'{_languages(self)} evaluates {what} that "
            f"{_who(self.intermediate, self.task)} trains on ({len(ids)} shared "
            f"problem{'s' if len(ids) != 1 else ''}: {shown}); set "
            "allow_contamination = true to run it anyway"
        )

    def as_dict(self) -> dict:
        return {
            "target": self.target,
            "intermediate": self.intermediate,
            "task": self.task,
            "languages": list(self.languages),
            "problems": list(self.problem_ids),
            "basis": self.basis,
        }


@dataclass(frozen=True)
class Unchecked:
    """A target and an intermediate task draw problems from one space, and
    neither the specs nor data on disk tell which: not known to overlap."""

    target: str
    intermediate: str
    task: str
    languages: tuple[str, ...]
    space: str
    missing: tuple[str, ...]
    """The tasks whose data would settle it."""
    all_languages: bool = True

    def message(self) -> str:
        where = " and ".join(f"[data.{t}]" for t in self.missing)
        return (
            f"target '{self.target}'{_languages(self)} and "
            f"{_who(self.intermediate, self.task)} both draw problems from "
            f"{self.space or 'the same source'}; which ones they share is known only "
            f"from the data, which is not on disk (point {where} at local copies, "
            "or run with the data downloaded, to check)"
        )

    def as_dict(self) -> dict:
        return {
            "target": self.target,
            "intermediate": self.intermediate,
            "task": self.task,
            "languages": list(self.languages),
            "space": self.space,
        }


@dataclass(frozen=True)
class Report:
    overlaps: tuple[Overlap, ...] = ()
    unchecked: tuple[Unchecked, ...] = ()

    @property
    def contaminated(self) -> bool:
        return bool(self.overlaps)

    def messages(self) -> list[str]:
        """One refusal message per overlap."""
        return [o.message() for o in self.overlaps]

    def notes(self) -> list[str]:
        """What could not be checked, and how to check it."""
        return [u.message() for u in self.unchecked]

    def as_dict(self) -> dict:
        return {
            "overlaps": [o.as_dict() for o in self.overlaps],
            "unchecked": [u.as_dict() for u in self.unchecked],
        }


def check_plan_contamination(config, *, download: bool = False) -> Report:
    """For every code target, the intermediate code tasks (alone or in a
    group) that train on problems it evaluates. `config` is an
    ExperimentConfig; with download=True hub data is read where the specs do
    not tell the problems."""
    problems = _ProblemIndex(download)
    overlaps: list[Overlap] = []
    unchecked: list[Unchecked] = []
    for target in config.targets:
        target_task = config.task(target)
        if target_task.kind != CODE_KIND:
            continue
        languages = tuple(config.languages[target])
        for choice in config.intermediate:
            for member in config.members(choice):
                task = config.task(member)
                if task.kind != CODE_KIND:
                    continue
                found = _pair(problems, target_task, task, languages)
                if found is None:
                    continue
                shared, unknown, basis = found
                if shared:
                    langs = tuple(lang for lang in languages if lang in shared)
                    overlaps.append(
                        Overlap(
                            target=target,
                            intermediate=choice,
                            task=member,
                            languages=langs,
                            shared=tuple(p for lang in langs for p in shared[lang]),
                            basis=basis,
                            translated_from=_translated_from(target_task, task),
                            all_languages=len(langs) == len(languages),
                        )
                    )
                if unknown:
                    langs = tuple(lang for lang in languages if lang in unknown)
                    unchecked.append(
                        Unchecked(
                            target=target,
                            intermediate=choice,
                            task=member,
                            languages=langs,
                            space=_space(target_task, langs[0]),
                            missing=tuple(dict.fromkeys(unknown[langs[0]])),
                            all_languages=len(langs) == len(languages),
                        )
                    )
    return Report(tuple(overlaps), tuple(unchecked))


def contamination_messages(config, *, download: bool = False) -> list[str]:
    """The refusal messages of a plan (empty when it is clean)."""
    return check_plan_contamination(config, download=download).messages()


def declared_problem_ids(task: TaskSpec) -> frozenset[str] | None:
    """The task's problem ids as its spec declares them (None: only the data
    knows): its own `problem_ids`, else those of the task it derives from."""
    if task.problem_ids:
        return frozenset(task.problem_ids)
    if task.derived_from:
        from engine.tasks import REGISTRY

        base = REGISTRY.get(task.derived_from)
        if base is not None and base.name != task.name:
            return declared_problem_ids(base)
    return None


def natural_key(text: str) -> tuple:
    """ "HumanEval/2" before "HumanEval/10"."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in re.split(r"(\d+)", text)
        if part
    )


# --------------------------------------------------------------------------


@dataclass
class _Problems:
    records: Sequence[Mapping[str, Any]]
    basis: str


@dataclass
class _ProblemIndex:
    """Problem ids per (task, split, language), each read at most once."""

    download: bool
    cache: dict = field(default_factory=dict)

    def get(self, task: TaskSpec, split: str, language: str) -> _Problems | None:
        key = (task.name, split, language)
        if key not in self.cache:
            self.cache[key] = self._read(task, split, language)
        return self.cache[key]

    def _read(self, task: TaskSpec, split: str, language: str) -> _Problems | None:
        from engine.data.loaders import has_split
        from engine.data.records import load_records
        from engine.data.rows import local_data

        if has_split(task, split, language) and (self.download or local_data(task)):
            return _Problems(load_records(task, split, language), "data")
        declared = declared_problem_ids(task)
        if declared is None:
            return None
        records = [
            {"problem_id": p, "task_id": None}
            for p in sorted(declared, key=natural_key)
        ]
        return _Problems(records, "declared")


def _pair(problems: _ProblemIndex, target: TaskSpec, task: TaskSpec, languages):
    """({language: shared pairs}, {language: tasks lacking data}, basis) for
    one target and one intermediate task, or None when they cannot overlap."""
    train_space = _space(task, task.train_language)
    candidates = [
        lang
        for lang in languages
        if not (_space(target, lang) and train_space)
        or _space(target, lang) == train_space
    ]
    if not candidates:
        return None
    trained = problems.get(task, "train", task.train_language)
    shared: dict[str, list] = {}
    unknown: dict[str, list[str]] = {}
    bases: set[str] = set()
    for lang in candidates:
        evaluated = problems.get(target, target.eval_split, lang)
        if trained is None or evaluated is None:
            unknown[lang] = [
                t.name for t, p in ((target, evaluated), (task, trained)) if p is None
            ]
            continue
        pairs = find_overlap(
            (r["problem_id"] for r in trained.records), evaluated.records
        )
        if pairs:
            shared[lang] = pairs
            bases.update((trained.basis, evaluated.basis))
    basis = "data" if bases == {"data"} else "declared"
    return shared, unknown, basis


def _space(task: TaskSpec, language: str) -> str:
    from engine.data.code_adapters import problem_space_of

    return problem_space_of(task, language)


def _translated_from(target: TaskSpec, task: TaskSpec) -> str:
    if not target.derived_from or target.derived_from == task.derived_from:
        return ""
    return _space(task, task.train_language)


def _languages(item) -> str:
    if item.all_languages:
        return ""
    langs = item.languages
    return f" (language{'s' if len(langs) != 1 else ''} {', '.join(langs)})"


def _who(intermediate: str, task: str) -> str:
    if intermediate == task:
        return f"intermediate task '{task}'"
    return f"intermediate group '{intermediate}' (its task '{task}')"
