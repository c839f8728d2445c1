"""Tiny copies of the official IQA dataset layouts (real file formats, a handful of small images)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

KONIQ_COLUMNS = ["image_name", "c1", "c2", "c3", "c4", "c5", "c_total", "MOS", "SD", "MOS_zscore"]


def tiny_image(seed: int, size: tuple[int, int] = (64, 48)) -> Image.Image:
    """A smooth random image (distinct per seed, compresses like a photo)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.BILINEAR)


def make_koniq(root: Path, n: int = 12, sets: bool = True, resolution: str = "1024x768") -> list[float]:
    """KonIQ-10k layout: scores CSV, sets CSV (training/validation/test), JPEGs; returns the MOS column."""
    (root / resolution).mkdir(parents=True, exist_ok=True)
    mos = [round(1.2 + 3.6 * i / max(1, n - 1), 4) for i in range(n)]
    names = [f"{1000 + i}.jpg" for i in range(n)]
    for i, name in enumerate(names):
        tiny_image(i).save(root / resolution / name, quality=90)
    with open(root / "koniq10k_scores_and_distributions.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(KONIQ_COLUMNS)
        for i, name in enumerate(names):
            writer.writerow([name, 1, 2, 3, 4, 5, 15, mos[i], 0.5, round((mos[i] - 1) * 25, 4)])
    if sets:
        labels = ["training"] * (n - 4) + ["validation"] * 2 + ["test"] * 2
        with open(root / "koniq10k_distributions_sets.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*KONIQ_COLUMNS[:8], "SD", "set"])
            for i, name in enumerate(names):
                writer.writerow([name, 1, 2, 3, 4, 5, 15, mos[i], 0.5, labels[i]])
    return mos


def make_spaq(root: Path, n: int = 10) -> list[float]:
    """SPAQ layout: ``Annotations/MOS and Image attribute scores.xlsx`` (openpyxl) and ``TestImage/*.jpg``."""
    import openpyxl

    (root / "TestImage").mkdir(parents=True, exist_ok=True)
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Image name", "MOS", "Brightness", "Colorfulness", "Contrast", "Noisiness", "Sharpness"])
    mos = []
    for i in range(n):
        name = f"{i + 1:05d}.jpg"
        tiny_image(100 + i, (80, 60)).save(root / "TestImage" / name, quality=90)
        value = round(10 + 80 * i / max(1, n - 1), 2)
        mos.append(value)
        sheet.append([name, value, 50 + i, 40 + i, 30 + i, 20 + i, 60 - i])
    book.save(root / "Annotations" / "MOS and Image attribute scores.xlsx")
    return mos


def make_livec(root: Path, n: int = 9) -> list[float]:
    """LIVE Challenge layout: ``Data/AllImages_release.mat`` (cell array) and ``AllMOS_release.mat`` (1 x N),
    seven training images ``t1..t7.bmp`` under ``Images/trainingImages/`` first, then ``Images/<k>.bmp``."""
    from scipy.io import savemat

    (root / "Images" / "trainingImages").mkdir(parents=True, exist_ok=True)
    (root / "Data").mkdir(parents=True, exist_ok=True)
    names = [f"t{i}.bmp" for i in range(1, 8)] + [f"{100 + i}.bmp" for i in range(n)]
    mos = [round(5 + 90 * i / max(1, len(names) - 1), 4) for i in range(len(names))]
    for i, name in enumerate(names):
        folder = root / "Images" / ("trainingImages" if name.startswith("t") else "")
        tiny_image(200 + i, (50, 50)).save(folder / name)
    cells = np.empty((len(names), 1), dtype=object)
    for i, name in enumerate(names):
        cells[i, 0] = np.array([name])
    savemat(root / "Data" / "AllImages_release.mat", {"AllImages_release": cells})
    savemat(root / "Data" / "AllMOS_release.mat", {"AllMOS_release": np.array([mos], dtype=np.float64)})
    return mos


def make_kadid(root: Path, references: int = 5, types: int = 2, levels: int = 3) -> list[float]:
    """KADID-10k layout: ``images/I01.png`` references, ``images/I01_TT_LL.png``, ``dmos.csv``."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for ref in range(1, references + 1):
        reference = f"I{ref:02d}.png"
        tiny_image(300 + ref).save(root / "images" / reference)
        for kind in range(1, types + 1):
            for level in range(1, levels + 1):
                name = f"I{ref:02d}_{kind:02d}_{level:02d}.png"
                tiny_image(1000 * ref + 10 * kind + level).save(root / "images" / name)
                rows.append([name, reference, round(5.0 - level * 0.9 - 0.1 * kind, 3), 0.2])
    with open(root / "dmos.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dist_img", "ref_img", "dmos", "var"])
        writer.writerows(rows)
    return [r[2] for r in rows]


def make_csv(root: Path, n: int = 8, split: bool = True) -> Path:
    """A generic CSV dataset: ``labels.csv`` with ``path``, ``mos`` (and ``split``), images in ``img/``."""
    (root / "img").mkdir(parents=True, exist_ok=True)
    path = root / "labels.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "mos", *(["split"] if split else [])])
        for i in range(n):
            tiny_image(400 + i).save(root / "img" / f"{i}.png")
            side = "train" if i < n - 3 else ("val" if i == n - 3 else "test")
            writer.writerow([f"img/{i}.png", i * 0.5, *([side] if split else [])])
    return path
