"""Public access to pseudo-label sets written by ``label.py``.

    >>> from iqa.labels import read_labels
    >>> frame = read_labels("labels/demo/classical")   # key, source, unit, sharpness, ..., noisiness

A label set is a directory (``label.py out=<dir>``) of per-unit sidecars plus a
``manifest.json``; see :mod:`iqa.data.labels` for the layout. Pretraining joins
images with labels through the same functions (:class:`LabelLookup`), so what
``read_labels`` returns is exactly what the student is trained on.
"""

from __future__ import annotations

from iqa.data.labels import (
    LABEL_CONFIG,
    MANIFEST,
    UNITS_DIR,
    LabelLookup,
    check_attributes,
    load_manifest,
    read_labels,
    read_unit,
    unit_done,
    unit_paths,
)

__all__ = [
    "LABEL_CONFIG",
    "MANIFEST",
    "UNITS_DIR",
    "LabelLookup",
    "check_attributes",
    "load_manifest",
    "read_labels",
    "read_unit",
    "unit_done",
    "unit_paths",
]
