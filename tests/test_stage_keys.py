"""A stage's key covers exactly what changes its output (issue 10, item 8).

Each ingredient is changed in turn, on the plan alone (no training): every
hyperparameter of each stage, a generation setting, each data file, and the
model's weights; the stages it affects get new keys, the others keep theirs.
A target's model is keyed by what trains it and each (split, language)
evaluation by the model and that language's data, so adding a language or
editing one language's test file costs evaluations, not trainings.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.config import HPARAM_NAMES, load_config
from engine.pipeline import IntermediateStage, TargetStage, make_plan
from engine.workspace import Workspace
from tests.conftest import experiment_toml, write_sentiment_files

# A value different from the default for every hyperparameter; log_every only
# changes how often progress is printed, so it changes no key.
CHANGED = {
    "learning_rate": 3e-4,
    "batch_size": 8,
    "grad_accum": 2,
    "epochs": 2,
    "max_steps": 7,
    "warmup_ratio": 0.2,
    "weight_decay": 0.1,
    "max_grad_norm": 0.5,
    "max_seq_length": 48,
    "doc_stride": 32,
    "retrieval_layer": 2,
    "eval_every": 5,
    "selection_examples": 20,
    "patience": 3,
    "max_train_examples": 100,
    "max_eval_examples": 30,
}
NOT_IN_KEYS = {"log_every"}


def test_every_hyperparameter_is_listed_here():
    assert set(CHANGED) | NOT_IN_KEYS == set(HPARAM_NAMES)


class Keys:
    """The plan of a small experiment (baseline + one intermediate, one
    target in en and de), and each stage's keys."""

    def __init__(self, tmp_path: Path, extra: str = "", model: str | None = None):
        self.tmp_path = tmp_path
        self.extra = extra
        self.model = model
        if not (tmp_path / "data").is_dir():
            write_sentiment_files(tmp_path / "data")

    def plan(self, extra: str = "", languages=("en", "de")):
        text = experiment_toml(languages=languages, extra=f"{self.extra}\n{extra}")
        if self.model:
            text = text.replace('model = "xlt-tiny"', f'model = "{self.model}"')
        path = self.tmp_path / "exp.toml"
        path.write_text(text, encoding="utf-8")
        return make_plan(load_config(path), Workspace.open(self.tmp_path / "ws"))

    def keys(self, extra: str = "", languages=("en", "de")) -> dict[str, str]:
        """Stage id -> key, and "<stage id>@<split>/<lang>" -> evaluation key."""
        out = {}
        for s in self.plan(extra, languages).stages:
            out[s.id] = s.key
            if isinstance(s, TargetStage):
                for e in s.evaluations:
                    out[f"{s.id}@{e.split}/{e.language}"] = e.key
        return out


def changed(a: dict[str, str], b: dict[str, str]) -> set[str]:
    return {k for k in a if a[k] != b.get(k)}


INTER = "intermediate/sent/seed1"
BASE_T = "target/sent/from-baseline/seed1"
INTER_T = "target/sent/from-sent/seed1"


def evaluations(stage: str, langs=("en", "de"), split="test") -> set[str]:
    return {f"{stage}@{split}/{lg}" for lg in langs}


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_a_target_hyperparameter_changes_the_target_stages_only(tmp_path, name):
    k = Keys(tmp_path)
    before = k.keys()
    after = k.keys(f"[train.target]\n{name} = {CHANGED[name]}")
    # Every target stage and (through its key) its evaluations; no intermediate.
    expected = {BASE_T, INTER_T} | evaluations(BASE_T) | evaluations(INTER_T)
    assert changed(before, after) == expected


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_an_intermediate_hyperparameter_changes_its_stage_and_what_reads_it(
    tmp_path, name
):
    k = Keys(tmp_path)
    before = k.keys()
    after = k.keys(f"[train.intermediate]\n{name} = {CHANGED[name]}")
    # The baseline's target does not read the intermediate checkpoint.
    assert changed(before, after) == {INTER, INTER_T} | evaluations(INTER_T)


def test_logging_cadence_changes_no_key(tmp_path):
    k = Keys(tmp_path)
    assert changed(k.keys(), k.keys("[train.target]\nlog_every = 1")) == set()


def test_a_new_language_costs_one_evaluation_not_a_training(tmp_path):
    k = Keys(tmp_path)
    write_sentiment_files(tmp_path / "data", langs=("en", "de", "fr"))
    before = k.keys(languages=("en", "de"))
    after = k.keys(languages=("en", "de", "fr"))
    assert changed(before, after) == set()
    assert set(after) - set(before) == {f"{BASE_T}@test/fr", f"{INTER_T}@test/fr"}


def test_editing_one_test_file_reevaluates_that_language_only(tmp_path):
    k = Keys(tmp_path)
    before = k.keys()
    test_de = tmp_path / "data" / "test.de.jsonl"
    test_de.write_text(test_de.read_text() + test_de.read_text().splitlines()[0])
    assert changed(before, k.keys()) == {f"{BASE_T}@test/de", f"{INTER_T}@test/de"}


def test_training_and_validation_files_change_every_stage_that_reads_them(tmp_path):
    k = Keys(tmp_path)
    everything = set(k.keys())
    for name in ("train.jsonl", "dev.jsonl"):
        before = k.keys()
        f = tmp_path / "data" / name
        f.write_text(f.read_text() + f.read_text().splitlines()[0] + "\n")
        # sent is the intermediate task and the target: all stages change.
        assert changed(before, k.keys()) == everything, name


