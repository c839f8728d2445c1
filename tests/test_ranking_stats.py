"""Unit tests of the pure statistics in :mod:`iqa.ranking.stats`.

Every expected value is computed here independently of the code under test
(pandas, scipy, explicit loops over the same random draws, hand-written
step-down procedures, a generic optimiser), never copied from its output.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy.stats import mannwhitneyu, norm, rankdata, t, wilcoxon

from iqa.ranking import stats

pytestmark = pytest.mark.unit


# --------------------------------------------------------------------------- helpers (independent references)


def _brute_win_rate(a, b) -> float:
    """P(A > B) + 1/2 P(A = B) over all pairs, by a double loop."""
    total = 0.0
    for x in a:
        for y in b:
            total += 1.0 if x > y else (0.5 if x == y else 0.0)
    return total / (len(a) * len(b))


def _holm_reference(pvalues) -> np.ndarray:
    """Holm's step-down, written out: the i-th smallest of m p-values times (m - i + 1), made monotone, capped at 1."""
    p = [float(v) for v in pvalues]
    out = [math.nan] * len(p)
    tested = [i for i, v in enumerate(p) if not math.isnan(v)]
    m = len(tested)
    tested.sort(key=lambda i: p[i])
    running = 0.0
    for step, i in enumerate(tested):  # step 0 is the smallest p-value: multiplier m
        running = max(running, (m - step) * p[i])
        out[i] = min(1.0, running)
    return np.array(out)


def _bt_negloglik(theta, w):
    """Minus the Bradley-Terry log-likelihood sum_ij w_ij log sigmoid(theta_i - theta_j), and its gradient."""
    d = theta[:, None] - theta[None, :]
    log_sig = -np.logaddexp(0.0, -d)  # log sigmoid(d)
    value = -(w * log_sig).sum()
    sig = 1.0 / (1.0 + np.exp(-d))
    games = w + w.T
    grad = -(w.sum(axis=1) - (games * sig).sum(axis=1))  # d/dtheta_i: won_i - expected_i
    return value, grad


def _bt_reference(w) -> np.ndarray:
    """The Bradley-Terry MLE of a win table by BFGS, centred to mean 0."""
    g = w.shape[0]
    res = optimize.minimize(_bt_negloglik, np.zeros(g), args=(w,), jac=True, method="BFGS",
                            options={"gtol": 1e-11, "maxiter": 10_000})
    theta = res.x - res.x.mean()
    _, grad = _bt_negloglik(theta, w)
    assert np.max(np.abs(grad)) < 1e-7, res  # the reference itself reached the optimum
    return theta


# --------------------------------------------------------------------------- 1. unit_means


