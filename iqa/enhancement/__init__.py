"""Image enhancement trained with attiqa as the objective (``train.py stage=enhance``, ``iqa enhance``).

* :mod:`iqa.enhancement.models`: the enhancers (a Zero-DCE-style curve estimator, a small U-Net),
  and how an enhancer checkpoint is written and read back;
* :mod:`iqa.enhancement.data`: unpaired degraded training images and held-out pairs with references;
* :mod:`iqa.enhancement.objective`: the attiqa loss plus the regularisers that keep outputs faithful;
* :mod:`iqa.enhancement.report`: validation metrics, the independent classical-teacher check, the grid.

The stage's LightningModule is :class:`iqa.modules.enhance.EnhanceModule`; docs/enhancement.md explains it all.
"""
