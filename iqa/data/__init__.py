"""Data: corpora and label sidecars for pretraining, MOS datasets for fine-tuning and evaluation.

``iqa.data.open_dataset(name, root, split=None)`` reads a MOS dataset in its
official layout (see :mod:`iqa.data.datasets`); it is imported lazily so that
the light modules of this package stay light.
"""

from typing import Any

__all__ = ["open_dataset"]


def __getattr__(name: str) -> Any:
    if name == "open_dataset":
        from iqa.data.datasets import open_dataset

        return open_dataset
    raise AttributeError(f"module 'iqa.data' has no attribute {name!r}")