def test_unit_means_matches_pandas_groupby_1d():
    rng = np.random.default_rng(0)
    ids = rng.choice([f"p{i}" for i in range(12)], size=200)
    values = rng.normal(size=200)
    got_ids, got_means, got_sizes = stats.unit_means(values, ids)

    grouped = pd.Series(values).groupby(pd.Series(ids))
    expected = grouped.mean()
    assert list(got_ids) == list(expected.index)  # sorted, as pandas sorts group keys
    np.testing.assert_allclose(got_means, expected.to_numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(got_sizes, grouped.size().to_numpy())
    assert got_means.shape == (len(expected),)


def test_unit_means_matches_pandas_groupby_2d_with_nan_cells():
    rng = np.random.default_rng(1)
    n, k = 150, 3
    ids = rng.choice([f"u{i:02d}" for i in range(10)], size=n)
    values = rng.normal(size=(n, k))
    values[rng.random((n, k)) < 0.2] = np.nan  # scattered missing cells
    values[ids == "u03", 1] = np.nan  # one unit with a column entirely missing
    got_ids, got_means, got_sizes = stats.unit_means(values, ids)

    frame = pd.DataFrame(values, columns=list("abc"))
    frame["id"] = ids
    expected = frame.groupby("id").mean()  # skipna: NaN cells left out, NaN when none left
    assert list(got_ids) == list(expected.index)
    assert got_means.shape == (len(expected), k)
    np.testing.assert_allclose(got_means, expected.to_numpy(), rtol=1e-12, atol=1e-14, equal_nan=True)
    np.testing.assert_array_equal(got_sizes, frame.groupby("id").size().to_numpy())  # sizes count rows, NaN or not
    row = list(got_ids).index("u03")
    assert np.isnan(got_means[row, 1]) and np.isfinite(got_means[row, [0, 2]]).all()


def test_unit_means_nan_unit_in_1d():
    values = np.array([1.0, np.nan, np.nan, 3.0, 5.0])
    ids = ["b", "a", "a", "b", "c"]
    got_ids, got_means, got_sizes = stats.unit_means(values, ids)
    assert list(got_ids) == ["a", "b", "c"]
    assert np.isnan(got_means[0])
    np.testing.assert_allclose(got_means[1:], [2.0, 5.0])
    np.testing.assert_array_equal(got_sizes, [2, 2, 1])


# --------------------------------------------------------------------------- 2. bootstrap_means / bootstrap_cell_means


@pytest.mark.parametrize("n", [1, 7, 40])
def test_bootstrap_means_equals_mean_of_resampled_indices(n):
    rng = np.random.default_rng(2)
    values = rng.normal(size=n)
    n_boot = 64
    got = stats.bootstrap_means(values, n_boot, np.random.default_rng(123))
    idx = np.random.default_rng(123).integers(0, n, size=(n_boot, n))
    expected = values[idx].mean(axis=1)
    assert got.shape == (n_boot,)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_bootstrap_means_2d_blocks_share_row_indices():
    rng = np.random.default_rng(3)
    n, k, n_boot = 11, 3, 10
    values = rng.normal(size=(n, k))
    # max_elements = 3 * n: blocks of 3 resamples (3 + 3 + 3 + 1); each block draws its own [rows, n] indices
    got = stats.bootstrap_means(values, n_boot, np.random.default_rng(9), max_elements=3 * n)
    ref_rng = np.random.default_rng(9)
    expected = []
    for rows in (3, 3, 3, 1):
        idx = ref_rng.integers(0, n, size=(rows, n))
        expected.extend(values[i].mean(axis=0) for i in idx)  # every column resampled with the same rows
    assert got.shape == (n_boot, k)
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-12, atol=1e-12)


def test_bootstrap_means_rejects_empty():
    with pytest.raises(ValueError):
        stats.bootstrap_means(np.array([]), 5, np.random.default_rng(0))


def test_draw_counts_is_bincount_of_row_indices():
    n, rows = 6, 5
    got = stats._draw_counts(n, rows, np.random.default_rng(4))
    idx = np.random.default_rng(4).integers(0, n, size=(rows, n))
    expected = np.array([np.bincount(r, minlength=n) for r in idx])
    np.testing.assert_array_equal(got, expected)
    assert (got.sum(axis=1) == n).all()


def test_bootstrap_cell_means_matches_explicit_loop_over_same_draws():
    rng = np.random.default_rng(5)
    n, g, k, n_boot = 6, 4, 2, 200
    values = rng.normal(size=(n, g, k))
    present = rng.random((n, g)) < 0.7
    present[:, 0] = True  # a group with every unit
    present[:, 3] = False
    present[2, 3] = True  # a group with one unit: missing from about a third of the resamples
    values[~present] = np.nan  # absent cells hold garbage; it must not leak
    values[tuple(np.argwhere(~present)[0])] = 1e300  # nor must a huge value in an absent cell

    got = stats.bootstrap_cell_means(values, present, n_boot, np.random.default_rng(77))
    assert got.shape == (n_boot, g, k)

    # the same draws, replicated both ways: the module's own count helper and plain indices
    counts = stats._draw_counts(n, n_boot, np.random.default_rng(77))
    idx = np.random.default_rng(77).integers(0, n, size=(n_boot, n))
    np.testing.assert_array_equal(counts, np.array([np.bincount(r, minlength=n) for r in idx]))

    expected = np.full((n_boot, g, k), np.nan)
    for r in range(n_boot):
        for j in range(g):
            drawn = [u for u in idx[r] if present[u, j]]  # with multiplicity
            if drawn:
                expected[r, j] = np.mean([values[u, j] for u in drawn], axis=0)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, equal_nan=True)
    missing = np.isnan(expected[:, 3, 0])
    assert missing.any() and (~missing).any()  # the no-unit case was actually exercised
    assert np.isnan(got[missing, 3]).all()
    assert np.isfinite(got[:, 0]).all()


