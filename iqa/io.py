"""Crash-safe file writes shared by every part of attiqa that persists something.

Label sets, built corpora, metrics logs, evaluation reports and exported
checkpoints are all written through these helpers, so that a killed process
never leaves a half-written file under its final name: data goes to a
temporary file in the same folder (same filesystem, so the rename is atomic),
is flushed to disk, then renamed into place.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_text", "config_hash", "locked", "replace_dir"]


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """``obj`` as indented JSON (key order kept; non-JSON values written with ``str``)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode())


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


@contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed), e.g. while one process builds a dataset."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def replace_dir(tmp: str | Path, root: str | Path) -> None:
    """Move a finished build ``tmp`` to ``root``; a previous ``root`` is renamed aside first, then deleted."""
    tmp, root = Path(tmp), Path(root)
    if root.exists():
        trash = root.parent / f".{root.name}.old-{os.getpid()}"
        os.replace(root, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(tmp, root)


def config_hash(obj: Any) -> str:
    """A stable short hash of a JSON-serialisable config (key order does not matter)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
