"""Validation of an enhancer on held-out pairs: fidelity to the reference, and an independent attribute check.

Two kinds of evidence, reported side by side for the input and the output:

* **full-reference fidelity**: PSNR and SSIM (torchmetrics) against the clean reference. The enhancer
  never saw a reference while training, so these measure whether optimising attiqa recovered the image;
* **an independent attribute check**: the classical teacher's attribute scores
  (:mod:`iqa.teachers.classical`, closed-form statistics that share nothing with the loss network). For
  each degradation the attribute it moved is known (``iqa.distortions.DISTORTION_ATTRIBUTE``); the
  check asks whether the output moved that attribute back the intended way, and how much of the gap to
  the reference it closed. An enhancer that hacks the loss network without changing the image the way
  the terms ask shows up here.

The attiqa scores of input and output are reported too (``attiqa_quality``: quality_norm, 1 best), so
the gain the objective saw can be compared with the gain the independent measures see.

**The guard** (:func:`guard`) looks at every output image with all five classical attributes, not only
the one the degradation moved, so an output that "moved the intended way" by washing the image out or
by inflating its colours does not count as a success:

* the intended attribute must move toward the reference (end closer to it than the input was, or within
  its band of it); without a reference, in the intended direction;
* every other attribute must stay within its band (:data:`GUARD_BANDS`, classical score units 0..1) of
  the reference, or be no further from it than the input was (the enhancer is not blamed for a side
  effect of the degradation it left alone); without a reference, within its band of the input;
* colourfulness ratio: Hasler-Suesstrunk colourfulness of the output over that of the reference (at least
  :data:`COLOURFULNESS_FLOOR`, so a grey reference does not turn a faint tint into a huge ratio); above
  ``max_colourfulness_ratio`` (1.15) the output is flagged over-saturated. Without a reference the
  ratio is taken per unit of brightness against the input (colourfulness / mean luma), so that
  brightening an under-exposed image, which scales both, is not mistaken for saturating it (a tone
  curve such as a gamma changes colourfulness per unit of brightness by itself, so there the ratio is
  only indicative), and it is not flagged where colourfulness is the attribute to raise;
* hue drift: the chroma-weighted mean absolute circular difference of CIELAB hue angles (degrees), output
  vs reference (or input), each pixel weighted by the geometric mean of its two chromas (a grey pixel
  has no hue and weighs nothing); above ``max_hue_drift`` (10 degrees) the output is flagged;
* washed out: contrast below its band of the reference while brightness is not below it (lifted blacks,
  a flat grey veil) is named as such.

An output passes the guard when none of these flags is raised. With a reference the guard is strict; without
one it compares with the input and is weaker: attributes that grow with exposure (contrast, sharpness,
noisiness) leave their band when a dark image is brightened, so read those flags as information there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from iqa.attributes import ATTRIBUTES
from iqa.enhancement.data import intended_change, to_uint8_image

#: Per attribute, how far (classical score units, 0..1) an output may sit from the reference before the guard
#: flags it. Measured on the held-out photos: a 20 % lift toward white (``0.8 x + 0.2``) moves brightness by
#: ~0.11 and contrast by ~0.07 (both flagged), a 1.6x chroma boost moves colourfulness by ~0.09, while an
#: output equal to the reference moves nothing. Sharpness and noisiness are looser because denoising trades them
#: against each other (level-1 Gaussian noise alone moves noisiness by ~0.2 and sharpness by ~0.06).
GUARD_BANDS: dict[str, float] = {"sharpness": 0.12, "brightness": 0.08, "contrast": 0.05, "colorfulness": 0.08, "noisiness": 0.15}
#: Colourfulness of the output over the reference's beyond which the output counts as over-saturated.
MAX_COLOURFULNESS_RATIO = 1.15
#: The least colourfulness (Hasler-Suesstrunk M, 0..255 RGB) a ratio is taken against: below ~5 an image looks
#: grey, and a ratio to a near-zero reference would call any faint tint "over-saturated" by orders of magnitude.
COLOURFULNESS_FLOOR = 5.0
#: Chroma-weighted mean hue difference (degrees) beyond which the output counts as hue-shifted.
MAX_HUE_DRIFT = 10.0
#: Flag names, in the order the console line lists them.
GUARD_FLAGS = ("over_saturated", "hue_drift", "washed_out", "intended_not_moved", "out_of_band")


def srgb_to_lab(images: torch.Tensor) -> torch.Tensor:
    """CIELAB ``[B, 3, H, W]`` (L*, a*, b*; D65 white) of sRGB images ``[B, 3, H, W]`` in 0..1, in float64."""
    x = images.detach().double().clamp(0, 1)
    linear = torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    to_xyz = torch.tensor([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]],
                          dtype=torch.float64)
    xyz = torch.einsum("ij,bjhw->bihw", to_xyz, linear)
    white = torch.tensor([0.95047, 1.0, 1.08883], dtype=torch.float64).view(1, 3, 1, 1)
    t = xyz / white
    delta = 6.0 / 29.0
    f = torch.where(t > delta ** 3, t.clamp(min=0) ** (1.0 / 3.0), t / (3 * delta ** 2) + 4.0 / 29.0)
    return torch.stack([116.0 * f[:, 1] - 16.0, 500.0 * (f[:, 0] - f[:, 1]), 200.0 * (f[:, 1] - f[:, 2])], dim=1)


def hue_drift(images: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """Per image: chroma-weighted mean absolute circular difference (degrees) of CIELAB hue, ``images`` vs ``targets``.

    Each pixel weighs ``sqrt(C_image * C_target)`` (C: CIELAB chroma), so grey pixels, whose hue is undefined,
    count for nothing; an image grey in either is given 0.
    """
    a, b = srgb_to_lab(images), srgb_to_lab(targets)
    hue_a, hue_b = torch.atan2(a[:, 2], a[:, 1]), torch.atan2(b[:, 2], b[:, 1])
    difference = torch.remainder(hue_a - hue_b + math.pi, 2 * math.pi) - math.pi  # wrapped to [-pi, pi)
    weight = torch.sqrt(torch.hypot(a[:, 1], a[:, 2]) * torch.hypot(b[:, 1], b[:, 2])).flatten(1)
    total = weight.sum(1)
    drift = (difference.abs().flatten(1) * weight).sum(1) / total.clamp(min=1e-12)
    return torch.where(total > 1e-9, torch.rad2deg(drift), 0.0).numpy().astype(np.float64)


def colourfulness(images: torch.Tensor) -> np.ndarray:
    """Hasler-Suesstrunk colourfulness M (0..255 RGB) per image: the classical teacher's raw colourfulness measure."""
    from iqa.teachers.classical import raw_measures

    return raw_measures(images.detach().float().clamp(0, 1).cpu())[:, ATTRIBUTES.index("colorfulness")].numpy().astype(np.float64)


