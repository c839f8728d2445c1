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


def image_metrics(inputs: torch.Tensor, outputs: torch.Tensor, references: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-image PSNR / SSIM of input and output against the reference, and classical teacher scores of all three."""
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    from iqa.teachers.classical import classical_scores

    x, y, r = (t.detach().float().clamp(0, 1).cpu() for t in (inputs, outputs, references))

    def psnr(a: torch.Tensor) -> np.ndarray:
        return peak_signal_noise_ratio(a, r, data_range=1.0, reduction="none", dim=(1, 2, 3)).numpy().astype(np.float64)

    def ssim(a: torch.Tensor) -> np.ndarray:
        return structural_similarity_index_measure(a, r, data_range=1.0, reduction="none").reshape(-1).numpy().astype(np.float64)

    return {
        "psnr_input": psnr(x), "psnr_output": psnr(y), "ssim_input": ssim(x), "ssim_output": ssim(y),
        "teacher_input": classical_scores(x).numpy().astype(np.float64),
        "teacher_output": classical_scores(y).numpy().astype(np.float64),
        "teacher_reference": classical_scores(r).numpy().astype(np.float64),
    }


def _mean(values: Sequence[float] | np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()) if values.size else math.nan


def summarise(metrics: dict[str, np.ndarray], meta: Sequence[dict[str, Any]], attiqa: dict[str, np.ndarray] | None = None
              ) -> dict[str, Any]:
    """Overall and per-degradation means, and the intended-direction check (see the module docstring)."""
    rows: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(meta):
        groups.setdefault(str(item.get("degradation", "unknown")), []).append(i)
    moved_all: list[float] = []
    closed_all: list[float] = []
    for name, idx in [("all", list(range(len(meta)))), *groups.items()]:
        row: dict[str, Any] = {"images": len(idx)}
        for key in ("psnr_input", "psnr_output", "ssim_input", "ssim_output"):
            row[key] = _mean(metrics[key][idx])
        if attiqa is not None:
            row["attiqa_quality_input"] = _mean(attiqa["input"][idx])
            row["attiqa_quality_output"] = _mean(attiqa["output"][idx])
        change = intended_change(name) if name != "all" else None
        if change is not None:
            attribute, sign = change
            a = ATTRIBUTES.index(attribute)
            before, after = metrics["teacher_input"][idx, a], metrics["teacher_output"][idx, a]
            target = metrics["teacher_reference"][idx, a]
            moved = (sign * (after - before) > 0).astype(np.float64)
            gap = target - before
            closed = np.where(np.abs(gap) > 1e-6, (after - before) / np.where(np.abs(gap) > 1e-6, gap, 1.0), np.nan)
            row.update({"attribute": attribute, "direction": "raise" if sign > 0 else "lower",
                        "teacher_input": _mean(before), "teacher_output": _mean(after), "teacher_reference": _mean(target),
                        "moved_intended_way": _mean(moved), "gap_closed": float(np.nanmean(closed)) if np.isfinite(closed).any()
                        else math.nan})
            moved_all += moved.tolist()
            closed_all += [c for c in closed.tolist() if math.isfinite(c)]
        rows[name] = row
    if moved_all:
        rows["all"]["moved_intended_way"] = _mean(moved_all)
        rows["all"]["gap_closed"] = _mean(closed_all)
    return rows


def _fmt(value: Any, digits: int = 2) -> str:
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def format_table(rows: dict[str, dict[str, Any]]) -> str:
    """A Markdown table: per degradation, PSNR / SSIM input -> output and the classical attribute check."""
    lines = [
        "| degradation | images | PSNR in → out (dB) | SSIM in → out | attiqa quality in → out | classical attribute: in → out (reference) "
        "| moved intended way | gap closed |",
        "|---|---:|---|---|---|---|---:|---:|",
    ]
    for name, row in rows.items():
        attribute = (f"{row['attribute']} ({row['direction']}): {_fmt(row['teacher_input'], 3)} → {_fmt(row['teacher_output'], 3)} "
                     f"({_fmt(row['teacher_reference'], 3)})") if "attribute" in row else ""
        quality = (f"{_fmt(row['attiqa_quality_input'], 3)} → {_fmt(row['attiqa_quality_output'], 3)}"
                   if "attiqa_quality_input" in row else "")
        moved = f"{100 * row['moved_intended_way']:.0f} %" if "moved_intended_way" in row else ""
        closed = f"{100 * row['gap_closed']:.0f} %" if isinstance(row.get("gap_closed"), float) and math.isfinite(row["gap_closed"]) else ""
        lines.append(f"| {name} | {row['images']} | {_fmt(row['psnr_input'])} → {_fmt(row['psnr_output'])} | "
                     f"{_fmt(row['ssim_input'], 3)} → {_fmt(row['ssim_output'], 3)} | {quality} | {attribute} | {moved} | {closed} |")
    return "\n".join(lines)


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


__all__ = ["format_table", "image_metrics", "summarise", "write_grid"]
