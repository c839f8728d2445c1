"""Label sets: the one module that writes and reads pseudo-label directories.

Layout of a label set (``label.py out=<dir>``)::

    <dir>/label_config.json          what produced these labels (written first, see claim_directory)
    <dir>/units/<unit>.csv           key, source, <attribute columns> (write_unit)
    <dir>/units/<unit>.done.json     per-unit counts and skipped files: the unit's commit mark
    <dir>/manifest.json              teacher, attributes, prompts, counts, skipped, config hash
                                     (write_manifest, once every unit is committed)

Image bytes are never copied: a label set only refers to samples by key (the
member stem in a tar shard, the relative path in a folder), so one corpus can
carry any number of label sets side by side.

Every file is written to a temporary name and renamed into place, and a unit
counts as finished only once its ``.done.json`` exists; a killed run therefore
never leaves a file that a rerun would trust. Readers (:func:`read_labels`,
:class:`LabelLookup`) go through the same paths as the writers, so what
``read_labels`` returns is exactly what pretraining trains on. Label sets
written by attiqa 0.1.0 are read unchanged (``tests/fixtures/legacy_labels``).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from iqa.errors import UserError
from iqa.io import atomic_write_json, atomic_write_text, config_hash

if TYPE_CHECKING:
    from iqa.data.corpus import Unit

MANIFEST = "manifest.json"
LABEL_CONFIG = "label_config.json"
UNITS_DIR = "units"

__all__ = [
    "LABEL_CONFIG", "MANIFEST", "UNITS_DIR", "LabelLookup", "check_attributes", "claim_directory", "labelled_count",
    "load_manifest", "read_labels", "read_unit", "unit_done", "unit_paths", "write_manifest", "write_unit",
]


# ---------------------------------------------------------------- per-unit sidecars
def unit_paths(label_dir: str | Path, unit: str) -> tuple[Path, Path]:
    """(``units/<unit>.csv``, ``units/<unit>.done.json``) of one unit."""
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


def labelled_count(label_dir: str | Path, unit: str) -> int | None:
    """Samples labelled in a finished unit; None when the unit has no readable ``.done.json``."""
    _, done_path = unit_paths(label_dir, unit)
    if not done_path.is_file():
        return None
    try:
        with open(done_path) as handle:
            return int(json.load(handle).get("labelled", 0))
    except (OSError, ValueError):
        return None


def sample_count(label_dir: str | Path, unit: str) -> int | None:
    """Samples a finished unit holds: labelled plus skipped with a key (None without a readable ``.done.json``).

    Another label set of the same corpus that finished a unit knows that unit's size
    without reading its images (the labelling progress bar's total).
    """
    _, done_path = unit_paths(label_dir, unit)
    try:
        with open(done_path) as handle:
            done = json.load(handle)
        return int(done["labelled"]) + sum(1 for s in done["skipped"] if s.get("key"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def sibling_label_sets(out: str | Path, limit: int = 8) -> list[Path]:
    """Other label sets beside ``out`` (directories holding a ``label_config.json``), at most ``limit``."""
    out = Path(out)
    try:
        found = [d for d in sorted(out.parent.iterdir()) if d != out and (d / LABEL_CONFIG).is_file()]
    except OSError:
        return []
    return found[:limit]


# ---------------------------------------------------------------- label_config.json
def claim_directory(out: Path, ident: dict[str, Any], is_zero: bool) -> str:
    """Record what these labels are (``label_config.json``), or refuse to mix them with different ones.

    ``ident`` describes the teacher and its prompts; its hash is the label set's
    identity. Only rank 0 (``is_zero``) writes; every rank checks. Returns the hash.
    """
    digest = config_hash(ident)
    record = Path(out) / LABEL_CONFIG
    if record.is_file():
        with open(record) as handle:
            found = json.load(handle).get("config_hash")
        if found != digest:
            raise UserError(
                f"{out} already holds labels from a different teacher/prompt config (hash {found}, this run {digest}); "
                f"choose another out=... or delete that directory"
            )
    elif is_zero:
        atomic_write_json(record, {"config_hash": digest, **ident})
    return digest


# ---------------------------------------------------------------- manifest.json
def write_manifest(
    out: str | Path,
    units: Sequence[Unit],
    ident: Mapping[str, Any],
    digest: str,
    data: str,
    label_set: str | None = None,
    last_run: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``manifest.json`` from the committed units; refuses while any unit is unfinished.

    ``ident`` is what :func:`claim_directory` recorded (teacher description and
    prompts), ``digest`` its hash, ``data`` the corpus name and ``label_set``
    the label set's name (default: the teacher's). ``last_run`` (world size,
    speed, ...) describes the run that finished the set.
    """
    from iqa import __version__

    out = Path(out)
    entries, skipped, pending = [], [], []
    labelled = counted_skips = 0
    for unit in units:
        _, done_path = unit_paths(out, unit.name)
        if not done_path.is_file():
            pending.append(unit.name)
            continue
        with open(done_path) as handle:
            done = json.load(handle)
        unit_skips = done["skipped"]
        labelled += done["labelled"]
        counted_skips += sum(1 for s in unit_skips if s.get("key"))
        skipped += [{"source": s["source"], "reason": s["reason"]} for s in unit_skips]
        entries.append({**unit.describe(), "labelled": done["labelled"], "skipped": len(unit_skips)})
    if pending:
        raise UserError(f"{len(pending)} unit(s) were not finished (e.g. {pending[:3]}); rerun the same command to resume")
    teacher = dict(ident["teacher"])
    manifest = {
        "attiqa_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "data": data,
        "teacher": {**teacher, "label_set": teacher.get("name") if label_set is None else label_set},
        "attributes": teacher["attributes"],
        "prompts": ident["prompts"],
        "counts": {"labelled": labelled, "skipped": counted_skips, "units": len(entries)},
        "skipped": skipped,
        "units": entries,
        "config_hash": digest,
    }
    if last_run:
        manifest["last_run"] = dict(last_run)
    atomic_write_json(out / MANIFEST, manifest)
    return manifest


def load_manifest(label_dir: str | Path) -> dict[str, Any]:
    """The manifest of a finished label set; a clear error for a missing or unfinished one."""
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


# ---------------------------------------------------------------- readers
def read_labels(label_dir: str | Path) -> pd.DataFrame:
    """All pseudo-labels of a finished label set: columns ``key``, ``source``, ``unit`` and one per attribute."""
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
