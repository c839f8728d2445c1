"""The statistics of a ranking, pure math on arrays: unit means, bootstrap CIs, win rates, tests, Holm, Bradley-Terry, tiers.

Nothing here knows about groups, files or models; :mod:`iqa.ranking.analysis`
applies these to a scored table.
"""

from __future__ import annotations

import functools
import math
import warnings
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["bootstrap_cell_means", "bootstrap_means", "bootstrap_win_rates", "bradley_terry", "delong_win_rate_ci", "elo_scale",
           "expanded_level", "finite", "holm", "keyed_rng", "mann_whitney_p", "percentile_ci", "prompt_wins", "rank_intervals",
           "tiers_from", "unit_means", "wilcoxon_p", "win_rate"]


def keyed_rng(seed: int, *names: str) -> np.random.Generator:
    """A generator keyed by the seed and names: one group's CI does not change when another group is added."""
    return np.random.default_rng([int(seed), *(zlib.crc32(str(n).encode()) for n in names)])


def _draw_counts(n: int, rows: int, rng: np.random.Generator) -> np.ndarray:
    """``[rows, n]``: how often each of ``n`` units is drawn in each of ``rows`` resamples of size ``n`` (with replacement)."""
    index = rng.integers(0, n, size=(rows, n))
    offsets = (np.arange(rows) * n)[:, None]
    return np.bincount((index + offsets).ravel(), minlength=rows * n).reshape(rows, n)


def _blocks(n_boot: int, n: int, max_elements: int):
    block = max(1, int(max_elements) // max(1, n))
    for start in range(0, int(n_boot), block):
        yield start, min(int(n_boot), start + block)


def bootstrap_means(values: np.ndarray, n_boot: int, rng: np.random.Generator, max_elements: int = 20_000_000) -> np.ndarray:
    """Means of ``n_boot`` resamples (with replacement) of the rows of ``values``: ``[n]`` -> ``[n_boot]``, ``[n, k]`` -> ``[n_boot, k]``.

    Every column is resampled with the same row indices (so the attribute CIs of
    one group come from the same resamples as its quality CI). Vectorised, in
    blocks of at most ``max_elements`` drawn indices: each resample's draw counts
    per row, times the values (one matrix product), so 100k images cost memory in
    the hundreds of MB at most and seconds, not minutes.
    """
    x = np.asarray(values, dtype=np.float64)
    flat = x.ndim == 1
    if flat:
        x = x[:, None]
    n, k = x.shape
    if n == 0:
        raise ValueError("bootstrap of an empty sample")
    out = np.empty((int(n_boot), k), dtype=np.float64)
    for start, stop in _blocks(n_boot, n, max_elements):
        out[start:stop] = _draw_counts(n, stop - start, rng) @ x / n
    return out[:, 0] if flat else out


def bootstrap_cell_means(values: np.ndarray, present: np.ndarray, n_boot: int, rng: np.random.Generator,
                         max_elements: int = 20_000_000) -> np.ndarray:
    """Resample the rows (units: prompts) of a table whose cells may be empty, and average each column over its present cells.

    ``values``: ``[n, g, k]`` (unit, group, statistic), anything where absent;
    ``present``: ``[n, g]`` booleans. Returns ``[n_boot, g, k]``: per resample,
    per group, the mean over the drawn units that group has (NaN when it has
    none in that resample). Every group sees the same draws, so differences
    between groups are paired on their shared units.
    """
    x = np.asarray(values, dtype=np.float64)
    mask = np.asarray(present, dtype=bool)
    n, g, k = x.shape
    if n == 0:
        raise ValueError("bootstrap of an empty sample")
    filled = np.where(mask[:, :, None], x, 0.0).reshape(n, g * k)
    weights = mask.astype(np.float64)
    out = np.empty((int(n_boot), g, k), dtype=np.float64)
    for start, stop in _blocks(n_boot, n, max_elements):
        counts = _draw_counts(n, stop - start, rng).astype(np.float64)
        total = (counts @ filled).reshape(stop - start, g, k)
        drawn = counts @ weights
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:stop] = total / drawn[:, :, None]
    return out


