"""The offline demo, end to end: ``iqa demo`` (``make demo``, ``python -m iqa.demo``).

It runs the pipeline's own commands in order, exactly as a user would type them:

1. ``iqa label experiment=demo``: build the demo corpus (first run only) and
   pseudo-label it with the classical teacher;
2. ``iqa train experiment=demo stage=pretrain``: attribute-aware pretraining;
3. ``iqa train experiment=demo stage=finetune init=<pretrain last.ckpt>``;
4. ``iqa train experiment=demo stage=finetune init=imagenet``: same budget, ImageNet-only;
5. ``iqa evaluate experiment=demo``: both variants on the held-out test photos.

Each step runs in its own process through ``python -m iqa.cli.main``, so the demo
works the same from a clone and from an installed wheel, in any directory.
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

USAGE = """usage: iqa demo [hydra overrides...]
       iqa demo enhance [hydra overrides...]

Runs the offline demo (label -> pretrain -> two fine-tunes -> evaluate) on the
embedded corpus of scikit-image photos. Outputs land in <paths.output_dir>/demo
(default ./outputs/demo); rerunning resumes where it stopped.

`iqa demo enhance` then trains a small enhancer with the demo's fine-tuned
checkpoint as its objective (python train.py experiment=demo_enhance) and
prints PSNR / SSIM and the attribute check on held-out photos.
"""


def steps(output_dir: str) -> list[list[str]]:
    demo = f"{output_dir}/demo"
    return [
        ["label", "experiment=demo"],
        ["train", "experiment=demo", "stage=pretrain"],
        ["train", "experiment=demo", "stage=finetune", f"init={demo}/pretrain/checkpoints/last.ckpt", "run_name=finetune-attiqa"],
        ["train", "experiment=demo", "stage=finetune", "init=imagenet", "run_name=finetune-imagenet"],
        ["evaluate", "experiment=demo"],
    ]


def output_dir(overrides: Sequence[str]) -> str:
    for item in overrides:
        if item.startswith("paths.output_dir="):
            return item.split("=", 1)[1]
    return os.environ.get("ATTIQA_OUTPUT_DIR", "outputs")


def run_steps(step_list: Sequence[Sequence[str]], overrides: Sequence[str], name: str, outputs: str = "") -> int:
    """Run each step as ``python -m iqa.cli.main <step> <overrides>``; the exit code. Stops at the first failure.

    On success, prints the total wall time and ``outputs`` (where the results are).
    """
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    total = len(step_list)
    for number, step in enumerate(step_list, 1):
        command = [sys.executable, "-m", "iqa.cli.main", *step, *overrides]
        print(f"\n[{number}/{total}] iqa {' '.join([*step, *overrides])}", flush=True)
        step_started = time.perf_counter()
        code = subprocess.call(command, cwd=os.getcwd(), env=env)
        if code != 0:
            print(f"{name} step {number} failed (exit {code}); rerun to resume from there", file=sys.stderr)
            return code
        print(f"[{number}/{total}] done in {time.perf_counter() - step_started:.1f} s", flush=True)
    minutes, seconds = divmod(time.perf_counter() - started, 60)
    print(f"\n{name} finished in {int(minutes)}m{seconds:04.1f}s; outputs: {outputs}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    overrides = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in overrides):
        print(USAGE, end="")
        return 0
    if overrides[:1] == ["enhance"]:
        return enhance(overrides[1:])
    out = output_dir(overrides)
    return run_steps(steps(out), overrides, "demo",
                     f"{out}/demo (results.json, results.md, scatter.png, labels/, pretrain/, finetune-attiqa/, finetune-imagenet/)")


def enhance(overrides: Sequence[str]) -> int:
    """``iqa demo enhance``: the enhancement demo, once ``iqa demo`` has written its fine-tuned checkpoint."""
    out = output_dir(overrides)
    ckpt = f"{out}/demo/finetune-attiqa/checkpoints/last.ckpt"
    if not any(a.startswith("stage.quality_ckpt=") for a in overrides) and not os.path.isfile(ckpt):
        print(f"error: {ckpt} not found: run `iqa demo` (or `make demo`) first, or pass stage.quality_ckpt=<checkpoint>",
              file=sys.stderr)
        return 2
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    command = [sys.executable, "-m", "iqa.cli.main", "train", "experiment=demo_enhance", *overrides]
    print(f"iqa train experiment=demo_enhance {' '.join(overrides)}".rstrip(), flush=True)
    code = subprocess.call(command, cwd=os.getcwd(), env=env)
    if code == 0:
        minutes, seconds = divmod(time.perf_counter() - started, 60)
        print(f"\nenhancement demo finished in {int(minutes)}m{seconds:04.1f}s; outputs: {out}/demo/enhance "
              f"(results.md, results.json, enhance_grid.png, checkpoints/)")
    return code


if __name__ == "__main__":
    sys.exit(main())
