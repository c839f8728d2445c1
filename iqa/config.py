"""Config helpers shared by the entry points and tests.

Importing this module registers the OmegaConf resolvers the YAML files use:

* ``${iqa_resource:NAME}`` -- absolute path of a file shipped in ``iqa/resources``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

CONFIG_DIR = str(Path(__file__).resolve().parent / "conf")
RESOURCES = Path(__file__).resolve().parent / "resources"

#: Keys in a config node that describe it rather than being constructor arguments.
META_KEYS = ("name", "label_set")


def _resource(name: str) -> str:
    return str(RESOURCES / name)


# The user config directory on Hydra's search path (ATTIQA_USER_CONF, default ./user_conf) is
# optional: most users never create it, and Hydra would warn about it on every run.
warnings.filterwarnings("ignore", message=r"provider=hydra\.searchpath in main, path=.* is not available")

if not OmegaConf.has_resolver("iqa_resource"):
    OmegaConf.register_new_resolver("iqa_resource", _resource)


def config_dir() -> str:
    """The ``iqa/conf/`` directory (``ATTIQA_CONFIG_DIR`` overrides it)."""
    return os.environ.get("ATTIQA_CONFIG_DIR", CONFIG_DIR)


def instantiate_node(node: Any, drop: tuple[str, ...] = META_KEYS, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` without the descriptive keys (``name``, ``label_set``)."""
    from hydra.utils import instantiate

    if node is None:
        return None
    container = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
    if container.get("_target_") is None:
        return None
    for key in drop:
        container.pop(key, None)
    return instantiate(container, **kwargs)


def to_plain(node: Any) -> Any:
    """A resolved plain-Python copy of a config node (dicts, lists, scalars)."""
    if isinstance(node, (DictConfig,)) or OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True)
    if isinstance(node, Mapping):
        return dict(node)
    return node
