"""Records of the non-classification kinds, from the hub or from local files.

`load_kind_records(task, split, language)` returns the canonical records of
the task's kind (engine/kinds/base.py); `load_retrieval_pairs` returns a
retrieval task's two sides and gold pairs. Both read rows from one of:

- the hub (or a local mirror in the hub's layout), with
  `datasets.load_dataset(path, config, split=...)`;
- local files named by [data.<task>] files (or a custom task's files):
  JSONL (or JSON / CSV / TSV) whose rows have the SAME columns as the hub
  dataset, so one adapter reads both. A file from the hub can be written
  out with `ds.to_json("test.de.jsonl")` and read back unchanged.

The adapter is the task's `row_format`. Columns each one reads:

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
    tatoeba          source_sentence, target_sentence: row i pairs the two
    bucc             source_sentence, target_sentence, one row per gold pair;
                     source_lang / target_lang hold the BUCC sentence ids
                     ("de-000000001") where the copy has them. A `.gold` file of
                     the original BUCC 2018 release (xx-en.<split>.gold, with
                     xx-en.<split>.xx and .en beside it) reads the full
                     corpora, every unpaired sentence included.

Errors name the file and line (or the dataset, config, split and row) and
the column. Light module: `datasets` is imported only when hub data is read.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from engine.data.local_files import read_records
from engine.errors import InputError, did_you_mean
from engine.tasks.spec import HubSource, LocalSource, ManualSource, TaskSpec

Row = Mapping[str, Any]
# (where, row): `where` names the file and line, or the dataset and row.
Rows = Iterator[tuple[str, Row]]


class RowError(ValueError):
    """A row that does not fit its format; the loader adds where it is."""


# --------------------------------------------------------------------------
# Entry points


def load_kind_records(task: TaskSpec, split: str, language: str) -> list[dict]:
    """The canonical records of one split of one language."""
    if task.kind == "retrieval":
        source, target, gold = load_retrieval_pairs(task, split, language)
        return retrieval_records(source, target, gold)
    adapter = _ADAPTERS.get(task.row_format)
    if adapter is None:
        raise InputError(
            f"task '{task.name}': unknown row format {task.row_format!r}"
            f"{did_you_mean(task.row_format, _ADAPTERS)} "
            f"(known: {', '.join(_ADAPTERS)})"
        )
    records = []
    for where, row in _rows(task, split, language):
        try:
            record = adapter(row, task)
        except RowError as exc:
            raise InputError(f"{where}: {exc}") from None
        if record is not None:
            records.append(record)
    if not records:
        raise InputError(
            f"task '{task.name}' ({split}, {language}): no labelled examples in "
            f"{_describe(task, split, language)}"
        )
    if task.kind in ("span_qa", "multiple_choice"):
        _check_unique_ids(records, task, split, language)
    return records


def load_retrieval_pairs(
    task: TaskSpec, split: str, language: str
) -> tuple[list[dict], list[dict], list[tuple[str, str]]]:
    """(source records, target records, gold pairs) of a retrieval task.

    Source sentences are the non-English side, targets the English side, each
    {"id", "text"}; gold pairs are (source id, target id)."""
    if task.kind != "retrieval":
        raise InputError(f"task '{task.name}' is a {task.kind} task, not retrieval")
    source = task.source
    if isinstance(source, LocalSource) and not isinstance(source, ManualSource):
        path = source.files.get((split, language))
        if path is not None and Path(path).suffix == ".gold":
            return _bucc_release(Path(path), language)
    builders = {"tatoeba": _tatoeba_pairs, "bucc": _bucc_pairs}
    if task.row_format not in builders:
        raise InputError(
            f"task '{task.name}': retrieval reads row formats "
            f"{', '.join(builders)}, not {task.row_format!r}"
        )
    rows = list(_rows(task, split, language))
    try:
        out = builders[task.row_format](rows, language)
    except RowError as exc:
        raise InputError(str(exc)) from None
    if not out[2]:
        raise InputError(
            f"task '{task.name}' ({split}, {language}): no sentence pairs in "
            f"{_describe(task, split, language)}"
        )
    return out


def retrieval_records(
    source: list[dict], target: list[dict], gold: Iterable[tuple[str, str]]
) -> list[dict]:
    """Both sides as one list: {"id", "text", "side"}, source records with
    "gold" (the ids of their translations). `split_retrieval_records` inverts
    it."""
    partners: dict[str, list[str]] = {}
    for src, tgt in gold:
        partners.setdefault(src, []).append(tgt)
    return [
        *({**r, "side": "source", "gold": partners.get(r["id"], [])} for r in source),
        *({**r, "side": "target"} for r in target),
    ]


def split_retrieval_records(
    records: list[dict],
) -> tuple[list[dict], list[dict], list[tuple[str, str]]]:
    source = [
        {"id": r["id"], "text": r["text"]} for r in records if r["side"] == "source"
    ]
    target = [
        {"id": r["id"], "text": r["text"]} for r in records if r["side"] == "target"
    ]
    gold = [
        (r["id"], t)
        for r in records
        if r["side"] == "source"
        for t in r.get("gold", [])
    ]
    return source, target, gold


def manual_data_message(task: TaskSpec) -> str:
    """Why a manual task has no data yet, and what to do about it."""
    return f"task '{task.name}' needs data you download yourself. {task.manual}"


def resolve_manual_folder(
    task: TaskSpec, folder: str | Path
) -> dict[tuple[str, str], str]:
    """The files of a manual task's folder: (split, language) -> path.
    InputError names what is missing."""
    assert isinstance(task.source, ManualSource)
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"'{folder}' is not a folder; {manual_data_message(task)}")
    present = sorted(p.name for p in folder.iterdir())
    files: dict[tuple[str, str], str] = {}
    for (split, lang), stem in task.source.layout.items():
        found = [folder / f"{stem}{ext}" for ext in (".jsonl", ".json", ".tsv", ".csv")]
        found = [p for p in found if p.is_file()]
        if found:
            files[(split, lang)] = str(found[0])
        elif split in ("train", "validation"):
            raise InputError(
                f"{folder}: no {stem}.jsonl (or {stem}.tsv) for task '{task.name}''s "
                f"{split} split; the folder has {', '.join(present) or 'nothing'}. "
                f"{task.manual}"
            )
    return files


def with_local_files(task: TaskSpec, files: Mapping[tuple[str, str], str]) -> TaskSpec:
    """The task reading these local files in its own row format. A tagging
    task without a fixed label set (CCG) takes it from tags.txt beside the
    training file, else from the training file's tags, sorted."""
    source = task.source
    local = LocalSource(
        files=dict(files),
        text_fields=source.text_fields,
        label_field=source.label_field,
        row_format=source.row_format,
    )
    task = dataclasses.replace(task, source=local)
    if task.kind == "tagging" and not task.labels:
        train = files.get(("train", task.train_language))
        if train is None:
            raise InputError(
                f"task '{task.name}': its tag set comes from the training data; "
                "give a train file"
            )
        task = dataclasses.replace(task, labels=_tag_set(Path(train), task))
    return task


