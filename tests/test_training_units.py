"""Pieces of the training path: the built-in model, batching, padding, schedule."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.config import StageHparams  # noqa: E402
from engine.data.batching import eval_batches, length_grouped_batches  # noqa: E402
from engine.data.tokenize import cached_features  # noqa: E402
from engine.kinds import load_kind  # noqa: E402
from engine.models.heads import TaskModel, pooling_for  # noqa: E402
from engine.models.loading import load_encoder, load_tokenizer  # noqa: E402
from engine.models.tiny import ensure_tiny_model  # noqa: E402
from engine.tasks import REGISTRY  # noqa: E402
from engine.train import linear_schedule, task_weights, total_steps  # noqa: E402

SENTIMENT = REGISTRY["demo-sentiment"]
CLASSIFY = load_kind("classification")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ensure_tiny_model(tmp_path_factory.mktemp("models") / "xlt-tiny")


def test_tiny_model_is_written_as_safetensors_and_loads_through_auto(tiny):
    assert (tiny / "model.safetensors").is_file()
    assert not list(tiny.glob("*.bin"))
    tokenizer = load_tokenizer(str(tiny))
    encoder = load_encoder(str(tiny))
    ids = tokenizer(["Привет", "你好"], padding=True, return_tensors="pt")
    out = encoder(**ids)
    assert out.last_hidden_state.shape[:2] == ids["input_ids"].shape
    # Byte-level: no unknown tokens in any script.
    assert tokenizer.unk_token_id not in tokenizer("مرحبا 😀")["input_ids"]
    # Written again only when missing: same folder, same weights.
    before = (tiny / "model.safetensors").stat().st_mtime_ns
    ensure_tiny_model(tiny)
    assert (tiny / "model.safetensors").stat().st_mtime_ns == before


def test_folder_without_safetensors_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"\0")
    from engine.errors import InputError

    with pytest.raises(InputError, match="safetensors"):
        load_encoder(str(tmp_path))


def records(n):
    rng = np.random.default_rng(0)
    return [
        {"texts": ["x" * int(rng.integers(1, 60))], "label": int(i % 2)}
        for i in range(n)
    ]


def featurize(tokenizer, recs, max_length=64):
    return CLASSIFY.featurize(tokenizer, recs, SENTIMENT, max_length, 128)


def test_length_grouped_batches_cover_every_example_once(tiny):
    tokenizer = load_tokenizer(str(tiny))
    lengths = featurize(tokenizer, records(1000)).unit_lengths
    batches = length_grouped_batches(lengths, 16, np.random.default_rng(1))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    # Grouping by length: far less padding than random batches would need.
    padded = sum(len(b) * lengths[b].max() for b in batches)
    assert padded < 1.15 * lengths.sum()
    assert sorted(np.concatenate(eval_batches(lengths, 64)).tolist()) == list(
        range(1000)
    )


def test_collate_pads_dynamically_and_masks(tiny):
    tokenizer = load_tokenizer(str(tiny))
    features = featurize(
        tokenizer, [{"texts": ["ab"], "label": 0}, {"texts": ["abcdef"], "label": 1}]
    )
    batch = CLASSIFY.collate(features, np.array([0, 1]), tokenizer.pad_token_id, 1)
    assert batch["input_ids"].shape == (2, 7)  # longest + </s>, not max_length
    assert batch["attention_mask"].sum().item() == 3 + 7
    assert batch["labels"].tolist() == [0, 1]


def test_features_are_cached_and_reused(tiny, tmp_path):
    tokenizer = load_tokenizer(str(tiny))
    calls = []

    def load():
        calls.append(1)
        return records(50)

    def cached(fingerprint):
        return cached_features(
            CLASSIFY, tokenizer, SENTIMENT, load, fingerprint, 32, tmp_path
        )

    first, second = cached("fp-1"), cached("fp-1")
    assert len(calls) == 1
    assert np.array_equal(first.flat_ids, second.flat_ids)
    assert np.array_equal(first.unit_arrays["labels"], second.unit_arrays["labels"])
    cached("fp-2")  # other data: other key
    assert len(calls) == 2


def test_mean_pooling_for_byte_tokenizer(tiny):
    tokenizer = load_tokenizer(str(tiny))
    assert pooling_for(tokenizer) == "mean"
    model = TaskModel(load_encoder(str(tiny)), "mean")
    model.add_head(SENTIMENT, CLASSIFY)
    enc = tokenizer(["a", "abcd"], padding=True, return_tensors="pt")
    assert model(SENTIMENT.name, dict(enc)).shape == (2, len(SENTIMENT.labels))


def test_multi_task_sampling_weights():
    assert task_weights([100, 300]).tolist() == [0.25, 0.75]
    assert task_weights([100, 300], "capped", cap=100).tolist() == [0.5, 0.5]
    w = task_weights([100, 400], "temperature", temperature=2.0)
    assert w.tolist() == pytest.approx([10 / 30, 20 / 30])


def test_schedule_warms_up_then_decays_to_zero():
    hp = StageHparams(batch_size=10, epochs=2, grad_accum=2)
    assert total_steps(100, hp) == 10
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1.0)
    sched = linear_schedule(opt, warmup=2, total=10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.5) and lrs[1] == pytest.approx(1.0)
    assert lrs[2] > lrs[5] > lrs[9] > 0
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0)
