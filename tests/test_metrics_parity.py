"""Parity of xlt's XTREME metrics with the official scripts, on hand-checked cases.

Every expected number below was worked out by hand from the official scripts'
rules (SQuAD v1.1/v2.0 evaluate, MLQA mlqa_evaluation_v1.py, seqeval's default
f1_score, XTREME's utils_retrieve.py and evaluate.py); the comments show the work.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from engine.metrics import mlqa as mlqa_module
from engine.metrics import squad as squad_module
from engine.metrics.mlqa import mixed_segmentation, mlqa
from engine.metrics.registry import (
    METRIC_SPECS,
    XTREME_TASK_METRICS,
    metric_spec,
    task_metric,
)
from engine.metrics.retrieval import (
    bucc_f1,
    bucc_mine,
    bucc_optimize_threshold,
    cosine_similarity,
    margin_scores,
    tatoeba_accuracy,
)
from engine.metrics.squad import squad_v1, squad_v2, tydiqa
from engine.metrics.tagging import pos_f1, span_f1, token_accuracy
from engine.metrics.xtreme import (
    GROUPS,
    XTREME_TASKS,
    group_scores,
    overall,
    task_score,
)
from tests.conftest import REPO

approx = pytest.approx

# --------------------------------------------------------------------------
# SQuAD v1.1


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        # lower -> drop punctuation -> drop articles -> collapse whitespace
        ("The  Quick, Brown-Fox!", "quick brownfox"),
        ("An apple a day", "apple day"),
        ("theater", "theater"),  # \b: "the" inside a word stays
        ("the.", ""),  # the dot goes first, then the article
        ("U.S.A.", "usa"),
        ("  Denver\tBroncos \n", "denver broncos"),
        ("«Paris»", "«paris»"),  # only ASCII punctuation in SQuAD
    ],
)
def test_squad_normalisation(text, normalised):
    assert squad_module.normalize_answer(text) == normalised


def test_squad_f1_partial_overlaps_by_hand():
    # pred [eiffel, tower, in, paris], gold [eiffel, tower]: P 2/4, R 1 -> 2/3
    assert squad_module.f1_score("the Eiffel Tower in Paris", "Eiffel Tower") == approx(
        2 / 3
    )
    # multiplicity: pred [new, new, york], gold [new, york]: common 2 -> P 2/3,
    # R 1 -> F1 0.8
    assert squad_module.f1_score("new new York", "New York") == approx(0.8)
    # hyphen removal glues words: "rockandroll" vs [rock, and, roll] -> 0
    assert squad_module.f1_score("Rock-and-roll", "rock and roll") == 0.0
    # both sides empty after normalisation: v1.1 gives 0 (no common tokens)
    assert squad_module.f1_score("the", "a") == 0.0


def test_squad_v1_max_over_golds_and_missing_prediction():
    references = {
        "q1": ["Eiffel Tower"],
        "q2": ["Paris", "the city of Paris"],
        "q3": ["1889"],
    }
    predictions = {"q1": "the Eiffel Tower in Paris", "q2": "City of Paris!"}
    # q1: EM 0, F1 2/3; q2: EM 1 (second gold); q3 missing: 0, but counted
    result = squad_v1(predictions, references)
    assert result == {"exact_match": approx(1 / 3), "f1": approx((2 / 3 + 1) / 3)}


def test_tydiqa_is_squad_v1():
    assert tydiqa is squad_v1


def test_squad_v1_needs_a_gold_answer():
    with pytest.raises(ValueError, match="no gold answer"):
        squad_v1({"q": "x"}, {"q": []})


# --------------------------------------------------------------------------
# SQuAD v2.0

V2_REFERENCES = {
    "q1": ["Denver Broncos"],
    "q2": [],  # unanswerable
    "q3": [],  # unanswerable
    "q4": ["the"],  # has an answer that normalises to nothing -> gold [""]
    "q5": ["Santa Clara"],
}
V2_PREDICTIONS = {"q1": "Broncos", "q2": "", "q3": "Carolina", "q4": "", "q5": ""}


def test_squad_v2_no_answer_rules():
    # q1: EM 0, F1 2/3 (P 1, R 1/2); q2: ""/"" -> 1, 1; q3: answer to an
    # unanswerable -> 0, 0; q4: gold [""] and pred "" -> 1, 1; q5: 0, 0
    result = squad_v2(V2_PREDICTIONS, V2_REFERENCES)
    assert result == {
        "exact_match": approx(2 / 5),
        "f1": approx((2 / 3 + 1 + 1) / 5),
        # HasAns is the raw answer list being non-empty: q1, q4, q5
        "has_answer_exact_match": approx(1 / 3),
        "has_answer_f1": approx((2 / 3 + 1) / 3),
        "no_answer_exact_match": approx(1 / 2),
        "no_answer_f1": approx(1 / 2),
    }


def test_squad_v2_one_empty_side_scores_zero():
    assert squad_module._v2_f1("Santa Clara", "") == 0.0
    assert squad_module._v2_f1("", "Santa Clara") == 0.0
    assert squad_module._v2_f1("", "") == 1.0


def test_squad_v2_threshold_and_best_threshold_search():
    na_probs = {"q1": 0.1, "q2": 0.9, "q3": 0.8, "q4": 0.2, "q5": 0.95}
    result = squad_v2(V2_PREDICTIONS, V2_REFERENCES, na_probs, na_prob_thresh=0.5)
    # above 0.5 -> "no answer": q2 1, q3 1, q5 0; q1, q4 keep raw scores
    assert result["exact_match"] == approx(3 / 5)
    assert result["f1"] == approx((2 / 3 + 1 + 1 + 1 + 0) / 5)
    # search, by rising na_prob (q1 .1, q4 .2, q3 .8, q2 .9, q5 .95), starting
    # at 2 (the unanswerable count): EM +0, +1 (best 3 @ .2), -1, 0, 0
    assert result["best_exact_match"] == approx(3 / 5)
    assert result["best_exact_match_thresh"] == 0.2
    # F1: +2/3 (best @ .1), +1 (best 11/3 @ .2), -1, 0, 0
    assert result["best_f1"] == approx(11 / 15)
    assert result["best_f1_thresh"] == 0.2


def test_squad_v2_gold_filter_and_raw_prediction_rules():
    # a gold that normalises to nothing is dropped when another one is left:
    # golds ["a", "Santa Clara"] vs "" -> 0 (not 1 from matching "a")
    assert squad_v2({"q": ""}, {"q": ["a", "Santa Clara"]})["exact_match"] == 0.0
    # the search charges -1 for answering an unanswerable question: start at 1
    # (one unanswerable), n (.1) -1 -> 0, a (.2) +1 -> 1: never above 1
    result = squad_v2(
        {"a": "x", "n": "y"}, {"a": ["x"], "n": []}, na_probs={"n": 0.1, "a": 0.2}
    )
    assert result["best_exact_match"] == approx(1 / 2)
    assert result["best_exact_match_thresh"] == 0.0


def test_squad_v2_missing_prediction_is_an_error():
    predictions = dict(V2_PREDICTIONS)
    del predictions["q5"]
    with pytest.raises(ValueError, match="q5"):
        squad_v2(predictions, V2_REFERENCES)


# --------------------------------------------------------------------------
# MLQA


@pytest.mark.parametrize(
    ("prediction", "gold", "language", "em", "f1"),
    [
        # German articles
        ("der Hund", "Hund", "de", 1, 1),
        ("Die Katze des Nachbarn", "Katze Nachbarn", "de", 1, 1),
        ("demnach", "nach", "de", 0, 0),  # \b: no article inside a word
        # Spanish articles and ¿? (Unicode punctuation)
        ("el río Amazonas", "Río Amazonas", "es", 1, 1),
        ("¿Quién? Los Beatles", "beatles", "es", 0, 2 / 3),  # [quién, beatles]
        # Vietnamese
        ("cái bàn", "bàn", "vi", 1, 1),
        # Hindi: no article removal, so "the" stays: [the, river] vs [river]
        ("the river", "river", "hi", 0, 2 / 3),
        ("the river", "river", "en", 1, 1),
        # « » are punctuation for MLQA (not for SQuAD)
        ("«Paris»", "Paris", "en", 1, 1),
        ("U.S.A.", "USA", "en", 1, 1),
        # Arabic: the article al- goes ...
        ("كتاب", "الكتاب", "ar", 1, 1),
        # ... and so does every other "ال", e.g. at the end of سؤال ("question"),
        # as the official regex does it
        ("سؤ", "سؤال", "ar", 1, 1),
        # Arabic comma and question mark are punctuation
        ("القاهرة، مصر؟", "قاهرة مصر", "ar", 1, 1),
        # Chinese: one token per character; F1 over characters:
        # [北, 京, 大, 学] vs [北, 京]: P 2/4, R 1 -> 2/3
        ("北京大学", "北京", "zh", 0, 2 / 3),
        ("北京。", "北京", "zh", 1, 1),  # 。 is punctuation
        # mixed: [tsinghua, 大, 学] vs [清, 华, 大, 学, tsinghua, university]:
        # common 3, P 1, R 1/2 -> 2/3
        ("Tsinghua大学", "清华大学 Tsinghua University", "zh", 0, 2 / 3),
    ],
)
def test_mlqa_per_language(prediction, gold, language, em, f1):
    assert mlqa_module.exact_match_score(prediction, gold, language) == em
    assert mlqa_module.f1_score(prediction, gold, language) == approx(f1)


def test_mlqa_vs_squad_on_unicode_punctuation():
    # the same pair scores 1 under MLQA-en and 0 under SQuAD v1.1
    assert mlqa({"q": "«Paris»"}, {"q": ["Paris"]}, "en")["exact_match"] == 1.0
    assert squad_v1({"q": "«Paris»"}, {"q": ["Paris"]})["exact_match"] == 0.0


def test_mixed_segmentation():
    assert mixed_segmentation("abc北京 de,f") == ["abc", "北", "京", "de", ",", "f"]
    assert mlqa_module.normalize_answer("北京大学 ABC", "zh") == "北 京 大 学 abc"


def test_mlqa_averages_and_rejects_unknown_language():
    references = {"a": ["der Hund"], "b": ["Berlin"]}
    predictions = {"a": "Hund", "b": "in Berlin"}  # b: [in, berlin] -> F1 2/3
    assert mlqa(predictions, references, "de") == {
        "exact_match": approx(0.5),
        "f1": approx((1 + 2 / 3) / 2),
    }
    with pytest.raises(ValueError, match="unknown MLQA answer language 'fr'"):
        mlqa(predictions, references, "fr")


# --------------------------------------------------------------------------
# Tagging


def test_span_f1_bio_example_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG"]]
    # gold spans PER[0-1] LOC[3] ORG[0]; pred PER[0-1] ORG[3] ORG[0-1]:
    # only PER matches -> P 1/3, R 1/3, F1 1/3
    assert span_f1(gold, pred) == approx(1 / 3)
    assert token_accuracy(gold, pred) == approx(4 / 6)


def test_span_f1_is_conlleval_lenient_about_leading_i():
    # an I- after O opens a span (conlleval), so [O, I-PER] == [O, B-PER]
    assert span_f1([["O", "B-PER"]], [["O", "I-PER"]]) == 1.0


def test_pos_f1_follows_seqeval_chunking(recwarn):
    # docstring example: runs of equal tags are chunks
    gold = [["DET", "NOUN", "NOUN", "VERB", "ADJ"]]
    pred = [["DET", "NOUN", "ADJ", "VERB", "ADJ"]]
    # gold chunks DET NOUN[1-2] VERB ADJ (4); pred DET NOUN[1] ADJ[2] VERB ADJ
    # (5); 3 match -> P 3/5, R 3/4, F1 2/3, while token accuracy is 4/5
    assert pos_f1(gold, pred) == approx(2 / 3)
    assert token_accuracy(gold, pred) == approx(0.8)
    # NOUN NOUN NOUN is one chunk; getting the last token wrong loses it all
    assert pos_f1([["NOUN"] * 3], [["NOUN", "NOUN", "VERB"]]) == 0.0
    # SYM ("S" prefix) tokens are single-token chunks: gold SYM[0] SYM[1],
    # pred SYM[0] NOUN[1] -> 1 of 2 each way -> F1 1/2
    assert pos_f1([["SYM", "SYM"]], [["SYM", "NOUN"]]) == approx(0.5)
    # seqeval's "NOUN seems not to be NE tag" warnings are silenced
    assert not [w for w in recwarn if "NE tag" in str(w.message)]


def test_tagging_rejects_misaligned_input():
    with pytest.raises(ValueError, match="sentence 0"):
        span_f1([["O", "O"]], [["O"]])


# --------------------------------------------------------------------------
# Retrieval


def test_cosine_similarity():
    sims = cosine_similarity([[1.0, 0.0], [3.0, 4.0]], [[2.0, 0.0], [0.0, 0.0]])
    assert sims == approx(np.array([[1.0, 0.0], [0.6, 0.0]]))


def test_tatoeba_accuracy_with_one_wrong_pair():
    src = np.array([[1.0, 0, 0], [0, 1, 0], [0, 0, 1]])
    tgt = np.array([[1.0, 0.1, 0], [0, 5, 0], [0.9, 0, 0.1]])  # scale is ignored
    # XTREME: each target searches the sources; tgt 2 is nearest to src 0
    assert tatoeba_accuracy(src, tgt) == approx(2 / 3)
    # the other way every source finds its own target:
    # cos(src0, tgt0) = .995 > cos(src0, tgt2) = .994; src2 -> tgt2 (.11 vs 0)
    assert tatoeba_accuracy(src, tgt, query="source") == 1.0


# y_j[i] is cos(x_i, y_j) for x = e1, e2, e3:
#        y0   y1   y2
#   x0   1   .6   0
#   x1   0   .8   .6
#   x2   0   0    .8
MARGIN_X = np.eye(3)
MARGIN_Y = np.array([[1.0, 0, 0], [0.6, 0.8, 0], [0, 0.6, 0.8]])


def test_margin_formula_on_3x3_by_hand():
    fwd, fwd_inds, bwd, bwd_inds = margin_scores(MARGIN_X, MARGIN_Y, k=2)
    # k=2 means: rows x0 (1+.6)/2=.8, x1 (.8+.6)/2=.7, x2 (.8+0)/2=.4;
    # columns y0 (1+0)/2=.5, y1 (.8+.6)/2=.7, y2 (.8+.6)/2=.7
    # score = cos / ((mean_x + mean_y) / 2)
    assert fwd_inds[0].tolist() == [0, 1]
    assert fwd[0] == approx([1 / 0.65, 0.6 / 0.75], rel=1e-6)
    assert fwd_inds[1].tolist() == [1, 2]
    assert fwd[1] == approx([0.8 / 0.7, 0.6 / 0.7], rel=1e-6)
    assert fwd_inds[2, 0] == 2 and fwd[2, 0] == approx(0.8 / 0.55, rel=1e-6)
    assert bwd_inds[1].tolist() == [1, 0]
    assert bwd[1] == approx([0.8 / 0.7, 0.6 / 0.75], rel=1e-6)


def test_bucc_mine_margin_scores_3x3():
    ids_x, ids_y = ["x0", "x1", "x2"], ["y0", "y1", "y2"]
    candidates = bucc_mine(MARGIN_X, MARGIN_Y, ids_x, ids_y, k=2)
    assert candidates == {
        ("x0", "y0"): approx(1 / 0.65, rel=1e-6),
        ("x2", "y2"): approx(0.8 / 0.55, rel=1e-6),
        ("x1", "y1"): approx(0.8 / 0.7, rel=1e-6),
    }


def test_bucc_mine_and_f1_on_synthetic_pairs():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(8, 32))
    tgt = rng.normal(size=(8, 32))
    gold = {("s1", "t5"), ("s3", "t0"), ("s4", "t7"), ("s6", "t2")}
    for s, t in gold:
        tgt[int(t[1])] = src[int(s[1])] + 0.1 * rng.normal(size=32)
    src_ids = [f"s{i}" for i in range(8)]
    tgt_ids = [f"t{i}" for i in range(8)]
    candidates = bucc_mine(src, tgt, src_ids, tgt_ids)
    assert gold <= set(candidates)
    worst_gold = min(candidates[p] for p in gold)
    assert all(s < worst_gold for p, s in candidates.items() if p not in gold)
    result = bucc_f1(candidates, gold)
    assert (result["f1"], result["precision"], result["recall"]) == (1.0, 1.0, 1.0)
    # the tuned threshold sits halfway between the last gold and the next one
    best_other = max(s for p, s in candidates.items() if p not in gold)
    assert result["threshold"] == approx((worst_gold + best_other) / 2)


def test_bucc_mine_drops_sentences_repeated_on_one_side():
    src = np.array([[1.0, 0], [0, 1], [1, 0]])  # rows 0 and 2: same sentence
    tgt = np.array([[1.0, 0.1], [0.1, 1]])
    ids = (["s0", "s1", "s2"], ["t0", "t1"])
    # without texts each row is its own sentence: one of s0/s2 takes t0
    assert set(bucc_mine(src, tgt, *ids, k=1)) in (
        {("s0", "t0"), ("s1", "t1")},
        {("s2", "t0"), ("s1", "t1")},
    )
    # with texts, "a" is mined once and then has no unique id: dropped
    found = bucc_mine(
        src, tgt, *ids, k=1, src_texts=["a", "b", "a"], tgt_texts=["A", "B"]
    )
    assert set(found) == {("s1", "t1")}


def test_bucc_mine_drops_pairs_with_a_negative_margin():
    # x1's best target is y1 (cos -.26), but y1 sits close to x0 (cos .9), so
    # the margin denominator is positive and the score negative: dropped,
    # although neither x1 nor y1 is used by another pair
    src = np.array([[1.0, 0], [-0.5, 0.5735]])
    tgt = np.array([[1.0, 0], [0.9, 0.43589]])
    found = bucc_mine(src, tgt, ["x0", "x1"], ["y0", "y1"], k=1)
    assert found == {("x0", "y0"): approx(1.0)}


def test_bucc_mine_takes_pairs_by_falling_score():
    # x0 and x1 both want y0 (k=1): cos(x0, y0) = .894, cos(x1, y0) = 1;
    # means: x0 .894, x1 1, y0 1 -> s(x0, y0) = .894 / .947 = .944 < s(x1, y0) = 1,
    # so x1 gets y0 although x0 comes first
    src = np.array([[1.0, 0.5], [1.0, 0.0]])
    found = bucc_mine(src, np.array([[1.0, 0.0]]), ["x0", "x1"], ["y0"], k=1)
    assert found == {("x1", "y0"): approx(1.0)}


def _mine_like_the_reference(x, y, k):
    """utils_retrieve.mine_bitext(mode="mine", retrieval="max", margin="ratio"),
    written out loop by loop over a dense similarity matrix."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    sim = (x @ y.T).astype(np.float32)
    x2y_ind = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    y2x_ind = np.argsort(-sim.T, axis=1, kind="stable")[:, :k]
    x2y_mean = np.take_along_axis(sim, x2y_ind, axis=1).mean(axis=1)
    y2x_mean = np.take_along_axis(sim.T, y2x_ind, axis=1).mean(axis=1)
    fwd = np.zeros(x2y_ind.shape)
    for i in range(len(x)):
        for j, c in enumerate(x2y_ind[i]):
            fwd[i, j] = sim[i, c] / ((x2y_mean[i] + y2x_mean[c]) / 2)
    bwd = np.zeros(y2x_ind.shape)
    for i in range(len(y)):
        for j, c in enumerate(y2x_ind[i]):
            bwd[i, j] = sim[c, i] / ((y2x_mean[i] + x2y_mean[c]) / 2)
    fwd_best = x2y_ind[np.arange(len(x)), fwd.argmax(axis=1)]
    bwd_best = y2x_ind[np.arange(len(y)), bwd.argmax(axis=1)]
    pairs = list(zip(range(len(x)), fwd_best, strict=True))
    pairs += list(zip(bwd_best, range(len(y)), strict=True))
    scores = np.concatenate((fwd.max(axis=1), bwd.max(axis=1)))
    out, seen_x, seen_y = {}, set(), set()
    for i in np.argsort(-scores):
        a, b = (int(v) for v in pairs[i])
        if a not in seen_x and b not in seen_y:
            seen_x.add(a)
            seen_y.add(b)
            if scores[i] > 0:
                out[(a, b)] = scores[i]
    return out


