"""attiqa: attribute-aware no-reference image quality assessment (ATTIQA).

``iqa.load(ckpt)`` returns a :class:`~iqa.inference.QualityModel`; its
``score(paths_or_tensors)`` gives quality and the five attribute scores. The
import is lazy, so ``import iqa`` stays cheap (no torch until it is needed).
"""

from typing import Any

from iqa.attributes import ATTRIBUTES

__version__ = "0.1.0"

__all__ = ["ATTRIBUTES", "__version__", "evaluate", "load"]

import iqa.config  # noqa: E402,F401  (registers the OmegaConf resolvers used in conf/)


def __getattr__(name: str) -> Any:
    if name == "load":
        from iqa.inference import load

        return load
    if name == "evaluate":
        from iqa.evaluation import evaluate

        return evaluate
    raise AttributeError(f"module 'iqa' has no attribute {name!r}")
