"""IQA fine-tuning and linear probing: regress MOS with the quality head.

Three protocols share one module family:

* ``stage=finetune``: the backbone and the quality head learn by gradient descent;
* ``stage=linear_probe`` (``stage.head=linear``): the backbone is frozen (its
  batch-norm statistics too) and only the linear quality head learns;
* ``stage=linear_probe stage.head=ridge``: the backbone is frozen and the
  quality head is the closed-form ridge regression of unit-scale MOS on the
  backbone's pooled features, computed in one deterministic pass
  (:class:`RidgeProbeModule`, math in :func:`ridge_fit`).
"""

from __future__ import annotations

import copy
import logging
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torchmetrics.aggregation import CatMetric

from iqa.distributed import gather_to_all
from iqa.errors import UserError
from iqa.losses import attribute_anchor_loss
from iqa.metrics import MOSScale, make_metric_collection, srcc
from iqa.modules.base import StageModule

log = logging.getLogger(__name__)

#: Quantile levels of the attribute calibration (percentiles 0, 1, ..., 100).
CALIBRATION_LEVELS = 101


def attribute_quantiles(values: torch.Tensor, levels: int = CALIBRATION_LEVELS) -> list[list[float]]:
    """Per-attribute quantiles (``[A][levels]``) of raw attribute scores ``[N, A]``."""
    q = torch.linspace(0, 1, levels, dtype=torch.float64)
    return torch.quantile(values.double(), q, dim=0).T.tolist()


def anchor_weight(value: Any) -> float:
    """``stage.module.attribute_anchor`` as a float (None: 0), or a one-line error for anything but a number >= 0."""
    try:
        weight = float(value or 0.0)
    except (TypeError, ValueError):
        weight = math.nan
    if not (math.isfinite(weight) and weight >= 0):
        raise UserError(f"stage.module.attribute_anchor must be a number >= 0 (0 turns it off), got {value!r}")
    return weight