def unit_means(values: np.ndarray, ids: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average the rows of ``values`` (``[n]`` or ``[n, k]``) that share an id: ``(ids, means, sizes)``, ids sorted.

    The units of a clustered sample (images of one prompt) become one row each,
    the prompt's mean: the independent observations every interval resamples.
    NaN cells are left out of their unit's mean (NaN when a unit has none).
    """
    x = np.asarray(values, dtype=np.float64)
    flat = x.ndim == 1
    if flat:
        x = x[:, None]
    unique, inverse = np.unique(np.asarray(ids).astype(str), return_inverse=True)
    inverse = inverse.ravel()
    finite = np.isfinite(x)
    sums = np.zeros((len(unique), x.shape[1]))
    counts = np.zeros((len(unique), x.shape[1]))
    np.add.at(sums, inverse, np.where(finite, x, 0.0))
    np.add.at(counts, inverse, finite)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    sizes = np.bincount(inverse, minlength=len(unique))
    return unique, (means[:, 0] if flat else means), sizes


@functools.lru_cache(maxsize=4096)
def expanded_level(level: float, n: int) -> float:
    """The percentile level that makes a bootstrap interval of a mean of ``n`` units as wide as Student's t interval.

    The percentile bootstrap of a mean is too narrow for small ``n``: it uses
    the plug-in standard deviation (divisor n, not n - 1) and normal, not t,
    tails. Its *expanded* form (Hesterberg 2015) reads the bootstrap
    distribution at ``2 Phi(sqrt(n / (n - 1)) t_{n-1}) - 1`` instead of at
    ``level``: 0.9625 for n = 30 at 95 %, 0.9539 for n = 100, ``level`` in the
    limit. With fewer than 2 units there is nothing to expand.
    """
    from scipy.stats import norm, t

    n = int(n)
    if n < 2:
        return float(level)
    q = float(t.ppf((1.0 + float(level)) / 2.0, n - 1)) * math.sqrt(n / (n - 1.0))
    return float(min(2.0 * norm.cdf(q) - 1.0, 1.0 - 1e-9))


def percentile_ci(boot: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of bootstrap replicates (along the first axis); NaN replicates are left out."""
    tail = (1.0 - float(level)) / 2.0
    boot = np.asarray(boot, dtype=np.float64)
    if np.isnan(boot).any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column gives NaN bounds
            low, high = np.nanquantile(boot, [tail, 1.0 - tail], axis=0)
    else:
        low, high = np.quantile(boot, [tail, 1.0 - tail], axis=0)
    return low, high


def win_rate(a: Sequence[float], b: Sequence[float]) -> float:
    """P(X > Y) + 0.5 P(X = Y) for X drawn from ``a`` and Y from ``b`` (every pair counted once), in O(n log n).

    This is the Mann-Whitney U statistic of ``a`` divided by ``len(a) * len(b)``.
    """
    from scipy.stats import rankdata

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if not len(a) or not len(b):
        return float("nan")
    ranks = rankdata(np.concatenate([a, b]))  # ties get the average rank: each tied pair counts 1/2
    u = ranks[: len(a)].sum() - len(a) * (len(a) + 1) / 2.0
    return float(u / (len(a) * len(b)))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = len(valid)
    if not m:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out


def mann_whitney_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value; 1 when every value is the same, NaN for an empty side."""
    from scipy.stats import mannwhitneyu

    if len(a) < 1 or len(b) < 1 or (np.ptp(np.concatenate([a, b])) == 0):
        return 1.0 if len(a) and len(b) else float("nan")
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def wilcoxon_p(d: np.ndarray) -> float:
    """Wilcoxon signed-rank p-value of paired differences; 1 when all are zero, NaN when there are none."""
    from scipy.stats import wilcoxon

    if len(d) == 0:
        return float("nan")
    if not np.any(d != 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(wilcoxon(d).pvalue)


def _beats(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[len(a), len(b)]``: 1 where a_i > b_j, 1/2 where equal, 0 below."""
    a, b = np.asarray(a, dtype=np.float64)[:, None], np.asarray(b, dtype=np.float64)[None, :]
    return (a > b) + 0.5 * (a == b)


def bootstrap_win_rates(a: np.ndarray, b: np.ndarray, n_boot: int, rng: np.random.Generator,
                        max_elements: int = 20_000_000) -> np.ndarray:
    """The win rate P(A > B) (ties 1/2) of ``n_boot`` resamples, each side resampled on its own: ``[n_boot]``.

    ``a`` and ``b`` are independent units (images, or the prompt means of two
    groups that share no prompt). One ``[len(a), len(b)]`` table of outcomes,
    then per resample the draw counts of each side weight it: exact, and
    ``O(n_boot * len(a) * len(b))``.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if not len(a) or not len(b):
        raise ValueError("win rate of an empty sample")
    table = _beats(a, b)
    out = np.empty(int(n_boot))
    for start, stop in _blocks(n_boot, len(a) + 2 * len(b), max_elements):
        ca = _draw_counts(len(a), stop - start, rng).astype(np.float64)
        cb = _draw_counts(len(b), stop - start, rng).astype(np.float64)
        out[start:stop] = ((ca @ table) * cb).sum(axis=1) / (len(a) * len(b))
    return out


def delong_win_rate_ci(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """A normal interval for the win rate P(A > B) of two independent samples, from DeLong's placement variance.

    For samples too large to bootstrap pair by pair: the variance is
    ``var(V_a) / n_a + var(V_b) / n_b``, where ``V_a[i]`` is the share of B that
    ``a[i]`` beats and ``V_b[j]`` the share of A that beats ``b[j]`` (ties 1/2),
    computed from sorted values in ``O(n log n)``. Clipped to [0, 1].
    """
    from scipy.stats import norm

    a, b = np.sort(np.asarray(a, dtype=np.float64)), np.sort(np.asarray(b, dtype=np.float64))
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return math.nan, math.nan
    below_b = np.searchsorted(b, a, side="left")
    upto_b = np.searchsorted(b, a, side="right")
    va = (below_b + 0.5 * (upto_b - below_b)) / nb  # share of B that each a beats
    below_a = np.searchsorted(a, b, side="left")
    upto_a = np.searchsorted(a, b, side="right")
    vb = (na - upto_a + 0.5 * (upto_a - below_a)) / na  # share of A that beats each b
    estimate = float(va.mean())
    se = math.sqrt(va.var(ddof=1) / na + vb.var(ddof=1) / nb)
    z = float(norm.ppf((1.0 + float(level)) / 2.0))
    return max(0.0, estimate - z * se), min(1.0, estimate + z * se)


def prompt_wins(values: np.ndarray) -> np.ndarray:
    """Head-to-head outcomes per prompt: ``values`` ``[n, g]`` (a group's mean quality on each prompt, NaN where it has none) ->
    ``[n, g, g]``, 1 where group i beat j on that prompt, 1/2 for a tie, 0 for a loss or no game."""
    x = np.asarray(values, dtype=np.float64)
    a, b = x[:, :, None], x[:, None, :]
    played = np.isfinite(a) & np.isfinite(b)
    out = np.where(played, (a > b) + 0.5 * (a == b), 0.0)
    idx = np.arange(x.shape[1])
    out[:, idx, idx] = 0.0
    return out


def bradley_terry(wins: np.ndarray, prior: float = 1.0, tol: float = 1e-10, max_iter: int = 20_000) -> np.ndarray:
    """Bradley-Terry log-strengths from a table of wins, by Hunter's (2004) MM algorithm; batched over leading axes.

    ``wins[..., i, j]``: how often i beat j (ties counted 1/2 to each side).
    ``prior``: virtual games per group, spread evenly over its opponents and
    half of them won: the fit stays finite for a group that never lost or
    never won, and moves little otherwise. Returns ``theta[..., g]`` with
    ``P(i beats j) = 1 / (1 + exp(theta_j - theta_i))``, mean 0 over groups.
    """
    w = np.asarray(wins, dtype=np.float64)
    g = w.shape[-1]
    if g < 2:
        return np.zeros(w.shape[:-1])
    off = 1.0 - np.eye(g)
    w = w * off + off * (0.5 * float(prior) / (g - 1))
    games = w + np.swapaxes(w, -1, -2)
    won = w.sum(axis=-1)
    p = np.ones(w.shape[:-1])
    for _ in range(int(max_iter)):
        denominator = (games / (p[..., :, None] + p[..., None, :])).sum(axis=-1)
        new = won / denominator
        new /= np.exp(np.log(new).mean(axis=-1, keepdims=True))
        change = np.max(np.abs(np.log(new) - np.log(p)))
        p = new
        if change < tol:
            break
    theta = np.log(p)
    return theta - theta.mean(axis=-1, keepdims=True)


def elo_scale(theta: np.ndarray, centre: float = 1000.0) -> np.ndarray:
    """Bradley-Terry log-strengths on the Elo scale: 400 points = 10:1 odds, the mean at ``centre``."""
    rating = np.asarray(theta, dtype=np.float64) * (400.0 / math.log(10.0))
    return rating - rating.mean(axis=-1, keepdims=True) + float(centre)


def tiers_from(distinguishable: Any, n: int) -> list[int]:
    """Tiers of ``n`` groups in rank order: a group joins the current tier while it is not distinguishable from that tier's top group.

    ``distinguishable(i, j)`` (``i`` above ``j``) answers for the pairs asked:
    the top group of the tier against each group below it.
    """
    tiers: list[int] = []
    leader, tier = 0, 1
    for j in range(n):
        if j > leader and distinguishable(leader, j):
            leader, tier = j, tier + 1
        tiers.append(tier)
    return tiers


def rank_intervals(replicates: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Per group, the percentile interval of its rank (1 = highest) over bootstrap replicates ``[n_boot, g]``: ``(lo, hi)``, integers."""
    r = np.asarray(replicates, dtype=np.float64)
    ranks = np.argsort(np.argsort(-r, axis=1, kind="stable"), axis=1, kind="stable") + 1
    tail = (1.0 - float(level)) / 2.0
    low = np.quantile(ranks, tail, axis=0, method="lower")
    high = np.quantile(ranks, 1.0 - tail, axis=0, method="higher")
    return low.astype(int), high.astype(int)


def finite(x: Any) -> float | None:
    """``float(x)``, or None where it is not finite (JSON has no NaN)."""
    x = float(x)
    return x if math.isfinite(x) else None
