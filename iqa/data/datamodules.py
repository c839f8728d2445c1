"""The pretraining data module: a streaming corpus joined with its pseudo-label sidecars."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from itertools import islice
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from iqa.data.corpus import DEFAULT_CHUNK_SIZE, Unit, iter_unit_samples, list_units
from iqa.data.labels import LabelLookup, check_attributes, load_manifest, unit_paths
from iqa.data.streaming import PseudoLabelStream
from iqa.distributed import dist_info
from iqa.errors import UserError

log = logging.getLogger(__name__)


def corpus_units(corpus: Mapping[str, Any], split: str, data_name: str) -> list[Unit]:
    spec = corpus.get(split)
    if not spec:
        return []
    return list_units(spec, int(corpus.get("chunk_size", DEFAULT_CHUNK_SIZE)), what=f"data={data_name} corpus.{split}")


def _labelled_count(label_dir: str, unit: str) -> int | None:
    """Samples labelled in a finished unit; None when the unit has no finished sidecar."""
    _, done_path = unit_paths(label_dir, unit)
    if not done_path.is_file():
        return None
    try:
        with open(done_path) as handle:
            return int(json.load(handle).get("labelled", 0))
    except (OSError, ValueError):
        return None


def labelled_units(units: Sequence[Unit], label_dir: str, split: str) -> list[Unit]:
    """Keep units with finished sidecars that label at least one sample; warn about the rest."""
    counts = {u.name: _labelled_count(label_dir, u.name) for u in units}
    ready = [u for u in units if counts[u.name]]
    missing = [u.name for u in units if counts[u.name] is None]
    empty = [u.name for u in units if counts[u.name] == 0]
    if not ready and units:
        raise UserError(
            f"none of the {len(units)} {split} units has usable labels in {label_dir} "
            f"({len(missing)} without labels, {len(empty)} with no labelled sample); run label.py for this corpus first"
        )
    if missing:
        log.warning("%d %s unit(s) have no labels in %s and are left out, e.g. %s", len(missing), split, label_dir, missing[:3])
    if empty:
        log.warning("%d %s unit(s) have no labelled sample in %s and are left out, e.g. %s", len(empty), split, label_dir, empty[:3])
    return ready


def check_labels_match(units: Sequence[Unit], lookup: LabelLookup, label_dir: str, split: str,
                       probe_units: int = 3, probe_samples: int = 16) -> None:
    """Fail before training when labels and corpus disagree (a corpus rebuilt or changed after labelling).

    Reads the first ``probe_samples`` samples of up to ``probe_units`` units
    spread over the list; each must have at least one label among them.
    """
    step = max(1, len(units) // probe_units)
    for unit in list(units[::step])[:probe_units]:
        samples = iter_unit_samples(unit)
        try:
            matched = any(lookup.get(unit.name, s["__key__"]) is not None for s in islice(samples, probe_samples))
        finally:
            samples.close()
        if not matched:
            raise UserError(
                f"the {split} labels in {label_dir} do not match the corpus: none of the first {probe_samples} samples of "
                f"unit {unit.name} ({unit.source}) has a label; was the corpus changed after labelling? rerun label.py"
            )


class StreamLoader(DataLoader):
    """A DataLoader whose stream position is saved in checkpoints.

    Lightning treats a loader with ``state_dict`` / ``load_state_dict`` as
    resumable: it stores the state with the fit loop and hands it back before
    the first batch of a resumed run (see ``PseudoLabelStream.state_dict``).
    """

    def state_dict(self) -> dict[str, Any]:
        return self.dataset.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.dataset.load_state_dict(state)


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
        prefetch_factor: int = 2,
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
        self.prefetch_factor = int(prefetch_factor)
        if self.steps_per_epoch < 1:
            raise UserError(f"stage.steps_per_epoch must be >= 1, got {self.steps_per_epoch}")
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
        if not train_units:
            raise UserError(f"data={self.data_name} has no training units (corpus.train is empty)")
        check_labels_match(train_units, lookup, self.labels_dir, "train")
        self.train_stream = PseudoLabelStream(
            train_units, lookup, image_size, self.crop_size, self.batch_size, train=True,
            batches_per_epoch=self.steps_per_epoch, shuffle_buffer=self.shuffle_buffer,
            resampled=self.resampled, seed=self.seed,
        )
        val_units = corpus_units(self.corpus, "val", self.data_name)
        if val_units:
            val_units = labelled_units(val_units, self.labels_dir, "val")
            check_labels_match(val_units, lookup, self.labels_dir, "val")
            self.val_stream = PseudoLabelStream(
                val_units, lookup, image_size, self.crop_size, self.batch_size, train=False, seed=self.seed
            )

    def setup(self, stage: str | None = None) -> None:
        self.prepare()

    def _place(self, stream: PseudoLabelStream) -> None:
        """Tell the stream its rank explicitly (the node split must not depend on a worker's environment)."""
        trainer = getattr(self, "trainer", None)
        if trainer is not None:
            stream.rank, stream.world_size = int(trainer.global_rank), int(trainer.world_size)
        else:
            stream.rank, stream.world_size = dist_info()
        stream.num_workers = self.num_workers

    def _loader(self, stream: PseudoLabelStream, persistent: bool) -> DataLoader:
        workers = self.num_workers
        cls = StreamLoader if stream.train else DataLoader  # only the training position is worth resuming
        return cls(
            stream, batch_size=None, num_workers=workers, pin_memory=self.pin_memory,
            # Persistent workers keep each reader's stream (and shuffle buffer) alive across epochs.
            persistent_workers=persistent and workers > 0,
            prefetch_factor=self.prefetch_factor if workers > 0 else None,
        )

    def train_dataloader(self) -> DataLoader:
        self.prepare()
        self._place(self.train_stream)
        return self._loader(self.train_stream, persistent=True)

    def val_dataloader(self) -> DataLoader | list:
        self.prepare()
        if self.val_stream is None:
            return []
        self._place(self.val_stream)
        return self._loader(self.val_stream, persistent=False)

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        # Called for the batch the loop is about to train on (not for prefetched ones), so the
        # recorded position is exactly what a checkpoint taken after this step has consumed.
        if isinstance(batch, dict) and "stream" in batch:
            info = batch.pop("stream")
            if self.train_stream is not None:
                self.train_stream.progress.record(info)
        return batch
