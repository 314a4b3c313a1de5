"""The XTREME aggregate: per-task scores, the four group scores, the overall score.

Follows XTREME's own evaluate.py (the leaderboard's scorer): a task's score is
the mean over its languages of the metric it reports, where the QA tasks
(xquad, mlqa, tydiqa) use (exact match + F1) / 2 (evaluate.py sets
``avg_metric = (avg_exact_match + avg_f1) / 2``, which equals the mean of the
per-language (EM + F1) / 2); the overall score is the unweighted mean of the
nine task scores and exists only when all nine are there; a group score exists
only when all its tasks are there. Papers often print QA as "F1 / EM"
separately, and some aggregate F1 only: pass ``qa="f1"`` for that.
evaluate.py names the structured-prediction group "tagging".

A task scored on some of its languages is *partial*: `covered_languages` says
which of XTREME's it has. Partial tasks stay out of group and overall scores
(`mean_of_complete`), which then say how many tasks they cover: a mean over
three languages is not XTREME's task score, and an aggregate of such means
would read as a benchmark number it is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from engine.metrics.registry import task_metric, unknown_name_error

XTREME_TASKS = (
    "xnli",
    "pawsx",
    "udpos",
    "panx",
    "xquad",
    "mlqa",
    "tydiqa",
    "bucc2018",
    "tatoeba",
)
QA_TASKS = ("xquad", "mlqa", "tydiqa")
GROUPS: dict[str, tuple[str, ...]] = {
    "classification": ("xnli", "pawsx"),
    "structured_prediction": ("udpos", "panx"),
    "qa": QA_TASKS,
    "retrieval": ("bucc2018", "tatoeba"),
}

# The test languages XTREME's evaluate.py averages over, per task.
TASK_LANGUAGES: dict[str, tuple[str, ...]] = {
    "pawsx": tuple("de,en,es,fr,ja,ko,zh".split(",")),
    "xnli": tuple("ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh".split(",")),
    "panx": tuple(
        "ar,he,vi,id,jv,ms,tl,eu,ml,ta,te,af,nl,en,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,"
        "bg,ru,ja,ka,ko,th,sw,yo,my,zh,kk,tr,et,fi,hu".split(",")
    ),
    "udpos": tuple(
        "af,ar,bg,de,el,en,es,et,eu,fa,fi,fr,he,hi,hu,id,it,ja,kk,ko,mr,nl,pt,ru,ta,"
        "te,th,tl,tr,ur,vi,yo,zh".split(",")
    ),
    "bucc2018": tuple("de,fr,ru,zh".split(",")),
    "tatoeba": tuple(
        "ar,he,vi,id,jv,tl,eu,ml,ta,te,af,nl,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,ru,"
        "ja,ka,ko,th,sw,zh,kk,tr,et,fi,hu".split(",")
    ),
    "xquad": tuple("en,es,de,el,ru,tr,ar,vi,th,zh,hi".split(",")),
    "mlqa": tuple("en,es,de,ar,hi,vi,zh".split(",")),
    "tydiqa": tuple("en,ar,bn,fi,id,ko,ru,sw,te".split(",")),
}


def _check_task(task: str) -> None:
    if task not in XTREME_TASKS:
        raise unknown_name_error("XTREME task", task, XTREME_TASKS)


def _metric_value(values: Mapping[str, float], key: str, task: str, lang: str) -> float:
    try:
        return float(values[key])
    except KeyError:
        raise ValueError(
            f"{task}/{lang}: no {key!r} value (have: {', '.join(values) or 'none'})"
        ) from None


def task_score(
    per_language: Mapping[str, Mapping[str, float]],
    task: str,
    languages: Iterable[str] | None = None,
    qa: Literal["em_f1", "f1"] = "em_f1",
) -> float:
    """Mean over languages of the task's reported metric.

    `per_language` maps a language to that language's metric values, e.g.
    {"de": {"exact_match": 0.5, "f1": 0.7}}. QA tasks need both exact_match
    and f1 and score (EM + F1) / 2 per language (``qa="f1"``: F1 only); the
    others use their primary key (accuracy or f1, see registry). `languages`
    restricts the mean to those languages and requires each of them; pass
    ``TASK_LANGUAGES[task]`` to insist on XTREME's full set. Without it the
    mean is over the languages given (XTREME includes English).
    """
    _check_task(task)
    if qa not in ("em_f1", "f1"):
        raise ValueError(f"qa must be 'em_f1' or 'f1', got {qa!r}")
    if languages is None:
        langs = list(per_language)
    else:
        langs = list(languages)
        missing = [lang for lang in langs if lang not in per_language]
        if missing:
            raise ValueError(f"{task}: no results for {', '.join(missing)}")
    if not langs:
        raise ValueError(f"{task}: no languages to average")
    primary = task_metric(task).primary
    scores = []
    for lang in langs:
        values = per_language[lang]
        if task in QA_TASKS and qa == "em_f1":
            em = _metric_value(values, "exact_match", task, lang)
            f1 = _metric_value(values, "f1", task, lang)
            scores.append((em + f1) / 2)
        else:
            scores.append(_metric_value(values, primary, task, lang))
    return sum(scores) / len(scores)


def _checked(task_scores: Mapping[str, float]) -> Mapping[str, float]:
    for task in task_scores:
        _check_task(task)
    return task_scores


def overall(task_scores: Mapping[str, float]) -> float | None:
    """Unweighted mean of the nine task scores; None unless all nine are given
    (XTREME shows no overall score for a partial submission)."""
    _checked(task_scores)
    if any(task not in task_scores for task in XTREME_TASKS):
        return None
    return sum(float(task_scores[t]) for t in XTREME_TASKS) / len(XTREME_TASKS)


def group_scores(task_scores: Mapping[str, float]) -> dict[str, float]:
    """Mean task score of each group whose tasks are all given; groups with a
    missing task are left out."""
    _checked(task_scores)
    return {
        group: sum(float(task_scores[t]) for t in tasks) / len(tasks)
        for group, tasks in GROUPS.items()
        if all(t in task_scores for t in tasks)
    }


def covered_languages(task: str, languages: Iterable[str]) -> tuple[str, ...]:
    """XTREME's languages of `task` among `languages`, in XTREME's order."""
    _check_task(task)
    have = set(languages)
    return tuple(lang for lang in TASK_LANGUAGES[task] if lang in have)


def is_complete(task: str, languages: Iterable[str]) -> bool:
    """Whether `languages` include every language XTREME averages `task` over."""
    return len(covered_languages(task, languages)) == len(TASK_LANGUAGES[task])


def mean_of_complete(
    task_scores: Mapping[str, float], complete: Iterable[str], of: Iterable[str]
) -> tuple[float, tuple[str, ...]] | None:
    """The mean score of the tasks of `of` that are in `complete`, and those
    tasks; None when there is none. `of` is a group's tasks or all nine."""
    done = set(complete)
    tasks = tuple(t for t in of if t in done and t in task_scores)
    for task in tasks:
        _check_task(task)
    if not tasks:
        return None
    return sum(float(task_scores[t]) for t in tasks) / len(tasks), tasks
