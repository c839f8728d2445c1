"""attiqa: attribute-aware no-reference image quality assessment (ATTIQA)."""

from iqa.attributes import ATTRIBUTES

__version__ = "0.1.0"

__all__ = ["ATTRIBUTES", "__version__"]

import iqa.config  # noqa: E402,F401  (registers the OmegaConf resolvers used in conf/)
