"""The offline recipe's ablations, each a ``train.py -m`` sweep, scored on the held-out ladders.

Run after ``make model`` (the recipe's own runs are the reference arm of every
ablation, so they are not trained again):

* **pretraining loss** (ranking, the recipe, vs regression of the teacher's
  scores) and **attributes** (all five, the recipe, vs sharpness alone): one
  pretraining sweep over ``+ablation=regression_loss,sharpness_only``
  (``iqa/conf/ablation/``), then one fine-tuning sweep over ``pretrain_run``
  with the recipe's fine-tuning settings;
* **fine-tuning data** (10 / 25 / 50 % of the fine-tuning set, by reference
  crop; 100 % is the recipe): one fine-tuning sweep over
  ``data.train_fraction`` from the recipe's pretrained checkpoint.

Every fine-tuned checkpoint, the recipe's included, is scored on the
held-out ladders of ``iqa heldout`` (:mod:`iqa.evaluation.heldout`, no peers) and the table goes to
``<out>/ablations.md``. Finished runs are skipped on a rerun (``resume=auto``).

    python benchmarks/offline_ablations.py                   # all three
    python benchmarks/offline_ablations.py --only fraction --dry-run
    python benchmarks/offline_ablations.py paths.output_dir=/scratch/attiqa   # overrides go to every sweep
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iqa.cli.recipes import FINETUNE_ARGS, output_dir  # noqa: E402
from iqa.evaluation import heldout as ladders  # noqa: E402

PRETRAIN_ARMS = ("regression_loss", "sharpness_only")
FRACTIONS = (0.1, 0.25, 0.5)


@dataclass(frozen=True)
class Arm:
    ablation: str
    label: str
    run: str  # fine-tuned run under <output_dir>/offline


#: Each job of a sweep runs in <output_dir>/offline/<run_name>, beside the recipe's runs (not under multirun/), so the
#: fine-tuning sweep finds the pretraining sweep's checkpoints by name and a rerun resumes or skips finished jobs.
JOB_DIRS = ("hydra.sweep.dir=${paths.output_dir}/offline", "hydra.sweep.subdir=${run_name}")


def sweeps(only: Sequence[str]) -> list[list[str]]:
    """The ``train.py -m`` commands (arguments after ``train.py``) of the chosen ablations, in order."""
    commands = []
    if {"loss", "attributes"} & set(only):
        arms = [a for a in PRETRAIN_ARMS if ("loss" in only and a == "regression_loss") or ("attributes" in only and a == "sharpness_only")]
        commands.append(["-m", "experiment=offline", "stage=pretrain", f"+ablation={','.join(arms)}", *JOB_DIRS])
        commands.append(["-m", "experiment=offline", *FINETUNE_ARGS, f"pretrain_run={','.join('pretrain-' + a for a in arms)}",
                         "run_name=finetune-${pretrain_run}", *JOB_DIRS])
    if "fraction" in only:
        commands.append(["-m", "experiment=offline", *FINETUNE_ARGS, f"data.train_fraction={','.join(map(str, FRACTIONS))}",
                         "run_name=finetune-fraction-${data.train_fraction}", *JOB_DIRS])
    return commands


def arms(only: Sequence[str], reference: str = "finetune-attiqa") -> list[Arm]:
    rows = [Arm("reference", "ranking loss, 5 attributes, 100 % of the fine-tuning set", reference)]
    if "loss" in only:
        rows.append(Arm("pretraining loss", "regression loss (5 attributes)", "finetune-pretrain-regression_loss"))
    if "attributes" in only:
        rows.append(Arm("attributes", "sharpness only (ranking loss)", "finetune-pretrain-sharpness_only"))
    if "fraction" in only:
        rows += [Arm("fine-tuning data", f"{int(f * 100)} % of the fine-tuning set", f"finetune-fraction-{f}") for f in FRACTIONS]
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--only", default="loss,attributes,fraction", help="comma list of: loss, attributes, fraction")
    parser.add_argument("--dry-run", action="store_true", help="print the sweeps and stop")
    parser.add_argument("--crops-per-photo", type=int, default=12, help="held-out ladders: crops per held-out photo")
    parser.add_argument("--out", type=Path, default=None, help="where ablations.md goes (default <output_dir>/offline/ablations)")
    parser.add_argument("--reference", default="finetune-attiqa",
                        help="the fine-tuned run (under <output_dir>/offline) every arm is compared with; it must share the sweeps' "
                             "fine-tuning budget (default: the recipe's own)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every sweep, e.g. paths.output_dir=...")
    args = parser.parse_args(argv)
    only = [o.strip() for o in args.only.split(",") if o.strip()]
    bad = [o for o in only if o not in ("loss", "attributes", "fraction")]
    if bad or not only:
        parser.error(f"--only: unknown ablation(s) {', '.join(bad) or '(none)'}; choose from loss, attributes, fraction")
    base = Path(output_dir(args.overrides)) / "offline"
    commands = [[sys.executable, str(ROOT / "train.py"), *c, *args.overrides] for c in sweeps(only)]
    for command in commands:
        print("$ python train.py " + " ".join(f"'{a}'" if "$" in a else a for a in command[2:]), flush=True)
    if args.dry_run:
        return 0
    recipe = base / args.reference / "checkpoints" / "last.ckpt"
    for needed in (recipe, base / "pretrain" / "checkpoints" / "last.ckpt"):
        if not needed.is_file():
            print(f"error: {needed} is missing: run the recipe first (make model, or iqa model)", file=sys.stderr)
            return 2
    started = time.perf_counter()
    for command in commands:
        if subprocess.run(command, cwd=ROOT).returncode != 0:
            print(f"error: sweep failed: {' '.join(command[1:])}", file=sys.stderr)
            return 1
    train_s = time.perf_counter() - started

    _, items = ladders.ladder_items(ladders.DEFAULT_CACHE, ladders.heldout_photos(), args.crops_per_photo, 288, 0)
    rows = []
    for arm in arms(only, args.reference):
        scored = ladders.score_checkpoint(base / arm.run / "checkpoints" / "last.ckpt", items)
        summary = scored["summary"]
        rows.append({"ablation": arm.ablation, "arm": arm.label, "run": arm.run, **summary, "per_type": scored["per_type"]})
        print(f"  {arm.ablation}: {arm.label}: all {summary['all']:.3f}, seen {summary['seen']:.3f}, "
              f"unseen {summary['unseen']:.3f}", flush=True)
    out = args.out or base / "ablations"
    out.mkdir(parents=True, exist_ok=True)
    lines = ["| ablation | arm | all types | seen | unseen | global SRCC | pairwise acc. |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['ablation']} | {r['arm']} | {r['all']:.3f} | {r['seen']:.3f} | {r['unseen']:.3f} | {r['global_srcc']:.3f} "
              f"| {r['pairwise']:.3f} |" for r in rows]
    sweep_lines = ["python train.py " + " ".join(f"'{a}'" if "$" in a else a for a in c[2:]) for c in commands]
    (out / "ablations.md").write_text("# Offline recipe ablations (held-out ladders)\n\n" + "\n".join(lines) + "\n\nSweeps:\n\n```bash\n"
                                      + "\n".join(sweep_lines) + "\n```\n")
    (out / "ablations.json").write_text(json.dumps({"rows": rows, "sweeps": sweep_lines, "train_seconds": round(train_s, 1)}, indent=2))
    print("\n".join(lines))
    print(f"\nsweeps took {train_s / 60:.1f} min; written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
