"""Scoring throughput: ``iqa score`` against a bare PyTorch loop on the same images, in one run.

The bare loop is the least a user would write: a DataLoader with the same
workers decoding each JPEG with the same deterministic view (libjpeg draft +
resize to the same size), ``torch.stack``, and the network under the same
autocast. ``iqa score`` is timed end to end as the command runs (checkpoint
load, header probing and shape bucketing, decoding, inference, CSV and
metadata written). Both are warmed up first; each is timed ``--repeats``
times alternately and the median is reported. With ``--layouts``, the bare loop
is also timed with the network left in PyTorch's default memory layout, beside
the channels-last layout that ``iqa score`` puts it in (alternately, same images).

    python benchmarks/score_throughput.py                       # CPU, 256 KonIQ-sized JPEGs
    python benchmarks/score_throughput.py --layouts --backbone resnet18   # channels-last against the default layout
    python benchmarks/score_throughput.py --device cuda --num-images 4096 --batch-size 128 --num-workers 16
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402


def make_images(folder: Path, count: int, width: int, height: int) -> list[Path]:
    """``count`` distinct JPEGs of ``width x height`` cut from the scikit-image photos."""
    from iqa import distortions
    from iqa.data.synthetic import load_reference

    photos = [load_reference(name) for name in ("astronaut", "coffee", "chelsea", "rocket", "motorcycle")]
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        side = int(min(h, w) * rng.uniform(0.6, 1.0))
        top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = Image.fromarray(distortions.to_uint8(photo[top : top + side, left : left + side]))
        path = folder / f"{i:06d}.jpg"
        crop.resize((width, height), Image.BICUBIC).save(path, quality=90)
        paths.append(path)
    return paths


class _Bare(Dataset):
    def __init__(self, paths, view):
        self.paths, self.view = paths, view

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        return self.view(Path(self.paths[index]).read_bytes())


def bare_loop(net, paths, view, batch_size: int, workers: int, device: torch.device) -> float:
    loader = DataLoader(_Bare(paths, view), batch_size=batch_size, num_workers=workers, pin_memory=device.type == "cuda")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    outputs = []
    started = time.perf_counter()
    with torch.no_grad():
        for images in loader:
            with autocast:
                out = net(images.to(device, non_blocking=True))
            outputs.append(out["quality"].float().cpu())
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    assert sum(len(o) for o in outputs) == len(paths)
    return len(paths) / seconds


def iqa_score(folder: Path, ckpt: Path, out: Path, args, count: int) -> float:
    from iqa.cli.score import main

    argv = [str(folder), "--ckpt", str(ckpt), "--out", str(out), "--batch-size", str(args.batch_size),
            "--num-workers", str(args.num_workers), "--device", args.device, "--image-size", str(args.image_size), "--no-progress"]
    started = time.perf_counter()
    code = main(argv)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    assert code == 0
    return count / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-images", type=int, default=256)
    parser.add_argument("--image-size", type=int, default=384, help="short side the images are scored at")
    parser.add_argument("--source-size", default="1024x768", help="WxH of the generated JPEGs (KonIQ-10k's size)")
    parser.add_argument("--num-workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--backbone", default="tf_efficientnet_lite0")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--images", default=None, help="score this folder instead of generated JPEGs")
    parser.add_argument("--layouts", action="store_true",
                        help="also time the bare loop with the network in the default memory layout, beside channels-last")
    args = parser.parse_args()

    from iqa.data.records import View
    from iqa.inference import expand_paths, export_checkpoint, prepare_net
    from iqa.models import IQANet

    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.images:
            folder = Path(args.images)
            paths = expand_paths([folder])[: args.num_images]
        else:
            folder = tmp / "images"
            folder.mkdir()
            width, height = (int(v) for v in args.source_size.lower().split("x"))
            print(f"writing {args.num_images} {width}x{height} JPEGs ...", flush=True)
            paths = make_images(folder, args.num_images, width, height)
        net = IQANet(backbone=args.backbone, weights="none").eval()
        ckpt = export_checkpoint(net, tmp / "model.ckpt", stage="finetune", data="benchmark", mos_range=[1.0, 5.0],
                                 higher_is_better=True, image_size=args.image_size)
        net = prepare_net(net, device)  # the same device placement and layout iqa score uses
        view = View(image_size=args.image_size)
        count = len(expand_paths([folder]))
        print(f"device {device}, backbone {args.backbone}, {len(paths)} images scored at short side {args.image_size}, "
              f"batch {args.batch_size}, {args.num_workers} workers, torch threads {torch.get_num_threads()}", flush=True)
        # Warm-up: kernels for this input shape, worker start-up paths, file cache.
        bare_loop(net, paths[: 2 * args.batch_size], view, args.batch_size, args.num_workers, device)
        iqa_score(folder, ckpt, tmp / "warmup.csv", args, count)
        bare, score = [], []
        for _ in range(args.repeats):
            bare.append(bare_loop(net, paths, view, args.batch_size, args.num_workers, device))
            score.append(iqa_score(folder, ckpt, tmp / "scores.csv", args, count))
        bare_rate, score_rate = statistics.median(bare), statistics.median(score)
        print(f"bare loop : {bare_rate:8.1f} images/s   (runs: {', '.join(f'{r:.1f}' for r in bare)})")
        print(f"iqa score : {score_rate:8.1f} images/s   (runs: {', '.join(f'{r:.1f}' for r in score)}; end to end, CSV included)")
        print(f"ratio iqa score / bare loop: {score_rate / bare_rate:.3f}")
        if args.layouts:
            default = copy.deepcopy(net).to(memory_format=torch.contiguous_format)
            default.channels_last = False  # IQANet.forward then leaves its input in the default layout too
            rates: dict[str, list[float]] = {"default": [], "channels-last": []}
            for _ in range(args.repeats):
                rates["default"].append(bare_loop(default, paths, view, args.batch_size, args.num_workers, device))
                rates["channels-last"].append(bare_loop(net, paths, view, args.batch_size, args.num_workers, device))
            for name, runs in rates.items():
                print(f"bare loop, {name:13s} layout: {statistics.median(runs):8.1f} images/s   "
                      f"(runs: {', '.join(f'{r:.1f}' for r in runs)})")
            print(f"ratio channels-last / default layout: "
                  f"{statistics.median(rates['channels-last']) / statistics.median(rates['default']):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
