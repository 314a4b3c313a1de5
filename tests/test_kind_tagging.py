"""The tagging kind: first-sub-word labels with slow and fast tokenizers,
windows for long sentences, fixed-width gather, metric routing, and a tiny
model that learns a tagging pattern end to end."""

from __future__ import annotations

import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.config import StageHparams  # noqa: E402
from engine.errors import InputError  # noqa: E402
from engine.kinds import load_kind  # noqa: E402
from engine.kinds.tagging import IGNORE, sentences_of  # noqa: E402
from engine.metrics import tagging as tag_metrics  # noqa: E402
from engine.models.heads import TaskModel, pooling_for  # noqa: E402
from engine.models.loading import load_encoder, load_tokenizer  # noqa: E402
from engine.tasks.spec import LocalSource, TaskSpec  # noqa: E402
from engine.train import Runtime, TrainTask, evaluate, train_stage  # noqa: E402
from tests.kinds_support import fast_tiny_model, slow_tiny_model  # noqa: E402

TAGGING = load_kind("tagging")
NER_LABELS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")


def spec(metric="span_f1", labels=NER_LABELS, name="ner") -> TaskSpec:
    return TaskSpec(
        name=name,
        kind="tagging",
        labels=labels,
        languages=("en",),
        source=LocalSource(files={}, text_fields=()),
        metric=metric,
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "slow": slow_tiny_model(root / "slow"),
        "fast": fast_tiny_model(root / "fast"),
    }


@pytest.fixture(scope="module", params=["slow", "fast"])
def tokenizer(request, models):
    tok = load_tokenizer(str(models[request.param]))
    assert tok.is_fast == (request.param == "fast")
    return tok


# Latin, Cyrillic, CJK, Arabic, an emoji, punctuation, and a word that
# tokenizes to nothing.
RECORDS = [
    {"tokens": ["Anna", "lives", "in", "Москва", "."], "tags": [1, 0, 0, 3, 0]},
    {"tokens": ["東京", "は", "大きい"], "tags": [3, 0, 0]},
    {"tokens": ["مرحبا", "John", "Smith", "😀", ""], "tags": [0, 1, 2, 0, 0]},
    {"tokens": [], "tags": []},
    {"tokens": ["New", "York"], "tags": ["B-LOC", "I-LOC"]},
]


def windows_of(features, tokenizer):
    """Per unit: (record, first word, [(first-sub-word label, sub-word ids)])."""
    labels = features.token_arrays["labels"]
    out = []
    for u in range(len(features)):
        start, end = features.offsets[u], features.offsets[u + 1]
        ids, lab = features.flat_ids[start:end].tolist(), labels[start:end].tolist()
        special = set(tokenizer.all_special_ids)
        words, current = [], None
        for token_id, label in zip(ids, lab, strict=True):
            if label != IGNORE:
                current = (label, [token_id])
                words.append(current)
            elif current is not None and token_id not in special:
                current[1].append(token_id)
            else:
                assert token_id in special  # only special tokens before the words
        out.append(
            (
                int(features.unit_arrays["record_index"][u]),
                int(features.unit_arrays["word_start"][u]),
                words,
            )
        )
    return out


def test_every_word_has_exactly_one_label_on_its_first_subword(tokenizer):
    task = spec()
    features = TAGGING.featurize(tokenizer, RECORDS, task, 128, 0)
    # One window per non-empty sentence at this length; the empty one has none.
    assert features.unit_arrays["record_index"].tolist() == [0, 1, 2, 4]
    assert features.unit_arrays["n_words"].tolist() == [5, 3, 5, 2]
    for record_index, first, words in windows_of(features, tokenizer):
        record = RECORDS[record_index]
        assert first == 0
        assert len(words) == len(record["tokens"])
        tag_ids = [
            t if isinstance(t, int) else NER_LABELS.index(t) for t in record["tags"]
        ]
        assert [label for label, _ in words] == tag_ids
        for word, (_, ids) in zip(record["tokens"], words, strict=True):
            if word:
                assert tokenizer.decode(ids).strip() == word
            else:  # nothing to tokenize: the unknown token carries its label
                assert ids == [tokenizer.unk_token_id]
    # Special tokens as the tokenizer adds them, never labelled.
    row0 = features.flat_ids[: features.offsets[1]].tolist()
    with_specials = tokenizer("x")["input_ids"]
    bare = tokenizer("x", add_special_tokens=False)["input_ids"]
    n_before = with_specials.index(bare[0])
    n_after = len(with_specials) - n_before - len(bare)
    assert row0[:n_before] == with_specials[:n_before]
    assert row0[len(row0) - n_after :] == with_specials[len(with_specials) - n_after :]


