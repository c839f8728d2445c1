"""Attribute-aware pretraining: one head per attribute, trained on teacher pseudo-labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torchmetrics.functional.regression import spearman_corrcoef

from iqa.ladder import ladder_correlations, ladder_record
from iqa.modules.base import StageModule


def gather_to_all(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), on every rank; ``[obj]`` without torch.distributed."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        out: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(out, obj)
        return out
    return [obj]


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

    Validation outputs are gathered to every rank explicitly (ranks may hold
    different numbers of validation samples, even none), so the logged values
    are the same everywhere and need no further reduction.
    """

    def __init__(self, *args: Any, sample_images: int = 8, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters(ignore=["net", "loss", "optimizer"])
        # Only the attribute heads are trained here; a frozen quality head keeps DDP from
        # waiting for gradients that never come.
        self.net.quality_head.requires_grad_(False)
        self.sample_images = int(sample_images)
        self.skipped_totals: dict[str, float] = {}
        self._reset_validation()

    def _reset_validation(self) -> None:
        self._val_preds: list[np.ndarray] = []
        self._val_targets: list[np.ndarray] = []
        self._ladder_records: list[tuple[str, str, int]] = []
        self._ladder_scores: list[np.ndarray] = []
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
        preds = outputs.detach().cpu().numpy()
        targets = batch["targets"].float().cpu().numpy()
        self._val_preds.append(preds)
        self._val_targets.append(targets)
        for row, meta in enumerate(batch.get("meta") or []):
            record = ladder_record(meta)
            if record is not None:
                self._ladder_records.append(record)
                self._ladder_scores.append(preds[row])
        if self.sample_images > 0 and self.trainer.is_global_zero and len(self._samples) < self.sample_images:
            images = batch["images"].detach().cpu()
            for row in range(min(images.shape[0], self.sample_images - len(self._samples))):
                self._samples.append({
                    "image": images[row].permute(1, 2, 0).numpy(), "key": batch["keys"][row],
                    "teacher": targets[row], "student": preds[row],
                })

    def on_validation_epoch_end(self) -> None:
        attributes = self.net.attributes
        width = len(attributes)
        local = {
            "preds": np.concatenate(self._val_preds) if self._val_preds else np.zeros((0, width), np.float32),
            "targets": np.concatenate(self._val_targets) if self._val_targets else np.zeros((0, width), np.float32),
            "ladder": self._ladder_records,
            "ladder_scores": np.stack(self._ladder_scores) if self._ladder_scores else np.zeros((0, width), np.float32),
        }
        parts = gather_to_all(local)
        preds = np.concatenate([p["preds"] for p in parts])
        targets = np.concatenate([p["targets"] for p in parts])
        keep = np.isfinite(targets).all(axis=1)
        srcc = torch.full((width,), float("nan"), dtype=torch.float64)
        if keep.sum() >= 2:
            srcc = spearman_corrcoef(torch.from_numpy(preds[keep]).double(), torch.from_numpy(targets[keep]).double()).reshape(-1)
        for name, value in zip(attributes, srcc):
            self.log(f"val/srcc_{name}", float(value), sync_dist=False)
        self.log("val/srcc_mean", float(torch.nanmean(srcc)), prog_bar=True, sync_dist=False)
        self.log("val/samples_seen", float(preds.shape[0]), sync_dist=False)

        records = [r for p in parts for r in p["ladder"]]
        if records:
            ladder = ladder_correlations(records, np.concatenate([p["ladder_scores"] for p in parts]), attributes)
            for name, value in ladder.items():
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
