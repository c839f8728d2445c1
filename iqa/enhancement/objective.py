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
hue_fidelity               chroma-weighted ``1 - cos`` of the angle between each pixel's opponent
                           chroma (R-G, R+G-2B) in input and output, relative to the input's chroma
                           energy: hue stays where the input had it
chroma_gain                mean growth of regional relative chroma (chroma / luma) over the input's,
                           where it grew: no colour boost (undoing a darkening lowers relative chroma)
colourfulness_gain         ``relu(M_out / M_in - 1 - margin)^2`` of Hasler-Suesstrunk colourfulness M:
                           the input's own colourfulness is the ceiling (a darkening barely moves it)
clipping                   mean over pixels the input had below ``clip_level`` of how far the output
                           went past it (as a fraction of the headroom): no blown-out whites
=========================  ========================================================================

``exposure_band: [lo, hi]`` turns the exposure term into a band: regions inside it cost nothing, so
the term guards against under- and over-exposure without choosing the brightness itself.

The attiqa term itself is hardened against outputs that fool the network rather than improve:

* ``views``: the output is scored under that many random views (a crop of ``view_scale`` of its side,
  shrunk by up to ``view_shrink``, flipped half the time) and the terms averaged, so a perturbation
  tuned to one framing does not pay;
* attribute targets may be ``clean``: the median percentile the checkpoint gives clean crops of the
  training photos (``clean_photos``), i.e. where content of this kind sits, rather than "more";
