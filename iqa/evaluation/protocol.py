"""Distortion families and photo-level statistics for the held-out ladders.

A ladder report is only as good as its unit of analysis. Crops of one photo share
its content, so they are not independent samples: every interval here resamples
*photos* (a percentile bootstrap over the photos, each photo's ladders averaged
first), and every comparison between two methods is paired by photo.

Two distortion families can build the ladders:

``attiqa``
    The eight types of :mod:`iqa.distortions` (those the demo and the offline
    recipe train on: *seen*) and five types defined only for the benchmark
    (:data:`UNSEEN` below: *unseen*; never imported by training code).
``kadid``
    The 25 KADID-10k types of :mod:`iqa.kadid` at their five levels. Which ones
    count as *unseen* is the recipe's declaration (default
    :data:`iqa.kadid.UNSEEN_DEFAULT`, the types a KADID-trained recipe leaves out);
    name them before training, or "unseen" means nothing.

Each family is also split into a **structural** part (blur, noise, compression,
pixelation and other spatial damage, sharpening) and a **photometric** part
(brightness, contrast, colour), reported separately: classical no-reference
peers such as BRISQUE and NIQE look at local structure and are largely blind to
the second part, so one "all types" figure would hide where each method stands.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from iqa import distortions
from iqa.errors import UserError

_LEVELS = tuple(range(1, distortions.NUM_LEVELS + 1))

FAMILIES = ("attiqa", "kadid")

# -- unseen distortions (benchmark only: never imported by training code) ------------------------------------------

UNSEEN_PARAMS: dict[str, tuple[float, ...]] = {
    "pixelate": (2, 3, 4, 6, 8),  # block side in px (box mean, then nearest upsampling)
    "impulse_noise": (0.005, 0.01, 0.02, 0.04, 0.08),  # share of pixels set to black or white
    "quantise": (24, 14, 9, 6, 4),  # grey levels per RGB channel
    "vignette": (0.2, 0.35, 0.5, 0.65, 0.8),  # darkening at the corners: img * (1 - s * r^2), r = 1 at a corner
    "oversaturate": (0.3, 0.6, 1.0, 1.5, 2.2),  # w in Y + (1 + w) * (img - Y), clipped
}


def pixelate(img: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    block = int(UNSEEN_PARAMS["pixelate"][level - 1])
    h, w = img.shape[:2]
    ph, pw = -h % block, -w % block
    padded = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="edge")
    hb, wb = padded.shape[0] // block, padded.shape[1] // block
    means = padded.reshape(hb, block, wb, block, 3).mean(axis=(1, 3))
    return np.repeat(np.repeat(means, block, axis=0), block, axis=1)[:h, :w].astype(np.float32)


def impulse_noise(img: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    share = UNSEEN_PARAMS["impulse_noise"][level - 1]
    out = img.copy()
    hit = rng.random(img.shape[:2]) < share
    salt = rng.random(img.shape[:2]) < 0.5
    out[hit & salt] = 1.0
    out[hit & ~salt] = 0.0
    return out


def quantise(img: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    steps = int(UNSEEN_PARAMS["quantise"][level - 1]) - 1
    return (np.round(img * steps) / steps).astype(np.float32)


def vignette(img: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    strength = UNSEEN_PARAMS["vignette"][level - 1]
    h, w = img.shape[:2]
    y = (np.arange(h, dtype=np.float32) - (h - 1) / 2) / ((h - 1) / 2)
    x = (np.arange(w, dtype=np.float32) - (w - 1) / 2) / ((w - 1) / 2)
    r2 = (y[:, None] ** 2 + x[None, :] ** 2) / 2.0
    return (img * (1.0 - strength * r2)[..., None]).astype(np.float32)


def oversaturate(img: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    weight = UNSEEN_PARAMS["oversaturate"][level - 1]
    grey = (img @ distortions.LUMA_WEIGHTS)[..., None]
    return np.clip(grey + (1.0 + weight) * (img - grey), 0.0, 1.0).astype(np.float32)


UNSEEN: dict[str, Callable[..., np.ndarray]] = {
    "pixelate": pixelate,
    "impulse_noise": impulse_noise,
    "quantise": quantise,
    "vignette": vignette,
    "oversaturate": oversaturate,
}
SEEN: tuple[str, ...] = tuple(distortions.DISTORTIONS)
TYPES: tuple[str, ...] = SEEN + tuple(UNSEEN)


def distort(img: np.ndarray, name: str, level: int, rng: np.random.Generator) -> np.ndarray:
    """Apply a seen (``iqa.distortions``) or unseen (:data:`UNSEEN`) distortion at ``level`` 1..5."""
    if level not in _LEVELS:
        raise ValueError(f"level must be one of {_LEVELS}, got {level!r}")
    if name in UNSEEN:
        return np.clip(UNSEEN[name](np.asarray(img, dtype=np.float32), level, rng), 0.0, 1.0).astype(np.float32)
    return distortions.apply(img, name, level, rng)


#: The attiqa family's photometric types (everything else in it is structural).
ATTIQA_PHOTOMETRIC = ("brighten", "darken", "contrast_decrease", "saturation_decrease", "vignette", "oversaturate")


@dataclass(frozen=True)
class Family:
    """A distortion family for ladders: its types, which are unseen, and its two parts."""

    name: str
    types: tuple[str, ...]
    unseen: tuple[str, ...]
    structural: tuple[str, ...]
    photometric: tuple[str, ...]
    distort: Callable[[np.ndarray, str, int, np.random.Generator], np.ndarray]
    params: Mapping[str, Sequence[float]]

    @property
    def seen(self) -> tuple[str, ...]:
        return tuple(t for t in self.types if t not in self.unseen)

    def part(self, name: str) -> str:
        """``"structural"`` or ``"photometric"``."""
        return "photometric" if name in self.photometric else "structural"


def family(name: str = "attiqa", unseen: Sequence[str] | None = None) -> Family:
    """The family ``name`` (:data:`FAMILIES`); ``unseen`` overrides which of its types count as unseen."""
    if name not in FAMILIES:
        raise UserError(f"unknown distortion family {name!r}; valid: {', '.join(FAMILIES)}")
    if name == "attiqa":
        types = TYPES
        default_unseen = tuple(UNSEEN)
        params = {**{k: list(v) for k, v in distortions.LEVEL_PARAMS.items()}, **{k: list(v) for k, v in UNSEEN_PARAMS.items()}}
        apply = distort
    else:
        from iqa import kadid

        types = tuple(kadid.TYPES)
        default_unseen = kadid.UNSEEN_DEFAULT
        params = {k: list(v) for k, v in kadid.LEVEL_PARAMS.items()}

        def apply(img: np.ndarray, kind: str, level: int, rng: np.random.Generator) -> np.ndarray:
            return kadid.apply(img, kind, level, rng)
    chosen = tuple(default_unseen if unseen is None else unseen)
    unknown = [t for t in chosen if t not in types]
    if unknown:
        raise UserError(f"unseen types not in the {name} family: {', '.join(unknown)}; its types: {', '.join(types)}")
    photometric = ATTIQA_PHOTOMETRIC if name == "attiqa" else _kadid_photometric()
    return Family(name, tuple(types), chosen, tuple(t for t in types if t not in photometric), tuple(t for t in types if t in photometric),
                  apply, params)


def _kadid_photometric() -> tuple[str, ...]:
    from iqa import kadid

    return tuple(kadid.PHOTOMETRIC)


# -- photo-level statistics ----------------------------------------------------------------------------------------------


def per_photo_means(values: np.ndarray, photos: Sequence[str], mask: np.ndarray | None = None) -> dict[str, float]:
    """``{photo: mean of values}`` over the entries selected by ``mask`` (photos with none selected are left out)."""
    values, photos = np.asarray(values, dtype=float), np.asarray(photos)
    keep = np.ones(len(values), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    out = {}
    for photo in dict.fromkeys(photos.tolist()):
        chosen = keep & (photos == photo)
        if chosen.any():
            out[photo] = float(values[chosen].mean())
    return out


def _seed(tag: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(tag.encode())])


def photo_interval(per_photo: Mapping[str, float], n_boot: int = 4000, level: float = 0.95, seed: int = 0,
                   tag: str = "") -> tuple[float, float, float]:
    """``(mean, lo, hi)``: the mean over photos and its percentile-bootstrap interval, resampling photos.

    One photo gives no interval (``lo``/``hi`` NaN). ``tag`` decorrelates the
    resamples of different statistics while keeping each reproducible.
    """
    from iqa.ranking.stats import bootstrap_means, percentile_ci

    values = np.array([v for v in per_photo.values() if np.isfinite(v)], dtype=float)
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if values.size < 2:
        return mean, float("nan"), float("nan")
    boot = bootstrap_means(values, n_boot, _seed(tag, seed))
    lo, hi = percentile_ci(boot, level)
    return mean, float(lo), float(hi)


def paired_gap(a: Mapping[str, float], b: Mapping[str, float], n_boot: int = 4000, level: float = 0.95, seed: int = 0,
               tag: str = "") -> dict[str, float]:
    """``a - b`` over the photos both have: mean, interval (resampling photos, paired) and the share of photos where a wins."""
    shared = [p for p in a if p in b and np.isfinite(a[p]) and np.isfinite(b[p])]
    gaps = {p: a[p] - b[p] for p in shared}
    mean, lo, hi = photo_interval(gaps, n_boot, level, seed, tag)
    wins = float(np.mean([gaps[p] > 0 for p in shared])) if shared else float("nan")
    return {"gap": mean, "lo": lo, "hi": hi, "photos": len(shared), "wins": wins}


__all__ = ["ATTIQA_PHOTOMETRIC", "FAMILIES", "SEEN", "TYPES", "UNSEEN", "UNSEEN_PARAMS", "Family", "distort", "family", "impulse_noise",
           "oversaturate", "paired_gap", "per_photo_means", "photo_interval", "pixelate", "quantise", "vignette"]
