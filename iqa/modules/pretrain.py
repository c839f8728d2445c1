"""Attribute-aware pretraining: one head per attribute, trained on teacher pseudo-labels."""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics.regression import SpearmanCorrCoef

from iqa.modules.base import StageModule


class PretrainModule(StageModule):
    """Train the attribute heads (and backbone) on pseudo-labels.

    Batches are dicts: ``images`` uint8 ``[B,3,H,W]``, ``targets`` float
    ``[B,A]`` (teacher scores, NaN where missing), and ``skipped`` counters from
    the data pipeline. Validation reports, per attribute, the Spearman
    correlation of student against teacher on held-out shards.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters(ignore=["net", "loss", "optimizer"])
        # Only the attribute heads are trained here; a frozen quality head keeps DDP from
        # waiting for gradients that never come.
        self.net.quality_head.requires_grad_(False)
        attributes = self.net.attributes
        self.val_srcc = SpearmanCorrCoef(num_outputs=len(attributes))
        self.skipped_totals: dict[str, float] = {}

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        outputs = self.net(batch["images"])["attributes"]
        total, parts = self.loss(outputs.float(), batch["targets"].float())
        total = self.guard_nonfinite(total, outputs)
        size = batch["images"].shape[0]
        self.log("train/loss", total, prog_bar=True, batch_size=size)
        for name, value in parts.items():
            self.log(f"train/loss_{name}", value, batch_size=size)
        for reason, count in batch.get("skipped", {}).items():
            self.skipped_totals[reason] = self.skipped_totals.get(reason, 0.0) + float(count)
            self.log(f"data/skipped_{reason}", self.skipped_totals[reason], reduce_fx="sum", batch_size=size)
        return total

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        outputs = self.net(batch["images"])["attributes"].float()
        targets = batch["targets"].float()
        keep = torch.isfinite(targets).all(dim=1)
        if keep.any():
            self.val_srcc.update(outputs[keep], targets[keep])

    def on_validation_epoch_end(self) -> None:
        values = self.val_srcc.compute()
        self.val_srcc.reset()
        values = values.reshape(-1)
        for name, value in zip(self.net.attributes, values):
            self.log(f"val/srcc_{name}", value, sync_dist=False)
        self.log("val/srcc_mean", torch.nanmean(values), prog_bar=True, sync_dist=False)