def test_long_sentences_are_cut_into_windows_of_whole_words(tokenizer):
    words = [f"w{i}ord" for i in range(40)] + ["x" * 50]
    record = {"tokens": words, "tags": [i % 5 for i in range(len(words))]}
    features = TAGGING.featurize(tokenizer, [record], spec(), 24, 0)
    assert len(features) > 3
    assert features.row_lengths.max() <= 24
    seen = []
    for record_index, first, unit_words in windows_of(features, tokenizer):
        assert record_index == 0
        assert first == len(seen)
        seen.extend(unit_words)
    # Every word exactly once, in order, with its tag; the over-long word is
    # cut to what fits a window but keeps its label.
    assert [label for label, _ in seen] == record["tags"]
    for word, (_, ids) in zip(words[:-1], seen[:-1], strict=True):
        assert tokenizer.decode(ids).strip() == word
    assert tokenizer.decode(seen[-1][1]).strip() in words[-1]
    # Scoring joins the windows back into one sentence.
    gathered = {"prediction": perfect_predictions(features)}
    gold, pred, accuracy = sentences_of(gathered, features, spec())
    assert gold == pred == [[NER_LABELS[t] for t in record["tags"]]]
    assert accuracy == 1.0


def perfect_predictions(features):
    """What gather returns for a model that is always right (via collate,
    in two batches of different widths, concatenated)."""
    parts = []
    units = np.arange(len(features))
    for batch_units in np.array_split(units, 2):
        if not len(batch_units):
            continue
        batch = TAGGING.collate(features, batch_units, 0, 1)
        labels = batch["token.labels"]
        logits = torch.nn.functional.one_hot(labels.clamp(min=0), len(NER_LABELS))
        parts.append(TAGGING.gather(logits.float(), batch)["prediction"])
    return np.concatenate(parts)


def test_gather_is_fixed_width_and_pads_with_minus_one(tokenizer):
    features = TAGGING.featurize(tokenizer, RECORDS, spec(), 128, 0)
    prediction = perfect_predictions(features)
    assert prediction.shape == (4, 5)
    assert prediction[1].tolist() == [3, 0, 0, -1, -1]
    assert prediction[3].tolist() == [3, 4, -1, -1, -1]


def make_features(tokenizer, task):
    return TAGGING.featurize(tokenizer, RECORDS, task, 128, 0)


def wrong_on_one_word(features):
    prediction = perfect_predictions(features)
    prediction[2, 2] = 0  # "Smith": I-PER -> O, the PER span is cut short
    return prediction


@pytest.mark.parametrize(
    ("metric", "function", "keys"),
    [
        ("span_f1", tag_metrics.span_f1, ["f1", "accuracy"]),
        ("pos_f1", tag_metrics.pos_f1, ["f1", "accuracy"]),
        ("accuracy", tag_metrics.token_accuracy, ["accuracy"]),
    ],
)
def test_score_routes_to_the_tasks_metric(models, metric, function, keys):
    tokenizer = load_tokenizer(str(models["fast"]))
    task = spec(metric=metric)
    features = make_features(tokenizer, task)
    prediction = wrong_on_one_word(features)
    scores = TAGGING.score({"prediction": prediction}, features, [], task, "en")
    assert list(scores) == keys
    gold = [[NER_LABELS[t] for t in r["tags"]] for r in RECORDS[:3]] + [
        ["B-LOC", "I-LOC"]
    ]
    pred = [list(s) for s in gold]
    pred[2][2] = "O"
    assert scores[keys[0]] == pytest.approx(function(gold, pred))
    assert scores["accuracy"] == pytest.approx(14 / 15)
    if metric == "span_f1":
        # gold spans: PER, LOC, LOC, PER(John Smith), LOC(New York) = 5;
        # predicted: the PER span is "John" only -> 4 of 5 right each way.
        assert scores["f1"] == pytest.approx(0.8)


def test_unknown_metric_is_refused(models):
    tokenizer = load_tokenizer(str(models["fast"]))
    task = spec(metric="bleu")
    features = make_features(tokenizer, task)
    gathered = {"prediction": perfect_predictions(features)}
    with pytest.raises(ValueError, match="metric 'bleu' is not one of span_f1"):
        TAGGING.score(gathered, features, [], task, "en")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"tokens": ["a", "b"], "tags": [0]}, "record 0: 2 tokens but 1 tags"),
        ({"tokens": ["a"], "tags": [7]}, r"tag id 7 is outside 0\.\.4"),
        ({"tokens": ["a"], "tags": ["B-ORG"]}, "tag 'B-ORG' is not one of"),
        ({"tokens": ["a"]}, "expected keys 'tokens' and 'tags'"),
    ],
)
def test_bad_records_are_named(models, record, message):
    tokenizer = load_tokenizer(str(models["slow"]))
    with pytest.raises(InputError, match=message):
        TAGGING.featurize(tokenizer, [record], spec(), 64, 0)


