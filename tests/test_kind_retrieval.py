"""Sentence retrieval on the tiny models: pairs whose right answer is known.

The target side holds near-copies of the source sentences (capitalised, a full
stop added), shuffled; the tiny encoders have random weights, but mean-pooled
byte embeddings of near-copies are still each other's nearest neighbours.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from transformers import BertConfig

from engine.config import StageHparams, load_config
from engine.data.records import load_records
from engine.data.retrieval_pairs import count_unpaired, split_retrieval_records
from engine.errors import InputError
from engine.kinds import load_kind
from engine.kinds.base import Score
from engine.kinds.retrieval import (
    EmbeddingTarget,
    default_layer,
    device_knn,
    embed,
    evaluate_retrieval,
    resolve_layer,
)
from engine.metrics.retrieval import bucc_f1, bucc_mine, exact_knn, l2_normalize
from engine.models.loading import load_encoder, load_tokenizer
from engine.store import Store
from engine.tasks.kinds import kind_info
from engine.train import Runtime
from tests.conftest import run_engine
from tests.kinds_support import fast_tiny_model, slow_tiny_model
from tests.test_hub_loaders import hf_offline  # noqa: F401 (autouse: hub off)

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


# -- BUCC as XTREME scores it: full corpora, the threshold from validation ----

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BUCC_RELEASE = FIXTURES / "bucc2018"  # tests/fixtures/build_bucc_fixtures.py
XTREME_MIRROR = FIXTURES / "hub" / "google" / "xtreme"


def bucc_task(tmp_path, data: str):
    """The registered bucc2018 task as a config's [data.bucc2018] reads it."""
    config = tmp_path / "bucc.toml"
    config.write_text(
        'model = "xlt-tiny"\nintermediate = []\ntargets = ["bucc2018"]\n'
        '[languages]\nbucc2018 = ["de"]\n' + data,
        encoding="utf-8",
    )
    return load_config(config).task("bucc2018")


def bucc_target(task, encoder_and_tokenizer, hp=HP):
    """The stage's EmbeddingTarget on the tiny model; `reads` counts which
    splits it read."""
    encoder, tokenizer = encoder_and_tokenizer
    reads: list[str] = []

    def records(task, split, language):
        reads.append(split)
        return load_records(task, split, language)

    ctx = SimpleNamespace(records=records, tokenizer=tokenizer, runtime=CPU)
    stage = SimpleNamespace(target_task=task, hparams=hp)
    return EmbeddingTarget(stage, ctx, encoder, default_layer(encoder.config)), reads


def gold_only_copy(folder: Path, release: str) -> None:
    """The release's sentences in gold pairs only, as the hub's copy holds."""
    src = BUCC_RELEASE / "de-en"
    folder.mkdir(parents=True, exist_ok=True)
    gold = (src / f"de-en.{release}.gold").read_text(encoding="utf-8")
    keep = {i for line in gold.splitlines() for i in line.split("\t")}
    for side in ("de", "en"):
        lines = (src / f"de-en.{release}.{side}").read_text(encoding="utf-8")
        kept = [ln for ln in lines.splitlines() if ln.split("\t")[0] in keep]
        (folder / f"de-en.{release}.{side}").write_text(
            "".join(f"{ln}\n" for ln in kept), encoding="utf-8"
        )
    (folder / f"de-en.{release}.gold").write_text(gold, encoding="utf-8")


def test_bucc_release_folder_reads_every_sentence_of_both_releases(tmp_path):
    task = bucc_task(tmp_path, f'[data.bucc2018]\npath = "{BUCC_RELEASE}"\n')
    for split, n_gold, n_side in (("validation", 8, 14), ("test", 8, 16)):
        source, target, gold = split_retrieval_records(load_records(task, split, "de"))
        assert (len(source), len(target), len(gold)) == (n_side, n_side, n_gold)
        assert count_unpaired(source, target, gold) == (n_side - 8, n_side - 8)
    first = load_records(task, "test", "de")[0]
    assert first["id"] == "de-000000001" and first["side"] == "source"
    assert first["gold"] == ["en-000000010"]  # de-en.training.gold, line 1


def test_bucc_folder_as_xtreme_leaves_it_says_the_test_gold_is_missing(tmp_path):
    # scripts/download_data.sh renames sample -> dev, training -> test and
    # deletes test.gold.
    folder = tmp_path / "bucc2018"
    folder.mkdir()
    for f in (BUCC_RELEASE / "de-en").iterdir():
        renamed = f.name.replace("sample", "dev").replace("training", "test")
        if renamed != "de-en.test.gold":
            shutil.copy(f, folder / renamed)
    task = bucc_task(tmp_path, f'[data.bucc2018]\npath = "{folder}"\n')
    assert len(load_records(task, "validation", "de")) == 28
    with pytest.raises(InputError, match=r"de-en\.test\.gold.*training-gold"):
        load_records(task, "test", "de")


