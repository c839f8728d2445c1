"""The MOS datasets that the ``data`` configs declare, and the Python API over them.

The YAML files in ``iqa/conf/data`` are the one list of datasets: a config
with an ``iqa.dataset._target_`` naming a class of :mod:`iqa.data.datasets` is
a MOS dataset. This module turns such a config into a dataset object
(:func:`dataset_from_config`), its scale (:func:`dataset_scale`), its split
recipe (:func:`split_settings`) and the records of one split
(:func:`split_records`), and offers the same to Python users without Hydra:

    >>> import iqa
    >>> iqa.list_datasets()["koniq10k"]["mos_range"]
    (1.0, 5.0)
    >>> test = iqa.open_dataset("koniq10k", "/data/koniq10k", split="test")
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from iqa.data.datasets import IQADataset
from iqa.data.records import Record
from iqa.data.splits import select_split, split_recipe
from iqa.errors import UserError, suggest

__all__ = [
    "data_config", "dataset_choices", "dataset_from_config", "dataset_scale", "list_datasets", "open_dataset", "split_records",
    "split_settings",
]

#: Where a dataset class must live for its config to count as a MOS dataset (see :func:`dataset_choices`).
DATASETS_MODULE = "iqa.data.datasets"


def _plain(node: Any) -> Any:
    from omegaconf import OmegaConf

    if OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True)
    return node


def _import_target(target: Any) -> type:
    module, _, attr = str(target).rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError):
        raise UserError(f"iqa.dataset._target_: cannot import {target}") from None


def _instantiate(spec: Mapping[str, Any]) -> IQADataset:
    spec = dict(spec)
    target = spec.pop("_target_", None)
    if not target:
        raise UserError(f"iqa.dataset needs a _target_ (e.g. {DATASETS_MODULE}.KonIQ10k)")
    cls = _import_target(target)
    try:
        return cls(**spec)
    except TypeError as exc:
        raise UserError(f"iqa.dataset ({target}): {exc}") from None


@functools.lru_cache(maxsize=32)
def _cached_dataset(spec_json: str) -> IQADataset:
    return _instantiate(json.loads(spec_json))


def dataset_from_config(data: Mapping[str, Any]) -> IQADataset:
    """The dataset object of a ``data`` config (instances are cached: annotations are read once per process)."""
    data = _plain(data)
    name = data.get("name", "?")
    section = data.get("iqa")
    if not section:
        raise UserError(f"data={name} is an unlabelled corpus; fine-tuning and evaluation need an IQA dataset with MOS")
    spec = section.get("dataset")
    if spec is None:
        # The compact form of a shard dataset: ``format: shards`` with ``splits``.
        fmt = section.get("format", "shards")
        if fmt != "shards":
            raise UserError(f"data={name}: unknown iqa.format '{fmt}'; valid: shards (or give iqa.dataset._target_)")
        spec = {"_target_": f"{DATASETS_MODULE}.ShardDataset", **(section.get("splits") or {}),
                "mos_range": section.get("mos_range") or (1.0, 5.0), "higher_is_better": section.get("higher_is_better", True)}
    spec = dict(spec)
    if spec.get("_target_", "").endswith(("ShardDataset", "CSVDataset")):
        spec.setdefault("name", name)
    return _cached_dataset(json.dumps(spec, sort_keys=True, default=str))


def dataset_scale(data: Mapping[str, Any]) -> tuple[tuple[float, float], bool]:
    """``((low, high), higher_is_better)`` of a data config: explicit ``iqa`` values, else the dataset's own."""
    data = _plain(data)
    section = data.get("iqa") or {}
    declared = dataset_from_config(data)
    mos_range = section.get("mos_range") or declared.mos_range
    higher = section.get("higher_is_better")
    higher = declared.higher_is_better if higher is None else bool(higher)
    return (float(mos_range[0]), float(mos_range[1])), higher


def split_settings(data: Mapping[str, Any]) -> dict[str, Any]:
    """The resolved split recipe of a data config (what a checkpoint records to reproduce its test split)."""
    data = _plain(data)
    return split_recipe(data, dataset_from_config(data).has_official_split)


def split_records(data: Mapping[str, Any], split: str, settings: Mapping[str, Any] | None = None) -> list[Record]:
    """Records of one split (``train``, ``val``, ``test`` or ``all``) of a data config.

    ``settings`` (see :func:`split_settings`) replaces the config's recipe, e.g.
    with the one a checkpoint was trained with.
    """
    records = dataset_from_config(data).records()
    if split == "all":
        return list(records)
    recipe = split_settings(data) if settings is None else settings
    return select_split(records, split, recipe)


# -- the Python API ----------------------------------------------------------------------------


