"""The offline recipe's data (``data=offline``, ``experiment=offline``, ``make model``): every train-role photo, many crops.

Photos come from the registry :mod:`iqa.data.photos` and only through
:func:`iqa.data.photos.trainable`, which refuses held-out and excluded photos,
so no crop of a held-out photo can enter any split. Roles (no photo in two of
them):

==================  =============================================  ==========================
role                photos                                         written to
==================  =============================================  ==========================
pretrain            every train-role photo but the two below       ``corpus/train-*.tar``
pretrain_val        rocket                                         ``corpus/val-*.tar``
finetune            every train-role photo but the two below       ``iqa/train-*.tar``
finetune_val        rocket                                         ``iqa/val-*.tar``
finetune_test       motorcycle                                     ``iqa/test-*.tar``
==================  =============================================  ==========================

``rocket`` is the tuning split (validation, alpha selection); ``motorcycle``
is kept out of everything but the fine-tuning test split.

Crops: ``crops[role]`` square crops per photo, each of a random side between
``min_scale`` and ``max_scale`` of the photo's short side at a random
position, resized to ``size`` px (Lanczos): many scales of the same content.

Distortions, KADIS-style: every crop yields its clean reference plus
``variants[role]`` distorted versions, each a recipe from
:func:`iqa.distortions.random_steps`: one distortion (probability
``p_single``) or 2..``max_types`` distinct ones composed at random levels,
only the types of :mod:`iqa.distortions`. Grey photos skip
``saturation_decrease`` (it would not change them). MOS (MOS roles):
:func:`iqa.data.synthetic.combined_mos` of the recipe's levels (1..5, higher is
better; one distortion gives ``synthetic_mos(level)``).

Everything is drawn from ``numpy.random.default_rng`` seeded by ``seed`` and
the photo, role and crop, so a build is byte-identical given its parameters.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from iqa import distortions
from iqa.data import photos as registry
from iqa.data.synthetic import _png, build_once, combined_mos, write_role_shards

OFFLINE_VERSION = 1
VAL_PHOTOS = ("rocket",)
TEST_PHOTOS = ("motorcycle",)
OUTPUT: dict[str, tuple[str, str]] = {
    "pretrain": ("corpus", "train"),
    "pretrain_val": ("corpus", "val"),
    "finetune": ("iqa", "train"),
    "finetune_val": ("iqa", "val"),
    "finetune_test": ("iqa", "test"),
}
UNLABELLED_ROLES = ("pretrain", "pretrain_val")
DEFAULT_CROPS = {"pretrain": 40, "pretrain_val": 12, "finetune": 24, "finetune_val": 16, "finetune_test": 8}
DEFAULT_VARIANTS = {"pretrain": 8, "pretrain_val": 8, "finetune": 10, "finetune_val": 10, "finetune_test": 10}


def roles(photos: Sequence[str] | None = None, val: Sequence[str] = VAL_PHOTOS, test: Sequence[str] = TEST_PHOTOS) -> dict[str, tuple[str, ...]]:
    """Photo names per role; every name goes through :func:`iqa.data.photos.trainable` (held-out ones raise).

    ``photos``: the train-split photos to use (default: every installed one of
    :func:`iqa.data.photos.recipe_train_photos`, scikit-image's; the package
    photos of the train split join the recipe only by a deliberate change).
    """
    names = list(photos) if photos is not None else [p.name for p in registry.recipe_train_photos() if registry.available(p)]
    for name in [*names, *val, *test]:
        registry.trainable(name)
    if set(val) & set(test):
        raise ValueError(f"a photo cannot be both validation and test: {sorted(set(val) & set(test))}")
    train = tuple(n for n in names if n not in val and n not in test)
    return {"pretrain": train, "pretrain_val": tuple(val), "finetune": train, "finetune_val": tuple(val), "finetune_test": tuple(test)}


def load_trainable(name: str) -> np.ndarray:
    """A train-role photo as float32 RGB in [0, 1]; held-out and excluded photos raise."""
    return distortions.to_float(registry.load_photo(registry.trainable(name).name))


def random_crop(photo: np.ndarray, size: int, rng: np.random.Generator, min_scale: float, max_scale: float) -> np.ndarray:
    """A square crop of side ``U(min_scale, max_scale)`` x the short side at a random position, resized to ``size`` px."""
    height, width = photo.shape[:2]
    short = min(height, width)
    side = max(8, int(round(short * rng.uniform(min_scale, max_scale))))
    top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
    patch = Image.fromarray(distortions.to_uint8(photo[top : top + side, left : left + side]))
    return distortions.to_float(np.asarray(patch.resize((size, size), Image.LANCZOS)))


def _rng(seed: int, *parts: Any) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32("/".join(map(str, parts)).encode())])


def role_samples(role: str, names: Sequence[str], params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every sample of a role, in a fixed order, as WebDataset dicts (see the module docstring)."""
    for name in names:
        photo = load_trainable(name)
        colour = registry.BY_NAME[name].colour
        pool = tuple(d for d in distortions.DISTORTIONS if colour or d != "saturation_decrease")
        for index in range(int(params["crops"][role])):
            rng = _rng(params["seed"], role, name, index)
            crop = random_crop(photo, params["size"], rng, params["min_scale"], params["max_scale"])
            recipes: list[list[distortions.Step]] = [[]]
            recipes += [distortions.random_steps(rng, params["max_types"], params["p_single"], pool)
                        for _ in range(int(params["variants"][role]))]
            for number, steps in enumerate(recipes):
                image = distortions.compose(crop, steps, rng)
                meta: dict[str, Any] = {
                    "reference": name, "crop": index, "variant": number,
                    "distortion": "+".join(n for n, _ in steps) or "reference",
                    "level": max((lv for _, lv in steps), default=0),
                    "steps": [[n, lv] for n, lv in steps], "role": role,
                }
                if role not in UNLABELLED_ROLES:
                    meta["mos"] = combined_mos([lv for _, lv in steps])
                yield {"__key__": f"{name}-c{index}-v{number}", "png": _png(image), "json": meta}


