"""Pretraining throughput: the Lightning stage (train.py stage=pretrain) against a bare PyTorch loop, side by side.

Both read the same labelled shards through the same stream (``PretrainDataModule``:
decode, resize, random crop, flip), train the same ``IQANet`` with the same
loss, optimiser, learning-rate schedule and gradient clipping, at the same
batch size and precision. The bare loop has nothing else: no logging, no
non-finite guard, no callbacks. The Lightning side is ``iqa.training.train``
itself, exactly as ``train.py`` runs it (CSV logger, learning-rate monitor,
throughput callback, checkpoint callback, progress bar). So the ratio is the
framework's overhead. Variants alternate (bare, Lightning, bare, ...) and the
best of ``--repeats`` is reported for each, so a noisy neighbour hurts both.

Without ``--corpus`` a corpus is generated once under ``--work-dir``: ~256 px
JPEG shards cut from the scikit-image photos (random crops, flips and graded
distortions, so labels vary), labelled by the classical teacher through the
real labelling code (``iqa.teachers.labelling.label``).

CPU (the default sizes fit a 2-core machine)::

    python benchmarks/pretrain_throughput.py

One GPU (target: ResNet-50 >= 3,600 images/s on an H100)::

    python benchmarks/pretrain_throughput.py --device cuda --backbone resnet50 --batch-size 256 \\
        --num-workers 14 --precision bf16-mixed --crop-size 224 --steps 150 --warmup 30 --images 16384
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import os
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")

import numpy as np  # noqa: E402
import torch  # noqa: E402

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina", "immunohistochemistry",
          "motorcycle", "camera", "coins", "brick", "grass", "gravel")
SHORT_SIDE = 256
LONG_SIDE = 341


# ----------------------------------------------------------------------------- corpus
def _write_shard(task: tuple[str, int, int, int]) -> int:
    """One shard of ``count`` JPEGs (341x256 or 256x341) cut from the skimage photos."""
    from PIL import Image

    from iqa import distortions
    from iqa.data.shards import ShardWriter
    from iqa.data.synthetic import load_reference

    path, index, count, seed = task
    rng = np.random.default_rng(seed + index)
    photos = [load_reference(name) for name in PHOTOS]
    names = list(distortions.DISTORTIONS)
    with ShardWriter(path) as writer:
        for i in range(count):
            photo = photos[rng.integers(len(photos))]
            height, width = photo.shape[:2]
            portrait = bool(rng.random() < 0.3)
            out_w, out_h = (SHORT_SIDE, LONG_SIDE) if portrait else (LONG_SIDE, SHORT_SIDE)
            scale = max(out_w / width, out_h / height) * rng.uniform(1.0, 1.6)
            resized = Image.fromarray(distortions.to_uint8(photo)).resize(
                (max(out_w, round(width * scale)), max(out_h, round(height * scale))), Image.BICUBIC)
            left = int(rng.integers(0, resized.width - out_w + 1))
            top = int(rng.integers(0, resized.height - out_h + 1))
            crop = np.asarray(resized.crop((left, top, left + out_w, top + out_h)))
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            image = distortions.to_float(np.ascontiguousarray(crop))
            if rng.random() < 0.8:
                image = distortions.apply(image, names[rng.integers(len(names))], int(rng.integers(1, 6)), rng)
            buffer = io.BytesIO()
            Image.fromarray(distortions.to_uint8(image)).save(buffer, format="JPEG", quality=90)
            writer.write({"__key__": f"s{index:05d}-{i:05d}", "jpg": buffer.getvalue()})
    return count


def ensure_corpus(work_dir: Path, images: int, shard_size: int, workers: int, device: str) -> tuple[str, Path]:
    """(shard glob, label dir): generated and labelled once, reused while the parameters match."""
    shards = work_dir / "shards"
    labels = work_dir / "labels"
    params = {"images": images, "shard_size": shard_size, "short_side": SHORT_SIDE, "version": 1}
    record = work_dir / "corpus.json"
    pattern = str(shards / "bench-*.tar")
    if record.is_file() and json.loads(record.read_text()) == params and (labels / "manifest.json").is_file():
        return pattern, labels
    import shutil

    shutil.rmtree(work_dir, ignore_errors=True)
    shards.mkdir(parents=True)
    count = math.ceil(images / shard_size)
    tasks = [(str(shards / f"bench-{i:05d}.tar"), i, min(shard_size, images - i * shard_size), 0) for i in range(count)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        written = sum(pool.map(_write_shard, tasks))
    print(f"corpus: {written} JPEGs in {count} shards ({time.perf_counter() - started:.0f} s) -> {shards}")

    from iqa.teachers.labelling import label

    started = time.perf_counter()
    label(compose("label", [
        "data=shards", f"data.train={pattern}", "teacher=classical", f"out={labels}", f"paths.output_dir={work_dir}",
        f"num_workers={workers}", "batch_size=64", f"trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}",
        "trainer.devices=1", "trainer.precision=32-true", "logger=none",
    ]))
    print(f"labels: classical teacher through iqa.teachers.labelling ({time.perf_counter() - started:.0f} s) -> {labels}")
    record.write_text(json.dumps(params))
    return pattern, labels


def compose(name: str, overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    import iqa.config  # noqa: F401  (resolvers)
    from iqa.config import config_dir

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return hydra_compose(config_name=name, overrides=overrides)


# ----------------------------------------------------------------------------- the two loops
def train_overrides(args, pattern: str, labels: Path, run_dir: Path) -> list[str]:
    total = args.warmup + args.steps
    return [
        "stage=pretrain", "data=shards", f"data.train={pattern}", f"labels={labels}", f"run_dir={run_dir}",
        f"backbone={args.backbone}" if (ROOT / "iqa" / "conf" / "backbone" / f"{args.backbone}.yaml").is_file() else "backbone=resnet50",
        f"backbone.name={args.backbone}", f"backbone.weights={args.weights}", f"backbone.channels_last={args.channels_last}",
        f"stage.batch_size={args.batch_size}", f"stage.num_workers={args.num_workers}", f"stage.crop_size={args.crop_size}",
        f"stage.max_steps={total}", f"stage.steps_per_epoch={total}", "stage.val_batches=0", f"stage.module.warmup_steps={args.warmup}",
        f"stage.shuffle_buffer={args.shuffle_buffer}", f"stage.prefetch_factor={args.prefetch_factor}",
        f"trainer={'gpu' if args.device == 'cuda' else 'cpu'}",
        f"trainer.precision={args.precision}", "resume=never", "logger=csv", f"paths.output_dir={run_dir.parent}",
    ]


class StepTimer:
    """Times batches ``warmup .. max_steps`` of the Lightning run (a Lightning callback, built lazily)."""

    def __new__(cls, warmup: int, total: int, device: str):
        import pytorch_lightning as pl

        class _Timer(pl.Callback):
            def __init__(self) -> None:
                self.start = self.end = None
                self.images = 0

            def on_train_batch_start(self, trainer, module, batch, batch_idx):
                if trainer.global_step == warmup and self.start is None:
                    synchronize(device)
                    self.start = time.perf_counter()

            def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
                if self.start is not None:
                    self.images += int(batch["images"].shape[0])
                if trainer.global_step >= total and self.end is None:
                    # Stop at the last step, before the end-of-training checkpoint the bare loop does not write.
                    synchronize(device)
                    self.end = time.perf_counter()

        return _Timer()


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def lightning_rate(args, pattern: str, labels: Path, work: Path, repeat: int) -> float:
    from iqa.training import train as run

    timer = StepTimer(args.warmup, args.warmup + args.steps, args.device)
    run(compose("train", train_overrides(args, pattern, labels, work / f"lightning-{repeat}")), callbacks=[timer])
    return timer.images / (timer.end - timer.start)


def bare_rate(args, pattern: str, labels: Path, work: Path) -> float:
    """The same data, network, loss, optimiser, schedule and clipping, in a plain loop."""
    from hydra.utils import instantiate

    from iqa.attributes import ATTRIBUTES
    from iqa.config import instantiate_node, resolve_precision
    from iqa.modules.base import warmup_cosine
    from iqa.training import build_pretrain

    cfg = compose("train", train_overrides(args, pattern, labels, work / "bare"))
    torch.manual_seed(int(cfg.seed))
    device = torch.device(args.device)
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
    net = instantiate_node(cfg.net).to(device)  # the student as the stage builds it
    _, datamodule = build_pretrain(cfg, net)  # the same data module and stream the stage uses
    loader = datamodule.train_dataloader()
    loss_fn = instantiate_node(cfg.loss, attributes=ATTRIBUTES)
    net.quality_head.requires_grad_(False)
    params = [p for p in net.parameters() if p.requires_grad]
    # The stage uses the fused Adam kernels on CUDA (see StageModule._fused_kwargs); so does the bare loop.
    optimizer = instantiate(cfg.stage.optimizer)([{"params": params}], **({"fused": True} if args.device == "cuda" else {}))
    total = args.warmup + args.steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, int(cfg.stage.module.warmup_steps), total, float(cfg.stage.module.min_lr_ratio)))
    precision = str(resolve_precision(cfg.trainer.precision))
    autocast = torch.autocast(device.type, dtype=torch.bfloat16 if precision.startswith("bf16") else torch.float16,
                              enabled=precision in ("bf16-mixed", "16-mixed"))
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "16-mixed")
    clip = float(cfg.trainer.gradient_clip_val or 0)
    net.train()
    start = None
    images = 0
    for step, batch in enumerate(loader):
        if step == args.warmup:
            synchronize(args.device)
            start = time.perf_counter()
        inputs = batch["images"].to(device, non_blocking=True)
        targets = batch["targets"].to(device, non_blocking=True)
        with autocast:
            outputs = net(inputs)["attributes"]
        loss, _ = loss_fn(outputs.float(), targets.float())
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if clip:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, clip)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        if start is not None:
            images += inputs.shape[0]
        if step + 1 >= total:
            break
    synchronize(args.device)
    rate = images / (time.perf_counter() - start)
    iterator = getattr(loader, "_iterator", None)
    if iterator is not None:  # persistent workers: stop them before the next variant starts its own
        iterator._shutdown_workers()
    del loader, net, optimizer
    if args.device == "cuda":
        torch.cuda.empty_cache()
    return rate


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--backbone", default="tf_efficientnet_lite0", help="any timm model name")
    parser.add_argument("--weights", default="none", help="imagenet | none | a state-dict file (speed does not depend on it)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-workers", type=int, default=1, help="DataLoader workers (decode, crop)")
    parser.add_argument("--precision", default=None, help="32-true | bf16-mixed | 16-mixed (default: bf16-mixed on cuda, else 32-true)")
    parser.add_argument("--channels-last", default="auto", help="auto (on for cuda) | true | false")
    parser.add_argument("--crop-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (workers start, cudnn tunes)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per variant; the best counts")
    parser.add_argument("--shuffle-buffer", type=int, default=500)
    parser.add_argument("--prefetch-factor", type=int, default=2, help="batches queued per worker (shared memory)")
    parser.add_argument("--corpus", default=None, help="an existing labelled corpus: 'SHARD_GLOB::LABEL_DIR'")
    parser.add_argument("--images", type=int, default=1024, help="size of the generated corpus")
    parser.add_argument("--shard-size", type=int, default=256)
    parser.add_argument("--work-dir", default=str(ROOT / "outputs" / "bench" / "pretrain"))
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but torch sees no CUDA device")
    args.precision = args.precision or ("bf16-mixed" if args.device == "cuda" else "32-true")

    warnings.filterwarnings("ignore")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    work = Path(args.work_dir)
    if args.corpus:
        pattern, labels = args.corpus.split("::")
        labels = Path(labels)
    else:
        pattern, labels = ensure_corpus(work / "corpus", args.images, args.shard_size, max(1, args.num_workers), args.device)
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU ({os.cpu_count()} cores)"
    print(f"device: {device_name}; backbone {args.backbone}, batch {args.batch_size}, crop {args.crop_size}, "
          f"precision {args.precision}, channels_last {args.channels_last}, workers {args.num_workers}, "
          f"{args.steps} timed steps after {args.warmup}")
    runs = Path(tempfile.mkdtemp(prefix="runs-", dir=work))
    rates: dict[str, list[float]] = {"bare": [], "lightning": []}
    for repeat in range(args.repeats):
        rates["bare"].append(bare_rate(args, pattern, labels, runs))
        print(f"  bare PyTorch loop   run {repeat + 1}: {rates['bare'][-1]:8.1f} images/s")
        rates["lightning"].append(lightning_rate(args, pattern, labels, runs, repeat))
        print(f"  Lightning stage     run {repeat + 1}: {rates['lightning'][-1]:8.1f} images/s")
    import shutil

    shutil.rmtree(runs, ignore_errors=True)  # the runs' checkpoints; the corpus stays for the next time
    bare, lightning = max(rates["bare"]), max(rates["lightning"])
    ratio = lightning / bare
    print(f"bare PyTorch loop: {bare:.1f} images/s")
    print(f"Lightning stage:   {lightning:.1f} images/s")
    print(f"ratio Lightning / bare: {ratio:.3f} (goal >= 0.9)")
    return {"device": device_name, "bare": bare, "lightning": lightning, "ratio": ratio, "runs": rates}


if __name__ == "__main__":
    main()
