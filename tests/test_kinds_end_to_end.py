"""Every task kind through the real pipeline on the tiny model: intermediate
stages of each kind (and a multi-task group), target stages of each kind, and
zero-shot scores in every language, from data in the hub's own formats
(tests/fixtures/hub, loaded like the repositories they mirror) and local
files. The fixtures are a handful of rows: this proves the machinery, not
learning (the per-kind tests show learning)."""

from __future__ import annotations

import json

import pytest

from engine.store import Store
from tests.conftest import REPO, run_engine

HUB = REPO / "tests" / "fixtures" / "hub"
LOCAL = REPO / "tests" / "fixtures" / "local"

CONFIG = f"""
name = "every-kind"
model = "xlt-tiny"
intermediate = ["squad", "hellaswag", "ccg", "qa-and-ccg"]
targets = ["xquad", "udpos", "panx", "tatoeba", "bucc2018"]
seeds = [1]

[languages]
xquad = ["en", "de", "zh"]
udpos = ["en", "de", "th"]
panx = ["en", "de", "zh"]
tatoeba = ["de", "zh"]
bucc2018 = ["de", "zh"]

[groups.qa-and-ccg]
tasks = ["squad", "ccg"]

[train]
max_steps = 3
batch_size = 4
max_seq_length = 96
doc_stride = 32
log_every = 1

[data.squad]
path = "{HUB}/rajpurkar/squad"
[data.hellaswag]
path = "{HUB}/Rowan/hellaswag"
[data.ccg]
path = "{LOCAL}/ccg"
[data.xquad]
path = "{HUB}/google/xtreme"
[data.udpos]
path = "{HUB}/google/xtreme"
[data.panx]
path = "{HUB}/google/xtreme"
[data.tatoeba]
path = "{HUB}/google/xtreme"
[data.bucc2018]
path = "{HUB}/google/xtreme"
"""

EXPECTED_METRIC = {
    "xquad": "f1",
    "udpos": "f1",
    "panx": "f1",
    "tatoeba": "accuracy",
    "bucc2018": "f1",
}


@pytest.mark.slow
def test_every_kind_runs_intermediate_target_and_every_language(tmp_path):
    config = tmp_path / "every-kind.toml"
    config.write_text(CONFIG, encoding="utf-8")
    ws = tmp_path / "ws"
    dry = run_engine("run", str(config), "--workspace", str(ws), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    # 4 intermediate trainings, 5 choices x 3 trained targets; retrieval untrained
    assert "19 trainings to run (4 intermediate, 15 target)" in dry.stdout
    assert "10 retrieval evaluations without training" in dry.stdout

    out = run_engine("run", str(config), "--workspace", str(ws), "--plain")
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]

    results = Store(ws / "xlt.json").results()
    got = {(r["intermediate"], r["target"], r["language"]): r for r in results}
    choices = ["baseline", "squad", "hellaswag", "ccg", "qa-and-ccg"]
    config_langs = {
        "xquad": ["en", "de", "zh"],
        "udpos": ["en", "de", "th"],
        "panx": ["en", "de", "zh"],
        "tatoeba": ["de", "zh"],
        "bucc2018": ["de", "zh"],
    }
    for choice in choices:
        for target, langs in config_langs.items():
            for lang in langs:
                r = got[(choice, target, lang)]
                assert r["metric"] == EXPECTED_METRIC[target]
                assert 0.0 <= r["value"] <= 1.0
                assert r["metrics"][r["metric"]] == r["value"]
    assert {"exact_match", "f1"} <= set(got[("squad", "xquad", "zh")]["metrics"])

    run_dir = next((ws / "runs").iterdir())
    events = [json.loads(line) for line in (run_dir / "events.jsonl").open()]
    group = [
        e
        for e in events
        if e["type"] == "stage_end" and e["stage"] == "intermediate/qa-and-ccg/seed1"
    ]
    assert group and group[0]["steps"] == 3
    table = run_engine("results", "--xtreme", "--workspace", str(ws))
    assert table.returncode == 0, table.stderr
    for column in ("xquad", "udpos", "panx", "tatoeba", "bucc2018", "overall"):
        assert column in table.stdout