def build_params(size: int, crops: dict[str, int] | None, variants: dict[str, int] | None, photos: Sequence[str] | None,
                 min_scale: float, max_scale: float, max_types: int, p_single: float, seed: int, shard_size: int) -> dict[str, Any]:
    return {
        "version": OFFLINE_VERSION, "size": int(size), "seed": int(seed), "shard_size": int(shard_size),
        "crops": {role: int((crops or {}).get(role, DEFAULT_CROPS[role])) for role in OUTPUT},
        "variants": {role: int((variants or {}).get(role, DEFAULT_VARIANTS[role])) for role in OUTPUT},
        "roles": {role: list(names) for role, names in roles(photos).items()},
        "min_scale": float(min_scale), "max_scale": float(max_scale), "max_types": int(max_types), "p_single": float(p_single),
        "distortions": {name: list(distortions.LEVEL_PARAMS[name]) for name in distortions.DISTORTIONS},
    }


def _write(tmp: Path, params: dict[str, Any]) -> dict[str, Any]:
    total = sum(len(params["roles"][r]) * params["crops"][r] * (1 + params["variants"][r]) for r in OUTPUT)
    written = write_role_shards(tmp, OUTPUT, lambda role: role_samples(role, params["roles"][role], params), total,
                                params["shard_size"], "building offline corpus")
    return {"params": params, **written,
            "mos": "1 + 4 * prod(1 - level_i / 5) over the recipe's distortions (1..5, higher is better); corpus roles carry no MOS"}


def ensure_offline_corpus(root: str | Path, size: int = 160, crops: dict[str, int] | None = None, variants: dict[str, int] | None = None,
                          photos: Sequence[str] | None = None, min_scale: float = 0.25, max_scale: float = 1.0, max_types: int = 3,
                          p_single: float = 0.5, seed: int = 0, shard_size: int = 512) -> Path:
    """Build the offline corpus and MOS set under ``root`` unless an identical build is there (locked, atomic)."""
    params = build_params(size, dict(crops) if crops else None, dict(variants) if variants else None, photos, min_scale, max_scale,
                          max_types, p_single, seed, shard_size)
    return build_once(root, params, _write, what="offline corpus")


__all__ = ["DEFAULT_CROPS", "DEFAULT_VARIANTS", "OUTPUT", "ensure_offline_corpus", "load_trainable", "random_crop", "role_samples",
           "roles"]