# --------------------------------------------------------------------------
# Row sources


def _rows(task: TaskSpec, split: str, language: str) -> Rows:
    source = task.source
    if isinstance(source, ManualSource):
        raise InputError(manual_data_message(task))
    if isinstance(source, LocalSource):
        return local_rows(task, source, split, language)
    assert isinstance(source, HubSource)
    return _hub_rows(task, source, split, language)


def local_rows(task: TaskSpec, source: LocalSource, split: str, language: str) -> Rows:
    """Rows of the local file for (split, language), each with its file:line."""
    path = source.files.get((split, language))
    if path is None:
        have = ", ".join(f"{s}.{lang}" for s, lang in source.files) or "none"
        raise InputError(
            f"task '{task.name}' has no {split} file for language "
            f"'{language}' (it has {have})"
        )
    return ((f"{path}:{line}", row) for line, row in read_records(path))


def check_hub_request(
    task: TaskSpec, source: HubSource, split: str, language: str
) -> None:
    """InputError unless the task's source has this split and language."""
    if split not in source.splits:
        raise InputError(
            f"task '{task.name}' has no '{split}' split "
            f"(it has {', '.join(source.splits)})"
        )
    if language not in source.configs:
        raise InputError(
            f"task '{task.name}' has no language '{language}'"
            f"{did_you_mean(language, source.configs)} "
            f"(it has {', '.join(source.configs)})"
        )


