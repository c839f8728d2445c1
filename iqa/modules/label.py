"""Pseudo-labelling as a Lightning prediction loop, so it spreads over DDP ranks and nodes.

``LabelModule.predict_step`` takes a batch from :mod:`iqa.data.label_stream`:
pixels decoded by the workers and/or JPEG bytes to decode here, on the
module's device (nvjpeg on CUDA), where decode and resize run batched next to
the teacher. ``LabelWriter`` buffers the scores per unit and commits a unit's
sidecar once its end record arrives.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter
from tqdm.auto import tqdm

from iqa.data.images import MIN_SIDE, SkipImage, load_square, square_crop_resize
from iqa.data.label_sets import write_unit
from iqa.teachers.base import Teacher

log = logging.getLogger(__name__)


def decode_jpeg_batch(chunks: Sequence[torch.Tensor], device: torch.device) -> list[torch.Tensor | None]:
    """Decode JPEG byte tensors on ``device`` to ``uint8 [3,H,W]``; ``None`` where one fails.

    One batched call first (the fast path on CUDA); if the batch fails, each image
    is retried alone so that one bad file does not cost the others.
    """
    from torchvision.io import ImageReadMode, decode_jpeg

    if not chunks:
        return []
    try:
        return list(decode_jpeg(list(chunks), mode=ImageReadMode.RGB, device=device))
    except torch.cuda.OutOfMemoryError:
        raise  # not a bad file: a batch too large for the device (lower batch_size or device_decode_max_pixels)
    except (RuntimeError, ValueError):
        pass
    decoded: list[torch.Tensor | None] = []
    for chunk in chunks:
        try:
            decoded.append(decode_jpeg(chunk, mode=ImageReadMode.RGB, device=device))
        except torch.cuda.OutOfMemoryError:
            raise
        except (RuntimeError, ValueError):
            decoded.append(None)
    return decoded


def squares_by_size(images: Sequence[torch.Tensor], size: int) -> torch.Tensor:
    """Resize a list of ``uint8 [3,H,W]`` images of mixed sizes to ``uint8 [N,3,size,size]``.

    Images whose centre squares have the same side are resized in one call, so a
    shard of equally sized photos costs one interpolation per batch.
    """
    out = torch.empty((len(images), 3, size, size), dtype=torch.uint8, device=images[0].device)
    groups: dict[int, list[int]] = defaultdict(list)
    for index, image in enumerate(images):
        groups[min(image.shape[-2:])].append(index)
    for side, members in groups.items():
        squares = []
        for index in members:
            height, width = images[index].shape[-2:]
            top, left = (height - side) // 2, (width - side) // 2
            squares.append(images[index][:, top : top + side, left : left + side])
        out[members] = square_crop_resize(torch.stack(squares), size)
    return out


class LabelModule(pl.LightningModule):
    """Wraps a teacher; ``predict_step`` returns teacher scores for the batch's decodable images.

    Returns ``{"scores": float [M, A] on the CPU, "index": positions in batch["keys"]
    of the M labelled samples, "skips": skip records for encoded images that neither
    the device decoder nor the CPU fallback could decode}``.
    """

    def __init__(self, teacher: Teacher) -> None:
        super().__init__()
        self.teacher = teacher

    def decode_encoded(self, blob: torch.Tensor | np.ndarray, sizes: Sequence[int], keys: Sequence[str], units: Sequence[str],
                       sources: Sequence[str]) -> tuple[torch.Tensor | None, list[int], list[dict[str, Any]]]:
        """Decode the batch's JPEG bytes here; fall back to the CPU decoder per failed image."""
        size = int(self.teacher.image_size)
        blob = blob if isinstance(blob, torch.Tensor) else torch.from_numpy(np.asarray(blob))
        chunks = torch.split(blob.cpu(), list(sizes))  # the decoder reads host memory (LabelDataModule keeps it there)
        decoded = decode_jpeg_batch(chunks, self.device)
        images, kept, skips = [], [], []
        for index, image in enumerate(decoded):
            if image is None or image.ndim != 3 or image.shape[0] != 3 or min(image.shape[-2:]) < MIN_SIDE:
                try:  # the CPU decoder is more forgiving and says why when it fails too
                    image = load_square(chunks[index].numpy().tobytes(), size).to(self.device)
                except SkipImage as exc:
                    skips.append({"kind": "skip", "unit": units[index], "key": keys[index], "source": sources[index],
                                  "reason": str(exc)})
                    continue
            images.append(image)
            kept.append(index)
        if not images:
            return None, kept, skips
        return squares_by_size(images, size), kept, skips

    def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        parts: list[torch.Tensor] = []
        index: list[int] = []
        skips: list[dict[str, Any]] = []
        if batch["images"] is not None:
            parts.append(batch["images"])
            index += range(len(batch["images"]))
        if batch.get("encoded") is not None:
            offset = len(index)
            with torch.autocast(self.device.type, enabled=False):  # decode and resize in exact uint8/float32
                decoded, kept, skips = self.decode_encoded(
                    batch["encoded"], batch["encoded_sizes"], batch["keys"][offset:],
                    batch["units"][offset:], batch["sources"][offset:],
                )
            if decoded is not None:
                parts.append(decoded)
                index += [offset + k for k in kept]
        if not parts:  # a batch of only skipped files and end-of-unit records
            return {"scores": torch.empty(0, len(self.teacher.attributes)), "index": [], "skips": skips}
        images = parts[0] if len(parts) == 1 else torch.cat([p.to(self.device) for p in parts])
        scores = self.teacher(images).float()
        if scores.is_cuda:
            # Copy back without waiting: the writer reads these scores one batch later, so the
            # GPU finishes this batch while the host fetches and decodes the next one.
            host = torch.empty(scores.shape, dtype=scores.dtype, pin_memory=True)
            host.copy_(scores, non_blocking=True)
            ready = torch.cuda.Event()
            ready.record()
            return {"scores": host, "ready": ready, "index": index, "skips": skips}
        return {"scores": scores.cpu(), "index": index, "skips": skips}