def test_bucc_mine_matches_the_reference_loops_on_random_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8)) + 0.5  # shared offset: hubs, uneven margins
    y = rng.normal(size=(30, 8)) + 0.5
    expected = _mine_like_the_reference(x, y, k=4)
    found = bucc_mine(x, y, list(range(40)), list(range(30)), k=4)
    assert found.keys() == expected.keys()
    assert [found[p] for p in expected] == approx(list(expected.values()), rel=1e-5)


def test_bucc_f1_threshold_search_by_hand():
    candidates = {("a", "x"): 0.9, ("b", "y"): 0.8, ("c", "z"): 0.7, ("d", "w"): 0.6}
    gold = {("a", "x"), ("c", "z"), ("e", "v")}  # (e, v) was never mined
    # by falling score: F1 1/2 (th .85), .4, 2/3 (th .65, best), 4/7
    assert bucc_f1(candidates, gold) == {
        "f1": approx(2 / 3),
        "precision": approx(2 / 3),
        "recall": approx(2 / 3),
        "threshold": approx(0.65),
    }
    # a given threshold is used as is
    assert bucc_f1(candidates, gold, threshold=0.85)["f1"] == approx(0.5)


def test_bucc_f1_keeps_the_reference_tie_behaviour():
    # the best F1 is at the first candidate, but the next one ties with it, so
    # the midpoint threshold (0.9) extracts both: reported F1 is 2/3, not 1
    candidates = {("a", "x"): 0.9, ("b", "y"): 0.9, ("c", "z"): 0.1}
    assert bucc_f1(candidates, {("a", "x")})["f1"] == approx(2 / 3)
    # best at the last candidate (the reference would raise IndexError there)
    assert (
        bucc_optimize_threshold({("a", "x"): 0.9, ("c", "z"): 0.5}, {("c", "z")}) == 0.5
    )


