"""Sentence retrieval on the tiny models: pairs whose right answer is known.

The target side holds near-copies of the source sentences (capitalised, a full
stop added), shuffled; the tiny encoders have random weights, but mean-pooled
byte embeddings of near-copies are still each other's nearest neighbours.
"""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from transformers import BertConfig

from engine.config import StageHparams
from engine.kinds import load_kind
from engine.kinds.retrieval import (
    default_layer,
    embed,
    evaluate_retrieval,
    resolve_layer,
)
from engine.metrics.retrieval import bucc_mine
from engine.models.loading import load_encoder, load_tokenizer
from engine.tasks.kinds import kind_info
from engine.train import Runtime
from tests.kinds_support import fast_tiny_model, slow_tiny_model

CPU = Runtime(torch.device("cpu"))
HP = StageHparams(max_seq_length=128, batch_size=8)
TATOEBA = SimpleNamespace(name="tatoeba", metric="tatoeba_accuracy")
BUCC = SimpleNamespace(name="bucc2018", metric="bucc_f1")

ADJ = "red quiet old brave small bright lazy green tall happy".split()
NOUN = "cat river teacher window garden doctor bicycle mountain letter kitchen".split()
VERB = "watches finds paints carries follows builds opens sells cleans visits".split()
PLACE = "market station library harbour village castle bakery museum".split()
NAMES = ["anna", "omar", "li", "sven"]


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        s = (
            f"the {rng.choice(ADJ)} {rng.choice(NOUN)} {rng.choice(VERB)} a "
            f"{rng.choice(ADJ)} {rng.choice(NOUN)} near the {rng.choice(PLACE)}"
        )
        if s not in out:
            out.append(s)
    return out


def near_copy(s: str) -> str:
    return s[0].upper() + s[1:] + "."


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    folder = slow_tiny_model(tmp_path_factory.mktemp("models") / "slow")
    return load_encoder(str(folder)), load_tokenizer(str(folder))


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    folder = fast_tiny_model(tmp_path_factory.mktemp("models") / "fast")
    return load_encoder(str(folder)), load_tokenizer(str(folder))


def shuffled_pairs(n: int, seed: int = 1):
    """Source records, target near-copies in shuffled order, gold pairs."""
    texts = sentences(n)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    source = [{"id": f"s{i}", "text": t} for i, t in enumerate(texts)]
    target = [{"id": f"t{j}", "text": near_copy(texts[i])} for j, i in enumerate(order)]
    gold = [(f"s{i}", f"t{j}") for j, i in enumerate(order)]
    return source, target, gold


# -- Tatoeba ----------------------------------------------------------------


@pytest.mark.parametrize("model", ["slow", "fast"])
def test_tatoeba_finds_the_near_copies(model, request):
    encoder, tokenizer = request.getfixturevalue(model)
    source, target, gold = shuffled_pairs(20)
    scores = evaluate_retrieval(
        encoder, tokenizer, TATOEBA, source, target, gold, None, HP, CPU
    )
    assert list(scores) == ["accuracy"]
    assert scores["accuracy"] >= 0.9

    # Every English sentence paired with the wrong translation: almost nothing
    # is right any more.
    wrong = [(s, gold[(j + 1) % len(gold)][1]) for j, (s, _) in enumerate(gold)]
    scores = evaluate_retrieval(
        encoder, tokenizer, TATOEBA, source, target, wrong, None, HP, CPU
    )
    assert scores["accuracy"] <= 0.1


def test_tatoeba_without_gold_pairs_reads_the_sides_row_by_row(slow):
    encoder, tokenizer = slow
    texts = sentences(12)
    source = [{"id": str(i), "text": t} for i, t in enumerate(texts)]
    target = [{"id": str(i), "text": near_copy(t)} for i, t in enumerate(texts)]
    aligned = evaluate_retrieval(
        encoder, tokenizer, TATOEBA, source, target, None, None, HP, CPU
    )
    assert aligned["accuracy"] >= 0.9
    rotated = target[1:] + target[:1]
    scores = evaluate_retrieval(
        encoder, tokenizer, TATOEBA, source, rotated, None, None, HP, CPU
    )
    assert scores["accuracy"] <= 0.1


def test_tatoeba_max_eval_examples_keeps_whole_pairs(slow):
    encoder, tokenizer = slow
    source, target, gold = shuffled_pairs(20)
    hp = StageHparams(max_seq_length=128, batch_size=8, max_eval_examples=7)
    scores = evaluate_retrieval(
        encoder, tokenizer, TATOEBA, source, target, gold, None, hp, CPU
    )
    # The first 7 gold pairs, not the first 7 rows of each side (which, the
    # target being shuffled, would hold mostly unrelated sentences).
    assert scores["accuracy"] >= 6 / 7


def test_tatoeba_rejects_gold_pairs_that_are_not_one_to_one(slow):
    encoder, tokenizer = slow
    source, target, gold = shuffled_pairs(5)
    with pytest.raises(ValueError, match="exactly once"):
        evaluate_retrieval(
            encoder, tokenizer, TATOEBA, source, target, gold[:4], None, HP, CPU
        )
    with pytest.raises(ValueError, match="unknown id"):
        evaluate_retrieval(
            encoder, tokenizer, TATOEBA, source, target, [("s0", "nope")], None, HP, CPU
        )


# -- BUCC ---------------------------------------------------------------------


def bucc_fixture():
    """12 gold pairs; 8 unpaired sentences on each side, unlike each other and
    unlike the paired ones."""
    rng = random.Random(2)
    source, target, gold = shuffled_pairs(12)
    source += [
        {
            "id": f"x{i}",
            "text": f"{1900 + 37 * i} was the year {rng.choice(NOUN)}s "
            f"learned to {rng.choice(VERB)[:-1]}",
        }
        for i in range(8)
    ]
    target += [
        {
            "id": f"u{i}",
            "text": f"how many {rng.choice(PLACE)}s does {rng.choice(NAMES)} "
            f"own? {i * 7}",
        }
        for i in range(8)
    ]
    return source, target, gold


