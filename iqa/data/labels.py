"""Pseudo-label sidecars: one small file per corpus unit, keyed by sample key.

Layout of a label directory (``label.py out=<dir>``)::

    <dir>/label_config.json          what produced these labels (written first)
    <dir>/units/<unit>.csv           key, source, <attribute columns>
    <dir>/units/<unit>.done.json     per-unit counts and skipped files (the unit's commit mark)
    <dir>/manifest.json              teacher, attributes, prompts, counts, skipped, config hash

Image bytes are never copied: a label directory only refers to samples by key,
so one corpus can carry any number of label sets side by side.

Every file is written to a temporary name and renamed into place, and a unit
counts as finished only once its ``.done.json`` exists; a killed run therefore
never leaves a file that a rerun would trust.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from iqa.errors import UserError

MANIFEST = "manifest.json"
LABEL_CONFIG = "label_config.json"
UNITS_DIR = "units"


# ---------------------------------------------------------------- atomic I/O
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


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode())


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def config_hash(obj: Any) -> str:
    """A stable short hash of a JSON-serialisable config."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# ---------------------------------------------------------------- sidecars
def unit_paths(label_dir: str | Path, unit: str) -> tuple[Path, Path]:
    base = Path(label_dir) / UNITS_DIR
    return base / f"{unit}.csv", base / f"{unit}.done.json"


def unit_done(label_dir: str | Path, unit: str) -> bool:
    return unit_paths(label_dir, unit)[1].is_file()


def write_unit(
    label_dir: str | Path,
    unit: str,
    attributes: Sequence[str],
    rows: Sequence[tuple[str, str, Sequence[float]]],
    skipped: Sequence[Mapping[str, str]],
    source: str,
) -> dict[str, Any]:
    """Commit one unit: the label CSV first, then its ``.done.json`` mark."""
    csv_path, done_path = unit_paths(label_dir, unit)
    frame = pd.DataFrame(
        {"key": [r[0] for r in rows], "source": [r[1] for r in rows]}
        | {a: [float(r[2][i]) for r in rows] for i, a in enumerate(attributes)}
    )
    keys = frame["key"]
    if keys.duplicated().any():
        raise RuntimeError(f"unit {unit}: duplicate keys {keys[keys.duplicated()].head(3).tolist()}")
    atomic_write_text(csv_path, frame.to_csv(index=False, float_format="%.6f"))
    done = {"unit": unit, "source": source, "labelled": len(rows), "skipped": list(skipped)}
    atomic_write_json(done_path, done)
    return done


def read_unit(label_dir: str | Path, unit: str, attributes: Sequence[str]) -> dict[str, np.ndarray]:
    """``key -> float32[len(attributes)]`` for one finished unit (empty dict if not labelled)."""
    csv_path, done_path = unit_paths(label_dir, unit)
    if not done_path.is_file():
        return {}
    frame = pd.read_csv(csv_path, dtype={"key": str})
    values = frame[list(attributes)].to_numpy(dtype=np.float32)
    return dict(zip(frame["key"].tolist(), values))


# ---------------------------------------------------------------- manifest
def load_manifest(label_dir: str | Path) -> dict[str, Any]:
    path = Path(label_dir) / MANIFEST
    if not path.is_file():
        if (Path(label_dir) / LABEL_CONFIG).is_file():
            raise UserError(f"labels in {label_dir} are incomplete (no {MANIFEST}); rerun the same label.py command to finish")
        raise UserError(f"no labels at {label_dir} (expected {MANIFEST}); run label.py first")
    with open(path) as handle:
        return json.load(handle)


def check_attributes(manifest: Mapping[str, Any], attributes: Sequence[str], label_dir: str | Path) -> None:
    """Refuse a label set whose attribute list differs from the one expected."""
    found = list(manifest.get("attributes", []))
    if found != list(attributes):
        raise UserError(
            f"labels in {label_dir} have attributes {found}, but this run expects {list(attributes)}; "
            f"relabel with a teacher that produces these attributes or set the expected list to match"
        )


def read_labels(label_dir: str | Path) -> pd.DataFrame:
    """All pseudo-labels of a finished run: columns ``key``, ``source``, ``unit`` and one per attribute."""
    manifest = load_manifest(label_dir)
    attributes = manifest["attributes"]
    frames = []
    for unit in manifest["units"]:
        csv_path, _ = unit_paths(label_dir, unit["name"])
        frame = pd.read_csv(csv_path, dtype={"key": str, "source": str})
        frame.insert(2, "unit", unit["name"])
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["key", "source", "unit", *attributes])
    return pd.concat(frames, ignore_index=True)


class LabelLookup:
    """Lazy per-unit label tables for joining images with labels while streaming.

    Each worker loads a unit's sidecar the first time it meets that unit and
    keeps a few in memory, so memory stays flat however large the corpus.
    """

    def __init__(self, label_dir: str | Path, attributes: Sequence[str], cache_units: int = 8) -> None:
        self.label_dir = str(label_dir)
        self.attributes = tuple(attributes)
        self._load = lru_cache(maxsize=cache_units)(self._read)

    def _read(self, unit: str) -> dict[str, np.ndarray]:
        return read_unit(self.label_dir, unit, self.attributes)

    def get(self, unit: str, key: str) -> np.ndarray | None:
        return self._load(unit).get(key)

    def __getstate__(self) -> dict[str, Any]:  # the lru_cache is rebuilt in each worker
        return {"label_dir": self.label_dir, "attributes": self.attributes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["label_dir"], state["attributes"])
