"""The experiment file's schema: one declaration gives the types, defaults,
bounds and the words of every error about them."""

from __future__ import annotations

import dataclasses
import textwrap

import annotated_types
import pytest

import engine.codegen.generate as generate
from engine.config import (
    HPARAM_NAMES,
    GenerationSettings,
    StageHparams,
    load_config,
    parse_config,
)
from engine.errors import InputError
from engine.tasks.kinds import CAUSAL_LM, ENCODER

MINIMAL = {"model": "xlt-tiny", "targets": ["demo-xqa"]}


def rejected(raw: dict) -> str:
    with pytest.raises(InputError) as err:
        parse_config(raw, "exp.toml")
    return str(err.value)


def with_train(**values) -> dict:
    return {**MINIMAL, "train": {"intermediate": values}}


# -- StageHparams and GenerationSettings as the engine uses them ----------------


def test_stage_hparams_are_built_by_keyword_and_refuse_bad_values_by_name():
    hp = StageHparams(batch_size=8, epochs=2)
    assert (hp.batch_size, hp.epochs, hp.learning_rate) == (8, 2.0, 2e-5)
    assert isinstance(hp.epochs, float)  # an integer number is stored as a float
    assert hp.as_dict()["batch_size"] == 8 and set(hp.as_dict()) == set(HPARAM_NAMES)
    assert hash(hp) == hash(StageHparams(batch_size=8, epochs=2.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        hp.batch_size = 4
    with pytest.raises(ValueError, match="batch_size"):
        StageHparams(batch_size=0)
    with pytest.raises(ValueError, match="warmup_ratio"):
        dataclasses.replace(hp, warmup_ratio=1.0)


def test_generation_settings_are_declared_once():
    # engine.codegen.generate uses the schema's own class, not a copy.
    assert generate.GenerationSettings is GenerationSettings
    assert generate.SETTING_NAMES == tuple(GenerationSettings.model_fields)
    assert GenerationSettings().stop_sequences == generate.HUMANEVAL_STOP_SEQUENCES
    config = parse_config(
        {**MINIMAL, "generation": {"do_sample": True, "n_samples": 4, "top_p": 1}},
        "exp.toml",
    )
    assert isinstance(config.generation, GenerationSettings)
    assert config.generation.top_p == 1.0 and config.generation.n_samples == 4
    # What a run records: a plain dict of every setting.
    assert dict(config.generation)["n_samples"] == 4
    assert set(dict(config.generation)) == set(generate.SETTING_NAMES)
    assert GenerationSettings(stop_sequences="\n").stop_sequences == ("\n",)


def test_greedy_decoding_with_several_samples_is_refused_where_it_is_written():
    message = rejected({**MINIMAL, "generation": {"n_samples": 3}})
    assert "generation.n_samples: 3 samples with greedy decoding" in message
    assert "do_sample = true" in message


def test_hparam_names_are_the_declared_fields():
    assert HPARAM_NAMES == tuple(f.name for f in dataclasses.fields(StageHparams))
    assert "learning_rate" in HPARAM_NAMES and "retrieval_layer" in HPARAM_NAMES


# -- strictness: what TOML types a value may have ------------------------------


@pytest.mark.parametrize("value", [16.0, True, "16"])
def test_integer_fields_refuse_floats_booleans_and_strings(value):
    message = rejected(with_train(batch_size=value))
    assert "train.intermediate.batch_size: expected an integer >= 1" in message
    assert f"got {value!r}" in message


def test_number_fields_take_integers_as_floats():
    config = parse_config(with_train(epochs=3, learning_rate=1), "exp.toml")
    assert config.intermediate_hparams.epochs == 3.0
    assert isinstance(config.intermediate_hparams.learning_rate, float)


@pytest.mark.parametrize("value", [True, "1e-3", float("nan"), float("inf")])
def test_number_fields_refuse_booleans_strings_and_non_finite(value):
    message = rejected(with_train(learning_rate=value))
    assert "train.intermediate.learning_rate: expected a number > 0" in message


@pytest.mark.parametrize("value", [1, "true", 0.0])
def test_boolean_keys_are_real_booleans(value):
    assert "baseline: expected true or false" in rejected(
        {**MINIMAL, "baseline": value}
    )
    message = rejected({**MINIMAL, "generation": {"do_sample": value}})
    assert "generation.do_sample: expected true or false" in message


def test_lists_of_names_take_one_bare_name_and_refuse_repeats():
    config = parse_config({**MINIMAL, "targets": "demo-xqa", "seeds": 3}, "x.toml")
    assert config.targets == ("demo-xqa",) and config.seeds == (3,)
    assert "targets: expected a list of strings, got [1]" in rejected(
        {**MINIMAL, "targets": [1]}
    )
    assert "targets: 'demo-xqa' is listed twice" in rejected(
        {**MINIMAL, "targets": ["demo-xqa", "demo-xqa"]}
    )
    assert "seeds: expected a list of integers, got [1.5]" in rejected(
        {**MINIMAL, "seeds": [1.5]}
    )


# -- bounds: the message says the declared bound ----------------------------------


def _declared(name: str) -> tuple[str, str, object]:
    """What the declaration of `name` says: its type in words, its lower
    bound, and a value just past that bound."""
    field = StageHparams.__pydantic_fields__[name]
    is_int = field.annotation is int
    noun = "an integer" if is_int else "a number"
    for m in field.metadata:
        if isinstance(m, annotated_types.Ge):
            return noun, f">= {m.ge:g}", (m.ge - 1 if is_int else m.ge - 0.5)
        if isinstance(m, annotated_types.Gt):
            return noun, f"> {m.gt:g}", float(m.gt)
    raise AssertionError(f"{name} declares no lower bound")


@pytest.mark.parametrize("name", HPARAM_NAMES)
def test_every_hyperparameter_bound_is_stated_from_its_declaration(name):
    noun, bound, bad = _declared(name)
    message = rejected(with_train(**{name: bad}))
    assert f"train.intermediate.{name}: expected {noun} " in message
    # "expected an integer >= 1", or a range: "expected a number in [0, 1)"
    low = bound.split()[1]
    assert bound in message or f"in [{low}, " in message or f"in ({low}, " in message
    assert f"got {bad!r}" in message


@pytest.mark.parametrize(
    "raw, expected",
    [
        (with_train(batch_size=0), "expected an integer >= 1, got 0"),
        (with_train(max_seq_length=4), "expected an integer >= 8, got 4"),
        (with_train(warmup_ratio=1.0), "expected a number in [0, 1), got 1.0"),
        (with_train(max_steps=-1), "expected an integer >= 0 (0 = use epochs)"),
        (with_train(max_grad_norm=-1), "expected a number >= 0 (0 = no clipping)"),
        (
            with_train(retrieval_layer=-2),
            "expected an integer >= -1 (-1 = the middle layer)",
        ),
        (
            {**MINIMAL, "generation": {"top_p": 0}},
            "generation.top_p: expected a number in (0, 1], got 0",
        ),
        (
            {**MINIMAL, "generation": {"stop_sequences": ["\n", ""]}},
            "generation.stop_sequences: expected a list of non-empty strings",
        ),
        (
            {**MINIMAL, "precision": "fp61"},
            "precision: 'fp61' is not one of fp32, bf16, fp16; did you mean 'fp16'?",
        ),
        ({**MINIMAL, "device": "cuda:x"}, "device: 'cuda:x' is not one of auto"),
        ({**MINIMAL, "targets": []}, "targets: expected at least one entry"),
    ],
)
def test_bound_and_choice_messages(raw, expected):
    assert expected in rejected(raw)


def test_a_bad_shared_value_is_named_by_the_stage_it_reaches():
    # [train] values apply to both stages; the message names where it applies.
    message = rejected({**MINIMAL, "train": {"batch_size": "sixteen"}})
    assert "train.intermediate.batch_size: expected an integer >= 1" in message
    message = rejected({**MINIMAL, "train": {"tasks": {"demo-xqa": {"epochs": 0}}}})
    assert "train.tasks.demo-xqa.epochs: expected a number > 0, got 0" in message


def test_group_rules_between_keys():
    group = {"tasks": ["demo-topic", "demo-trivia-qa"], "sampling": "capped"}
    message = rejected({**MINIMAL, "groups": {"both": group}})
    assert 'groups.both.cap: sampling = "capped" needs cap = <examples>' in message
    message = rejected({**MINIMAL, "groups": {"both": {**group, "cap": -3}}})
    assert "groups.both.cap: expected an integer >= 0, got -3" in message


# -- the model family ---------------------------------------------------------------


def test_model_family_comes_from_the_kinds_table(tmp_path):
    encoder = parse_config(MINIMAL, tmp_path / "x.toml")
    code = parse_config(
        {"model": "xlt-tiny-causal", "targets": ["humaneval-xl"]}, tmp_path / "x.toml"
    )
    assert (encoder.model_family, encoder.is_code) == (ENCODER, False)
    assert (code.model_family, code.is_code) == (CAUSAL_LM, True)


def test_one_model_family_per_experiment(tmp_path):
    path = tmp_path / "mixed.toml"
    path.write_text(
        textwrap.dedent("""\
        model = "xlt-tiny"
        intermediate = ["demo-topic"]
        targets = ["humaneval-xl"]
        """),
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}:3: targets: task 'humaneval-xl' needs a causal")
    assert "'demo-topic'" in message and "an encoder with task heads" in message
