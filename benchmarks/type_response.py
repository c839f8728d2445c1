"""Does a checkpoint's quality score respond to each distortion type at all, and could its ladders be ordered?

A low within-ladder SRCC has two readings: the distortion barely moves the score (the
model does not see it), or the ladder cannot be ordered from the image (its levels are not
graded). This check scores the KADID-10k ladders of a photo split together with each
ladder's clean reference crop and reports, per type:

- ``srcc``: the quality score's mean within-ladder Spearman correlation with the level
  (signed: +1 = every ladder in the right order), as ``iqa heldout`` reports it;
- ``fr_srcc``: the same for the mean squared error to the reference crop, a full-reference
  measure that sees the clean image: how far the ladders' levels are ordered at all;
- ``response``: the median over ladders of score(reference) - score(level 5), in units of
  the spread (standard deviation) of the scores of the clean references. Near 0: level 5
  leaves the score where the clean crop has it; 1: it moves it as much as one clean photo
  differs from another.

``--split tune`` (the default) is for choices. ``--split train`` shows whether a type is
learnt at all: the train photos' ladders, at the corpus's stored size, are what fine-tuning
fits (other crops and draws than the corpus's). The test split is not offered: it is scored
once per recipe version, by ``iqa heldout``.

    python benchmarks/type_response.py --ckpt mine=outputs/offline/finetune-attiqa/checkpoints/last.ckpt \\
        --types non_eccentricity_patch,gaussian_blur --out outputs/type-response.json

The tune ladders are the ones ``iqa heldout --split tune --family kadid --crops-per-photo 1
--size 192`` builds (shared cache, built on first use); their references go beside them.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from iqa.errors import UserError, one_line_errors  # noqa: E402
from iqa.evaluation import heldout  # noqa: E402

#: The corpus's stored size (``data.prepare.size`` of ``data=offline``): train ladders are built at it.
TRAIN_SIZE = 160


def responses(scores: Sequence[float], mse: Sequence[float], items: Sequence[heldout.Item],
              reference: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Per type: ``srcc``, ``fr_srcc``, ``response`` and ``ladders`` (see the module docstring).

    ``scores`` and ``mse`` are per item (the distorted images, levels 1-5); ``reference`` maps
    each crop id to its clean reference's score.
    """
    scores, mse = np.asarray(scores, dtype=float), np.asarray(mse, dtype=float)
    if len(scores) != len(items) or len(mse) != len(items):
        raise ValueError(f"{len(items)} items, {len(scores)} scores, {len(mse)} errors")
    spread = float(np.std(list(reference.values())))
    levels = np.array([it.level for it in items], dtype=float)
    ladders = np.array([f"{it.crop}/{it.distortion}" for it in items])
    ids = np.unique(ladders)  # within_ladder_srcc's order
    quality = heldout.within_ladder_srcc(scores, levels, ladders)
    full_reference = heldout.within_ladder_srcc(-mse, levels, ladders)
    worst = {f"{it.crop}/{it.distortion}": reference[it.crop] - s for it, s in zip(items, scores) if it.level == max(levels)}
    out: dict[str, dict[str, float]] = {}
    for dist in dict.fromkeys(it.distortion for it in items):
        mask = np.array([i.split("/", 1)[1] == dist for i in ids])
        drops = [worst[i] for i in ids[mask]]
        out[dist] = {"srcc": float(np.nanmean(quality[mask])), "fr_srcc": float(np.nanmean(full_reference[mask])),
                     "response": float(np.median(drops)) / spread if spread > 0 else float("nan"), "ladders": int(mask.sum())}
    return out


