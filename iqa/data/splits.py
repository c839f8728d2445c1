"""Train / val / test splits of MOS datasets, as pure functions of records and a recipe.

Nothing here reads files or configs: :mod:`iqa.data.catalog` resolves a
``data`` config into records and a recipe (:func:`split_recipe`), and these
functions decide which record goes where. Being pure, a split is reproducible
from the recipe a checkpoint records.

The rules: the official split where the dataset has one; otherwise an 80/20
train/test split drawn with ``split_seed`` over images, or over reference
images for synthetic datasets (no photo's content on both sides). The
validation split, used to select checkpoints, is always carved out of the
*training* side. A data-efficient run keeps ``train_fraction`` of the training
side; the subsets are nested (the 10 % subset lies inside the 25 % one for the
same seed), and validation and test stay the same for every fraction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from iqa.errors import UserError

if TYPE_CHECKING:
    from iqa.data.records import Record

__all__ = [
    "SPLITS", "SPLIT_ALIASES", "SPLIT_SCHEMES", "assign_splits", "normalise_split_name", "select_split",
    "canonical_recipe", "split_recipe", "subsample",
]

SPLITS = ("train", "val", "test")
SPLIT_SCHEMES = ("official", "random")

# Names that published split files use for the three sides.
SPLIT_ALIASES = {
    "train": "train", "training": "train", "trn": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "testing": "test", "tst": "test",
}


def normalise_split_name(value: Any, source: str) -> str:
    """``train`` / ``val`` / ``test`` for a split name as published (``training``, ``valid``, ...); ``source`` names the file."""
    key = str(value).strip().lower()
    if key not in SPLIT_ALIASES:
        raise UserError(f"{source}: unknown split value '{value}'; expected one of train/training, val/validation, test")
    return SPLIT_ALIASES[key]


def _group_key(record: Record, by_reference: bool) -> str:
    return (record.reference or record.source) if by_reference else record.source


def _take(count: float, available: int, at_least_one: bool) -> int:
    n = int(round(count))
    if at_least_one and n == 0 and available >= 2:
        n = 1
    return min(n, max(0, available - 1))


def assign_splits(
    records: Sequence[Record],
    scheme: str = "official",
    seed: int = 0,
    test_fraction: float = 0.2,
    val_fraction: float = 0.1,
    by_reference: bool = True,
) -> dict[str, list[Record]]:
    """``{"train", "val", "test"}`` lists of records (each in the input order).

    ``official``: the ``split`` each record carries; a dataset whose official
    split has no validation side gets ``val_fraction`` of its training side.
    ``random``: groups (reference images when records have them and
    ``by_reference``, else single images) are sorted by name and shuffled with
    ``seed``; ``test_fraction`` of them is test, then ``val_fraction`` of the
    rest is validation. Validation never takes anything from the test side.
    """
    if scheme not in SPLIT_SCHEMES:
        raise UserError(f"unknown split scheme '{scheme}'; valid: {', '.join(SPLIT_SCHEMES)}")
    for name, value in (("test_fraction", test_fraction), ("val_fraction", val_fraction)):
        if not 0.0 <= float(value) < 1.0:
            raise UserError(f"{name} must be in [0, 1), got {value}")
    records = list(records)
    rng = np.random.default_rng([int(seed), 0x5B117])
    if scheme == "official":
        unlabelled = [r for r in records if r.meta.get("split") not in SPLITS]
        if unlabelled:
            raise UserError(
                f"split scheme 'official': {len(unlabelled)} of {len(records)} records carry no official split "
                f"(e.g. {unlabelled[0].source}); use the dataset's split file, or data.iqa.split.scheme=random"
            )
        parts = {s: [r for r in records if r.meta["split"] == s] for s in SPLITS}
        if not parts["val"] and val_fraction > 0 and parts["train"]:
            parts["train"], parts["val"] = _carve(parts["train"], val_fraction, rng, by_reference)
        return parts
    groups = sorted({_group_key(r, by_reference) for r in records})
    order = [groups[i] for i in rng.permutation(len(groups))]
    n_test = _take(test_fraction * len(groups), len(groups), test_fraction > 0)
    test_groups = set(order[:n_test])
    rest = order[n_test:]
    n_val = _take(val_fraction * len(rest), len(rest), val_fraction > 0)
    val_groups = set(rest[:n_val])
    parts = {"train": [], "val": [], "test": []}
    for record in records:
        key = _group_key(record, by_reference)
        parts["test" if key in test_groups else "val" if key in val_groups else "train"].append(record)
    return parts


def _carve(records: list[Record], fraction: float, rng: np.random.Generator, by_reference: bool) -> tuple[list[Record], list[Record]]:
    groups = sorted({_group_key(r, by_reference) for r in records})
    chosen = {groups[i] for i in rng.permutation(len(groups))[: _take(fraction * len(groups), len(groups), True)]}
    return [r for r in records if _group_key(r, by_reference) not in chosen], [r for r in records if _group_key(r, by_reference) in chosen]


FRACTION_UNITS = ("image", "group")


def check_fraction_unit(unit: str) -> None:
    if unit not in FRACTION_UNITS:
        raise UserError(f"data.iqa.split.fraction_unit must be one of {', '.join(FRACTION_UNITS)}, got {unit!r}")


def subsample(records: Sequence[Record], fraction: float, seed: int = 0, unit: str = "image") -> list[Record]:
    """``fraction`` of ``records`` (at least one), nested across fractions for one seed, in input order.

    ``unit="group"`` keeps ``fraction`` of the groups instead (a reference, or a crop of one in
    generated corpora: :func:`iqa.data.records.group_key`), each with all its distorted versions,
    so that a smaller set still holds whole groups for same-content training batches.
    """
    fraction = float(fraction)
    if not 0.0 < fraction <= 1.0:
        raise UserError(f"data.train_fraction must be in (0, 1], got {fraction}")
    check_fraction_unit(unit)
    records = list(records)
    if fraction >= 1.0:
        return records
    if unit == "group":
        from iqa.data.records import group_key

        keys = list(dict.fromkeys(group_key(r) for r in records))
        keep = max(1, int(round(len(keys) * fraction)))
        chosen = {keys[i] for i in np.random.default_rng([int(seed), 0xF4AC]).permutation(len(keys))[:keep].tolist()}
        return [r for r in records if group_key(r) in chosen]
    keep = max(1, int(round(len(records) * fraction)))
    order = np.random.default_rng([int(seed), 0xF4AC]).permutation(len(records))[:keep]
    return [records[i] for i in sorted(order.tolist())]


def split_recipe(data: Mapping[str, Any], has_official_split: bool) -> dict[str, Any]:
    """The resolved split recipe of a plain ``data`` config (what a checkpoint records to reproduce its test split).

    ``has_official_split``: whether the dataset publishes a split; it decides the
    scheme when the config leaves ``iqa.split.scheme`` unset.
    """
    section = data.get("iqa") or {}
    split = dict(section.get("split") or {})
    scheme = split.get("scheme") or ("official" if has_official_split else "random")
    recipe = {
        "scheme": scheme,
        "seed": int(data.get("split_seed", 0) or 0),
        "test_fraction": float(split.get("test_fraction", 0.2)),
        "val_fraction": float(split.get("val_fraction", 0.1)),
        "by_reference": bool(split.get("by_reference", True)),
        "train_fraction": float(data.get("train_fraction", 1.0) or 1.0),
    }
    unit = str(split.get("fraction_unit") or "image")
    check_fraction_unit(unit)
    return canonical_recipe({**recipe, "fraction_unit": unit})


def canonical_recipe(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """``recipe`` without settings that leave its split unchanged, so that one split has one recipe.

    ``fraction_unit`` stays only where it matters (a share of the training set, counted in groups): a
    recipe recorded before the option existed, and full-set runs with either unit, compare equal.
    """
    recipe = dict(recipe)
    if recipe.get("fraction_unit", "image") == "image" or float(recipe.get("train_fraction", 1.0)) >= 1.0:
        recipe.pop("fraction_unit", None)
    return recipe


def select_split(records: Sequence[Record], split: str, recipe: Mapping[str, Any]) -> list[Record]:
    """Records of one split (``train``, ``val``, ``test`` or ``all``) under ``recipe`` (see :func:`split_recipe`)."""
    if split == "all":
        return list(records)
    if split not in SPLITS:
        raise UserError(f"unknown split '{split}'; valid: {', '.join((*SPLITS, 'all'))}")
    parts = assign_splits(
        records, recipe["scheme"], recipe["seed"], recipe["test_fraction"], recipe["val_fraction"], recipe["by_reference"]
    )
    chosen = parts[split]
    if split == "train":
        chosen = subsample(chosen, recipe.get("train_fraction", 1.0), recipe["seed"], recipe.get("fraction_unit", "image"))
    return chosen
