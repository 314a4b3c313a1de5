"""Row formats: how one row of a dataset becomes one record of its task's kind.

A task's `row_format` (or, when it has none, its kind's first one in
engine.tasks.kinds) names an entry of FORMATS. Rows come from the hub, a
mirror or local files with the SAME columns (engine.data.rows), so one
adapter reads them all: a file written from the hub with
`ds.to_json("test.de.jsonl")` reads back unchanged. Records are the
canonical shapes the kinds featurize (engine/kinds/base.py). An adapter
returns None for an unlabelled row (skipped, as GLUE's test splits are).

Columns each format reads:

    classification   the task's text_fields and label_field (ClassLabel index,
                     label name, or "0".."n-1"; -1 / "" / null = unlabelled).
                     GLUE, XNLI, PAWS-X, ANLI, custom classification tasks.
    squad            id, context, question, answers {text: [str],
                     answer_start: [int]} (also a list of {text, answer_start});
                     empty lists = no answer (SQuAD v2 only). SQuAD, XQuAD,
                     MLQA, TyDiQA-GoldP.
    hellaswag        ind, ctx_a, ctx_b, endings [4], label ("0".."3"; "" =
                     unlabelled, skipped)
    commonsense_qa   id, question, choices {label: [A..E], text: [...]},
                     answerKey ("" = unlabelled, skipped)
    cosmos_qa        id, context, question, answer0..answer3, label (int; -1 =
                     unlabelled, skipped)
    multiple_choice  (custom tasks) id, context, question, choices [...], label
                     (index or one of the task's labels)
    tagging          tokens [str] and the task's label_field (ner_tags for
                     PAN-X, pos_tags for UD POS, tags for custom tasks): tag
                     indices in the task's label order or tag names
    ccg              tokens [str] and tags [str]; or jiant's text / tags
                     columns, space-separated
    text             text (mlm): one record per row; a .txt file's rows are its
                     non-blank lines (engine.data.local_files)
    tatoeba, bucc    sentence pairs (engine.data.retrieval_pairs)
    humaneval, ...   code problems (engine.data.code_adapters)

Light module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.data import code_adapters
from engine.data.columns import field, text, text_list
from engine.data.retrieval_pairs import retrieval_records_of
from engine.data.rows import Row, RowError
from engine.errors import did_you_mean
from engine.tasks.kinds import kind_info
from engine.tasks.spec import TaskSpec

Adapter = Callable[[Row, TaskSpec, str], "dict | None"]


@dataclass(frozen=True)
class RowFormat:
    """One row format: its adapter and what the reader checks around it."""

    read: Adapter | None
    """row -> record (None: unlabelled, skipped)."""
    columns: tuple[str, ...] = ()
    """Checked up front on hub datasets. "<label>": the task's label_field;
    "<texts>": its text_fields."""
    checks_label_names: bool = False
    """The label column is a ClassLabel whose names must be the task's."""
    unique_key: str = ""
    """A record key that must be unique within a split (answers and
    completions are matched to records by it)."""
    repeated_ids: bool = False
    """Several rows may share an id (several solutions of one StackOverflow
    question): they get "-2", "-3", ... instead of being refused."""
    load_split: Callable[[TaskSpec, str, str], list[dict]] | None = None
    """Reads a whole split at once (retrieval: sentences and gold pairs)."""

    def required_columns(self, task: TaskSpec) -> tuple[str, ...]:
        out: list[str] = []
        for column in self.columns:
            if column == "<label>":
                out.append(task.source.label_field)
            elif column == "<texts>":
                out.extend(task.source.text_fields)
            else:
                out.append(column)
        return tuple(out)


def row_format_of(task: TaskSpec) -> str:
    """The task's row format: its own, else its kind's canonical one."""
    return task.row_format or kind_info(task.kind).row_formats[0]


def get_format(task: TaskSpec) -> RowFormat:
    from engine.errors import InputError

    name = row_format_of(task)
    if name not in FORMATS:
        raise InputError(
            f"task '{task.name}': unknown row format {name!r}"
            f"{did_you_mean(name, FORMATS)} (known: {', '.join(FORMATS)})"
        )
    return FORMATS[name]


# --------------------------------------------------------------------------
# Classification


def _classification(row: Row, task: TaskSpec, language: str) -> dict | None:
    texts = [text(row, name) for name in task.source.text_fields]
    label = _class_label(field(row, task.source.label_field), task.labels)
    if label is None:
        return None
    return {"texts": texts, "label": label}