class FinetuneModule(StageModule):
    """Train the quality head (and, unless frozen, the backbone) on MOS.

    Targets are mapped to a normalised scale (0..1) where 1 is best (``MOSScale``), so one
    loss setting serves datasets with any MOS range or direction; predictions
    are mapped back to the dataset's native scale before correlations are
    computed, so reported SRCC/PLCC are positive for a good model whichever way
    the dataset's scale runs.

    Each validation also records the quantiles of the (frozen) attribute heads'
    outputs over the validation images; checkpoints carry them as
    ``hyper_parameters["attribute_calibration"]`` so that scoring can report
    each attribute as a percentile of that reference set.

    The attribute heads are frozen, but a backbone that learns quality moves the
    features they read. ``attribute_anchor > 0`` holds them in place: a frozen copy
    of the network as it starts (the pretrained one) scores every training batch,
    and ``attribute_anchor`` times :func:`~iqa.losses.attribute_anchor_loss`
    between the two networks' attribute outputs joins the quality loss
    (logged as ``train/loss_attribute_anchor``; ``val/attribute_drift`` is the
    same quantity on the validation split). The copy is not part of the
    checkpoint: a resumed run rebuilds it from the same ``init``.
    """

    def __init__(
        self,
        *args: Any,
        mos_range: Sequence[float] = (0.0, 1.0),
        higher_is_better: bool = True,
        attribute_anchor: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # Plain floats: a checkpoint must hold no config objects, or resuming (torch.load, weights only) refuses it.
        mos_range = [float(v) for v in mos_range]
        attribute_anchor = anchor_weight(attribute_anchor)
        if attribute_anchor > 0 and self.freeze_backbone:
            raise UserError("stage.module.attribute_anchor needs a backbone that learns; with a frozen backbone "
                            "(linear_probe, ridge_probe) the attribute heads cannot move: leave it at 0")
        self.attribute_anchor = attribute_anchor
        self.save_hyperparameters(ignore=["net", "loss", "optimizer"])
        # The attribute heads keep their pretrained weights (for scoring attributes) and take no
        # part in the quality loss; frozen, they stay out of DDP's gradient synchronisation.
        self.net.attribute_heads.requires_grad_(False)
        if attribute_anchor > 0:
            # Held outside the module tree: out of parameters(), state_dict() and train(); _apply moves it.
            self.__dict__["_anchor"] = (copy.deepcopy(self.net).requires_grad_(False).eval(),)
        self.scale = MOSScale(float(mos_range[0]), float(mos_range[1]), bool(higher_is_better))
        self.val_metrics = make_metric_collection(prefix="val/")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*will save all targets and predictions", category=UserWarning)
            self.val_attributes = CatMetric()
        self.attribute_calibration: dict[str, Any] | None = None
        self.skipped_images = 0

    # A frozen backbone must also keep its batch-norm running statistics (and skip dropout): in
    # train mode they would drift toward the fine-tuning data although no weight is meant to change.
    # Lightning does not call train() when fitting starts, so the mode is also set per batch.
    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_backbone:
            self.net.backbone.eval()
        return self

    @property
    def anchor_net(self) -> torch.nn.Module | None:
        """The frozen copy of the starting network that ``attribute_anchor`` holds the heads to (None when off)."""
        held = self.__dict__.get("_anchor")
        return held[0] if held else None

    def _apply(self, fn: Any, recurse: bool = True):
        super()._apply(fn, recurse)  # .to(device) / .half() / channels-last reach the anchor copy too
        if self.anchor_net is not None:
            self.anchor_net._apply(fn)
        return self

    def _anchor_term(self, images: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            reference = self.anchor_net(images)["attributes"].float()
        return attribute_anchor_loss(attributes.float(), reference)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if self.freeze_backbone and self.net.backbone.training:
            self.net.backbone.eval()

    def _count_skips(self, batch: dict[str, Any]) -> None:
        skipped = batch.get("skipped_items") or []
        if skipped:
            self.skipped_images += len(skipped)
            log.warning("skipped %d unreadable image(s), e.g. %s", len(skipped), skipped[0])

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        self._count_skips(batch)
        if "images" not in batch:
            return None  # every image of the batch was unreadable
        out = self.net(batch["images"])
        quality = out["quality"].float()
        target = self.scale.normalise(batch["mos"].float())
        total, parts = self.loss(quality[:, None], target[:, None])
        if self.anchor_net is not None:
            anchor = self._anchor_term(batch["images"], out["attributes"])
            total = total + self.attribute_anchor * anchor
            parts = {**parts, "attribute_anchor": anchor.detach()}
        total = self.guard_nonfinite(total, quality)
        size = batch["images"].shape[0]
        self.log("train/loss", total, prog_bar=True, batch_size=size)
        for name, value in parts.items():
            self.log(f"train/loss_{name}", value, batch_size=size)
        return total

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        if "images" not in batch:
            return
        out = self.net(batch["images"])
        self.val_metrics.update(self.scale.denormalise(out["quality"].float()).double(), batch["mos"].double())
        self.val_attributes.update(out["attributes"].float())
        if self.anchor_net is not None:
            size = batch["images"].shape[0]
            self.log("val/attribute_drift", self._anchor_term(batch["images"], out["attributes"]), batch_size=size, sync_dist=True)

    def _update_calibration(self) -> None:
        values = self.val_attributes.compute() if self.val_attributes.update_count else None
        self.val_attributes.reset()
        if values is None or values.ndim != 2 or values.shape[0] < 2:
            return
        self.attribute_calibration = {
            "attributes": list(self.net.attributes),
            "quantiles": attribute_quantiles(values.cpu()),
            "count": int(values.shape[0]),
            "reference": f"validation split of {self.hparams.get('data', 'the fine-tuning dataset')}",
        }

    def on_validation_epoch_end(self) -> None:
        values = self.val_metrics.compute()
        self.val_metrics.reset()
        for name, value in values.items():
            self.log(name, value, prog_bar=name.endswith("srcc"))
        if not self.trainer.sanity_checking:
            self._update_calibration()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        if self.attribute_calibration:
            from iqa.checkpoints import stamp

            stamp(checkpoint["hyper_parameters"], attribute_calibration=self.attribute_calibration)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self.attribute_calibration = checkpoint.get("hyper_parameters", {}).get("attribute_calibration")


# -- closed-form ridge -------------------------------------------------------------------------


def ridge_fit(features: np.ndarray, targets: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Ridge regression with an unpenalised intercept: ``(weight [D], bias)``.

    Minimises ``||y - X w - b||^2 + alpha ||w||^2``. Features are centred (which
    makes the intercept the target mean); the system is solved in whichever of
    the primal (``D x D``) or dual (``N x N``) forms is smaller, in float64.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"features [N, D] and targets [N] do not match: {x.shape} vs {y.shape}")
    if not alpha > 0:
        raise ValueError(f"ridge alpha must be > 0, got {alpha}")
    x_mean, y_mean = x.mean(axis=0), y.mean()
    xc, yc = x - x_mean, y - y_mean
    n, d = xc.shape
    if d <= n:
        weight = np.linalg.solve(xc.T @ xc + alpha * np.eye(d), xc.T @ yc)
    else:
        weight = xc.T @ np.linalg.solve(xc @ xc.T + alpha * np.eye(n), yc)
    return weight, float(y_mean - x_mean @ weight)


def ridge_loo_mse(features: np.ndarray, targets: np.ndarray, alpha: float) -> float:
    """Exact leave-one-out mean squared error of :func:`ridge_fit` (closed form via the hat matrix)."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64).reshape(-1)
    n = x.shape[0]
    xc, yc = x - x.mean(axis=0), y - y.mean()
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    shrink = s**2 / (s**2 + alpha)
    fitted = u @ (shrink * (u.T @ yc))
    leverage = 1.0 / n + (u**2) @ shrink
    residual = (yc - fitted) / np.clip(1.0 - leverage, 1e-12, None)
    return float(np.mean(residual**2))


class RidgeProbeModule(FinetuneModule):
    """Closed-form ridge regression of unit-scale MOS on frozen backbone features.

    One pass over the training split (deterministic view, in order) collects
    pooled features; the fit happens once, when every training feature is in:

    * with a validation split (taken from the training side), at the end of
      validation: each ``alphas`` value is fitted and the one with the best
      validation SRCC is kept;
    * without one, at the end of the epoch: the alpha with the lowest exact
      leave-one-out error on the training split is kept.

    ``alpha`` is relative: the penalty is ``alpha`` times the features' mean
    per-dimension energy (sum of squared deviations), so one grid suits every
    backbone. The fitted weights become the quality head, an ordinary linear layer.
    Under DDP every rank gathers all features (deduplicated by index, since
    the distributed sampler pads) and solves the same system.
    """

    def __init__(self, *args: Any, alphas: Sequence[float] | float = (1.0,), **kwargs: Any) -> None:
        kwargs["freeze_backbone"] = True
        super().__init__(*args, **kwargs)
        self.automatic_optimization = False
        # No optimizer is the point of a closed-form fit, not a mistake worth a warning.
        warnings.filterwarnings("ignore", message=r".*configure_optimizers` returned `None`, this fit will run with no optimizer")
        values = [alphas] if isinstance(alphas, (int, float)) else list(alphas)
        if not values or any(not float(a) > 0 for a in values):
            raise ValueError(f"stage.ridge_alpha must be a positive number or a list of them, got {alphas}")
        self.alphas = [float(a) for a in values]
        self.net.requires_grad_(False)
        # DDP refuses to wrap a module without a trainable parameter; the head's never sees a
        # gradient (features are computed under no_grad and there is no optimizer).
        self.net.quality_head.requires_grad_(True)
        self._train: dict[int, tuple[np.ndarray, float]] = {}
        self._val: list[tuple[np.ndarray, np.ndarray]] = []
        self.fitted = False
        self.chosen_alpha: float | None = None

    def configure_optimizers(self):
        return None

    def on_train_start(self) -> None:
        super().on_train_start()
        self._train.clear()
        self.fitted = False

    @torch.no_grad()
    def _features(self, images: torch.Tensor) -> np.ndarray:
        return self.net.features(images).float().cpu().numpy().astype(np.float64)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._count_skips(batch)
        if "images" not in batch:
            return None
        features = self._features(batch["images"])
        targets = np.asarray(self.scale.normalise(batch["mos"].double().cpu().numpy()), dtype=np.float64)
        for index, feature, target in zip(batch["index"].tolist(), features, targets):
            self._train[int(index)] = (feature, float(target))
        return None

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        if "images" not in batch:
            return
        if not self.fitted:
            self._val.append((self._features(batch["images"]), batch["mos"].double().cpu().numpy()))
        super().validation_step(batch, batch_idx)

    def _gather_train(self) -> tuple[np.ndarray, np.ndarray]:
        items = {k: v for part in gather_to_all(self._train) for k, v in (part or {}).items()}
        if len(items) < 2:
            raise RuntimeError(f"ridge probe: need at least 2 training images, got {len(items)}")
        order = sorted(items)
        return np.stack([items[i][0] for i in order]), np.array([items[i][1] for i in order])

    def _gather_val(self) -> tuple[np.ndarray, np.ndarray]:
        parts = [p for part in gather_to_all(self._val) for p in (part or [])]
        if not parts:
            return np.zeros((0, 0)), np.zeros(0)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _install(self, weight: np.ndarray, bias: float) -> None:
        head = self.net.quality_head
        with torch.no_grad():
            head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype).view_as(head.weight))
            head.bias.fill_(bias)

    def fit_head(self, val: tuple[np.ndarray, np.ndarray] | None) -> None:
        x, y = self._gather_train()
        # alpha is relative to the features' mean energy per dimension, so one grid suits every backbone
        # (whatever its feature scale) without standardising: dividing near-constant feature dimensions by
        # their tiny spread would blow float noise up into the fit.
        energy = float(np.mean(np.sum((x - x.mean(axis=0)) ** 2, axis=0)))
        energy = energy if energy > 0 else 1.0
        fits = {alpha: ridge_fit(x, y, alpha * energy) for alpha in self.alphas}
        scores: dict[float, float] = {}
        if val is not None and val[0].shape[0] >= 2 and len(self.alphas) > 1:
            for alpha, (w, b) in fits.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    value = srcc(np.asarray(self.scale.denormalise(val[0] @ w + b)), val[1])
                scores[alpha] = value if math.isfinite(value) else -math.inf
            chosen = max(self.alphas, key=lambda a: (scores[a], a))
            how = "validation SRCC"
        elif len(self.alphas) > 1:
            scores = {alpha: -ridge_loo_mse(x, y, alpha * energy) for alpha in self.alphas}
            chosen = max(self.alphas, key=lambda a: (scores[a], a))
            how = "leave-one-out error"
        else:
            chosen, how = self.alphas[0], "the only value"
        self._install(*fits[chosen])
        self.chosen_alpha = chosen
        self.fitted = True
        self.hparams["ridge_alpha"] = chosen
        self.hparams["ridge_penalty"] = chosen * energy
        self.hparams["ridge_train_images"] = int(x.shape[0])
        log.info("ridge probe: %d training images, %d features, alpha=%g chosen by %s", x.shape[0], x.shape[1], chosen, how)

    def on_validation_epoch_end(self) -> None:
        if not self.fitted and not self.trainer.sanity_checking and self._train:
            local = list(self._val)
            self.fit_head(self._gather_val())  # alpha selection sees every rank's validation features
            self._val.clear()
            # The metrics accumulated above used the head before the fit; recompute with the fitted one, on this
            # rank's own share (the metrics gather across ranks themselves).
            self.val_metrics.reset()
            self.val_attributes.reset()
            for features, mos in local:
                pred = self.net.heads(torch.as_tensor(features, dtype=torch.float32, device=self.device))
                self.val_metrics.update(self.scale.denormalise(pred["quality"].double()), torch.as_tensor(mos, device=self.device))
                self.val_attributes.update(pred["attributes"].float())
            self.log("val/ridge_alpha", float(self.chosen_alpha))
        super().on_validation_epoch_end()

    def on_train_epoch_end(self) -> None:
        if not self.fitted:
            self.fit_head(None)