# --------------------------------------------------------------------------- 3. expanded_level


@pytest.mark.parametrize("n", [3, 5, 30, 100])
@pytest.mark.parametrize("level", [0.9, 0.95])
def test_expanded_level_normal_plugin_interval_equals_student_t(n, level):
    rng = np.random.default_rng(n)
    x = rng.normal(loc=2.0, scale=1.5, size=n)
    se_plugin = x.std(ddof=0) / math.sqrt(n)
    se_t = x.std(ddof=1) / math.sqrt(n)
    expanded = stats.expanded_level(level, n)
    # the central interval of N(mean, se_plugin) at the expanded level ...
    lo, hi = norm.interval(expanded, loc=x.mean(), scale=se_plugin)
    # ... is Student's t interval at the nominal level
    half_t = float(t.ppf((1 + level) / 2, n - 1)) * se_t
    assert lo == pytest.approx(x.mean() - half_t, rel=1e-9)
    assert hi == pytest.approx(x.mean() + half_t, rel=1e-9)
    assert (hi - lo) / 2 == pytest.approx(half_t, rel=1e-9)
    assert level < expanded < 1.0


def test_expanded_level_n2_is_capped_below_one():
    # at n = 2 the exact expanded level, 2 Phi(sqrt(2) t_1) - 1, is 1 - O(1e-72): not representable, so capped
    q = float(t.ppf(0.975, 1)) * math.sqrt(2.0)
    assert norm.sf(q) < 1e-60
    assert stats.expanded_level(0.95, 2) == pytest.approx(1.0 - 1e-9, abs=1e-15)


def test_expanded_level_limits_and_monotone():
    levels = [stats.expanded_level(0.95, n) for n in (2, 3, 5, 10, 30, 100, 1000, 10**6)]
    assert all(a > b for a, b in zip(levels, levels[1:]))
    assert stats.expanded_level(0.95, 10**6) == pytest.approx(0.95, abs=1e-5)
    assert stats.expanded_level(0.95, 30) == pytest.approx(0.9625, abs=1e-4)  # the docstring's figures
    assert stats.expanded_level(0.95, 100) == pytest.approx(0.9539, abs=1e-4)
    for n in (-1, 0, 1):
        assert stats.expanded_level(0.9, n) == 0.9


# --------------------------------------------------------------------------- 4. percentile_ci


def test_percentile_ci_leaves_out_nan_replicates():
    rng = np.random.default_rng(6)
    boot = rng.normal(size=(500, 4))
    boot[rng.random((500, 4)) < 0.1] = np.nan
    boot[:, 3] = np.nan  # a column with no replicate
    low, high = stats.percentile_ci(boot, 0.9)
    for j in range(3):
        finite = boot[:, j][np.isfinite(boot[:, j])]
        assert low[j] == pytest.approx(np.quantile(finite, 0.05), rel=1e-12)
        assert high[j] == pytest.approx(np.quantile(finite, 0.95), rel=1e-12)
    assert np.isnan(low[3]) and np.isnan(high[3])


def test_percentile_ci_without_nan_and_1d():
    rng = np.random.default_rng(7)
    boot = rng.normal(size=1000)
    low, high = stats.percentile_ci(boot)
    assert float(low) == pytest.approx(np.quantile(boot, 0.025), rel=1e-12)
    assert float(high) == pytest.approx(np.quantile(boot, 0.975), rel=1e-12)
    boot_nan = np.concatenate([boot, [np.nan] * 50])
    low2, high2 = stats.percentile_ci(boot_nan)
    assert float(low2) == pytest.approx(float(low), rel=1e-12) and float(high2) == pytest.approx(float(high), rel=1e-12)


