"""The streaming pretraining pipeline: image units joined with their pseudo-labels.

Read as a list of stages (WebDataset style)::

    units -> split by node -> split by worker -> expand to samples -> join labels
          -> shuffle buffer -> decode + crop/flip -> batch -> fixed epoch length

* **Splitting.** Units are dealt to ranks (``trainer.devices x num_nodes``) and
  then to DataLoader workers, so no two processes read the same unit. When
  there are fewer units than readers, every reader walks all units and keeps
  every n-th sample instead, so splitting never starves a reader.
* **Epoch length.** Training streams are endless (units cycle, reshuffled each
  pass, or are drawn with replacement in ``resampled`` mode) and cut to a fixed
  number of batches per worker, so every rank runs exactly the same number of
  steps and DDP never waits on a rank that ran dry.
* **Labels and crops.** Pseudo-labels describe the whole image as the teacher
  saw it: short side resized to the teacher's input size. The student sees
  the image resized the same way, then a random crop and a random horizontal
  flip. Crops and flips keep scale and pixel statistics, so global attributes
  (sharpness, noise, brightness, contrast, colourfulness) carry over to the
  crop; blur, colour jitter and other photometric augmentations would change
  the very attributes the labels describe and are never applied.
* **Bad data.** Unreadable members, samples without labels, and shard errors
  are skipped, counted per reason, and reported with the next batch
  (``batch["skipped"]``) so the training loop can log them.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import IterableDataset

from iqa.data.corpus import Unit, dist_info, image_member, iter_unit_samples, worker_info
from iqa.data.images import SkipImage, decode_rgb, resize_short_side, to_uint8_tensor
from iqa.data.labels import LabelLookup


class PseudoLabelStream(IterableDataset):
    """Batches of ``images`` (uint8) and ``targets`` (float, ``[B, A]``) from labelled units."""

    def __init__(
        self,
        units: Sequence[Unit],
        labels: LabelLookup,
        image_size: int,
        crop_size: int,
        batch_size: int,
        train: bool = True,
        batches_per_worker: int | None = None,
        shuffle_buffer: int = 1000,
        resampled: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not units:
            raise ValueError("PseudoLabelStream needs at least one unit")
        self.units = list(units)
        self.labels = labels
        self.image_size = int(image_size)
        self.crop_size = int(crop_size)
        self.batch_size = int(batch_size)
        self.train = bool(train)
        self.batches_per_worker = batches_per_worker
        self.shuffle_buffer = int(shuffle_buffer) if train else 0
        self.resampled = bool(resampled)
        self.seed = int(seed)
        self.epoch = 0
        self.num_workers = 0  # set by the data module: the length is per worker x workers

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    # -- stages -------------------------------------------------------------------
    def _reader_slot(self) -> tuple[int, int]:
        rank, world = dist_info()
        worker, workers = worker_info()
        return rank * workers + worker, world * workers

    def _units(self, rng: random.Random) -> Iterator[tuple[Unit, int, int]]:
        """Yield ``(unit, keep_every, keep_offset)`` for this reader, endlessly when training."""
        slot, readers = self._reader_slot()
        by_unit = len(self.units) >= readers
        mine = self.units[slot::readers] if by_unit else self.units
        stride, offset = (1, 0) if by_unit else (readers, slot)
        while True:
            if self.train and self.resampled:
                yield rng.choice(mine), stride, offset
                continue
            order = list(mine)
            if self.train:
                rng.shuffle(order)
            for unit in order:
                yield unit, stride, offset
            if not self.train:
                return

    def _samples(self, rng: random.Random, skipped: Counter) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
        barren = 0  # consecutive units that gave nothing; an endless stream must not spin on them
        for unit, stride, offset in self._units(rng):
            errors: list[Exception] = []
            found = 0
            for index, sample in enumerate(iter_unit_samples(unit, on_error=errors.append)):
                if index % stride != offset:
                    continue
                target = self.labels.get(unit.name, sample["__key__"])
                if target is None:
                    skipped["unlabelled"] += 1
                    continue
                found += 1
                yield sample, target
            skipped["shard_errors"] += len(errors)
            barren = 0 if found else barren + 1
            if self.train and barren > 2 * len(self.units):
                raise RuntimeError(f"no labelled, readable samples in any of {len(self.units)} units; check the corpus and its labels")

    def _shuffled(self, items: Iterator[Any], rng: random.Random) -> Iterator[Any]:
        if self.shuffle_buffer <= 1:
            yield from items
            return
        buffer: list[Any] = []
        for item in items:
            if len(buffer) < self.shuffle_buffer:
                buffer.append(item)
                continue
            index = rng.randrange(len(buffer))
            yield buffer[index]
            buffer[index] = item
        rng.shuffle(buffer)
        yield from buffer

    def _decode(self, sample: dict[str, Any], rng: random.Random) -> torch.Tensor:
        member = image_member(sample)
        if member is None:
            raise SkipImage("no image member")
        image = resize_short_side(decode_rgb(member[1], draft_size=self.image_size), self.image_size)
        width, height = image.size
        size = min(self.crop_size, width, height)
        if self.train:
            left, top = rng.randint(0, width - size), rng.randint(0, height - size)
        else:
            left, top = (width - size) // 2, (height - size) // 2
        image = image.crop((left, top, left + size, top + size))
        if size != self.crop_size:
            image = image.resize((self.crop_size, self.crop_size), Image.BICUBIC)
        if self.train and rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        return to_uint8_tensor(image)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        slot, readers = self._reader_slot()
        rng = random.Random(hash((self.seed, self.epoch, slot, readers)) & 0xFFFFFFFF)
        skipped: Counter = Counter()
        images: list[torch.Tensor] = []
        targets: list[np.ndarray] = []
        keys: list[str] = []
        produced = 0
        for sample, target in self._shuffled(self._samples(rng, skipped), rng):
            try:
                image = self._decode(sample, rng)
            except SkipImage:
                skipped["undecodable"] += 1
                continue
            images.append(image)
            targets.append(target)
            keys.append(sample["__key__"])
            if len(images) == self.batch_size:
                yield self._batch(images, targets, keys, skipped)
                images, targets, keys = [], [], []
                produced += 1
                if self.batches_per_worker is not None and produced >= self.batches_per_worker:
                    return
        if images and not self.train:
            yield self._batch(images, targets, keys, skipped)

    @staticmethod
    def _batch(images: list[torch.Tensor], targets: list[np.ndarray], keys: list[str], skipped: Counter) -> dict[str, Any]:
        batch = {
            "images": torch.stack(images),
            "targets": torch.from_numpy(np.stack(targets)),
            "keys": list(keys),
            "skipped": dict(skipped),
        }
        skipped.clear()
        return batch

    def __len__(self) -> int:
        if self.batches_per_worker is None:
            raise TypeError("validation streams have no fixed length")
        return self.batches_per_worker * max(1, self.num_workers)