def test_bucc_mines_the_gold_pairs_and_its_threshold_separates_them(slow):
    encoder, tokenizer = slow
    source, target, gold = bucc_fixture()
    scores = evaluate_retrieval(
        encoder, tokenizer, BUCC, source, target, gold, None, HP, CPU
    )
    assert list(scores) == ["f1", "precision", "recall", "threshold"]
    assert scores["f1"] == 1.0
    assert scores["precision"] == 1.0 and scores["recall"] == 1.0

    # The same candidates, mined by hand: every gold pair scores at or above
    # the threshold, every other candidate below it, and there are others.
    def vectors(records):
        return embed(
            encoder, tokenizer, [r["text"] for r in records], None, 128, 16, CPU
        )

    candidates = bucc_mine(
        vectors(source),
        vectors(target),
        [r["id"] for r in source],
        [r["id"] for r in target],
    )
    gold_scores = [s for pair, s in candidates.items() if pair in set(gold)]
    other_scores = [s for pair, s in candidates.items() if pair not in set(gold)]
    assert len(gold_scores) == len(gold)
    assert other_scores, "the unpaired sentences should yield some candidates"
    assert min(gold_scores) >= scores["threshold"] > max(other_scores)


def test_bucc_with_a_wrong_gold_mapping_scores_low(slow):
    encoder, tokenizer = slow
    source, target, gold = bucc_fixture()
    wrong = [(s, gold[(j + 1) % len(gold)][1]) for j, (s, _) in enumerate(gold)]
    scores = evaluate_retrieval(
        encoder, tokenizer, BUCC, source, target, wrong, None, HP, CPU
    )
    assert scores["f1"] <= 0.2


# -- layers and embeddings ----------------------------------------------------


def test_default_layer_follows_the_xtreme_reference():
    # hidden_states index (0 = embeddings): XTREME takes 8 of 12 and 14 of 24.
    assert default_layer(BertConfig(num_hidden_layers=12)) == 8
    assert default_layer(BertConfig(num_hidden_layers=24)) == 14
    assert default_layer(BertConfig(num_hidden_layers=2)) == 2
    assert default_layer(BertConfig(num_hidden_layers=1)) == 1
    assert default_layer(SimpleNamespace(n_layer=6)) == 5


def test_layer_override_and_its_range():
    config = BertConfig(num_hidden_layers=12)
    assert resolve_layer(config, None) == 8
    assert resolve_layer(config, 0) == 0
    assert resolve_layer(config, 12) == 12
    assert resolve_layer(config, -1) == 12
    assert resolve_layer(config, -13) == 0
    for bad in (13, -14):
        with pytest.raises(ValueError, match="0 .embeddings. to 12"):
            resolve_layer(config, bad)


def test_layer_index_0_is_the_embedding_output_and_the_last_is_the_top(slow):
    encoder, tokenizer = slow
    text = "the quiet cat visits a small garden near the harbour"
    ids = torch.tensor([tokenizer(text)["input_ids"]])
    encoder.eval()
    with torch.no_grad():
        top = encoder(input_ids=ids).last_hidden_state[0].mean(0)
        bottom = encoder.embeddings(input_ids=ids)[0].mean(0)

    def unit(v):
        v = v.numpy()
        return v / np.linalg.norm(v)

    np.testing.assert_allclose(
        embed(encoder, tokenizer, [text], 2, 128, 4, CPU)[0], unit(top), atol=1e-5
    )
    np.testing.assert_allclose(
        embed(encoder, tokenizer, [text], 0, 128, 4, CPU)[0], unit(bottom), atol=1e-5
    )
    default = embed(encoder, tokenizer, [text], None, 128, 4, CPU)[0]
    np.testing.assert_allclose(default, unit(top), atol=1e-5)  # 2 of 2 layers


@pytest.mark.parametrize("model", ["slow", "fast"])
def test_embeddings_are_unit_rows_unchanged_by_padding_and_in_order(model, request):
    encoder, tokenizer = request.getfixturevalue(model)
    short = "a lazy cat."
    long = " ".join(sentences(4))
    alone = embed(encoder, tokenizer, [short], None, 256, 8, CPU)
    together = embed(encoder, tokenizer, [long, short, short], None, 256, 8, CPU)
    assert alone.dtype == together.dtype == np.float32
    assert together.shape == (3, encoder.config.hidden_size)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    # Rows come back in input order; the short sentence, padded to the long
    # one's length in its batch, has the embedding it has alone.
    np.testing.assert_allclose(together[1], alone[0], atol=1e-5)
    np.testing.assert_allclose(together[2], alone[0], atol=1e-5)
    assert not np.allclose(together[0], alone[0], atol=1e-3)


def test_embedding_ignores_dropout_and_keeps_the_training_mode(slow):
    encoder, tokenizer = slow
    texts = sentences(3)
    encoder.train()
    try:
        first = embed(encoder, tokenizer, texts, None, 128, 8, CPU)
        assert encoder.training
        second = embed(encoder, tokenizer, texts, None, 128, 8, CPU)
    finally:
        encoder.eval()
    np.testing.assert_array_equal(first, second)


def test_the_kind_is_registered_and_has_no_training():
    kind = load_kind("retrieval")
    assert kind.name == "retrieval"
    assert kind.target.mode == "embed_and_score"  # scored without training
    assert not kind_info("retrieval").trains_on_target
    with pytest.raises(TypeError, match="evaluate_retrieval"):
        kind.make_head(128, TATOEBA, 0.1, "mean")