# --------------------------------------------------------------------------
# XTREME aggregate and registry

MADE_UP = {
    "xnli": 0.80,
    "pawsx": 0.90,
    "udpos": 0.75,
    "panx": 0.65,
    "xquad": 0.70,
    "mlqa": 0.60,
    "tydiqa": 0.50,
    "bucc2018": 0.70,
    "tatoeba": 0.55,
}


def test_task_score_qa_uses_em_f1_mean():
    per_language = {
        "en": {"exact_match": 0.6, "f1": 0.8},
        "de": {"exact_match": 0.4, "f1": 0.6},
    }
    # en (.6+.8)/2 = .7, de .5 -> .6; F1 only: (.8+.6)/2 = .7
    assert task_score(per_language, "mlqa") == approx(0.6)
    assert task_score(per_language, "mlqa", qa="f1") == approx(0.7)
    assert task_score(
        {"en": {"accuracy": 0.9}, "de": {"accuracy": 0.7}}, "xnli"
    ) == approx(0.8)
    assert task_score({"de": {"f1": 0.5, "precision": 0.9}}, "bucc2018") == 0.5


def test_task_score_checks_its_input():
    with pytest.raises(ValueError, match="exact_match"):
        task_score({"en": {"f1": 0.8}}, "xquad")
    with pytest.raises(ValueError, match="no results for de"):
        task_score({"en": {"accuracy": 0.8}}, "xnli", languages=["en", "de"])
    with pytest.raises(ValueError, match="did you mean 'xnli'"):
        task_score({"en": {"accuracy": 0.8}}, "xnil")


