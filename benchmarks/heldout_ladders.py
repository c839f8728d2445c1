"""Held-out distortion ladders: ``iqa heldout`` (the library is :mod:`iqa.evaluation.heldout`).

    python benchmarks/heldout_ladders.py --photo-dir ~/refs --ckpt mine=path/to/last.ckpt   # = iqa heldout ...
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from iqa.cli.heldout import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
