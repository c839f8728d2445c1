"""MOS-labelled IQA datasets as plain records, the map-style dataset over them, and its data module.

IQA datasets are small (thousands of images) and must be evaluated exactly:
every test image once, in a fixed order. So, unlike pretraining corpora, they
are read as a list of :class:`Record` with random access, not as a stream.

A record's image lives in a file (``path``) or inside a tar shard (``path`` is
the shard, ``member`` the file inside it, read by offset).
"""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from iqa.data.corpus import expand_shard_patterns
from iqa.data.images import IMAGE_EXTENSIONS, SkipImage, center_crop, decode_rgb, resize_short_side, to_uint8_tensor
from iqa.errors import UserError


@dataclass(frozen=True)
class Record:
    path: str
    mos: float
    key: str = ""
    member: str | None = None
    offset: int = -1
    size: int = -1
    reference: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def source(self) -> str:
        return f"{self.path}:{self.member}" if self.member else self.path


def read_bytes(record: Record) -> bytes:
    with open(record.path, "rb") as handle:
        if record.member is None:
            return handle.read()
        handle.seek(record.offset)
        return handle.read(record.size)


def shard_records(patterns: Any, what: str = "dataset") -> list[Record]:
    """Records from tar shards whose samples carry an image and a JSON with ``mos``."""
    shards = expand_shard_patterns(patterns)
    if not shards or not all(os.path.isfile(s) for s in shards):
        raise UserError(f"{what}: no shards found at {patterns}")
    image_exts = tuple(e.lstrip(".") for e in IMAGE_EXTENSIONS)
    records: list[Record] = []
    for shard in shards:
        members: dict[str, dict[str, tarfile.TarInfo]] = {}
        with tarfile.open(shard, "r:") as tar:
            for info in tar:
                if not info.isreg():
                    continue
                base = os.path.basename(info.name)
                key, _, ext = base.partition(".")
                members.setdefault(os.path.join(os.path.dirname(info.name), key), {})[ext.lower()] = info
            for key, parts in members.items():
                image = next((parts[e] for e in image_exts if e in parts), None)
                if image is None or "json" not in parts:
                    continue
                meta = json.loads(tar.extractfile(parts["json"]).read())
                if "mos" not in meta:
                    continue
                records.append(
                    Record(shard, float(meta["mos"]), key, image.name, image.offset_data, image.size, meta.get("reference"), meta)
                )
    if not records:
        raise UserError(f"{what}: shards at {patterns} hold no samples with a 'mos' in their JSON")
    return records


class RecordDataset(Dataset):
    """Decoded, resized and cropped images with their MOS.

    Training: resize the short side to ``image_size``, take a random
    ``crop_size`` crop and a random horizontal flip. Evaluation: resize the
    short side to ``image_size`` and take the centre ``crop_size`` crop
    (``crop_size=None`` keeps the whole resized image; use batch size 1 then
    unless all images share an aspect ratio).

    An unreadable image raises :class:`SkipImage`; loaders built with
    :func:`skip_collate` drop it and count it.
    """

    def __init__(self, records: Sequence[Record], image_size: int, crop_size: int | None, train: bool, seed: int = 0) -> None:
        self.records = list(records)
        self.image_size = int(image_size)
        self.crop_size = int(crop_size) if crop_size else None
        self.train = bool(train)
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.records)

    def load(self, index: int, rng: np.random.Generator | None = None) -> torch.Tensor:
        record = self.records[index]
        image = resize_short_side(decode_rgb(read_bytes(record), draft_size=self.image_size), self.image_size)
        if self.crop_size:
            if self.train:
                rng = rng or np.random.default_rng()
                width, height = image.size
                left = int(rng.integers(0, width - self.crop_size + 1))
                top = int(rng.integers(0, height - self.crop_size + 1))
                image = image.crop((left, top, left + self.crop_size, top + self.crop_size))
            else:
                image = center_crop(image, self.crop_size)
        if self.train and rng is not None and rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        return to_uint8_tensor(image)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng() if self.train else None
        try:
            image = self.load(index, rng)
        except SkipImage as exc:
            return {"skip": f"{self.records[index].source}: {exc}", "index": index}
        return {"images": image, "mos": torch.tensor(self.records[index].mos, dtype=torch.float32), "index": index}


def skip_collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Collate, dropping unreadable items; their reasons travel with the batch."""
    good = [item for item in items if "skip" not in item]
    batch: dict[str, Any] = {"skipped_items": [item["skip"] for item in items if "skip" in item]}
    if good:
        batch["images"] = torch.stack([item["images"] for item in good])
        batch["mos"] = torch.stack([item["mos"] for item in good])
        batch["index"] = torch.tensor([item["index"] for item in good])
    return batch


def load_split(cfg: Mapping[str, Any], split: str) -> list[Record]:
    """Records of one split of a ``data`` config's ``iqa`` section."""
    section = cfg.get("iqa")
    name = cfg.get("name", "?")
    if not section:
        raise UserError(f"data={name} is an unlabelled corpus; fine-tuning and evaluation need an IQA dataset with MOS")
    splits = section.get("splits") or {}
    if split not in splits or splits[split] is None:
        raise UserError(f"data={name} has no '{split}' split; available: {', '.join(k for k, v in splits.items() if v) or 'none'}")
    fmt = section.get("format", "shards")
    if fmt == "shards":
        return shard_records(splits[split], what=f"data={name} split={split}")
    raise UserError(f"data={name}: unknown iqa.format '{fmt}'; valid: shards")


class IQADataModule(pl.LightningDataModule):
    """Train / val / test splits of a MOS-labelled dataset (map-style, exact)."""

    def __init__(
        self,
        data: Mapping[str, Any],
        batch_size: int = 32,
        num_workers: int = 4,
        crop_size: int | None = 224,
        train_fraction: float = 1.0,
        seed: int = 0,
        pin_memory: bool | None = None,
    ) -> None:
        super().__init__()
        self.data = dict(data)
        section = self.data.get("iqa") or {}
        self.image_size = int(section.get("image_size", 384))
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.crop_size = crop_size
        self.train_fraction = float(train_fraction)
        self.seed = int(seed)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.splits: dict[str, list[Record]] = {}

    def records(self, split: str) -> list[Record]:
        if split not in self.splits:
            records = load_split(self.data, split)
            if split == "train" and self.train_fraction < 1.0:
                if not 0.0 < self.train_fraction <= 1.0:
                    raise UserError(f"data.train_fraction must be in (0, 1], got {self.train_fraction}")
                generator = torch.Generator().manual_seed(self.seed)
                keep = max(1, round(len(records) * self.train_fraction))
                records = [records[i] for i in torch.randperm(len(records), generator=generator)[:keep].tolist()]
            self.splits[split] = records
        return self.splits[split]

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit"):
            self.records("train")

    def _loader(self, split: str, train: bool) -> DataLoader:
        dataset = RecordDataset(self.records(split), self.image_size, self.crop_size, train=train, seed=self.seed)
        return DataLoader(
            dataset, batch_size=self.batch_size, shuffle=train, drop_last=train and len(dataset) >= self.batch_size,
            num_workers=self.num_workers, pin_memory=self.pin_memory, collate_fn=skip_collate,
            persistent_workers=self.num_workers > 0 and train,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader | list:
        splits = (self.data.get("iqa") or {}).get("splits") or {}
        return self._loader("val", train=False) if splits.get("val") else []

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
