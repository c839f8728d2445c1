"""Losses for attribute-aware pretraining and IQA fine-tuning.

Pseudo-labels from the CLIP teachers are only meaningful up to order (a
teacher's "sharpness" score has no absolute unit), so pretraining relies on
pairwise ranking losses; fine-tuning on MOS adds a regression term. All
losses are plain differentiable torch.

Pairwise losses work on a batch of B scalar predictions ``p`` and targets
``t``. A pair ``(i, j)``, ``i < j``, is *valid* when both targets are finite
(NaN marks a missing label) and ``|t_i - t_j| > min_gap``; ties are never
valid, and a negative ``min_gap`` is treated as 0 for that reason. Each loss
is the mean over valid pairs; with no valid pair it is ``pred.sum() * 0``,
a zero that stays connected to the graph so that backward() and DDP's
gradient bookkeeping still see every parameter.

The module classes take ``pred`` and ``target`` of shape ``[B, A]`` (one
column per attribute), compute a per-attribute loss and combine them as
``total = sum_a w_a * loss_a / sum_a w_a``. They are meant to be built by
Hydra from a ``_target_`` entry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iqa.attributes import ATTRIBUTES

__all__ = [
    "CombinedLoss",
    "FidelityLoss",
    "RankingLoss",
    "RegressionLoss",
    "attribute_anchor_loss",
    "fidelity_loss",
    "pairwise_margin_loss",
    "regression_loss",
]

REGRESSION_KINDS: tuple[str, ...] = ("mse", "l1", "smooth_l1")

_SQRT2 = math.sqrt(2.0)


def _check_1d_pair(pred: Tensor, target: Tensor) -> None:
    if pred.dim() != 1 or target.dim() != 1:
        raise ValueError(
            f"pred and target must be 1-D, got shapes {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same length, got {pred.shape[0]} and {target.shape[0]}")


def _valid_pairs(target: Tensor, min_gap: float) -> tuple[Tensor, Tensor]:
    """Upper-triangular [B, B] mask of valid pairs and the target differences t_i - t_j.

    NaN targets are replaced by 0 before differencing; their pairs are masked
    out anyway, and this keeps NaN out of every intermediate (a NaN that is
    later multiplied by 0 or discarded can still poison gradients).
    """
    known = ~torch.isnan(target)
    safe = torch.where(known, target, torch.zeros_like(target))
    diff = safe.unsqueeze(1) - safe.unsqueeze(0)
    gap = max(float(min_gap), 0.0)
    b = target.shape[0]
    upper = torch.ones(b, b, dtype=torch.bool, device=target.device).triu(diagonal=1)
    mask = upper & known.unsqueeze(1) & known.unsqueeze(0) & (diff.abs() > gap)
    return mask, diff


def _masked_mean(losses: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``losses`` where ``mask``; 0 (still attached to the graph) where nothing is valid.

    Written without boolean indexing or ``.any()``: both force a GPU->CPU sync,
    and a training step should queue its kernels without waiting on the device.
    """
    total = torch.where(mask, losses, torch.zeros_like(losses)).sum()
    return total / mask.sum().clamp_min(1).to(losses.dtype)


def pairwise_margin_loss(pred: Tensor, target: Tensor, margin: float = 0.1, min_gap: float = 0.0) -> Tensor:
    """Margin ranking loss over all valid pairs.

    ``loss_ij = relu(margin - sign(t_i - t_j) * (p_i - p_j))``, averaged over
    pairs ``i < j`` with finite targets and ``|t_i - t_j| > min_gap``. It is
    zero once every valid pair is ordered like its targets with a gap of at
    least ``margin``.
    """
    _check_1d_pair(pred, target)
    mask, tdiff = _valid_pairs(target, min_gap)
    pdiff = pred.unsqueeze(1) - pred.unsqueeze(0)
    losses = F.relu(margin - torch.sign(tdiff) * pdiff)
    return _masked_mean(losses, mask)


def fidelity_loss(pred: Tensor, target: Tensor, min_gap: float = 0.0, eps: float = 1e-8) -> Tensor:
    """Fidelity loss between model and target pairwise preference probabilities.

    For each valid pair, the model's probability that i beats j is
    ``P_ij = Phi((p_i - p_j) / sqrt(2))`` (Thurstone model with unit-variance
    scores; ``Phi`` is the standard normal CDF) and the target is
    ``Q_ij = 1 if t_i > t_j else 0``. The loss is
    ``1 - sqrt(P_ij Q_ij + eps) - sqrt((1 - P_ij)(1 - Q_ij) + eps)``, averaged
    over valid pairs. ``eps`` keeps the sqrt gradient finite at 0, at the cost
    of a minimum value of about ``-sqrt(eps)`` instead of exactly 0.
    """
    _check_1d_pair(pred, target)
    mask, tdiff = _valid_pairs(target, min_gap)
    pdiff = pred.unsqueeze(1) - pred.unsqueeze(0)
    p = torch.special.ndtr(pdiff / _SQRT2)
    q = (tdiff > 0).to(p.dtype)
    losses = 1 - torch.sqrt(p * q + eps) - torch.sqrt((1 - p) * (1 - q) + eps)
    return _masked_mean(losses, mask)


