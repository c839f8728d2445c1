"""Config helpers shared by the entry points and tests.

Importing this module registers the OmegaConf resolvers the YAML files use:

* ``${iqa_resource:NAME}`` -- absolute path of a file shipped in ``iqa/resources``;
* ``${iqa_if:CONDITION,THEN,OTHERWISE}`` -- ``THEN`` when ``CONDITION`` is set (not null,
  false, 0 or empty), else ``OTHERWISE``; lets a callback node depend on a logger or a monitor;
* ``${iqa_progress_refresh:CHOICE,ACCELERATOR}`` -- the progress bar's refresh rate.

It stays cheap to import (no torch, no Lightning): every entry point imports it before
it knows whether the job runs at all (``--help``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

CONFIG_DIR = str(Path(__file__).resolve().parent / "conf")
RESOURCES = Path(__file__).resolve().parent / "resources"

#: Keys in a config node that describe it rather than being constructor arguments.
META_KEYS = ("name", "label_set")

#: Progress-bar refreshes between which a GPU may run ahead (``progress_refresh: auto``).
GPU_REFRESH_STEPS = 25


def _resource(name: str) -> str:
    return str(RESOURCES / name)


def _if(condition: Any, then: Any, otherwise: Any) -> Any:
    return then if condition not in (None, False, 0, "", "none", "None", "null") else otherwise


def progress_refresh(choice: Any, accelerator: Any = "auto") -> int:
    """Steps between progress-bar refreshes: every step on CPU, every ``GPU_REFRESH_STEPS`` on GPU.

    Each refresh reads the logged tensors back to the host, which stalls a GPU
    that could otherwise run ahead of the Python loop. An integer is used as given.
    """
    if str(choice) != "auto":
        return max(1, int(choice))
    import torch

    on_gpu = torch.cuda.is_available() and str(accelerator) in ("auto", "gpu", "cuda")
    return GPU_REFRESH_STEPS if on_gpu else 1


# The user config directory on Hydra's search path (ATTIQA_USER_CONF, default ./user_conf) is
# optional: most users never create it, and Hydra would warn about it on every run.
warnings.filterwarnings("ignore", message=r"provider=hydra\.searchpath in main, path=.* is not available")

for _name, _resolver in (("iqa_resource", _resource), ("iqa_if", _if), ("iqa_progress_refresh", progress_refresh)):
    if not OmegaConf.has_resolver(_name):
        OmegaConf.register_new_resolver(_name, _resolver)


def config_dir() -> str:
    """The ``iqa/conf/`` directory (``ATTIQA_CONFIG_DIR`` overrides it)."""
    return os.environ.get("ATTIQA_CONFIG_DIR", CONFIG_DIR)


def user_config_dir() -> Path:
    """The user's config groups (``$ATTIQA_USER_CONF``, default ``./user_conf``), on every entry point's search path."""
    return Path(os.environ.get("ATTIQA_USER_CONF", "user_conf"))


def group_choices(group: str) -> dict[str, Path]:
    """Choices of a config group: name -> its YAML file, from the shipped groups and the user's.

    As on Hydra's search path, a shipped file shadows a user file of the same name.
    """
    found: dict[str, Path] = {}
    for root in (user_config_dir(), Path(config_dir())):
        folder = root / group
        if folder.is_dir():
            found.update({path.stem: path for path in sorted(folder.glob("*.yaml"))})
    return dict(sorted(found.items()))


def load_group(group: str, name: str) -> DictConfig:
    """One config file, ``<group>/<name>.yaml`` (``group=""`` for a top-level file), without Hydra.

    The one reader of config files outside Hydra's composition: an unknown name
    is a :class:`~iqa.errors.UserError` that lists the valid choices.
    """
    from iqa.errors import UserError, suggest

    if not group:
        path = Path(config_dir(), f"{name}.yaml")
        if not path.is_file():
            raise UserError(f"no config file {name}.yaml in {config_dir()}")
        return OmegaConf.load(path)
    choices = group_choices(group)
    if name not in choices:
        noun = "dataset" if group == "data" else group
        raise UserError(f"unknown {noun} '{name}'{suggest(name, choices)}; valid: {', '.join(choices)}")
    return OmegaConf.load(choices[name])


def instantiate_node(node: Any, drop: tuple[str, ...] = META_KEYS, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` without the descriptive keys (``name``, ``label_set``).

    A node whose ``_target_`` is null builds nothing (``logger=none``). A
    :class:`~iqa.errors.UserError` raised by the target stays one: Hydra would
    otherwise wrap it in an ``InstantiationException`` and the entry points
    would print a traceback instead of one line.
    """
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    from iqa.errors import UserError

    if node is None:
        return None
    container = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node)
    if container.get("_target_") is None:
        return None
    for key in drop:
        container.pop(key, None)
    try:
        return instantiate(container, **kwargs)
    except InstantiationException as exc:
        cause = exc.__cause__
        while cause is not None and not isinstance(cause, UserError):
            cause = cause.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        raise


def instantiate_list(group: Any) -> list[Any]:
    """Instantiate every node of a group such as ``callbacks`` (name -> node), in order.

    A node with ``enabled: false`` or a null ``_target_`` is left out: the YAML
    states the condition (``enabled: ${...}``) instead of code special-casing it.
    """
    built = []
    for name, node in (group or {}).items():
        if not isinstance(node, (DictConfig, Mapping)) or node.get("_target_") is None:
            continue
        if not node.get("enabled", True):
            continue
        obj = instantiate_node(node, drop=("enabled",))
        if obj is None:
            raise ValueError(f"callbacks.{name} built nothing")
        built.append(obj)
    return built


def resolve_precision(value: Any) -> Any:
    """``precision: auto``: bf16-mixed on a GPU that supports it, else 32-true; anything else as given."""
    if str(value) != "auto":
        return value
    import torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def lightning_trainer(precision: Any = "auto", **kwargs: Any):
    """``pytorch_lightning.Trainer`` with ``precision: auto`` resolved (the ``trainer`` group's ``_target_``)."""
    import pytorch_lightning as pl

    return pl.Trainer(precision=resolve_precision(precision), **kwargs)


def select_keys(node: Any, keys: Iterable[str]) -> dict[str, Any]:
    """``node`` resolved, with only its ``_``-keys (``_target_``...) and ``keys`` (label.py: the trainer's hardware)."""
    wanted = set(keys)
    chosen = [k for k in node.keys() if str(k).startswith("_") or k in wanted]  # resolve these only:
    return {k: to_plain(node[k]) for k in chosen}  # the others may refer to keys this entry point lacks (stage.*)


def to_plain(node: Any) -> Any:
    """A resolved plain-Python copy of a config node (dicts, lists, scalars)."""
    if isinstance(node, (DictConfig,)) or OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True)
    if isinstance(node, Mapping):
        return dict(node)
    return node
