"""Per-target n-gram contamination of a plan (engine.codeeval.ngrams), and
the targets that draw problems from one pool.

Every training set the plan reads (each intermediate code task's training
split, and the training split of each task [targets_training] names for a
code target's target training) is indexed once; every code target's evaluation
problems (prompt and solution) in every language are checked against each.
Only data that can be read without a download is compared (local files, a
local mirror, an installed package) unless `download=True`; what could not be
read is listed, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.codeeval.contamination import CODE_KIND
from engine.codeeval.ngrams import NgramOverlap, build_index, overlap

# Benchmarks built from the same source questions, so that one's training
# problems can reappear as another's evaluation problems under another id.
# ODEX (Wang et al. 2022, "Execution-Based Evaluation for Open-Domain Code
# Generation", sec. 2.1) takes its English problems from CoNaLa and its
# Spanish, Japanese and Russian ones from MCoNaLa (Wang et al. 2022,
# "MCoNaLa"), both from StackOverflow questions.
SHARED_POOLS: dict[str, tuple[str, ...]] = {
    "CoNaLa/StackOverflow": ("conala", "mconala", "odex"),
    # HumanEval-XL, JHumanEval and HumanEval-ru translate HumanEval.
    "HumanEval": ("humaneval", "humaneval-xl", "jhumaneval", "humaneval-ru"),
    "MBPP": ("mbpp", "mbpp-sanitized"),
}


@dataclass
class PlanOverlap:
    overlaps: list[NgramOverlap] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)
    """"<task> <split> <language>" whose data was not on disk."""
    pools: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    """(pool, the plan's code tasks drawn from it), where two or more are."""

    def messages(self) -> list[str]:
        lines = [o.message() for o in self.overlaps if o.dirty]
        lines += [
            f"tasks {', '.join(tasks)} draw problems from one pool ({pool}): an id "
            "check cannot see a problem shared under two ids"
            for pool, tasks in self.pools
        ]
        if self.unread:
            lines.append(
                "n-gram overlap not checked for (data not on disk): "
                + ", ".join(self.unread)
            )
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "ngram_overlap": [o.as_dict() for o in self.overlaps],
            "shared_pools": [{"pool": p, "tasks": list(t)} for p, t in self.pools],
            "ngram_unread": list(self.unread),
        }


def plan_ngram_overlap(config, *, download: bool = False) -> PlanOverlap:
    """N-gram overlap of every training set with every code target (see the
    module text). `config` is an ExperimentConfig."""
    report = PlanOverlap()
    targets = [t for t in config.targets if config.task(t).kind == CODE_KIND]
    if not targets:
        return report
    trainings: dict[str, tuple[Any, str]] = {}
    for choice in config.intermediate:
        for member in config.members(choice):
            task = config.task(member)
            if task.kind == CODE_KIND:
                trainings.setdefault(f"{member} (intermediate)", (task, "train"))
    for target in targets:
        trained_on = getattr(config, "targets_training", {}).get(target)
        if trained_on:
            label = f"{trained_on} (target training of {target})"
            trainings.setdefault(label, (config.task(trained_on), "train"))
    indexes = {}
    for label, (task, split) in trainings.items():
        records = _read(task, split, task.train_language, download, report)
        if records is not None:
            indexes[label] = build_index(records)
    for target in targets:
        task = config.task(target)
        for language in config.languages[target]:
            records = _read(task, task.eval_split, language, download, report)
            if records is None:
                continue
            for label, index in indexes.items():
                report.overlaps.append(
                    overlap(
                        index, records, target=target, language=language, training=label
                    )
                )
    names = {t for c in config.intermediate for t in config.members(c)} | set(targets)
    for pool, members in SHARED_POOLS.items():
        present = tuple(m for m in members if m in names)
        if len(present) > 1:
            report.pools.append((pool, present))
    return report


def _read(task, split, language, download, report) -> list[dict] | None:
    from engine.data.loaders import has_split
    from engine.data.records import load_records
    from engine.data.rows import local_data

    if not has_split(task, split, language):
        return None
    if not (download or local_data(task)):
        report.unread.append(f"{task.name} {split} {language}")
        return None
    return load_records(task, split, language)
