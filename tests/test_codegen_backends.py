"""Backend choice for generation and vLLM's requests (a fake `vllm` module:
vLLM is not installed here and there is no GPU; the real vLLM path is not
run by these tests)."""

import sys
import types

import pytest

from engine.codegen import backends
from engine.codegen.backends import VllmGenerator, choose_backend, vllm_requests
from engine.codegen.generate import sample_seed
from engine.config.generation import GenerationSettings
from engine.errors import InputError


class FakeSamplingParams:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


class FakeLLM:
    def __init__(self, model, dtype):
        self.model = model

    def generate(self, prompts, params):
        return [
            types.SimpleNamespace(
                outputs=[
                    types.SimpleNamespace(
                        text=f"    return {p.seed}\ndef other():",
                        finish_reason="stop",
                        stop_reason="\ndef ",
                        token_ids=[1, 2, 3],
                    )
                ]
            )
            for p in params
        ]


@pytest.fixture
def fake_vllm(monkeypatch):
    module = types.ModuleType("vllm")
    module.SamplingParams = FakeSamplingParams
    module.LLM = FakeLLM
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setattr(backends, "_vllm_installed", lambda: True)
    return module


RECORDS = [
    {"task_id": "HumanEval/0", "prompt": "def f():\n"},
    {"task_id": "X/1", "prompt": "def g():\n"},
]


def test_auto_falls_back_to_transformers_with_the_reason(monkeypatch):
    monkeypatch.setattr(backends, "_vllm_installed", lambda: False)
    choice = choose_backend("auto", "cpu")
    assert choice.name == "transformers"
    assert "vllm is not installed" in choice.as_dict()["backend_note"]


def test_auto_takes_vllm_only_with_a_gpu(fake_vllm, monkeypatch):
    monkeypatch.setattr(backends, "_cuda_available", lambda: True)
    assert choose_backend("auto", "cuda").name == "vllm"
    assert choose_backend("auto", "cpu").name == "transformers"
    assert choose_backend("transformers", "cuda").name == "transformers"


def test_vllm_asked_for_but_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(backends, "_vllm_installed", lambda: False)
    with pytest.raises(InputError, match="pip install vllm"):
        choose_backend("vllm", "cuda")


def test_every_sampled_request_carries_its_own_seed(fake_vllm):
    settings = GenerationSettings(do_sample=True, n_samples=3, temperature=0.8, seed=7)
    requests = vllm_requests(["a", "b"], RECORDS, settings, fake_vllm)
    assert len(requests) == 6
    for _, params, i, j in requests:
        assert params.seed == sample_seed(7, RECORDS[i]["task_id"], j)
        assert params.temperature == 0.8 and params.n == 1
    assert len({p.seed for _, p, _, _ in requests}) == 6


def test_greedy_requests_have_temperature_zero_and_no_seed(fake_vllm):
    requests = vllm_requests(["a", "b"], RECORDS, GenerationSettings(), fake_vllm)
    assert [p.temperature for _, p, _, _ in requests] == [0.0, 0.0]
    assert all(not hasattr(p, "seed") for _, p, _, _ in requests)


def test_vllm_completions_come_back_in_order_cut_at_stops(fake_vllm):
    settings = GenerationSettings(do_sample=True, n_samples=2, temperature=0.8)
    out = VllmGenerator("/models/x").generate(RECORDS, settings)
    assert [(c["task_id"], c["completion_index"]) for c in out] == [
        ("HumanEval/0", 0), ("HumanEval/0", 1), ("X/1", 0), ("X/1", 1),
    ]  # fmt: skip
    seed = sample_seed(0, "X/1", 1)
    assert out[3]["completion"] == f"    return {seed}"
    assert out[3]["stopped"] == "stop_sequence"


def target_with(tmp_path, trained):
    from engine.codeeval.sandbox import Limits
    from engine.kinds.code_generation import GenerationTarget

    stage = types.SimpleNamespace(
        generation=GenerationSettings(do_sample=True, n_samples=2, temperature=0.8),
        key="k1",
        model_key=None,
    )
    ctx = types.SimpleNamespace(
        runtime=types.SimpleNamespace(device="cuda:0"),
        start_of=lambda stage: "/models/start",
        workspace=types.SimpleNamespace(checkpoint_dir=lambda key: tmp_path / key),
    )
    return GenerationTarget(stage, ctx, lm=None, limits=Limits(), trained=trained)


def test_a_target_stage_generates_through_vllm_and_records_it(
    fake_vllm, monkeypatch, tmp_path
):
    monkeypatch.setattr(backends, "_cuda_available", lambda: True)
    target = target_with(tmp_path, trained=None)
    assert target.summary["generation"]["backend"] == "vllm"
    out = target._generate(RECORDS, target.stage.generation)
    assert len(out) == 4 and target._vllm.llm.model == "/models/start"


def test_an_unsaved_trained_model_falls_back_to_transformers(
    fake_vllm, monkeypatch, tmp_path
):
    monkeypatch.setattr(backends, "_cuda_available", lambda: True)
    target = target_with(tmp_path, trained={"steps": 3})
    assert target.backend.name == "transformers"
    assert "not saved" in target.summary["generation"]["backend_note"]
