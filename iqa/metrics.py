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

This module is the only place in the package that computes a correlation:
evaluation, fine-tuning and pretraining validation, the distortion-ladder proxy
(:mod:`iqa.ladder`) and prompt selection all call it.

Three forms are provided, sharing one ranking and one constant-input rule:

* Functional (:func:`srcc`, :func:`plcc`, :func:`krcc`, :func:`plcc_logistic`,
  :func:`compute_all`) for a complete set of predictions. Inputs may be torch
  tensors on any device, numpy arrays or lists; everything is computed in
  float64 on the CPU. These are the tested reference.
* Column-wise (:func:`srcc_columns`): Spearman of every column of a matrix at
  once, against one target or against the matching target column (the
  per-attribute student-vs-teacher SRCC, the score of every prompt candidate).
* Stateful torchmetrics classes (:class:`SRCC`, :class:`PLCC`, :class:`KRCC`,
  :class:`AttributeSRCC`, and :func:`make_metric_collection`) for accumulating
  over batches in validation. Their state is the raw predictions
  (``dist_reduce_fx="cat"``), so under DDP every rank gathers everything and
  ``compute()`` runs the functional form on the whole set: every stage
  aggregates across ranks the same way and reports exactly the functional value.

**Constant inputs give 0** (with a ``RuntimeWarning``), for every correlation
and every form. A constant vector orders nothing; the honest statement about
it is "no agreement", the value a random ordering has on average. Unlike NaN,
0 keeps every average defined (over ladders, prompt-proxy groups, attributes,
seeds) and ranks a collapsed model or an uninformative prompt pair below any
that orders correctly and above any that orders backwards, which is exactly
what checkpoint selection and prompt selection need; a NaN would either poison
those means or, skipped by a NaN-aware mean, silently reward the collapse. The
warning keeps a degenerate evaluation visible. NaN is kept for what is truly
missing: fewer than two samples or non-finite predictions in the stateful
forms (the functional forms raise ``ValueError`` for those).

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
from torchmetrics import Metric, MetricCollection
from torchmetrics.functional import kendall_rank_corrcoef
from torchmetrics.utilities import dim_zero_cat

__all__ = [
    "AttributeSRCC",
    "CONSTANT_VALUE",
    "KRCC",
    "MOSScale",
    "PLCC",
    "SRCC",
    "compute_all",
    "krcc",
    "make_metric_collection",
    "plcc",
    "plcc_logistic",
    "srcc",
    "srcc_columns",
]

#: What every correlation reports when the predictions or the target are constant (see the module docstring).
CONSTANT_VALUE = 0.0
# Below this many samples the 4-parameter logistic has no residual degrees of
# freedom left to fit (4 parameters + at least one extra point).
MIN_LOGISTIC_SAMPLES = 5
_MIN_SAMPLES = 2


