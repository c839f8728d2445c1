"""Small Lightning callbacks: images/s, and reseeding the streaming corpus every epoch."""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl


class ThroughputCallback(pl.Callback):
    """Logs training throughput (``train/images_per_sec``, this rank x world size)."""

    def __init__(self, window: int = 20) -> None:
        self.window = window
        self._images = 0
        self._start: float | None = None

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if self._start is None:
            self._start = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        images = batch.get("images") if isinstance(batch, dict) else None
        self._images += 0 if images is None else int(images.shape[0])
        if (batch_idx + 1) % self.window == 0 and self._start is not None:
            elapsed = time.perf_counter() - self._start
            rate = self._images / max(elapsed, 1e-9) * trainer.world_size
            pl_module.log("train/images_per_sec", rate, on_step=True, on_epoch=False, prog_bar=True, rank_zero_only=True)
            self._images, self._start = 0, time.perf_counter()


class StreamEpochCallback(pl.Callback):
    """Gives streaming data a new seed per epoch and per resume point (see ``PretrainDataModule.set_epoch``)."""

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        datamodule = getattr(trainer, "datamodule", None)
        if datamodule is not None and hasattr(datamodule, "set_epoch"):
            datamodule.set_epoch(trainer.current_epoch, trainer.global_step)
