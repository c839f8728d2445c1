"""Labelling throughput: the full label.py pipeline against its two parts, on the same images, in one run.

Measures, side by side:

* **pipeline**: ``iqa.teachers.labelling.label`` in-process, the code path of ``label.py``
  (shard stream, DataLoader workers, Lightning prediction loop, teacher, sidecar
  writer), timed from the start to the end of prediction;
* **teacher alone**: a bare loop of teacher forwards on pre-decoded batches already
  on the device (bf16 autocast on CUDA, like ``precision=bf16-mixed``);
* **decode alone**: the same DataLoader without the teacher (plus the batched
  device decode when ``--decode`` resolves to gpu).

and prints images/s and ``pipeline / min(teacher alone, decode alone)``. The goal is
>= 0.9. On a CPU, decode and teacher share the same cores, so it also prints the
"shared-core bound" ``1 / (1/teacher + 1/decode)``, which is what a perfectly
overlapped pipeline can reach when both stages compete for the same cores.

The corpus is generated once (cached under ``--corpus``): WebDataset shards of
JPEGs (quality 90) with a short side of ``--size`` px, cut from the photos that ship
with scikit-image at varied positions and scales.

Examples::

    python benchmarks/label_throughput.py                                   # CPU, classical teacher
    python benchmarks/label_throughput.py --teacher openclip --model ViT-B-32 --images 512
    python benchmarks/label_throughput.py --device cuda --teacher openclip --model ViT-B-32 \\
        --images 20000 --batch-size 256 --workers 16 --decode gpu           # one GPU
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle", "hubble_deep_field", "immunohistochemistry",
          "retina", "camera", "brick", "grass", "gravel", "coins", "clock", "moon", "cell")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2048, help="images in the generated corpus")
    parser.add_argument("--size", type=int, default=256, help="short side of the generated JPEGs, px")
    parser.add_argument("--shard-size", type=int, default=512, help="images per tar shard")
    parser.add_argument("--corpus", default=None, help="corpus folder (default: a cache folder under the system temp dir)")
    parser.add_argument("--teacher", default="classical", help="teacher config: classical | openclip | openclip_tiny | vit_b32 | ...")
    parser.add_argument("--model", default=None, help="open_clip model name for --teacher openclip (e.g. ViT-B-32)")
    parser.add_argument("--pretrained", default="none", help="open_clip weights: none (random) | a local file | a cached tag")
    parser.add_argument("--prompts", default="clipiqa", help="prompt set")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where the teacher runs")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", default="auto", help="DataLoader workers (auto: cores - 1)")
    parser.add_argument("--decode", default="auto", choices=("auto", "cpu", "gpu"), help="JPEG decode path")
    parser.add_argument("--precision", default="auto", help="Lightning precision (auto: bf16-mixed on a bf16 GPU, else 32-true)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the three measurements (the median is reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads in the main process")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    return parser.parse_args(argv)


# ---------------------------------------------------------------- corpus
def build_corpus(root: Path, images: int, size: int, shard_size: int) -> list[str]:
    """JPEG shards cut from the scikit-image photos, written in parallel; reused when the spec matches."""
    from concurrent.futures import ProcessPoolExecutor

    spec = {"images": images, "size": size, "shard_size": shard_size, "version": 2}
    record = root / "corpus.json"
    if record.is_file() and json.loads(record.read_text()).get("spec") == spec:
        return json.loads(record.read_text())["shards"]
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    jobs = [(str(root / f"bench-{i // shard_size:06d}.tar"), i, min(shard_size, images - i), size) for i in range(0, images, shard_size)]
    with ProcessPoolExecutor(max(1, min(len(jobs), len(os.sched_getaffinity(0))))) as pool:
        shards = list(pool.map(_write_shard, jobs))
    record.write_text(json.dumps({"spec": spec, "shards": shards}))
    return shards


_PHOTOS: list = []


def _write_shard(job: tuple[str, int, int, int]) -> str:
    """One shard: ``count`` random 4:3 windows (40-100 % of the short side) resized to a short side of ``size``."""
    from PIL import Image

    from iqa import distortions
    from iqa.data.shards import ShardWriter
    from iqa.data.synthetic import load_reference

    path, first, count, size = job
    if not _PHOTOS:
        _PHOTOS.extend(Image.fromarray(distortions.to_uint8(load_reference(name))) for name in PHOTOS)
    rng = np.random.default_rng(first)
    with ShardWriter(path) as writer:
        for index in range(first, first + count):
            photo = _PHOTOS[index % len(_PHOTOS)]
            side = int(min(photo.size) * rng.uniform(0.4, 1.0))
            w, h = (int(side * 4 / 3), side) if photo.size[0] >= photo.size[1] else (side, int(side * 4 / 3))
            w, h = min(w, photo.size[0]), min(h, photo.size[1])
            x, y = int(rng.integers(0, photo.size[0] - w + 1)), int(rng.integers(0, photo.size[1] - h + 1))
            crop = photo.crop((x, y, x + w, y + h))
            scale = size / min(crop.size)
            crop = crop.resize((max(size, round(crop.size[0] * scale)), max(size, round(crop.size[1] * scale))), Image.BICUBIC)
            buffer = io.BytesIO()
            crop.save(buffer, format="JPEG", quality=90)
            writer.write({"__key__": f"img{index:08d}", "jpg": buffer.getvalue()})
    return path


# ---------------------------------------------------------------- measurements
def compose_config(args: argparse.Namespace, shards: list[str], out: Path):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from iqa.config import config_dir

    overrides = [
        f"teacher={args.teacher}", f"prompts={args.prompts}", "data=shards", f"data.train={json.dumps(shards)}",
        "splits=[train]", f"out={out}", f"batch_size={args.batch_size}", f"num_workers={args.workers}",
        f"decode={args.decode}", "progress=false", "logger=none",
        f"trainer.accelerator={'gpu' if args.device == 'cuda' else 'cpu'}", "trainer.devices=1",
        f"trainer.precision={args.precision}",
    ]
    if args.teacher.startswith("openclip") or args.teacher in ("vit_b32", "vit_l14", "rn50"):
        if args.model:
            overrides.append(f"teacher.model={args.model}")
        if args.teacher != "openclip_tiny":
            overrides.append(f"teacher.pretrained={args.pretrained}")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose(config_name="label", overrides=overrides)


def measure_pipeline(cfg) -> tuple[float, float, int]:
    """(end-to-end images/s, steady-state images/s after the first batch, images labelled)."""
    from iqa.teachers.labelling import label as run

    out = Path(cfg.out)
    if out.exists():
        shutil.rmtree(out)
    manifest = run(cfg)
    last = manifest["last_run"]
    return last["images_per_second"], last.get("steady_images_per_second") or last["images_per_second"], last["labelled"]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_decode(cfg, teacher, device: torch.device, keep: int) -> tuple[float, float, int, list[torch.Tensor], str]:
    """The label DataLoader (and the device decode) alone, end to end and after the first batch.

    Keeps up to ``keep`` decoded images for the teacher loop.
    """
    from iqa.data.datamodules import LabelDataModule
    from iqa.modules.label import LabelModule
    from iqa.teachers.labelling import label_units

    units = label_units(cfg)
    data = LabelDataModule(units, teacher.image_size, [u.name for u in units], decode=cfg.decode, batch_size=int(cfg.batch_size),
                           num_workers=cfg.num_workers, device_max_pixels=int(cfg.device_decode_max_pixels))
    data.trainer = _FakeTrainer(device)
    module = LabelModule(teacher).to(device)  # decode where the teacher lives, as in the pipeline
    kept: list[torch.Tensor] = []
    count = first_count = 0
    first_done = 0.0
    started = time.perf_counter()
    loader = data.predict_dataloader()
    for batch in loader:
        parts = []
        if batch["images"] is not None:
            parts.append(batch["images"].to(device, non_blocking=True))
        if batch["encoded"] is not None:
            offset = len(parts[0]) if parts else 0
            decoded, _, _ = module.decode_encoded(batch["encoded"], batch["encoded_sizes"], batch["keys"][offset:],
                                                  batch["units"][offset:], batch["sources"][offset:])
            if decoded is not None:
                parts.append(decoded)
        for part in parts:
            count += len(part)
            if sum(len(k) for k in kept) < keep:
                kept.append(part)
        if not first_done:
            sync(device)
            first_done, first_count = time.perf_counter(), count
    sync(device)
    finished = time.perf_counter()
    steady = (count - first_count) / (finished - first_done) if count > first_count else count / (finished - started)
    return count / (finished - started), steady, count, kept, data.decode_path


class _FakeTrainer:
    """What LabelDataModule reads from a trainer: the device, the rank and the world."""

    def __init__(self, device: torch.device) -> None:
        self.strategy = type("S", (), {"root_device": device})()
        self.global_rank, self.world_size, self.num_nodes = 0, 1, 1


@torch.no_grad()
def measure_teacher(teacher, batches: list[torch.Tensor], images: int, device: torch.device, batch_size: int) -> float:
    """Bare teacher forwards on pre-decoded device batches, cycling through them until ``images`` are scored."""
    chunks = [c.to(device) for c in torch.cat(batches).split(batch_size) if len(c) == batch_size] or [batches[0].to(device)]
    autocast = device.type == "cuda" and torch.cuda.is_bf16_supported()
    for chunk in chunks[:2]:  # warm-up (cudnn autotune, allocator)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            teacher(chunk)
    sync(device)
    done, index = 0, 0
    started = time.perf_counter()
    while done < images:
        chunk = chunks[index % len(chunks)]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            teacher(chunk).float()
        done += len(chunk)
        index += 1
    sync(device)
    return done / (time.perf_counter() - started)


def summarise(decode_total: float, decode: float, teacher: float, pipeline_total: float, pipeline: float) -> dict[str, float]:
    """One round's rates (images/s after the first batch, and end to end) and their ratios."""
    shared = 1.0 / (1.0 / decode + 1.0 / teacher)
    return {
        "decode_alone": round(decode, 1), "teacher_alone": round(teacher, 1), "pipeline": round(pipeline, 1),
        "decode_alone_end_to_end": round(decode_total, 1), "pipeline_end_to_end": round(pipeline_total, 1),
        "ratio_vs_slower": round(pipeline / min(decode, teacher), 3), "ratio_vs_teacher": round(pipeline / teacher, 3),
        "ratio_vs_decode": round(pipeline / decode, 3), "shared_core_bound": round(shared, 1),
        "ratio_vs_shared_core_bound": round(pipeline / shared, 3),
        "ratio_end_to_end": round(pipeline_total / min(decode_total, teacher), 3),
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    if args.threads:
        torch.set_num_threads(args.threads)
    import logging

    logging.getLogger("iqa").setLevel(logging.WARNING)
    from iqa.config import instantiate_node
    from iqa.training import quiet_libraries

    quiet_libraries()
    cache = Path(args.corpus) if args.corpus else Path(tempfile.gettempdir()) / f"attiqa-bench-{args.images}-{args.size}-{args.shard_size}"
    started = time.perf_counter()
    shards = build_corpus(cache, args.images, args.size, args.shard_size)
    print(f"corpus: {args.images} JPEGs, short side {args.size} px, {len(shards)} shard(s) in {cache} "
          f"({time.perf_counter() - started:.1f} s)")
    work = Path(tempfile.mkdtemp(prefix="attiqa-bench-labels-"))
    try:
        cfg = compose_config(args, shards, work / "labels")
        device = torch.device(args.device)
        teacher = instantiate_node(cfg.teacher).to(device).eval()
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({len(os.sched_getaffinity(0))} cores)"
        print(f"device: {name}; teacher: {teacher.name} at {teacher.image_size} px; batch {args.batch_size}; workers {args.workers}; "
              f"torch threads {torch.get_num_threads()}")
        rounds = []
        decode_path = "cpu"
        for _ in range(args.repeat):
            # The teacher is timed right before and right after the pipeline and averaged, so a
            # change in machine load during the round affects both sides alike.
            decode_total, decode_steady, count, kept, decode_path = measure_decode(cfg, teacher, device, keep=8 * args.batch_size)
            before = measure_teacher(teacher, kept, count, device, args.batch_size)
            pipeline_total, pipeline_steady, labelled = measure_pipeline(cfg)
            after = measure_teacher(teacher, kept, count, device, args.batch_size)
            if labelled != count:
                raise SystemExit(f"the pipeline labelled {labelled} images but the stream delivered {count}")
            rounds.append(summarise(decode_total, decode_steady, (before + after) / 2, pipeline_total, pipeline_steady))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {
        "device": name, "teacher": teacher.name, "image_size": teacher.image_size, "images": count,
        "batch_size": args.batch_size, "workers": args.workers, "decode": decode_path,
        "rounds": rounds, **{k: float(np.median([r[k] for r in rounds])) for k in rounds[0]},
    }
    print(f"\n{'round':<7}{'decode alone':>14}{'teacher alone':>15}{'pipeline':>11}{'pipe/slower':>13}{'end to end':>12}"
          + (f"{'pipe/shared':>13}" if device.type == "cpu" else ""))
    for index, r in enumerate(rounds, 1):
        print(f"{index:<7}{r['decode_alone']:>14,.1f}{r['teacher_alone']:>15,.1f}{r['pipeline']:>11,.1f}"
              f"{r['ratio_vs_slower']:>13.3f}{r['ratio_end_to_end']:>12.3f}"
              + (f"{r['ratio_vs_shared_core_bound']:>13.3f}" if device.type == "cpu" else ""))
    print(f"\nimages/s ({decode_path} decode), median of {len(rounds)} round(s), after the first batch:")
    print(f"  decode alone {results['decode_alone']:,.1f}   teacher alone {results['teacher_alone']:,.1f}   "
          f"full pipeline (label.py) {results['pipeline']:,.1f}   (end to end: {results['pipeline_end_to_end']:,.1f})")
    print(f"pipeline / teacher alone          = {results['ratio_vs_teacher']:.3f}")
    print(f"pipeline / decode alone           = {results['ratio_vs_decode']:.3f}")
    print(f"pipeline / min(teacher, decode)   = {results['ratio_vs_slower']:.3f}   "
          f"(goal >= 0.9; end to end {results['ratio_end_to_end']:.3f})")
    if device.type == "cpu":
        print(f"pipeline / shared-core bound      = {results['ratio_vs_shared_core_bound']:.3f}   "
              f"(bound {results['shared_core_bound']:,.1f} img/s: decode and teacher on the same cores)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