def _hub_rows(task: TaskSpec, source: HubSource, split: str, language: str) -> Rows:
    check_hub_request(task, source, split, language)
    import datasets  # heavy: imported only when hub data is read

    config = source.config_for(split, language)
    hub_split = source.splits[split]
    name = f"{source.path} (config {config!r}, split {hub_split!r})"
    try:
        ds = datasets.load_dataset(
            source.path, config, split=hub_split, revision=source.revision
        )
    except (FileNotFoundError, ValueError, ConnectionError) as exc:
        raise InputError(
            f"could not load {name} for task '{task.name}': {exc}. For data on "
            f'disk, set [data.{task.name}] path = "<folder in the hub\'s layout>" '
            f"or [data.{task.name}] files = {{ {split} = {{ {language} = "
            f'"<file>.jsonl" }} }} (rows with the hub\'s columns)'
        ) from None
    columns = _COLUMNS.get(task.row_format, ())
    columns = tuple(task.source.label_field if c == "<tags>" else c for c in columns)
    missing = [c for c in columns if c not in ds.features]
    if missing:
        raise InputError(
            f"{name}: missing column '{missing[0]}' for task '{task.name}' "
            f"(row format {task.row_format}); columns are {', '.join(ds.features)}"
        )
    if task.row_format == "tagging":
        _check_tag_names(task, ds.features[source.label_field], name)
    prefix = source.id_prefix(split, language)
    for i, row in enumerate(ds.to_list()):
        if prefix is not None and not str(row.get("id", "")).startswith(f"{prefix}-"):
            continue
        yield f"{name} row {i}", row


def _describe(task: TaskSpec, split: str, language: str) -> str:
    source = task.source
    if isinstance(source, HubSource):
        config = source.config_for(split, language)
        return f"{source.path} (config {config!r}, split {source.splits.get(split)!r})"
    return str(source.files.get((split, language)))


def _check_tag_names(task: TaskSpec, feature, name: str) -> None:
    """Tag indices are used as they are, so the hub's ClassLabel must list the
    task's tags in the task's order."""
    inner = getattr(feature, "feature", None)
    names = list(getattr(inner, "names", None) or [])
    if names and names != list(task.labels):
        raise InputError(
            f"{name}: tag names {names} differ from task '{task.name}''s "
            f"{list(task.labels)}; xlt maps tags by index, so they must match"
        )


# --------------------------------------------------------------------------
# Adapters: one hub row -> one canonical record (None: unlabelled, skipped)


def _field(row: Row, name: str) -> Any:
    if name not in row:
        raise RowError(
            f"missing column '{name}'{did_you_mean(name, row)} "
            f"(columns present: {', '.join(row) or 'none'})"
        )
    return row[name]


def _text(row: Row, name: str, allow_empty: bool = False) -> str:
    value = _field(row, name)
    if value is None and allow_empty:
        return ""
    if not isinstance(value, str):
        raise RowError(f"column '{name}' must be text, got {value!r}")
    return value


def _string_list(row: Row, name: str) -> list[str]:
    value = _field(row, name)
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise RowError(f"column '{name}' must be a list of texts, got {value!r}")
    return value


def _squad(row: Row, task: TaskSpec) -> dict:
    context = _text(row, "context")
    answers = _field(row, "answers")
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
    for text, start in zip(texts, starts, strict=True):
        if (
            not isinstance(text, str)
            or isinstance(start, bool)
            or not isinstance(start, int)
        ):
            raise RowError(
                f"answer ({text!r}, {start!r}) must be (text, integer start)"
            )
        if not 0 <= start <= len(context) - len(text):
            raise RowError(
                f"answer {text!r} starts at {start}, outside the context "
                f"({len(context)} characters)"
            )
    if not texts and not task.allows_no_answer:
        raise RowError(
            f"question without an answer, but task '{task.name}' has none (only "
            "SQuAD v2-style tasks allow unanswerable questions)"
        )
    return {
        "id": str(_field(row, "id")),
        "context": context,
        "question": _text(row, "question"),
        "answers": {"text": list(texts), "answer_start": [int(s) for s in starts]},
    }


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


def _hellaswag(row: Row, task: TaskSpec) -> dict | None:
    endings = _string_list(row, "endings")
    label = _choice_label(_field(row, "label"), task, len(endings), "label")
    return _mc_record(
        _field(row, "ind"), _text(row, "ctx_a"), _text(row, "ctx_b"), endings, label
    )


def _commonsense_qa(row: Row, task: TaskSpec) -> dict | None:
    choices = _field(row, "choices")
    if not isinstance(choices, dict) or not isinstance(choices.get("text"), list):
        raise RowError(
            f"column 'choices' must be {{label: [...], text: [...]}}, got {choices!r}"
        )
    keys, texts = list(choices.get("label") or []), choices["text"]
    key = _field(row, "answerKey")
    if key in (None, ""):
        return None
    if key not in keys:
        raise RowError(f"answerKey {key!r} is not one of the choice labels {keys}")
    return _mc_record(
        _field(row, "id"), "", _text(row, "question"), texts, keys.index(key)
    )


