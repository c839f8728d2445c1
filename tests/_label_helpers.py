"""Shared helpers for the labelling and prompt-selection tests: image bytes, shards, test teachers."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import skimage.data
import torch
from PIL import Image

from iqa.data.shards import ShardWriter
from iqa.teachers.classical import ClassicalTeacher


def encode(image: Image.Image | np.ndarray, fmt: str = "JPEG", mode: str | None = None, **kw) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image, mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def photo(size: int = 96, name: str = "astronaut") -> Image.Image:
    return Image.fromarray(getattr(skimage.data, name)()).resize((size, size))


def photo_crops(count: int, size: int = 80, seed: int = 0) -> list[Image.Image]:
    """``count`` distinct RGB crops of the coffee and chelsea photos."""
    rng = np.random.default_rng(seed)
    sources = [skimage.data.coffee(), skimage.data.chelsea(), skimage.data.astronaut()]
    crops = []
    for index in range(count):
        image = sources[index % len(sources)]
        y = int(rng.integers(0, image.shape[0] - size))
        x = int(rng.integers(0, image.shape[1] - size))
        crops.append(Image.fromarray(image[y : y + size, x : x + size]))
    return crops


def bad_members() -> dict[str, tuple[str, bytes, str | None]]:
    """key -> (extension, bytes, expected skip reason or None when it must be labelled)."""
    base = photo(96)
    jpeg = encode(base, "JPEG")
    sixteen = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)
    return {
        "good": ("jpg", jpeg, None),
        "grey": ("png", encode(base.convert("L"), "PNG"), None),
        "cmyk": ("jpg", encode(base.convert("CMYK"), "JPEG"), None),
        "rgba": ("png", encode(base.convert("RGBA"), "PNG"), None),
        "sixteen": ("png", encode(Image.fromarray(sixteen), "PNG"), None),
        "truncated": ("jpg", jpeg[: len(jpeg) // 3], "unreadable"),
        "zero": ("jpg", b"", "empty file"),
        "corrupt": ("png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, "unreadable"),
        "tiny": ("png", encode(np.zeros((16, 16, 3), np.uint8), "PNG"), "too small"),
        "notes": ("txt", b"not an image", "no image member"),
    }


def write_shard(path: Path, members: Iterable[tuple[str, bytes]]) -> Path:
    """A tar shard with the given (member name, bytes), in order (members need not pair up into samples)."""
    with ShardWriter(path) as writer:
        for name, data in members:
            writer.add(name, data)
    return path


def member_offsets(path: Path) -> list[int]:
    with tarfile.open(path) as archive:
        return [m.offset for m in archive.getmembers()]


class SlowClassicalTeacher(ClassicalTeacher):
    """The classical teacher with a pause per batch, so that a test can stop a run part-way.

    Its description equals the classical teacher's, so a rerun with the plain teacher
    resumes the same label directory.
    """

    def __init__(self, image_size: int = 256, delay: float = 0.5) -> None:
        super().__init__(image_size)
        self.delay = float(delay)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        time.sleep(self.delay)
        return super().forward(images)


def read_wandb_history(run_dir: Path) -> dict[str, str]:
    """``key -> value_json`` of every history item in an offline W&B run (``run-*.wandb``).

    The file is a LevelDB-style log (32 KiB blocks, 7-byte record headers, records
    split FIRST/MIDDLE/LAST across blocks) of ``wandb.proto`` ``Record`` messages.
    """
    import struct

    from wandb.proto import wandb_internal_pb2 as pb

    (path,) = list(Path(run_dir).glob("run-*.wandb"))  # W&B writes it from a service process: may be partial
    data = path.read_bytes()
    block, header = 32768, 7
    position, records, pending = header, [], b""  # the file starts with a 7-byte ":W&B" header
    while position + header <= len(data):
        left = block - position % block
        if left < header:  # too little room for a record header: the block is padded
            position += left
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + header])
        if (kind == 0 and length == 0) or position + header + length > len(data):
            break  # the end, or a record still being written
        chunk = data[position + header : position + header + length]
        position += header + length
        if kind == 1:
            records.append(chunk)
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            records.append(pending + chunk)
    history: dict[str, str] = {}
    for raw in records:
        record = pb.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == "history":
            for item in record.history.item:
                history[item.key or "/".join(item.nested_key)] = item.value_json
    return history
