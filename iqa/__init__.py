"""attiqa: attribute-aware no-reference image quality assessment (ATTIQA).

The public Python API, flat and lazily imported (``import iqa`` loads neither
torch nor Lightning nor Hydra; each function pulls in only what it needs):

``iqa.load(ckpt)``
    A :class:`~iqa.inference.QualityModel`; ``.score(paths_or_tensors)`` gives
    quality (on the fine-tuning dataset's MOS scale) and the five attribute
    scores. Scoring never imports Lightning or Hydra.
``iqa.QualityLoss(ckpt, quality=1.0, attributes={"brightness": "raise"})``
    A checkpoint as a differentiable loss, lower is better (also
    ``iqa.load(ckpt).as_loss(...)``): frozen network, gradients to the input
    only, preprocessing that matches ``score()`` (:mod:`iqa.quality_loss`).
``iqa.evaluate(checkpoints, datasets)``
    SRCC / PLCC / KRCC of checkpoints on test sets, as ``evaluate.py`` computes
    them, without Hydra (:mod:`iqa.evaluation`).
``iqa.read_labels(label_dir)``
    A pseudo-label set written by ``label.py`` as a table: ``key``, ``source``,
    ``unit`` and one column per attribute (:mod:`iqa.data.label_sets` owns the
    layout).
``iqa.open_dataset(name, root, split=None)``
    The records (``path``, ``mos``, ...) of a MOS dataset in its official layout
    (:mod:`iqa.data.catalog`).
``iqa.list_datasets()``
    The MOS datasets the ``data`` configs declare, with their MOS range and
    direction.
``iqa.rank(groups, ckpt=...)``
    Rank groups of images (one folder per image generator, a CSV with
    ``path``/``group``/``prompt``, or a dataset) by predicted quality: bootstrap
    CIs, win rates, paired tests with Holm's correction, the attribute behind
    each difference, and agreement with MOS where there is one
    (:mod:`iqa.ranking`; scores cached per image).
``iqa.enhance(paths, ckpt, out)``
    Enhance image files or folders with a trained enhancer (``stage=enhance``):
    same size, format and bit depth, written atomically; unreadable files are
    skipped with a reason (:mod:`iqa.enhancement.apply`).
"""

import importlib as _importlib
import importlib.abc as _abc
import importlib.util as _util
import sys as _sys
import warnings as _warnings

from iqa.attributes import ATTRIBUTES

__version__ = "0.1.0"

#: Public name -> the module defining it, imported on first use.
_LAZY = {
    "load": "iqa.inference",
    "QualityLoss": "iqa.quality_loss",
    "evaluate": "iqa.evaluation",
    "read_labels": "iqa.data.label_sets",
    "open_dataset": "iqa.data.catalog",
    "list_datasets": "iqa.data.catalog",
    "rank": "iqa.ranking",
    "enhance": "iqa.enhancement.apply",
}

__all__ = ["ATTRIBUTES", "__version__", *_LAZY]


#: Module paths of earlier versions -> where that code lives now. Importing an old path gives the
#: new module (with a DeprecationWarning), so code and configs (``_target_``) written for them keep working.
MOVED_MODULES = {
    "iqa.prompts": "iqa.teachers.prompts",
    "iqa.prompt_selection": "iqa.teachers.prompt_selection",
    "iqa.data.offline": "iqa.data.offline_corpus",
    "iqa.demo": "iqa.cli.recipes",
    "iqa.offline": "iqa.cli.recipes",
    "iqa.cli.train": "iqa.training",
    "iqa.cli.label": "iqa.teachers.labelling",
    "iqa.cli.launch": "iqa.config",
    "iqa.cli.select_prompts": "iqa.teachers.select_prompts",
    "iqa.reports": "iqa.evaluation.reports",
    "iqa.ranking_reports": "iqa.ranking.reports",
    "iqa.ranking_demo": "iqa.ranking.demo",
}


class _MovedModuleFinder(_abc.MetaPathFinder, _abc.Loader):
    """Resolves the old paths of :data:`MOVED_MODULES` to the modules that replaced them."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: ARG002  (the finder protocol)
        return _util.spec_from_loader(fullname, self) if fullname in MOVED_MODULES else None

    def create_module(self, spec):
        _warnings.warn(f"{spec.name} is now {MOVED_MODULES[spec.name]}", DeprecationWarning, stacklevel=2)
        module = _importlib.import_module(MOVED_MODULES[spec.name])
        spec.loader_state = module.__spec__  # the import system sets __spec__ to the old path's; exec_module puts it back
        return module

    def exec_module(self, module):
        module.__spec__ = module.__spec__.loader_state


if not any(isinstance(f, _MovedModuleFinder) for f in _sys.meta_path):
    _sys.meta_path.append(_MovedModuleFinder())


def __getattr__(name: str) -> object:
    if name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'iqa' has no attribute {name!r}")


def __dir__() -> list[str]:
    """Public names, including the lazy ones not imported yet (for completion and ``help``)."""
    return sorted(n for n in set(globals()) | set(_LAZY) if not n.startswith("_") or n.startswith("__"))
