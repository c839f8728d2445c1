"""The labelling input stream: every sample of every pending unit, exactly once.

Units are dealt round-robin to ranks, then to DataLoader workers, so each
image is read by exactly one process. Each worker walks whole units in order
and emits, after a unit's last sample, an end-of-unit record carrying the
number of samples it saw; the writer commits a unit only when that record
arrives, with ``labelled + skipped == seen``.

Two decode paths, chosen by ``label.py decode=auto|cpu|gpu``:

* ``cpu``: the worker decodes (PIL, JPEG draft mode), resizes the short side to
  the teacher's input size and centre-crops; the batch carries ``uint8`` pixels.
* ``device``: the worker only reads bytes and checks JPEG headers; complete RGB or
  grey JPEGs travel as bytes, concatenated into one tensor per batch, and the
  label module decodes them batched on its device (nvjpeg on CUDA). Every other
  file (PNG, CMYK JPEG, truncated, huge, ...) is still decoded in the worker.

Bad files never stop a run: each becomes a skip record with a reason. A shard
that breaks part-way (truncated file, corrupt member header) keeps the samples
read before the break, and the break itself is reported once for the shard.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset

from iqa.data.corpus import Unit, image_member, iter_unit_samples, split_for_rank
from iqa.data.images import DEVICE_DECODE_MAX_PIXELS, SkipImage, device_decodable_jpeg, load_square
from iqa.distributed import dist_info, worker_info

DECODE_PATHS = ("cpu", "device")
# A tar stream reader stops after the end-of-archive blocks; what follows is padding up to
# the writer's record size (10 KiB for tarfile and GNU tar). Anything else left unread
# means the reader stopped early, e.g. at a corrupt member header.
_TAIL_CHECK_LIMIT = 1 << 20


class LabelStream(IterableDataset):
    """Samples of the pending units dealt to this rank and worker, as label records.

    Args:
        units: every unit of the corpus, in a fixed order (the split must not depend on
            which units other ranks already finished).
        image_size: the teacher's square input side.
        pending: names of the units still to label (``None``: all).
        decode: ``"cpu"`` or ``"device"`` (see the module docstring).
        device_max_pixels: JPEGs larger than this are decoded in the worker (draft mode).
        rank, world_size: this process's place among the ranks; ``None`` asks
            ``torch.distributed`` / the launcher's environment. The label data module sets
            them in the main process, where they are certain, before workers start.
    """

    def __init__(
        self,
        units: Sequence[Unit],
        image_size: int,
        pending: Sequence[str] | None = None,
        decode: str = "cpu",
        device_max_pixels: int = DEVICE_DECODE_MAX_PIXELS,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__()
        if decode not in DECODE_PATHS:
            raise ValueError(f"decode must be one of {DECODE_PATHS}, got {decode!r}")
        self.units = list(units)
        self.image_size = int(image_size)
        self.pending = set(pending) if pending is not None else {u.name for u in self.units}
        self.decode = decode
        self.device_max_pixels = int(device_max_pixels)
        self.rank = rank
        self.world_size = world_size

    def my_units(self) -> list[Unit]:
        worker, workers = worker_info()
        rank, world = (self.rank, self.world_size) if self.rank is not None else dist_info()
        mine = split_for_rank(self.units, rank, world)
        return [u for u in split_for_rank(mine, worker, workers) if u.name in self.pending]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for unit in self.my_units():
            yield from self.unit_records(unit)

    def unit_records(self, unit: Unit) -> Iterator[dict[str, Any]]:
        """Every record of one unit: one per sample (image or skip), shard errors, then the end record."""
        seen = 0
        errors: list[str] = []
        keys: set[str] = set()
        read_errors: list[Exception] = []
        samples = iter_tar_samples(unit, errors) if unit.kind == "tar" else iter_unit_samples(unit, on_error=read_errors.append)
        for sample in samples:
            seen += 1
            key = sample["__key__"]
            base = {"unit": unit.name, "key": key}
            if key in keys:
                member = image_member(sample) if unit.kind == "tar" else None
                source = _member_source(unit, sample, member[0] if member else None)
                reason = "duplicate key: a sample with this key came earlier in the unit"
                yield {"kind": "skip", **base, "source": source, "reason": reason}
                continue
            keys.add(key)
            if unit.kind == "files":
                # A folder file is tried as an image whatever its extension; the decoder sniffs the content.
                ext = next((k for k in sample if not k.startswith("__")), "bin")
                member: tuple[str, bytes] | None = (ext, sample[ext])
            else:
                member = image_member(sample)
            others = sorted(k for k in sample if not k.startswith("__"))
            source = _member_source(unit, sample, member[0] if member else (others[0] if len(others) == 1 else None))
            if member is None:
                yield {"kind": "skip", **base, "source": source, "reason": f"no image member (has: {', '.join(others) or 'nothing'})"}
                continue
            data = member[1]
            if read_errors:  # a folder file that could not be read at all (permissions, I/O error)
                reason = f"unreadable: {read_errors.pop()}"
                yield {"kind": "skip", **base, "source": source, "reason": reason}
                continue
            if self.decode == "device" and device_decodable_jpeg(data, self.device_max_pixels):
                yield {"kind": "encoded", **base, "source": source, "data": data}
                continue
            try:
                image = load_square(data, self.image_size)
            except SkipImage as exc:
                yield {"kind": "skip", **base, "source": source, "reason": str(exc)}
                continue
            yield {"kind": "image", **base, "source": source, "image": image}
        for reason in errors:
            # A broken shard: what was read is kept; the unreadable rest is one entry that
            # names the shard. It is not a sample, so it does not count as a skipped file.
            yield {"kind": "skip", "unit": unit.name, "key": "", "source": unit.source, "reason": reason, "counted": False}
        yield {"kind": "end", "unit": unit.name, "source": unit.source, "seen": seen}


def _member_source(unit: Unit, sample: dict[str, Any], ext: str | None) -> str:
    """The file path for folder units; ``shard.tar:member`` for shard members."""
    if unit.kind == "files":
        return str(sample.get("__url__", ""))
    member = f"{sample['__key__']}.{ext}" if ext else sample["__key__"]
    return f"{unit.source}:{member}"


def iter_tar_samples(unit: Unit, errors: list[str]) -> Iterator[dict[str, Any]]:
    """WebDataset samples of one shard (same keys as training sees), with every break reported.

    Reading stops at the first tar error (after it the stream position is not
    trustworthy); the samples read before it are yielded and the error goes to
    ``errors``. Python's tar reader treats a corrupt member header in the middle
    of a shard as the end of the archive, silently; the shard's unread tail is
    therefore checked, and reported when it holds data.
    """
    from webdataset.tariterators import group_by_keys, tar_file_expander

    breaks: list[str] = []

    def handler(exc: Exception) -> bool:
        message = (str(exc.args[0]) if exc.args else "").split(" @ ")[0][:200] or type(exc).__name__
        if isinstance(exc, ValueError) and "duplicate file name" in message:
            # Two members with the same name in one sample: keep the first, note the rest, read on.
            errors.append(f"duplicate member ignored: {message.split(':')[0]}")
            return True
        hint = " (truncated shard?)" if "unexpected end of data" in message or isinstance(exc, EOFError) else ""
        breaks.append(f"{type(exc).__name__}: {message}{hint}")
        return False

    count = 0
    try:
        handle = open(unit.source, "rb")  # noqa: SIM115 - closed in the finally below
    except OSError as exc:
        errors.append(f"shard error after 0 sample(s): unreadable: {exc}")
        return
    try:
        size = os.fstat(handle.fileno()).st_size
        files = tar_file_expander([{"url": unit.source, "stream": handle}], handler=handler)
        for sample in group_by_keys(files, handler=handler):
            sample["__unit__"] = unit.name
            count += 1
            yield sample
        if not breaks:
            unread = _unread_tail(handle, size)
            if unread:
                breaks.append(
                    f"the tar stream ended at byte {size - unread} of {size} (corrupt member header?)"
                )
            elif not _ends_with_end_marker(handle, size):
                breaks.append("the shard does not end with the tar end-of-archive blocks (truncated shard?)")
        # Reported with the final count: the sample being assembled at the break is still yielded.
        errors += [f"shard error after {count} sample(s): {b}; samples after the break, if any, were not read" for b in breaks]
    finally:
        handle.close()


def _unread_tail(handle: Any, size: int) -> int:
    """Bytes of real data after where the tar reader stopped (0 when only zero padding is left)."""
    try:
        position = handle.tell()
    except (OSError, ValueError):
        return 0
    remaining = size - position
    if remaining <= 0:
        return 0
    if remaining > _TAIL_CHECK_LIMIT:
        return remaining
    tail = handle.read(remaining)
    return remaining if tail.strip(b"\x00") else 0


def _ends_with_end_marker(handle: Any, size: int) -> bool:
    """Whether an uncompressed tar ends with its two zero blocks (compressed shards report truncation themselves).

    Python's reader stops silently at a header cut short by truncation; a complete
    archive always ends with at least two 512-byte zero blocks.
    """
    try:
        handle.seek(0)
        magic = handle.read(6)
        if magic.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd")):
            return True
        if size < 1024:
            return False
        handle.seek(size - 1024)
        return not handle.read(1024).strip(b"\x00")
    except (OSError, ValueError):
        return True


def count_tar_samples(path: str) -> int:
    """Samples in a shard (distinct consecutive keys, the WebDataset grouping), from member headers only."""
    from webdataset.tariterators import base_plus_ext

    count, previous = 0, None
    with tarfile.open(path, mode="r:*") as archive:  # seekable: headers are read, member data skipped
        for info in archive:
            if not info.isreg():
                continue
            prefix, _ = base_plus_ext(info.name)
            if prefix is None or (os.path.basename(info.name).startswith("__")):
                continue
            if prefix != previous:
                count += 1
                previous = prefix
    return count


def collate_label_batch(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack decoded images, pack encoded JPEGs into one byte array, pass other records through.

    Order of ``keys``/``units``/``sources``: the decoded images first, then the encoded
    ones; the label module reports results by position in that order.
    """
    images = [item for item in items if item["kind"] == "image"]
    encoded = [item for item in items if item["kind"] == "encoded"]
    batch: dict[str, Any] = {
        # numpy copies on the calling thread; torch.stack would use the intra-op thread pool,
        # which on a busy machine made collating in the main process (num_workers=0) 100x slower.
        "images": torch.from_numpy(np.stack([item["image"].numpy() for item in images])) if images else None,
        "encoded": None,
        "encoded_sizes": [len(item["data"]) for item in encoded],
        "keys": [item["key"] for item in images] + [item["key"] for item in encoded],
        "units": [item["unit"] for item in images] + [item["unit"] for item in encoded],
        "sources": [item["source"] for item in images] + [item["source"] for item in encoded],
        "records": [item for item in items if item["kind"] in ("skip", "end")],
    }
    if encoded:
        # One byte tensor per batch: one shared-memory transfer from the worker (and pinned on
        # GPU runs). The label module keeps it on the host, where the decoder wants its input.
        batch["encoded"] = torch.frombuffer(bytearray(b"".join(item["data"] for item in encoded)), dtype=torch.uint8)
    return batch