def test_bucc_test_score_takes_the_validation_threshold_unchanged(tmp_path, slow):
    task = bucc_task(tmp_path, f'[data.bucc2018]\npath = "{BUCC_RELEASE}"\n')
    target, reads = bucc_target(task, slow)
    dev = target.score("de", "validation")
    test = target.score("de", "test")
    assert reads == ["validation", "test"]  # validation mined once, not twice

    # Validation reports its own optimum (XTREME's dev score).
    assert dev.extra["threshold_from"] == "validation"
    assert dev.metrics["f1"] == 1.0
    # Test: dev's threshold, applied as it is.
    assert test.extra["threshold_from"] == "validation"
    assert test.extra["threshold"] == dev.metrics["threshold"]
    assert test.metrics["threshold"] == dev.metrics["threshold"]
    assert test.extra["comparable"] is True and "not_comparable" not in test.extra
    assert test.n_examples == 16  # every German sentence, distractors too

    # The test split's own optimum is another threshold, with a better F1
    # than the one reported: choosing on test would flatter the score.
    mined = target._mine("de", "test")
    own = bucc_f1(mined.candidates, mined.corpus.gold)
    assert own["threshold"] != test.metrics["threshold"]
    assert own["f1"] > test.metrics["f1"]
    assert test.metrics == bucc_f1(
        mined.candidates, mined.corpus.gold, dev.metrics["threshold"]
    )


def test_bucc_distractors_lower_precision_and_a_gold_only_copy_is_flagged(
    tmp_path, slow
):
    full_task = bucc_task(tmp_path, f'[data.bucc2018]\npath = "{BUCC_RELEASE}"\n')
    full, _ = bucc_target(full_task, slow)
    folder = tmp_path / "gold-only"
    for release in ("sample", "training"):
        gold_only_copy(folder, release)
    gold_task = bucc_task(tmp_path, f'[data.bucc2018]\npath = "{folder}"\n')
    gold_only, _ = bucc_target(gold_task, slow)

    with_distractors = full.score("de", "test")
    without = gold_only.score("de", "test")
    assert without.metrics["precision"] > with_distractors.metrics["precision"]
    assert without.extra["comparable"] is False
    reason = without.extra["not_comparable"]
    assert "only the gold pairs" in reason and "validation and test" in reason
    assert with_distractors.extra["comparable"] is True


def test_bucc_from_the_hub_copy_is_not_comparable(tmp_path, slow):
    # The default source (google/xtreme "bucc18.de": gold pairs only), read
    # from the fixture mirror in the hub's layout.
    task = bucc_task(tmp_path, f'[data.bucc2018]\npath = "{XTREME_MIRROR}"\n')
    target, reads = bucc_target(task, slow)
    score = target.score("de", "test")
    assert reads == ["test", "validation"]  # the threshold still from validation
    assert score.extra["threshold_from"] == "validation"
    assert score.extra["comparable"] is False
    assert (
        "only the gold pairs, no distractor sentences"
        in (score.extra["not_comparable"])
    )
    # As stored: result.json and results.jsonl carry Score.as_dict's keys.
    stored = score.as_dict()
    assert stored["comparable"] is False and stored["not_comparable"]
    assert Score.from_dict(stored).extra == score.extra


def test_bucc_without_a_validation_corpus_is_flagged(tmp_path, slow):
    gold = BUCC_RELEASE / "de-en" / "de-en.training.gold"
    task = bucc_task(tmp_path, f'[data.bucc2018.files]\ntest = {{ de = "{gold}" }}\n')
    target, reads = bucc_target(task, slow)
    score = target.score("de", "test")
    assert reads == ["test"]
    assert score.extra["threshold_from"] == "test"
    assert score.extra["comparable"] is False
    assert (
        "threshold chosen on the test gold pairs themselves"
        in (score.extra["not_comparable"])
    )


def test_bucc_cut_by_max_eval_examples_is_flagged(tmp_path, slow):
    task = bucc_task(tmp_path, f'[data.bucc2018]\npath = "{BUCC_RELEASE}"\n')
    hp = StageHparams(max_seq_length=128, batch_size=8, max_eval_examples=10)
    target, _ = bucc_target(task, slow, hp)
    score = target.score("de", "test")
    assert score.n_examples == 10
    assert "first 10 sentences of each side" in score.extra["not_comparable"]


