"""Data: corpora and label sets for pretraining, MOS datasets for fine-tuning and evaluation.

One module per job:

* :mod:`iqa.data.corpus` -- image corpora (tar shards, folders) cut into units;
* :mod:`iqa.data.images` -- decoding any image file robustly;
* :mod:`iqa.data.label_stream` -- streaming units to a teacher for labelling;
* :mod:`iqa.data.label_sets` -- the pseudo-label set format (writer and readers);
* :mod:`iqa.data.streaming` -- streaming a corpus joined with its labels for pretraining;
* :mod:`iqa.data.records` -- MOS-annotated images as records, and reading them;
* :mod:`iqa.data.datasets` -- MOS datasets in their published layouts;
* :mod:`iqa.data.splits` -- train / val / test splits (pure functions);
* :mod:`iqa.data.catalog` -- ``data`` configs to datasets and splits; ``open_dataset``, ``list_datasets``;
* :mod:`iqa.data.synthetic` -- the offline demo corpus and a synthetic KADID-layout set;
* :mod:`iqa.data.datamodules` -- the LightningDataModules (the only Lightning import here).

``iqa.data.open_dataset`` and ``iqa.data.list_datasets`` are the same functions
as ``iqa.open_dataset`` and ``iqa.list_datasets``, imported lazily so that the
light modules of this package stay light.
"""

import importlib as _importlib

_LAZY = {"open_dataset": "iqa.data.catalog", "list_datasets": "iqa.data.catalog"}

__all__ = list(_LAZY)


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(_importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'iqa.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    """Public names, including the lazy ones not imported yet (for completion and ``help``)."""
    return sorted(n for n in set(globals()) | set(_LAZY) if not n.startswith("_") or n.startswith("__"))