# --------------------------------------------------------------------------- 5. win_rate / bootstrap_win_rates


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_win_rate_matches_double_loop_with_ties(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 6, size=23).astype(float)  # few distinct values: many ties, within and across samples
    b = rng.integers(0, 6, size=17).astype(float)
    assert stats.win_rate(a, b) == pytest.approx(_brute_win_rate(a, b), abs=1e-12)
    assert stats.win_rate(a, b) + stats.win_rate(b, a) == pytest.approx(1.0, abs=1e-12)


def test_win_rate_edge_cases():
    assert math.isnan(stats.win_rate([], [1.0]))
    assert math.isnan(stats.win_rate([1.0], []))
    assert stats.win_rate([2.0], [1.0]) == 1.0
    assert stats.win_rate([1.0, 1.0], [1.0]) == 0.5


def test_bootstrap_win_rates_matches_brute_force_on_same_draws():
    rng = np.random.default_rng(8)
    a = rng.integers(0, 8, size=9).astype(float)
    b = rng.integers(0, 8, size=7).astype(float)
    n_boot = 40
    got = stats.bootstrap_win_rates(a, b, n_boot, np.random.default_rng(31))
    ref = np.random.default_rng(31)
    ia = ref.integers(0, len(a), size=(n_boot, len(a)))  # one block: all of a's draws, then all of b's
    ib = ref.integers(0, len(b), size=(n_boot, len(b)))
    expected = [_brute_win_rate(a[ia[r]], b[ib[r]]) for r in range(n_boot)]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_bootstrap_win_rates_mean_close_to_win_rate():
    rng = np.random.default_rng(9)
    a = rng.normal(0.3, 1.0, size=60)
    b = rng.normal(0.0, 1.0, size=50)
    boot = stats.bootstrap_win_rates(a, b, 2000, np.random.default_rng(10))
    assert boot.shape == (2000,)
    assert ((boot >= 0) & (boot <= 1)).all()
    assert boot.mean() == pytest.approx(stats.win_rate(a, b), abs=0.01)


def test_bootstrap_win_rates_rejects_empty():
    with pytest.raises(ValueError):
        stats.bootstrap_win_rates(np.array([]), np.array([1.0]), 5, np.random.default_rng(0))


# --------------------------------------------------------------------------- 6. delong_win_rate_ci


def _delong_reference(a, b, level):
    """DeLong (1988) by brute force: O(n^2) structural components V10, V01, ddof-1 variances, normal interval, clipped."""
    na, nb = len(a), len(b)
    psi = np.array([[1.0 if x > y else (0.5 if x == y else 0.0) for y in b] for x in a])
    v10 = psi.mean(axis=1)  # per a_i: share of B it beats
    v01 = psi.mean(axis=0)  # per b_j: share of A that beats it
    theta = psi.mean()
    s10 = ((v10 - theta) ** 2).sum() / (na - 1)
    s01 = ((v01 - theta) ** 2).sum() / (nb - 1)
    se = math.sqrt(s10 / na + s01 / nb)
    z = norm.ppf(0.5 + level / 2)
    return max(0.0, theta - z * se), min(1.0, theta + z * se)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("level", [0.9, 0.95])
def test_delong_matches_brute_force_placements(seed, level):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 10, size=37).astype(float) + 1  # ties within and across samples
    b = rng.integers(0, 10, size=29).astype(float)
    lo, hi = stats.delong_win_rate_ci(a, b, level)
    rlo, rhi = _delong_reference(a, b, level)
    assert lo == pytest.approx(rlo, abs=1e-12)
    assert hi == pytest.approx(rhi, abs=1e-12)
    assert lo < stats.win_rate(a, b) < hi


