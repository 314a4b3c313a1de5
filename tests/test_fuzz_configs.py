"""Fuzz `xlt-engine run --dry-run` with mutated configs and data files.

A seeded generator (no hypothesis: it is not a dependency) mutates the sample
configs and a small local-data experiment: keys deleted or duplicated, values
of the wrong type, huge, negative or NaN numbers, odd unicode, path-like
strings ("../../x", absolute paths) in every string position, truncated and
non-UTF-8 files, data files damaged or replaced by folders. Each case must end
with exit 0 or 2, no traceback, and nothing written outside the workspace and
the config's folder. The seed and the case number are in every failure, so a
failure replays: `_cases(seed)[number]`.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import tomllib
from typer.testing import CliRunner

from engine.cli import app
from tests.conftest import REPO, experiment_toml, write_sentiment_files

SEED = 20261203
SAMPLES = ["demo.toml", "xstilts_quick.toml", "codegen_transfer.toml"]
LOCAL = "local.toml"  # the conftest experiment, with its data files

ODD_STRINGS = [
    "",
    " ",
    "../../x",
    "/tmp/xlt-fuzz-x",  # checked below: never created
    "~/x",
    "x" * 5000,
    "\u202eevil\u202c",
    "e\u0301\u0308",
    "\U0001f600",
    "nul\x00byte",
    "line\nbreak",
    "C:\\x",
    "*",
    "data/../../x",
]
ODD_NUMBERS: list[Any] = [
    0,
    -1,
    -(10**30),
    10**30,
    2**63,
    1e308,
    -1e-308,
    math.inf,
    -math.inf,
    math.nan,
    0.5,
    True,
]
ODD_VALUES: list[Any] = [
    *ODD_STRINGS,
    *ODD_NUMBERS,
    [],
    {},
    ["x"],
    {"x": 1},
    [1, "a"],
]


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every key path of a parsed TOML document (tables, arrays, leaves)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield (*prefix, i)
            yield from _paths(inner, (*prefix, i))


def _parent(doc: Any, path: tuple) -> Any:
    for step in path[:-1]:
        doc = doc[step]
    return doc


def _mutate_document(doc: dict, rng: random.Random) -> None:
    paths = list(_paths(doc))
    if not paths:
        return
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        paths = list(_paths(doc))
        path = rng.choice(paths)
        parent, key = _parent(doc, path), path[-1]
        how = rng.random()
        if isinstance(parent[key], str) and how < 0.6:
            # every string position gets a path-like or odd string sometimes
            parent[key] = rng.choice(ODD_STRINGS)
        elif how < 0.2:
            del parent[key]  # a key (or an array item) deleted
        elif how < 0.45:
            parent[key] = rng.choice(ODD_STRINGS)
        elif how < 0.75:
            parent[key] = rng.choice(ODD_VALUES)
        elif isinstance(parent[key], (int, float)) and not isinstance(
            parent[key], bool
        ):
            parent[key] = parent[key] * rng.choice([-1, 0, 10**12, 1e-12])
        elif isinstance(parent, dict):
            parent[f"{key}_x"] = parent[key]  # an unknown key beside a known one


def _toml_text(doc: dict) -> str | None:
    try:
        return tomli_w.dumps(doc)
    except (TypeError, ValueError):  # (NaN keys, nul bytes...: not writable)
        return None


def _mutate_text(text: str, rng: random.Random) -> bytes:
    data = text.encode("utf-8")
    how = rng.random()
    if how < 0.3:
        return data[: rng.randrange(len(data) + 1)]  # cut short
    lines = data.split(b"\n")
    i = rng.randrange(len(lines))
    if how < 0.55:
        lines.insert(i, lines[i])  # a duplicated key
    elif how < 0.75:
        lines[i] = lines[i][: len(lines[i]) // 2] + b"\xff\xfe" + lines[i][1:]
    elif how < 0.9:
        lines.insert(i, rng.choice([b"[[", b"x = ", b"=1", b"[train", b'"\\u12']))
    else:
        return b"\xef\xbb\xbf" + data  # a byte-order mark
    return b"\n".join(lines)


def _damage_data(folder: Path, rng: random.Random) -> None:
    files = sorted(folder.glob("*.jsonl"))
    target = rng.choice(files)
    how = rng.random()
    if how < 0.2:
        target.write_bytes(target.read_bytes()[: rng.randrange(200)])
    elif how < 0.35:
        target.write_bytes(b"")
    elif how < 0.5:
        target.unlink()
        target.mkdir()  # a folder where the file should be
    elif how < 0.65:
        lines = target.read_bytes().split(b"\n")
        lines.insert(rng.randrange(len(lines)), b"{garbage\xff")
        target.write_bytes(b"\n".join(lines))
    elif how < 0.8:
        line = json.dumps({"text": rng.choice(ODD_STRINGS), "label": "maybe"})
        target.write_text(line + "\n" + target.read_text())
    else:
        record = {"text": rng.choice(ODD_VALUES), "label": rng.choice(ODD_VALUES)}
        target.write_text(json.dumps(record) + "\n" + target.read_text())


def _case(seed: int, number: int, folder: Path) -> list[str]:
    """Write case `number` into `folder`; the command-line arguments to run."""
    rng = random.Random(f"{seed}-{number}")
    source = rng.choice([*SAMPLES, LOCAL, LOCAL])
    config = folder / "exp.toml"
    extra = ["--json"] if rng.random() < 0.3 else []
    if source == LOCAL:
        write_sentiment_files(folder / "data", n_train=20, n_eval=6)
        text = experiment_toml(epochs=1)
        if rng.random() < 0.5:
            _damage_data(folder / "data", rng)
            if rng.random() < 0.5:  # the data alone damaged: checked deeper
                config.write_text(text, encoding="utf-8")
                return ["run", str(config), "--dry-run", *extra]
    else:
        text = (REPO / "sample_configs" / source).read_text(encoding="utf-8")
    if rng.random() < 0.75:
        doc = tomllib.loads(text)
        _mutate_document(doc, rng)
        mutated = _toml_text(doc)
        config.write_text(mutated if mutated is not None else text, encoding="utf-8")
    else:
        config.write_bytes(_mutate_text(text, rng))
    return ["run", str(config), "--dry-run", *extra]


# Crashes the fuzzer found in code another change owns (engine/config/, being
# hardened for path-valued keys at the same time): case number -> where and
# what. Each still crashes (checked: the exception type), and the test reports
# them as an expected failure; a case that stops crashing fails the test until
# its entry is removed here.
KNOWN_CRASHES: dict[int, tuple[type[BaseException], str]] = {}


def _snapshot(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def _run_cases(tmp_path: Path, numbers: range) -> Counter:
    """Run the cases; how many ended with each exit code."""
    # Cases live two folders down, so that "../../x" stays inside tmp_path,
    # where the snapshot sees any write.
    runner = CliRunner()
    codes: Counter = Counter()
    stray = Path("/tmp/xlt-fuzz-x")
    for number in numbers:
        case_dir = tmp_path / "a" / "b" / f"case{number}"
        case_dir.mkdir(parents=True)
        args = _case(SEED, number, case_dir)
        workspace = tmp_path / "ws"
        before = _snapshot(tmp_path)
        result = runner.invoke(app, [*args, "--workspace", str(workspace)])
        where = f"case {number} (seed {SEED}): {args}"
        known = KNOWN_CRASHES.get(number)
        crashed = result.exception is not None and not isinstance(
            result.exception, SystemExit
        )
        if known is not None:
            assert crashed and isinstance(result.exception, known[0]), (
                f"{where} no longer crashes: remove it from KNOWN_CRASHES"
            )
            codes["known crash"] += 1
            shutil.rmtree(case_dir)
            continue
        assert "Traceback" not in result.output, f"{where}\n{result.output}"
        if crashed:
            raise AssertionError(f"{where}: {result.exception!r}") from (
                result.exception
            )
        assert result.exit_code in (0, 2), f"{where}\n{result.output}"
        new = _snapshot(tmp_path) - before
        outside = [p for p in new if not {workspace, case_dir} & {p, *p.parents}]
        assert outside == [], f"{where}: wrote {outside}"
        assert not stray.exists(), f"{where}: wrote {stray}"
        shutil.rmtree(case_dir)
        codes[result.exit_code] += 1
    return codes


def test_fuzzed_dry_runs_quick(tmp_path):
    codes = _run_cases(tmp_path, range(60))
    # Both outcomes occur: the mutations reach past the parser, and break it.
    assert codes[0] >= 5 and codes[2] >= 20, codes
    _report_known_crashes(range(60))


def _report_known_crashes(numbers: range) -> None:
    hit = [f"case {n}: {KNOWN_CRASHES[n][1]}" for n in numbers if n in KNOWN_CRASHES]
    if hit:
        pytest.xfail("; ".join(hit))


@pytest.mark.slow
def test_fuzzed_dry_runs_500(tmp_path):
    codes = _run_cases(tmp_path, range(60, 560))
    assert codes[0] >= 25 and codes[2] >= 200, codes
    _report_known_crashes(range(60, 560))


def test_the_generator_mutates_for_real(tmp_path):
    # A fuzzer whose cases all pass unchanged proves nothing: most cases differ
    # from their source, and many are refused as bad input.
    changed = 0
    for number in range(40):
        folder = tmp_path / f"c{number}"
        folder.mkdir()
        _case(SEED, number, folder)
        text = (folder / "exp.toml").read_bytes()
        sources = [(REPO / "sample_configs" / s).read_bytes() for s in SAMPLES] + [
            experiment_toml(epochs=1).encode()
        ]
        changed += text not in sources
    assert changed >= 30
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # (conftest: nothing downloads)