def image_metrics(inputs: torch.Tensor, outputs: torch.Tensor, references: torch.Tensor | None) -> dict[str, np.ndarray]:
    """Per-image PSNR / SSIM of input and output against the reference, classical teacher scores of all three,
    and what :func:`guard` needs (colourfulness, mean luma, hue drift). ``references=None``: no PSNR / SSIM,
    and the guard compares with the input."""
    x, y = (t.detach().float().clamp(0, 1).cpu() for t in (inputs, outputs))
    out: dict[str, np.ndarray] = {}
    for name, images in (("input", x), ("output", y)):
        out.update({f"{k}_{name}": v for k, v in _classical(images).items()})
    if references is None:
        out["hue_drift"] = hue_drift(y, x)
        return out
    r = references.detach().float().clamp(0, 1).cpu()
    out.update({f"{k}_reference": v for k, v in _classical(r).items()})
    out.update(_fidelity(x, y, r))
    out["hue_drift"] = hue_drift(y, r)
    return out


def _classical(images: torch.Tensor) -> dict[str, np.ndarray]:
    """Classical teacher scores, Hasler-Suesstrunk colourfulness and mean luma (0..1) of float images in 0..1."""
    from iqa.teachers.classical import raw_measures, squash

    raw = raw_measures(images)
    return {"teacher": squash(raw).numpy().astype(np.float64),
            "colourfulness": raw[:, ATTRIBUTES.index("colorfulness")].numpy().astype(np.float64),
            "luma": raw[:, ATTRIBUTES.index("brightness")].numpy().astype(np.float64)}


def _fidelity(x: torch.Tensor, y: torch.Tensor, r: torch.Tensor) -> dict[str, np.ndarray]:
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    def psnr(a: torch.Tensor) -> np.ndarray:
        return peak_signal_noise_ratio(a, r, data_range=1.0, reduction="none", dim=(1, 2, 3)).numpy().astype(np.float64)

    def ssim(a: torch.Tensor) -> np.ndarray:
        return structural_similarity_index_measure(a, r, data_range=1.0, reduction="none").reshape(-1).numpy().astype(np.float64)

    return {"psnr_input": psnr(x), "psnr_output": psnr(y), "ssim_input": ssim(x), "ssim_output": ssim(y)}