def _as_float64(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to(device="cpu", dtype=torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _to_numpy(x: Any, name: str) -> np.ndarray:
    arr = _as_float64(x)
    # Model heads commonly emit [N, 1]; accept that, but nothing wider, because
    # silently flattening [N, A] would correlate unrelated attributes.
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (or [N, 1]), got shape {tuple(arr.shape)}")
    return arr


def _check_values(p: np.ndarray, t: np.ndarray, min_samples: int) -> None:
    if p.shape[0] != t.shape[0]:
        raise ValueError(f"preds and target must have the same length, got {p.shape[0]} and {t.shape[0]}")
    if p.shape[0] < min_samples:
        raise ValueError(f"need at least {min_samples} samples, got {p.shape[0]}")
    for name, arr in (("preds", p), ("target", t)):
        if np.isnan(arr).any():
            raise ValueError(f"{name} contains NaN values")
        if np.isinf(arr).any():
            raise ValueError(f"{name} contains infinite values")


def _validate(preds: Any, target: Any, min_samples: int = _MIN_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    p = _to_numpy(preds, "preds")
    t = _to_numpy(target, "target")
    _check_values(p, t, min_samples)
    return p, t


def _constant(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per column: is either side constant? (``a`` is ``[n, C]``, ``b`` is ``[n, C]`` or ``[n, 1]``.)"""
    # An exact test on the values: centring a constant column by its floating-point
    # mean need not give exact zeros, so the formula alone cannot be trusted to see it.
    return (np.ptp(a, axis=0) == 0) | (np.ptp(b, axis=0) == 0)


def _warn_constant(metric: str, count: int = 1, total: int = 1) -> None:
    what = "preds or target is constant" if total == 1 else f"{count} of {total} columns are constant (or the target is)"
    warnings.warn(f"{metric}: {what}; it orders nothing, reporting {CONSTANT_VALUE:g}", RuntimeWarning, stacklevel=3)


def _pearson_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation per column, ``CONSTANT_VALUE`` where a side is constant (no warning here)."""
    constant = _constant(a, b)
    ac = a - a.mean(axis=0, keepdims=True)
    bc = b - b.mean(axis=0, keepdims=True)
    numerator = (ac * bc).sum(axis=0)
    denominator = np.sqrt((ac**2).sum(axis=0) * (bc**2).sum(axis=0))
    rho = np.full(numerator.shape, CONSTANT_VALUE)
    np.divide(numerator, denominator, out=rho, where=~constant)
    return np.clip(rho, -1.0, 1.0)


def _ranks(x: np.ndarray) -> np.ndarray:
    # Average ranks for ties, in float64: exactly scipy.stats.spearmanr's ranking.
    # (torchmetrics' Spearman ranks in float32 and adds an epsilon to the
    # denominator, about 1e-6 off scipy on small tied samples.)
    return rankdata(x, method="average", axis=0)


def _spearman_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman = Pearson of the average ranks, per column; the one implementation behind every SRCC."""
    return _pearson_columns(_ranks(a), _ranks(b))


def _pearson(p: np.ndarray, t: np.ndarray) -> float:
    return float(_pearson_columns(p[:, None], t[:, None])[0])


def _spearman(p: np.ndarray, t: np.ndarray) -> float:
    return float(_spearman_columns(p[:, None], t[:, None])[0])


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
    """Spearman rank-order correlation; ties receive average ranks. In [-1, 1], higher is better.

    Constant ``preds`` or ``target``: 0, with a warning (see the module docstring).
    """
    p, t = _validate(preds, target)
    if _constant(p[:, None], t[:, None])[0]:
        _warn_constant("srcc")
        return CONSTANT_VALUE
    return _spearman(p, t)


def srcc_columns(preds: Any, target: Any) -> np.ndarray:
    """Spearman correlation of each column of ``preds [n, C]`` with ``target``, as a float64 array ``[C]``.

    ``target`` is either one vector ``[n]`` (every column against it, e.g. every
    prompt candidate against a proxy's known ordering) or a matrix ``[n, C]``
    (column ``c`` against column ``c``, e.g. each attribute head against the
    teacher's score for that attribute). Ties get average ranks; a constant
    column (or target) gives 0 with one warning for the call, exactly as
    :func:`srcc` does for one column. Inputs must be finite.
    """
    p = _as_float64(preds)
    t = _as_float64(target)
    if p.ndim != 2:
        raise ValueError(f"preds must be 2-D [n, C], got shape {tuple(p.shape)}")
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2 or t.shape[1] not in (1, p.shape[1]):
        raise ValueError(f"target must be [n] or [n, {p.shape[1]}], got shape {tuple(np.shape(target))}")
    _check_values(p, t, _MIN_SAMPLES)
    constant = _constant(p, t)
    if constant.any():
        _warn_constant("srcc", int(constant.sum()), p.shape[1])
    return _spearman_columns(p, t)


def plcc(preds: Any, target: Any) -> float:
    """Pearson linear correlation on the raw predictions. In [-1, 1], higher is better; constant input: 0."""
    p, t = _validate(preds, target)
    if _constant(p[:, None], t[:, None])[0]:
        _warn_constant("plcc")
        return CONSTANT_VALUE
    return _pearson(p, t)


def krcc(preds: Any, target: Any) -> float:
    """Kendall rank correlation, tau-b (tie-corrected). In [-1, 1], higher is better; constant input: 0."""
    p, t = _validate(preds, target)
    if _constant(p[:, None], t[:, None])[0]:
        _warn_constant("krcc")
        return CONSTANT_VALUE
    return _kendall(p, t)


def plcc_logistic(preds: Any, target: Any) -> float:
    """Pearson correlation after a fitted 4-parameter logistic mapping of the predictions.

    The mapping ``f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2`` is fitted
    from ``preds`` to ``target`` by least squares (:func:`scipy.optimize.curve_fit`)
    starting from ``b1 = max(target)``, ``b2 = min(target)``, ``b3 = mean(preds)``,
    ``b4 = std(preds)``; the result is ``PLCC(f(preds), target)``. If the fit does
    not converge a warning is emitted and plain PLCC is returned. Requires at
    least 5 samples. In [-1, 1], higher is better; constant input: 0.
    """
    p, t = _validate(preds, target, min_samples=MIN_LOGISTIC_SAMPLES)
    if _constant(p[:, None], t[:, None])[0]:
        _warn_constant("plcc_logistic")
        return CONSTANT_VALUE
    return _plcc_logistic(p, t)


def compute_all(preds: Any, target: Any) -> dict[str, float]:
    """All four metrics as ``{"srcc", "plcc", "krcc", "plcc_logistic"}``.

    Inputs are validated once. With 2-4 samples ``plcc_logistic`` cannot be
    fitted and is reported as NaN with a warning rather than failing the
    whole evaluation. Constant inputs give 0 for every metric (one warning).
    """
    p, t = _validate(preds, target)
    few = p.shape[0] < MIN_LOGISTIC_SAMPLES
    if few:
        warnings.warn(
            f"compute_all: plcc_logistic needs at least {MIN_LOGISTIC_SAMPLES} samples, "
            f"got {p.shape[0]}; reporting nan",
            RuntimeWarning,
            stacklevel=2,
        )
    if _constant(p[:, None], t[:, None])[0]:
        _warn_constant("compute_all")
        values = dict.fromkeys(("srcc", "plcc", "krcc", "plcc_logistic"), CONSTANT_VALUE)
        return {**values, "plcc_logistic": float("nan") if few else CONSTANT_VALUE}
    return {
        "srcc": _spearman(p, t),
        "plcc": _pearson(p, t),
        "krcc": _kendall(p, t),
        "plcc_logistic": float("nan") if few else _plcc_logistic(p, t),
    }


# ---------------------------------------------------------------- stateful (torchmetrics) forms
class _GatheredMetric(Metric):
    """Keeps every prediction and target (float64, flattened) and computes on the whole set.

    States are flat 1-D float64 lists reduced with ``cat``: a rank that saw no
    batch contributes torchmetrics' empty 1-D placeholder of the metric's dtype,
    which concatenates cleanly with the others (a 2-D or integer state would not).
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = True

    def __init__(self, width: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.width = int(width)
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")
        self.set_dtype(torch.float64)

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        preds, target = torch.as_tensor(preds), torch.as_tensor(target)
        if preds.numel() != target.numel() or preds.numel() % self.width:
            raise ValueError(f"{type(self).__name__}: preds {tuple(preds.shape)} and target {tuple(target.shape)} "
                             f"must hold the same number of rows of width {self.width}")
        self.preds.append(preds.detach().reshape(-1).to(torch.float64))
        self.target.append(target.detach().reshape(-1).to(torch.float64))

    def _gathered(self) -> tuple[np.ndarray, np.ndarray]:
        """All rows so far (after the cross-rank gather), as float64 ``[n, width]`` arrays."""
        empty = np.zeros((0, self.width))
        if isinstance(self.preds, list) and not self.preds:
            return empty, empty
        p = dim_zero_cat(self.preds).cpu().numpy().reshape(-1, self.width)
        t = dim_zero_cat(self.target).cpu().numpy().reshape(-1, self.width)
        return p, t


class _ScalarCorrelation(_GatheredMetric):
    def _value(self, p: np.ndarray, t: np.ndarray) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def compute(self) -> torch.Tensor:
        p, t = self._gathered()
        p, t = p[:, 0], t[:, 0]
        if p.size < _MIN_SAMPLES or not (np.isfinite(p).all() and np.isfinite(t).all()):
            return torch.tensor(float("nan"), dtype=torch.float64)
        return torch.tensor(self._value(p, t), dtype=torch.float64)


class SRCC(_ScalarCorrelation):
    """Stateful :func:`srcc`: ``update(preds, target)`` per batch, ``compute()`` gathers every rank."""

    def _value(self, p: np.ndarray, t: np.ndarray) -> float:
        return srcc(p, t)


class PLCC(_ScalarCorrelation):
    """Stateful :func:`plcc`."""

    def _value(self, p: np.ndarray, t: np.ndarray) -> float:
        return plcc(p, t)


class KRCC(_ScalarCorrelation):
    """Stateful :func:`krcc`."""

    def _value(self, p: np.ndarray, t: np.ndarray) -> float:
        return krcc(p, t)


class AttributeSRCC(_GatheredMetric):
    """Per-attribute SRCC of student against teacher: ``update(preds [B, A], target [B, A])``, ``compute() -> [A]``.

    Rows where any teacher score is missing (non-finite) are left out, as the
    teacher gave no ordering for them. Column ``a`` is :func:`srcc_columns`
    of the student's column ``a`` against the teacher's; NaN when fewer than
    two rows remain or when the student's column holds a non-finite value.
    """

    def __init__(self, num_attributes: int, **kwargs: Any) -> None:
        super().__init__(width=num_attributes, **kwargs)
        #: Rows (over every rank, missing teacher scores included) at the last ``compute()``.
        self.rows_seen = 0

    def compute(self) -> torch.Tensor:
        p, t = self._gathered()
        self.rows_seen = int(p.shape[0])
        keep = np.isfinite(t).all(axis=1)
        p, t = p[keep], t[keep]
        result = np.full(self.width, np.nan)
        if p.shape[0] >= _MIN_SAMPLES:
            finite = np.isfinite(p).all(axis=0)
            if finite.any():
                result[finite] = srcc_columns(p[:, finite], t[:, finite])
        return torch.from_numpy(result)


def make_metric_collection(prefix: str = "") -> MetricCollection:
    """Stateful SRCC/PLCC/KRCC, keyed ``srcc``, ``plcc``, ``krcc`` (plus ``prefix``).

    Call ``update(preds, target)`` per batch with 1-D tensors and ``compute()``
    at the end; every rank's predictions are gathered under DDP and the
    functional forms run on the whole set, so the values equal :func:`srcc`,
    :func:`plcc` and :func:`krcc` on the same data, in float64.

    The logistic PLCC is deliberately absent: its non-linear fit is costly and
    better done once at the end of evaluation with :func:`plcc_logistic` (or
    :func:`compute_all`) on the gathered predictions.
    """
    return MetricCollection({"srcc": SRCC(), "plcc": PLCC(), "krcc": KRCC()}, prefix=prefix or None)


@dataclass(frozen=True)
class MOSScale:
    """Linear map between a dataset's MOS range and ``[0, 1]`` where 1 is always best.

    ``low`` and ``high`` are the ends of the rating scale (not the observed
    min/max). When ``higher_is_better`` is False (e.g. DMOS), the map is
    flipped so that ``low`` maps to 1. Values outside ``[low, high]`` map
    outside ``[0, 1]`` rather than being clipped, so that the round trip
    ``denormalise(normalise(x)) == x`` holds for every input. Works on floats,
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

    def normalise(self, mos: Any) -> Any:
        """MOS -> [0, 1], 1 being the best quality on this scale."""
        u = (self._coerce(mos) - self.low) / (self.high - self.low)
        return u if self.higher_is_better else 1 - u

    def denormalise(self, u: Any) -> Any:
        """Inverse of :meth:`normalise`."""
        u = self._coerce(u)
        if not self.higher_is_better:
            u = 1 - u
        return u * (self.high - self.low) + self.low
