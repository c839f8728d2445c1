"""``iqa score PATH... [--ckpt CKPT] [--batch-size N] --out scores.csv``: score images with a trained model.

Files and folders (searched recursively for images) are scored in batches with
a progress bar. The CSV has one row per image, in input order: ``path``,
``quality`` (MOS scale of the checkpoint's fine-tuning dataset, clipped to it),
``quality_norm`` (0..1, 1 best, unclipped), the five raw attribute scores and
their percentiles when the checkpoint is calibrated (both only when its
attribute heads were trained on attribute labels), and ``error`` (empty, or why the image could not be
read: unreadable files never stop the run). Beside it, ``<name>.meta.json``
records each column's range and direction, the checkpoint and the view.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from iqa.errors import UserError
from iqa.inference import CKPT_ENV, DEMO_CKPT, default_checkpoint, plan_threads, resolve_checkpoint  # noqa: F401  (re-exported)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="iqa score",
        description="Score images (files or folders, recursive) with a trained attiqa checkpoint; writes a CSV.",
        epilog="Columns, ranges and directions: docs/evaluation.md (and <out>.meta.json beside the CSV).",
    )
    p.add_argument("paths", nargs="+", help="image files and/or folders (searched recursively)")
    p.add_argument("--ckpt", help=f"checkpoint file or shipped model name (default: ${CKPT_ENV}, else the shipped default model; "
                                   f"iqa models)")
    p.add_argument("--out", default="scores.csv", help="output CSV (default: scores.csv)")
    p.add_argument("--batch-size", type=int, default=32, help="images per forward pass (default: 32)")
    p.add_argument("--num-workers", type=int, default=None,
                   help="decoding processes (default: on a GPU min(8, CPUs); on the CPU 0 up to 4 cores, else CPUs/4)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    p.add_argument("--image-size", type=int, default=None, help="short side in px (default: the checkpoint's training size)")
    p.add_argument("--policy", choices=("resize", "tiles"), default=None,
                   help="resize: whole image at --image-size; tiles: mean over a grid of --crop-size tiles "
                        "(default: the view the checkpoint recorded, else resize)")
    p.add_argument("--crop-size", type=int, default=None, help="centre crop (resize) or tile side (tiles, default 224)")
    p.add_argument("--max-side", type=int, default=None, help="cap on the long side after resizing (default: 4 x image size)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _format(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6f}"
    return str(value)


def write_scores(frame, out: Path, meta: dict) -> Path:
    """Write the CSV and its ``.meta.json`` atomically (tmp file + rename)."""
    import csv

    from iqa.io import atomic_write_json, atomic_write_text

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(list(frame.columns))
    for row in frame.itertuples(index=False):
        writer.writerow([_format(v) for v in row])
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, buffer.getvalue())
    meta_path = out.with_name(f"{out.stem}.meta.json")
    atomic_write_json(meta_path, meta)
    return meta_path


def run(args: argparse.Namespace) -> int:
    from iqa.inference import default_device, expand_paths, load

    ckpt = resolve_checkpoint(args.ckpt)
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    missing = [p for p in args.paths if not Path(os.path.expanduser(p)).exists()]
    if missing:
        raise UserError(f"input path{'s' if len(missing) > 1 else ''} not found: {', '.join(missing)}")
    device = None if args.device == "auto" else args.device
    model = load(ckpt, image_size=args.image_size, policy=args.policy, crop_size=args.crop_size, max_side=args.max_side, device=device)
    paths = expand_paths(args.paths)
    if not paths:
        raise UserError(f"no images found in {' '.join(args.paths)}")
    if not model.quality_trained:
        print(f"warning: {ckpt} is a pretraining checkpoint: the quality column stays empty (attributes only)", file=sys.stderr)
    if not model.attributes_trained:
        print(f"note: {ckpt} starts from init={model.meta.init}: its attribute heads never saw an attribute label, "
              f"so the attribute columns are left out", file=sys.stderr)
    import torch

    device = model.device or default_device()
    workers, threads = plan_threads(args.num_workers, device.type)
    if device.type == "cpu":
        torch.set_num_threads(threads)
    view = model.view
    print(f"scoring {len(paths)} images with {ckpt} on {device} ({workers} decoding workers, {threads} torch threads): "
          f"view {view.policy}, short side {view.image_size} px{f', crop {view.crop_size} px' if view.crop_size else ''}, "
          f"long side capped at {view.max_side or 4 * view.image_size} px{'' if view.upscale else ', never enlarged'}",
          file=sys.stderr, flush=True)
    started = time.perf_counter()
    frame = model.score(paths, batch_size=args.batch_size, num_workers=workers, progress=not args.no_progress)
    seconds = time.perf_counter() - started
    failed = int((frame["error"] != "").sum())
    not_images = int(frame["error"].str.endswith("not an image").sum())
    meta = {
        "checkpoint": str(ckpt),
        "trained_on": model.hparams.get("data"),
        "stage": model.hparams.get("stage"),
        "attributes_trained": model.attributes_trained,
        "view": {"policy": model.view.policy, "image_size": model.view.image_size, "crop_size": model.view.crop_size,
                 "max_side": model.view.max_side or 4 * model.view.image_size, "upscale": model.view.upscale},
        "columns": model.columns(),
        "images": len(frame),
        "unreadable": failed,
        "not_images": not_images,
    }
    out = Path(args.out)
    meta_path = write_scores(frame, out, meta)
    rate = (len(frame) - failed) / seconds if seconds > 0 else float("inf")
    print(f"scored {len(frame) - failed} images ({failed} unreadable, of which {not_images} not an image; listed in the error column) "
          f"in {seconds:.1f}s ({rate:.1f} img/s) -> {out} (columns: {meta_path})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from iqa.errors import one_line_errors

    args = parser().parse_args(argv)
    return one_line_errors(run)(args)


if __name__ == "__main__":
    sys.exit(main())