def test_delong_clipped_and_degenerate():
    rng = np.random.default_rng(11)
    a = rng.normal(5.0, 1.0, size=10)
    b = np.concatenate([rng.normal(0.0, 1.0, size=9), [5.5]])  # one b above a few a's: estimate near 1
    lo, hi = stats.delong_win_rate_ci(a, b)
    rlo, rhi = _delong_reference(a, b, 0.95)
    assert hi == 1.0 and rhi == 1.0
    assert lo == pytest.approx(rlo, abs=1e-12)
    assert all(math.isnan(v) for v in stats.delong_win_rate_ci([1.0], [1.0, 2.0]))
    assert all(math.isnan(v) for v in stats.delong_win_rate_ci([1.0, 2.0], [3.0]))


def test_delong_width_close_to_bootstrap_on_large_normal_samples():
    rng = np.random.default_rng(12)
    a = rng.normal(0.3, 1.0, size=400)
    b = rng.normal(0.0, 1.0, size=300)
    lo, hi = stats.delong_win_rate_ci(a, b, 0.95)
    boot = stats.bootstrap_win_rates(a, b, 2000, np.random.default_rng(13))
    blo, bhi = stats.percentile_ci(boot, 0.95)
    assert (hi - lo) == pytest.approx(float(bhi - blo), rel=0.15)
    assert (lo + hi) / 2 == pytest.approx(float(blo + bhi) / 2, abs=0.02)


# --------------------------------------------------------------------------- 7. prompt_wins


def test_prompt_wins_matches_loops():
    rng = np.random.default_rng(14)
    n, g = 12, 5
    values = rng.integers(0, 4, size=(n, g)).astype(float)  # ties
    values[rng.random((n, g)) < 0.25] = np.nan  # no game against a missing group
    got = stats.prompt_wins(values)
    assert got.shape == (n, g, g)
    expected = np.zeros((n, g, g))
    for p in range(n):
        for i in range(g):
            for j in range(g):
                x, y = values[p, i], values[p, j]
                if i == j or math.isnan(x) or math.isnan(y):
                    continue
                expected[p, i, j] = 1.0 if x > y else (0.5 if x == y else 0.0)
    np.testing.assert_array_equal(got, expected)
    # each game played hands out exactly one point in total
    played = np.isfinite(values)[:, :, None] & np.isfinite(values)[:, None, :] & ~np.eye(g, dtype=bool)
    np.testing.assert_array_equal((got + got.transpose(0, 2, 1))[played], 1.0)


# --------------------------------------------------------------------------- 8. bradley_terry


def _augmented(wins, prior):
    """The win table the fit sees: the observed off-diagonal wins plus prior / (2 (g - 1)) virtual wins per ordered pair."""
    g = wins.shape[-1]
    w = np.array(wins, dtype=float)
    for i in range(g):
        for j in range(g):
            w[i, j] = 0.0 if i == j else w[i, j] + 0.5 * prior / (g - 1)
    return w


@pytest.mark.parametrize("prior", [1.0, 3.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_bradley_terry_matches_likelihood_maximum(seed, prior):
    rng = np.random.default_rng(seed)
    g = 5
    wins = rng.integers(0, 12, size=(g, g)).astype(float)
    wins[1, :] = 0.0  # group 1 never wins: finite only thanks to the prior
    np.fill_diagonal(wins, 7.0)  # the diagonal is not a game and must be ignored
    theta = stats.bradley_terry(wins, prior=prior)
    expected = _bt_reference(_augmented(wins, prior))
    assert theta.shape == (g,)
    assert abs(theta.mean()) < 1e-12
    np.testing.assert_allclose(theta, expected, atol=1e-5)
    assert np.argmin(theta) == 1


def test_bradley_terry_batched_equals_per_slice():
    rng = np.random.default_rng(15)
    batch = rng.integers(0, 10, size=(2, 3, 4, 4)).astype(float)
    got = stats.bradley_terry(batch, prior=1.0)
    assert got.shape == (2, 3, 4)
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(got[i, j], stats.bradley_terry(batch[i, j], prior=1.0), atol=1e-8)


def test_bradley_terry_unbeaten_group_stays_finite_and_on_top():
    g = 4
    wins = np.full((g, g), 3.0)
    wins[:, 0] = 0.0  # nobody ever beats group 0
    wins[0, 1:] = 5.0
    np.fill_diagonal(wins, 0.0)
    theta = stats.bradley_terry(wins, prior=1.0)
    assert np.isfinite(theta).all()
    assert np.argmax(theta) == 0
    np.testing.assert_allclose(theta, _bt_reference(_augmented(wins, 1.0)), atol=1e-5)


def test_bradley_terry_prior_zero_solves_score_equations():
    rng = np.random.default_rng(16)
    g = 6
    wins = rng.integers(1, 15, size=(g, g)).astype(float)  # every pair played both ways: strongly connected
    np.fill_diagonal(wins, 0.0)
    theta = stats.bradley_terry(wins, prior=0.0)
    p_win = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))  # P(i beats j)
    games = wins + wins.T
    expected_wins = (games * p_win).sum(axis=1) - np.diag(games * p_win)
    np.testing.assert_allclose(expected_wins, wins.sum(axis=1), rtol=1e-7)
    np.testing.assert_allclose(theta, _bt_reference(wins), atol=1e-5)


