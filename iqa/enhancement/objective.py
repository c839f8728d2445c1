"""The enhancement objective: the attiqa loss plus regularisers that keep the output faithful to its input.

Optimising a no-reference quality model alone invites outputs that fool the model but not people. The
regularisers (ideas from Zero-DCE, reimplemented here) tie the output to the input it came from:

=========================  ========================================================================
regulariser                value (lower is better)
=========================  ========================================================================
spatial_consistency        mean over 4x4-px regions of the squared change of the luma difference to
                           each of the four neighbouring regions, between input and output: local
                           structure keeps its shape
illumination_smoothness    total variation (squared gradients) of the enhancer's ``aux`` map (curve
                           parameters or residual): changes vary smoothly across the image
fidelity                   mean absolute difference between output and input
exposure                   mean squared gap between the luma of 16x16-px regions and ``exposure_level``
color_constancy            squared differences between the image's mean R, G and B (grey-world):
                           guards against colour casts, the cheapest way to look "more colourful"
=========================  ========================================================================

Each has a weight in config (``stage.objective``); 0 leaves it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from iqa.errors import UserError

LUMA = (0.299, 0.587, 0.114)


def luma(x: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def spatial_consistency(inputs: torch.Tensor, outputs: torch.Tensor, region: int = 4) -> torch.Tensor:
    """Squared change of neighbouring-region luma differences between input and output (per image ``[B]``)."""
    a = F.avg_pool2d(luma(inputs), region, ceil_mode=True)
    b = F.avg_pool2d(luma(outputs), region, ceil_mode=True)
    total = torch.zeros(inputs.shape[0], dtype=outputs.dtype, device=outputs.device)
    for dim in (2, 3):
        if a.shape[dim] < 2:
            continue
        da, db = torch.diff(a, dim=dim), torch.diff(b, dim=dim)
        total = total + 2 * (db - da).square().flatten(1).mean(1)  # each pair counted from both sides, as left/right, up/down
    return total


def smoothness(maps: torch.Tensor) -> torch.Tensor:
    """Total variation (mean squared horizontal and vertical differences) of ``maps`` (per image ``[B]``)."""
    dh = torch.diff(maps, dim=2).square().flatten(1).mean(1) if maps.shape[2] > 1 else maps.new_zeros(maps.shape[0])
    dw = torch.diff(maps, dim=3).square().flatten(1).mean(1) if maps.shape[3] > 1 else maps.new_zeros(maps.shape[0])
    return dh + dw


def exposure(outputs: torch.Tensor, level: float = 0.6, region: int = 16) -> torch.Tensor:
    """Mean squared gap between regional luma and ``level`` (per image ``[B]``)."""
    return (F.avg_pool2d(luma(outputs), region, ceil_mode=True) - level).square().flatten(1).mean(1)


def color_constancy(outputs: torch.Tensor) -> torch.Tensor:
    """Sum of squared differences between the mean R, G and B of each image (per image ``[B]``)."""
    r, g, b = outputs.flatten(2).mean(2).unbind(1)
    return (r - g).square() + (r - b).square() + (g - b).square()


REGULARISERS = ("spatial_consistency", "illumination_smoothness", "fidelity", "exposure", "color_constancy")


class EnhancementObjective(nn.Module):
    """``quality_loss(output)`` + weighted regularisers; ``forward`` returns ``(total, parts)``.

    ``quality_loss``: a :class:`~iqa.quality_loss.QualityLoss`, or the path of a checkpoint plus
    ``quality`` / ``attributes`` / ``resize`` for one. ``attiqa_weight`` scales the whole attiqa term.
    """

    def __init__(
        self,
        ckpt: Any = None,
        quality: float = 1.0,
        attributes: Mapping[str, Any] | None = None,
        resize: bool = True,
        attiqa_weight: float = 1.0,
        spatial_consistency: float = 1.0,
        illumination_smoothness: float = 1.0,
        fidelity: float = 0.0,
        exposure: float = 0.0,
        exposure_level: float = 0.6,
        color_constancy: float = 0.0,
        channels_last: bool = True,
        quantise: bool = False,
    ) -> None:
        super().__init__()
        from iqa.quality_loss import QualityLoss

        if ckpt is None:
            raise UserError("stage=enhance needs the quality model it optimises: pass stage.quality_ckpt=<fine-tuned checkpoint>")
        self.attiqa = ckpt if isinstance(ckpt, QualityLoss) else QualityLoss(ckpt, quality=quality, attributes=attributes, resize=resize,
                                                                                     channels_last=channels_last, quantise=quantise)
        self.weights = {"attiqa": float(attiqa_weight), "spatial_consistency": float(spatial_consistency),
                        "illumination_smoothness": float(illumination_smoothness), "fidelity": float(fidelity),
                        "exposure": float(exposure), "color_constancy": float(color_constancy)}
        negative = [k for k, v in self.weights.items() if v < 0]
        if negative:
            raise UserError(f"stage.objective: weights must be >= 0, got {', '.join(f'{k}={self.weights[k]}' for k in negative)}")
        self.exposure_level = float(exposure_level)

    def describe(self) -> list[str]:
        lines = [f"attiqa x{self.weights['attiqa']:g}: " + "; ".join(self.attiqa.describe())]
        return lines + [f"{name} x{weight:g}" for name, weight in self.weights.items() if name != "attiqa" and weight]

    def forward(self, inputs: torch.Tensor, outputs: torch.Tensor, aux: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        parts: dict[str, torch.Tensor] = {}
        # Under autocast the enhancer's output may be bf16; the regularisers difference nearby values: float32.
        inputs, outputs = inputs.float(), outputs.float()
        aux = aux.float() if aux is not None else None
        terms = self.attiqa.terms(outputs)
        for name, value in terms.items():
            parts[f"attiqa_{name}"] = value.mean()
        total = self.weights["attiqa"] * torch.stack(list(terms.values())).sum(0).mean()
        parts["attiqa"] = total.detach() / max(self.weights["attiqa"], 1e-12)
        extra = {
            "spatial_consistency": lambda: spatial_consistency(inputs, outputs),
            "illumination_smoothness": lambda: smoothness(aux if aux is not None else outputs - inputs),
            "fidelity": lambda: (outputs - inputs).abs().flatten(1).mean(1),
            "exposure": lambda: exposure(outputs, self.exposure_level),
            "color_constancy": lambda: color_constancy(outputs),
        }
        for name, fn in extra.items():
            weight = self.weights[name]
            if weight:
                value = fn().float().mean()
                parts[name] = value
                total = total + weight * value
        return total, parts


__all__ = ["REGULARISERS", "EnhancementObjective", "color_constancy", "exposure", "luma", "smoothness", "spatial_consistency"]