def _cosmos_qa(row: Row, task: TaskSpec) -> dict | None:
    choices = [_text(row, f"answer{i}") for i in range(4)]
    label = _choice_label(_field(row, "label"), task, 4, "label")
    return _mc_record(
        _field(row, "id"), _text(row, "context"), _text(row, "question"), choices, label
    )


def _multiple_choice(row: Row, task: TaskSpec) -> dict | None:
    choices = _string_list(row, "choices")
    label = _choice_label(_field(row, "label"), task, len(choices), "label")
    return _mc_record(
        row.get("id", ""),
        _text(row, "context", allow_empty=True) if "context" in row else "",
        _text(row, "question"),
        choices,
        label,
    )


def _tags(row: Row, task: TaskSpec, column: str, tokens: list[str], tags) -> dict:
    if not isinstance(tags, list):
        raise RowError(f"column '{column}' must be a list of tags, got {tags!r}")
    if len(tags) != len(tokens):
        raise RowError(
            f"{len(tokens)} tokens but {len(tags)} tags in column '{column}'"
        )
    labels = task.labels
    ids = []
    for tag in tags:
        if isinstance(tag, str) and tag in labels:
            ids.append(labels.index(tag))
        elif (
            isinstance(tag, int)
            and not isinstance(tag, bool)
            and 0 <= tag < len(labels)
        ):
            ids.append(tag)
        else:
            near = did_you_mean(tag, labels) if isinstance(tag, str) else ""
            raise RowError(
                f"column '{column}': tag {tag!r} is not one of the task's "
                f"{len(labels)} tags (names, or indices 0..{len(labels) - 1}){near}"
            )
    return {"tokens": tokens, "tags": ids}


def _tagging(row: Row, task: TaskSpec) -> dict:
    column = task.source.label_field
    tokens = _string_list(row, "tokens")
    return _tags(row, task, column, tokens, _field(row, column))


def _ccg_columns(row: Row) -> tuple[list[str], list]:
    if "tokens" in row:
        tokens, tags = _string_list(row, "tokens"), _field(row, "tags")
    else:  # jiant's two columns: space-separated words and tags
        tokens, tags = _text(row, "text").split(" "), _text(row, "tags").split()
    return tokens, tags


def _ccg(row: Row, task: TaskSpec) -> dict:
    tokens, tags = _ccg_columns(row)
    return _tags(row, task, "tags", tokens, tags)


_ADAPTERS: dict[str, Callable[[Row, TaskSpec], dict | None]] = {
    "squad": _squad,
    "hellaswag": _hellaswag,
    "commonsense_qa": _commonsense_qa,
    "cosmos_qa": _cosmos_qa,
    "multiple_choice": _multiple_choice,
    "tagging": _tagging,
    "ccg": _ccg,
}

# Hub columns each format needs ("<tags>": the task's label_field).
_COLUMNS: dict[str, tuple[str, ...]] = {
    "squad": ("id", "context", "question", "answers"),
    "hellaswag": ("ind", "ctx_a", "ctx_b", "endings", "label"),
    "commonsense_qa": ("id", "question", "choices", "answerKey"),
    "cosmos_qa": (
        "id",
        "context",
        "question",
        "answer0",
        "answer1",
        "answer2",
        "answer3",
        "label",
    ),  # fmt: skip
    "multiple_choice": ("question", "choices", "label"),
    "tagging": ("tokens", "<tags>"),
    "tatoeba": ("source_sentence", "target_sentence"),
    "bucc": ("source_sentence", "target_sentence"),
}


def _check_unique_ids(records: list[dict], task: TaskSpec, split, language) -> None:
    seen: set[str] = set()
    for record in records:
        if record["id"] in seen:
            raise InputError(
                f"task '{task.name}' ({split}, {language}): id {record['id']!r} "
                f"appears twice in {_describe(task, split, language)}; ids must be "
                "unique (predictions are matched to answers by id)"
            )
        seen.add(record["id"])


