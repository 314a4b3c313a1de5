"""pass@k: the unbiased estimator of Chen et al. 2021 (the Codex paper, HumanEval).

With n samples of a problem of which c pass, the chance that at least one of k
samples drawn without replacement passes is

    pass@k = 1 - C(n - c, k) / C(n, k)

computed, as the paper does for numerical stability, as a product instead of a
ratio of huge binomials:

    1 - prod_{i = n - c + 1}^{n} (1 - k / i)

The benchmark's pass@k is the mean over problems. It is defined only for
k <= n: a k above the fewest samples any problem has is left out, and
`left_out_ks` says why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k of the n samples (c correct) passes."""
    for name, value in (("n", n), ("c", c), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"pass_at_k: {name} must be an integer, got {value!r}")
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k: need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass_at_k: need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0  # every draw of k contains a correct sample
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def usable_ks(counts: Mapping[str, tuple[int, int]], ks: Iterable[int]) -> list[int]:
    """The ks that every problem has enough samples for, in order, once each."""
    fewest = min((n for n, _ in counts.values()), default=0)
    return [k for k in dict.fromkeys(ks) if 1 <= k <= fewest]


def left_out_ks(
    counts: Mapping[str, tuple[int, int]], ks: Iterable[int]
) -> dict[int, str]:
    """Each k that `mean_pass_at_k` leaves out, with the reason in words."""
    fewest = min((n for n, _ in counts.values()), default=0)
    reasons = {}
    for k in dict.fromkeys(ks):
        if k < 1:
            reasons[k] = "k must be at least 1"
        elif k > fewest:
            where = (
                "there are no samples"
                if not counts
                else f"the fewest samples of a problem here is {fewest}"
            )
            reasons[k] = f"needs at least {k} samples per problem; {where}"
    return reasons


def mean_pass_at_k(
    counts: Mapping[str, tuple[int, int]], ks: Iterable[int]
) -> dict[str, float]:
    """{"pass@k": mean over problems} for every usable k (see `left_out_ks`).

    `counts` maps a problem's task_id to (n samples, c passed)."""
    scores = {}
    for k in usable_ks(counts, ks):
        values = [pass_at_k(n, c, k) for n, c in counts.values()]
        scores[f"pass@{k}"] = sum(values) / len(values)
    return scores