def test_bradley_terry_single_group():
    np.testing.assert_array_equal(stats.bradley_terry(np.zeros((1, 1))), [0.0])


# --------------------------------------------------------------------------- 9. elo_scale


def test_elo_scale_odds_and_centre():
    rng = np.random.default_rng(17)
    theta = rng.normal(size=6)
    elo = stats.elo_scale(theta, centre=1500.0)
    assert elo.mean() == pytest.approx(1500.0, abs=1e-9)
    for i in range(6):
        for j in range(6):
            p_elo = 1.0 / (1.0 + 10.0 ** ((elo[j] - elo[i]) / 400.0))
            p_bt = 1.0 / (1.0 + math.exp(theta[j] - theta[i]))
            assert p_elo == pytest.approx(p_bt, rel=1e-12, abs=1e-15)
    batched = stats.elo_scale(np.stack([theta, theta + 3.0]))  # a shift of theta changes nothing
    np.testing.assert_allclose(batched.mean(axis=-1), 1000.0)
    np.testing.assert_allclose(batched[0], batched[1], atol=1e-9)


# --------------------------------------------------------------------------- 10. tiers_from / rank_intervals


def test_tiers_from_leader_rule_on_hand_built_verdicts():
    # groups 0..6 in rank order; True = "i is distinguishable from (better than) j"
    d = {
        (0, 1): False, (0, 2): False, (0, 3): True,  # tier 1: 0, 1, 2; 3 leads tier 2
        (1, 3): True, (2, 3): True,
        (1, 2): True,  # 1 beats 2 but the tier is judged from its leader 0 only: 2 stays in tier 1
        (3, 4): False, (3, 5): False, (3, 6): True,  # tier 2: 3, 4, 5; 6 leads tier 3
        (4, 5): True, (0, 4): True, (0, 5): True, (0, 6): True,
    }
    asked = []

    def distinguishable(i, j):
        asked.append((i, j))
        return d.get((i, j), True)

    assert stats.tiers_from(distinguishable, 7) == [1, 1, 1, 2, 2, 2, 3]
    # only the leader of the current tier is asked, about each group below it
    assert asked == [(0, 1), (0, 2), (0, 3), (3, 4), (3, 5), (3, 6)]


def test_tiers_from_extremes():
    assert stats.tiers_from(lambda i, j: False, 5) == [1, 1, 1, 1, 1]
    assert stats.tiers_from(lambda i, j: True, 5) == [1, 2, 3, 4, 5]
    assert stats.tiers_from(lambda i, j: True, 0) == []
    assert stats.tiers_from(lambda i, j: True, 1) == [1]