def guard(metrics: dict[str, np.ndarray], meta: Sequence[dict[str, Any]], bands: dict[str, float] | None = None,
          max_colourfulness_ratio: float = MAX_COLOURFULNESS_RATIO, max_hue_drift: float = MAX_HUE_DRIFT) -> list[dict[str, Any]]:
    """Per output image: all five classical attributes of input / output / reference, the checks (see the module
    docstring) and the flags raised. ``metrics`` from :func:`image_metrics`; ``meta[i]["degradation"]`` names
    what was done to image ``i`` (its intended change; ``unknown``: no intended-attribute check)."""
    bands = {**GUARD_BANDS, **(bands or {})}
    unknown = sorted(set(bands) - set(ATTRIBUTES))
    if unknown:
        from iqa.errors import UserError

        raise UserError(f"guard bands: unknown attribute(s) {unknown}; valid: {', '.join(ATTRIBUTES)}")
    paired = "teacher_reference" in metrics
    before, after = metrics["teacher_input"], metrics["teacher_output"]
    target = metrics["teacher_reference"] if paired else before
    if paired:
        ratio = metrics["colourfulness_output"] / np.maximum(metrics["colourfulness_reference"], COLOURFULNESS_FLOOR)
    else:  # per unit of brightness, against the input: brightening a dark image scales both alike
        gain = np.maximum(metrics["luma_output"], 1e-6) / np.maximum(metrics["luma_input"], 1e-6)
        ratio = metrics["colourfulness_output"] / (gain * np.maximum(metrics["colourfulness_input"], COLOURFULNESS_FLOOR))
    rows: list[dict[str, Any]] = []
    for i, item in enumerate(meta):
        degradation = str(item.get("degradation", "unknown"))
        change = intended_change(degradation)
        intended = change[0] if change else None
        flags: list[str] = []
        out_of_band: dict[str, float] = {}
        for a, name in enumerate(ATTRIBUTES):
            if name == intended:
                continue
            distance = abs(after[i, a] - target[i, a])
            if distance > bands[name] and not (paired and distance <= abs(before[i, a] - target[i, a])):
                out_of_band[name] = float(after[i, a] - target[i, a])
        row: dict[str, Any] = {
            "key": str(item.get("key", i)), "degradation": degradation,
            "input": dict(zip(ATTRIBUTES, before[i].tolist())), "output": dict(zip(ATTRIBUTES, after[i].tolist())),
            "reference": dict(zip(ATTRIBUTES, target[i].tolist())) if paired else None,
            "colourfulness_ratio": float(ratio[i]), "hue_drift": float(metrics["hue_drift"][i]),
        }
        if change is not None:
            a, sign = ATTRIBUTES.index(change[0]), change[1]
            if paired:
                moved = (abs(after[i, a] - target[i, a]) < abs(before[i, a] - target[i, a])
                         or abs(after[i, a] - target[i, a]) <= bands[change[0]])
            else:
                moved = sign * (after[i, a] - before[i, a]) > 1e-6
            row["intended"] = {"attribute": change[0], "direction": "raise" if sign > 0 else "lower", "moved": bool(moved)}
            if not moved:
                flags.append("intended_not_moved")
        contrast, brightness = ATTRIBUTES.index("contrast"), ATTRIBUTES.index("brightness")
        if after[i, contrast] < target[i, contrast] - bands["contrast"] and after[i, brightness] >= target[i, brightness]:
            flags.append("washed_out")
        if out_of_band:
            flags.append("out_of_band")
        colour_checked = paired or intended != "colorfulness"
        if colour_checked and ratio[i] > max_colourfulness_ratio:
            flags.append("over_saturated")
        if metrics["hue_drift"][i] > max_hue_drift:
            flags.append("hue_drift")
        row["out_of_band"] = out_of_band
        row["flags"] = [f for f in GUARD_FLAGS if f in flags]
        row["passed"] = not flags
        rows.append(row)
    return rows


