"""The statistics of a ranking, pure math on arrays: bootstrap CIs, win rates, paired and unpaired tests, Holm.

Nothing here knows about groups, files or models; :mod:`iqa.ranking.analysis`
applies these to a scored table.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["bootstrap_means", "finite", "holm", "keyed_rng", "mann_whitney_p", "percentile_ci", "wilcoxon_p", "win_rate"]


def keyed_rng(seed: int, *names: str) -> np.random.Generator:
    """A generator keyed by the seed and names: one group's CI does not change when another group is added."""
    return np.random.default_rng([int(seed), *(zlib.crc32(str(n).encode()) for n in names)])


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
    block = max(1, int(max_elements) // n)
    for start in range(0, int(n_boot), block):
        stop = min(int(n_boot), start + block)
        index = rng.integers(0, n, size=(stop - start, n))
        # How often each row was drawn in each resample, then one matrix product for every column at once.
        offsets = (np.arange(stop - start) * n)[:, None]
        counts = np.bincount((index + offsets).ravel(), minlength=(stop - start) * n).reshape(stop - start, n)
        out[start:stop] = counts @ x / n
    return out[:, 0] if flat else out


def percentile_ci(boot: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of bootstrap replicates (along the first axis)."""
    tail = (1.0 - float(level)) / 2.0
    low, high = np.quantile(np.asarray(boot, dtype=np.float64), [tail, 1.0 - tail], axis=0)
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


def finite(x: Any) -> float | None:
    """``float(x)``, or None where it is not finite (JSON has no NaN)."""
    x = float(x)
    return x if math.isfinite(x) else None