def test_overall_and_groups_on_made_up_scores():
    assert overall(MADE_UP) == approx(6.15 / 9)
    assert group_scores(MADE_UP) == {
        "classification": approx(0.85),
        "structured_prediction": approx(0.70),
        "qa": approx(0.60),
        "retrieval": approx(0.625),
    }
    partial = {k: v for k, v in MADE_UP.items() if k != "tatoeba"}
    assert overall(partial) is None
    assert set(group_scores(partial)) == set(GROUPS) - {"retrieval"}


def test_registry_covers_every_xtreme_task():
    assert set(XTREME_TASK_METRICS) == set(XTREME_TASKS)
    assert task_metric("udpos").name == "pos_f1"
    assert task_metric("tydiqa").function == "engine.metrics.squad:squad_v1"
    assert metric_spec("bucc_f1").shown_as_percentage("f1")
    assert not metric_spec("bucc_f1").shown_as_percentage("threshold")
    for spec in METRIC_SPECS.values():
        assert spec.primary in spec.keys
        assert callable(spec.load())


def test_metric_modules_stay_light():
    modules = [
        "engine.metrics.squad",
        "engine.metrics.mlqa",
        "engine.metrics.tagging",
        "engine.metrics.retrieval",
        "engine.metrics.xtreme",
        "engine.metrics.registry",
    ]
    code = (
        "import sys, json, importlib\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    loaded = set(json.loads(out.stdout))
    assert not loaded & {"torch", "transformers", "datasets", "seqeval", "sklearn"}
