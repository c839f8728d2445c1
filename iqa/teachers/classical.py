"""The offline "classical" teacher: training-free, deterministic attribute labels.

Used when no CLIP weights are available. Every score comes from a closed-form
image statistic followed by a fixed monotone squash into ``[0, 1]``; higher
always means *more* of the attribute (noisiness: higher = noisier). All
definitions live in ``DEFINITIONS`` below and are recorded verbatim in the
label manifest through ``ClassicalTeacher.describe()``.

Luma is ``Y = 0.299 R + 0.587 G + 0.114 B`` (BT.601) on a 0..255 scale.
Statistics are population statistics (``ddof = 0``). "Valid interior" means the
``(H - 2) x (W - 2)`` positions where a 3x3 kernel fits without padding, so no
border handling can leak into a score.

============  =====================================================  ==============  ============================
attribute     raw measure r                                          typical raw     score
============  =====================================================  ==============  ============================
sharpness     mean |L * Y| over the valid interior,                  5 .. 35         r / (r + 15)
              L = [[0,1,0],[1,-4,1],[0,1,0]]
brightness    mean(Y) / 255                                          0.25 .. 0.65    r (already in [0, 1])
contrast      std(Y) / 255 (RMS contrast)                            0.10 .. 0.30    min(2 r, 1)
colorfulness  Hasler-Suesstrunk M on 0..255 RGB: rg = R - G,         0 .. 90         r / (r + 40)
              yb = (R + G) / 2 - B,
              M = sqrt(std(rg)^2 + std(yb)^2)
                  + 0.3 sqrt(mean(rg)^2 + mean(yb)^2)
noisiness     edge-masked Immerkaer sigma of Y: with                 0.3 .. 3 clean  r / (r + 3)
              N = [[1,-2,1],[-2,4,-2],[1,-2,1]] and the Sobel        (+ ~0.67 x the
              gradient energy G = (Sx*Y)^2 + (Sy*Y)^2 on the valid   added RGB sigma)
              interior, r = sqrt(pi/2) / 6 * mean(|N * Y|) over
              the pixels with G <= 1.001 median(G) + 0.01
============  =====================================================  ==============  ============================

Why these choices:

* Sharpness uses the *mean absolute* Laplacian rather than its variance. Both
  fall steadily as blur grows, but squaring lets a few large responses dominate:
  heavy JPEG compression replaces fine texture with flat 8x8 blocks whose
  boundaries are strong, sparse step edges, and on several photos the Laplacian
  variance *rises again* below quality ~15 even though the image visibly lost
  detail. The L1 mean is carried by the many small texture responses that
  compression removes, and sparse block edges only add linearly, so it falls
  with JPEG severity on ordinary detailed photos. It is still a high-frequency
  energy measure: strong additive noise raises it, and on very smooth content
  heavy blocking can add more edge energy than it removes.
* Noisiness is Immerkaer's fast estimator (the mask ``N`` cancels locally
  linear image structure and has unit-noise response std 6, hence the
  ``sqrt(pi/2) / 6`` scale on the mean absolute response), restricted to the
  flatter half of the image. On the full image, edges and texture leak into the
  response and inflate the clean-photo estimate 2-3x; selecting pixels whose
  Sobel gradient energy is at most the per-image median keeps the estimator
  simple and parameter-free while making it track added noise rather than
  scene detail. ``median`` is the lower median (the ceil(n/2)-th smallest
  value); the 0.1 % + 0.01 slack only makes pixels tied with the median count
  the same way whatever the floating-point rounding. It estimates the noise
  std of the *luma*, which is about ``0.67 x`` the std of independent
  per-channel RGB noise.
* The half-point constants 15 (sharpness) and 40 (colourfulness) sit near the
  raw value of an ordinary, clean photo at ~224-256 px, so typical photos score
  mid-range and distortions move scores without saturating. For noisiness,
  3 grey levels of luma noise (about sigma 0.018 of added RGB noise) is the
  point where noise starts to be visible: clean photos score ~0.1-0.5 and added
  noise spans the upper half. Brightness needs no squash and contrast is
  doubled because the std of values in ``[0, 1]`` cannot exceed 0.5.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from iqa.attributes import ATTRIBUTES
from iqa.teachers.base import Teacher, to_float01

LUMA_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class AttributeDefinition:
    """How one classical attribute is computed: raw formula and its squash into [0, 1]."""

    formula: str
    squash: str
    constant: float

    def score(self, raw: torch.Tensor) -> torch.Tensor:
        if self.squash == "r/(r+c)":
            return raw / (raw + self.constant)
        if self.squash == "clip(c*r,0,1)":
            return (self.constant * raw).clamp(0.0, 1.0)
        raise ValueError(f"unknown squash {self.squash!r}")


DEFINITIONS: dict[str, AttributeDefinition] = {
    "sharpness": AttributeDefinition(
        formula="mean(|laplace3x3(Y)|) over valid interior; Y=0.299R+0.587G+0.114B in 0..255; "
        "laplace3x3=[[0,1,0],[1,-4,1],[0,1,0]]",
        squash="r/(r+c)",
        constant=15.0,
    ),
    "brightness": AttributeDefinition(
        formula="mean(Y)/255",
        squash="clip(c*r,0,1)",
        constant=1.0,
    ),
    "contrast": AttributeDefinition(
        formula="std(Y)/255 (population std, RMS contrast)",
        squash="clip(c*r,0,1)",
        constant=2.0,
    ),
    "colorfulness": AttributeDefinition(
        formula="Hasler-Suesstrunk on 0..255 RGB: rg=R-G, yb=(R+G)/2-B, "
        "sqrt(std(rg)^2+std(yb)^2)+0.3*sqrt(mean(rg)^2+mean(yb)^2)",
        squash="r/(r+c)",
        constant=40.0,
    ),
    "noisiness": AttributeDefinition(
        formula="sqrt(pi/2)/6*mean(|conv(Y,[[1,-2,1],[-2,4,-2],[1,-2,1]])|) over valid-interior pixels "
        "whose Sobel gradient energy G=Gx^2+Gy^2 <= 1.001*lower_median(G)+0.01",
        squash="r/(r+c)",
        constant=3.0,
    ),
}
"""Attribute name -> definition; the single source of truth for this teacher."""

if set(DEFINITIONS) != set(ATTRIBUTES):  # pragma: no cover - guards against a renamed attribute
    raise RuntimeError("classical DEFINITIONS must cover exactly iqa.attributes.ATTRIBUTES")

_TIE_REL = 1e-3
_TIE_ABS = 1e-2

_LAPLACE = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))
_IMMERKAER = ((1.0, -2.0, 1.0), (-2.0, 4.0, -2.0), (1.0, -2.0, 1.0))
_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
_SOBEL_Y = ((-1.0, -2.0, -1.0), (0.0, 0.0, 0.0), (1.0, 2.0, 1.0))


def _check(images: torch.Tensor) -> torch.Tensor:
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images of shape [B, 3, H, W], got {tuple(images.shape)}")
    if images.shape[2] < 3 or images.shape[3] < 3:
        raise ValueError(f"images must be at least 3x3 pixels, got {tuple(images.shape[2:])}")
    return to_float01(images)


def _kernels(device: torch.device) -> torch.Tensor:
    # One conv2d call evaluates all four 3x3 filters on the luma plane.
    return torch.tensor([_LAPLACE, _IMMERKAER, _SOBEL_X, _SOBEL_Y], dtype=torch.float32, device=device).unsqueeze(1)


def _lower_median(x: torch.Tensor) -> torch.Tensor:
    """Row-wise ceil(n/2)-th smallest value of ``x [B, n]`` (exact order statistic, no interpolation)."""
    k = (x.shape[1] + 1) // 2
    return x.kthvalue(k, dim=1).values


def raw_measures(images: torch.Tensor) -> torch.Tensor:
    """Raw classical measures ``[B, 5]`` (ATTRIBUTES order) of float ``[B,3,H,W]`` images in [0, 1].

    uint8 input is accepted and scaled by 1/255. See the module docstring for the formulas.
    """
    x = _check(images)
    rgb = x * 255.0
    weights = torch.tensor(LUMA_WEIGHTS, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    luma = (rgb * weights).sum(dim=1, keepdim=True)

    responses = F.conv2d(luma, _kernels(x.device))  # [B, 4, H-2, W-2], valid interior only
    lap, immerkaer, gx, gy = responses.flatten(2).unbind(dim=1)

    sharpness = lap.abs().mean(dim=1)

    flat = luma.flatten(1)
    brightness = flat.mean(dim=1) / 255.0
    contrast = flat.std(dim=1, correction=0) / 255.0

    r, g, b = rgb.flatten(2).unbind(dim=1)
    rg = r - g
    yb = 0.5 * (r + g) - b
    spread = torch.sqrt(rg.var(dim=1, correction=0) + yb.var(dim=1, correction=0))
    offset = torch.sqrt(rg.mean(dim=1).square() + yb.mean(dim=1).square())
    colorfulness = spread + 0.3 * offset

    grad_energy = gx.square() + gy.square()
    # Gradient energies of 8-bit (especially grey) images are heavily tied, and a
    # bare "<= median" would keep or drop a whole tie group depending on float
    # rounding; widening the cut by 0.1 % (+0.01) keeps every tied pixel.
    cut = _lower_median(grad_energy) * (1.0 + _TIE_REL) + _TIE_ABS
    flat_mask = (grad_energy <= cut.unsqueeze(1)).float()
    mean_abs = (immerkaer.abs() * flat_mask).sum(dim=1) / flat_mask.sum(dim=1)
    noisiness = math.sqrt(math.pi / 2.0) / 6.0 * mean_abs

    by_name = {
        "sharpness": sharpness,
        "brightness": brightness,
        "contrast": contrast,
        "colorfulness": colorfulness,
        "noisiness": noisiness,
    }
    return torch.stack([by_name[a] for a in ATTRIBUTES], dim=1).float()


def squash(raw: torch.Tensor) -> torch.Tensor:
    """Map raw measures ``[B, 5]`` to scores in ``[0, 1]`` with the fixed per-attribute squashes."""
    cols = [DEFINITIONS[a].score(raw[:, i]) for i, a in enumerate(ATTRIBUTES)]
    return torch.stack(cols, dim=1).clamp(0.0, 1.0)


def classical_scores(images: torch.Tensor) -> torch.Tensor:
    """Scores ``[B, 5]`` in ``[0, 1]``, ATTRIBUTES order, for ``[B,3,H,W]`` images (float [0,1] or uint8)."""
    return squash(raw_measures(images))


class ClassicalTeacher(Teacher):
    """Training-free teacher built from classical image statistics (see module docstring)."""

    name = "classical"

    def __init__(self, image_size: int = 256) -> None:
        super().__init__()
        if int(image_size) < 3:
            raise ValueError(f"image_size must be at least 3, got {image_size}")
        self.image_size = int(image_size)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # Always float32, even inside bf16 autocast (label.py precision=bf16-mixed): the measures
        # difference neighbouring 0..255 pixel values, which bf16's 8-bit mantissa would erase.
        with torch.autocast(images.device.type, enabled=False):
            return classical_scores(to_float01(images))

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        # The same teacher fields as a CLIP teacher's, so manifests read alike: no weights, no logit scale.
        info.update(model="classical", pretrained=None, logit_scale=None)
        info["luma"] = "Y = 0.299 R + 0.587 G + 0.114 B on 0..255"
        info["definitions"] = {a: asdict(DEFINITIONS[a]) for a in ATTRIBUTES}
        return info


__all__ = [
    "DEFINITIONS",
    "AttributeDefinition",
    "ClassicalTeacher",
    "LUMA_WEIGHTS",
    "classical_scores",
    "raw_measures",
    "squash",
]
