"""Classical enhancement baselines that any learned enhancer has to beat.

* :func:`auto_gamma`: one global gamma per image, chosen so that the mean luma of the result is
  ``target`` (0.45 by default); the same power applied to R, G and B.
* :func:`clahe`: contrast-limited adaptive histogram equalisation of the lightness channel (CIELAB L*),
  with OpenCV when it is installed (``cv2.createCLAHE``), else scikit-image's
  ``exposure.equalize_adapthist``; colour (a*, b*) is kept.

Both take and return float RGB images ``[H, W, 3]`` in 0..1 (numpy), as the rest of the enhancement
report does.
"""

from __future__ import annotations

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)
#: Names of the baselines, in the order reports list them.
BASELINES = ("auto_gamma", "clahe")


def _luma(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)[..., :3] @ LUMA


def auto_gamma(image: np.ndarray, target: float = 0.45, iterations: int = 40) -> np.ndarray:
    """``image ** g`` with the one ``g`` (found by bisection on log g) that brings mean luma to ``target``.

    Mean luma of ``image ** g`` falls monotonically as ``g`` grows, so bisection finds it; a flat black or
    white image has no such ``g`` and comes back unchanged. For 8-bit images (values on the 1/255 grid) the
    mean is taken over each channel's histogram of levels, which is exact and fast.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"auto_gamma: target mean luma must lie in (0, 1), got {target}")
    x = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)[..., :3]
    mean = float(_luma(x).mean())
    if mean <= 1e-6 or mean >= 1 - 1e-6:
        return x.astype(np.float32)
    codes = np.rint(x * 255.0)
    if np.abs(codes - x * 255.0).max() < 1e-3:  # 8-bit (up to float32 rounding): weights per level, 256 powers a step
        levels = np.arange(256, dtype=np.float64) / 255.0
        weights = sum(LUMA[c] * np.bincount(codes[..., c].astype(np.int64).ravel(), minlength=256) for c in range(3)) / codes[..., 0].size

        def luma_mean(gamma: float) -> float:
            return float(weights @ levels**gamma)
    else:
        def luma_mean(gamma: float) -> float:
            return float(_luma(x**gamma).mean())

    low, high = np.log(1e-3), np.log(1e3)  # gammas 0.001 .. 1000
    for _ in range(iterations):
        mid = 0.5 * (low + high)
        if luma_mean(float(np.exp(mid))) > target:
            low = mid  # still too bright: a larger gamma darkens
        else:
            high = mid
    return (x ** np.exp(0.5 * (low + high))).astype(np.float32)


def clahe(image: np.ndarray, clip_limit: float = 2.0, tiles: int = 8) -> np.ndarray:
    """CLAHE on CIELAB L* (``clip_limit`` as OpenCV counts it, ``tiles`` x ``tiles`` tiles); a* and b* kept."""
    from skimage import color

    x = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    lab = color.rgb2lab(x)
    lightness = np.clip(lab[..., 0] / 100.0, 0.0, 1.0)
    try:
        import cv2
    except ImportError:
        from skimage import exposure

        height, width = lightness.shape
        # scikit-image's clip limit is a fraction of the tile's pixels; OpenCV's a multiple of the mean bin count (256 bins).
        equalised = exposure.equalize_adapthist(lightness, kernel_size=(max(1, height // tiles), max(1, width // tiles)),
                                                clip_limit=clip_limit / 256.0, nbins=256)
    else:
        op = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(int(tiles), int(tiles)))
        equalised = op.apply(np.round(lightness * 255).astype(np.uint8)).astype(np.float64) / 255.0
    lab[..., 0] = equalised * 100.0
    return np.clip(color.lab2rgb(lab), 0.0, 1.0).astype(np.float32)


def clahe_backend() -> str:
    """Which implementation :func:`clahe` uses here: ``opencv`` or ``scikit-image``."""
    try:
        import cv2  # noqa: F401
    except ImportError:
        return "scikit-image"
    return "opencv"


def apply(name: str, image: np.ndarray) -> np.ndarray:
    """The baseline ``name`` (one of :data:`BASELINES`) applied to one image."""
    if name == "auto_gamma":
        return auto_gamma(image)
    if name == "clahe":
        return clahe(image)
    raise ValueError(f"unknown baseline {name!r}; valid: {', '.join(BASELINES)}")


__all__ = ["BASELINES", "apply", "auto_gamma", "clahe", "clahe_backend"]