@pytest.mark.parametrize("level", [0.9, 0.95])
def test_rank_intervals_match_per_replicate_ranks(level):
    rng = np.random.default_rng(18)
    n_boot, g = 300, 6
    strength = np.linspace(1.0, 0.0, g)
    replicates = np.round(strength + rng.normal(scale=0.3, size=(n_boot, g)), 1)  # rounding makes ties
    lo, hi = stats.rank_intervals(replicates, level)
    ranks = np.array([rankdata(-row, method="ordinal") for row in replicates])  # ties: first listed ranks higher
    tail = (1 - level) / 2
    for j in range(g):
        col = np.sort(ranks[:, j])
        assert lo[j] == np.quantile(col, tail, method="lower")
        assert hi[j] == np.quantile(col, 1 - tail, method="higher")
        assert col[0] <= lo[j] <= hi[j] <= col[-1]
    assert lo.dtype.kind == "i" and hi.dtype.kind == "i"


def test_rank_intervals_separated_groups_and_ties():
    replicates = np.tile([3.0, 1.0, 2.0], (50, 1))
    lo, hi = stats.rank_intervals(replicates)
    np.testing.assert_array_equal(lo, [1, 3, 2])
    np.testing.assert_array_equal(hi, [1, 3, 2])
    lo, hi = stats.rank_intervals(np.ones((20, 3)))  # all tied: ranked in listed order
    np.testing.assert_array_equal(lo, [1, 2, 3])
    np.testing.assert_array_equal(hi, [1, 2, 3])


# --------------------------------------------------------------------------- 11. holm


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_holm_matches_step_down(seed):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 0.2, size=12) ** 2
    p[3] = p[7]  # a tie
    p[[1, 9]] = np.nan  # not tests
    got = stats.holm(p)
    expected = _holm_reference(p)
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)
    assert np.isnan(got[[1, 9]]).all()
    assert (got[np.isfinite(p)] >= p[np.isfinite(p)]).all()


def test_holm_small_cases():
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])  # 3*.01, max(2*.03, .03), 1*.04 -> .06
    np.testing.assert_allclose(stats.holm([0.5, 0.9]), [1.0, 1.0])
    assert stats.holm([]).shape == (0,)
    assert np.isnan(stats.holm([np.nan, np.nan])).all()
    np.testing.assert_allclose(stats.holm([np.nan, 0.02]), [np.nan, 0.02], equal_nan=True)  # NaN does not count


# --------------------------------------------------------------------------- 12. mann_whitney_p / wilcoxon_p


def test_mann_whitney_p_edge_cases_and_scipy():
    assert stats.mann_whitney_p(np.array([2.0, 2.0]), np.array([2.0, 2.0, 2.0])) == 1.0
    assert math.isnan(stats.mann_whitney_p(np.array([]), np.array([1.0, 2.0])))
    assert math.isnan(stats.mann_whitney_p(np.array([1.0]), np.array([])))
    assert math.isnan(stats.mann_whitney_p(np.array([]), np.array([])))
    rng = np.random.default_rng(19)
    a, b = rng.normal(0.5, 1, 30), rng.normal(0, 1, 25)
    assert stats.mann_whitney_p(a, b) == pytest.approx(mannwhitneyu(a, b, alternative="two-sided").pvalue, rel=1e-12)


def test_wilcoxon_p_edge_cases_and_scipy():
    assert stats.wilcoxon_p(np.zeros(5)) == 1.0
    assert math.isnan(stats.wilcoxon_p(np.array([])))
    rng = np.random.default_rng(20)
    d = rng.normal(0.3, 1, 40)
    assert stats.wilcoxon_p(d) == pytest.approx(wilcoxon(d).pvalue, rel=1e-12)


# --------------------------------------------------------------------------- small helpers


def test_keyed_rng_depends_on_seed_and_names_only():
    x = stats.keyed_rng(3, "a", "b").random(4)
    np.testing.assert_array_equal(x, stats.keyed_rng(3, "a", "b").random(4))
    assert not np.array_equal(x, stats.keyed_rng(3, "b", "a").random(4))
    assert not np.array_equal(x, stats.keyed_rng(4, "a", "b").random(4))


def test_finite():
    assert stats.finite(np.float32(1.5)) == 1.5
    assert stats.finite(float("nan")) is None
    assert stats.finite(float("inf")) is None
