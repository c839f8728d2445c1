"""Seen-type distortion ladders on the offline recipe's *validation* photo: the split to tune the recipe on.

The held-out benchmark (``heldout_ladders.py``) is for reporting only. Choices
of the recipe (fine-tuning protocol, budgets) are made on these ladders
instead: the same construction (random square crops resized to ``--size``
px, one ladder per type at levels 1..5, the same metrics) but on the
validation photos of :mod:`iqa.data.offline` (train-role photos, checked by
:func:`iqa.data.photos.trainable`, which no training split of the recipe
uses) and on the seen distortion types only, so the unseen types stay unseen
during tuning as well.

    python benchmarks/val_ladders.py --ckpt ridge=outputs/offline/finetune-attiqa/checkpoints/last.ckpt
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import heldout_ladders as ladders  # noqa: E402

from iqa.data import offline  # noqa: E402
from iqa.data import photos as registry  # noqa: E402


def load_validation_photo(name: str):
    """A validation photo, refused unless it is a train-role photo (never a held-out one)."""
    return registry.load_photo(registry.trainable(name).name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--photos", nargs="+", default=list(offline.VAL_PHOTOS))
    parser.add_argument("--crops-per-photo", type=int, default=12)
    parser.add_argument("--size", type=int, default=288)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--cache", type=Path, default=ROOT / "outputs" / "val_ladders")
    args = parser.parse_args(argv)
    checkpoints = ladders.parse_checkpoints(args.ckpt)  # before the ladders are built: a typo fails at once
    _, items = ladders.ladder_items(args.cache, args.photos, args.crops_per_photo, args.size, args.seed, types=ladders.SEEN,
                                    load=load_validation_photo)
    rows = {}
    for name, path in checkpoints.items():
        rows[name] = ladders.score_checkpoint(path, items, args.batch_size)
        summary, per_type = rows[name]["summary"], rows[name]["per_type"]
        print(f"{name}: seen {summary['seen']:.3f}, global SRCC {summary['global_srcc']:.3f}, pairwise {summary['pairwise']:.3f}; "
              + ", ".join(f"{t} {v:.2f}" for t, v in per_type.items()), flush=True)
    (args.cache / "last.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