def data_config(name: str, *, data_dir: str | os.PathLike | None = None, root: str | os.PathLike | None = None,
                overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The resolved ``data`` config of a named dataset (a YAML of ``conf/data``), without Hydra.

    ``${paths.data_dir}`` resolves to ``data_dir`` (default: ``$ATTIQA_DATA_DIR``
    or ``data``); ``root`` moves the dataset; ``overrides`` are merged in
    before resolving (e.g. ``{"iqa": {"image_size": 512}}``).
    """
    from omegaconf import MissingMandatoryValue, OmegaConf
    from omegaconf.errors import InterpolationToMissingValueError

    from iqa.config import load_group, to_plain

    data = load_group("data", name)  # an unknown name lists the valid ones
    paths = load_group("paths", "default")
    if data_dir is not None:
        paths.data_dir = str(data_dir)
    node = OmegaConf.create({"paths": paths, "data": data})
    if overrides:
        node.data = OmegaConf.merge(node.data, dict(overrides))
    if root is not None:
        node.data.root = str(root)
    try:
        return to_plain(node)["data"]
    except (MissingMandatoryValue, InterpolationToMissingValueError) as exc:
        found = re.search(r"Missing mandatory value: (?:data\.)?(\S+)", str(exc))
        key = found.group(1) if found else "a required setting"
        raise UserError(f"data={name}: {key} has no value; pass it in overrides (dataset_overrides for evaluate), "
                        f"e.g. {{'{key}': ...}}") from None


def dataset_choices() -> dict[str, str]:
    """``data`` choices that are MOS datasets: name -> the YAML file defining it."""
    from iqa.config import group_choices

    found = {}
    for name, path in group_choices("data").items():
        text = path.read_text()
        if re.search(r"^iqa:\s*(#.*)?$", text, flags=re.M) and f"_target_: {DATASETS_MODULE}." in text:
            found[name] = str(path)
    return found


def _literal(node: Any, key: str) -> Any:
    """A config value that needs no outside context (``None`` for ``???``, ``null`` or unresolvable interpolations)."""
    from omegaconf import OmegaConf

    try:
        value = OmegaConf.select(node, key, throw_on_missing=False)
    except Exception:  # noqa: BLE001  (an interpolation into paths.* or a user-given value)
        return None
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def list_datasets() -> dict[str, dict[str, Any]]:
    """The MOS datasets the configs declare: name -> ``mos_range``, ``higher_is_better``, ``official_split``, ``dataset``.

    ``mos_range`` is ``(low, high)`` (the ends of the rating scale) and
    ``higher_is_better`` its direction, as ``data=<name>`` uses them: the
    config's explicit values, else what the dataset class declares. Both are
    ``None`` where the user declares them (``csv``). ``official_split`` is
    whether the authors publish a split (``None``: it depends on the files);
    ``dataset`` is the class reading the layout.
    """
    from omegaconf import OmegaConf

    from iqa.config import load_group

    found: dict[str, dict[str, Any]] = {}
    for name in dataset_choices():
        node = load_group("data", name)
        target = str(OmegaConf.select(node, "iqa.dataset._target_"))
        cls = _import_target(target)
        spec = {k: _literal(node, f"iqa.dataset.{k}") for k in OmegaConf.select(node, "iqa.dataset")}
        declared_range, declared_higher = cls.declared_scale(spec)
        mos_range = _literal(node, "iqa.mos_range") or declared_range
        higher = _literal(node, "iqa.higher_is_better")
        higher = declared_higher if higher is None else bool(higher)
        official = getattr(cls, "has_official_split", None)
        found[name] = {
            "mos_range": (float(mos_range[0]), float(mos_range[1])) if mos_range else None,
            "higher_is_better": higher,
            "official_split": official if isinstance(official, bool) else None,
            "dataset": target,
        }
    return found


def open_dataset(name: str, root: str | os.PathLike | None = None, split: str | None = None, **options: Any) -> list[Record]:
    """Records (``path``, ``mos``, ...) of a dataset in its official layout.

    ``name``: a ``data`` choice (``koniq10k``, ``spaq``, ``livec``, ``kadid10k``,
    ``csv``, ...; see :func:`list_datasets`). ``split``: None (every annotated
    image), ``train``, ``val``, ``test`` or ``all``; random splits use
    ``split_seed`` (default 0) from ``options``. Other ``options`` go to the
    dataset class (``csv=...``, ``mos_range=...``, ``mos_column=...``).
    """
    from omegaconf import OmegaConf

    from iqa.config import load_group

    choices = dataset_choices()
    if name not in choices:
        raise UserError(f"unknown dataset '{name}'{suggest(name, choices)}; valid: {', '.join(choices)}")
    node = load_group("data", name)
    spec = OmegaConf.to_container(node.iqa.dataset, resolve=False)
    split_seed = options.pop("split_seed", 0)
    train_fraction = options.pop("train_fraction", 1.0)
    # Keep only keys the YAML gives as literals; interpolations (root paths) are replaced by the arguments.
    spec = {k: v for k, v in spec.items() if not (isinstance(v, str) and "${" in v)}
    if root is not None:
        spec["root"] = str(root)
    spec.update(options)
    section = OmegaConf.to_container(node.iqa, resolve=False)
    data = {
        "name": name, "split_seed": split_seed, "train_fraction": train_fraction,
        "iqa": {"dataset": spec, "split": section.get("split") or {}},
    }
    return split_records(data, split or "all")