def test_a_split_is_scored_in_the_languages_that_have_it(tmp_path):
    k = Keys(tmp_path)
    plan = k.plan('eval_splits = ["validation", "test"]')
    target = next(s for s in plan.stages if s.id == BASE_T)
    assert isinstance(target, TargetStage)
    assert target.splits == ("validation", "test")
    # Validation data exists in English only (the custom task's dev file).
    assert [(e.split, e.language) for e in target.evaluations] == [
        ("validation", "en"),
        ("test", "en"),
        ("test", "de"),
    ]
    assert len({e.key for e in target.evaluations}) == 3


def test_max_eval_examples_is_in_every_evaluation_key(tmp_path):
    k = Keys(tmp_path)
    before = k.keys()
    after = k.keys("[train.target]\nmax_eval_examples = 10")
    assert evaluations(BASE_T) <= changed(before, after)


def test_a_local_models_key_follows_its_weights_not_their_size(tmp_path):
    from engine.models.loading import resolve_model_path
    from engine.models.tiny import TINY_NAME

    ws = Workspace.open(tmp_path / "ws")
    tiny = Path(resolve_model_path(TINY_NAME, ws))
    folder = tmp_path / "my-model"
    shutil.copytree(tiny, folder)
    k = Keys(tmp_path, model=str(folder))
    before = k.keys()
    assert changed(before, k.keys()) == set()  # stable when nothing changes
    # "Retrain" into the same folder: same file names and sizes, new content.
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    size = weights.stat().st_size
    weights.write_bytes(bytes(data))
    assert weights.stat().st_size == size
    after = k.keys()
    assert changed(before, after) == set(before)


def test_intermediate_stage_keys_are_unchanged_by_targets(tmp_path):
    k = Keys(tmp_path)
    plan = k.plan()
    inter = [s for s in plan.stages if isinstance(s, IntermediateStage)]
    assert len(inter) == 1
    before = inter[0].key
    after = next(
        s.key
        for s in k.plan("[train.target]\nlearning_rate = 1e-4").stages
        if isinstance(s, IntermediateStage)
    )
    assert before == after


def test_a_split_no_chosen_language_offers_is_refused(tmp_path):
    from engine.errors import InputError

    k = Keys(tmp_path)
    with pytest.raises(InputError) as err:
        k.plan('eval_splits = ["validation"]', languages=("de",))
    message = str(err.value)
    assert "eval_splits" in message and "'sent'" in message
    assert "it offers test" in message


# Every [generation] setting, changed from a sampling baseline (so that
# temperature, top_p and seed matter): the code target's key moves, the
# intermediate checkpoint's does not.
GENERATION_CHANGES = {
    "max_new_tokens": "max_new_tokens = 13",
    "do_sample": "do_sample = false\nn_samples = 1",
    "temperature": "temperature = 0.55",
    "top_p": "top_p = 0.5",
    "n_samples": "n_samples = 3",
    "batch_size": "batch_size = 2",
    "stop_sequences": 'stop_sequences = ["\\nclass"]',
    "strip_prompt": "strip_prompt = false",
    "seed": "seed = 7",
    "greedy": "greedy = false",
    "backend": 'backend = "transformers"',
}


def test_every_generation_setting_is_listed_here():
    from engine.config import GenerationSettings

    assert set(GENERATION_CHANGES) == set(GenerationSettings.model_fields)


@pytest.mark.parametrize("name", sorted(GENERATION_CHANGES))
def test_a_generation_setting_changes_the_code_targets_only(tmp_path, name):
    from tests.test_code_pipeline import config_text, write

    def keys(change: str) -> dict[str, str]:
        settings = {"max_new_tokens": "12", "batch_size": "4", "do_sample": "true",
                    "n_samples": "2"}  # fmt: skip
        for line in change.splitlines():
            key, value = (part.strip() for part in line.split("=", 1))
            settings[key] = value
        table = "".join(f"{k} = {v}\n" for k, v in settings.items())
        text = config_text().replace(
            "[generation]\nmax_new_tokens = 12\nbatch_size = 4\n",
            f"[generation]\n{table}",
        )
        assert table in text
        plan = make_plan(
            load_config(write(tmp_path, text)), Workspace.open(tmp_path / "ws")
        )
        return {s.id: s.key for s in plan.stages}

    before = keys("")
    after = keys(GENERATION_CHANGES[name])
    moved = changed(before, after)
    assert moved and all(k.startswith("target/") for k in moved), moved


def test_a_bucc_gold_files_fingerprint_covers_its_corpora(tmp_path):
    from engine.data.loaders import data_fingerprint

    fixtures = Path(__file__).parent / "fixtures" / "bucc2018" / "de-en"
    folder = tmp_path / "de-en"
    shutil.copytree(fixtures, folder)
    config = tmp_path / "bucc.toml"
    config.write_text(
        'model = "xlt-tiny"\ntargets = ["bucc2018"]\n'
        'languages = { bucc2018 = ["de"] }\n'
        "[data.bucc2018.files]\n"
        f'validation = {{ de = "{folder}/de-en.sample.gold" }}\n'
        f'test = {{ de = "{folder}/de-en.training.gold" }}\n',
        encoding="utf-8",
    )
    task = load_config(config).task("bucc2018")
    before = data_fingerprint(task, "test", "de")
    corpus = folder / "de-en.training.de"
    corpus.write_text(corpus.read_text(encoding="utf-8") + "de-999999\tnoch ein Satz\n")
    assert data_fingerprint(task, "test", "de") != before
    assert data_fingerprint(task, "validation", "de") == data_fingerprint(
        load_config(config).task("bucc2018"), "validation", "de"
    )
