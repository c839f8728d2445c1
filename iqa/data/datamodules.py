"""The pretraining data module: a streaming corpus joined with its pseudo-label sidecars."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from iqa.data.corpus import DEFAULT_CHUNK_SIZE, Unit, list_units
from iqa.data.labels import LabelLookup, check_attributes, load_manifest, unit_done
from iqa.data.streaming import PseudoLabelStream
from iqa.errors import UserError

log = logging.getLogger(__name__)


def corpus_units(corpus: Mapping[str, Any], split: str, data_name: str) -> list[Unit]:
    spec = corpus.get(split)
    if not spec:
        return []
    return list_units(spec, int(corpus.get("chunk_size", DEFAULT_CHUNK_SIZE)), what=f"data={data_name} corpus.{split}")


def labelled_units(units: Sequence[Unit], label_dir: str, split: str) -> list[Unit]:
    """Keep units that have finished sidecars; warn about (and count) the rest."""
    ready = [u for u in units if unit_done(label_dir, u.name)]
    missing = [u.name for u in units if not unit_done(label_dir, u.name)]
    if not ready and units:
        raise UserError(f"none of the {len(units)} {split} units has labels in {label_dir}; run label.py for this corpus first")
    if missing:
        log.warning("%d %s unit(s) have no labels in %s and are left out, e.g. %s", len(missing), split, label_dir, missing[:3])
    return ready


class PretrainDataModule(pl.LightningDataModule):
    """Image units joined with their label sidecars, streamed (see ``iqa.data.streaming``)."""

    def __init__(
        self,
        corpus: Mapping[str, Any],
        labels_dir: str,
        attributes: Sequence[str],
        data_name: str = "corpus",
        batch_size: int = 64,
        num_workers: int = 4,
        crop_size: int = 224,
        steps_per_epoch: int = 1000,
        shuffle_buffer: int = 2000,
        resampled: bool = False,
        seed: int = 0,
        val_batches: int | None = None,
        pin_memory: bool | None = None,
    ) -> None:
        super().__init__()
        self.corpus = dict(corpus)
        self.labels_dir = str(labels_dir)
        self.attributes = tuple(attributes)
        self.data_name = data_name
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.crop_size = int(crop_size)
        self.steps_per_epoch = int(steps_per_epoch)
        self.shuffle_buffer = int(shuffle_buffer)
        self.resampled = bool(resampled)
        self.seed = int(seed)
        self.val_batches = val_batches
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.train_stream: PseudoLabelStream | None = None
        self.val_stream: PseudoLabelStream | None = None
        self.manifest: dict[str, Any] = {}

    def prepare(self) -> None:
        """Check labels and list units; cheap, and raises before any training starts."""
        if self.train_stream is not None:
            return
        self.manifest = load_manifest(self.labels_dir)
        check_attributes(self.manifest, self.attributes, self.labels_dir)
        image_size = int(self.manifest["teacher"]["image_size"])
        lookup = LabelLookup(self.labels_dir, self.attributes)
        train_units = labelled_units(corpus_units(self.corpus, "train", self.data_name), self.labels_dir, "train")
        workers = max(1, self.num_workers)
        self.train_stream = PseudoLabelStream(
            train_units, lookup, image_size, self.crop_size, self.batch_size, train=True,
            batches_per_worker=math.ceil(self.steps_per_epoch / workers), shuffle_buffer=self.shuffle_buffer,
            resampled=self.resampled, seed=self.seed,
        )
        self.train_stream.num_workers = self.num_workers
        val_units = corpus_units(self.corpus, "val", self.data_name)
        if val_units:
            val_units = labelled_units(val_units, self.labels_dir, "val")
            self.val_stream = PseudoLabelStream(
                val_units, lookup, image_size, self.crop_size, self.batch_size, train=False, seed=self.seed
            )

    def setup(self, stage: str | None = None) -> None:
        self.prepare()

    def set_epoch(self, epoch: int, step: int) -> None:
        """Reseed the stream so each epoch, and a resumed run, draws a fresh order."""
        if self.train_stream is not None:
            self.train_stream.set_epoch(epoch * 1_000_003 + step)

    def _loader(self, stream: PseudoLabelStream) -> DataLoader:
        return DataLoader(
            stream, batch_size=None, num_workers=self.num_workers, pin_memory=self.pin_memory,
            persistent_workers=False, prefetch_factor=4 if self.num_workers > 0 else None,
        )

    def train_dataloader(self) -> DataLoader:
        self.prepare()
        return self._loader(self.train_stream)

    def val_dataloader(self) -> DataLoader | list:
        self.prepare()
        return self._loader(self.val_stream) if self.val_stream is not None else []
