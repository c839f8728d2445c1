"""Do a checkpoint's attribute heads still see what they were pretrained to see?

Scores the KADID-10k ladders of a photo split (``--split tune`` by default: choosing
with this check is a tuning decision) with each checkpoint, and for every distortion type
that moves one attribute (:data:`iqa.kadid.ATTRIBUTE`: blurs lower sharpness, noises raise
noisiness, darkening lowers brightness, ...) reports the mean within-ladder Spearman
correlation between that attribute's head and the level, signed so that +1 means the head
moves exactly the way the distortion moves the attribute and a negative value means it is
inverted (:func:`iqa.evaluation.heldout.attribute_ladders`). Fine-tuning the whole network
on quality can pull the attribute heads away from their pretraining; ``iqa score``,
``iqa.QualityLoss`` and the enhancer's ceilings read them, so check before shipping.

    python benchmarks/attribute_heads.py --ckpt mine=outputs/offline/finetune-attiqa/checkpoints/last.ckpt \\
        --ckpt other=outputs/seed1/offline/finetune-attiqa/checkpoints/last.ckpt --out outputs/attribute-heads.json

The ladders are the ones ``iqa heldout --split tune --family kadid --crops-per-photo 1 --size 192``
builds (shared cache, built on first use).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from iqa.errors import UserError, one_line_errors  # noqa: E402
from iqa.evaluation import heldout  # noqa: E402


def table(results: dict[str, dict[str, dict]]) -> str:
    """Markdown: one row per distortion type, one column per checkpoint, then each attribute's mean."""
    names = list(results)
    lines = ["| type | attribute | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    if not names:
        return "\n".join(lines)
    first = results[names[0]]
    for t, row in first.items():
        lines.append(f"| {t} | {row['attribute']} | " + " | ".join(f"{results[n][t]['srcc']:+.2f}" for n in names) + " |")
    for attribute in sorted({row["attribute"] for row in first.values()}):
        means = [np.mean([v["srcc"] for v in results[n].values() if v["attribute"] == attribute]) for n in names]
        lines.append(f"| **mean** | {attribute} | " + " | ".join(f"{m:+.2f}" for m in means) + " |")
    means = [np.mean([v["srcc"] for v in results[n].values()]) for n in names]
    lines.append("| **mean, all types** | | " + " | ".join(f"{m:+.2f}" for m in means) + " |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict:
    from iqa.attributes import ATTRIBUTES
    from iqa.checkpoints import read_meta

    checkpoints = heldout.check_checkpoints(heldout.parse_checkpoints(args.ckpt))
    names = heldout.split_photos(args.split)
    for name, ckpt in checkpoints.items():  # before any ladder is built
        if not read_meta(ckpt).attributes_trained:
            raise UserError(f"{name}: {ckpt} has no trained attribute heads (an ImageNet-only or quality-only checkpoint)")
    settings, items = heldout.ladder_items(Path(args.cache), names, heldout.CARD_CROPS_PER_PHOTO, heldout.CARD_SIZE,
                                           heldout.CARD_SEED, fam=heldout.family(heldout.CARD_FAMILY))
    results = {}
    for name, ckpt in checkpoints.items():
        start = time.perf_counter()
        try:
            frame = heldout.checkpoint_frame(ckpt, items, args.batch_size, args.device)
        except RuntimeError as error:  # unreadable ladder images
            raise UserError(f"{name}: {error}") from None
        results[name] = heldout.attribute_ladders({a: frame[a].to_numpy(dtype=float) for a in ATTRIBUTES}, items)
        mean = np.mean([v["srcc"] for v in results[name].values()])
        print(f"  {name}: mean {mean:+.3f} over {len(results[name])} types ({time.perf_counter() - start:.1f} s)", flush=True)
    record = {"split": args.split, "settings": settings, "photos": len(names), "checkpoints": checkpoints, "results": results}
    heldout.report_check(f"Attribute heads on the {args.split} split's KADID ladders ({len(names)} photos, ladders {settings})",
                         table(results), record, args.out)
    return record


def main(argv=None) -> int:
    parser = heldout.ladder_check_parser(__doc__, ("tune", "test"))
    args = parser.parse_args(argv)
    one_line_errors(lambda: run(args))()
    return 0


if __name__ == "__main__":
    sys.exit(main())
