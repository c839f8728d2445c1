"""Pseudo-labelling as a Lightning prediction loop, so it spreads over DDP ranks and nodes."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter
from tqdm.auto import tqdm

from iqa.data.labels import write_unit
from iqa.teachers.base import Teacher

log = logging.getLogger(__name__)


class LabelModule(pl.LightningModule):
    """Wraps a teacher; ``predict_step`` returns teacher scores for the batch's images."""

    def __init__(self, teacher: Teacher) -> None:
        super().__init__()
        self.teacher = teacher

    def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor | None:
        images = batch["images"]
        if images is None:  # a batch of only skipped files and end-of-unit records
            return torch.empty(0, len(self.teacher.attributes))
        return self.teacher(images).float().cpu()


class LabelWriter(BasePredictionWriter):
    """Buffers scores per unit and commits a unit's sidecar when its end record arrives."""

    def __init__(self, label_dir: str, attributes: Sequence[str], total_images: int | None = None, total_units: int = 0) -> None:
        super().__init__(write_interval="batch")
        self.label_dir = label_dir
        self.attributes = tuple(attributes)
        self.rows: dict[str, list[tuple[str, str, list[float]]]] = defaultdict(list)
        self.skips: dict[str, list[dict[str, str]]] = defaultdict(list)
        self.uncounted: dict[str, int] = defaultdict(int)
        self.committed: list[dict[str, Any]] = []
        self.total_images = total_images
        self.total_units = total_units
        self.images = 0
        self.bar: tqdm | None = None
        self.started = 0.0

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.started = time.perf_counter()
        if trainer.is_global_zero:
            self.bar = tqdm(total=self.total_images, unit="img", desc="labelling", dynamic_ncols=True)

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0):
        if prediction is not None and len(prediction):
            scores = prediction.tolist()
            for key, unit, source, row in zip(batch["keys"], batch["units"], batch["sources"], scores):
                self.rows[unit].append((key, source, row))
            self.images += len(scores)
        ends = []
        for record in batch["records"]:
            if record["kind"] == "skip":
                self.skips[record["unit"]].append({"key": record["key"], "source": record["source"], "reason": record["reason"]})
                if record.get("counted") is False:
                    self.uncounted[record["unit"]] += 1
            elif record["kind"] == "end":
                ends.append(record)
        for record in ends:
            self.commit(record)
        if self.bar is not None:
            done = len(self.committed)
            self.bar.update(len(batch["keys"]))
            rate = self.images / max(1e-9, time.perf_counter() - self.started)
            self.bar.set_postfix_str(f"units {done}/{self.total_units or '?'} (rank 0), {rate:,.0f} img/s", refresh=False)

    def commit(self, record: dict[str, Any]) -> None:
        unit = record["unit"]
        rows, skips = self.rows.pop(unit, []), self.skips.pop(unit, [])
        counted = len(skips) - self.uncounted.pop(unit, 0)
        if len(rows) + counted != record["seen"]:
            raise RuntimeError(
                f"unit {unit}: {len(rows)} labelled + {counted} skipped != {record['seen']} samples seen; refusing to commit"
            )
        self.committed.append(write_unit(self.label_dir, unit, self.attributes, rows, skips, record["source"]))

    def on_predict_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.rows or self.skips:
            log.warning("rank %d: %d unit(s) had samples but no end record; they stay pending", trainer.global_rank, len(self.rows))
