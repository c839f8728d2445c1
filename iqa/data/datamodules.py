"""Every LightningDataModule of attiqa, one per way data reaches a stage.

* :class:`LabelDataModule` -- ``label.py``: corpus units streamed to the teacher
  (``iqa.data.label_stream``), dealt to ranks once the trainer knows them.
* :class:`PretrainDataModule` -- ``stage=pretrain``: a streaming corpus joined with
  its pseudo-label set (``iqa.data.streaming``, ``iqa.data.label_sets``).
* :class:`IQADataModule` -- ``stage=finetune`` / ``linear_probe``: the exact,
  map-style train / val / test splits of a MOS dataset (``iqa.data.catalog``).

Lightning is imported here and nowhere else in ``iqa.data``, so that reading
datasets, label sets and images (and scoring with ``iqa.load``) never needs it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from itertools import islice
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from iqa.data.catalog import split_records
from iqa.data.corpus import DEFAULT_CHUNK_SIZE, Unit, iter_unit_samples, list_units
from iqa.data.label_sets import LabelLookup, check_attributes, labelled_count, load_manifest
from iqa.data.records import GroupedRecordDataset, Record, RecordDataset, grouped_collate, skip_collate
from iqa.data.streaming import PseudoLabelStream
from iqa.distributed import dist_info, is_distributed
from iqa.errors import UserError

log = logging.getLogger(__name__)

DECODE_CHOICES = ("auto", "cpu", "gpu")


# ---------------------------------------------------------------- labelling
def corpus_units(corpus: Mapping[str, Any], split: str, data_name: str) -> list[Unit]:
    """Units of one split of a data config's ``corpus`` (labelling and pretraining list them the same way)."""
    spec = corpus.get(split)
    if not spec:
        return []
    return list_units(spec, int(corpus.get("chunk_size", DEFAULT_CHUNK_SIZE)), what=f"data={data_name} corpus.{split}")


def resolve_decode(choice: str, device_type: str) -> str:
    """``decode=auto|cpu|gpu`` -> the stream's decode path (``cpu`` or ``device``) for a teacher on ``device_type``.

    ``auto`` decodes JPEGs on the GPU when the teacher runs on one, else in the workers.
    """
    choice = str(choice).lower()
    if choice not in DECODE_CHOICES:
        raise UserError(f"decode={choice}: valid choices are {', '.join(DECODE_CHOICES)}")
    if choice == "gpu":
        if device_type != "cuda":
            raise UserError(f"decode=gpu needs the teacher on a CUDA GPU, but it runs on {device_type}; use decode=auto or decode=cpu")
        return "device"
    if choice == "auto" and device_type == "cuda":
        return "device"
    return "cpu"


