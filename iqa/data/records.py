"""MOS-annotated images as plain records, how to read them, and the map-style dataset over them.

IQA datasets are small (thousands of images) and must be evaluated exactly:
every test image once, in a fixed order. So, unlike pretraining corpora, they
are read as a list of :class:`Record` with random access, not as a stream.

A record's image lives in a file (``path``) or inside a tar shard (``path`` is
the shard, ``member`` the file inside it, read by offset).
"""

from __future__ import annotations

import io
import json
import math
import os
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

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
        # Drawn from torch's generator, which Lightning seeds per worker (seed_everything(workers=True)):
        # a run's crops and flips are then reproducible from its seed.
        rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item())) if self.train else None
        try:
            image = self.load(index, rng)
        except SkipImage as exc:
            return {"skip": f"{self.records[index].source}: {exc}", "index": index}
        return {"images": image, "mos": torch.tensor(self.records[index].mos, dtype=torch.float32), "index": index}


def group_key(record: Record) -> str:
    """What a record's distorted siblings share: the reference photo and, for generated corpora, the crop of it."""
    crop = record.meta.get("crop") if record.meta else None
    base = record.reference if record.reference is not None else record.key
    return base if crop is None else f"{base}#{crop}"


class GroupedRecordDataset(Dataset):
    """Training items that are groups: ``group_size`` images of one reference (crop) at a time.

    Item ``g`` is a list of up to ``group_size`` members of group ``g`` (chosen
    at random, without replacement), all cut with the *same* random crop and
    flip, so that inside a group only the distortion differs. Batches built
    from it (:func:`grouped_collate`) hold ``batch_size / group_size`` groups,
    which gives a pairwise ranking loss many same-content pairs: the signal
    that orders the levels of one distortion on one picture. Groups are the
    dataset's items, so a distributed sampler splits groups, never a group.
    """

    def __init__(self, base: RecordDataset, group_size: int) -> None:
        if int(group_size) < 2:
            raise UserError(f"group_size must be at least 2 (images per reference in a batch), got {group_size}")
        self.base = base
        self.group_size = int(group_size)
        groups: dict[str, list[int]] = {}
        for index, record in enumerate(base.records):
            groups.setdefault(group_key(record), []).append(index)
        self.groups = list(groups.values())

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, index: int) -> list[dict[str, Any]]:
        members = self.groups[index]
        order = torch.randperm(len(members))[: self.group_size].tolist()
        seed = int(torch.randint(0, 2**62, ()).item())
        items = []
        for k in order:
            at = members[k]
            try:
                image = self.base.load(at, np.random.default_rng(seed))
            except SkipImage as exc:
                items.append({"skip": f"{self.base.records[at].source}: {exc}", "index": at})
                continue
            items.append({"images": image, "mos": torch.tensor(self.base.records[at].mos, dtype=torch.float32), "index": at,
                          "group": index})
        return items


