"""The event stream's contract, held in three places that must agree: the
declaration (engine.events.EVENT_TYPES), the reference (docs/events.md) and
what the engine writes (its emit calls, and a real run's events.jsonl)."""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path

import pytest

from engine.control import RUN_STATUSES
from engine.events import EVENT_TYPES, EventWriter
from tests.conftest import REPO, run_engine, write_sentiment_files

DOC = REPO / "docs" / "events.md"


def _table_rows(heading: str) -> list[list[str]]:
    """The body rows of the first table under `heading` in docs/events.md."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| `")
    ]
    assert rows, f"no table under {heading!r} in {DOC}"
    return rows


def _top_level_keys(cell: str) -> set[str]:
    """`a`, `b` {`nested`}, `c` [{`x`}] ("remark") -> {a, b, c}."""
    previous = None
    while previous != cell:  # innermost brackets first
        previous = cell
        cell = re.sub(r"\{[^{}\[\]]*\}|\[[^{}\[\]]*\]|\([^()]*\)", "", cell)
    return set(re.findall(r"`([A-Za-z_]+)`", cell))


def documented_types() -> dict[str, set[str]]:
    """type -> the keys docs/events.md lists under 'always'."""
    out = {}
    for row in _table_rows("## Types"):
        (name,) = re.findall(r"`([a-z_]+)`", row[0])
        out[name] = _top_level_keys(row[2])
    return out


def test_documented_types_are_the_declared_types_with_their_keys():
    documented = documented_types()
    assert set(documented) == set(EVENT_TYPES)
    for name, keys in EVENT_TYPES.items():
        assert documented[name] == set(keys), name


def test_documented_run_statuses_are_the_engines():
    rows = _table_rows("## Run statuses")
    assert [re.findall(r"`([a-z_]+)`", row[0])[0] for row in rows] == list(RUN_STATUSES)


def test_the_key_parser_reads_nesting_and_remarks():
    cell = '`summary` {`stages`, `x`}, `stages` [{`id`, `task`}], `kind` ("a" or `b`)'
    assert _top_level_keys(cell) == {"summary", "stages", "kind"}


def emitted_types() -> list[tuple[str, int, str]]:
    """(file, line, type) of every emit call in engine/ whose type is a string
    literal: `emit("step", ...)`, `x.emit("eval", ...)`, `env.emit(stage,
    "log", ...)` (the first string-literal argument)."""
    found = []
    for path in sorted((REPO / "engine").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else getattr(func, "id", "")
            )
            if name != "emit":
                continue
            literal = next(
                (
                    a.value
                    for a in node.args
                    if isinstance(a, ast.Constant) and isinstance(a.value, str)
                ),
                None,
            )
            if literal is None:
                for kw in node.keywords:
                    if kw.arg == "type" and isinstance(kw.value, ast.Constant):
                        literal = kw.value.value
            if literal is not None:
                found.append((str(path.relative_to(REPO)), node.lineno, literal))
    return found


def test_every_emit_in_the_engine_uses_a_declared_type():
    found = emitted_types()
    # The scan sees the engine's emits (not a vacuous pass): most types are
    # written from a literal somewhere.
    assert len({t for _, _, t in found}) >= 8, found
    undeclared = [f"{f}:{line}: {t!r}" for f, line, t in found if t not in EVENT_TYPES]
    assert not undeclared, undeclared


def test_writer_refuses_an_undeclared_type(tmp_path):
    writer = EventWriter(tmp_path / "events.jsonl", "r1")
    with pytest.raises(ValueError, match="stage_progress"):
        writer.emit("stage_progress", stage="x")
    writer.close()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["header"]


def test_a_real_run_writes_only_declared_types_with_their_keys(tmp_path):
    """The tiny model, one intermediate stage and two targets (one without a
    validation split, which warns)."""
    write_sentiment_files(tmp_path / "data", n_train=120, n_eval=30)
    config = tmp_path / "contract.toml"
    config.write_text(
        textwrap.dedent("""\
        name = "contract"
        model = "xlt-tiny"
        intermediate = ["sent"]
        targets = ["sent", "noval"]
        seeds = [1]
        [train]
        learning_rate = 1e-3
        epochs = 1
        batch_size = 16
        max_seq_length = 48
        log_every = 2

        [tasks.sent]
        kind = "classification"
        labels = ["negative", "positive"]
        [tasks.sent.files]
        train = "data/train.jsonl"
        validation = "data/dev.jsonl"
        [tasks.sent.files.test]
        en = "data/test.en.jsonl"
        de = "data/test.de.jsonl"

        [tasks.noval]
        kind = "classification"
        labels = ["negative", "positive"]
        [tasks.noval.files]
        train = "data/train.jsonl"
        [tasks.noval.files.test]
        de = "data/test.de.jsonl"
        """),
        encoding="utf-8",
    )
    ws = tmp_path / "ws"
    result = run_engine("run", str(config), "--workspace", str(ws), "--run-id", "c1")
    assert result.returncode == 0, result.stderr
    path = Path(ws / "runs" / "c1" / "events.jsonl")
    events = [json.loads(line) for line in path.read_text().splitlines()]
    seen = {e["type"] for e in events}
    assert seen <= set(EVENT_TYPES), seen - set(EVENT_TYPES)
    # The run wrote the kinds of records a reader relies on.
    assert {"header", "run_start", "plan", "stage_start", "step", "eval"} <= seen
    assert {"checkpoint", "stage_end", "warning", "run_end"} <= seen
    for event in events:
        missing = [k for k in ("t", *EVENT_TYPES[event["type"]]) if k not in event]
        assert not missing, f"{event['type']} lacks {missing}: {event}"
    assert events[0]["type"] == "header" and events[-1]["type"] == "run_end"