def resolve_workers(value: Any, local_world_size: int = 1) -> int:
    """``num_workers=auto``: one worker per core this rank can have, keeping one core for the main process."""
    if str(value).lower() != "auto":
        workers = int(value)
        if workers < 0:
            raise UserError(f"num_workers={value}: must be >= 0 or auto")
        return workers
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(32, cores // max(1, local_world_size) - 1))


class LabelDataModule(pl.LightningDataModule):
    """The label stream, built once the process knows its rank and device.

    ``predict_dataloader`` runs on every rank after the strategy has set up the
    process group, so the stream is dealt its units with a certain rank and world
    size (DataLoader workers then need not guess them), and ``decode=auto`` can see
    where the teacher lives.
    """

    def __init__(self, units: list[Unit], image_size: int, pending: list[str], decode: str = "auto", batch_size: int = 64,
                 num_workers: Any = "auto", device_max_pixels: int = 12_000_000) -> None:
        super().__init__()
        self.units, self.image_size, self.pending = units, int(image_size), pending
        self.decode, self.batch_size, self.num_workers = decode, int(batch_size), num_workers
        self.device_max_pixels = int(device_max_pixels)
        self.decode_path = "cpu"
        self.workers = 0

    def transfer_batch_to_device(self, batch: Any, device: Any, dataloader_idx: int) -> Any:
        """Move the pixels; JPEG bytes stay on the host, where the device decoder reads them from."""
        encoded = batch.pop("encoded", None)
        batch = super().transfer_batch_to_device(batch, device, dataloader_idx)
        batch["encoded"] = encoded
        return batch

    def predict_dataloader(self) -> DataLoader:
        from iqa.data.label_stream import LabelStream, collate_label_batch

        trainer = self.trainer
        device_type = trainer.strategy.root_device.type if trainer is not None else "cpu"
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        local_world = max(1, world // max(1, trainer.num_nodes)) if trainer is not None else 1
        self.decode_path = resolve_decode(self.decode, device_type)
        self.workers = resolve_workers(self.num_workers, local_world)
        stream = LabelStream(
            self.units, self.image_size, self.pending, decode=self.decode_path,
            device_max_pixels=self.device_max_pixels, rank=rank, world_size=world,
        )
        return DataLoader(
            stream, batch_size=self.batch_size, num_workers=self.workers, collate_fn=collate_label_batch,
            pin_memory=device_type == "cuda", prefetch_factor=4 if self.workers > 0 else None,
        )


# ---------------------------------------------------------------- pretraining
def labelled_units(units: Sequence[Unit], label_dir: str, split: str) -> list[Unit]:
    """Keep units with finished sidecars that label at least one sample; warn about the rest."""
    counts = {u.name: labelled_count(label_dir, u.name) for u in units}
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


# ---------------------------------------------------------------- fine-tuning and evaluation
def unpadded_sampler(dataset: Dataset) -> Any:
    """Under DDP, an evaluation sampler that gives each image to exactly one rank.

    Lightning's default ``DistributedSampler`` pads the last round with
    repeated images so every rank gets as many; gathered metrics would then
    count those images twice. Ranks here may differ by one batch, which
    evaluation (no gradient synchronisation) allows. With fewer images than
    ranks, or without DDP, ``None`` leaves the default in place.
    """
    _, world = dist_info()
    if not is_distributed() or world < 2 or len(dataset) < world:
        return None
    from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler

    return UnrepeatedDistributedSampler(dataset, shuffle=False)


class IQADataModule(pl.LightningDataModule):
    """Train / val / test splits of a MOS-labelled dataset (map-style, exact).

    The split recipe (official or seeded random, ``split_seed``,
    ``train_fraction``) comes from the ``data`` config; see
    :mod:`iqa.data.splits`. ``train_augment=False`` serves the training
    split with the deterministic evaluation view, in order (feature extraction
    for the closed-form ridge probe). ``group_size``: training batches of
    ``batch_size / group_size`` references with ``group_size`` of their
    distorted versions each, cut alike (:class:`~iqa.data.records.GroupedRecordDataset`);
    ``None`` draws images independently.
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        batch_size: int = 32,
        num_workers: int = 4,
        crop_size: int | None = 224,
        train_fraction: float | None = None,
        seed: int = 0,
        pin_memory: bool | None = None,
        train_augment: bool = True,
        group_size: int | None = None,
    ) -> None:
        super().__init__()
        self.data = dict(data)
        self.group_size = int(group_size) if group_size else None
        if self.group_size is not None and self.group_size > int(batch_size):
            raise UserError(f"group_size={group_size} exceeds batch_size={batch_size}: a batch must hold whole groups")
        if train_fraction is not None:
            self.data["train_fraction"] = float(train_fraction)
        section = self.data.get("iqa") or {}
        self.image_size = int(section.get("image_size", 384))
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.crop_size = crop_size
        self.seed = int(seed)
        self.train_augment = bool(train_augment)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.splits: dict[str, list[Record]] = {}

    def records(self, split: str) -> list[Record]:
        if split not in self.splits:
            self.splits[split] = split_records(self.data, split)
        return self.splits[split]

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit"):
            self.records("train")

    def has_split(self, split: str) -> bool:
        return bool(self.records(split))

    def _loader(self, split: str, train: bool) -> DataLoader:
        augment = train and self.train_augment
        dataset = RecordDataset(self.records(split), self.image_size, self.crop_size, train=augment, seed=self.seed)
        if augment and self.group_size:
            grouped = GroupedRecordDataset(dataset, self.group_size)
            groups = max(1, self.batch_size // self.group_size)
            return DataLoader(
                grouped, batch_size=groups, shuffle=True, drop_last=len(grouped) >= groups, num_workers=self.num_workers,
                pin_memory=self.pin_memory, collate_fn=grouped_collate, persistent_workers=self.num_workers > 0,
            )
        return DataLoader(
            dataset, batch_size=self.batch_size, shuffle=augment, drop_last=augment and len(dataset) >= self.batch_size,
            sampler=None if train else unpadded_sampler(dataset), num_workers=self.num_workers,
            pin_memory=self.pin_memory, collate_fn=skip_collate, persistent_workers=self.num_workers > 0 and train,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader | list:
        return self._loader("val", train=False) if self.has_split("val") else []

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