def _tag_set(train: Path, task: TaskSpec) -> tuple[str, ...]:
    """tags.txt beside the training file, else every tag of that file, sorted."""
    listed = train.parent / "tags.txt"
    if listed.is_file():
        tags = [t.strip() for t in listed.read_text(encoding="utf-8").splitlines()]
        tags = [t for t in tags if t]
        if len(set(tags)) != len(tags):
            raise InputError(f"{listed}: a tag is listed twice")
    else:
        found: set[str] = set()
        for line, row in read_records(train):
            try:
                if task.row_format == "ccg":
                    _, row_tags = _ccg_columns(row)
                else:
                    row_tags = _field(row, task.source.label_field)
            except RowError as exc:
                raise InputError(f"{train}:{line}: {exc}") from None
            found.update(str(t) for t in row_tags)
        tags = sorted(found)
    if len(tags) < 2:
        where = listed if listed.is_file() else train
        raise InputError(f"task '{task.name}': fewer than two tags in {where}")
    return tuple(tags)


# --------------------------------------------------------------------------
# Retrieval


def _sentence_pairs(rows, language: str):
    for where, row in rows:
        try:
            yield (
                where,
                row,
                _text(row, "source_sentence"),
                _text(row, "target_sentence"),
            )
        except RowError as exc:
            raise RowError(f"{where}: {exc}") from None


def _tatoeba_pairs(rows, language: str):
    """Row i pairs source sentence i with English sentence i."""
    source, target, gold = [], [], []
    for i, (_, _, src, tgt) in enumerate(_sentence_pairs(rows, language)):
        source.append({"id": f"{language}-{i}", "text": src})
        target.append({"id": f"en-{i}", "text": tgt})
        gold.append((f"{language}-{i}", f"en-{i}"))
    return source, target, gold


_BUCC_ID = re.compile(r"^[a-z]{2}-\d+$")


def _bucc_pairs(rows, language: str):
    """One row per gold pair; a sentence in several pairs is one sentence.
    Sentences are identified by their BUCC ids where the rows carry them
    (source_lang / target_lang), else by their text."""
    texts: tuple[dict[str, str], dict[str, str]] = ({}, {})  # id -> text
    ids_of: tuple[dict[str, str], dict[str, str]] = ({}, {})  # text -> id
    gold: dict[tuple[str, str], None] = {}
    for i, (where, row, src, tgt) in enumerate(_sentence_pairs(rows, language)):
        pair = []
        for side, text, column, lang in (
            (0, src, "source_lang", language),
            (1, tgt, "target_lang", "en"),
        ):
            given = row.get(column)
            if isinstance(given, str) and _BUCC_ID.match(given):
                sid = given
            else:
                sid = ids_of[side].setdefault(text, f"{lang}-{i}")
            if texts[side].setdefault(sid, text) != text:
                raise RowError(f"{where}: sentence id {sid!r} has two different texts")
            pair.append(sid)
        gold[(pair[0], pair[1])] = None
    source = [{"id": k, "text": v} for k, v in texts[0].items()]
    target = [{"id": k, "text": v} for k, v in texts[1].items()]
    return source, target, list(gold)


def _bucc_release(gold_file: Path, language: str):
    """The original BUCC 2018 files: xx-en.<split>.gold (source id<TAB>English
    id per line) with xx-en.<split>.xx and xx-en.<split>.en beside it (id<TAB>
    sentence per line), every sentence of the comparable corpora."""
    stem = gold_file.name[: -len(".gold")]
    sides = []
    for lang in (language, "en"):
        path = gold_file.with_name(f"{stem}.{lang}")
        if not path.is_file():
            raise InputError(
                f"{gold_file}: the BUCC sentences '{path.name}' are not beside it "
                f"(expected {stem}.{language} and {stem}.en in {gold_file.parent})"
            )
        rows = _id_lines(path, "id<TAB>sentence")
        sides.append([{"id": sid, "text": text} for _, (sid, text) in rows])
    ids = [{r["id"] for r in side} for side in sides]
    gold = []
    for line, (src, tgt) in _id_lines(gold_file, "source id<TAB>English id"):
        if src not in ids[0] or tgt not in ids[1]:
            raise InputError(
                f"{gold_file}:{line}: pair ({src}, {tgt}) names a sentence id that is "
                f"not in {stem}.{language} / {stem}.en"
            )
        gold.append((src, tgt))
    return sides[0], sides[1], gold


def _id_lines(path: Path, expected: str) -> Iterator[tuple[int, tuple[str, str]]]:
    """(line number, (first, second)) of a two-column tab-separated file."""
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 2:
                raise InputError(
                    f"{path}:{line_no}: expected {expected}, got {len(parts)} "
                    "tab-separated fields"
                )
            yield line_no, (parts[0].strip(), parts[1].strip())
