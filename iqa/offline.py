"""The offline recipe, end to end: ``make model`` (``python -m iqa.offline``).

The pipeline's own commands in order, each in its own process (the runner of
:mod:`iqa.demo`), on ``experiment=offline``:

1. ``iqa label experiment=offline``: build the offline corpus (first run only,
   :mod:`iqa.data.offline`) and pseudo-label it with the classical teacher;
2. ``iqa train experiment=offline stage=pretrain``: attribute-aware pretraining;
3. ``iqa train experiment=offline stage=finetune loss=regression_ranking init=<pretrain last.ckpt>``;
4. the same on ``init=imagenet``: the ImageNet-only baseline at the same budget;
5. ``iqa evaluate experiment=offline``: both on the test photo of the recipe.

Fine-tuning trains the whole network on the synthetic MOS with regression
plus pairwise ranking, over batches of same-crop groups (``group_size`` in
``experiment=offline``), so most ranking pairs differ only in their
distortions. ``--finetune-stage ridge_probe`` (or ``linear_probe``) fits a
quality head on the frozen features instead. Other arguments are Hydra
overrides passed to every step. Finished steps are skipped on a rerun.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from iqa.demo import output_dir, run_steps

USAGE = """usage: python -m iqa.offline [--finetune-stage finetune|ridge_probe|linear_probe] [hydra overrides...]

Builds the offline corpus from the train-role photos of iqa/data/photos.py, labels it with the
classical teacher, pretrains, fine-tunes (attribute-pretrained and ImageNet-only) and
evaluates. Outputs land in <paths.output_dir>/offline (default ./outputs/offline).
"""

FINETUNE_STAGES = ("ridge_probe", "finetune", "linear_probe")
#: The fine-tuning step's stage and loss: regression plus ranking, over batches of same-crop groups (experiment=offline).
FINETUNE_ARGS = ("stage=finetune", "loss=regression_ranking")


def finetune_args(finetune_stage: str = "finetune") -> list[str]:
    """The quality step's overrides: ``stage=finetune`` with its loss, or another stage as given."""
    if finetune_stage not in FINETUNE_STAGES:
        raise ValueError(f"finetune stage {finetune_stage!r}: expected one of {', '.join(FINETUNE_STAGES)}")
    return list(FINETUNE_ARGS) if finetune_stage == "finetune" else [f"stage={finetune_stage}"]


def steps(output_dir: str, finetune_stage: str = "finetune") -> list[list[str]]:
    base = f"{output_dir}/offline"
    quality = finetune_args(finetune_stage)
    return [
        ["label", "experiment=offline"],
        ["train", "experiment=offline", "stage=pretrain"],
        ["train", "experiment=offline", *quality, f"init={base}/pretrain/checkpoints/last.ckpt", "run_name=finetune-attiqa"],
        ["train", "experiment=offline", *quality, "init=imagenet", "run_name=finetune-imagenet"],
        ["evaluate", "experiment=offline"],
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(USAGE, end="")
        return 0
    finetune_stage = "finetune"
    if "--finetune-stage" in args:
        at = args.index("--finetune-stage")
        finetune_stage = args[at + 1]
        del args[at : at + 2]
    out = output_dir(args)
    return run_steps(steps(out, finetune_stage), args, "offline recipe",
                     f"{out}/offline (labels/, pretrain/, finetune-attiqa/, finetune-imagenet/, results.md)")


if __name__ == "__main__":
    sys.exit(main())
