"""The ``iqa`` command: ``iqa score ...``, and the pipeline's entry points as subcommands.

    iqa score PATH... [--ckpt CKPT] [--batch-size N] --out scores.csv
    iqa label    <hydra overrides>     same as python label.py ...
    iqa train    <hydra overrides>     same as python train.py ...
    iqa evaluate <hydra overrides>     same as python evaluate.py ...
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = """usage: iqa <command> [args]

commands:
  score      score images (files or folders) with a trained checkpoint -> CSV   (iqa score --help)
  label      pseudo-label a corpus            (Hydra overrides, as python label.py)
  train      pretrain / fine-tune / probe     (Hydra overrides, as python train.py)
  evaluate   cross-dataset evaluation         (Hydra overrides, as python evaluate.py)
"""


def _hydra(command: str, rest: Sequence[str]) -> int:
    from iqa.cli.common import hydra_entry

    sys.argv = [f"iqa {command}", *rest]
    if command == "evaluate":
        from iqa.cli.evaluate import main as evaluate_main

        evaluate_main()
    else:
        hydra_entry(command, f"iqa.cli.{command}:run")  # imported when the job runs: --help stays fast
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "score":
        from iqa.cli.score import main as score_main

        return score_main(rest)
    if command in ("label", "train", "evaluate"):
        return _hydra(command, rest)
    print(f"iqa: unknown command '{command}'\n\n{USAGE}", file=sys.stderr, end="")
    return 2


if __name__ == "__main__":
    sys.exit(main())
