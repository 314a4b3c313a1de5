"""engine.stats: paired bootstrap, corrections, McNemar, reference levels,
on constructed predictions whose answer is known."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest

from engine.errors import InputError
from engine.stats.bootstrap import (
    bootstrap_cell,
    cell_rng,
    compare,
    compare_table,
    mean_of,
)
from engine.stats.mcnemar import discordant_counts, mcnemar_exact
from engine.stats.multiple import adjust, benjamini_hochberg, holm
from engine.stats.reducers import BLEU_COLUMNS, reducer
from engine.stats.reference import collapsed, reference_levels, span_collapse
from engine.stats.resample import resample_indices
from engine.stats.tables import aligned_columns, bootstrap_tables


def accuracy_systems(**systems: np.ndarray) -> dict:
    return {name: [{"accuracy": values}] for name, values in systems.items()}


def baseline_and_fixer(n: int = 1000, fixed_share: float = 0.3, seed: int = 7):
    """A baseline right on 70% of n examples and a system that fixes
    `fixed_share` of its errors and breaks nothing."""
    rng = np.random.default_rng(seed)
    baseline = np.zeros(n)
    baseline[rng.permutation(n)[: int(0.7 * n)]] = 1
    errors = np.flatnonzero(baseline == 0)
    better = baseline.copy()
    better[rng.choice(errors, int(fixed_share * errors.size), replace=False)] = 1
    return baseline, better


def test_identical_systems_interval_contains_zero_and_p_is_large():
    baseline, _ = baseline_and_fixer()
    cell = bootstrap_cell(
        accuracy_systems(baseline=baseline, same=baseline.copy()), {"accuracy": "mean"}
    )["accuracy"]
    result = compare(cell)["same"]
    assert result.delta == 0
    assert result.low <= 0 <= result.high
    assert result.p > 0.5
    assert not result.significant


def test_equal_accuracy_with_different_errors_is_not_significant():
    baseline, _ = baseline_and_fixer()
    rng = np.random.default_rng(3)
    shuffled = rng.permutation(baseline)  # same 70%, other examples
    result = compare(
        bootstrap_cell(
            accuracy_systems(baseline=baseline, other=shuffled), {"accuracy": "mean"}
        )["accuracy"]
    )["other"]
    assert result.low < 0 < result.high
    assert result.p > 0.5
    # Unrelated errors make a wide interval: about +-4 points on 1,000.
    assert result.high - result.low > 0.05


def test_fixing_30_percent_of_the_errors_on_1000_examples_is_significant():
    baseline, better = baseline_and_fixer()
    result = compare(
        bootstrap_cell(
            accuracy_systems(baseline=baseline, better=better), {"accuracy": "mean"}
        )["accuracy"]
    )["better"]
    assert result.delta == pytest.approx(0.09)
    assert result.baseline_value == pytest.approx(0.7)
    assert 0 < result.low < 0.09 < result.high
    assert result.p < 0.01
    assert result.significant
    assert (result.n_examples, result.n_resamples, result.seed) == (1000, 1000, 0)


def test_same_seed_reproduces_and_another_seed_differs():
    baseline, better = baseline_and_fixer()
    systems = accuracy_systems(baseline=baseline, better=better)
    first = bootstrap_cell(systems, {"accuracy": "mean"}, seed=11, key=("xnli", "de"))
    again = bootstrap_cell(systems, {"accuracy": "mean"}, seed=11, key=("xnli", "de"))
    other = bootstrap_cell(systems, {"accuracy": "mean"}, seed=12, key=("xnli", "de"))
    np.testing.assert_array_equal(first["accuracy"].samples, again["accuracy"].samples)
    assert not np.array_equal(first["accuracy"].samples, other["accuracy"].samples)
    assert compare(first["accuracy"])["better"].seed == 11


# -- corpus-level metrics against slow references ---------------------------

TAGS = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG"]


def random_tagging(rng: np.random.Generator, n_sentences: int) -> list[list[str]]:
    return [
        [TAGS[i] for i in rng.integers(0, len(TAGS), size=rng.integers(1, 9))]
        for _ in range(n_sentences)
    ]


def noisy_copy(rng, sentences, rate):
    return [
        [TAGS[rng.integers(len(TAGS))] if rng.random() < rate else t for t in s]
        for s in sentences
    ]


def span_counts(gold: list[list[str]], pred: list[list[str]]) -> dict[str, np.ndarray]:
    """Per-sentence tp/fp/fn of seqeval's (conlleval-mode) entity spans."""
    from seqeval.metrics.sequence_labeling import get_entities

    tp, fp, fn = [], [], []
    for g, p in zip(gold, pred, strict=True):
        gold_spans, pred_spans = set(get_entities(g)), set(get_entities(p))
        tp.append(len(gold_spans & pred_spans))
        fp.append(len(pred_spans - gold_spans))
        fn.append(len(gold_spans - pred_spans))
    return {
        k: np.asarray(v, dtype=float) for k, v in (("tp", tp), ("fp", fp), ("fn", fn))
    }


