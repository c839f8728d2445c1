"""Batched inference: score records, files, folders or tensors with a trained attiqa checkpoint.

``iqa.load(ckpt).score(paths_or_tensors)`` and ``iqa score PATH...`` both land
in :func:`predict_items`, which

* turns every image into the network's input with a deterministic
  :class:`~iqa.data.records.View` (short side resized to ``image_size``; JPEGs
  decoded at reduced scale, so 50-megapixel photos cost little memory);
* reads image headers first and groups images whose inputs will have the same
  shape, so that folders of mixed sizes still run in full batches;
* decodes in DataLoader workers and runs the net under bf16 autocast on GPUs;
* never stops for a bad file: unreadable images get NaN scores and a reason.

Outputs (see ``docs/evaluation.md``):

* ``quality``: on the MOS scale of the dataset the checkpoint was fine-tuned
  on (its range and direction are in :attr:`QualityModel.quality_scale`),
  clipped to that range: a MOS outside the scale it is declared on means
  nothing, and the meta file promises the range;
* ``quality_norm``: the same on a normalised scale (0..1) where 1 is best, *unclipped*
  (a regression head can overshoot 0..1 a little; this column keeps the
  ranking among images that ``quality`` ties at the ends of the scale);
* one raw score per attribute: relative, unbounded, higher = more of the
  attribute (noisiness: higher = noisier); compare images scored by the same
  checkpoint, not across checkpoints. Only for checkpoints whose attribute
  heads were trained on attribute labels (pretraining, or fine-tuning
  initialised from it; ``CheckpointMeta.attributes_trained``): a model
  fine-tuned from ``init=imagenet`` or ``none`` has random attribute heads, so
  these columns are left out rather than filled with meaningless numbers;
* ``<attribute>_percentile`` (0..100) where the checkpoint carries a
  calibration (and trained attribute heads): the share of its fine-tuning
  validation images that scored lower on that attribute.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from iqa.checkpoints import CheckpointMeta, meta_from_hparams
from iqa.data.images import SkipImage, folder_files
from iqa.data.records import Record, View, probe_size, read_bytes
from iqa.errors import UserError
from iqa.metrics import MOSScale
from iqa.models import IQANet, load_net, write_checkpoint
from iqa.quality_loss import QualityLoss
from iqa.zoo import CKPT_ENV, default_checkpoint, resolve_checkpoint  # noqa: F401  (part of this module's API)

log = logging.getLogger(__name__)

#: What each attribute score measures (a higher raw score means more of this).
ATTRIBUTE_MEANING = {
    "sharpness": "sharper",
    "brightness": "brighter",
    "contrast": "more contrast",
    "colorfulness": "more colourful",
    "noisiness": "noisier (worse)",
}


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def prepare_net(net: IQANet, device: torch.device) -> IQANet:
    """``net`` on ``device`` in eval mode, on GPUs and CPUs in channels-last layout: bf16 convolutions run fastest in it on
    GPUs, and oneDNN's on CPUs (on 2 cores, 1.61 times the default layout's images per second for EfficientNet-Lite0 and
    1.35 times for ResNet-18, ``benchmarks/score_throughput.py --layouts``). Scores agree with the default layout's to
    float rounding."""
    net = net.to(device).eval()
    if device.type in ("cuda", "cpu") and not net.channels_last:
        net.to(memory_format=torch.channels_last)
        net.channels_last = True
    return net


def expand_paths(inputs: Iterable[str | os.PathLike]) -> list[str]:
    """Files as given, folders searched recursively; sorted per folder, duplicates dropped.

    A folder contributes every file (:func:`iqa.data.images.folder_files`, the
    rule labelling follows too): files are judged by content, and one that is
    not an image gets the error ``not an image`` rather than vanishing. Paths
    that do not exist are kept, so that they are reported as errors.
    """
    found: list[str] = []
    for item in inputs:
        path = Path(os.path.expanduser(str(item)))
        if path.is_dir():
            found.extend(folder_files(path))
        else:
            found.append(str(path))
    return list(dict.fromkeys(found))


class _EvalImages(Dataset):
    """The deterministic test-time view of records or files: ``(index, tensor | reason)``."""

    def __init__(self, items: Sequence[Record | str], view: View) -> None:
        self.items = list(items)
        self.view = view

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | str]:
        item = self.items[index]
        try:
            data = read_bytes(item) if isinstance(item, Record) else Path(item).read_bytes()
            return index, self.view(data)
        except SkipImage as exc:
            return index, str(exc)
        except FileNotFoundError:
            return index, "not found"
        except IsADirectoryError:
            return index, "is a directory"
        except OSError as exc:
            return index, f"unreadable: {exc.strerror or exc}"


def _collate(items: list[tuple[int, torch.Tensor | str]]) -> tuple[list[tuple[list[int], torch.Tensor]], dict[int, str]]:
    """Group a batch by input shape and stack each group, in the worker.

    One stacked tensor per shape crosses the process boundary (as with
    PyTorch's default collate), not one shared-memory handle per image.
    """
    groups: dict[tuple[int, ...], list[tuple[int, torch.Tensor]]] = {}
    errors: dict[int, str] = {}
    for index, value in items:
        if isinstance(value, str):
            errors[index] = value
        else:
            groups.setdefault(tuple(value.shape), []).append((index, value))
    stacked = [([i for i, _ in members], torch.stack([t for _, t in members])) for members in groups.values()]
    return stacked, errors


def plan_batches(items: Sequence[Record | str], view: View, batch_size: int, bucket: bool = True) -> list[list[int]]:
    """Index batches; with ``bucket``, images whose inputs share a shape are batched together.

    Header sizes are read up front (no pixel decoding), so the order is fixed
    before any worker starts and results never depend on timing.
    """
    indices = list(range(len(items)))
    if bucket and len(items) > 1:
        shapes: dict[tuple[int, ...], list[int]] = {}
        for index, item in enumerate(items):
            size = probe_size(item)
            shapes.setdefault(view.planned_shape(*size) if size else (), []).append(index)
        indices = [i for group in shapes.values() for i in group]
    return [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]


@torch.no_grad()
def predict_items(
    net: IQANet,
    items: Sequence[Record | str],
    view: View | int,
    crop_size: int | None = None,
    batch_size: int = 32,
    num_workers: int = 0,
    device: torch.device | str | None = None,
    progress: str | None = "scoring",
    bucket: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Run ``net`` over images; returns ``(quality_norm [N], attributes [N, A], errors {index: reason})``.

    ``view``: a :class:`View`, or an image size (then ``crop_size`` is its
    centre crop). Rows of unreadable images are NaN and their reasons are
    returned, never raised. Tiled views average the outputs over tiles.
    """
    if not isinstance(view, View):
        view = View(image_size=int(view), crop_size=crop_size)
    device = torch.device(device) if device is not None else default_device()
    net = prepare_net(net, device)
    quality = np.full(len(items), np.nan, dtype=np.float64)
    attributes = np.full((len(items), len(net.attributes)), np.nan, dtype=np.float64)
    errors: dict[int, str] = {}
    if not items:
        return quality, attributes, errors
    batches = plan_batches(items, view, max(1, int(batch_size)), bucket=bucket)
    loader = DataLoader(
        _EvalImages(items, view), batch_sampler=batches, num_workers=int(num_workers), collate_fn=_collate,
        pin_memory=device.type == "cuda", persistent_workers=False,
    )
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    with tqdm(total=len(items), unit="img", desc=progress, disable=progress is None, dynamic_ncols=True) as bar:
        for groups, failed in loader:
            errors.update(failed)
            for indices, images in groups:
                images = images.to(device, non_blocking=True)
                tiles = images.shape[1] if images.ndim == 5 else 1
                if images.ndim == 5:  # [B, T, 3, S, S]: every tile through the net, then the mean per image
                    images = images.flatten(0, 1)
                with autocast:
                    out = net(images)
                q = out["quality"].float().view(len(indices), tiles).mean(1)
                a = out["attributes"].float().view(len(indices), tiles, -1).mean(1)
                quality[indices] = q.cpu().numpy()
                attributes[indices] = a.cpu().numpy()
            bar.update(sum(len(i) for i, _ in groups) + len(failed))
            if errors:
                bar.set_postfix(unreadable=len(errors), refresh=False)
    return quality, attributes, errors


def _calibrated(values: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    """Percentile (0..100) of each value within a reference distribution given by its quantiles."""
    q = np.asarray(quantiles, dtype=np.float64)
    levels = np.linspace(0.0, 100.0, len(q))
    # Flat stretches of the quantile curve (ties) would make np.interp ambiguous; average them.
    q_unique, inverse = np.unique(q, return_inverse=True)
    level_mean = np.bincount(inverse, weights=levels) / np.bincount(inverse)
    if len(q_unique) == 1:
        out = np.where(values < q_unique[0], 0.0, np.where(values > q_unique[0], 100.0, 50.0))
    else:
        out = np.interp(values, q_unique, level_mean, left=0.0, right=100.0)
    return np.where(np.isfinite(values), out, np.nan)


@dataclass
class QualityModel:
    """A trained model ready to score images: ``iqa.load(ckpt).score(paths)``."""

    net: IQANet
    scale: MOSScale
    view: View
    hparams: dict[str, Any] = field(default_factory=dict)
    device: torch.device | None = None
    #: The checkpoint's typed metadata; built from ``hparams`` when not given.
    meta: CheckpointMeta | None = None

    def __post_init__(self) -> None:
        if self.meta is None:
            self.meta = meta_from_hparams({"net_config": self.net.config, **self.hparams}, "hparams")

    @property
    def attributes(self) -> tuple[str, ...]:
        return self.net.attributes

    @property
    def attributes_trained(self) -> bool:
        """Whether the attribute heads learnt from attribute labels (else :meth:`score` leaves them out)."""
        return self.meta.attributes_trained

    @property
    def scored_attributes(self) -> tuple[str, ...]:
        """The attribute columns :meth:`score` reports: all of them, or none for untrained heads."""
        return self.attributes if self.attributes_trained else ()

    @property
    def image_size(self) -> int:
        return self.view.image_size

    @property
    def quality_trained(self) -> bool:
        """False for a pretraining checkpoint, whose quality head never saw a MOS."""
        return self.meta.quality_trained

    @property
    def calibration(self) -> dict[str, Any] | None:
        return self.meta.calibration_for(self.attributes)

    @property
    def quality_scale(self) -> dict[str, Any]:
        return {"range": [self.scale.low, self.scale.high], "higher_is_better": self.scale.higher_is_better,
                "dataset": self.meta.data}

    def columns(self) -> dict[str, dict[str, Any]]:
        """What each output column means: range and direction (written beside score CSVs)."""
        trained_on = self.meta.data or "the fine-tuning dataset"
        cols: dict[str, dict[str, Any]] = {
            "path": {"meaning": "input file (or tensor index)"},
            "quality": {"meaning": f"predicted MOS on the scale of {trained_on}, clipped to its range",
                        "range": [self.scale.low, self.scale.high], "higher_is_better": self.scale.higher_is_better,
                        "clipped": True},
            "quality_norm": {"meaning": "predicted quality on a normalised 0..1 scale, unclipped: may fall slightly outside the range, "
                                        "which keeps the order among images that quality ties at its ends",
                             "range": [0.0, 1.0], "higher_is_better": True, "clipped": False},
        }
        if not self.quality_trained:
            cols["quality"]["meaning"] = "empty: this is a pretraining checkpoint (no MOS-trained quality head)"
            cols["quality_norm"]["meaning"] = cols["quality"]["meaning"]
        for name in self.scored_attributes:
            cols[name] = {"meaning": f"raw {name} score: relative and unbounded; higher = {ATTRIBUTE_MEANING.get(name, 'more')}",
                          "range": None, "higher_means": ATTRIBUTE_MEANING.get(name, "more")}
        if self.calibration:
            reference = self.calibration.get("reference", "the fine-tuning validation images")
            for name in self.attributes:
                cols[f"{name}_percentile"] = {
                    "meaning": f"percentile of the {name} score among the {self.calibration.get('count')} images of the {reference}",
                    "range": [0.0, 100.0], "higher_means": ATTRIBUTE_MEANING.get(name, "more"),
                }
        cols["error"] = {"meaning": "empty, or why the image could not be scored"}
        return cols

    def _run_tensor(self, images: torch.Tensor, batch_size: int, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[1] != 3:
            raise UserError(f"tensors must be [B, 3, H, W] or [3, H, W] (uint8 0..255 or float 0..1), got {tuple(images.shape)}")
        net = prepare_net(self.net, device)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
        quality, attrs = [], []
        with torch.no_grad(), autocast:
            for start in range(0, images.shape[0], batch_size):
                out = net(images[start : start + batch_size].to(device))
                quality.append(out["quality"].float().cpu())
                attrs.append(out["attributes"].float().cpu())
        return torch.cat(quality).numpy().astype(np.float64), torch.cat(attrs).numpy().astype(np.float64)

    @staticmethod
    def _in_memory(inputs: Any) -> list[torch.Tensor] | None:
        """Tensors, numpy arrays (``[H, W, 3]`` / ``[B, H, W, 3]``) and PIL images as ``[B, 3, H, W]`` tensors; None for paths."""
        items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        kinds = [isinstance(x, (torch.Tensor, np.ndarray)) or (hasattr(x, "convert") and hasattr(x, "size")) for x in items]
        if not items or not any(kinds):
            return None
        if not all(kinds):
            raise UserError("score takes paths, or images in memory (tensors, numpy arrays, PIL images), not a mix of both")
        tensors = []
        for x in items:
            if isinstance(x, torch.Tensor):
                tensors.append(x)
                continue
            array = np.asarray(x.convert("RGB")) if not isinstance(x, np.ndarray) else x
            if array.ndim not in (3, 4) or array.shape[-1] != 3:
                raise UserError(f"numpy images must be [H, W, 3] or [B, H, W, 3] (uint8 0..255 or float 0..1), got {array.shape}")
            t = torch.from_numpy(np.ascontiguousarray(array))
            tensors.append(t.permute(2, 0, 1) if t.ndim == 3 else t.permute(0, 3, 1, 2))
        return tensors

    def score(
        self,
        inputs: str | os.PathLike | Iterable[str | os.PathLike] | torch.Tensor | Sequence[torch.Tensor],
        batch_size: int = 32,
        device: str | torch.device | None = None,
        num_workers: int = 0,
        progress: bool = False,
    ):
        """Score images; returns a :class:`pandas.DataFrame`, one row per image, in input order.

        ``inputs``: a file or folder (searched recursively), a list of them, a
        tensor ``[B, 3, H, W]`` / ``[3, H, W]`` (uint8 0..255 or float 0..1,
        used as given: no resizing), a numpy array ``[H, W, 3]`` / ``[B, H, W, 3]``
        (the same value ranges), a PIL image, or a list of these. Columns:
        ``path``, ``quality`` (clipped to the MOS range), ``quality_norm``
        (unclipped), the attributes and ``<attribute>_percentile`` if the
        checkpoint is calibrated (both only when its attribute heads were
        trained: :attr:`attributes_trained`), and ``error`` (empty, or why an
        image could not be read). See :meth:`columns`.
        """
        import pandas as pd

        dev = torch.device(device) if device is not None else (self.device or default_device())
        tensors = self._in_memory(inputs)
        if tensors is not None:
            norm_parts, attr_parts = zip(*(self._run_tensor(t, batch_size, dev) for t in tensors))
            normalised, attrs = np.concatenate(norm_parts), np.concatenate(attr_parts)
            names = [f"tensor[{i}]" for i in range(len(normalised))]
            errors: dict[int, str] = {}
        else:
            if isinstance(inputs, (str, os.PathLike)):
                inputs = [inputs]
            names = expand_paths(inputs)
            normalised, attrs, errors = predict_items(
                self.net, names, self.view, batch_size=batch_size, num_workers=num_workers, device=dev,
                progress="scoring" if progress else None,
            )
        if not self.quality_trained:
            normalised = np.full_like(normalised, np.nan)
        quality = np.clip(np.asarray(self.scale.denormalise(normalised), dtype=np.float64), self.scale.low, self.scale.high)
        frame = pd.DataFrame({"path": names, "quality": quality, "quality_norm": normalised})
        for i, name in enumerate(self.scored_attributes):
            frame[name] = attrs[:, i]
        calibration = self.calibration
        if calibration:
            for i, name in enumerate(self.attributes):
                frame[f"{name}_percentile"] = _calibrated(attrs[:, i], calibration["quantiles"][i])
        frame["error"] = [errors.get(i, "") for i in range(len(names))]
        return frame


    def as_loss(self, quality: float = 1.0, attributes: dict[str, Any] | None = None, resize: bool = True,
                quantise: bool = False):
        """This model as a differentiable loss (lower is better): a :class:`~iqa.quality_loss.QualityLoss`.

        ``quality``: weight of ``1 - quality_norm``; ``attributes``: ``{name: "raise" | "lower" |
        <target percentile> | {"direction"/"target", "weight"}}``. The network is frozen and kept in
        eval mode; gradients reach only the input. ``resize=True`` preprocesses as :meth:`score`
        does for files; ``quantise`` rounds to 8 bits as a saved image is (straight-through).
        """
        return QualityLoss(self, quality=quality, attributes=attributes, resize=resize, quantise=quantise)


def load(
    ckpt: str | os.PathLike | None = None,
    image_size: int | None = None,
    policy: str | None = None,
    crop_size: int | None = None,
    max_side: int | None = None,
    device: str | torch.device | None = None,
    upscale: bool | None = None,
) -> QualityModel:
    """Load a fine-tuned (or pretrained) attiqa checkpoint for scoring.

    ``ckpt``: a checkpoint file, or the name of a shipped model (``iqa models``);
    None: :func:`default_checkpoint` (``$ATTIQA_CKPT``, else the shipped default model).
    The :class:`View` is the one the checkpoint recorded (``data.iqa.view`` at
    fine-tuning; otherwise: resize to the size it was fine-tuned at); each
    argument given here overrides its part: ``image_size``, ``policy``
    (``resize``: whole image, short side ``image_size``; ``tiles``: mean over
    a grid of ``crop_size`` tiles), ``crop_size``, ``max_side``, ``upscale``.
    """
    net, meta = load_net(resolve_checkpoint(ckpt))
    scale = MOSScale(*meta.mos_range, meta.higher_is_better)
    view = View(**meta.scoring_view(image_size=image_size, policy=policy, crop_size=crop_size, max_side=max_side, upscale=upscale))
    return QualityModel(net.eval(), scale, view, meta.hparams(), torch.device(device) if device else None, meta)


def export_checkpoint(net: IQANet, path: str | os.PathLike, **hparams: Any) -> Path:
    """Write ``net`` as a minimal attiqa checkpoint that :func:`load` and ``init=`` accept.

    ``hparams`` are metadata keys of :class:`~iqa.checkpoints.CheckpointMeta`
    (e.g. ``stage``, ``data``, ``init``, ``mos_range``, ``higher_is_better``,
    ``image_size``, ``attributes_trained``); an unknown key is a ``TypeError``.
    Without ``attributes_trained`` (or an ``init`` naming a checkpoint), a
    non-pretraining checkpoint's attribute heads count as untrained.
    """
    return write_checkpoint(net, path, **hparams)


__all__ = ["QualityModel", "View", "default_checkpoint", "expand_paths", "export_checkpoint", "load", "predict_items", "prepare_net",
           "resolve_checkpoint"]


#: The checkpoint ``make demo`` fine-tunes, under ``$ATTIQA_OUTPUT_DIR`` (``iqa rank --demo`` prefers it).
DEMO_CKPT = "demo/finetune-attiqa/checkpoints/last.ckpt"


def usable_cpus() -> int:
    """The cores this process may use: its CPU affinity (``taskset``, cgroups, SLURM), capped by ``OMP_NUM_THREADS`` when set."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    limit = os.environ.get("OMP_NUM_THREADS", "").strip()
    if limit.isdigit() and int(limit) > 0:
        cpus = min(cpus, int(limit))
    return max(1, cpus)


def plan_threads(num_workers: int | None, device_type: str, cpus: int | None = None) -> tuple[int, int]:
    """(decoding processes, torch threads in the main process) for scoring.

    On a GPU the main process only feeds the device, so decoding gets the
    cores. On the CPU, decoding and the network compete for the same cores:
    with more busy threads than cores, threads spin and wait on each other and
    the kernel's time (system time) overtakes the work itself. So the workers
    come out of the network's thread budget and the total never exceeds the cores.
    """
    cpus = max(1, cpus or usable_cpus())
    if device_type != "cpu":
        return (min(8, cpus) if num_workers is None else num_workers), cpus
    workers = (0 if cpus <= 4 else min(8, cpus // 4)) if num_workers is None else num_workers
    return workers, max(1, cpus - workers)