def test_bucc_malformed_line_names_the_file_and_line(tmp_path):
    folder = tmp_path / "bucc2018" / "de-en"
    shutil.copytree(BUCC_RELEASE / "de-en", folder)
    path = folder / "de-en.training.en"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("\t", " ")  # id and sentence run together
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    task = bucc_task(tmp_path, f'[data.bucc2018]\npath = "{folder.parent}"\n')
    with pytest.raises(InputError) as error:
        load_records(task, "test", "de")
    assert str(error.value).startswith(f"{path}:3: expected id<TAB>sentence")

    # As a user meets it (local files are parsed before a run starts): exit
    # code 2, the file and line, no traceback, nothing written.
    gold = folder / "de-en.training.gold"
    config = tmp_path / "bad.toml"
    config.write_text(
        'model = "xlt-tiny"\nintermediate = []\ntargets = ["bucc2018"]\n'
        '[languages]\nbucc2018 = ["de"]\n'
        f'[data.bucc2018.files]\ntest = {{ de = "{gold}" }}\n',
        encoding="utf-8",
    )
    result = run_engine("run", str(config), "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 2
    assert f"{path}:3: expected id<TAB>sentence" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ws" / "runs").exists()


def test_bucc_duplicate_sentence_id_names_the_line(tmp_path):
    folder = tmp_path / "de-en"
    shutil.copytree(BUCC_RELEASE / "de-en", folder)
    path = folder / "de-en.sample.de"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.append(lines[0].split("\t")[0] + "\tanother sentence")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    task = bucc_task(tmp_path, f'[data.bucc2018]\npath = "{folder}"\n')
    with pytest.raises(InputError, match=rf"{path}:15: sentence id 'de-000000001'"):
        load_records(task, "validation", "de")


@pytest.mark.parametrize("k", [1, 4])
def test_device_search_finds_the_exact_neighbours(k):
    rng = np.random.default_rng(0)
    queries = l2_normalize(rng.standard_normal((50, 16)).astype(np.float32))
    database = l2_normalize(rng.standard_normal((300, 16)).astype(np.float32))
    sims, inds = device_knn(torch.device("cpu"), budget_bytes=4 * 300 * 7)(
        queries, database, k
    )
    full = queries @ database.T
    expected = np.argsort(-full, axis=1, kind="stable")[:, :k]
    assert (inds == expected).all()
    assert np.allclose(sims, np.take_along_axis(full, expected, axis=1), atol=1e-6)
    assert (exact_knn(queries, database, k)[1] == expected).all()


def test_exact_search_breaks_ties_towards_the_lower_index():
    database = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]], np.float32)
    queries = np.array([[1.0, 0.0]], np.float32)
    assert exact_knn(queries, database, 2)[1].tolist() == [[0, 2]]


def test_a_run_on_the_hub_copy_stores_the_flag_with_the_result(tmp_path):
    config = tmp_path / "hub.toml"
    config.write_text(
        'model = "xlt-tiny"\nintermediate = []\ntargets = ["bucc2018"]\n'
        '[languages]\nbucc2018 = ["de"]\n'
        f'[data.bucc2018]\npath = "{XTREME_MIRROR}"\n',
        encoding="utf-8",
    )
    ws = tmp_path / "ws"
    result = run_engine("run", str(config), "--workspace", str(ws))
    assert result.returncode == 0, result.stderr[-2000:]
    (record,) = Store(ws / "xlt.json").results()
    assert (record["target"], record["split"]) == ("bucc2018", "test")
    assert record["comparable"] is False
    assert "only the gold pairs" in record["not_comparable"]
    assert record["threshold_from"] == "validation"
    assert record["threshold"] == record["metrics"]["threshold"]


def test_bucc_folder_without_the_sample_release_says_the_threshold_needs_it(
    tmp_path, slow
):
    folder = tmp_path / "bucc2018" / "de-en"
    folder.mkdir(parents=True)
    for f in (BUCC_RELEASE / "de-en").glob("de-en.training.*"):
        shutil.copy(f, folder / f.name)
    task = bucc_task(tmp_path, f'[data.bucc2018]\npath = "{folder.parent}"\n')
    target, _ = bucc_target(task, slow)
    with pytest.raises(InputError) as error:
        target.score("de", "test")
    message = str(error.value)
    assert "the test threshold is chosen on the validation ('sample') corpus" in (
        message
    )
    assert "de-en.sample.{de,en,gold}" in message
