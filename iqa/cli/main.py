"""The ``iqa`` command: scoring, the demo, and the pipeline's entry points as subcommands.

    iqa score PATH... [--ckpt CKPT] [--batch-size N] --out scores.csv
    iqa rank DIR_A DIR_B... [--ckpt CKPT] [--out DIR]   rank groups of images, with CIs
    iqa demo     [overrides]            the offline demo, end to end
    iqa model    [overrides]            the offline recipe (make model)
    iqa models [list|show|verify|export]   the models shipped inside the package
    iqa enhance PATH... --ckpt enhancer.ckpt --out OUTDIR
    iqa heldout [--photo-dir DIR] [--ckpt NAME=PATH]...   held-out distortion ladders against classical peers
    iqa photos list|fetch|check [--split S] [--dir DIR]   the registered real photos and their cache
    iqa label    <hydra overrides>      same as python label.py ...
    iqa train    <hydra overrides>      same as python train.py ...
    iqa evaluate <hydra overrides>      same as python evaluate.py ...
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

#: The pipeline commands: Hydra apps, each running ``module:function`` of the library (imported only when a job runs).
JOBS = {
    "label": "iqa.teachers.labelling:label",
    "train": "iqa.training:train",
    "evaluate": "iqa.evaluation.job:run",
    "select_prompts": "iqa.teachers.select_prompts:select_prompts",
}
HYDRA_COMMANDS = tuple(JOBS)
#: The other subcommands: ``module:function`` taking argv and returning the exit code, imported only when chosen.
SUBCOMMANDS = {
    "score": "iqa.cli.score:main", "rank": "iqa.cli.rank:main", "enhance": "iqa.cli.enhance:main",
    "enhance-compare": "iqa.enhancement.benchmark:main",
    "demo": "iqa.cli.recipes:demo", "model": "iqa.cli.recipes:model", "heldout": "iqa.cli.heldout:main",
    "photos": "iqa.cli.photos:main",
    "models": "iqa.cli.models:main",
}

USAGE = """usage: iqa <command> [args]          (iqa --version, iqa <command> --help)

commands:
  score           score images (files or folders) with a trained checkpoint -> CSV   (iqa score --help)
  rank            rank groups of images (one folder per generator) with CIs          (iqa rank --help)
  demo            the offline demo: label -> pretrain -> fine-tune x2 -> evaluate   (iqa demo --help)
  model           the offline recipe (make model): the same steps on every train-role photo   (iqa model --help)
  models          the models shipped inside the package: list, show, verify, export          (iqa models --help)
  enhance         enhance images with a trained enhancer (stage=enhance), same size and format   (iqa enhance --help)
  enhance-compare trained enhancers beside auto-gamma and CLAHE on the test photos   (iqa enhance-compare --help)
  heldout         held-out distortion ladders: checkpoints vs BRISQUE, NIQE, teacher (iqa heldout --help)
  photos          the registered real photos: list, fetch into the cache, check   (iqa photos --help)
  label           pseudo-label a corpus            (Hydra overrides, as python label.py)
  train           pretrain / fine-tune / probe     (Hydra overrides, as python train.py)
  evaluate        cross-dataset evaluation         (Hydra overrides, as python evaluate.py)
  select_prompts  choose antonym prompt pairs on proxy tasks (Hydra overrides)
"""


def config_groups() -> dict[str, list[str]]:
    """Every config group and its choices: the shipped ones, plus the user config directory's.

    Read from the directories alone (no Hydra), so ``iqa --help`` stays instant.
    """
    shipped = Path(__file__).resolve().parent.parent / "conf"
    user = Path(os.environ.get("ATTIQA_USER_CONF", "user_conf"))
    groups: dict[str, set[str]] = {}
    for root in (shipped, user):
        if not root.is_dir():
            continue
        for path in root.rglob("*.yaml"):
            group = path.parent.relative_to(root).as_posix()
            if group != ".":
                groups.setdefault(group, set()).add(path.stem)
    return {group: sorted(choices) for group, choices in sorted(groups.items())}


def usage() -> str:
    lines = [USAGE, "config groups (group=choice in label/train/evaluate; shipped in iqa/conf, user sets in "
             "$ATTIQA_USER_CONF or ./user_conf):"]
    for group, choices in config_groups().items():
        lines.append(f"  {group:<16} {', '.join(choices)}")
    return "\n".join(lines) + "\n"


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    import iqa

    try:
        installed = dist_version("attiqa")
    except PackageNotFoundError:  # running from a clone that was never installed
        installed = iqa.__version__
    return f"attiqa {installed} ({Path(iqa.__file__).resolve().parent})"


def _hydra(command: str, rest: Sequence[str]) -> int:
    from iqa.cli.common import hydra_entry

    sys.argv = [f"iqa {command}", *rest]
    if command == "evaluate":  # data=[a,b] becomes the list of test sets first
        from iqa.cli.evaluate import main as evaluate_main

        evaluate_main()
    else:
        hydra_entry(command, JOBS[command])
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage(), end="")
        return 0 if args else 2
    if args[0] in ("-V", "--version", "version"):
        print(version())
        return 0
    command, rest = args[0], args[1:]
    if command in SUBCOMMANDS:
        from iqa.cli.common import load_job

        return load_job(SUBCOMMANDS[command])(rest)
    if command in HYDRA_COMMANDS:
        return _hydra(command, rest)
    from iqa.errors import suggest

    print(f"iqa: unknown command '{command}'{suggest(command, [*SUBCOMMANDS, *HYDRA_COMMANDS])}\n\n{USAGE}",
          file=sys.stderr, end="")
    return 2


if __name__ == "__main__":
    sys.exit(main())