def test_loss_ignores_everything_but_first_subwords(models):
    tokenizer = load_tokenizer(str(models["fast"]))
    features = make_features(tokenizer, spec())
    batch = TAGGING.collate(features, np.arange(len(features)), 1, 8)
    assert batch["input_ids"].shape[1] % 8 == 0
    labels = batch["token.labels"]
    good = torch.nn.functional.one_hot(labels.clamp(min=0), len(NER_LABELS)) * 20.0
    # Garbage on the ignored positions changes nothing.
    noisy = good.clone()
    noisy[labels == IGNORE] = torch.randn(int((labels == IGNORE).sum()), 5) * 50
    assert float(TAGGING.loss(noisy, batch)) == pytest.approx(
        float(TAGGING.loss(good, batch))
    )
    assert float(TAGGING.loss(good, batch)) < 1e-6


# -- end to end -----------------------------------------------------------------
NAMES = ["Anna", "Boris", "Chen", "Dara", "Emil", "Fatima", "Goran", "Hana"]
PLACES = ["paris", "rome", "oslo", "lima", "kyiv", "cairo", "delhi", "quito"]
FILLER = ["the", "saw", "went", "to", "and", "then", "we", "it", "was", "nice"]


def synthetic_records(n: int, seed: int) -> list[dict]:
    """Capitalised words are people, words after 'to' are places (one or two
    words), everything else is O: learnable from the words and their
    neighbours."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        tokens, tags = [], []
        for _ in range(rng.randint(2, 4)):
            roll = rng.random()
            if roll < 0.35:
                tokens.append(rng.choice(NAMES))
                tags.append(1)
            elif roll < 0.6:
                tokens += ["to", rng.choice(PLACES)]
                tags += [0, 3]
                if rng.random() < 0.4:
                    tokens.append(rng.choice(PLACES))
                    tags.append(4)
            else:
                tokens.append(rng.choice(FILLER))
                tags.append(0)
        out.append({"tokens": tokens, "tags": tags})
    return out


@pytest.mark.parametrize("which", ["slow", "fast"])
def test_tiny_model_learns_tagging_end_to_end(models, which):
    path = str(models[which])
    tokenizer = load_tokenizer(path)
    task = spec(metric="span_f1")
    train = TAGGING.featurize(tokenizer, synthetic_records(120, 0), task, 64, 0)
    validation = TAGGING.featurize(tokenizer, synthetic_records(40, 1), task, 64, 0)
    torch.manual_seed(0)  # the head's initial weights, as the runner does
    model = TaskModel(load_encoder(path), pooling_for(tokenizer))
    model.add_head(task, TAGGING)
    hp = StageHparams(
        learning_rate=2e-3,
        batch_size=16,
        max_steps=60,
        warmup_ratio=0.1,
        eval_every=30,
        log_every=30,
    )
    events = []
    runtime = Runtime(torch.device("cpu"))
    train_task = TrainTask(task, TAGGING, train, validation)
    result = train_stage(
        model,
        train_task,
        hp,
        runtime,
        seed=0,
        pad_id=tokenizer.pad_token_id,
        emit=lambda kind, **kw: events.append((kind, kw)),
    )
    assert result.steps == 60
    evals = [kw for kind, kw in events if kind == "eval"]
    assert [e["metric"] for e in evals] == ["f1", "f1"]
    scores = evaluate(
        model, train_task, validation, None, hp, runtime, tokenizer.pad_token_id, "en"
    )
    assert list(scores) == ["f1", "accuracy"]
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    # "Always O" gets about 0.45 accuracy and F1 0; the model learns the
    # pattern (about 0.9 accuracy and 0.8 F1 after 60 steps).
    assert scores["accuracy"] > 0.75
    assert scores["f1"] > 0.6


def test_cached_and_cut_features_still_score(models):
    """Features survive the cache's array round trip, and max_eval_examples
    (Features.head) keeps scoring consistent."""
    from engine.kinds.base import Features

    tokenizer = load_tokenizer(str(models["slow"]))
    words = [f"w{i}" for i in range(30)]
    records = [*RECORDS, {"tokens": words, "tags": [0] * 30}]
    features = TAGGING.featurize(tokenizer, records, spec(), 16, 0)
    again = Features.from_arrays(features.to_arrays())
    assert again.token_arrays["labels"].tolist() == (
        features.token_arrays["labels"].tolist()
    )
    assert again.unit_arrays.keys() == features.unit_arrays.keys()
    cut = again.head(len(again) - 1)  # the long sentence loses its last window
    prediction = perfect_predictions(cut)
    gold, pred, accuracy = sentences_of({"prediction": prediction}, cut, spec())
    assert gold == pred
    assert accuracy == 1.0
    assert gold[-1] == ["O"] * (30 - int(features.unit_arrays["n_words"][-1]))
