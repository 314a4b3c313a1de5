"""Pieces of the training path: the built-in model, batching, padding, schedule."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.config import StageHparams  # noqa: E402
from engine.data.batching import collate, eval_batches, length_grouped_batches  # noqa: E402
from engine.data.examples import Example  # noqa: E402
from engine.data.tokenize import cached_tokenize, tokenize_examples  # noqa: E402
from engine.models.heads import TaskModel, pooling_for  # noqa: E402
from engine.models.loading import load_encoder, load_tokenizer  # noqa: E402
from engine.models.tiny import ensure_tiny_model  # noqa: E402
from engine.train import linear_schedule, total_steps  # noqa: E402


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


def examples(n):
    rng = np.random.default_rng(0)
    return [Example(("x" * int(rng.integers(1, 60)),), int(i % 2)) for i in range(n)]


def test_length_grouped_batches_cover_every_example_once(tiny):
    tokenizer = load_tokenizer(str(tiny))
    split = tokenize_examples(tokenizer, examples(1000), max_length=64)
    batches = length_grouped_batches(split, 16, np.random.default_rng(1))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    # Grouping by length: far less padding than random batches would need.
    padded = sum(len(b) * split.lengths[b].max() for b in batches)
    assert padded < 1.15 * split.lengths.sum()
    assert sorted(np.concatenate(eval_batches(split, 64)).tolist()) == list(range(1000))


def test_collate_pads_dynamically_and_masks(tiny):
    tokenizer = load_tokenizer(str(tiny))
    split = tokenize_examples(
        tokenizer, [Example(("ab",), 0), Example(("abcdef",), 1)], max_length=64
    )
    batch = collate(split, np.array([0, 1]), pad_id=tokenizer.pad_token_id)
    assert batch["input_ids"].shape == (2, 7)  # longest + </s>, not max_length
    assert batch["attention_mask"].sum().item() == 3 + 7
    assert batch["labels"].tolist() == [0, 1]


def test_tokenized_split_is_cached_and_reused(tiny, tmp_path):
    tokenizer = load_tokenizer(str(tiny))
    calls = []

    def load():
        calls.append(1)
        return examples(50)

    first = cached_tokenize(tokenizer, load, "fp-1", 32, tmp_path)
    second = cached_tokenize(tokenizer, load, "fp-1", 32, tmp_path)
    assert len(calls) == 1
    assert np.array_equal(first.flat_ids, second.flat_ids)
    cached_tokenize(tokenizer, load, "fp-2", 32, tmp_path)  # other data: other key
    assert len(calls) == 2


def test_mean_pooling_for_byte_tokenizer(tiny):
    tokenizer = load_tokenizer(str(tiny))
    assert pooling_for(tokenizer) == "mean"
    model = TaskModel(load_encoder(str(tiny)), "mean")
    model.add_classification_head("t", 3)
    enc = tokenizer(["a", "abcd"], padding=True, return_tensors="pt")
    assert model("t", **enc).shape == (2, 3)


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