def test_span_f1_bootstrap_equals_seqeval_recomputed_on_each_resample():
    from seqeval.metrics import f1_score

    rng = np.random.default_rng(5)
    gold = random_tagging(rng, 40)
    pred_a, pred_b = noisy_copy(rng, gold, 0.3), noisy_copy(rng, gold, 0.15)
    systems = {
        "baseline": [span_counts(gold, pred_a)],
        "better": [span_counts(gold, pred_b)],
    }
    n_resamples, seed, key = 60, 4, ("panx", "de")
    cell = bootstrap_cell(
        systems, {"f1": "f1_counts"}, n_resamples=n_resamples, seed=seed, key=key
    )["f1"]
    assert cell.point[0] == pytest.approx(f1_score(gold, pred_a))
    assert cell.point[1] == pytest.approx(f1_score(gold, pred_b))

    # Slow reference: the same resampled sentences, seqeval on each resample.
    indices = np.vstack(
        list(resample_indices(len(gold), n_resamples, cell_rng(seed, *key)))
    )
    for r, rows in enumerate(indices):
        resampled_gold = [gold[i] for i in rows]
        for s, pred in enumerate((pred_a, pred_b)):
            expected = f1_score(resampled_gold, [pred[i] for i in rows])
            assert cell.samples[s, r] == pytest.approx(expected, abs=1e-12)


WORDS = "the a cat dog sat on mat ran fast slow red blue".split()


def sentences(rng, n, low=1, high=12):
    return [" ".join(rng.choice(WORDS, size=rng.integers(low, high))) for _ in range(n)]


def bleu_columns(hypotheses, references) -> dict[str, np.ndarray]:
    """Per-segment sufficient statistics, as sacrebleu extracts them
    ([hyp_len, ref_len, match_1..4, total_1..4])."""
    from sacrebleu.metrics import BLEU

    stats = np.asarray(
        BLEU()._extract_corpus_statistics(hypotheses, [references]), dtype=float
    )
    order = ["hyp_len", "ref_len", *(f"match_{i}" for i in range(1, 5))]
    order += [f"total_{i}" for i in range(1, 5)]
    return {name: stats[:, i] for i, name in enumerate(order)}


def edited(rng, references, rate):
    """References with a share `rate` of their words replaced."""
    return [
        " ".join(
            w if rng.random() > rate else str(rng.choice(WORDS)) for w in r.split()
        )
        for r in references
    ]


@pytest.mark.parametrize("smooth", ["exp", "none"])
@pytest.mark.parametrize("case", ["overlapping", "no_4gram_match", "too_short"])
def test_bleu_reducer_equals_sacrebleu_corpus_bleu(smooth, case):
    import sacrebleu

    rng = np.random.default_rng(2)
    if case == "overlapping":  # every order matches: smoothing changes nothing
        references = sentences(rng, 25, low=5)
        hypotheses = edited(rng, references, 0.3)
    elif case == "no_4gram_match":  # the exp smoothing decides the score
        references = sentences(rng, 25, low=5)
        hypotheses = sentences(rng, 25, low=5)
    else:  # 1-3 words: no 4-grams at all, sacrebleu scores 0
        references = sentences(rng, 25, high=4)
        hypotheses = sentences(rng, 25, high=4)
    expected = sacrebleu.corpus_bleu(
        hypotheses, [references], smooth_method=smooth
    ).score
    if case == "overlapping":
        assert expected > 10
    if case == "no_4gram_match":
        assert (expected > 0) == (smooth == "exp")
    columns = bleu_columns(hypotheses, references)
    name = "bleu" if smooth == "exp" else "bleu_unsmoothed"
    sums = {c: np.atleast_1d(columns[c].sum()) for c in BLEU_COLUMNS}
    got = reducer(name).reduce(sums, np.array([25.0]), "bleu")[0]
    assert got == pytest.approx(expected / 100, abs=1e-12)


