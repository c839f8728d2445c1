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
import zlib
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import heldout_ladders as ladders  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from iqa import distortions  # noqa: E402
from iqa.data import offline  # noqa: E402
from iqa.data import photos as registry  # noqa: E402


def build(folder: Path, names: Sequence[str], crops_per_photo: int, size: int, seed: int) -> list[ladders.Item]:
    """Seen-type ladders of the validation photos, written once under ``folder``."""
    items = []
    for name in names:
        photo = registry.load_photo(registry.trainable(name).name)
        crops = ladders.reference_crops(photo, crops_per_photo, size, np.random.default_rng([seed, zlib.crc32(name.encode())]))
        for index, crop in enumerate(crops):
            crop_id = f"{name}-{index:02d}"
            for dist in ladders.SEEN:
                for level in ladders.LEVELS:
                    key = f"{crop_id}-{dist}-{level}"
                    item = ladders.Item(key, crop_id, name, dist, level, str(folder / f"{key}.png"))
                    if not Path(item.path).is_file():
                        folder.mkdir(parents=True, exist_ok=True)
                        image = ladders.distort(crop, dist, level, np.random.default_rng([seed, zlib.crc32(key.encode())]))
                        Image.fromarray(distortions.to_uint8(image)).save(item.path, compress_level=1)
                    items.append(item)
    return items


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
    folder = args.cache / f"{'-'.join(args.photos)}-{args.crops_per_photo}-{args.size}-{args.seed}"
    items = build(folder, args.photos, args.crops_per_photo, args.size, args.seed)
    rows = {}
    for spec in args.ckpt:
        name, _, path = spec.partition("=")
        summary, per_type = ladders.summarise(ladders.checkpoint_scores(path, items, args.batch_size, None), items)
        rows[name] = {"summary": summary, "per_type": per_type}
        print(f"{name}: seen {summary['seen']:.3f}, global SRCC {summary['global_srcc']:.3f}, pairwise {summary['pairwise']:.3f}; "
              + ", ".join(f"{t} {v:.2f}" for t, v in per_type.items()), flush=True)
    (args.cache / "last.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
