"""Attribute-aware pretraining: one head per attribute, trained on teacher pseudo-labels."""

from __future__ import annotations

from typing import Any

import torch

from iqa.ladder import LadderProxy
from iqa.metrics import AttributeSRCC
from iqa.modules.base import StageModule


class PretrainModule(StageModule):
    """Train the attribute heads (and backbone) on pseudo-labels.

    Batches are dicts: ``images`` uint8 ``[B,3,H,W]``, ``targets`` float
    ``[B,A]`` (teacher scores, NaN where missing), ``skipped`` counters from
    the data pipeline and, in validation, ``meta`` (ladder metadata or None).

    Validation logs, over the whole held-out split and all ranks:

    * ``val/srcc_<attribute>`` and ``val/srcc_mean``: Spearman correlation of
      student against teacher per attribute;
    * ``val/ladder_<attribute>`` and ``val/ladder_mean``: the distortion-ladder
      proxy (``iqa.ladder``), when the validation samples carry ladder metadata;
    * with a W&B logger, ``val/samples``: a table of a few validation images
      with their teacher and student scores.

    The SRCC and the ladder proxy are torchmetrics metrics (:class:`iqa.metrics.AttributeSRCC`,
    :class:`iqa.ladder.LadderProxy`) whose state is the raw scores: ``compute()``
    gathers every rank's share (ranks may hold different numbers of validation
    samples, even none) and runs the tested functional form on the whole split,
    so the logged values are the same everywhere and need no further reduction.
    """

    def __init__(self, *args: Any, sample_images: int = 8, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters(ignore=["net", "loss", "optimizer"])
        # Only the attribute heads are trained here; a frozen quality head keeps DDP from
        # waiting for gradients that never come.
        self.net.quality_head.requires_grad_(False)
        self.sample_images = int(sample_images)
        self.skipped_totals: dict[str, float] = {}
        self.val_srcc = AttributeSRCC(len(self.net.attributes))
        self.val_ladder = LadderProxy(self.net.attributes)
        self._reset_validation()

    def _reset_validation(self) -> None:
        self.val_srcc.reset()
        self.val_ladder.reset()
        self._samples: list[dict[str, Any]] = []

    # -- training ------------------------------------------------------------------------
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
        for reason, count in self.skipped_totals.items():
            # Running count on this rank since the run (or resume) started.
            self.log(f"data/skipped_{reason}", count, batch_size=size)
        return total

    # -- validation ----------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._reset_validation()

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        outputs = self.net(batch["images"])["attributes"].float()
        targets = batch["targets"].float()
        self.val_srcc.update(outputs, targets)
        self.val_ladder.update(outputs, batch.get("meta") or [])
        if self.sample_images > 0 and self.trainer.is_global_zero and len(self._samples) < self.sample_images:
            images = batch["images"].detach().cpu()
            preds, teacher = outputs.detach().cpu().numpy(), targets.cpu().numpy()
            for row in range(min(images.shape[0], self.sample_images - len(self._samples))):
                self._samples.append({
                    "image": images[row].permute(1, 2, 0).numpy(), "key": batch["keys"][row],
                    "teacher": teacher[row], "student": preds[row],
                })

    def on_validation_epoch_end(self) -> None:
        srcc = self.val_srcc.compute()  # gathers every rank's rows
        for name, value in zip(self.net.attributes, srcc):
            self.log(f"val/srcc_{name}", float(value), sync_dist=False)
        self.log("val/srcc_mean", float(torch.nanmean(srcc)), prog_bar=True, sync_dist=False)
        self.log("val/samples_seen", float(self.val_srcc.rows_seen), sync_dist=False)
        for name, value in self.val_ladder.compute().items():
            self.log(f"val/ladder_{name}", value, prog_bar=name == "mean", sync_dist=False)
        self._log_samples()
        self._reset_validation()

    def _log_samples(self) -> None:
        """A W&B table of a few validation images with teacher and student scores (W&B loggers only)."""
        if not self._samples or not self.trainer.is_global_zero:
            return
        from pytorch_lightning.loggers import WandbLogger

        loggers = [lg for lg in self.loggers if isinstance(lg, WandbLogger)]
        if not loggers:
            return
        import wandb

        attributes = self.net.attributes
        columns = ["image", "key", *(f"teacher_{a}" for a in attributes), *(f"student_{a}" for a in attributes)]
        rows = []
        for sample in self._samples:
            caption = ", ".join(f"{a} {t:.2f}/{s:+.2f}" for a, t, s in zip(attributes, sample["teacher"], sample["student"]))
            rows.append([
                wandb.Image(sample["image"], caption=f"teacher/student: {caption}"), sample["key"],
                *(float(v) for v in sample["teacher"]), *(float(v) for v in sample["student"]),
            ])
        for logger in loggers:
            logger.log_table(key="val/samples", columns=columns, data=rows, step=int(self.global_step))
