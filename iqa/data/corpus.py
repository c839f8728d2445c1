"""Image corpora as lists of work units, streamed as WebDataset-style samples.

A corpus is given in config as one or more *sources* per split: WebDataset tar
shards (paths, globs or brace patterns such as ``shards/train-{000000..000099}.tar``)
or a folder of images (searched recursively). Each source is cut into
**units**: one tar shard is one unit; a folder is cut into fixed chunks of its
sorted file list. A unit is the grain of everything downstream:

* labelling writes one label sidecar per unit and splits units across ranks;
* pretraining splits units by node and by worker and joins each unit with its
  sidecar.

Samples are plain dicts in the WebDataset convention: ``__key__``, ``__url__``
(the file or shard they came from), ``__unit__`` and one entry per member
extension holding raw bytes.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import braceexpand

from iqa.data.images import IMAGE_EXTENSIONS, folder_files
from iqa.errors import UserError

DEFAULT_CHUNK_SIZE = 1000
_IMAGE_EXTS = tuple(e.lstrip(".") for e in IMAGE_EXTENSIONS)


@dataclass(frozen=True)
class Unit:
    """One shard, or one chunk of a folder."""

    name: str
    kind: str  # "tar" or "files"
    source: str
    files: tuple[str, ...] = field(default=(), repr=False)

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"name": self.name, "kind": self.kind, "source": self.source}
        if self.kind == "files":
            info["files"] = len(self.files)
        return info


def _as_list(spec: Any) -> list[str]:
    if spec is None:
        return []
    if isinstance(spec, (str, os.PathLike)):
        return [str(spec)]
    return [str(s) for s in spec]


def expand_shard_patterns(spec: Any) -> list[str]:
    """Expand brace patterns and globs; keep order, drop duplicates."""
    out: list[str] = []
    for pattern in _as_list(spec):
        for braced in braceexpand.braceexpand(os.path.expanduser(pattern)):
            matches = sorted(glob.glob(braced)) if glob.has_magic(braced) else [braced]
            out.extend(matches)
    return list(dict.fromkeys(out))


def list_folder(root: str | Path) -> list[str]:
    """The files of :func:`iqa.data.images.folder_files`, sorted, relative to ``root``.

    Every file counts, not only those with image extensions, so that a
    labelling run can account for each one (labelled or skipped with a reason).
    """
    return sorted(os.path.relpath(path, root) for path in folder_files(root))


def _unique_names(paths: Sequence[str]) -> list[str]:
    """Shard stems, prefixed with parent folders only where stems collide."""
    parts = [Path(p).with_suffix("").parts for p in paths]
    depth = 1
    while True:
        names = ["__".join(p[-depth:]) for p in parts]
        if len(set(names)) == len(names) or depth >= max(len(p) for p in parts):
            return names
        depth += 1


def list_units(spec: Any, chunk_size: int = DEFAULT_CHUNK_SIZE, what: str = "corpus") -> list[Unit]:
    """Units for a corpus source spec: shard patterns, folders, or a list of both.

    Raises :class:`UserError` naming the spec when nothing can be found.
    """
    entries = _as_list(spec)
    if not entries:
        raise UserError(f"{what}: no source given (expected tar shards or an image folder)")
    units: list[Unit] = []
    shard_paths: list[str] = []
    for entry in entries:
        path = Path(os.path.expanduser(entry))
        if path.is_dir():
            files = list_folder(path)
            if not files:
                raise UserError(f"{what}: folder {entry} holds no files")
            stem = re.sub(r"[^A-Za-z0-9_.-]", "_", path.resolve().name) or "root"
            for index in range(0, len(files), chunk_size):
                units.append(
                    Unit(f"{stem}-part-{index // chunk_size:06d}", "files", str(path), tuple(files[index : index + chunk_size]))
                )
            continue
        matches = expand_shard_patterns(entry)
        missing = [m for m in matches if not os.path.isfile(m)]
        if not matches or (missing and len(missing) == len(matches)):
            raise UserError(
                f"{what}: nothing found at '{entry}' (expected an image folder, a .tar shard, or a glob/brace pattern of shards)"
            )
        if missing:
            raise UserError(f"{what}: {len(missing)} shard(s) of '{entry}' do not exist, e.g. {missing[0]}")
        shard_paths.extend(matches)
    for name, shard in zip(_unique_names(shard_paths), shard_paths) if shard_paths else []:
        units.append(Unit(name, "tar", shard))
    names = [u.name for u in units]
    if len(set(names)) != len(names):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        raise UserError(f"{what}: two sources give units with the same name: {duplicates[:5]}")
    return units


def image_member(sample: dict[str, Any]) -> tuple[str, bytes] | None:
    """The (extension, bytes) of the sample's image member, if it has one."""
    for ext in _IMAGE_EXTS:
        if ext in sample:
            return ext, sample[ext]
    return None


def iter_unit_samples(unit: Unit, on_error: Callable[[Exception], None] | None = None) -> Iterator[dict[str, Any]]:
    """Stream the samples of one unit.

    A tar error (truncated or corrupt shard) is passed to ``on_error`` and ends
    the unit; the samples read before it are kept. Folder files that cannot be
    read yield a sample with an empty payload, so they are counted as skipped
    downstream rather than lost.
    """
    if unit.kind == "tar":
        import webdataset as wds

        def handler(exc: Exception) -> bool:
            if on_error is not None:
                on_error(exc)
            return False  # stop this shard: after a tar error the stream position is unreliable

        for sample in wds.tarfile_samples([{"url": unit.source}], handler=handler):
            sample["__unit__"] = unit.name
            yield sample
        return
    root = Path(unit.source)
    for rel in unit.files:
        path = root / rel
        ext = path.suffix.lower().lstrip(".") or "bin"
        try:
            data = path.read_bytes()
        except OSError as exc:
            data = b""
            if on_error is not None:
                on_error(exc)
        yield {"__key__": rel, "__url__": str(path), "__unit__": unit.name, ext: data}


def split_for_rank(items: Sequence[Any], rank: int, world_size: int) -> list[Any]:
    """Round-robin split: item ``i`` goes to rank ``i % world_size`` (each item exactly once)."""
    return list(items[rank::world_size]) if world_size > 1 else list(items)
