"""Correlation metrics for image quality assessment.

IQA models are judged by how well their scores agree with human mean opinion
scores (MOS). Four coefficients are reported, all in ``[-1, 1]`` and all
"higher is better" (1 means perfect agreement, 0 none, -1 perfectly reversed):

* ``srcc`` -- Spearman rank-order correlation (monotonic agreement; ties get
  average ranks, as in :func:`scipy.stats.spearmanr`).
* ``plcc`` -- Pearson linear correlation (linear agreement).
* ``krcc`` -- Kendall rank correlation, tau-b variant (pairwise ordering
  agreement with a tie correction, as :func:`scipy.stats.kendalltau`).
* ``plcc_logistic`` -- Pearson correlation after mapping predictions through a
  fitted 4-parameter logistic, the usual IQA protocol for removing a model's
  monotone non-linearity before measuring linear agreement.

Two forms are provided:

* Functional (:func:`srcc`, :func:`plcc`, :func:`krcc`, :func:`plcc_logistic`,
  :func:`compute_all`) for a complete set of predictions. Inputs may be torch
  tensors on any device, numpy arrays or lists; everything is computed in
  float64 on the CPU.
* Stateful (:func:`make_metric_collection`) for accumulating over batches
  during evaluation; its torchmetrics members all-gather their state across
  processes under DDP.

:class:`MOSScale` maps a dataset's MOS range to ``[0, 1]`` with 1 always best,
so datasets with different scales and directions can share one model head.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.special import expit
from scipy.stats import rankdata
from torchmetrics import KendallRankCorrCoef, MetricCollection, PearsonCorrCoef, SpearmanCorrCoef
from torchmetrics.functional import kendall_rank_corrcoef, pearson_corrcoef

__all__ = [
    "MOSScale",
    "compute_all",
    "krcc",
    "make_metric_collection",
    "plcc",
    "plcc_logistic",
    "srcc",
]

# Below this many samples the 4-parameter logistic has no residual degrees of
# freedom left to fit (4 parameters + at least one extra point).
MIN_LOGISTIC_SAMPLES = 5
_MIN_SAMPLES = 2


def _to_numpy(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        arr = x.detach().to(device="cpu", dtype=torch.float64).numpy()
    else:
        arr = np.asarray(x, dtype=np.float64)
    # Model heads commonly emit [N, 1]; accept that, but nothing wider, because
    # silently flattening [N, A] would correlate unrelated attributes.
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (or [N, 1]), got shape {tuple(arr.shape)}")
    return arr


def _validate(preds: Any, target: Any, min_samples: int = _MIN_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    p = _to_numpy(preds, "preds")
    t = _to_numpy(target, "target")
    if p.shape[0] != t.shape[0]:
        raise ValueError(f"preds and target must have the same length, got {p.shape[0]} and {t.shape[0]}")
    if p.shape[0] < min_samples:
        raise ValueError(f"need at least {min_samples} samples, got {p.shape[0]}")
    for name, arr in (("preds", p), ("target", t)):
        if np.isnan(arr).any():
            raise ValueError(f"{name} contains NaN values")
        if np.isinf(arr).any():
            raise ValueError(f"{name} contains infinite values")
    return p, t


def _is_constant(p: np.ndarray, t: np.ndarray) -> bool:
    return bool(np.ptp(p) == 0 or np.ptp(t) == 0)


def _warn_constant(metric: str) -> float:
    # A constant vector has no ordering and zero variance, so every correlation
    # is undefined. Returning NaN (instead of raising) keeps an evaluation loop
    # alive, e.g. when an untrained model outputs the same score everywhere.
    warnings.warn(
        f"{metric}: preds or target is constant; correlation is undefined, returning nan",
        RuntimeWarning,
        stacklevel=3,
    )
    return float("nan")


def _pearson(p: np.ndarray, t: np.ndarray) -> float:
    return float(pearson_corrcoef(torch.from_numpy(p), torch.from_numpy(t)))


def _spearman(p: np.ndarray, t: np.ndarray) -> float:
    # torchmetrics.functional.spearman_corrcoef is not used: it builds ranks by
    # dividing int32 rank sums by counts, which yields float32 ranks even for
    # float64 input, and it adds eps=1e-6 to the denominator. On small samples
    # with ties that puts it about 1e-6 away from scipy.stats.spearmanr (e.g.
    # 0.4999990 instead of 0.5 for [1, 1, 2] vs [1, 2, 2]). Average ranks in
    # float64 followed by Pearson reproduces scipy exactly.
    return _pearson(rankdata(p, method="average"), rankdata(t, method="average"))


def _kendall(p: np.ndarray, t: np.ndarray) -> float:
    # torchmetrics' tau-b counts pairs exactly in integers and only the final
    # sqrt runs in float32, so it agrees with scipy.stats.kendalltau to ~1e-7.
    tau = kendall_rank_corrcoef(torch.from_numpy(p), torch.from_numpy(t), variant="b")
    return float(tau)


def _logistic4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    # (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2, written with expit so that
    # large |x - b3| / |b4| does not overflow exp() while the optimiser explores.
    return (b1 - b2) * expit((x - b3) / abs(b4)) + b2


def _plcc_logistic(p: np.ndarray, t: np.ndarray) -> float:
    scale = float(np.std(p))
    # A zero initial slope scale would divide by zero on the first evaluation.
    if not scale > 0:
        scale = 1.0
    p0 = [float(np.max(t)), float(np.min(t)), float(np.mean(p)), scale]
    try:
        with warnings.catch_warnings():
            # Only the fitted curve is used, never the parameter covariance,
            # so "covariance could not be estimated" is irrelevant here.
            warnings.simplefilter("ignore", OptimizeWarning)
            params, _ = curve_fit(_logistic4, p, t, p0=p0, maxfev=10000)
        if not np.all(np.isfinite(params)) or params[3] == 0:
            raise RuntimeError(f"degenerate logistic parameters {params}")
        fitted = _logistic4(p, *params)
        if not np.all(np.isfinite(fitted)) or np.ptp(fitted) == 0:
            raise RuntimeError("logistic fit collapsed to a constant mapping")
    except (RuntimeError, ValueError) as exc:
        warnings.warn(
            f"plcc_logistic: 4-parameter logistic fit did not converge ({exc}); falling back to plain PLCC",
            RuntimeWarning,
            stacklevel=3,
        )
        return _pearson(p, t)
    return _pearson(fitted, t)


def srcc(preds: Any, target: Any) -> float:
    """Spearman rank-order correlation; ties receive average ranks. In [-1, 1], higher is better."""
    p, t = _validate(preds, target)
    if _is_constant(p, t):
        return _warn_constant("srcc")
    return _spearman(p, t)


def plcc(preds: Any, target: Any) -> float:
    """Pearson linear correlation on the raw predictions. In [-1, 1], higher is better."""
    p, t = _validate(preds, target)
    if _is_constant(p, t):
        return _warn_constant("plcc")
    return _pearson(p, t)


def krcc(preds: Any, target: Any) -> float:
    """Kendall rank correlation, tau-b (tie-corrected). In [-1, 1], higher is better."""
    p, t = _validate(preds, target)
    if _is_constant(p, t):
        return _warn_constant("krcc")
    return _kendall(p, t)


def plcc_logistic(preds: Any, target: Any) -> float:
    """Pearson correlation after a fitted 4-parameter logistic mapping of the predictions.

    The mapping ``f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2`` is fitted
    from ``preds`` to ``target`` by least squares (:func:`scipy.optimize.curve_fit`)
    starting from ``b1 = max(target)``, ``b2 = min(target)``, ``b3 = mean(preds)``,
    ``b4 = std(preds)``; the result is ``PLCC(f(preds), target)``. If the fit does
    not converge a warning is emitted and plain PLCC is returned. Requires at
    least 5 samples. In [-1, 1], higher is better.
    """
    p, t = _validate(preds, target, min_samples=MIN_LOGISTIC_SAMPLES)
    if _is_constant(p, t):
        return _warn_constant("plcc_logistic")
    return _plcc_logistic(p, t)


def compute_all(preds: Any, target: Any) -> dict[str, float]:
    """All four metrics as ``{"srcc", "plcc", "krcc", "plcc_logistic"}``.

    Inputs are validated once. With 2-4 samples ``plcc_logistic`` cannot be
    fitted and is reported as NaN with a warning rather than failing the
    whole evaluation. Constant inputs give NaN for every metric (one warning).
    """
    p, t = _validate(preds, target)
    if _is_constant(p, t):
        warnings.warn(
            "compute_all: preds or target is constant; correlations are undefined, returning nan",
            RuntimeWarning,
            stacklevel=2,
        )
        return dict.fromkeys(("srcc", "plcc", "krcc", "plcc_logistic"), float("nan"))
    if p.shape[0] < MIN_LOGISTIC_SAMPLES:
        warnings.warn(
            f"compute_all: plcc_logistic needs at least {MIN_LOGISTIC_SAMPLES} samples, "
            f"got {p.shape[0]}; reporting nan",
            RuntimeWarning,
            stacklevel=2,
        )
        logistic = float("nan")
    else:
        logistic = _plcc_logistic(p, t)
    return {
        "srcc": _spearman(p, t),
        "plcc": _pearson(p, t),
        "krcc": _kendall(p, t),
        "plcc_logistic": logistic,
    }


def make_metric_collection(prefix: str = "") -> MetricCollection:
    """Stateful SRCC/PLCC/KRCC, keyed ``srcc``, ``plcc``, ``krcc`` (plus ``prefix``).

    Call ``update(preds, target)`` per batch with 1-D tensors and ``compute()``
    at the end; torchmetrics all-gathers the state across processes under DDP.

    The logistic PLCC is deliberately absent: its non-linear fit needs every
    prediction at once and cannot be accumulated. Compute it at the end of
    evaluation by passing the gathered predictions and targets to
    :func:`plcc_logistic` (or :func:`compute_all`).

    Precision notes: the Pearson state is switched to float64, since its
    default float32 running moments drift ~1e-7 from the exact value on a few
    thousand samples. The Spearman and Kendall members keep raw inputs and
    rank at ``compute()``; torchmetrics does part of that in float32, so they
    agree with scipy to about 1e-7 rather than to float64 precision, and
    Spearman reports 0 rather than NaN for a constant input. Use the
    functional forms when exact values are needed.
    """
    pearson = PearsonCorrCoef()
    pearson.set_dtype(torch.float64)
    with warnings.catch_warnings():
        # Both warn on construction that they buffer every prediction. IQA
        # evaluation sets are at most tens of thousands of scalars, so the
        # buffer is small and the warning would only be noise in every run.
        warnings.filterwarnings("ignore", message=r".*will save all targets and predictions", category=UserWarning)
        metrics = {
            "srcc": SpearmanCorrCoef(),
            "plcc": pearson,
            "krcc": KendallRankCorrCoef(variant="b"),
        }
    return MetricCollection(metrics, prefix=prefix or None)


@dataclass(frozen=True)
class MOSScale:
    """Linear map between a dataset's MOS range and ``[0, 1]`` where 1 is always best.

    ``low`` and ``high`` are the ends of the rating scale (not the observed
    min/max). When ``higher_is_better`` is False (e.g. DMOS), the map is
    flipped so that ``low`` maps to 1. Values outside ``[low, high]`` map
    outside ``[0, 1]`` rather than being clipped, so that the round trip
    ``from_unit(to_unit(x)) == x`` holds for every input. Works on floats,
    numpy arrays and torch tensors.
    """

    low: float
    high: float
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError(f"MOS scale ends must be finite, got low={self.low}, high={self.high}")
        if self.high <= self.low:
            raise ValueError(f"MOS scale needs high > low, got low={self.low}, high={self.high}")

    @staticmethod
    def _coerce(x: Any) -> Any:
        return np.asarray(x, dtype=np.float64) if isinstance(x, (list, tuple)) else x

    def to_unit(self, mos: Any) -> Any:
        """MOS -> [0, 1], 1 being the best quality on this scale."""
        u = (self._coerce(mos) - self.low) / (self.high - self.low)
        return u if self.higher_is_better else 1 - u

    def from_unit(self, u: Any) -> Any:
        """Inverse of :meth:`to_unit`."""
        u = self._coerce(u)
        if not self.higher_is_better:
            u = 1 - u
        return u * (self.high - self.low) + self.low
