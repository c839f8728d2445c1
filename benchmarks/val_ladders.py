"""Seen-type distortion ladders on the offline recipe's *validation* photos: the split to tune the recipe on.

The held-out ladders (``iqa heldout``) are for reporting only; see
:func:`iqa.evaluation.heldout.validation_ladders` for the construction.

    python benchmarks/val_ladders.py --ckpt ridge=outputs/offline/finetune-attiqa/checkpoints/last.ckpt
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from iqa.errors import one_line_errors  # noqa: E402
from iqa.evaluation.heldout import VALIDATION_CACHE, parse_checkpoints, validation_ladders  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--photos", nargs="+", default=None, help="validation photos (default: the offline recipe's)")
    for option, default in (("--crops-per-photo", 12), ("--size", 288), ("--seed", 0), ("--batch-size", 32)):
        parser.add_argument(option, type=int, default=default)
    parser.add_argument("--cache", type=Path, default=VALIDATION_CACHE)
    args = parser.parse_args(argv)
    one_line_errors(lambda: validation_ladders(parse_checkpoints(args.ckpt), photos=args.photos, crops_per_photo=args.crops_per_photo,
                                               size=args.size, seed=args.seed, batch_size=args.batch_size, cache=args.cache))()
    return 0


if __name__ == "__main__":
    sys.exit(main())
