"""KADID-style synthetic distortions: pure, deterministic, five graded levels.

Every distortion has the signature ``fn(img, level, rng) -> img`` where ``img``
is a float32 ``H x W x 3`` array with values in ``[0, 1]`` and the result has the
same shape and dtype, clipped to ``[0, 1]``. ``level`` is an ``int`` in
``0..5``: level 0 returns (a copy of) the input unchanged and severity strictly
increases from 1 to 5. Only ``gaussian_noise`` draws from ``rng``; every other
distortion ignores it, so all outputs are reproducible from the rng seed.

Parameter tables (``LEVEL_PARAMS``, index ``level - 1``) are part of the public
contract: labels, manifests and tests refer to them. They follow the spirit of
KADID-10k with magnitudes chosen for images of roughly 160-256 px:

=====================  ==========================================  ==================================
distortion             parameter                                   levels 1..5
=====================  ==========================================  ==================================
gaussian_blur          Gaussian sigma in px (per channel)          0.5, 1.0, 2.0, 3.0, 5.0
motion_blur            horizontal box (line) kernel length in px   3, 5, 9, 15, 23
gaussian_noise         additive N(0, sigma^2) per RGB sample       0.02, 0.04, 0.07, 0.10, 0.15
jpeg                   PIL JPEG quality (4:2:0 chroma subsampling) 40, 25, 15, 10, 5
brighten               exponent p of ``img ** p`` (p < 1)          0.85, 0.70, 0.55, 0.42, 0.30
darken                 exponent p of ``img ** p`` (p > 1)          1.20, 1.45, 1.80, 2.30, 3.00
contrast_decrease      weight w of the blend toward mean luma      0.20, 0.40, 0.55, 0.70, 0.80
saturation_decrease    weight w of the blend toward the luma image 0.20, 0.40, 0.60, 0.80, 1.00
=====================  ==========================================  ==================================

Design notes (the *why* behind each table):

* Blur sigmas of 0.5..5 px and line lengths of 3..23 px span "barely visible"
  to "detail gone" on a ~256 px image. Motion-blur lengths are odd so the box
  kernel stays centred and the image does not shift.
* Noise is added to each RGB sample independently, then clipped; clipping makes
  the effective noise slightly weaker in saturated regions but keeps the level
  ordering.
* JPEG round-trips through PIL in memory at fixed quality and fixed 4:2:0
  subsampling, so the result depends only on the input and the libjpeg build.
  The mildest level is quality 40, not 60: around quality 50-60 the ringing
  JPEG adds carries about as much high-frequency energy as the detail it
  removes, so such a "level 1" is not reliably more degraded than the clean
  image. From 40 down to 5 every step removes clearly more detail than it adds
  in block edges (5 is as heavy as KADID-10k's strongest JPEG levels).
* Brighten/darken use a power ("gamma") curve on the gamma-encoded sRGB values.
  A power curve is pointwise monotone, keeps black and white fixed, needs no
  clipping and acts roughly uniformly in perceived lightness, unlike an
  additive shift that burns highlights out first.
* Contrast decrease blends every pixel toward a flat grey at the image's mean
  luma, so luma mean is preserved and luma standard deviation is scaled by
  exactly ``1 - w``.
* Saturation decrease blends toward the grey luma image, which leaves luma
  untouched and scales every opponent-colour difference (R - G, B - Y, ...)
  by exactly ``1 - w``; level 5 is fully greyscale.

``DISTORTION_ATTRIBUTE`` names the attribute each distortion mainly moves and
the sign of that movement as the level grows. JPEG is mapped to sharpness
(decreasing): at the qualities used here the quantiser zeroes most
high-frequency DCT coefficients, so the dominant perceptual effect is loss of
fine detail; the 8x8 blocking it adds is coarse and does not make the image
look sharper.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image
from scipy import ndimage

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
"""ITU-R BT.601 luma weights used for the grey targets of the colour distortions."""

NUM_LEVELS = 5
VALID_LEVELS: tuple[int, ...] = tuple(range(NUM_LEVELS + 1))

LEVEL_PARAMS: dict[str, tuple[float, ...]] = {
    "gaussian_blur": (0.5, 1.0, 2.0, 3.0, 5.0),
    "motion_blur": (3, 5, 9, 15, 23),
    "gaussian_noise": (0.02, 0.04, 0.07, 0.10, 0.15),
    "jpeg": (40, 25, 15, 10, 5),
    "brighten": (0.85, 0.70, 0.55, 0.42, 0.30),
    "darken": (1.20, 1.45, 1.80, 2.30, 3.00),
    "contrast_decrease": (0.20, 0.40, 0.55, 0.70, 0.80),
    "saturation_decrease": (0.20, 0.40, 0.60, 0.80, 1.00),
}
"""Per-distortion parameter for levels 1..5 (index ``level - 1``); see the module docstring."""

Distortion = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


def to_float(img: np.ndarray) -> np.ndarray:
    """uint8 ``H x W x 3`` (0..255) to float32 in ``[0, 1]``."""
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise TypeError(f"to_float expects a uint8 array, got {img.dtype}")
    return img.astype(np.float32) / np.float32(255.0)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """float in ``[0, 1]`` to uint8 with round-to-nearest (values outside are clipped)."""
    img = np.asarray(img, dtype=np.float32)
    return np.clip(np.rint(img * np.float32(255.0)), 0, 255).astype(np.uint8)


def _check_image(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 image, got shape {img.shape}")
    if not np.issubdtype(img.dtype, np.floating):
        # A uint8 image silently cast to float would be 255x too bright.
        raise TypeError(f"expected a float image in [0, 1], got {img.dtype}; use to_float() first")
    return img.astype(np.float32, copy=False)


def _check_level(level: int) -> int:
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or int(level) not in VALID_LEVELS:
        valid = ", ".join(str(v) for v in VALID_LEVELS)
        raise ValueError(f"invalid distortion level {level!r}; valid levels are {valid}")
    return int(level)


def _param(name: str, level: int) -> float:
    return LEVEL_PARAMS[name][level - 1]


def _finish(img: np.ndarray) -> np.ndarray:
    return np.clip(img, 0.0, 1.0).astype(np.float32, copy=False)


def _luma(img: np.ndarray) -> np.ndarray:
    return img @ LUMA_WEIGHTS


def _prepare(img: np.ndarray, level: int) -> tuple[np.ndarray, int]:
    return _check_image(img), _check_level(level)


def gaussian_blur(img: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Isotropic Gaussian blur with sigma ``LEVEL_PARAMS['gaussian_blur']`` px, reflect borders."""
    img, level = _prepare(img, level)
    if level == 0:
        return _finish(img.copy())
    sigma = _param("gaussian_blur", level)
    return _finish(ndimage.gaussian_filter(img, sigma=(sigma, sigma, 0.0), mode="reflect"))


