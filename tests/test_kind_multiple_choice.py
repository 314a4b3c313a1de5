"""The multiple-choice kind: one row per choice grouped by question, first
segment truncated, a fixed number of choices, a head whose scores reshape to
(questions, choices), and a tiny model that learns to pick the right choice."""

from __future__ import annotations

import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.config import StageHparams  # noqa: E402
from engine.errors import InputError  # noqa: E402
from engine.kinds import load_kind  # noqa: E402
from engine.kinds.multiple_choice import choice_pairs  # noqa: E402
from engine.models.heads import TaskModel, pooling_for  # noqa: E402
from engine.models.loading import load_encoder, load_tokenizer  # noqa: E402
from engine.tasks.spec import LocalSource, TaskSpec  # noqa: E402
from engine.train import Runtime, TrainTask, evaluate, train_stage  # noqa: E402
from tests.kinds_support import fast_tiny_model, slow_tiny_model  # noqa: E402

CHOICE = load_kind("multiple_choice")


def spec(n_choices=4, name="mc") -> TaskSpec:
    return TaskSpec(
        name=name,
        kind="multiple_choice",
        labels=tuple(str(i) for i in range(n_choices)),
        languages=("en",),
        source=LocalSource(files={}, text_fields=()),
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
    return load_tokenizer(str(models[request.param]))


RECORDS = [
    {
        "id": "hs-1",
        "context": "A man is sitting on a roof.",
        "question": "He",
        "choices": ["starts pulling up roofing.", "is ice skating.", "eats.", "ок"],
        "label": 0,
    },
    {  # CommonsenseQA style: no context, the question is the first segment
        "id": "csqa-1",
        "context": "",
        "question": "Where would you put a 東京 map?",
        "choices": ["drawer", "sky", "ocean", "مرحبا"],
        "label": 3,
    },
    {  # Cosmos QA style: a context, a question, answers
        "id": "cosmos-1",
        "context": "We went to the beach. It rained all day.",
        "question": "Why were they sad?",
        "choices": ["The rain.", "The sun.", "None of the above.", "Sand."],
        "label": 0,
    },
]


def row_text(tokenizer, features, row):
    ids = features.flat_ids[features.offsets[row] : features.offsets[row + 1]]
    return tokenizer.decode(ids.tolist(), skip_special_tokens=True)


def test_one_row_per_choice_grouped_by_question(tokenizer):
    features = CHOICE.featurize(tokenizer, RECORDS, spec(), 128, 0)
    assert features.rows_per_unit == 4
    assert len(features) == 3
    assert features.unit_arrays["labels"].tolist() == [0, 3, 0]
    for u, record in enumerate(RECORDS):
        for j, (first, second) in enumerate(choice_pairs(record)):
            text = row_text(tokenizer, features, u * 4 + j)
            assert text.replace(" ", "") == (first + second).replace(" ", "")
            assert text.rstrip().endswith(record["choices"][j])
    # The segments: (context, question + choice); no context -> (question, choice).
    assert choice_pairs(RECORDS[0])[1] == (
        "A man is sitting on a roof.",
        "He is ice skating.",
    )
    assert choice_pairs(RECORDS[1])[0] == ("Where would you put a 東京 map?", "drawer")
    # Special tokens as the tokenizer puts them around a pair.
    first_row = features.flat_ids[: features.offsets[1]].tolist()
    assert first_row == tokenizer(*choice_pairs(RECORDS[0])[0])["input_ids"]


def test_truncation_cuts_the_context_and_keeps_the_choices(tokenizer):
    record = {
        "id": "long",
        "context": "blah " * 100,
        "question": "So",
        "choices": ["one ending", "two endings", "three", "four four four"],
        "label": 2,
    }
    too_long_choice = dict(record, id="huge", choices=["x" * 300, "a", "b", "c"])
    features = CHOICE.featurize(tokenizer, [record, too_long_choice], spec(), 48, 0)
    assert features.row_lengths.max() <= 48
    for j, choice in enumerate(record["choices"]):
        text = row_text(tokenizer, features, j)
        assert text.startswith("blah") and text.endswith("So " + choice)
        assert features.row_lengths[j] == 48
    # A choice longer than the whole row: cut together with its context.
    assert features.row_lengths[4] == 48
    assert "xxxx" in row_text(tokenizer, features, 4)


def test_a_record_with_another_number_of_choices_is_refused(models):
    tokenizer = load_tokenizer(str(models["slow"]))
    bad = dict(RECORDS[2], id="cosmos-7", choices=["a", "b", "c"])
    with pytest.raises(InputError, match=r"record 3 \(id 'cosmos-7'\) has 3 choices"):
        CHOICE.featurize(tokenizer, [*RECORDS, bad], spec(4), 64, 0)
    # The count comes from the task's labels (CommonsenseQA: 5) ...
    with pytest.raises(InputError, match="must have 5"):
        CHOICE.featurize(tokenizer, RECORDS, spec(5), 64, 0)
    # ... or, when the task names none, from the first record.
    features = CHOICE.featurize(tokenizer, RECORDS, spec(0), 64, 0)
    assert features.rows_per_unit == 4
    with pytest.raises(InputError, match=r"label 4 is outside 0\.\.3"):
        CHOICE.featurize(tokenizer, [dict(RECORDS[0], label=4)], spec(), 64, 0)


def test_collate_head_loss_and_gather_shapes(models):
    path = str(models["fast"])
    tokenizer = load_tokenizer(path)
    features = CHOICE.featurize(tokenizer, RECORDS, spec(), 128, 0)
    batch = CHOICE.collate(features, np.array([2, 0]), tokenizer.pad_token_id, 8)
    assert batch["input_ids"].shape[0] == 2 * 4
    assert batch["input_ids"].shape[1] % 8 == 0
    assert batch["labels"].tolist() == [0, 0]
    # Rows of unit 2 come first, in choice order.
    expected = tokenizer(*choice_pairs(RECORDS[2])[1])["input_ids"]
    assert batch["input_ids"][1, : len(expected)].tolist() == expected
    torch.manual_seed(0)
    model = TaskModel(load_encoder(path), pooling_for(tokenizer))
    model.add_head(spec(), CHOICE)
    model.eval()
    single = {k: v[5:6] for k, v in batch.items() if k != "labels"}
    single["labels"] = batch["labels"][:1]
    with torch.no_grad():
        outputs = model("mc", batch)
        alone = model("mc", single)
    assert outputs.shape == (2, 4)
    # Each score belongs to its own row: scoring row 5 alone gives the same.
    assert float(alone[0, 0]) == pytest.approx(float(outputs[1, 1]), abs=1e-5)
    loss = CHOICE.loss(outputs, batch)
    assert loss.shape == () and float(loss) > 0
    prediction = CHOICE.gather(outputs, batch)["prediction"]
    assert prediction.shape == (2,)
    assert prediction.tolist() == outputs.argmax(-1).tolist()


def test_score_is_accuracy_over_questions(models):
    tokenizer = load_tokenizer(str(models["slow"]))
    features = CHOICE.featurize(tokenizer, RECORDS, spec(), 64, 0)
    gathered = {"prediction": np.array([0, 1, 0])}
    assert CHOICE.score(gathered, features, [], spec(), "en") == {
        "accuracy": pytest.approx(2 / 3)
    }


# -- end to end -----------------------------------------------------------------
GOOD = ["sunny", "happy", "calm", "warm", "bright", "kind"]
BAD = ["rainy", "angry", "loud", "cold", "dark", "mean"]


def synthetic_records(n: int, seed: int) -> list[dict]:
    """The right ending is the one with a 'good' word, at a random place."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = rng.randrange(4)
        choices = [f"it was {rng.choice(BAD)}" for _ in range(4)]
        choices[label] = f"it was {rng.choice(GOOD)}"
        out.append(
            {
                "id": f"q{i}",
                "context": f"Day {rng.randint(1, 30)} of the trip.",
                "question": "Then",
                "choices": choices,
                "label": label,
            }
        )
    return out


@pytest.mark.parametrize("which", ["slow", "fast"])
def test_tiny_model_learns_multiple_choice_end_to_end(models, which):
    path = str(models[which])
    tokenizer = load_tokenizer(path)
    task = spec()
    train = CHOICE.featurize(tokenizer, synthetic_records(100, 0), task, 64, 0)
    validation = CHOICE.featurize(tokenizer, synthetic_records(40, 1), task, 64, 0)
    torch.manual_seed(0)  # the head's initial weights, as the runner does
    model = TaskModel(load_encoder(path), pooling_for(tokenizer))
    model.add_head(task, CHOICE)
    hp = StageHparams(
        learning_rate=2e-3,
        batch_size=8,
        max_steps=50,
        warmup_ratio=0.1,
        eval_every=25,
        log_every=25,
    )
    events = []
    runtime = Runtime(torch.device("cpu"))
    train_task = TrainTask(task, CHOICE, train, validation)
    result = train_stage(
        model,
        train_task,
        hp,
        runtime,
        seed=0,
        pad_id=tokenizer.pad_token_id,
        emit=lambda kind, **kw: events.append((kind, kw)),
    )
    assert result.steps == 50
    assert [kw["metric"] for kind, kw in events if kind == "eval"] == ["accuracy"] * 2
    scores = evaluate(
        model, train_task, validation, None, hp, runtime, tokenizer.pad_token_id, "en"
    )
    assert list(scores) == ["accuracy"]
    # Chance is 0.25; the tiny models get (nearly) all right after 50 steps.
    assert 0.7 < scores["accuracy"] <= 1.0
