"""The per-image score cache: scores of one model per image file, in an append-only JSON-lines file.

A model is identified by :func:`model_identity` (the checkpoint's bytes and the
view it scores at), an image file by :func:`file_key` (its absolute path, size
and modification time), so an edited image or another checkpoint is scored again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["ScoreCache", "file_key", "model_identity"]


def file_key(path: str) -> str | None:
    """``absolute path|size|mtime_ns``, or None for a file that cannot be stat'ed (not cached)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}"


def model_identity(ckpt: str | os.PathLike, model: Any) -> str:
    """What a cached score depends on besides the image: the checkpoint's bytes and the view it is scored at."""
    digest = hashlib.sha256()
    with open(ckpt, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    view = model.view
    digest.update(json.dumps([view.image_size, view.policy, view.crop_size, view.max_side, list(model.attributes)]).encode())
    if not view.upscale:  # scores small images at another size; views that enlarge keep their earlier keys
        digest.update(b"no-upscale")
    return digest.hexdigest()[:20]


class ScoreCache:
    """Scores of one model (one :func:`model_identity`) per image file, in an append-only JSON-lines file.

    ``<dir>/<identity>.jsonl``; a line is ``{"k": file key, "q": quality_norm,
    "a": [attributes], "e": error}``. :meth:`add` appends a chunk, flushes and
    fsyncs it before returning, so a crash loses at most the chunk in flight;
    a torn last line (killed mid-write) is ignored when reading and fenced off
    by a newline before the next append. Keys carry the file's size and
    modification time, so an edited image is scored again.
    """

    def __init__(self, directory: str | os.PathLike, identity: str) -> None:
        self.path = Path(directory) / f"{identity}.jsonl"
        self.entries: dict[str, tuple[float, list[float], str]] = {}
        self.torn = 0
        if self.path.is_file():
            with open(self.path, encoding="utf-8") as handle:
                for line in handle:
                    try:
                        item = json.loads(line)
                        self.entries[item["k"]] = (float(item["q"]) if item["q"] is not None else math.nan,
                                                   [math.nan if v is None else float(v) for v in item["a"]], str(item.get("e", "")))
                    except (ValueError, KeyError, TypeError):
                        self.torn += 1

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: str | None) -> tuple[float, list[float], str] | None:
        return self.entries.get(key) if key else None

    def add(self, rows: Sequence[tuple[str, float, Sequence[float], str]]) -> None:
        """Append ``(key, quality_norm, attributes, error)`` rows durably."""
        if not rows:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for key, quality, attrs, error in rows:
            clean = [None if not math.isfinite(v) else float(v) for v in attrs]
            lines.append(json.dumps({"k": key, "q": None if not math.isfinite(quality) else float(quality), "a": clean, "e": error}))
            self.entries[key] = (float(quality), [float(v) for v in attrs], error)
        with open(self.path, "a+b") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell():
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # a torn line from an interrupted run: fence it off
                    handle.write(b"\n")
            handle.write(("\n".join(lines) + "\n").encode())
            handle.flush()
            os.fsync(handle.fileno())
