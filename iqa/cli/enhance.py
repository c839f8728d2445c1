"""``iqa enhance PATH... --ckpt enhancer.ckpt --out OUTDIR``: apply a trained enhancer to images.

The command line of :func:`iqa.enhancement.apply.enhance` (its docstring and docs/enhancement.md say
what is written, and how 16-bit, greyscale and alpha inputs come out). Unreadable files are listed at the
end and in ``OUTDIR/enhance_errors.csv``; they never stop the run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="iqa enhance", description="Enhance images (files or folders, recursive) with a trained "
                                "enhancer (train.py stage=enhance); writes them in their original size and format.")
    p.add_argument("paths", nargs="+", help="image files and/or folders (searched recursively)")
    p.add_argument("--ckpt", required=True, help="enhancer checkpoint (<run dir>/checkpoints/last.ckpt or best.ckpt of stage=enhance)")
    p.add_argument("--out", required=True, help="output folder (relative paths below the input folders are kept)")
    p.add_argument("--batch-size", type=int, default=8, help="images of the same size per forward pass (default: 8)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    p.add_argument("--max-pixels", type=int, default=16_000_000,
                   help="pixels per forward pass: fewer images go together when they are large (default: 16000000)")
    p.add_argument("--curve-pixels", type=int, default=1_000_000,
                   help="zero_dce: estimate the curves on a copy of at most this many pixels and upsample them "
                        "(the curves are smooth; 0: at full size; default: 1000000)")
    p.add_argument("--overwrite", action="store_true", help="replace files that already exist in --out")
    return p


def run(args: argparse.Namespace) -> int:
    from iqa.enhancement.apply import enhance

    report = enhance(args.paths, args.ckpt, args.out, device=args.device, batch_size=args.batch_size, max_pixels=args.max_pixels,
                     curve_pixels=args.curve_pixels, overwrite=args.overwrite, progress=True)
    for path, reason in sorted(report.skipped.items()):
        print(f"  unreadable: {path}: {reason}", file=sys.stderr)
    listed = f", listed in {report.errors_csv}" if report.errors_csv else ""
    note = f", {len(report.existing)} already in {report.out} (--overwrite replaces them)" if report.existing else ""
    print(f"enhanced {len(report.written)} images in {report.seconds:.1f}s -> {report.out} "
          f"({len(report.skipped)} unreadable{listed}{note})")
    return 0 if report.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    from iqa.errors import one_line_errors

    args = parser().parse_args(argv)
    return one_line_errors(run)(args)


if __name__ == "__main__":
    sys.exit(main())
