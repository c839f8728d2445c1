"""``iqa heldout``: the held-out distortion ladders (:mod:`iqa.evaluation.heldout`) from the command line.

    iqa heldout                                         # make model's and make demo's checkpoints if built, peers, teacher
    iqa heldout --ckpt mine=path/to/last.ckpt --out outputs/heldout
    iqa heldout --photo-dir ~/refs --ckpt mine=path/to/last.ckpt   # your own reference photos
    iqa heldout --family kadid --ckpt mine=path/to/last.ckpt       # the 25 KADID-10k types
    iqa heldout --split test --family kadid --crops-per-photo 2    # the test split (iqa photos fetch --split test first)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

OUT = Path("outputs") / "heldout"  # = iqa.evaluation.heldout.DEFAULT_OUT; not imported so that --help stays instant


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iqa heldout", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Held-out distortion ladders: attiqa checkpoints against BRISQUE, NIQE and the classical teacher.\n\n"
                    "Ladders (13 distortion types, 8 seen in training and 5 unseen, at levels 1..5) are built from the held-out "
                    "photos,\nor from your own with --photo-dir; peers need pip install 'attiqa[bench]'. See docs/heldout.md.",
        epilog=__doc__.split("\n\n")[1])
    parser.add_argument("--ckpt", action="append", default=[], metavar="NAME=PATH",
                        help="an attiqa checkpoint to score (repeatable); default: the fine-tuned checkpoints of make model and make demo, "
                             "where built")
    parser.add_argument("--photos", nargs="+", default=None, help="held-out photos to use (default: all installed held-out photos)")
    parser.add_argument("--split", choices=("tune", "test"), default=None,
                        help="every photo of this split of the photo registry (fetch them first: iqa photos fetch --split ...); "
                             "test: once per recipe version")
    parser.add_argument("--photo-dir", type=Path, default=None,
                        help="build the ladders from the photos in this folder instead (your own references, never trained on)")
    parser.add_argument("--family", choices=("attiqa", "kadid"), default="attiqa",
                        help="distortion family: attiqa (8 trained-on types + 5 unseen) or kadid (the 25 KADID-10k types)")
    parser.add_argument("--unseen", nargs="+", default=None, metavar="TYPE",
                        help="the family's types to report as unseen (default: the family's own list)")
    parser.add_argument("--bootstrap", type=int, default=4000, help="bootstrap resamples of photos for the intervals")
    parser.add_argument("--crops-per-photo", type=int, default=12)
    parser.add_argument("--size", type=int, default=288, help="reference crop side in px (NIQE needs more than 193)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-peers", action="store_true", help="skip BRISQUE and NIQE")
    parser.add_argument("--no-teacher", action="store_true", help="skip the classical teacher")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default=None, help="device for the checkpoints (default: CUDA if available)")
    parser.add_argument("--cache", type=Path, default=OUT / "cache", help="where the ladder images and peer scores are kept")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for heldout.md, *.csv, results.json")
    return parser


def run(argv: Sequence[str] | None = None) -> dict:
    """Parse ``argv`` and run :func:`iqa.evaluation.heldout.benchmark`; its report."""
    from iqa.evaluation.heldout import benchmark, parse_checkpoints

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    return benchmark(parse_checkpoints(args.ckpt) if args.ckpt else None, photos=args.photos, photo_dir=args.photo_dir,
                     crops_per_photo=args.crops_per_photo, size=args.size, seed=args.seed, peers=not args.no_peers,
                     teacher=not args.no_teacher, batch_size=args.batch_size, device=args.device, cache=args.cache, out=args.out,
                     command=" ".join(["iqa", "heldout", *argv]), distortion_family=args.family, unseen=args.unseen,
                     n_boot=args.bootstrap, split=args.split)


def main(argv: Sequence[str] | None = None) -> int:
    from iqa.errors import one_line_errors

    one_line_errors(run)(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
