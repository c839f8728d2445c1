"""Image enhancement trained with attiqa as the objective (``train.py stage=enhance``, ``iqa enhance``).

* :mod:`iqa.enhancement.apply`: applying a trained enhancer to files and folders, from Python
  (``iqa.enhancement.enhance(paths, ckpt, out)``, :class:`~iqa.enhancement.apply.Enhancer`) or ``iqa enhance``;
* :mod:`iqa.enhancement.models`: the enhancers (a Zero-DCE-style curve estimator, a small U-Net),
  and how an enhancer checkpoint is written and read back;
* :mod:`iqa.enhancement.data`: unpaired degraded training images and held-out pairs with references;
* :mod:`iqa.enhancement.objective`: the attiqa loss plus the regularisers that keep outputs faithful;
* :mod:`iqa.enhancement.report`: validation metrics, the independent classical-teacher check, the grid.

The stage's LightningModule is :class:`iqa.modules.enhance.EnhanceModule`; docs/enhancement.md explains it all.
The names below are imported on first use, so importing this package loads no torch.
"""

import importlib as _importlib

#: Public name -> the module defining it, imported on first use.
_LAZY = {"enhance": "iqa.enhancement.apply", "Enhancer": "iqa.enhancement.apply", "EnhanceReport": "iqa.enhancement.apply"}

__all__ = list(_LAZY)


def __getattr__(name: str) -> object:
    if name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'iqa.enhancement' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
