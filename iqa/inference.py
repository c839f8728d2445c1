"""Batched inference: score records, files or tensors with a trained attiqa checkpoint."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from iqa.data.images import SkipImage, center_crop, decode_rgb, resize_short_side, to_uint8_tensor
from iqa.data.records import Record, read_bytes
from iqa.metrics import MOSScale
from iqa.models import IQANet, net_from_checkpoint

log = logging.getLogger(__name__)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class _EvalImages(Dataset):
    """Deterministic evaluation view: short side -> ``image_size``, optional centre crop."""

    def __init__(self, items: Sequence[Record | str], image_size: int, crop_size: int | None) -> None:
        self.items = list(items)
        self.image_size = int(image_size)
        self.crop_size = crop_size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | str]:
        item = self.items[index]
        try:
            data = read_bytes(item) if isinstance(item, Record) else Path(item).read_bytes()
            image = resize_short_side(decode_rgb(data, draft_size=self.image_size), self.image_size)
            if self.crop_size:
                image = center_crop(image, int(self.crop_size))
            return index, to_uint8_tensor(image)
        except SkipImage as exc:
            return index, str(exc)
        except OSError as exc:
            return index, f"unreadable: {exc.strerror or exc}"


def _collate(items: list[tuple[int, torch.Tensor | str]]) -> list[tuple[int, torch.Tensor | str]]:
    return items  # images may differ in size; grouped by shape in predict_items


@torch.no_grad()
def predict_items(
    net: IQANet,
    items: Sequence[Record | str],
    image_size: int,
    crop_size: int | None = None,
    batch_size: int = 32,
    num_workers: int = 0,
    device: torch.device | str | None = None,
    progress: str | None = "scoring",
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Run ``net`` over images; returns ``(quality [N], attributes [N, A], errors {index: reason})``.

    Rows of unreadable images are NaN and their reasons are returned, never raised.
    """
    device = torch.device(device) if device is not None else default_device()
    net = net.to(device).eval()
    quality = np.full(len(items), np.nan, dtype=np.float64)
    attributes = np.full((len(items), len(net.attributes)), np.nan, dtype=np.float64)
    errors: dict[int, str] = {}
    loader = DataLoader(_EvalImages(items, image_size, crop_size), batch_size=batch_size, num_workers=num_workers, collate_fn=_collate)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    with tqdm(total=len(items), unit="img", desc=progress, disable=progress is None, dynamic_ncols=True) as bar:
        for batch in loader:
            groups: dict[tuple[int, ...], list[tuple[int, torch.Tensor]]] = {}
            for index, value in batch:
                if isinstance(value, str):
                    errors[index] = value
                else:
                    groups.setdefault(tuple(value.shape), []).append((index, value))
            for members in groups.values():
                indices = [i for i, _ in members]
                images = torch.stack([t for _, t in members]).to(device, non_blocking=True)
                with autocast:
                    out = net(images)
                quality[indices] = out["quality"].float().cpu().numpy()
                attributes[indices] = out["attributes"].float().cpu().numpy()
            bar.update(len(batch))
    return quality, attributes, errors


@dataclass
class QualityModel:
    """A trained model ready to score images: ``iqa.load(ckpt).score(paths)``."""

    net: IQANet
    scale: MOSScale
    image_size: int
    crop_size: int | None
    hparams: dict[str, Any]

    @property
    def attributes(self) -> tuple[str, ...]:
        return self.net.attributes

    def score(
        self, inputs: Iterable[str | Path] | torch.Tensor, batch_size: int = 32, device: str | None = None, progress: bool = False
    ) -> dict[str, np.ndarray]:
        """Quality (on the training dataset's MOS scale) and raw attribute scores.

        ``inputs``: image paths, or a uint8/float tensor ``[B, 3, H, W]`` (used as is).
        Returns arrays ``quality``, ``quality_unit`` (0..1, 1 best), one per attribute, and
        ``error`` (empty string, or why an image could not be read).
        """
        if isinstance(inputs, torch.Tensor):
            dev = torch.device(device) if device else default_device()
            with torch.no_grad():
                out = self.net.to(dev).eval()(inputs.to(dev))
            unit = out["quality"].float().cpu().numpy()
            attrs = out["attributes"].float().cpu().numpy()
            errors: dict[int, str] = {}
            count = unit.shape[0]
        else:
            paths = [str(p) for p in inputs]
            unit, attrs, errors = predict_items(
                self.net, paths, self.image_size, self.crop_size, batch_size, device=device, progress="scoring" if progress else None
            )
            count = len(paths)
        result = {"quality": np.asarray(self.scale.from_unit(unit), dtype=np.float64), "quality_unit": unit}
        for i, name in enumerate(self.attributes):
            result[name] = attrs[:, i]
        result["error"] = np.array([errors.get(i, "") for i in range(count)], dtype=object)
        return result


def load(ckpt: str | Path, image_size: int | None = None, crop_size: int | None = None) -> QualityModel:
    """Load a fine-tuned (or pretrained) checkpoint for scoring."""
    net, hparams = net_from_checkpoint(str(ckpt))
    low, high = hparams.get("mos_range", (0.0, 1.0))
    scale = MOSScale(float(low), float(high), bool(hparams.get("higher_is_better", True)))
    size = int(image_size or hparams.get("image_size") or 384)
    return QualityModel(net.eval(), scale, size, crop_size, hparams)