def test_bleu_bootstrap_recomputes_corpus_bleu_on_each_resample():
    import sacrebleu

    rng = np.random.default_rng(9)
    references = sentences(rng, 30, low=3)
    hyp_a = [
        r if rng.random() < 0.3 else h
        for r, h in zip(references, sentences(rng, 30, low=3), strict=True)
    ]
    hyp_b = [
        r if rng.random() < 0.6 else h
        for r, h in zip(references, sentences(rng, 30, low=3), strict=True)
    ]
    systems = {
        "a": [bleu_columns(hyp_a, references)],
        "b": [bleu_columns(hyp_b, references)],
    }
    cell = bootstrap_cell(
        systems, {"bleu": "bleu"}, n_resamples=20, seed=1, key=("conala",)
    )["bleu"]
    indices = np.vstack(list(resample_indices(30, 20, cell_rng(1, "conala"))))
    for r, rows in enumerate(indices):
        refs = [references[i] for i in rows]
        for s, hyps in enumerate((hyp_a, hyp_b)):
            expected = (
                sacrebleu.corpus_bleu([hyps[i] for i in rows], [refs]).score / 100
            )
            assert cell.samples[s, r] == pytest.approx(expected, abs=1e-12)


# -- seeds and aggregates ----------------------------------------------------


def test_two_level_bootstrap_widens_the_interval_when_seeds_disagree():
    rng = np.random.default_rng(1)
    n = 2000
    baseline = (rng.random(n) < 0.7).astype(float)

    def with_accuracy(p):
        return (rng.random(n) < p).astype(float)

    agreeing = [{"accuracy": with_accuracy(0.75)} for _ in range(3)]
    disagreeing = [{"accuracy": with_accuracy(p)} for p in (0.62, 0.75, 0.88)]
    base = [{"accuracy": baseline}]
    cell_agree = bootstrap_cell({"baseline": base, "x": agreeing}, {"accuracy": "mean"})
    cell_disagree = bootstrap_cell(
        {"baseline": base, "x": disagreeing}, {"accuracy": "mean"}
    )
    agree = compare(cell_agree["accuracy"])["x"]
    disagree = compare(cell_disagree["accuracy"])["x"]
    assert disagree.n_seeds == 3
    assert (disagree.high - disagree.low) > 2 * (agree.high - agree.low)
    # The point is the mean over seeds.
    assert disagree.system_value == pytest.approx(
        np.mean([s["accuracy"].mean() for s in disagreeing])
    )


def test_target_average_is_bootstrapped_jointly_over_languages():
    cells = {}
    for i, language in enumerate(("de", "fr", "ru", "zh")):
        baseline, better = baseline_and_fixer(seed=i)
        cells[(language,)] = bootstrap_cell(
            accuracy_systems(baseline=baseline, better=better),
            {"accuracy": "mean"},
            key=("xnli", language),
        )["accuracy"]
    average = mean_of(list(cells.values()))
    assert average.n_examples == 4000
    results = compare_table({**cells, ("avg",): average}, correction="holm")
    avg = results[("avg", "better")]
    assert avg.delta == pytest.approx(
        np.mean([results[(lang, "better")].delta for lang in ("de", "fr", "ru", "zh")])
    )
    # Four independent languages: the average's interval is about half as wide.
    widest = min(r.high - r.low for k, r in results.items() if k[0] != "avg")
    assert avg.high - avg.low < 0.7 * widest
    assert all(r.correction == "holm" and r.p_adjusted >= r.p for r in results.values())


def test_qa_score_averages_em_and_f1_on_the_same_resamples():
    rng = np.random.default_rng(0)
    f1 = rng.random(500)
    columns = {"exact_match": (f1 > 0.8).astype(float), "f1": f1}
    both = bootstrap_cell(
        {"baseline": [columns], "same": [columns]},
        {"exact_match": "mean", "f1": "mean"},
    )
    score = mean_of([both["exact_match"], both["f1"]], n_examples=500)
    assert score.point[0] == pytest.approx(
        (columns["exact_match"].mean() + f1.mean()) / 2
    )
    assert score.n_examples == 500


# -- multiple comparisons, McNemar -------------------------------------------