def _class_label(value: Any, labels: tuple[str, ...]) -> int | None:
    """A label as its index in `labels`: an index, a name, or an index as text;
    None for an unlabelled row (-1, "", null: the hub's test splits)."""
    if value is None or value == "" or (isinstance(value, int) and value < 0):
        return None
    if isinstance(value, bool):
        value = int(value)
    index = {name: i for i, name in enumerate(labels)}
    if isinstance(value, str) and value in index:
        return index[value]
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
        if value < 0:
            return None
    if isinstance(value, int):
        if value < len(labels):
            return value
        raise RowError(
            f"label {value} is out of range; expected 0..{len(labels) - 1} "
            f"or one of {', '.join(labels)}"
        )
    raise RowError(
        f"label {value!r} is not one of {', '.join(labels)}"
        f"{did_you_mean(str(value), labels)}"
    )


# --------------------------------------------------------------------------
# Extractive QA


def _squad(row: Row, task: TaskSpec, language: str) -> dict:
    context = text(row, "context")
    answers = field(row, "answers")
    if isinstance(answers, list):  # SQuAD JSON style: [{text, answer_start}]
        if not all(isinstance(a, dict) for a in answers):
            raise RowError(
                f"column 'answers' must hold {{text, answer_start}}, got {answers!r}"
            )
        answers = {
            "text": [a.get("text") for a in answers],
            "answer_start": [a.get("answer_start") for a in answers],
        }
    if not isinstance(answers, dict) or set(answers) < {"text", "answer_start"}:
        raise RowError(
            'column \'answers\' must be {"text": [...], "answer_start": [...]}, '
            f"got {answers!r}"
        )
    texts, starts = answers["text"], answers["answer_start"]
    if (
        not isinstance(texts, list)
        or not isinstance(starts, list)
        or len(texts) != len(starts)
    ):
        raise RowError(
            "answers.text and answers.answer_start must be lists of the same length, "
            f"got {texts!r} and {starts!r}"
        )
    for answer, start in zip(texts, starts, strict=True):
        if (
            not isinstance(answer, str)
            or isinstance(start, bool)
            or not isinstance(start, int)
        ):
            raise RowError(
                f"answer ({answer!r}, {start!r}) must be (text, integer start)"
            )
        if not 0 <= start <= len(context) - len(answer):
            raise RowError(
                f"answer {answer!r} starts at {start}, outside the context "
                f"({len(context)} characters)"
            )
    if not texts and not task.allows_no_answer:
        raise RowError(
            f"question without an answer, but task '{task.name}' has none (only "
            "SQuAD v2-style tasks allow unanswerable questions)"
        )
    return {
        "id": str(field(row, "id")),
        "context": context,
        "question": text(row, "question"),
        "answers": {"text": list(texts), "answer_start": [int(s) for s in starts]},
    }


# --------------------------------------------------------------------------
# Multiple choice


