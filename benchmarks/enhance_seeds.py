"""The enhancement demo's comparison over seeds and thread counts: medians and ranges of each method.

Run the demo once per seed and thread count, each into its own output directory, then summarise:

    for T in 1 2; do for S in 0 1 2; do
      iqa demo enhance seed=$S stage.torch_threads=$T paths.output_dir=runs/s$S-t$T
    done; done
    python benchmarks/enhance_seeds.py runs/s*-t*/demo/enhance/comparison.json

Prints a Markdown table (median [min, max] over the runs of each method's mean over photos) and the
count of runs in which the attiqa enhancer beat each other method on both PSNR and SSIM.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

METRICS = (("psnr", "PSNR (dB)", 2), ("ssim", "SSIM", 3), ("colourfulness_ratio", "colourfulness / reference", 2),
           ("hue_drift", "hue drift (deg)", 1))


def main(paths: list[str]) -> None:
    runs = [json.loads(Path(p).read_text()) for p in paths]
    if not runs:
        raise SystemExit("usage: enhance_seeds.py comparison.json ...")
    for degradation in runs[0]["tables"]:
        tables = [r["tables"][degradation]["methods"] for r in runs]
        first = next(iter(tables[0]))
        print(f"{degradation}: {len(runs)} runs, {runs[0]['tables'][degradation]['photos']} photos each\n")
        print("| method | " + " | ".join(label for _, label, _ in METRICS) + f" | runs where {first} is ahead on PSNR and SSIM |")
        print("|---" * (len(METRICS) + 2) + "|")
        for method in tables[0]:
            cells = []
            for key, _, digits in METRICS:
                values = np.array([t[method][key]["mean"] for t in tables])
                cells.append(f"{np.median(values):.{digits}f} [{values.min():.{digits}f}, {values.max():.{digits}f}]")
            ahead = "" if method == first else str(sum(
                t[first]["psnr"]["mean"] > t[method]["psnr"]["mean"] and t[first]["ssim"]["mean"] > t[method]["ssim"]["mean"]
                for t in tables)) + f" of {len(tables)}"
            print(f"| {method} | " + " | ".join(cells) + f" | {ahead} |")
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
