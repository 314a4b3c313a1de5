"""Sentence-retrieval data (BUCC 2018, Tatoeba): two sides and gold pairs.

`load_retrieval_pairs(task, split, language)` returns (source records, target
records, gold pairs): the source is the non-English side, the target English,
each sentence {"id", "text"}; gold pairs are (source id, target id). Read from
rows in the hub's format (`source_sentence`, `target_sentence`):

    tatoeba   row i pairs source sentence i with English sentence i
    bucc      one row per gold pair; source_lang / target_lang hold the BUCC
              sentence ids ("de-000000001") where the copy has them. A `.gold`
              file of the original BUCC 2018 release (xx-en.<split>.gold, with
              xx-en.<split>.xx and .en beside it) reads the full corpora,
              every unpaired sentence included.

As records (what load_records returns for a retrieval task) both sides are one
list, {"id", "text", "side"}, source records carrying "gold" (the ids of their
translations); `split_retrieval_records` inverts that.

Light module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from engine.data.columns import text
from engine.data.rows import RowError, describe, task_rows
from engine.errors import InputError
from engine.tasks.spec import LocalSource, ManualSource, TaskSpec

_COLUMNS = ("source_sentence", "target_sentence")
_BUCC_ID = re.compile(r"^[a-z]{2}-\d+$")


def load_retrieval_pairs(
    task: TaskSpec, split: str, language: str
) -> tuple[list[dict], list[dict], list[tuple[str, str]]]:
    """(source records, target records, gold pairs) of one language."""
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
    rows = list(task_rows(task, split, language, columns=_COLUMNS))
    try:
        out = builders[task.row_format](rows, language)
    except RowError as exc:
        raise InputError(str(exc)) from None
    if not out[2]:
        raise InputError(
            f"task '{task.name}' ({split}, {language}): no sentence pairs in "
            f"{describe(task, split, language)}"
        )
    return out


def retrieval_records(
    source: list[dict], target: list[dict], gold: Iterable[tuple[str, str]]
) -> list[dict]:
    """Both sides as one list of records (see the module docstring)."""
    partners: dict[str, list[str]] = {}
    for src, tgt in gold:
        partners.setdefault(src, []).append(tgt)
    return [
        *({**r, "side": "source", "gold": partners.get(r["id"], [])} for r in source),
        *({**r, "side": "target"} for r in target),
    ]


def retrieval_records_of(task: TaskSpec, split: str, language: str) -> list[dict]:
    return retrieval_records(*load_retrieval_pairs(task, split, language))


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


def _sentence_pairs(rows, language: str):
    for where, row in rows:
        try:
            yield where, row, text(row, "source_sentence"), text(row, "target_sentence")
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


def _bucc_pairs(rows, language: str):
    """One row per gold pair; a sentence in several pairs is one sentence.
    Sentences are identified by their BUCC ids where the rows carry them
    (source_lang / target_lang), else by their text."""
    texts: tuple[dict[str, str], dict[str, str]] = ({}, {})  # id -> text
    ids_of: tuple[dict[str, str], dict[str, str]] = ({}, {})  # text -> id
    gold: dict[tuple[str, str], None] = {}
    for i, (where, row, src, tgt) in enumerate(_sentence_pairs(rows, language)):
        pair = []
        for side, sentence, column, lang in (
            (0, src, "source_lang", language),
            (1, tgt, "target_lang", "en"),
        ):
            given = row.get(column)
            if isinstance(given, str) and _BUCC_ID.match(given):
                sid = given
            else:
                sid = ids_of[side].setdefault(sentence, f"{lang}-{i}")
            if texts[side].setdefault(sid, sentence) != sentence:
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
        sides.append([{"id": sid, "text": s} for _, (sid, s) in rows])
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
