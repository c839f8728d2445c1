"""The statistics of ``iqa rank`` with many groups: AVA's 1,398 challenges, 20 images each, against 60 groups.

Times :func:`iqa.ranking.analyse` (no model: the scores are drawn) side by side
in one run, with the same bootstrap count:

* ``many``: ``--groups`` groups (default 1,398, AVA's challenges), past the
  pair cap, so only adjacent pairs are tested;
* ``cap``: 60 groups, every one of their 1,770 pairs tested;
* ``prompts``: ``--prompt-groups`` groups (default 12) rendering the same
  ``--prompts`` prompts, 2 images each: the joint prompt resample, paired
  tests on every pair and the Bradley-Terry fit with its bootstrap.

Writes nothing; prints seconds per run (best of ``--repeat``) and the ratio of
the many-group run to the 60-group one.

    python benchmarks/rank_many_groups.py
    python benchmarks/rank_many_groups.py --groups 1398 --per-group 20 --bootstrap 2000 --repeat 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from iqa.ranking import analyse  # noqa: E402

ATTRIBUTES = ["sharpness", "brightness", "contrast", "colorfulness", "noisiness"]


def frame(groups: int, per_group: int, prompts: int | None = None, seed: int = 0) -> pd.DataFrame:
    """``groups`` groups of ``per_group`` images (``prompts``: all groups render the same prompts, ``per_group`` images each)."""
    rng = np.random.default_rng(seed)
    level = rng.normal(0.5, 0.1, groups)
    if prompts is None:
        n = groups * per_group
        group = np.repeat(np.arange(groups), per_group)
        prompt = None
    else:
        n = groups * prompts * per_group
        group = np.repeat(np.arange(groups), prompts * per_group)
        prompt = np.tile(np.repeat(np.arange(prompts), per_group), groups)
    data = {"group": [f"g{g:04d}" for g in group], "path": [f"/x/{g}/{i}.jpg" for i, g in enumerate(group)],
            "quality_norm": level[group] + rng.normal(0, 0.1, n) + (0 if prompt is None else rng.normal(0, 0.1, prompts)[prompt]),
            "error": [""] * n}
    if prompt is not None:
        data["prompt"] = [f"p{p}" for p in prompt]
    data.update({a: rng.normal(size=n) for a in ATTRIBUTES})
    return pd.DataFrame(data)


def timed(table: pd.DataFrame, repeat: int, **kwargs) -> tuple[float, object]:
    best, results = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        results = analyse(table, attributes=ATTRIBUTES, **kwargs)
        best = min(best, time.perf_counter() - started)
    return best, results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--groups", type=int, default=1398)
    p.add_argument("--per-group", type=int, default=20)
    p.add_argument("--prompt-groups", type=int, default=12)
    p.add_argument("--prompts", type=int, default=200)
    p.add_argument("--bootstrap", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()

    analyse(frame(3, 5), n_boot=100)  # imports and first calls out of the timings
    runs = {
        "many": (frame(args.groups, args.per_group), {}),
        "cap": (frame(60, args.per_group), {}),
        "prompts": (frame(args.prompt_groups, 2, prompts=args.prompts), {}),
    }
    seconds = {}
    for name, (table, extra) in runs.items():
        seconds[name], results = timed(table, args.repeat, n_boot=args.bootstrap, **extra)
        print(f"{name:<8} {table.group.nunique():>5} groups {len(table):>7} images  {len(results.pairs):>5} pairs  "
              f"tiers {results.groups[-1].tier:>4}  {seconds[name]:7.2f} s  ({results.settings['pairs']}; "
              f"Bradley-Terry {results.settings['bradley_terry']})")
    print(f"ratio many / cap: {seconds['many'] / seconds['cap']:.2f} for {args.groups / 60:.1f}x the groups")


if __name__ == "__main__":
    main()