def guard_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Over per-image :func:`guard` rows: ``passed``, the count of each flag (keys :data:`GUARD_FLAGS`), the mean
    ``colourfulness_ratio`` and ``mean_hue_drift`` (degrees), and per attribute how many were out of band."""
    ratios = [r["colourfulness_ratio"] for r in rows]
    summary: dict[str, Any] = {"images": len(rows), "passed": sum(r["passed"] for r in rows),
                               "colourfulness_ratio": _mean(ratios), "mean_hue_drift": _mean([r["hue_drift"] for r in rows])}
    for flag in GUARD_FLAGS:
        hit = [r for r in rows if flag in r["flags"]]
        summary[flag] = len(hit)
        if flag == "over_saturated" and hit:
            summary["over_saturated_ratio"] = _mean([r["colourfulness_ratio"] for r in hit])
        if flag == "hue_drift" and hit:
            summary["hue_drift_flagged"] = _mean([r["hue_drift"] for r in hit])
    bands: dict[str, int] = {}
    for r in rows:
        for name in r["out_of_band"]:
            bands[name] = bands.get(name, 0) + 1
    summary["out_of_band_attributes"] = bands
    return summary


def guard_line(summary: dict[str, Any], reference: str = "reference") -> str:
    """One console line: ``guard: all 20 outputs passed`` or what was flagged, e.g.
    ``guard: 7/20 outputs over-saturated (colourfulness 1.4x reference); ...``."""
    n = summary["images"]
    if summary["passed"] == n:
        return f"guard: all {n} outputs passed (colourfulness {summary['colourfulness_ratio']:.2f}x {reference}, " \
               f"hue drift {summary['mean_hue_drift']:.1f} deg)"
    parts = []
    if summary["over_saturated"]:
        parts.append(f"{summary['over_saturated']}/{n} outputs over-saturated "
                     f"(colourfulness {summary['over_saturated_ratio']:.2f}x {reference})")
    if summary["hue_drift"]:
        parts.append(f"{summary['hue_drift']}/{n} hue-shifted (mean {summary['hue_drift_flagged']:.1f} deg)")
    if summary["washed_out"]:
        parts.append(f"{summary['washed_out']}/{n} washed out (contrast down, brightness not)")
    if summary["intended_not_moved"]:
        parts.append(f"{summary['intended_not_moved']}/{n} did not move the intended attribute toward the {reference}")
    if summary["out_of_band"]:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(summary["out_of_band_attributes"].items(), key=lambda kv: -kv[1]))
        parts.append(f"{summary['out_of_band']}/{n} out of band ({detail})")
    return f"guard: {n - summary['passed']}/{n} outputs flagged: " + "; ".join(parts)


def _mean(values: Sequence[float] | np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()) if values.size else math.nan


def summarise(metrics: dict[str, np.ndarray], meta: Sequence[dict[str, Any]], attiqa: dict[str, np.ndarray] | None = None,
              guard_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Overall and per-degradation means, the intended-direction check and the guard (see the module docstring).

    Each row has ``guard`` (:func:`guard_summary` of its images); ``rows["all"]`` also has ``guard_images`` (one
    :func:`guard` row per image) and ``guard_line`` (the console line). ``guard_options``: :func:`guard`'s keywords.
    """
    checks = guard(metrics, meta, **(guard_options or {}))
    reference = "reference" if "teacher_reference" in metrics else "input"
    rows: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(meta):
        groups.setdefault(str(item.get("degradation", "unknown")), []).append(i)
    moved_all: list[float] = []
    closed_all: list[float] = []
    for name, idx in [("all", list(range(len(meta)))), *groups.items()]:
        row: dict[str, Any] = {"images": len(idx)}
        for key in ("psnr_input", "psnr_output", "ssim_input", "ssim_output"):
            row[key] = _mean(metrics[key][idx]) if key in metrics else math.nan
        if attiqa is not None:
            row["attiqa_quality_input"] = _mean(attiqa["input"][idx])
            row["attiqa_quality_output"] = _mean(attiqa["output"][idx])
        change = intended_change(name) if name != "all" else None
        if change is not None:
            attribute, sign = change
            a = ATTRIBUTES.index(attribute)
            before, after = metrics["teacher_input"][idx, a], metrics["teacher_output"][idx, a]
            target = metrics["teacher_reference" if "teacher_reference" in metrics else "teacher_input"][idx, a]
            moved = (sign * (after - before) > 0).astype(np.float64)
            gap = target - before
            closed = np.where(np.abs(gap) > 1e-6, (after - before) / np.where(np.abs(gap) > 1e-6, gap, 1.0), np.nan)
            row.update({"attribute": attribute, "direction": "raise" if sign > 0 else "lower",
                        "teacher_input": _mean(before), "teacher_output": _mean(after), "teacher_reference": _mean(target),
                        "moved_intended_way": _mean(moved), "gap_closed": float(np.nanmean(closed)) if np.isfinite(closed).any()
                        else math.nan})
            moved_all += moved.tolist()
            closed_all += [c for c in closed.tolist() if math.isfinite(c)]
        row["guard"] = guard_summary([checks[i] for i in idx])
        rows[name] = row
    if moved_all:
        rows["all"]["moved_intended_way"] = _mean(moved_all)
        rows["all"]["gap_closed"] = _mean(closed_all)
    rows["all"]["guard_images"] = checks
    rows["all"]["guard_line"] = guard_line(rows["all"]["guard"], reference)
    return rows