* ``ceilings``: ``{attribute: P | clean}``, a one-sided penalty ``((percentile - P) / 100)^2`` above P
  (``clean``: the 90th percentile of the clean crops'), so that raising colourfulness or contrast beyond
  what clean photos show costs;
* at construction every requested term is probed with flat black, grey and white images and with
  a washed-out and an over-saturated clean crop; a term such a probe satisfies better than the clean
  crops is reported (``head_warnings``, logged), since an optimiser will find that shortcut.

Each has a weight in config (``stage.objective``); 0 leaves it out.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from iqa.errors import UserError, suggest

log = logging.getLogger("iqa.train")

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


def exposure_band(outputs: torch.Tensor, low: float, high: float, region: int = 16) -> torch.Tensor:
    """Mean squared distance of regional luma outside ``[low, high]`` (0 inside the band; per image ``[B]``)."""
    regions = F.avg_pool2d(luma(outputs), region, ceil_mode=True)
    return (F.relu(low - regions).square() + F.relu(regions - high).square()).flatten(1).mean(1)


def color_constancy(outputs: torch.Tensor) -> torch.Tensor:
    """Sum of squared differences between the mean R, G and B of each image (per image ``[B]``)."""
    r, g, b = outputs.flatten(2).mean(2).unbind(1)
    return (r - g).square() + (r - b).square() + (g - b).square()


def opponent_chroma(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel opponent chroma ``[(R - G) / sqrt 2, (R + G - 2B) / sqrt 6]`` (``[B, 2, H, W]``; 0 on greys)."""
    r, g, b = x.unbind(1)
    return torch.stack(((r - g) / 2**0.5, (r + g - 2 * b) / 6**0.5), 1)


def hue_fidelity(inputs: torch.Tensor, outputs: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Hue change between input and output (per image ``[B]``): ``sum(|c_in||c_out| - c_in . c_out) / sum(|c_in|^2)``.

    Per pixel, ``|c_in||c_out| (1 - cos angle)`` of the opponent chroma vectors: 0 when the hue is kept, whatever
    the chroma's length (brightening or a saturation change costs nothing); grey pixels count for nothing.
    Dividing by the input's chroma energy makes it a relative measure, the same for a vivid and a muted image.
    """
    a, b = opponent_chroma(inputs), opponent_chroma(outputs)
    misalignment = a.norm(dim=1) * b.norm(dim=1) - (a * b).sum(1)
    return misalignment.flatten(1).sum(1) / (a.square().sum(1).flatten(1).sum(1) + eps * a[:, 0].numel() / a.shape[0])


def chroma_gain(inputs: torch.Tensor, outputs: torch.Tensor, region: int = 4, eps: float = 0.01) -> torch.Tensor:
    """Growth of relative chroma over the input's, where it grew (per image ``[B]``).

    Relative chroma of a ``region`` x ``region`` block: its mean opponent-chroma length over its mean luma
    (+ ``eps``). More light (all channels scaled alike) keeps it; a brightening tone curve lowers it, and so
    does undoing a darkening; an output more saturated per unit of brightness than its input has had its
    colours boosted, the cheapest way to look "better" to a model that rewards colourfulness.
    """
    def relative(x: torch.Tensor) -> torch.Tensor:
        chroma = F.avg_pool2d(opponent_chroma(x).norm(dim=1, keepdim=True), region, ceil_mode=True)
        return chroma / (F.avg_pool2d(luma(x), region, ceil_mode=True) + eps)

    return F.relu(relative(outputs) - relative(inputs)).flatten(1).mean(1)


def colourfulness_hs(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Hasler-Suesstrunk colourfulness of float images in 0..1, in 0..255 units (per image ``[B]``; differentiable)."""
    r, g, b = (x * 255.0).flatten(2).unbind(1)
    rg, yb = r - g, 0.5 * (r + g) - b
    spread = torch.sqrt(rg.var(dim=1, correction=0) + yb.var(dim=1, correction=0) + eps)
    offset = torch.sqrt(rg.mean(dim=1).square() + yb.mean(dim=1).square() + eps)
    return spread + 0.3 * offset


def colourfulness_gain(inputs: torch.Tensor, outputs: torch.Tensor, margin: float = 0.05, floor: float = 5.0) -> torch.Tensor:
    """``relu(M_out / M_in - 1 - margin)^2`` (per image ``[B]``): colourfulness raised beyond the input's own.

    A power-curve darkening leaves Hasler-Suesstrunk colourfulness M nearly where it was (the channel
    differences shrink as the image darkens, but so does the luma they are spread around), so undoing one
    should not raise it much either; ``M_in`` is taken as at least ``floor``.
    """
    ratio = colourfulness_hs(outputs) / colourfulness_hs(inputs).detach().clamp(min=floor)
    return F.relu(ratio - 1.0 - margin).square()


def clipping(inputs: torch.Tensor, outputs: torch.Tensor, level: float = 0.97) -> torch.Tensor:
    """Mean over pixels the input had below ``level`` of how far the output went above it, in units of the
    headroom ``1 - level`` (per image ``[B]``): highlights the enhancer blew out."""
    room = max(1.0 - float(level), 1e-6)
    fresh = (inputs < level).to(outputs.dtype)
    return (F.relu(outputs - level) / room * fresh).flatten(1).mean(1)


def random_views(images: torch.Tensor, count: int, scale: tuple[float, float] = (0.6, 1.0), shrink: float = 0.75,
                 generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """``count`` random views of a batch: a square crop of ``scale`` of the short side at a random place, shrunk to
    ``shrink``..1 of its size (never enlarged: the network would judge invented blur), flipped half the time.
    One view is shared by the batch (one graph, any batch size); differentiable with respect to ``images``."""
    height, width = images.shape[-2:]
    views = []
    for _ in range(int(count)):
        u = torch.rand(5, generator=generator).tolist()
        side = max(8, round(min(height, width) * (scale[0] + (scale[1] - scale[0]) * u[0])))
        top, left = int(u[1] * (height - side + 1)), int(u[2] * (width - side + 1))
        view = images[..., top : top + side, left : left + side]
        size = max(8, round(side * (shrink + (1.0 - shrink) * u[3])))
        if size < side:
            view = F.interpolate(view, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        if u[4] < 0.5:
            view = view.flip(-1)
        views.append(view)
    return views


REGULARISERS = ("spatial_consistency", "illumination_smoothness", "fidelity", "exposure", "color_constancy", "hue_fidelity",
                "chroma_gain", "colourfulness_gain", "clipping")
CLEAN = "clean"
#: A ``clean`` ceiling sits at this quantile of the clean crops' percentiles (a clean target at their median).
CLEAN_CEILING_QUANTILE = 0.9


def _spec_value(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else value


class EnhancementObjective(nn.Module):
    """``quality_loss(output)`` + weighted regularisers; ``forward`` returns ``(total, parts)``.

    ``quality_loss``: a :class:`~iqa.quality_loss.QualityLoss`, or a checkpoint file or a shipped model's name (None:
    the shipped default) plus ``quality`` / ``attributes`` / ``resize`` for one. ``attiqa_weight`` scales the whole
    attiqa term.
    See the module docstring for ``views``, ``ceilings``, ``clean`` targets and the head probes.
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
        exposure_band: Sequence[float] | None = None,
        color_constancy: float = 0.0,
        hue_fidelity: float = 0.0,
        chroma_gain: float = 0.0,
        colourfulness_gain: float = 0.0,
        colourfulness_margin: float = 0.05,
        clipping: float = 0.0,
        clip_level: float = 0.97,
        views: int = 0,
        view_scale: Sequence[float] = (0.6, 1.0),
        view_shrink: float = 0.75,
        ceilings: Mapping[str, Any] | None = None,
        ceiling_weight: float = 1.0,
        clean_photos: Sequence[str] | None = None,
        clean_size: int = 256,
        clean_crop: int = 128,
        probe_heads: bool = True,
        channels_last: bool = True,
        quantise: bool = False,
    ) -> None:
        super().__init__()
        from iqa.quality_loss import QualityLoss

        attributes = dict(attributes or {})
        clean_targets = [name for name, value in attributes.items() if _spec_value(value, "target") == CLEAN]
        for name in clean_targets:  # a placeholder target until the clean crops are scored below
            value = attributes[name]
            attributes[name] = {**value, "target": 50.0} if isinstance(value, Mapping) else 50.0
        self.attiqa = ckpt if isinstance(ckpt, QualityLoss) else QualityLoss(ckpt, quality=quality, attributes=attributes, resize=resize,
                                                                                     channels_last=channels_last, quantise=quantise)
        self.weights = {"attiqa": float(attiqa_weight), "spatial_consistency": float(spatial_consistency),
                        "illumination_smoothness": float(illumination_smoothness), "fidelity": float(fidelity),
                        "exposure": float(exposure), "color_constancy": float(color_constancy),
                        "hue_fidelity": float(hue_fidelity), "chroma_gain": float(chroma_gain),
                        "colourfulness_gain": float(colourfulness_gain), "clipping": float(clipping)}
        given = {**self.weights, "ceiling_weight": float(ceiling_weight)}
        negative = [f"{k}={v:g}" for k, v in given.items() if v < 0]
        if negative:
            raise UserError(f"stage.objective: weights must be >= 0, got {', '.join(negative)}")
        self.exposure_level = float(exposure_level)
        self.exposure_band = None if exposure_band is None else (float(exposure_band[0]), float(exposure_band[-1]))
        if self.exposure_band is not None and not 0.0 <= self.exposure_band[0] <= self.exposure_band[1] <= 1.0:
            raise UserError(f"stage.objective.exposure_band: expected [low, high] with 0 <= low <= high <= 1, got {list(exposure_band)}")
        self.clip_level = float(clip_level)
        self.colourfulness_margin = float(colourfulness_margin)
        self.views = int(views)
        self.view_scale = (float(view_scale[0]), float(view_scale[-1]))
        if self.views < 0 or not 0.0 < self.view_scale[0] <= self.view_scale[1] <= 1.0 or not 0.0 < float(view_shrink) <= 1.0:
            raise UserError(f"stage.objective: views must be >= 0, view_scale within (0, 1] and view_shrink within (0, 1]; "
                            f"got views={views}, view_scale={list(view_scale)}, view_shrink={view_shrink}")
        self.view_shrink = float(view_shrink)
        self.ceiling_weight = float(ceiling_weight)
        self.ceilings: dict[str, float] = {}
        raw_ceilings = {str(k): v for k, v in dict(ceilings or {}).items() if v is not None}
        for name in raw_ceilings:
            if name not in self.attiqa.attributes:
                raise UserError(f"stage.objective.ceilings: unknown attribute '{name}'{suggest(name, self.attiqa.attributes)}; "
                                f"this checkpoint has: {', '.join(self.attiqa.attributes)}")
        if (raw_ceilings or clean_targets) and not self.attiqa.calibrated:
            raise UserError("stage.objective: ceilings and clean targets are percentiles; this checkpoint carries no calibration")
        needs_clean = clean_targets or any(v == CLEAN for v in raw_ceilings.values())
        self.clean_percentiles: dict[str, float] = {}
        self.clean_ceilings: dict[str, float] = {}
        clean = clean_crops(clean_photos, clean_size, clean_crop) if (needs_clean or probe_heads) else None
        if clean is not None and self.attiqa.calibrated:
            with torch.no_grad():
                raw = self.attiqa.predict(clean)["attributes"]
                levels = torch.stack([self.attiqa.percentile(name, raw[:, i]) for i, name in enumerate(self.attiqa.attributes)], 1)
                self.clean_percentiles = dict(zip(self.attiqa.attributes, levels.median(0).values.tolist()))
                self.clean_ceilings = dict(zip(self.attiqa.attributes, levels.quantile(CLEAN_CEILING_QUANTILE, dim=0).tolist()))
        if needs_clean and not self.clean_percentiles:
            raise UserError("stage.objective: 'clean' targets need clean photos to score; none could be loaded")
        self.attiqa.terms_config = [dataclasses.replace(t, target=self.clean_percentiles[t.name]) if t.name in clean_targets else t
                                    for t in self.attiqa.terms_config]
        for name, value in raw_ceilings.items():
            try:
                self.ceilings[name] = self.clean_ceilings[name] if value == CLEAN else float(value)
            except (TypeError, ValueError):
                raise UserError(f"stage.objective.ceilings.{name}: expected a percentile or 'clean', got {value!r}") from None
        self.head_warnings = probe(self, clean) if probe_heads and clean is not None else []
        for line in self.head_warnings:
            log.warning("objective: %s", line)

    def describe(self) -> list[str]:
        lines = [f"attiqa x{self.weights['attiqa']:g}: " + "; ".join(self.attiqa.describe())]
        if self.views:
            lines.append(f"attiqa scored over {self.views} random views (crop {self.view_scale[0]:g}..{self.view_scale[1]:g}, "
                         f"shrink {self.view_shrink:g}..1, flips)")
        lines += [f"{name} at most percentile {p:.0f} (x{self.ceiling_weight:g})" for name, p in self.ceilings.items()]
        extra = {"exposure": f" band {list(self.exposure_band)}" if self.exposure_band else f" level {self.exposure_level:g}",
                 "clipping": f" above {self.clip_level:g}"}
        return lines + [f"{name} x{weight:g}{extra.get(name, '')}" for name, weight in self.weights.items() if name != "attiqa" and weight]

    def attiqa_terms(self, outputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """The attiqa terms per image (``[B]`` each, weighted, lower is better): quality, attributes, ceilings."""
        predictions = self.attiqa.predict(outputs)
        terms = self.attiqa.terms(outputs, predictions)
        for name, limit in self.ceilings.items():
            raw = predictions["attributes"][:, self.attiqa.attributes.index(name)]
            over = F.relu(self.attiqa.percentile(name, raw) - limit) / 100.0
            terms[f"{name}_ceiling"] = self.ceiling_weight * over.square()
        return terms

    def forward(self, inputs: torch.Tensor, outputs: torch.Tensor, aux: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        parts: dict[str, torch.Tensor] = {}
        # Under autocast the enhancer's output may be bf16; the regularisers difference nearby values: float32.
        inputs, outputs = inputs.float(), outputs.float()
        aux = aux.float() if aux is not None else None
        if self.weights["attiqa"]:
            if self.views:
                per_view = [self.attiqa_terms(view) for view in random_views(outputs, self.views, self.view_scale, self.view_shrink)]
                terms = {name: torch.stack([v[name] for v in per_view]).mean(0) for name in per_view[0]}
            else:
                terms = self.attiqa_terms(outputs)
            for name, value in terms.items():
                parts[f"attiqa_{name}"] = value.mean()
            total = self.weights["attiqa"] * torch.stack(list(terms.values())).sum(0).mean()
            parts["attiqa"] = total.detach() / self.weights["attiqa"]
        else:  # the enhancer without the attiqa term: the regularisers alone (the network is not run)
            total = outputs.new_zeros(())
        extra = {
            "spatial_consistency": lambda: spatial_consistency(inputs, outputs),
            "illumination_smoothness": lambda: smoothness(aux if aux is not None else outputs - inputs),
            "fidelity": lambda: (outputs - inputs).abs().flatten(1).mean(1),
            "exposure": lambda: (exposure(outputs, self.exposure_level) if self.exposure_band is None
                                 else exposure_band(outputs, *self.exposure_band)),
            "color_constancy": lambda: color_constancy(outputs),
            "hue_fidelity": lambda: hue_fidelity(inputs, outputs),
            "chroma_gain": lambda: chroma_gain(inputs, outputs),
            "colourfulness_gain": lambda: colourfulness_gain(inputs, outputs, self.colourfulness_margin),
            "clipping": lambda: clipping(inputs, outputs, self.clip_level),
        }
        for name, fn in extra.items():
            weight = self.weights[name]
            if weight:
                value = fn().float().mean()
                parts[name] = value
                total = total + weight * value
        return total, parts


def clean_crops(photos: Sequence[str] | None, size: int = 256, crop: int = 128, per_photo: int = 3) -> torch.Tensor | None:
    """Up to ``per_photo`` clean ``crop``-px crops (left, centre, right along the long side) of each photo resized to
    short side ``size``; ``photos=None``: the enhancer's training photos. ``None`` when no photo could be loaded."""
    from iqa.data.synthetic import load_reference
    from iqa.enhancement.data import TRAIN_PHOTOS, _resize_short, _to_tensor

    crops = []
    for name in photos or TRAIN_PHOTOS:
        try:
            image = _resize_short(load_reference(str(name)), int(size))
        except Exception as exc:  # a photo that is not here (an optional wheel): probe with the others
            log.info("objective: clean photo %s skipped (%s)", name, exc)
            continue
        height, width = image.shape[:2]
        side = min(int(crop), height, width)
        top = (height - side) // 2
        for i in range(per_photo):
            left = round(i * (width - side) / max(per_photo - 1, 1))
            crops.append(_to_tensor(np.ascontiguousarray(image[top : top + side, left : left + side])))
    sides = {c.shape[-1] for c in crops}
    if not crops or len(sides) != 1:
        return None
    return torch.stack(crops)


def probe(objective: EnhancementObjective, clean: torch.Tensor) -> list[str]:
    """Terms that a degenerate image satisfies better than the median clean crop: flat black, grey and white,
    a washed-out and an over-saturated version of the clean crops. One line per finding."""
    side = clean.shape[-1]
    grey = luma(clean)
    probes = {
        "a flat black": torch.zeros(1, 3, side, side), "a flat grey": torch.full((1, 3, side, side), 0.5),
        "a flat white": torch.ones(1, 3, side, side), "a washed-out": 0.35 * clean + 0.65,
        "an over-saturated": (clean + 1.5 * (clean - grey)).clamp(0, 1),
    }
    found = []
    with torch.no_grad():
        reference = {k: float(v.median()) for k, v in objective.attiqa_terms(clean).items()}
        for label, images in probes.items():
            for name, value in objective.attiqa_terms(images).items():
                value = float(value.median())
                if value < reference[name] - 1e-3:
                    found.append(f"the {name} term prefers {label} image to clean photos (loss {value:.3f} against "
                                 f"{reference[name]:.3f}); an optimiser can take that shortcut")
    return found


__all__ = ["CLEAN", "REGULARISERS", "EnhancementObjective", "chroma_gain", "clean_crops", "clipping", "colourfulness_gain",
           "colourfulness_hs", "color_constancy", "exposure", "exposure_band",
           "hue_fidelity", "luma", "opponent_chroma", "probe", "random_views", "smoothness", "spatial_consistency"]
