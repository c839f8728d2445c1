"""The offline demo, end to end: ``make demo`` or ``python -m iqa.demo [overrides...]``.

It runs the real entry points in order, exactly as a user would:

1. ``label.py experiment=demo``: build the demo corpus (first run only) and
   pseudo-label it with the classical teacher;
2. ``train.py experiment=demo stage=pretrain``: attribute-aware pretraining;
3. ``train.py experiment=demo stage=finetune init=<pretrain last.ckpt>``;
4. ``train.py experiment=demo stage=finetune init=imagenet``: same budget, ImageNet-only;
5. ``evaluate.py experiment=demo``: both variants on the held-out test photos.

Extra arguments are Hydra overrides passed to every step (e.g.
``paths.output_dir=/tmp/demo``). Each step resumes or skips finished work, so
an interrupted demo continues where it stopped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def steps(output_dir: str) -> list[list[str]]:
    demo = f"{output_dir}/demo"
    return [
        ["label.py", "experiment=demo"],
        ["train.py", "experiment=demo", "stage=pretrain"],
        ["train.py", "experiment=demo", "stage=finetune", f"init={demo}/pretrain/checkpoints/last.ckpt", "run_name=finetune-attiqa"],
        ["train.py", "experiment=demo", "stage=finetune", "init=imagenet", "run_name=finetune-imagenet"],
        ["evaluate.py", "experiment=demo"],
    ]


def output_dir(overrides: Sequence[str]) -> str:
    for item in overrides:
        if item.startswith("paths.output_dir="):
            return item.split("=", 1)[1]
    return os.environ.get("ATTIQA_OUTPUT_DIR", "outputs")


def main(argv: Sequence[str] | None = None) -> int:
    overrides = list(sys.argv[1:] if argv is None else argv)
    out = output_dir(overrides)
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    for number, step in enumerate(steps(out), 1):
        command = [sys.executable, str(ROOT / step[0]), *step[1:], *overrides]
        print(f"\n[{number}/5] {' '.join([step[0], *step[1:], *overrides])}", flush=True)
        code = subprocess.call(command, cwd=os.getcwd(), env=env)
        if code != 0:
            print(f"demo step {number} failed (exit {code}); rerun `make demo` to resume from there", file=sys.stderr)
            return code
    minutes, seconds = divmod(time.perf_counter() - started, 60)
    print(f"\ndemo finished in {int(minutes)}m{seconds:04.1f}s; outputs: {out}/demo "
          f"(results.json, results.md, scatter.png, labels/, pretrain/, finetune-attiqa/, finetune-imagenet/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
