"""The interface every pseudo-label teacher implements.

A teacher maps a batch of decoded images to one score per attribute in
``iqa.attributes.ATTRIBUTES`` order. Scores lie in ``[0, 1]`` and higher always
means *more* of the attribute (sharper, brighter, more contrast, more colourful,
noisier), whatever the teacher.

The labelling pipeline resizes every image so that its short side equals
``teacher.image_size`` and centre-crops it to a square of that side before the
batch reaches ``forward``; teachers therefore see fixed-size uint8 batches and
do their own normalisation on the device they live on.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from iqa.attributes import ATTRIBUTES


class Teacher(nn.Module):
    """Base class: ``forward(uint8 [B,3,S,S]) -> float [B, len(attributes)]`` in [0, 1]."""

    #: Name used in output folders and manifests (e.g. ``classical``, ``openclip-ViT-B-32``).
    name: str = "teacher"
    #: Side of the square input the labeller feeds to ``forward``.
    image_size: int = 224
    #: Attribute order of the score columns.
    attributes: tuple[str, ...] = ATTRIBUTES

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """A JSON-serialisable description written into the label manifest."""
        return {"name": self.name, "image_size": self.image_size, "attributes": list(self.attributes)}


def to_float01(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[B,3,H,W]`` (0..255) or float (0..1) to float32 in [0, 1]."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return images.float()
