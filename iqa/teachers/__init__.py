"""Pseudo-label teachers: the classical statistics and any open_clip model (see ``base.Teacher``)."""

from __future__ import annotations

from typing import Any


def build_teacher(node: Any) -> Any:
    """Instantiate a ``teacher`` config node; a :class:`~iqa.errors.UserError` raised while building it stays one.

    Hydra wraps every exception from a ``_target_`` constructor in its own
    ``InstantiationException``, which would turn "weights not in the cache, pass a file"
    into a traceback instead of the one-line error the entry points print;
    :func:`iqa.config.instantiate_node` unwraps it.
    """
    from iqa.config import instantiate_node

    return instantiate_node(node)


__all__ = ["build_teacher"]