def _check_regression_kind(kind: str) -> None:
    if kind not in REGRESSION_KINDS:
        raise ValueError(f"unknown regression kind {kind!r}; valid kinds: {', '.join(REGRESSION_KINDS)}")


def regression_loss(pred: Tensor, target: Tensor, kind: str = "mse") -> Tensor:
    """Elementwise regression loss averaged over entries with a finite target.

    ``kind`` is ``"mse"`` (squared error), ``"l1"`` (absolute error) or
    ``"smooth_l1"`` (Huber with beta 1). Returns ``pred.sum() * 0`` when every
    target is NaN.
    """
    _check_regression_kind(kind)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    known = ~torch.isnan(target)
    safe = torch.where(known, target, pred.detach())
    if kind == "mse":
        losses = F.mse_loss(pred, safe, reduction="none")
    elif kind == "l1":
        losses = F.l1_loss(pred, safe, reduction="none")
    else:
        losses = F.smooth_l1_loss(pred, safe, reduction="none")
    return _masked_mean(losses, known)


def attribute_anchor_loss(current: Tensor, reference: Tensor, eps: float = 1e-6) -> Tensor:
    """How far attribute outputs ``[B, A]`` have moved from a reference's on the same images.

    Per attribute, the mean squared difference over the batch divided by the
    reference's variance over the batch (population variance, at least ``eps``),
    then the mean over attributes. Dividing by the spread makes the loss
    independent of each head's scale, which ranking pretraining leaves
    arbitrary: a drift of one reference standard deviation costs 1 whatever
    the head's units. A batch of one image has no spread; its error is taken
    on the heads' own scale. The reference gets no gradient.
    """
    if current.ndim != 2 or current.shape != reference.shape:
        raise ValueError(f"attribute outputs [B, A] and their reference must match: {tuple(current.shape)} vs {tuple(reference.shape)}")
    reference = reference.detach().to(current.dtype)
    squared = (current - reference).pow(2).mean(dim=0)
    if current.shape[0] < 2:
        return squared.mean()
    spread = reference.var(dim=0, unbiased=False).clamp_min(eps)
    return (squared / spread).mean()


def _resolve_weights(weights: Any, attributes: tuple[str, ...]) -> list[float]:
    if weights is None:
        values = [1.0] * len(attributes)
    elif isinstance(weights, Mapping):
        unknown = [str(k) for k in weights if k not in attributes]
        if unknown:
            raise ValueError(
                f"unknown attribute(s) in weights: {', '.join(unknown)}; valid attributes: {', '.join(attributes)}"
            )
        values = [float(weights.get(a, 1.0)) for a in attributes]
    elif isinstance(weights, Sequence) and not isinstance(weights, str):
        if len(weights) != len(attributes):
            raise ValueError(
                f"weights list has {len(weights)} entries but there are {len(attributes)} attributes "
                f"({', '.join(attributes)})"
            )
        values = [float(w) for w in weights]
    else:
        raise ValueError(f"weights must be None, a mapping attribute -> float or a list, got {type(weights).__name__}")
    if any(not math.isfinite(w) or w < 0 for w in values):
        raise ValueError(f"weights must be finite and non-negative, got {values}")
    if sum(values) <= 0:
        raise ValueError("at least one attribute weight must be positive")
    return values


class _AttributeLoss(nn.Module):
    """Applies a per-column loss to ``[B, A]`` inputs and returns the weighted mean."""

    def __init__(self, weights: Any = None, attributes: Sequence[str] = ATTRIBUTES) -> None:
        super().__init__()
        if isinstance(attributes, str):
            # A bare string would otherwise be split into characters.
            attributes = [attributes]
        names = tuple(str(a) for a in attributes)
        if not names:
            raise ValueError("attributes must not be empty")
        if len(set(names)) != len(names):
            raise ValueError(f"attributes must be unique, got {names}")
        self.attributes = names
        self.weights = dict(zip(names, _resolve_weights(weights, names)))

    def _column_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, pred: Tensor, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        n = len(self.attributes)
        for name, x in (("pred", pred), ("target", target)):
            if x.dim() != 2 or x.shape[1] != n:
                raise ValueError(
                    f"{name} must have shape [B, {n}] for attributes ({', '.join(self.attributes)}), "
                    f"got {tuple(x.shape)}"
                )
        if pred.shape[0] != target.shape[0]:
            raise ValueError(f"pred and target batch sizes differ: {pred.shape[0]} vs {target.shape[0]}")
        per_attribute = {a: self._column_loss(pred[:, k], target[:, k]) for k, a in enumerate(self.attributes)}
        # Zero-weight attributes are left out of the sum rather than multiplied
        # by 0, so that a NaN in a switched-off column cannot leak into the total.
        total = sum(self.weights[a] * per_attribute[a] for a in self.attributes if self.weights[a] > 0)
        total = total / sum(self.weights.values())
        return total, per_attribute

    def extra_repr(self) -> str:
        return f"attributes={self.attributes}, weights={self.weights}"


