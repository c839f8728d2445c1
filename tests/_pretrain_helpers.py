"""Helpers for the pretraining tests: tiny labelled corpora built directly (no teacher), digests, free ports."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import numpy as np
from PIL import Image

from iqa.attributes import ATTRIBUTES
from iqa.data.corpus import Unit, list_units
from iqa.data.label_sets import MANIFEST, write_unit
from iqa.data.shards import ShardWriter
from iqa.io import atomic_write_json


def jpeg_bytes(seed: int, size: int = 40) -> bytes:
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, (size, size + 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def make_corpus(
    root: Path,
    unit_sizes: list[int],
    corrupt: set[str] = frozenset(),
    unlabelled_units: set[int] = frozenset(),
    attributes: tuple[str, ...] = ATTRIBUTES,
    image_size: int = 40,
    meta: bool = False,
) -> tuple[list[Unit], Path]:
    """Tar shards ``u<i>.tar`` with ``unit_sizes[i]`` JPEGs each, and a label set for them.

    Keys are ``u<i>-<j>``; ``corrupt`` keys get garbage bytes (but labels);
    units in ``unlabelled_units`` get no sidecar. Labels are random.
    """
    shards = root / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    labels = root / "labels"
    rng = np.random.default_rng(0)
    for i, size in enumerate(unit_sizes):
        with ShardWriter(shards / f"u{i}.tar") as writer:
            for j in range(size):
                key = f"u{i}-{j}"
                sample = {"__key__": key, "jpg": b"\xff\xd8garbage" if key in corrupt else jpeg_bytes(i * 1000 + j, image_size)}
                if meta:
                    sample["json"] = {"reference": f"r{i}", "crop": 0, "distortion": "gaussian_blur", "level": j % 6}
                writer.write(sample)
    units = list_units(str(shards / "u*.tar"))
    entries = []
    for unit in units:
        if int(unit.name[1:]) in unlabelled_units:
            continue
        size = unit_sizes[int(unit.name[1:])]
        rows = [(f"{unit.name}-{j}", unit.source, rng.random(len(attributes)).tolist()) for j in range(size)]
        write_unit(labels, unit.name, attributes, rows, [], unit.source)
        entries.append({**unit.describe(), "labelled": size, "skipped": 0})
    atomic_write_json(labels / MANIFEST, {
        "teacher": {"name": "test", "image_size": image_size, "attributes": list(attributes)},
        "attributes": list(attributes), "units": entries, "counts": {"labelled": sum(unit_sizes)},
    })
    return units, labels


def unit_of(key: str) -> str:
    return key.rsplit("-", 1)[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_digests(run_dir: Path) -> dict[int, dict]:
    return {int(p.stem.split("-")[1]): json.loads(p.read_text()) for p in sorted((run_dir / "digest").glob("rank-*.json"))}
