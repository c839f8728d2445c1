"""The offline recipe, end to end: ``make model`` (``python -m iqa.offline``).

The pipeline's own commands in order, each in its own process (the runner of
:mod:`iqa.demo`), on ``experiment=offline``:

1. ``iqa label experiment=offline``: build the offline corpus (first run only,
   :mod:`iqa.data.offline`) and pseudo-label it with the classical teacher;
2. ``iqa train experiment=offline stage=pretrain``: attribute-aware pretraining;
3. ``iqa train experiment=offline stage=<finetune stage> init=<pretrain last.ckpt>``;
4. the same on ``init=imagenet``: the ImageNet-only baseline at the same budget;
5. ``iqa evaluate experiment=offline``: both on the test photo of the recipe.

The fine-tuning stage is ``ridge_probe`` (a quality head fitted in closed form
on the frozen features, penalty chosen on the validation photo); pass
``--finetune-stage finetune`` for gradient fine-tuning instead. Other arguments
are Hydra overrides passed to every step. Finished steps are skipped on a rerun.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from iqa.demo import output_dir, run_steps

USAGE = """usage: python -m iqa.offline [--finetune-stage ridge_probe|finetune] [hydra overrides...]

Builds the offline corpus from the train-role photos of iqa/data/photos.py, labels it with the
classical teacher, pretrains, fits the quality head (attribute-pretrained and ImageNet-only) and
evaluates. Outputs land in <paths.output_dir>/offline (default ./outputs/offline).
"""

FINETUNE_STAGES = ("ridge_probe", "finetune", "linear_probe")


def steps(output_dir: str, finetune_stage: str = "ridge_probe") -> list[list[str]]:
    if finetune_stage not in FINETUNE_STAGES:
        raise ValueError(f"finetune stage {finetune_stage!r}: expected one of {', '.join(FINETUNE_STAGES)}")
    base = f"{output_dir}/offline"
    stage = f"stage={finetune_stage}"
    return [
        ["label", "experiment=offline"],
        ["train", "experiment=offline", "stage=pretrain"],
        ["train", "experiment=offline", stage, f"init={base}/pretrain/checkpoints/last.ckpt", "run_name=finetune-attiqa"],
        ["train", "experiment=offline", stage, "init=imagenet", "run_name=finetune-imagenet"],
        ["evaluate", "experiment=offline"],
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(USAGE, end="")
        return 0
    finetune_stage = "ridge_probe"
    if "--finetune-stage" in args:
        at = args.index("--finetune-stage")
        finetune_stage = args[at + 1]
        del args[at : at + 2]
    out = output_dir(args)
    return run_steps(steps(out, finetune_stage), args, "offline recipe",
                     f"{out}/offline (labels/, pretrain/, finetune-attiqa/, finetune-imagenet/, results.md)")


if __name__ == "__main__":
    sys.exit(main())
