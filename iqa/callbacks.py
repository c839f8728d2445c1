"""Small Lightning callbacks: images/s, and a per-rank digest of what each replica trained on and ended with."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch


class ThroughputCallback(pl.Callback):
    """Logs training throughput as ``train/images_per_sec`` (this rank's rate x world size).

    Measured over windows of ``window`` batches (at most ``log_every_n_steps``),
    from one batch start to the batch start ``window`` batches later, so data
    loading, the step and everything Lightning does in between all count.
    """

    def __init__(self, window: int = 20) -> None:
        self.window = int(window)
        self._images = 0
        self._start: float | None = None
        self._seen = 0

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        now = time.perf_counter()
        window = max(1, min(self.window, int(trainer.log_every_n_steps or self.window)))
        if self._start is not None and self._seen >= window:
            rate = self._images / max(now - self._start, 1e-9) * trainer.world_size
            pl_module.log("train/images_per_sec", rate, on_step=True, on_epoch=False, prog_bar=True, rank_zero_only=True)
            self._images, self._seen, self._start = 0, 0, now
        if self._start is None:
            self._start = now

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        images = batch.get("images") if isinstance(batch, dict) else None
        self._images += 0 if images is None else int(images.shape[0])
        self._seen += 1


def parameter_digest(module: torch.nn.Module) -> str:
    """SHA-256 over every parameter's name, dtype, shape and bytes: equal iff the parameters are bitwise equal."""
    digest = hashlib.sha256()
    for name, param in sorted(module.named_parameters(), key=lambda item: item[0]):
        tensor = param.detach().to("cpu")
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        # Flattened copy in logical order: channels-last weights (strides over a size-1 dim) hash like any other.
        flat = tensor.reshape(-1).clone()
        digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    return digest.hexdigest()


class ReplicaDigest(pl.Callback):
    """Writes ``<dir>/rank-<r>.json`` on every rank when training ends.

    It holds a SHA-256 of the network's parameters (DDP replicas must end
    bitwise identical; buffers such as BatchNorm statistics are left out, they
    legitimately differ by each rank's last batch), the global step, and the
    sample keys of the first ``record_batches`` batches this rank trained on.
    Used to check replicas and stream resumption; off by default
    (``stage.digest=true``).
    """

    def __init__(self, directory: str | Path, record_batches: int = 8) -> None:
        self.directory = Path(directory)
        self.record_batches = int(record_batches)
        self.batches: list[list[str]] = []

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if len(self.batches) < self.record_batches and isinstance(batch, dict) and "keys" in batch:
            self.batches.append(list(batch["keys"]))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from iqa.io import atomic_write_json

        net = getattr(pl_module, "net", pl_module)
        atomic_write_json(self.directory / f"rank-{trainer.global_rank}.json", {
            "rank": int(trainer.global_rank),
            "world_size": int(trainer.world_size),
            "global_step": int(trainer.global_step),
            "params_sha256": parameter_digest(net),
            "batches": self.batches,
        })
