"""Enhancers and classical baselines side by side on photos of a frozen split, with intervals over photos.

Each photo of the split (``iqa photos list --split test``) gives one pair: a centre crop, resized so its
short side is ``size``, is the reference, and the same crop degraded (``darken`` or ``contrast_decrease``
of :mod:`iqa.distortions`, at ``level``) is the input. Every method maps inputs to outputs; per photo we
measure PSNR and SSIM against the reference, the colourfulness ratio (Hasler-Suesstrunk, output over the
reference's, the reference taken as at least 5) and the CIELAB hue drift. Each column is reported as the
mean over photos with a 95 % percentile-bootstrap interval that resamples photos, and each method's PSNR
and SSIM are compared with the first method's, paired by photo.

Methods are callables on a batch ``[B, 3, H, W]`` (float, 0..1), or the names of :mod:`iqa.enhancement.baselines`
(``input`` is the degraded input itself).
"""

from __future__ import annotations

import logging
import sys
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from iqa import distortions
from iqa.errors import UserError

log = logging.getLogger("iqa.enhance")

#: Degradations the benchmark applies, and the attribute each takes away.
DEGRADATIONS = ("darken", "contrast_decrease")
METRICS = ("psnr", "ssim", "colourfulness_ratio", "hue_drift")
Method = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class PhotoPairs:
    """Degraded inputs and clean references, one per photo, as ``[N, 3, size, size]`` tensors."""

    photos: list[str]
    inputs: torch.Tensor
    references: torch.Tensor
    degradation: str
    level: int
    missing: list[str] = field(default_factory=list)


def centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The centre square of ``image`` (float ``[H, W, 3]``) resized so its side is ``size`` (Lanczos, on the 8-bit grid)."""
    from PIL import Image

    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(distortions.to_uint8(image[top : top + side, left : left + side]))
    if side != size:
        square = square.resize((size, size), Image.LANCZOS)
    return distortions.to_float(np.asarray(square))


def photo_pairs(split: str = "test", degradation: str = "darken", level: int = 3, size: int = 256, fetch: bool = False,
                names: Sequence[str] | None = None) -> PhotoPairs:
    """One degraded/reference pair per photo of ``split`` (or of ``names``) that is available here.

    ``fetch=True`` downloads the missing ones first (``iqa photos fetch``); otherwise they are listed in
    ``missing`` and left out. No photo at all is a :class:`UserError` saying how to get them.
    """
    from iqa.data import photos as registry

    if degradation not in DEGRADATIONS:
        raise UserError(f"enhancement benchmark: unknown degradation '{degradation}'; valid: {', '.join(DEGRADATIONS)}")
    chosen = [registry.get(n) for n in names] if names else list(registry.photos(split))
    if fetch:
        from iqa.data.photo_sources import FetchError

        try:
            registry.fetch_missing(chosen)  # fetches nothing when every photo is here
        except FetchError as exc:  # offline, or a mirror gone: compare on what is here
            log.warning("enhancement benchmark: could not fetch every photo (%s)", exc)
    missing = [p.name for p in chosen if not registry.available(p)]
    inputs, references, kept = [], [], []
    for photo in chosen:
        if photo.name in missing:
            continue
        reference = centre_crop(distortions.to_float(registry.load_photo(photo.name)), size)
        rng = np.random.default_rng(zlib.crc32(f"{photo.name}/{degradation}/{level}".encode()))
        degraded = distortions.to_float(distortions.to_uint8(distortions.apply(reference, degradation, level, rng)))
        inputs.append(torch.from_numpy(np.ascontiguousarray(degraded)).permute(2, 0, 1))
        references.append(torch.from_numpy(np.ascontiguousarray(reference)).permute(2, 0, 1))
        kept.append(photo.name)
    if not kept:
        where = f"split '{split}'" if not names else "the photos named"
        raise UserError(f"enhancement benchmark: none of the {len(chosen)} photos of {where} is here; "
                        f"fetch them with `iqa photos fetch --split {split}` (or pass fetch=True)")
    if missing:
        log.warning("enhancement benchmark: %d of %d photos are not here and are left out (iqa photos fetch --split %s)",
                    len(missing), len(chosen), split)
    return PhotoPairs(kept, torch.stack(inputs).float(), torch.stack(references).float(), degradation, int(level), missing)


def baseline_method(name: str) -> Method:
    """A classical baseline (:mod:`iqa.enhancement.baselines`) as a batch method; ``input`` returns the input."""
    from iqa.enhancement import baselines

    if name == "input":
        return lambda batch: batch
    if name not in baselines.BASELINES:
        raise UserError(f"unknown baseline '{name}'; valid: input, {', '.join(baselines.BASELINES)}")

    def run(batch: torch.Tensor) -> torch.Tensor:
        images = [baselines.apply(name, x.permute(1, 2, 0).numpy()) for x in batch.float()]
        return torch.stack([torch.from_numpy(np.ascontiguousarray(y)).permute(2, 0, 1) for y in images])

    return run


def measure(pairs: PhotoPairs, outputs: torch.Tensor) -> dict[str, np.ndarray]:
    """Per photo: PSNR, SSIM, colourfulness ratio and hue drift of ``outputs`` against the references."""
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    from iqa.enhancement.report import COLOURFULNESS_FLOOR, colourfulness, hue_drift

    y = outputs.detach().float().clamp(0, 1).cpu()
    r = pairs.references
    if y.shape != r.shape:
        raise ValueError(f"outputs {tuple(y.shape)} do not match the references {tuple(r.shape)}")
    psnr = peak_signal_noise_ratio(y, r, data_range=1.0, reduction="none", dim=(1, 2, 3)).numpy().astype(np.float64)
    ssim = structural_similarity_index_measure(y, r, data_range=1.0, reduction="none").reshape(-1).numpy().astype(np.float64)
    ratio = colourfulness(y) / np.maximum(colourfulness(r), COLOURFULNESS_FLOOR)
    return {"psnr": psnr, "ssim": ssim, "colourfulness_ratio": ratio, "hue_drift": hue_drift(y, r)}


def run_methods(pairs: PhotoPairs, methods: Mapping[str, Method | str], batch_size: int = 16) -> dict[str, dict[str, np.ndarray]]:
    """``{method: {metric: per-photo values}}`` for every method (a callable or a baseline name)."""
    results = {}
    for name, method in methods.items():
        fn = baseline_method(method) if isinstance(method, str) else method
        with torch.no_grad():
            outputs = torch.cat([fn(pairs.inputs[i : i + batch_size]).float().cpu()
                                 for i in range(0, len(pairs.photos), batch_size)])
        results[name] = measure(pairs, outputs)
    return results


def summarise(pairs: PhotoPairs, results: Mapping[str, Mapping[str, np.ndarray]], n_boot: int = 2000) -> dict[str, Any]:
    """Means with photo-bootstrap intervals per method and metric, and PSNR/SSIM gaps to the first method (paired)."""
    from iqa.evaluation.protocol import paired_gap, photo_interval

    names = list(results)
    out: dict[str, Any] = {"degradation": pairs.degradation, "level": pairs.level, "photos": len(pairs.photos),
                           "missing": list(pairs.missing), "methods": {}}
    for name in names:
        row: dict[str, Any] = {}
        for metric in METRICS:
            per_photo = dict(zip(pairs.photos, map(float, results[name][metric])))
            mean, lo, hi = photo_interval(per_photo, n_boot, tag=f"{name}/{metric}")
            row[metric] = {"mean": mean, "lo": lo, "hi": hi}
        if name != names[0]:
            for metric in ("psnr", "ssim"):
                first = dict(zip(pairs.photos, map(float, results[names[0]][metric])))
                this = dict(zip(pairs.photos, map(float, results[name][metric])))
                row[f"{metric}_gap_{names[0]}"] = paired_gap(first, this, n_boot, tag=f"{name}/{metric}/gap")
        out["methods"][name] = row
    return out


def _cell(stat: Mapping[str, float], digits: int) -> str:
    if not np.isfinite(stat["lo"]):
        return f"{stat['mean']:.{digits}f}"
    return f"{stat['mean']:.{digits}f} [{stat['lo']:.{digits}f}, {stat['hi']:.{digits}f}]"


def format_summary(summary: Mapping[str, Any]) -> str:
    """A Markdown table of :func:`summarise`: one row per method, intervals over photos."""
    methods = summary["methods"]
    first = next(iter(methods))
    lines = [f"{summary['degradation']} (level {summary['level']}), {summary['photos']} photos, 95 % intervals over photos",
             "",
             f"| method | PSNR (dB) | SSIM | colourfulness / reference | hue drift (deg) | PSNR: {first} minus method |",
             "|---|---|---|---|---|---|"]
    for name, row in methods.items():
        gap = row.get(f"psnr_gap_{first}")
        gap_cell = "" if gap is None else (f"{gap['gap']:+.2f} [{gap['lo']:+.2f}, {gap['hi']:+.2f}], "
                                           f"{first} ahead on {gap['wins']:.0%} of photos")
        lines.append(f"| {name} | {_cell(row['psnr'], 2)} | {_cell(row['ssim'], 3)} | {_cell(row['colourfulness_ratio'], 2)} | "
                     f"{_cell(row['hue_drift'], 1)} | {gap_cell} |")
    return "\n".join(lines)


def enhancer_method(ckpt: str) -> Method:
    """A trained enhancer checkpoint (``stage=enhance``) as a batch method, on the CPU."""
    from iqa.enhancement.models import read_enhancer_checkpoint

    net, _ = read_enhancer_checkpoint(ckpt)
    return lambda batch: net(batch.float())


def compare(runs: Mapping[str, str], split: str = "test", degradations: Sequence[str] = ("darken",), level: int = 3,
            size: int = 256, fetch: bool = False, baselines: Sequence[str] = ("auto_gamma", "clahe", "input"),
            n_boot: int = 2000, out: str | None = None) -> dict[str, Any]:
    """Trained enhancers (``{name: checkpoint}``, the first is the one compared with) beside the classical baselines,
    on one pair per photo of ``split`` for each degradation; prints the tables, and writes ``comparison.json`` and
    ``comparison.md`` under ``out``. Falls back to the tune photos, saying so, when no test photo is here."""
    from pathlib import Path

    from iqa.enhancement.baselines import clahe_backend
    from iqa.io import atomic_write_json, atomic_write_text

    methods: dict[str, Method | str] = {name: enhancer_method(str(ckpt)) for name, ckpt in runs.items()}
    methods.update({name: name for name in baselines})
    report: dict[str, Any] = {"split": split, "runs": dict(runs), "clahe": clahe_backend(), "tables": {}}
    texts = []
    for degradation in degradations:
        try:
            pairs = photo_pairs(split, degradation, level, size, fetch=fetch)
        except UserError as exc:
            if split != "test":
                raise
            log.warning("%s; comparing on the tune photos instead (they chose the settings: not an independent result)", exc)
            report["split"] = "tune (no test photo here)"
            pairs = photo_pairs("tune", degradation, level, size)
        summary = summarise(pairs, run_methods(pairs, methods), n_boot)
        summary["photo_names"] = pairs.photos
        report["tables"][degradation] = summary
        texts.append(format_summary(summary))
    text = (f"Enhancers beside classical baselines on the {report['split']} photos (CLAHE: {report['clahe']})\n\n"
            + "\n\n".join(texts))
    print(text, flush=True)
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        atomic_write_json(Path(out) / "comparison.json", report)
        atomic_write_text(Path(out) / "comparison.md", f"# {text}\n")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """``iqa enhance-compare --run NAME=CKPT ... [--split test] [--fetch] [--out DIR]``: the exit code."""
    import argparse

    parser = argparse.ArgumentParser(prog="iqa enhance-compare", description="Trained enhancers beside auto-gamma, CLAHE and "
                                     "the input, on one degraded crop per photo of a frozen split, with intervals over photos.")
    parser.add_argument("--run", action="append", required=True, metavar="NAME=CKPT", help="an enhancer checkpoint (repeatable)")
    parser.add_argument("--split", default="test", choices=("train", "tune", "test"))
    parser.add_argument("--degradation", action="append", choices=DEGRADATIONS, help="repeatable (default: darken)")
    parser.add_argument("--level", type=int, default=3)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--fetch", action="store_true", help="download the split's missing photos first")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    runs = {}
    for item in args.run:
        name, sep, ckpt = item.partition("=")
        if not sep or not name or not ckpt:
            parser.error(f"--run expects NAME=CHECKPOINT, got {item!r}")
        runs[name] = ckpt
    try:
        compare(runs, args.split, args.degradation or ["darken"], args.level, args.size, args.fetch, n_boot=args.bootstrap,
                out=args.out)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


__all__ = ["DEGRADATIONS", "METRICS", "PhotoPairs", "baseline_method", "centre_crop", "compare", "enhancer_method", "format_summary",
           "main", "measure", "photo_pairs", "run_methods", "summarise"]
