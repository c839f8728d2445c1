"""``iqa rank`` throughput: images per second for a cold run (everything scored) and a warm one (everything cached).

The reference is ``iqa.load(ckpt).score(paths)`` on the same images (the path
``iqa score`` runs, no cache, no statistics), timed the same way just before.

Four groups of KonIQ-sized JPEGs (1024 x 768) cut from the scikit-image
photos; the cold run scores them all through the batched DataLoader path and
fills the score cache, the warm run finds every score in the cache. Both are
timed end to end as the library call runs (checkpoint load and hashing,
scoring, the statistics with 2000 bootstrap resamples), the reports excluded.

    python benchmarks/rank_throughput.py --ckpt outputs/demo/finetune-attiqa/checkpoints/last.ckpt
    python benchmarks/rank_throughput.py --ckpt best.ckpt --per-group 2500 --device cuda --num-workers 16 --batch-size 128

Without ``--ckpt`` a randomly initialised network of the demo's backbone
(EfficientNet-Lite0) at the demo's size stands in: throughput does not depend on the weights.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402
from score_throughput import make_images  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", default=None)
    p.add_argument("--per-group", type=int, default=75, help="images per group (4 groups)")
    p.add_argument("--image-size", type=int, default=None, help="short side scored (default: the checkpoint's; 384 for the stand-in)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--num-workers", type=int, default=None)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()

    import iqa
    from iqa.inference import export_checkpoint, plan_threads
    from iqa.models import IQANet
    from iqa.ranking import rank

    workers, threads = plan_threads(args.num_workers, torch.device(args.device).type)
    if args.device == "cpu":
        torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = args.ckpt
        if ckpt is None:
            torch.manual_seed(0)
            ckpt = export_checkpoint(IQANet(backbone="tf_efficientnet_lite0", weights="none"), tmp / "standin.ckpt", stage="finetune",
                                     data="demo", mos_range=[1.0, 5.0], higher_is_better=True, image_size=args.image_size or 384,
                                     attributes_trained=True)
        groups = {}
        for g in range(4):
            folder = tmp / f"gen{g}"
            folder.mkdir()
            make_images(folder, args.per_group, 1024, 768)
            groups[f"gen{g}"] = folder
        total = 4 * args.per_group
        times = {}
        started = time.perf_counter()
        iqa.load(ckpt, image_size=args.image_size, device=args.device).score(list(groups.values()), batch_size=args.batch_size,
                                                                             num_workers=workers)
        times["score"] = time.perf_counter() - started
        for label in ("cold", "warm"):
            started = time.perf_counter()
            results = rank(groups, ckpt=ckpt, cache=tmp / "cache", batch_size=args.batch_size, num_workers=workers, device=args.device,
                           image_size=args.image_size)
            times[label] = time.perf_counter() - started
            assert results.settings["newly_scored"] == (total if label == "cold" else 0)
        view = results.settings["view"]
        print(f"device {args.device}, {threads} torch threads, {workers} decoding workers, batch {args.batch_size}, "
              f"{total} JPEGs of 1024x768 in 4 groups, scored at short side {view['image_size']} px")
        names = {"score": "iqa score path (reference)", "cold": "iqa rank, empty cache", "warm": "iqa rank, all cached"}
        for label, seconds in times.items():
            print(f"  {names[label]:<28} {seconds:7.1f} s   {total / seconds:8.1f} images/s")
        print(f"  cold rank / score: {times['score'] / times['cold']:.2f}")


if __name__ == "__main__":
    main()
