"""Sentence-retrieval data (BUCC 2018, Tatoeba): two sides and gold pairs.

`load_retrieval_pairs(task, split, language)` returns (source records, target
records, gold pairs): the source is the non-English side, the target English,
each sentence {"id", "text"}; gold pairs are (source id, target id). Read from
rows in the hub's format (`source_sentence`, `target_sentence`):

    tatoeba   row i pairs source sentence i with English sentence i
    bucc      one row per gold pair; source_lang / target_lang hold the BUCC
              sentence ids ("de-000000001") where the copy has them. Such a
              copy (google/xtreme "bucc18.<xx>") has no unpaired sentences.

The original BUCC 2018 release reads the full comparable corpora, every
unpaired sentence (the distractors) included: xx-en.<release>.xx and
xx-en.<release>.en ("id<TAB>sentence" per line) and xx-en.<release>.gold
("xx id<TAB>en id" per line). Point [data.bucc2018] at it either way:

    files = {test = {de = ".../de-en.training.gold"}, validation = {...}}
    path = "<folder>"   the folder the release tarballs were unpacked in
                        (bucc2018/de-en/de-en.sample.de, ...) or one flat
                        folder of those files, as XTREME's download_data.sh
                        leaves them ("sample" renamed "dev", "training"
                        renamed "test")

Split names as XTREME's: validation = the "sample" release, test = the
"training" release (scripts/download_data.sh, download_bucc18; the shared
task's own test release has no public gold).

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
from engine.tasks.spec import HubSource, LocalSource, ManualSource, TaskSpec

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
    if (
        isinstance(source, HubSource)
        and task.row_format == "bucc"
        and Path(source.path).is_dir()
    ):
        gold_file = bucc_release_gold(Path(source.path), split, language)
        if gold_file is not None:
            return _bucc_release(gold_file, language)
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
    sentence per line), every sentence of the comparable corpora. The
    sentence is kept as written, surrounding spaces stripped (XTREME's
    read_sent2id strips each line)."""
    stem = gold_file.name[: -len(".gold")]
    sides = []
    for lang in (language, "en"):
        path = gold_file.with_name(f"{stem}.{lang}")
        if not path.is_file():
            raise InputError(
                f"{gold_file}: the BUCC sentences '{path.name}' are not beside it "
                f"(expected {stem}.{language} and {stem}.en in {gold_file.parent})"
            )
        side: dict[str, str] = {}
        for line, (sid, sentence) in _id_lines(path, "id<TAB>sentence"):
            if sid in side:
                raise InputError(
                    f"{path}:{line}: sentence id {sid!r} appears twice; each "
                    "line holds a sentence id of its own"
                )
            side[sid] = sentence
        sides.append([{"id": k, "text": v} for k, v in side.items()])
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


# The BUCC 2018 release names of each split: the shared task's own, then
# XTREME's renaming of them (scripts/download_data.sh: training -> test,
# sample -> dev).
BUCC_RELEASES = {"validation": ("sample", "dev"), "test": ("training", "test")}


def bucc_release_gold(folder: Path, split: str, language: str) -> Path | None:
    """The .gold file of one split of the BUCC 2018 release in `folder` (flat,
    or in the tarballs' <xx>-en/ subfolder); None when the folder holds no
    BUCC release at all (then it is read as a hub mirror). InputError when it
    holds the release but not this split and language, or only its sentences."""
    pair = f"{language}-en"
    places = (folder, folder / pair)
    for base in places:
        for release in BUCC_RELEASES.get(split, ()):
            sentences = base / f"{pair}.{release}.{language}"
            if not sentences.is_file():
                continue
            gold = base / f"{pair}.{release}.gold"
            if not gold.is_file():
                raise InputError(
                    f"{base}: '{sentences.name}' has no gold pairs beside it "
                    f"(expected '{gold.name}'); XTREME's download_data.sh deletes "
                    "the test gold, the BUCC 2018 '<xx>-en.training-gold' tarball "
                    "holds it"
                )
            return gold
    present = sorted(
        p.name for base in places if base.is_dir() for p in base.glob("*-en.*.*")
    )
    if not present:
        return None
    names = " or ".join(
        f"{pair}.{release}.{{{language},en,gold}}"
        for release in BUCC_RELEASES.get(split, ("<release>",))
    )
    raise InputError(
        f"{folder}: no BUCC 2018 {split} files for '{language}': expected {names} "
        f"there or in {pair}/; found {', '.join(present[:8])}"
        f"{' ...' if len(present) > 8 else ''}"
    )


def count_unpaired(
    source: list[dict], target: list[dict], gold: Iterable[tuple[str, str]]
) -> tuple[int, int]:
    """Sentences of each side in no gold pair: BUCC's distractors. A copy
    built from the gold pairs alone (the hub's) has none."""
    paired_src: set[str] = set()
    paired_tgt: set[str] = set()
    for src, tgt in gold:
        paired_src.add(src)
        paired_tgt.add(tgt)
    return (
        sum(r["id"] not in paired_src for r in source),
        sum(r["id"] not in paired_tgt for r in target),
    )
