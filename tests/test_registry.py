"""The task registry as users see it through `xlt-engine tasks`."""

from __future__ import annotations

import json
import unicodedata

from engine.data.records import load_records
from engine.tasks import REGISTRY
from tests.conftest import run_engine


def test_tasks_json_lists_the_real_tasks_with_their_sources():
    result = run_engine("tasks", "--json")
    assert result.returncode == 0
    tasks = {t["name"]: t for t in json.loads(result.stdout)}
    for name in ("mnli", "qqp", "sst2", "anli"):
        assert "intermediate" in tasks[name]["roles"]
        assert tasks[name]["source"].startswith("hub:")
    assert len(tasks["xnli"]["languages"]) == 15
    assert set(tasks["pawsx"]["languages"]) == {
        "en",
        "de",
        "es",
        "fr",
        "ja",
        "ko",
        "zh",
    }
    assert tasks["xnli"]["source"] == "hub:facebook/xnli"
    assert tasks["xnli"]["labels"] == ["entailment", "neutral", "contradiction"]
    from engine.kinds import load_kind

    for t in tasks.values():
        assert load_kind(t["kind"]).name == t["kind"]  # every task can be run
        if t["kind"] in ("classification", "pair_classification"):
            assert t["metric"] == "accuracy"


def _script(text: str) -> str:
    letters = [c for c in text if c.isalpha()]
    return unicodedata.name(letters[0]).split()[0] if letters else ""


def test_demo_targets_ship_data_in_five_or_more_languages_with_non_latin():
    demo = [t for t in REGISTRY.values() if t.family == "demo"]
    targets = [t for t in demo if "target" in t.roles]
    intermediates = [t for t in demo if "intermediate" in t.roles]
    assert len(targets) >= 2 and len(intermediates) >= 2
    for task in targets:
        assert len(task.languages) >= 5
        scripts = set()
        for lang in task.languages:
            examples = load_records(task, "test", lang)
            assert len(examples) >= 100
            assert {e["label"] for e in examples} == set(range(len(task.labels)))
            scripts.add(_script(examples[0]["texts"][0]))
        assert scripts - {"LATIN", ""}, f"{task.name} has only Latin-script tests"
    for task in demo:
        assert load_records(task, "train", "en")
        assert load_records(task, "validation", "en")


def test_each_kind_module_says_how_its_targets_run():
    """The light kind table (what planning reads) and each kind's module (what
    runs) agree: same name, family and target mode."""
    from engine.kinds import load_kind
    from engine.models.families import model_family
    from engine.tasks.kinds import KINDS, TARGET_MODES

    for name, info in KINDS.items():
        kind = load_kind(name)
        assert kind.name == name
        assert kind.target.mode == info.target_mode in TARGET_MODES
        assert model_family(info.family).name == info.family
