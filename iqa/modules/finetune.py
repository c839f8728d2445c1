"""IQA fine-tuning (and linear probing): regress MOS with the quality head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from iqa.metrics import MOSScale, make_metric_collection
from iqa.modules.base import StageModule


class FinetuneModule(StageModule):
    """Train the quality head (and, unless frozen, the backbone) on MOS.

    Targets are mapped to a unit scale where 1 is best (``MOSScale``), so one
    loss setting serves datasets with any MOS range or direction; predictions
    are mapped back to the dataset's native scale before correlations are
    computed, so reported SRCC/PLCC are positive for a good model whichever way
    the dataset's scale runs.
    """

    def __init__(self, *args: Any, mos_range: Sequence[float] = (0.0, 1.0), higher_is_better: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters(ignore=["net", "loss", "optimizer"])
        # The attribute heads keep their pretrained weights (for scoring attributes) and take no
        # part in the loss; frozen, they stay out of DDP's gradient synchronisation.
        self.net.attribute_heads.requires_grad_(False)
        self.scale = MOSScale(float(mos_range[0]), float(mos_range[1]), bool(higher_is_better))
        self.val_metrics = make_metric_collection(prefix="val/")

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        quality = self.net(batch["images"])["quality"].float()
        target = self.scale.to_unit(batch["mos"].float())
        total, parts = self.loss(quality[:, None], target[:, None])
        total = self.guard_nonfinite(total, quality)
        size = batch["images"].shape[0]
        self.log("train/loss", total, prog_bar=True, batch_size=size)
        for name, value in parts.items():
            self.log(f"train/loss_{name}", value, batch_size=size)
        return total

    def predict_mos(self, images: torch.Tensor) -> torch.Tensor:
        """Predicted MOS on the dataset's native scale."""
        return self.scale.from_unit(self.net(images)["quality"].float())

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self.val_metrics.update(self.predict_mos(batch["images"]).double(), batch["mos"].double())

    def on_validation_epoch_end(self) -> None:
        values = self.val_metrics.compute()
        self.val_metrics.reset()
        for name, value in values.items():
            self.log(name, value, prog_bar=name.endswith("srcc"))