def grouped_collate(groups: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """:func:`skip_collate` over the members of every group, with each image's group index as ``group``."""
    items = [item for group in groups for item in group]
    batch = skip_collate(items)
    if "images" in batch:
        batch["group"] = torch.tensor([item["group"] for item in items if "skip" not in item])
    return batch


VIEW_POLICIES = ("resize", "tiles")


@dataclass(frozen=True)
class View:
    """How an image of any size becomes the network's input at test time, deterministically.

    ``resize`` (default): scale the whole image so that its short side is
    ``image_size`` (aspect ratio kept), then centre-crop ``crop_size`` if set.
    ``tiles``: scale the same way, then cut a fixed grid of ``crop_size``
    tiles that covers the image (evenly spaced, overlapping where the sides
    are not multiples of the tile); the image's score is the mean over tiles.

    Memory stays bounded for any input: JPEGs are decoded by libjpeg at the
    smallest power-of-two reduction that still covers ``image_size`` (a
    50-megapixel photo bound for 384 px decodes at 1/8 scale), and after
    resizing the long side is capped at ``max_side`` (default
    ``4 * image_size``; only panoramas more elongated than 4:1 are affected,
    their short side then shrinks below ``image_size``).

    ``upscale=False`` never enlarges: an image whose short side is already at
    most ``image_size`` keeps its pixels (``image_size`` is then a cap), so a
    model trained on distortions at native pixel scale sees them at that scale.
    """

    image_size: int = 384
    policy: str = "resize"
    crop_size: int | None = None
    max_side: int | None = None
    upscale: bool = True

    def __post_init__(self) -> None:
        if self.policy not in VIEW_POLICIES:
            raise UserError(f"unknown view policy '{self.policy}'; valid: {', '.join(VIEW_POLICIES)}")
        if int(self.image_size) < 1:
            raise UserError(f"image_size must be positive, got {self.image_size}")

    @property
    def tile(self) -> int:
        return int(self.crop_size or 224)

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) after resizing: short side ``image_size``, long side at most ``max_side``."""
        scale = self.image_size / min(width, height)
        if not self.upscale:
            scale = min(scale, 1.0)
        cap = int(self.max_side or 4 * self.image_size)
        scale = min(scale, cap / max(width, height))
        return max(1, round(width * scale)), max(1, round(height * scale))

    def planned_shape(self, width: int, height: int) -> tuple[int, ...]:
        """Shape of the tensor :meth:`__call__` returns for an image of this size."""
        w, h = self.target_size(width, height)
        if self.policy == "tiles":
            side = min(self.tile, w, h)
            return (len(self._starts(w, side)) * len(self._starts(h, side)), 3, side, side)
        if self.crop_size:
            side = min(int(self.crop_size), w, h)
            return (3, side, side)
        return (3, h, w)

    @staticmethod
    def _starts(length: int, side: int) -> list[int]:
        count = max(1, math.ceil(length / side))
        if count == 1:
            return [(length - side) // 2]
        return [round(i * (length - side) / (count - 1)) for i in range(count)]

    def __call__(self, data: bytes) -> torch.Tensor:
        """uint8 ``[3, H, W]`` (resize) or ``[T, 3, S, S]`` (tiles); raises :class:`SkipImage`."""
        image = decode_rgb(data, draft_size=self.image_size)
        # The target comes from the original size, so draft decoding never changes the output shape.
        width, height = _original_size(data, image)
        w, h = self.target_size(width, height)
        if image.size != (w, h):
            image = image.resize((w, h), Image.BICUBIC, reducing_gap=3.0)
        if self.policy == "tiles":
            side = min(self.tile, w, h)
            tiles = [image.crop((x, y, x + side, y + side)) for y in self._starts(h, side) for x in self._starts(w, side)]
            return torch.stack([to_uint8_tensor(t) for t in tiles])
        if self.crop_size:
            image = center_crop(image, min(int(self.crop_size), w, h))
        return to_uint8_tensor(image)


VIEW_KEYS = tuple(f.name for f in fields(View))


def check_view_keys(config: Mapping[str, Any], what: str) -> None:
    """Refuse keys that are not :class:`View` settings, listing the valid ones."""
    unknown = sorted(set(config) - set(VIEW_KEYS))
    if unknown:
        raise UserError(f"{what}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(VIEW_KEYS)}")


def scoring_view(config: Mapping[str, Any] | None, image_size: int) -> dict[str, Any] | None:
    """A data config's ``iqa.view`` as a plain dict, checked and completed by :class:`View`; ``None`` when it sets none."""
    if not config:
        return None
    config = dict(config)
    check_view_keys(config, "data.iqa.view")
    return asdict(View(**{"image_size": int(image_size), **{k: v for k, v in config.items() if v is not None}}))


def _original_size(data: bytes, decoded: Image.Image) -> tuple[int, int]:
    """Size of the encoded image (``decoded`` may be a draft-mode reduction of it)."""
    try:
        with Image.open(io.BytesIO(data)) as header:
            return header.size
    except Exception:  # noqa: BLE001  (decode already succeeded; fall back to what it gave)
        return decoded.size


def probe_size(item: Record | str) -> tuple[int, int] | None:
    """(width, height) from the image header without decoding pixels; None if unreadable."""
    try:
        if isinstance(item, Record):
            if item.member is None:
                with Image.open(item.path) as image:
                    return image.size
            with Image.open(io.BytesIO(read_bytes(item))) as image:
                return image.size
        with Image.open(item) as image:
            return image.size
    except Exception:  # noqa: BLE001  (the decode step reports the real reason)
        return None


def skip_collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Collate, dropping unreadable items; their reasons travel with the batch."""
    good = [item for item in items if "skip" not in item]
    batch: dict[str, Any] = {"skipped_items": [item["skip"] for item in items if "skip" in item]}
    if good:
        batch["images"] = torch.stack([item["images"] for item in good])
        batch["mos"] = torch.stack([item["mos"] for item in good])
        batch["index"] = torch.tensor([item["index"] for item in good])
    return batch