def _choice_label(
    value: Any, task: TaskSpec, n_choices: int, column: str
) -> int | None:
    """A label as a choice index; None when the row is unlabelled."""
    if value is None or value == "" or (isinstance(value, int) and value < 0):
        return None
    if isinstance(value, str) and value in task.labels:
        return task.labels.index(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RowError(f"column '{column}': {value!r} is not a choice")
    if not 0 <= value < n_choices:
        raise RowError(f"column '{column}': {value} is outside 0..{n_choices - 1}")
    return value


def _mc_record(row_id, context, question, choices, label) -> dict | None:
    if label is None:
        return None
    return {
        "id": str(row_id),
        "context": context,
        "question": question,
        "choices": choices,
        "label": label,
    }


def _hellaswag(row: Row, task: TaskSpec, language: str) -> dict | None:
    endings = text_list(row, "endings")
    label = _choice_label(field(row, "label"), task, len(endings), "label")
    return _mc_record(
        field(row, "ind"), text(row, "ctx_a"), text(row, "ctx_b"), endings, label
    )


def _commonsense_qa(row: Row, task: TaskSpec, language: str) -> dict | None:
    choices = field(row, "choices")
    if not isinstance(choices, dict) or not isinstance(choices.get("text"), list):
        raise RowError(
            f"column 'choices' must be {{label: [...], text: [...]}}, got {choices!r}"
        )
    keys, texts = list(choices.get("label") or []), choices["text"]
    key = field(row, "answerKey")
    if key in (None, ""):
        return None
    if key not in keys:
        raise RowError(f"answerKey {key!r} is not one of the choice labels {keys}")
    return _mc_record(
        field(row, "id"), "", text(row, "question"), texts, keys.index(key)
    )


def _cosmos_qa(row: Row, task: TaskSpec, language: str) -> dict | None:
    choices = [text(row, f"answer{i}") for i in range(4)]
    label = _choice_label(field(row, "label"), task, 4, "label")
    return _mc_record(
        field(row, "id"), text(row, "context"), text(row, "question"), choices, label
    )


def _multiple_choice(row: Row, task: TaskSpec, language: str) -> dict | None:
    choices = text_list(row, "choices")
    label = _choice_label(field(row, "label"), task, len(choices), "label")
    return _mc_record(
        row.get("id", ""),
        text(row, "context", allow_empty=True) if "context" in row else "",
        text(row, "question"),
        choices,
        label,
    )


# --------------------------------------------------------------------------
# Tagging


def _tags(task: TaskSpec, column: str, tokens: list[str], tags) -> dict:
    if not isinstance(tags, list):
        raise RowError(f"column '{column}' must be a list of tags, got {tags!r}")
    if len(tags) != len(tokens):
        raise RowError(
            f"{len(tokens)} tokens but {len(tags)} tags in column '{column}'"
        )
    index = {tag: i for i, tag in enumerate(task.labels)}
    ids = []
    for tag in tags:
        if isinstance(tag, str) and tag in index:
            ids.append(index[tag])
        elif (
            isinstance(tag, int)
            and not isinstance(tag, bool)
            and 0 <= tag < len(task.labels)
        ):
            ids.append(tag)
        else:
            near = did_you_mean(tag, task.labels) if isinstance(tag, str) else ""
            raise RowError(
                f"column '{column}': tag {tag!r} is not one of the task's "
                f"{len(task.labels)} tags (names, or indices "
                f"0..{len(task.labels) - 1}){near}"
            )
    return {"tokens": tokens, "tags": ids}


def _tagging(row: Row, task: TaskSpec, language: str) -> dict:
    column = task.source.label_field
    return _tags(task, column, text_list(row, "tokens"), field(row, column))


def ccg_columns(row: Row) -> tuple[list[str], list]:
    """Tokens and tags of a CCG row: tokens/tags lists, or jiant's text/tags
    columns (space-separated)."""
    if "tokens" in row:
        return text_list(row, "tokens"), field(row, "tags")
    return text(row, "text").split(" "), text(row, "tags").split()


def _ccg(row: Row, task: TaskSpec, language: str) -> dict:
    tokens, tags = ccg_columns(row)
    return _tags(task, "tags", tokens, tags)


# --------------------------------------------------------------------------
# Plain text (masked-language modelling)


def _text(row: Row, task: TaskSpec, language: str) -> dict | None:
    value = text(row, "text", allow_empty=True)
    return {"text": value} if value.strip() else None


# --------------------------------------------------------------------------
# The table

FORMATS: dict[str, RowFormat] = {
    "classification": RowFormat(
        _classification, ("<texts>", "<label>"), checks_label_names=True
    ),
    "squad": RowFormat(
        _squad, ("id", "context", "question", "answers"), unique_key="id"
    ),
    "hellaswag": RowFormat(
        _hellaswag, ("ind", "ctx_a", "ctx_b", "endings", "label"), unique_key="id"
    ),
    "commonsense_qa": RowFormat(
        _commonsense_qa, ("id", "question", "choices", "answerKey"), unique_key="id"
    ),
    "cosmos_qa": RowFormat(
        _cosmos_qa,
        ("id", "context", "question", "answer0", "answer1", "answer2", "answer3")
        + ("label",),
        unique_key="id",
    ),
    "multiple_choice": RowFormat(
        _multiple_choice, ("question", "choices", "label"), unique_key="id"
    ),
    "tagging": RowFormat(_tagging, ("tokens", "<label>"), checks_label_names=True),
    "ccg": RowFormat(_ccg),
    "text": RowFormat(_text, ("text",)),
    "tatoeba": RowFormat(None, load_split=retrieval_records_of),
    "bucc": RowFormat(None, load_split=retrieval_records_of),
    **{
        name: RowFormat(
            read,
            columns,
            unique_key="task_id",
            repeated_ids=name in code_adapters.REPEATED_IDS,
        )
        for name, (read, columns) in code_adapters.FORMATS.items()
    },
}
