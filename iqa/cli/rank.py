"""``iqa rank``: rank groups of images (one folder per image generator, ...) by predicted quality, with CIs.

    iqa rank gen_a/ gen_b/ gen_c/ --ckpt best.ckpt --out report/
    iqa rank --csv images.csv --ckpt best.ckpt            (columns path, group[, prompt | pair][, mos])
    iqa rank --dataset agiqa3k --root /data/agiqa3k --ckpt best.ckpt
    iqa rank --demo                                        (the offline demonstration, iqa/ranking_demo.py)

Defaults live in ``iqa/conf/rank.yaml``; any of its keys can also be given as
``key=value`` (``bootstrap=5000``, ``logger=wandb``). The ranking itself is
:func:`iqa.ranking.rank` and the files are written by :mod:`iqa.ranking_reports`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from iqa.errors import UserError, suggest


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="iqa rank",
        description="Rank groups of images (one folder per group, a CSV or a dataset) by predicted quality, with bootstrap CIs, "
                    "win rates, paired tests and the attributes behind each difference.",
        epilog="Defaults: iqa/conf/rank.yaml (override any key as key=value). Outputs and statistics: docs/ranking.md.",
    )
    p.add_argument("inputs", nargs="*", help="one folder per group (or files); key=value overrides of iqa/conf/rank.yaml")
    p.add_argument("--csv", help="CSV with columns path, group and optionally prompt (or pair) and mos")
    p.add_argument("--dataset", help="a MOS dataset whose images carry a group (agiqa3k, agiqa1k, aigciqa2023, ...)")
    p.add_argument("--root", help="the dataset's root (default: its data config's)")
    p.add_argument("--split", default=None, help="the dataset's split: train | val | test | all (default: all)")
    p.add_argument("--ckpt", help="fine-tuned checkpoint (default: $ATTIQA_CKPT, else the demo's)")
    p.add_argument("--out", help="output folder (default: outputs/rank/latest)")
    p.add_argument("--cache", help="score cache folder (default: outputs/rank/cache)")
    p.add_argument("--no-cache", action="store_true", help="score everything, keep no cache")
    p.add_argument("--bootstrap", type=int, help="bootstrap resamples (default 2000)")
    p.add_argument("--seed", type=int, help="bootstrap seed (default 0)")
    p.add_argument("--alpha", type=float, help="significance level after Holm's correction (default 0.05)")
    p.add_argument("--reference", help="group the attribute shifts are measured against (default: the top-ranked)")
    p.add_argument("--min-group", type=int, help="warn about groups with fewer readable images (default 10)")
    p.add_argument("--batch-size", type=int, help="images per forward pass (default 32)")
    p.add_argument("--num-workers", type=int, help="decoding processes (default: as iqa score)")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--wandb", action="store_true", help="also log the tables and the figure to W&B (same as logger=wandb)")
    p.add_argument("--demo", action="store_true", help="the offline demonstration: degraded copies of the embedded photos as generators")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def settings(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """``iqa/conf/rank.yaml`` with the ``key=value`` inputs and the flags applied; returns (settings, folder inputs)."""
    from omegaconf import OmegaConf

    from iqa.config import config_dir

    base = OmegaConf.load(Path(config_dir(), "rank.yaml"))
    overrides = [item for item in args.inputs if "=" in item and not Path(item).exists()]
    folders = [item for item in args.inputs if item not in overrides]
    for item in overrides:
        key = item.split("=", 1)[0]
        if key not in base:
            raise UserError(f"unknown setting '{key}'{suggest(key, list(base))}; valid: {', '.join(base)}")
    cfg = OmegaConf.merge(base, OmegaConf.from_dotlist(overrides))
    flags = {"bootstrap": args.bootstrap, "seed": args.seed, "alpha": args.alpha, "reference": args.reference, "min_group": args.min_group,
             "batch_size": args.batch_size, "num_workers": args.num_workers, "device": args.device, "out": args.out, "cache": args.cache}
    for key, value in flags.items():
        if value is not None:
            cfg[key] = value
    if args.wandb:
        cfg.logger = "wandb"
    values = OmegaConf.to_container(cfg, resolve=True)
    if args.no_cache:
        values["cache"] = None
    if str(values["logger"]) not in ("none", "wandb", "None"):
        raise UserError(f"logger must be none or wandb, got {values['logger']}")
    if int(values["bootstrap"]) < 100:
        raise UserError(f"bootstrap must be >= 100 resamples, got {values['bootstrap']}")
    if int(values["batch_size"]) < 1:
        raise UserError(f"batch_size must be >= 1, got {values['batch_size']}")
    return values, folders


def build_wandb(out: Path, name: str):
    """A W&B logger from ``iqa/conf/logger/wandb.yaml`` writing under ``out`` (offline with WANDB_MODE=offline)."""
    from omegaconf import OmegaConf

    from iqa.cli.common import build_logger
    from iqa.config import config_dir

    cfg = OmegaConf.create({"run_name": name, "run_dir": str(out), "task": "rank",
                            "logger": OmegaConf.load(Path(config_dir(), "logger", "wandb.yaml"))})
    return build_logger(cfg)


def run(args: argparse.Namespace) -> int:
    from iqa.inference import default_checkpoint, plan_threads
    from iqa.ranking import rank

    values, folders = settings(args)
    if args.demo:
        from iqa.ranking_demo import run_demo

        if folders or args.csv or args.dataset:
            raise UserError("--demo builds its own groups: give no folders, --csv or --dataset with it")
        if args.out is None and not any(item.startswith("out=") for item in args.inputs):
            values["out"] = str(Path(values["out"]).parent / "demo")

        return run_demo(args.ckpt, values, progress=not args.no_progress)
    if not folders and not args.csv and not args.dataset:
        raise UserError("nothing to rank: give one folder per group, --csv FILE or --dataset NAME (or --demo)")
    if args.root and not args.dataset:
        raise UserError("--root is the root of a --dataset")
    root = args.root
    if args.dataset and root is None:
        from iqa.evaluation import data_config

        root = data_config(args.dataset).get("root")  # the config's default: $ATTIQA_DATA_DIR (or data/) / <name>
    ckpt = args.ckpt or default_checkpoint()
    device = None if str(values["device"]) == "auto" else str(values["device"])
    import torch

    from iqa.inference import default_device

    dev = torch.device(device) if device else default_device()
    workers, threads = plan_threads(values["num_workers"], dev.type)
    if dev.type == "cpu":
        torch.set_num_threads(threads)
    started = time.perf_counter()
    results = rank(folders or None, ckpt=ckpt, csv=args.csv, dataset=args.dataset, root=root, split=args.split,
                   cache=values["cache"], batch_size=int(values["batch_size"]), num_workers=workers, device=device,
                   chunk_size=int(values["chunk_size"]), n_boot=int(values["bootstrap"]), seed=int(values["seed"]),
                   level=float(values["level"]), alpha=float(values["alpha"]), min_group=int(values["min_group"]),
                   reference=values["reference"], progress=not args.no_progress)
    seconds = time.perf_counter() - started
    return report(results, values, seconds)


def report(results, values: dict[str, Any], seconds: float) -> int:
    """Write the files, log to W&B if asked, print the Markdown and a summary line."""
    from iqa.ranking_reports import log_ranking

    out = Path(values["out"])
    written = results.write(out)
    if str(values["logger"]) == "wandb":
        from iqa.cli.common import close_logger

        logger = build_wandb(out, out.name or "rank")
        log_ranking(logger, results, written["image"])
        close_logger(logger)
    print(written["markdown"])
    s = results.settings
    scored = s.get("newly_scored", 0)
    rate = f" ({scored / seconds:.1f} img/s incl. loading)" if scored and seconds > 0 else ""
    print(f"{s.get('images')} images: {scored} scored, {s.get('from_cache')} from the cache, in {seconds:.1f}s{rate} -> "
          f"{out}/ranking.md, ranking.csv, pairs.csv, scores.csv, ranking.json, ranking.png", file=sys.stderr)
    for note in results.warnings:
        print(f"warning: {note}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from iqa.errors import one_line_errors

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = parser().parse_intermixed_args(argv)  # folders and key=value may follow the flags
    return one_line_errors(run)(args)


if __name__ == "__main__":
    sys.exit(main())
