"""Enhancement objectives compared over seeds and thread counts, in one process (no Lightning).

Each run trains the enhancer of ``train.py stage=enhance`` (the same ``EnhancementObjective``, the same
``CurveEstimator``, the same degraded training crops, AdamW with gradient-norm clipping) for ``--steps``
steps, then scores it on degraded photos of a frozen split (``--split tune`` for choices; ``test`` only for
a recipe already chosen). A run counts as a white-out when its mean output luma on the darkened photos
exceeds ``--white-luma`` (0.85) or its PSNR falls below 12 dB.

    python benchmarks/enhance_sweep.py --grid whiteout --seeds 0-9 --threads 1,2 --out runs/whiteout.json
    python benchmarks/enhance_sweep.py --grid defaults --seeds 0-2 --threads 1,2 --split test --out runs/test.json

Grids (``--grid``): ``whiteout`` (the earlier demo: quadratic curves and quality + brightness toward the 60th
percentile at lr 3e-3, with the noisiness term on or off and the smoothness of the earlier default or of
Zero-DCE; pass ``--ckpt`` for the quality model it ran against; and the current defaults), ``defaults``
(the current defaults and the same enhancer without the attiqa term), or ``tune`` (candidate settings, for
the tune split). Results are appended to ``--out`` as they finish, and
runs already there are skipped, so an interrupted sweep resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

#: The objective of earlier releases, which whited out on some seeds.
EARLIER = {"quality": 1.0, "attributes": {"brightness": {"target": 60}}, "spatial_consistency": 1.0,
           "illumination_smoothness": 1.0, "color_constancy": 0.5, "lr": 3e-3, "clip": 1.0, "weight_decay": 0.0,
           "curve": "quadratic", "downscale": 1, "width": 16, "crop": 96, "views": 0}
NOISE_TERM = {"noisiness": {"direction": "lower", "weight": 0.3}}
#: Zero-DCE's total-variation weight (200 on twice our mean squared difference) in this objective's units.
ZERO_DCE_SMOOTHNESS = 400.0


def current_defaults() -> dict[str, Any]:
    """The objective and optimiser of ``conf/experiment/demo_enhance.yaml`` (read from the config itself)."""
    from hydra import compose, initialize_config_dir

    conf = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose("train", overrides=["experiment=demo_enhance"])
    from omegaconf import OmegaConf

    objective = OmegaConf.to_container(cfg.stage.objective, resolve=False)
    settings = {k: v for k, v in objective.items() if k not in ("_target_", "ckpt", "clean_photos", "clean_size", "clean_crop")}
    settings.update(lr=float(cfg.stage.optimizer.lr), clip=float(cfg.trainer.gradient_clip_val or 0.0),
                    weight_decay=float(cfg.stage.optimizer.weight_decay), steps=int(cfg.stage.max_steps),
                    batch=int(cfg.stage.batch_size), crop=int(cfg.stage.crop_size), width=int(cfg.enhancer.width),
                    downscale=int(cfg.enhancer.downscale),
                    curve=str(cfg.enhancer.curve),
                    photo_size=int(cfg.stage.data.train.photo_size), levels=list(cfg.stage.data.train.levels),
                    degradations=list(cfg.stage.data.train.degradations), warmup=int(cfg.stage.module.warmup_steps))
    return settings


def grid(name: str) -> dict[str, dict[str, Any]]:
    base = current_defaults()
    if name == "defaults":
        return {"attiqa": base, "no_attiqa": {**base, "attiqa_weight": 0.0}}
    if name == "whiteout":
        cells = {}
        for noise in (False, True):
            for smooth_name, smooth in (("today", 1.0), ("zero_dce", ZERO_DCE_SMOOTHNESS)):
                attributes = {**EARLIER["attributes"], **(NOISE_TERM if noise else {})}
                keep = {k: base[k] for k in ("steps", "batch", "photo_size", "levels", "degradations", "warmup", "resize")}
                cells[f"earlier/noise={'on' if noise else 'off'}/smooth={smooth_name}"] = {
                    **EARLIER, **keep, "attributes": attributes, "illumination_smoothness": smooth}
        cells["defaults"] = base
        return cells
    if name == "tune":
        return {"defaults": base, "no_views": {**base, "views": 0}, "no_ceiling": {**base, "ceilings": {}},
                "brightness_quality_only": {**base, "attributes": {}}, "no_attiqa": {**base, "attiqa_weight": 0.0}}
    raise SystemExit(f"unknown grid {name!r}; valid: defaults, whiteout, tune")


def train(settings: dict[str, Any], seed: int, threads: int, ckpt: str) -> torch.nn.Module:
    from iqa.enhancement.data import DegradedCrops
    from iqa.enhancement.models import build_enhancer
    from iqa.enhancement.objective import EnhancementObjective

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    keys = ("quality", "attributes", "resize", "attiqa_weight", "spatial_consistency", "illumination_smoothness", "fidelity",
            "exposure", "exposure_level", "exposure_band", "color_constancy", "hue_fidelity", "chroma_gain", "colourfulness_gain",
            "colourfulness_margin", "clipping", "clip_level", "views", "view_scale", "view_shrink", "ceilings", "ceiling_weight")
    objective = EnhancementObjective(ckpt, probe_heads=False, clean_size=settings["photo_size"], clean_crop=settings["crop"],
                                     **{k: settings[k] for k in keys if k in settings})
    net = build_enhancer("zero_dce", width=settings["width"], iterations=8, downscale=settings.get("downscale", 1),
                        curve=settings.get("curve", "quadratic"))
    data = DegradedCrops(degradations=settings["degradations"], levels=settings["levels"], photo_size=settings["photo_size"],
                         crop_size=settings["crop"], length=10**9)
    optimiser = torch.optim.AdamW(net.parameters(), lr=settings["lr"], weight_decay=settings.get("weight_decay", 0.0))
    steps, warmup = int(settings["steps"]), int(settings.get("warmup", 0))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / max(warmup, 1)) * (
        0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(s, steps) / steps))))
    for _ in range(steps):
        batch = torch.stack([data[0]["images"] for _ in range(settings["batch"])])
        outputs, aux = net.enhance(batch)
        total, _ = objective(batch, outputs, aux)
        optimiser.zero_grad(set_to_none=True)
        if torch.isfinite(total):
            total.backward()
            if settings.get("clip"):
                torch.nn.utils.clip_grad_norm_(net.parameters(), settings["clip"])
            optimiser.step()
        schedule.step()
    return net.eval()


def evaluate(net: torch.nn.Module, pairs: Any) -> dict[str, float]:
    from iqa.enhancement.benchmark import measure
    from iqa.enhancement.objective import luma

    with torch.no_grad():
        outputs = net(pairs.inputs)
    metrics = measure(pairs, outputs)
    return {"psnr": float(np.mean(metrics["psnr"])), "ssim": float(np.mean(metrics["ssim"])),
            "colourfulness_ratio": float(np.mean(metrics["colourfulness_ratio"])), "hue_drift": float(np.mean(metrics["hue_drift"])),
            "luma": float(luma(outputs).mean()), "per_photo_psnr": metrics["psnr"].tolist()}


def parse_range(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", default="defaults")
    parser.add_argument("--cells", default="", help="comma-separated cell names of the grid (default: all)")
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--split", default="tune", choices=("tune", "test"))
    parser.add_argument("--degradation", default="darken")
    parser.add_argument("--level", type=int, default=3)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=0, help="override the steps of every cell")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="override a setting of every cell, e.g. --set 'exposure_band=[0.1, 0.9]' (repeatable)")
    parser.add_argument("--tag", default="", help="suffix for the cell names (to keep overridden runs apart)")
    parser.add_argument("--ckpt", default="", help="quality checkpoint (default: the shipped model)")
    parser.add_argument("--white-luma", type=float, default=0.85)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import iqa.zoo
    from iqa.enhancement.benchmark import photo_pairs

    ckpt = args.ckpt or str(iqa.zoo.path())
    cells = grid(args.grid)
    if args.cells:
        cells = {k: v for k, v in cells.items() if k in args.cells.split(",")}
    pairs = photo_pairs(args.split, args.degradation, args.level, args.size)
    out = Path(args.out)
    done = json.loads(out.read_text()) if out.exists() else []
    seen = {(r["cell"], r["seed"], r["threads"]) for r in done}
    for name, settings in cells.items():
        if args.steps:
            settings = {**settings, "steps": args.steps}
        for item in args.set:
            key, _, value = item.partition("=")
            settings = {**settings, key: json.loads(value)}
        name = name + args.tag
        for threads in parse_range(args.threads):
            for seed in parse_range(args.seeds):
                if (name, seed, threads) in seen:
                    continue
                start = time.perf_counter()
                net = train(settings, seed, threads, ckpt)
                row = {"cell": name, "seed": seed, "threads": threads, "split": args.split, "photos": len(pairs.photos),
                       "seconds": round(time.perf_counter() - start, 1), **evaluate(net, pairs)}
                nets = out.parent / (out.stem + "-nets")
                nets.mkdir(parents=True, exist_ok=True)
                torch.save(net.state_dict(), nets / f"{name.replace('/', '_')}-s{seed}-t{threads}.pt")
                row["white_out"] = bool(row["luma"] > args.white_luma or row["psnr"] < 12.0)
                done.append(row)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(done, indent=1))
                print(f"{name:40s} seed {seed} threads {threads}: PSNR {row['psnr']:.2f} SSIM {row['ssim']:.3f} "
                      f"colour x{row['colourfulness_ratio']:.2f} hue {row['hue_drift']:.1f} luma {row['luma']:.2f} "
                      f"{'WHITE-OUT ' if row['white_out'] else ''}({row['seconds']:.0f} s)", flush=True)
    cells_seen = sorted({r["cell"] for r in done})
    for name in cells_seen:
        rows = [r for r in done if r["cell"] == name]
        psnr = [r["psnr"] for r in rows]
        print(f"{name:40s} runs {len(rows):3d}  white-out {sum(r['white_out'] for r in rows)}/{len(rows)}  "
              f"PSNR median {np.median(psnr):.2f} range [{min(psnr):.2f}, {max(psnr):.2f}]")


if __name__ == "__main__":
    main()