def _fmt(value: Any, digits: int = 2) -> str:
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def format_table(rows: dict[str, dict[str, Any]]) -> str:
    """A Markdown table: per degradation, PSNR / SSIM input -> output and the classical attribute check."""
    lines = [
        "| degradation | images | PSNR in → out (dB) | SSIM in → out | attiqa quality in → out | classical attribute: in → out (reference) "
        "| moved intended way | gap closed | guard passed | colourfulness out / ref | hue drift (deg) |",
        "|---|---:|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        attribute = (f"{row['attribute']} ({row['direction']}): {_fmt(row['teacher_input'], 3)} → {_fmt(row['teacher_output'], 3)} "
                     f"({_fmt(row['teacher_reference'], 3)})") if "attribute" in row else ""
        quality = (f"{_fmt(row['attiqa_quality_input'], 3)} → {_fmt(row['attiqa_quality_output'], 3)}"
                   if "attiqa_quality_input" in row else "")
        moved = f"{100 * row['moved_intended_way']:.0f} %" if "moved_intended_way" in row else ""
        closed = f"{100 * row['gap_closed']:.0f} %" if isinstance(row.get("gap_closed"), float) and math.isfinite(row["gap_closed"]) else ""
        check = row.get("guard") or {}
        guarded = (f"{check['passed']}/{check['images']} | {_fmt(check['colourfulness_ratio'])}x | {_fmt(check['mean_hue_drift'], 1)}"
                   if check else " | | ")
        lines.append(f"| {name} | {row['images']} | {_fmt(row['psnr_input'])} → {_fmt(row['psnr_output'])} | "
                     f"{_fmt(row['ssim_input'], 3)} → {_fmt(row['ssim_output'], 3)} | {quality} | {attribute} | {moved} | {closed} "
                     f"| {guarded} |")
    line = rows.get("all", {}).get("guard_line")
    return "\n".join(lines) + (f"\n\n{line}" if line else "")


def write_grid(path: str | Path, inputs: torch.Tensor, outputs: torch.Tensor, references: torch.Tensor | None,
               captions: Sequence[str] = (), max_rows: int = 8) -> Path:
    """A before/after PNG: one row per image, columns input | output (| reference), with a caption per row."""
    from PIL import Image, ImageDraw

    path = Path(path)
    rows = min(max_rows, inputs.shape[0])
    columns = [inputs, outputs] + ([references] if references is not None else [])
    height, width = inputs.shape[-2:]
    header, caption_h, pad = 14, 12, 2
    canvas = Image.new("RGB", (len(columns) * (width + pad) + pad, header + rows * (height + caption_h + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for c, title in enumerate(["input", "output", "reference"][: len(columns)]):
        draw.text((pad + c * (width + pad) + 2, 1), title, fill="black")
    for r in range(rows):
        top = header + r * (height + caption_h + pad)
        for c, images in enumerate(columns):
            canvas.paste(Image.fromarray(to_uint8_image(images[r])), (pad + c * (width + pad), top))
        if r < len(captions):
            draw.text((pad + 2, top + height), str(captions[r])[: 8 * len(columns) * width // 48], fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    canvas.save(tmp, format="PNG")
    tmp.replace(path)
    return path


__all__ = ["COLOURFULNESS_FLOOR", "GUARD_BANDS", "GUARD_FLAGS", "MAX_COLOURFULNESS_RATIO", "MAX_HUE_DRIFT", "colourfulness",
           "format_table", "guard", "guard_line", "guard_summary", "hue_drift", "image_metrics", "srgb_to_lab", "summarise",
           "write_grid"]
