"""The student network: a timm backbone with one head per attribute and a quality head, and its weight I/O.

:func:`load_net` rebuilds the network of any attiqa checkpoint and
:func:`write_checkpoint` writes a minimal one; the metadata they carry is
:mod:`iqa.checkpoints`' (which never imports the network).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from iqa.attributes import ATTRIBUTES, QUALITY_HEADS
from iqa.backbones import create_backbone, normalisation
from iqa.checkpoints import CheckpointMeta, meta_from_hparams, read_checkpoint, stamp

GROUNDED_DIRECTIONS: dict[str, int] = {"noisiness": -1}
"""Per attribute, which side of its optimum costs quality in the grounded head: ``-1`` only above it (less is
better), ``+1`` only below it (more is better), ``0`` (every attribute not listed) both sides (too little and too
much both cost: blur and over-sharpening, dull and over-saturated colour, dark and washed-out, flat and harsh)."""


class GroundedQualityHead(nn.Module):
    """Quality as a function of the attribute heads that cannot contradict them, plus a bounded residual.

    For attribute scores ``a`` (``[B, A]``, the network's own attribute heads)::

        quality = bias - sum_k ( softplus(u_k) * relu(c_k - a_k) + softplus(v_k) * relu(a_k - c_k) )
                  + bound * tanh(residual(features))

    Each attribute has a learnt optimum ``c_k``; quality never rises as an
    attribute moves away from it, on either side (one side only for the
    attributes of ``directions``: noisiness costs above its optimum and nothing
    below). The residual, a linear read-out of the features, can move quality
    by at most ``bound`` (on the unit MOS scale of training), so what the
    attributes see decides the score: more noise, as the noisiness head sees
    it, can lower quality by any amount, and the residual cannot buy back more
    than ``bound``.
    """

    def __init__(self, width: int, attributes: Sequence[str], bound: float = 0.25,
                 directions: Mapping[str, int] | None = None) -> None:
        super().__init__()
        directions = dict(GROUNDED_DIRECTIONS if directions is None else directions)
        unknown = sorted(set(directions) - set(attributes))
        bad = {k: v for k, v in directions.items() if v not in (-1, 0, 1)}
        if unknown or bad:
            raise ValueError(f"grounded head directions: unknown attributes {unknown} or values not in -1, 0, 1: {bad}")
        if not bound >= 0:
            raise ValueError(f"grounded head bound must be >= 0, got {bound}")
        self.attributes = tuple(attributes)
        self.bound = float(bound)
        self.directions = {name: int(directions.get(name, 0)) for name in self.attributes}
        count = len(self.attributes)
        signs = torch.tensor([self.directions[name] for name in self.attributes])
        self.register_buffer("below_mask", (signs >= 0).float(), persistent=False)  # too little costs
        self.register_buffer("above_mask", (signs <= 0).float(), persistent=False)  # too much costs
        self.centre = nn.Parameter(torch.zeros(count))
        self.below = nn.Parameter(torch.full((count,), -2.0))
        self.above = nn.Parameter(torch.full((count,), -2.0))
        self.bias = nn.Parameter(torch.tensor(0.5))
        self.residual = nn.Linear(width, 1)

    def penalties(self, attributes: torch.Tensor) -> torch.Tensor:
        """``[B, A]``: what each attribute costs (>= 0, zero at its optimum)."""
        centre = self.centre.to(attributes.dtype)
        below = nn.functional.softplus(self.below).to(attributes.dtype) * self.below_mask.to(attributes.dtype)
        above = nn.functional.softplus(self.above).to(attributes.dtype) * self.above_mask.to(attributes.dtype)
        return below * torch.relu(centre - attributes) + above * torch.relu(attributes - centre)

    def forward(self, features: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        residual = self.bound * torch.tanh(self.residual(features).squeeze(1))
        return self.bias.to(attributes.dtype) - self.penalties(attributes).sum(dim=1) + residual


class IQANet(nn.Module):
    """Backbone features -> ``attributes [B, A]`` and ``quality [B]``.

    Inputs are uint8 ``[B, 3, H, W]`` (0..255) or float in [0, 1]; the net
    normalises them itself with the backbone's own mean/std, so data pipelines
    ship compact uint8 batches and never need to know the backbone.

    Outputs are raw scores. Attribute heads trained with a ranking loss are
    meaningful relative to each other (higher = more of the attribute), not in
    absolute terms; the quality head predicts MOS on a normalised 0..1 scale where 1 is
    best (see ``iqa.metrics.MOSScale``).
    """

    def __init__(
        self,
        backbone: str = "tf_efficientnet_lite0",
        weights: str | None = "imagenet",
        attributes: Sequence[str] = ATTRIBUTES,
        drop_rate: float = 0.0,
        channels_last: bool = False,
        quality_head: str = "linear",
        residual_bound: float = 0.25,
    ) -> None:
        super().__init__()
        if quality_head not in QUALITY_HEADS:
            raise ValueError(f"unknown quality head {quality_head!r}; valid heads are {', '.join(QUALITY_HEADS)}")
        self.backbone_name = backbone
        self.attributes = tuple(attributes)
        self.drop_rate = float(drop_rate)
        self.backbone = create_backbone(backbone, weights)
        mean, std = normalisation(self.backbone)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        width = self.backbone.num_features
        self.dropout = nn.Dropout(self.drop_rate)
        self.attribute_heads = nn.ModuleDict({name: nn.Linear(width, 1) for name in self.attributes})
        self.quality_kind = quality_head
        self.residual_bound = float(residual_bound)
        self.quality_head: nn.Module = (GroundedQualityHead(width, self.attributes, self.residual_bound)
                                        if quality_head == "grounded" else nn.Linear(width, 1))
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    @property
    def config(self) -> dict[str, Any]:
        """Enough to rebuild the architecture (weights come from a checkpoint)."""
        config: dict[str, Any] = {"backbone": self.backbone_name, "attributes": list(self.attributes), "drop_rate": self.drop_rate}
        if self.quality_kind != "linear":  # older checkpoints (no key) hold a linear head
            config.update(quality_head=self.quality_kind, residual_bound=self.residual_bound)
        return config

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype == torch.uint8:
            x = images.float().div_(255.0)
        else:  # float64 stays float64 (exact gradient checks); every other float type computes in float32
            x = images if images.dtype == torch.float64 else images.float()
        x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.normalise(images))

    def heads(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.dropout(features)
        attributes = torch.cat([self.attribute_heads[name](features) for name in self.attributes], dim=1)
        if self.quality_kind == "grounded":
            return {"attributes": attributes, "quality": self.quality_head(features, attributes)}
        return {"attributes": attributes, "quality": self.quality_head(features).squeeze(1)}

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.heads(self.features(images))


def load_net(path: str | os.PathLike, map_location: Any = "cpu") -> tuple[IQANet, CheckpointMeta]:
    """Rebuild the :class:`~iqa.models.IQANet` of any attiqa checkpoint; returns ``(net, meta)``."""
    ckpt = read_checkpoint(path, map_location)
    meta = meta_from_hparams(ckpt.get("hyper_parameters") or {}, str(path))
    net = IQANet(weights="none", **meta.net_config)
    state = {k[len("net.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    net.load_state_dict(state)
    return net, meta


def write_checkpoint(net: IQANet, path: str | os.PathLike, **fields: Any):
    """A minimal checkpoint (weights and metadata, no training state) that scoring, ``init=`` and evaluation accept."""
    import io
    from pathlib import Path

    import torch

    from iqa.io import atomic_write_bytes

    hparams: dict[str, Any] = {}
    stamp(hparams, net_config=net.config, **fields)
    state = {f"net.{k}": v.detach().cpu() for k, v in net.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({"state_dict": state, "hyper_parameters": hparams}, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def net_from_checkpoint(path: str, map_location: str | torch.device = "cpu") -> tuple[IQANet, dict[str, Any]]:
    """Rebuild an :class:`IQANet` from any attiqa checkpoint; returns ``(net, hyper_parameters)``.

    The metadata is read by :func:`load_net`, so keys that older checkpoints
    lack come back with the values they implied.
    """
    net, meta = load_net(path, map_location)
    return net, meta.hparams()


def build_student(backbone: Mapping[str, Any], init: str | None = None, attributes: Sequence[str] = ATTRIBUTES,
                  head: str | None = None, residual_bound: float = 0.25) -> IQANet:
    """The student of a training stage, from the ``backbone`` config node (the ``net`` node's ``_target_``).

    ``init``: ``None`` or ``imagenet`` (the backbone's own ``weights``), ``none``
    (random), or a checkpoint of any attiqa stage, whose backbone and heads are
    loaded (heads the checkpoint lacks keep their fresh initialisation).
    ``backbone.channels_last: auto`` turns the memory format on when a GPU is there.
    ``head``: the fine-tuning stage's ``stage.head``; ``grounded`` builds a
    :class:`GroundedQualityHead` (residual within ``residual_bound``), anything else a linear one.
    """
    import logging
    from pathlib import Path

    from iqa.backbones import check_backbone_name
    from iqa.errors import UserError

    name = str(backbone["name"])
    check_backbone_name(name)
    layout = backbone["channels_last"]
    common = {
        "backbone": name, "attributes": attributes, "drop_rate": float(backbone["drop_rate"]),
        "channels_last": torch.cuda.is_available() if str(layout) == "auto" else bool(layout),
        "quality_head": "grounded" if head == "grounded" else "linear", "residual_bound": float(residual_bound),
    }
    if init in (None, "imagenet"):
        return IQANet(weights=backbone["weights"], **common)
    if init == "none":
        return IQANet(weights="none", **common)
    if not Path(str(init)).is_file():
        raise UserError(f"init: expected 'imagenet', 'none' or a checkpoint file; not found: {init}")
    source, hparams = net_from_checkpoint(str(init))
    if source.backbone_name != name:
        raise UserError(f"init checkpoint {init} holds a '{source.backbone_name}' backbone, but backbone={name}; "
                        f"pass backbone={source.backbone_name}")
    net = IQANet(weights="none", **common)
    state = source.state_dict()
    if source.quality_kind != net.quality_kind:  # another kind of quality head starts afresh
        state = {k: v for k, v in state.items() if not k.startswith("quality_head.")}
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.startswith(("attribute_heads", "quality_head"))]:
        raise UserError(f"init checkpoint {init} does not fit this network (missing {missing[:3]}, unexpected {unexpected[:3]})")
    logging.getLogger("iqa.train").info("initialised from %s (stage %s)", init, hparams.get("stage", "?"))
    return net
