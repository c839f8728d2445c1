"""User-facing errors.

Anything that is the user's to fix (a wrong path, an unknown model name, a
config that does not fit the stage) raises ``UserError``. The entry points catch
it and print one line, ``error: <message>``, instead of a traceback from deep
inside a library. Set ``ATTIQA_TRACEBACK=1`` to see the full traceback.
"""

from __future__ import annotations

import difflib
import functools
import os
import sys
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


class UserError(Exception):
    """An error the user can fix; printed as a single line by the entry points."""


def suggest(name: str, choices: Iterable[str], n: int = 5) -> str:
    """``" (did you mean: a, b?)"`` for close matches of ``name`` in ``choices``, else ``""``."""
    close = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.6)
    return f" (did you mean: {', '.join(close)}?)" if close else ""


def one_line_errors(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorator for entry points: ``UserError`` becomes ``error: ...`` and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            if os.environ.get("ATTIQA_TRACEBACK"):
                raise
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)

    return wrapper