def motion_blur(img: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Horizontal linear motion: a centred box kernel of odd length along the width axis."""
    img, level = _prepare(img, level)
    if level == 0:
        return _finish(img.copy())
    length = int(_param("motion_blur", level))
    return _finish(ndimage.uniform_filter1d(img, size=length, axis=1, mode="reflect"))


def gaussian_noise(img: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """Additive white Gaussian noise, independent per RGB sample, then clipped."""
    img, level = _prepare(img, level)
    if level == 0:
        return _finish(img.copy())
    if not isinstance(rng, np.random.Generator):
        raise TypeError("gaussian_noise needs a numpy.random.Generator (np.random.default_rng(seed))")
    sigma = np.float32(_param("gaussian_noise", level))
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    return _finish(img + sigma * noise)


def jpeg(img: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """JPEG round trip through PIL in memory at quality ``LEVEL_PARAMS['jpeg']``, 4:2:0."""
    img, level = _prepare(img, level)
    if level == 0:
        return _finish(img.copy())
    quality = int(_param("jpeg", level))
    buf = io.BytesIO()
    Image.fromarray(to_uint8(img)).save(buf, format="JPEG", quality=quality, subsampling="4:2:0")
    buf.seek(0)
    with Image.open(buf) as decoded:
        out = np.asarray(decoded.convert("RGB"))
    return _finish(to_float(out))


def _power_curve(name: str, img: np.ndarray, level: int) -> np.ndarray:
    img, level = _prepare(img, level)
    if level == 0:
        return _finish(img.copy())
    return _finish(np.power(np.clip(img, 0.0, 1.0), np.float32(_param(name, level))))


def brighten(img: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Power curve ``img ** p`` with ``p < 1``: lifts mid-tones, keeps 0 and 1 fixed."""
    return _power_curve("brighten", img, level)


def darken(img: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Power curve ``img ** p`` with ``p > 1``: lowers mid-tones, keeps 0 and 1 fixed."""
    return _power_curve("darken", img, level)


def contrast_decrease(img: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Blend ``(1 - w) * img + w * mean_luma`` toward a flat grey at the image's mean luma."""
    img, level = _prepare(img, level)
    if level == 0:
        return _finish(img.copy())
    w = np.float32(_param("contrast_decrease", level))
    grey = np.float32(_luma(img).mean())
    return _finish((1.0 - w) * img + w * grey)


def saturation_decrease(img: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Blend ``(1 - w) * img + w * Y`` toward the greyscale luma image (luma unchanged)."""
    img, level = _prepare(img, level)
    if level == 0:
        return _finish(img.copy())
    w = np.float32(_param("saturation_decrease", level))
    grey = _luma(img)[..., None]
    return _finish((1.0 - w) * img + w * grey)


DISTORTIONS: dict[str, Distortion] = {
    "gaussian_blur": gaussian_blur,
    "motion_blur": motion_blur,
    "gaussian_noise": gaussian_noise,
    "jpeg": jpeg,
    "brighten": brighten,
    "darken": darken,
    "contrast_decrease": contrast_decrease,
    "saturation_decrease": saturation_decrease,
}
"""Registry of distortion name -> function, in a fixed order."""

DISTORTION_ATTRIBUTE: dict[str, tuple[str, int]] = {
    "gaussian_blur": ("sharpness", -1),
    "motion_blur": ("sharpness", -1),
    "gaussian_noise": ("noisiness", +1),
    "jpeg": ("sharpness", -1),
    "brighten": ("brightness", +1),
    "darken": ("brightness", -1),
    "contrast_decrease": ("contrast", -1),
    "saturation_decrease": ("colorfulness", -1),
}
"""Distortion -> (attribute it mainly moves, sign of the change as the level grows)."""


def apply(img: np.ndarray, name: str, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Apply the distortion ``name`` at ``level``; unknown names raise ``ValueError``."""
    try:
        fn = DISTORTIONS[name]
    except (KeyError, TypeError):
        valid = ", ".join(DISTORTIONS)
        raise ValueError(f"unknown distortion {name!r}; valid distortions are {valid}") from None
    return fn(img, level, rng)



Step = tuple[str, int]
"""One distortion of a combination: ``(name, level)``."""


def random_steps(rng: np.random.Generator, max_types: int = 3, p_single: float = 0.5,
                 names: tuple[str, ...] | None = None) -> list[Step]:
    """A KADIS-style random distortion recipe: one type, or 2..``max_types`` distinct types, each at a random level 1..5.

    With probability ``p_single`` a single type is drawn; otherwise the number
    of types is uniform on ``2..max_types``. Types are distinct and come in a
    random order (the order they are applied in). Deterministic given ``rng``.
    ``darken`` and ``brighten`` never meet in one recipe (they would cancel).
    """
    pool = list(names or DISTORTIONS)
    unknown = [n for n in pool if n not in DISTORTIONS]
    if unknown:
        raise ValueError(f"unknown distortions {unknown}; valid distortions are {', '.join(DISTORTIONS)}")
    count = 1 if (max_types < 2 or rng.random() < p_single) else int(rng.integers(2, max_types + 1))
    steps: list[Step] = []
    for _ in range(min(count, len(pool))):
        name = pool[int(rng.integers(len(pool)))]
        steps.append((name, int(rng.integers(1, NUM_LEVELS + 1))))
        pool = [n for n in pool if n != name and {n, name} != {"brighten", "darken"}]
        if not pool:
            break
    return steps


def compose(img: np.ndarray, steps: list[Step], rng: np.random.Generator | None = None) -> np.ndarray:
    """Apply the distortions of ``steps`` one after the other (``gaussian_noise`` draws from ``rng``)."""
    out = _check_image(img)
    for name, level in steps:
        out = apply(out, name, level, rng)
    return _finish(out.copy()) if not steps else out


__all__ = [
    "DISTORTIONS",
    "DISTORTION_ATTRIBUTE",
    "LEVEL_PARAMS",
    "LUMA_WEIGHTS",
    "NUM_LEVELS",
    "VALID_LEVELS",
    "apply",
    "compose",
    "random_steps",
    "brighten",
    "contrast_decrease",
    "darken",
    "gaussian_blur",
    "gaussian_noise",
    "jpeg",
    "motion_blur",
    "saturation_decrease",
    "to_float",
    "to_uint8",
]
