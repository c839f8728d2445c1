"""Pseudo-label teachers: the classical statistics and any open_clip model (see ``base.Teacher``)."""

from __future__ import annotations

from typing import Any

from iqa.errors import UserError


def build_teacher(node: Any) -> Any:
    """Instantiate a ``teacher`` config node; a :class:`UserError` raised while building it stays one.

    Hydra wraps every exception from a ``_target_`` constructor in its own
    ``InstantiationException``, which would turn "weights not in the cache, pass a file"
    into a traceback instead of the one-line error the entry points print.
    """
    from hydra.errors import InstantiationException

    from iqa.config import instantiate_node

    try:
        return instantiate_node(node)
    except InstantiationException as exc:
        cause = exc.__cause__
        while cause is not None and not isinstance(cause, UserError):
            cause = cause.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        raise


__all__ = ["build_teacher"]