class LabelWriter(BasePredictionWriter):
    """Buffers scores per unit and commits a unit's sidecar when its end record arrives.

    On rank 0 it shows a progress bar over rank 0's share of the samples, with
    images/s and the time left; ``estimate_total(rank, world_size)`` gives that
    share (exact for folders, estimated for shards) or ``None`` when unknown.
    """

    def __init__(
        self,
        label_dir: str,
        attributes: Sequence[str],
        total_images: int | None = None,
        total_units: int = 0,
        estimate_total: Callable[[int, int], tuple[int | None, int]] | None = None,
        progress: bool = True,
    ) -> None:
        super().__init__(write_interval="batch")
        self.label_dir = label_dir
        self.attributes = tuple(attributes)
        self.rows: dict[str, list[tuple[str, str, list[float]]]] = defaultdict(list)
        self.skips: dict[str, list[dict[str, str]]] = defaultdict(list)
        self.uncounted: dict[str, int] = defaultdict(int)
        self.committed: list[dict[str, Any]] = []
        self.total_images = total_images
        self.total_units = total_units
        self.estimate_total = estimate_total
        self.progress = progress
        self.images = 0
        self.processed = 0
        self.bar: tqdm | None = None
        self.pending: deque[tuple[dict[str, Any], dict[str, Any], int]] = deque()
        self.started = 0.0
        self.finished = 0.0
        self.first_batch_done = 0.0  # when the first batch was written: the steady-state clock starts
        self.first_batch_images = 0

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.started = time.perf_counter()
        if self.estimate_total is not None:
            self.total_images, self.total_units = self.estimate_total(trainer.global_rank, trainer.world_size)
        if trainer.is_global_zero and self.progress:
            where = f" (rank 0 of {trainer.world_size})" if trainer.world_size > 1 else ""
            self.bar = tqdm(total=self.total_images, unit="img", desc=f"labelling{where}", dynamic_ncols=True, smoothing=0.05)

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0):
        # Batches are consumed in order; one whose scores are still in flight on the GPU waits
        # for the next call (see LabelModule.predict_step), so the host never blocks on it early.
        self.pending.append((prediction, {k: batch[k] for k in ("keys", "units", "sources", "records")}, batch_idx))
        while self.pending and (len(self.pending) > 1 or "ready" not in self.pending[0][0]):
            self.consume(*self.pending.popleft())

    def consume(self, prediction: dict[str, Any], batch: dict[str, Any], batch_idx: int) -> None:
        keys, units, sources = batch["keys"], batch["units"], batch["sources"]
        if "ready" in prediction:
            prediction["ready"].synchronize()
        scores = prediction["scores"].tolist()
        rows = self.rows
        for position, row in zip(prediction["index"], scores):
            rows[units[position]].append((keys[position], sources[position], row))
        self.images += len(scores)
        if not self.first_batch_done:
            self.first_batch_done, self.first_batch_images = time.perf_counter(), len(scores)
        processed = len(scores)
        ends = []
        for record in [*prediction["skips"], *batch["records"]]:
            if record["kind"] == "skip":
                self.skips[record["unit"]].append({"key": record["key"], "source": record["source"], "reason": record["reason"]})
                if record.get("counted") is False:
                    self.uncounted[record["unit"]] += 1
                else:
                    processed += 1
            elif record["kind"] == "end":
                ends.append(record)
        for record in ends:
            self.commit(record)
        self.processed += processed
        if self.bar is not None:
            self.bar.update(processed)
            if ends or batch_idx % 20 == 0:
                self.bar.set_postfix_str(f"units {len(self.committed)}/{self.total_units or '?'}", refresh=False)

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
        while self.pending:
            self.consume(*self.pending.popleft())
        self.finished = time.perf_counter()
        if self.bar is not None:
            self.bar.close()
        if self.rows or self.skips:
            log.warning("rank %d: %d unit(s) had samples but no end record; they stay pending", trainer.global_rank, len(self.rows))

    @property
    def images_per_second(self) -> float:
        """From the start of prediction (worker start-up and the first batch included)."""
        return self.images / max(1e-9, (self.finished or time.perf_counter()) - self.started)

    @property
    def steady_images_per_second(self) -> float | None:
        """After the first batch: the rate a long run settles at (start-up costs excluded)."""
        seconds = (self.finished or time.perf_counter()) - self.first_batch_done
        later = self.images - self.first_batch_images
        return later / seconds if self.first_batch_done and later > 0 and seconds > 0 else None
