"""``iqa rank``: rank groups of images (one folder per image generator, ...) by predicted quality, with CIs.

    iqa rank gen_a/ gen_b/ gen_c/ --ckpt best.ckpt --out report/
    iqa rank --csv images.csv --ckpt best.ckpt            (columns path, group[, prompt | pair][, mos])
    iqa rank --dataset agiqa3k --root /data/agiqa3k --ckpt best.ckpt
    iqa rank --demo                                        (the offline demonstration, iqa/ranking/demo.py)

Argv parsing only: one flag per field of :class:`iqa.ranking.RankSettings`
(its defaults and help texts), run by :func:`iqa.ranking.run_rank` or
:func:`iqa.ranking.demo.run_demo`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import MISSING, fields
from pathlib import Path

from iqa.errors import UserError, suggest
from iqa.ranking.settings import RankSettings, demo_out


def flag(name: str) -> str:
    """The command-line spelling of a setting: ``min_group`` -> ``--min-group``, ``progress`` -> ``--no-progress``."""
    return "--no-progress" if name == "progress" else "--" + name.replace("_", "-")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="iqa rank",
        description="Rank groups of images (one folder per group, a CSV or a dataset) by predicted quality, with bootstrap CIs, "
                    "win rates, paired tests and the attributes behind each difference.",
        epilog="Settings and their defaults: iqa.ranking.RankSettings. Outputs and statistics: docs/ranking.md.",
    )
    p.add_argument("inputs", nargs="*", help="one folder per group (or files)")
    for f in fields(RankSettings):
        help_text = f.metadata["help"]
        if f.type == "bool":
            p.add_argument(flag(f.name), dest=f.name, action="store_false", default=argparse.SUPPRESS, help=f"do not {help_text}")
            continue
        if f.default is not MISSING and f.default is not None and "(default" not in help_text:
            help_text += f" (default: {f.default})"
        p.add_argument(flag(f.name), dest=f.name, type=f.metadata["parse"], metavar=f.metadata["metavar"], default=argparse.SUPPRESS,
                       help=help_text)
        if f.name == "cache":
            p.add_argument("--no-cache", dest="cache", action="store_const", const=None, default=argparse.SUPPRESS,
                           help="score everything, keep no cache")
    p.add_argument("--demo", action="store_true", help="the offline demonstration: degraded copies of the embedded photos as generators")
    return p


def parse(argv: Sequence[str] | None) -> tuple[RankSettings, list[str], bool]:
    """(settings, one folder or file per group, --demo) from the command line."""
    args = vars(parser().parse_intermixed_args(argv))  # folders may follow the flags
    inputs, demo = args.pop("inputs"), args.pop("demo")
    names = {f.name: f for f in fields(RankSettings)}
    for item in inputs:
        key, equals, value = item.partition("=")
        name = key.replace("-", "_")
        if not equals or not name.isidentifier() or Path(item).exists():
            continue
        if name in names:
            raise UserError(f"{item}: use {flag(name)}" + ("" if name == "progress" else f" {value}"))
        raise UserError(f"{item}: no such folder or file, and '{key}' is no setting{suggest(name, names)}; settings are --flags")
    if demo:
        if inputs or args.get("csv") or args.get("dataset"):
            raise UserError("--demo builds its own groups: give no folders, --csv or --dataset with it")
        args.setdefault("out", demo_out())
    return RankSettings(**args), inputs, demo


def run(argv: Sequence[str] | None) -> int:
    settings, inputs, demo = parse(argv)
    if demo:
        from iqa.ranking.demo import run_demo

        return run_demo(settings)
    from iqa.ranking.command import run_rank

    return run_rank(settings, inputs)


def main(argv: Sequence[str] | None = None) -> int:
    from iqa.errors import one_line_errors

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return one_line_errors(run)(argv)


if __name__ == "__main__":
    sys.exit(main())