def table(results: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    """Markdown: one row per type; per checkpoint its SRCC and response; the full-reference SRCC once."""
    names = list(results)
    lines = ["| type | full-reference SRCC | " + " | ".join(f"{n} SRCC | {n} response" for n in names) + " |",
             "|---|---|" + "---|---|" * len(names)]
    if not names:
        return "\n".join(lines)
    for dist, row in results[names[0]].items():
        cells = " | ".join(f"{results[n][dist]['srcc']:.3f} | {results[n][dist]['response']:+.2f}" for n in names)
        lines.append(f"| {dist} | {row['fr_srcc']:.3f} | {cells} |")
    return "\n".join(lines)


def reference_files(folder: Path, names: Sequence[str], size: int, seed: int, load) -> dict[str, str]:
    """Each photo's clean reference crop (the crop its ladders were made from), written once as PNG: ``{crop id: path}``."""
    from PIL import Image

    from iqa import distortions

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names:
        path = folder / f"{name}-00.png"
        if not path.is_file():
            crop = heldout.reference_crops(load(name), 1, size, np.random.default_rng([seed, zlib.crc32(name.encode())]))[0]
            Image.fromarray(distortions.to_uint8(crop)).save(path, compress_level=1)
        out[f"{name}-00"] = str(path)
    return out


def squared_errors(items: Sequence[heldout.Item], references: Mapping[str, str]) -> np.ndarray:
    """Mean squared error (8-bit values) of each ladder image to its reference crop."""
    from PIL import Image

    cache: dict[str, np.ndarray] = {}

    def read(path: str) -> np.ndarray:
        return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)

    out = []
    for it in items:
        if it.crop not in cache:
            cache[it.crop] = read(references[it.crop])
        out.append(float(((read(it.path) - cache[it.crop]) ** 2).mean()))
    return np.asarray(out)


def run(args: argparse.Namespace) -> dict:
    from iqa.data import photos as registry

    fam = heldout.family(heldout.CARD_FAMILY)
    types = [t.strip() for t in args.types.split(",") if t.strip()] if args.types else None
    unknown = [t for t in types or () if t not in fam.types]
    if unknown:
        raise UserError(f"--types: unknown type(s) {', '.join(unknown)}; valid: {', '.join(fam.types)}")
    checkpoints = heldout.check_checkpoints(heldout.parse_checkpoints(args.ckpt))
    if args.split == "train":
        names = sorted(p.name for p in registry.photos("train"))[: args.photos]
        size = TRAIN_SIZE
    else:
        names = heldout.split_photos(args.split)[: args.photos]
        size = heldout.CARD_SIZE
    settings, items = heldout.ladder_items(Path(args.cache), names, heldout.CARD_CROPS_PER_PHOTO, size, heldout.CARD_SEED,
                                           types=types, load=registry.load_photo, fam=fam)
    references = reference_files(Path(args.cache) / f"ladders-{settings}" / "references", names, size, heldout.CARD_SEED,
                                 registry.load_photo)
    mse = squared_errors(items, references)
    crops = list(references)
    results = {}
    for name, ckpt in checkpoints.items():
        start = time.perf_counter()
        try:
            frame = heldout.checkpoint_frame(ckpt, [*items, *(heldout.Item(c, c, c, "reference", 0, references[c]) for c in crops)],
                                             args.batch_size, args.device)
        except RuntimeError as error:  # unreadable images
            raise UserError(f"{name}: {error}") from None
        scores = frame["quality_norm"].to_numpy(dtype=float)
        results[name] = responses(scores[: len(items)], mse, items, dict(zip(crops, scores[len(items):])))
        print(f"  {name}: {len(items) + len(crops)} images ({time.perf_counter() - start:.1f} s)", flush=True)
    record = {"split": args.split, "settings": settings, "photos": len(names), "size": size, "checkpoints": checkpoints,
              "results": results}
    heldout.report_check(f"Quality response on the {args.split} split's KADID ladders ({len(names)} photos, {size} px, "
                         f"ladders {settings})", table(results), record, args.out)
    return record


def main(argv=None) -> int:
    parser = heldout.ladder_check_parser(__doc__, ("tune", "train"))
    parser.add_argument("--types", default=None, help="comma list of KADID types (default all 25)")
    parser.add_argument("--photos", type=int, default=None, help="only the first N photos of the split")
    args = parser.parse_args(argv)
    if args.photos is not None and args.photos < 2:
        parser.error(f"--photos: at least 2 (the response is scaled by the references' spread), got {args.photos}")
    one_line_errors(lambda: run(args))()
    return 0


if __name__ == "__main__":
    sys.exit(main())