class RankingLoss(_AttributeLoss):
    """Per-attribute :func:`pairwise_margin_loss`, combined as ``sum_a w_a L_a / sum_a w_a``."""

    def __init__(
        self,
        margin: float = 0.1,
        min_gap: float = 0.0,
        weights: Any = None,
        attributes: Sequence[str] = ATTRIBUTES,
    ) -> None:
        super().__init__(weights=weights, attributes=attributes)
        self.margin = float(margin)
        self.min_gap = float(min_gap)

    def _column_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return pairwise_margin_loss(pred, target, margin=self.margin, min_gap=self.min_gap)


class FidelityLoss(_AttributeLoss):
    """Per-attribute :func:`fidelity_loss`, combined as ``sum_a w_a L_a / sum_a w_a``."""

    def __init__(
        self,
        min_gap: float = 0.0,
        weights: Any = None,
        attributes: Sequence[str] = ATTRIBUTES,
    ) -> None:
        super().__init__(weights=weights, attributes=attributes)
        self.min_gap = float(min_gap)

    def _column_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return fidelity_loss(pred, target, min_gap=self.min_gap)


class RegressionLoss(_AttributeLoss):
    """Per-attribute :func:`regression_loss`, combined as ``sum_a w_a L_a / sum_a w_a``."""

    def __init__(
        self,
        kind: str = "mse",
        weights: Any = None,
        attributes: Sequence[str] = ATTRIBUTES,
    ) -> None:
        # Fail at construction (i.e. at config time) rather than on the first batch.
        _check_regression_kind(kind)
        super().__init__(weights=weights, attributes=attributes)
        self.kind = kind

    def _column_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return regression_loss(pred, target, kind=self.kind)


def _build_term(name: Any, term: Any, attributes: Sequence[str] | None) -> nn.Module:
    if isinstance(term, nn.Module):
        own = getattr(term, "attributes", None)
        if attributes is not None and own is not None and tuple(own) != tuple(str(a) for a in attributes):
            raise ValueError(f"loss term {name!r} scores {', '.join(own)} but the combined loss scores {', '.join(attributes)}")
        return term
    if callable(term):
        built = term() if attributes is None else term(attributes=attributes)
        if not isinstance(built, nn.Module):
            raise TypeError(f"loss term {name!r}: its factory returned {type(built).__name__}, not a torch module")
        return built
    raise TypeError(f"loss term {name!r} must be a loss module or a factory of one, got {type(term).__name__}")


class CombinedLoss(nn.Module):
    """Weighted sum of several attribute losses: ``total = sum_k c_k * total_k``.

    ``terms`` maps a name to a loss module returning ``(total, per_attribute)``;
    ``coefficients`` maps term names to ``c_k`` (missing names get 1). The sum
    is not renormalised, so ``{"regression": 1, "ranking": 0.5}`` means
    ``L_regression + 0.5 * L_ranking``. The returned dictionary holds every
    term's per-attribute losses under ``"<term>/<attribute>"``.

    A term may also be a factory (a Hydra ``_partial_`` node) taking
    ``attributes``: it is built here with this loss's ``attributes``, so one
    combined loss in a config serves pretraining (the five attributes) and
    fine-tuning (the quality column) alike. Module terms must then score the
    same attributes.
    """

    def __init__(self, terms: Mapping[str, Any], coefficients: Mapping[str, float] | None = None,
                 attributes: Sequence[str] | None = None) -> None:
        super().__init__()
        terms = {str(name): _build_term(name, term, attributes) for name, term in dict(terms.items()).items()}
        if not terms:
            raise ValueError("CombinedLoss needs at least one term")
        coefficients = dict(coefficients.items()) if coefficients is not None else {}
        unknown = [str(k) for k in coefficients if k not in terms]
        if unknown:
            raise ValueError(
                f"coefficients given for unknown term(s) {', '.join(unknown)}; terms: {', '.join(map(str, terms))}"
            )
        self.terms = nn.ModuleDict({str(k): v for k, v in terms.items()})
        self.coefficients = {str(k): float(coefficients.get(k, 1.0)) for k in terms}

    def forward(self, pred: Tensor, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        total: Tensor | None = None
        merged: dict[str, Tensor] = {}
        for name, term in self.terms.items():
            term_total, per_attribute = term(pred, target)
            weighted = self.coefficients[name] * term_total
            total = weighted if total is None else total + weighted
            merged.update({f"{name}/{attr}": value for attr, value in per_attribute.items()})
        assert total is not None
        return total, merged

    def extra_repr(self) -> str:
        return f"coefficients={self.coefficients}"