def test_holm_and_benjamini_hochberg_match_hand_computed_values():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03,
    # 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06.
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    # BH: times 4/1, 4/2, 4/3, 4/4 = 0.02, 0.02, 0.04, 0.04 -> running min from the top.
    np.testing.assert_allclose(benjamini_hochberg(p), [0.02, 0.04, 0.04, 0.02])
    with_nan = holm([0.01, float("nan"), 0.04])
    assert math.isnan(with_nan[1])
    np.testing.assert_allclose(with_nan[[0, 2]], [0.02, 0.04])
    assert holm([0.6, 0.7]).max() == 1.0  # capped


def test_unknown_correction_or_reducer_is_an_input_error_naming_the_nearest():
    with pytest.raises(InputError, match="did you mean 'holm'"):
        adjust([0.1], "hlm")
    with pytest.raises(InputError, match="did you mean 'f1_counts'"):
        reducer("f1_count")


def test_mcnemar_exact_on_known_tables():
    # b=1, c=9: 2 * P(X <= 1 | n=10, 1/2) = 2 * 11/1024.
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact(9, 1) == pytest.approx(22 / 1024)
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    # b=0, c=6: 2 / 64.
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    a = np.array([1, 1, 0, 0, 1])
    b = np.array([1, 0, 1, 1, 1])
    assert discordant_counts(a, b) == (1, 2)


def test_mcnemar_agrees_with_scipy_binomial_test_on_large_counts():
    stats = pytest.importorskip("scipy.stats")
    expected = stats.binomtest(180, 180 + 240, 0.5).pvalue
    assert mcnemar_exact(180, 240) == pytest.approx(expected, rel=1e-9)


# -- reference levels, collapse ----------------------------------------------


def test_reference_levels_and_collapse():
    gold = [0] * 50 + [1] * 30 + [2] * 20
    levels = reference_levels(gold, labels=[0, 1, 2])
    assert (levels.majority, levels.majority_label, levels.chance) == (
        0.5,
        0,
        pytest.approx(1 / 3),
    )

    stuck = collapsed([1] * 95 + [0] * 5, gold)
    assert stuck.collapsed and stuck.top_label == 1 and stuck.top_share == 0.95
    assert not collapsed([0] * 60 + [1] * 25 + [2] * 15, gold).collapsed
    # A test set that is itself 95% one class is not a collapsed model.
    skewed_gold = [0] * 95 + [1] * 5
    assert not collapsed([0] * 100, skewed_gold).collapsed


def test_span_collapse_flags_a_tagger_that_predicts_no_spans():
    assert span_collapse(tp=3, fp=1, fn=197).collapsed  # 4 spans for 200 gold
    assert not span_collapse(tp=150, fp=30, fn=50).collapsed


# -- tables ------------------------------------------------------------------


@dataclass
class Table:
    ids: list[str]
    columns: dict[str, np.ndarray] = field(default_factory=dict)


def test_tables_are_paired_by_id_and_intersected():
    a = Table(["q1", "q2", "q3"], {"accuracy": np.array([1.0, 0.0, 1.0])})
    b = Table(["q3", "q1", "q4"], {"accuracy": np.array([0.0, 1.0, 1.0])})
    ids, columns = aligned_columns({"baseline": [a], "x": [b]}, ["accuracy"])
    assert ids == ["q1", "q3"]
    np.testing.assert_array_equal(columns["baseline"][0]["accuracy"], [1.0, 1.0])
    np.testing.assert_array_equal(columns["x"][0]["accuracy"], [1.0, 0.0])
    with pytest.raises(InputError, match="no column 'f1'"):
        aligned_columns({"baseline": [a]}, ["f1"])


def test_bootstrap_tables_pairs_by_id_whatever_the_row_order():
    baseline, better = baseline_and_fixer(n=300)
    ids = [f"en-{i}" for i in range(300)]
    order = np.random.default_rng(0).permutation(300)
    a = Table(ids, {"accuracy": baseline})
    b = Table([ids[i] for i in order], {"accuracy": better[order]})
    from_tables = bootstrap_tables(
        {"baseline": [a], "better": [b]}, {"accuracy": "mean"}
    )
    direct = bootstrap_cell(
        accuracy_systems(baseline=baseline, better=better), {"accuracy": "mean"}
    )
    np.testing.assert_array_equal(
        from_tables["accuracy"].samples, direct["accuracy"].samples
    )
