"""Writing WebDataset tar shards: the one writer behind every corpus, benchmark and test shard.

A sample is a dict with a ``__key__`` and one entry per member extension
(``{"__key__": "a-0", "jpg": b"...", "json": {...}}``); it becomes the tar
members ``a-0.jpg`` and ``a-0.json``, which is what every reader in the package
(:mod:`iqa.data.corpus`, :mod:`iqa.data.records`, the label stream) expects.
Values are encoded by webdataset's default encoder (bytes as they are, ``str``
as UTF-8, dicts and lists as JSON, arrays by extension). Members get a fixed
modification time (0 unless told otherwise), so the same samples give
byte-identical shards. Every member is a plain 512-byte header followed by
its data (no PAX extended headers for ordinary names).
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["ShardWriter", "write_shard", "write_shards"]


class ShardWriter:
    """One tar shard, written sample by sample (:meth:`write`) or member by member (:meth:`add`).

    A thin layer over ``webdataset.TarWriter``: it adds the fixed modification
    time, creates the parent folder, and lets a caller place a raw member (any
    name, any bytes) where a test needs a shard no sample writer would produce.
    """

    def __init__(self, path: str | os.PathLike, mtime: int = 0) -> None:
        import webdataset as wds

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # An integer time: a float one makes tarfile add a PAX extended header before every member.
        self.mtime = int(mtime)
        self._writer = wds.TarWriter(str(self.path), mtime=self.mtime)
        self.count = 0

    def write(self, sample: Mapping[str, Any]) -> int:
        """Add one sample (``__key__`` plus one entry per extension); returns the bytes written."""
        if "__key__" not in sample:
            raise ValueError(f"a shard sample needs a '__key__', got keys {sorted(sample)}")
        size = self._writer.write(dict(sample))
        self.count += 1
        return size

    def add(self, name: str, data: bytes) -> None:
        """Add one member exactly as given (its name need not follow ``<key>.<ext>``)."""
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = self.mtime
        info.mode = self._writer.mode
        info.uname, info.gname = self._writer.user, self._writer.group
        self._writer.tarstream.addfile(info, io.BytesIO(data))

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def write_shard(path: str | os.PathLike, samples: Iterable[Mapping[str, Any]], mtime: int = 0) -> Path:
    """Write ``samples`` into one shard at ``path``, in order; returns the path."""
    with ShardWriter(path, mtime=mtime) as writer:
        for sample in samples:
            writer.write(sample)
    return writer.path


def write_shards(
    folder: str | os.PathLike, prefix: str, samples: Iterable[Mapping[str, Any]], per_shard: int, mtime: int = 0
) -> list[Path]:
    """Write ``samples`` into ``folder/<prefix>-000000.tar``, ``-000001.tar``, ... of ``per_shard`` samples each.

    Returns the shards written, in order (none for no samples).
    """
    if per_shard < 1:
        raise ValueError(f"per_shard must be at least 1, got {per_shard}")
    written: list[Path] = []
    writer: ShardWriter | None = None
    try:
        for sample in samples:
            if writer is None or writer.count == per_shard:
                if writer is not None:
                    writer.close()
                writer = ShardWriter(Path(folder) / f"{prefix}-{len(written):06d}.tar", mtime=mtime)
                written.append(writer.path)
            writer.write(sample)
    finally:
        if writer is not None:
            writer.close()
    return written
