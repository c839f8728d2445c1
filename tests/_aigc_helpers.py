"""Tiny copies of the official layouts of AGIQA-3K, AGIQA-1K, AIGCIQA2023, FLIVE and AVA (real file formats, small images)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from _evaluation_helpers import tiny_image

AGIQA3K_COLUMNS = ["name", "prompt", "adj1", "adj2", "style", "mos_quality", "std_quality", "mos_align", "std_align"]
AGIQA3K_GENERATORS = [("midjourney", "lowstep"), ("sd1.5", "normal"), ("AttnGAN", "normal")]


def make_agiqa3k(root: Path, prompts: int = 4, subdir: str = "AGIQA-3K") -> list[dict]:
    """``data.csv`` and ``<subdir>/<generator>_<setting>_<nnn>.jpg``; generator k gets MOS about 4 - k (the first is best)."""
    (root / subdir).mkdir(parents=True, exist_ok=True)
    rows = []
    for g, (generator, setting) in enumerate(AGIQA3K_GENERATORS):
        for p in range(prompts):
            number = g * prompts + p
            name = f"{generator}_{setting}_{number:03d}.jpg"
            tiny_image(300 + number, (48, 48)).save(root / subdir / name, quality=90)
            rows.append({"name": name, "prompt": f"a photo of thing {p}", "adj1": "red", "adj2": "", "style": "baroque",
                         "mos_quality": round(4.0 - g + 0.1 * p, 3), "std_quality": 0.5, "mos_align": round(2.0 + 0.2 * g, 3),
                         "std_align": 0.4})
    with open(root / "data.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=AGIQA3K_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def make_agiqa1k(root: Path, malformed_in: str = "disk") -> list[tuple[str, float]]:
    """``AIGC_all.csv`` and ``file/*.jpg`` with the real malformed name: ``dreamStudio_8_9_1_.jpg`` on disk
    (``malformed_in="disk"``, listed without the underscore) or in the CSV (``"csv"``, stored without it)."""
    (root / "file").mkdir(parents=True, exist_ok=True)
    listed = [("dreamStudio_1_1_1.jpg", 3.2), ("dreamStudio_8_9_1.jpg", 2.5), ("midjourney_2_1_1.jpg", 4.1), ("midjourney_3_2_1.jpg", 3.9),
              ("dreamStudio_2_2_1.jpg", 2.9)]
    rows = []
    for i, (name, score) in enumerate(listed):
        on_disk = name
        if name == "dreamStudio_8_9_1.jpg":
            on_disk = "dreamStudio_8_9_1_.jpg" if malformed_in == "disk" else name
            name = name if malformed_in == "disk" else "dreamStudio_8_9_1_.jpg"
        tiny_image(400 + i, (40, 40)).save(root / "file" / on_disk, quality=90)
        rows.append((name, score))
    with open(root / "AIGC_all.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Image", "Score"])
        writer.writerows(rows)
    return rows


def make_aigciqa2023(root: Path, generators: int = 6, per_generator: int = 8, table: bool = False) -> np.ndarray:
    """``DATA/MOS/mosz1.mat`` (a 1 x N vector, as the release) or ``AIGCIQA2023.csv``, and ``Image/allimg/<n>.png``."""
    from scipy.io import savemat

    total = generators * per_generator
    (root / "Image" / "allimg").mkdir(parents=True, exist_ok=True)
    mos = np.array([70.0 - 5.0 * (n // per_generator) + 0.5 * (n % 4) for n in range(total)])
    for n in range(total):
        tiny_image(500 + n, (32, 32)).save(root / "Image" / "allimg" / f"{n}.png")
    if table:
        with open(root / "AIGCIQA2023.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["name", "prompt", "style", "class", "quality_mos", "authenticity_mos", "correspondence_mos"])
            for n in range(total):
                writer.writerow([f"{n}.png", f"prompt text {(n % per_generator) // 4}", "realistic", "animal", mos[n], 50.0, 60.0])
    else:
        (root / "DATA" / "MOS").mkdir(parents=True, exist_ok=True)
        savemat(root / "DATA" / "MOS" / "mosz1.mat", {"MOSz": mos[None, :]})
    return mos


def make_flive(root: Path, n: int = 10, test: int = 3) -> list[str]:
    """``labels_image.csv`` (name, mos, ...), ``database/<collection>/<file>``, ``test_images.txt``; returns the test names."""
    names = []
    for i in range(n):
        collection = "voc_emotic_ava" if i % 2 else "EE371R"
        name = f"{collection}/img_{i:03d}.jpg"
        (root / "database" / collection).mkdir(parents=True, exist_ok=True)
        tiny_image(600 + i, (48, 40)).save(root / "database" / name, quality=90)
        names.append(name)
    with open(root / "labels_image.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "mos", "height", "width"])
        for i, name in enumerate(names):
            writer.writerow([name, 20 + 6 * i, 40, 48])
    chosen = names[-test:]
    (root / "test_images.txt").write_text("\n".join(chosen) + "\n")
    return chosen


def make_ava(root: Path, n: int = 8, test: int = 2) -> list[tuple[str, list[int]]]:
    """``AVA.txt`` (15 columns), ``images/<id>.jpg`` and ``aesthetics_image_lists/generic_test.jpgl``."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "aesthetics_image_lists").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    rows = []
    lines = []
    for i in range(n):
        image = str(950000 + 17 * i)
        votes = rng.integers(0, 40, size=10).tolist()
        tiny_image(700 + i, (36, 36)).save(root / "images" / f"{image}.jpg", quality=90)
        lines.append(" ".join(map(str, [i + 1, image, *votes, 15, 0, 1396 if i % 2 else 1397])))
        rows.append((image, votes))
    (root / "AVA.txt").write_text("\n".join(lines) + "\n")
    (root / "aesthetics_image_lists" / "generic_test.jpgl").write_text("\n".join(r[0] for r in rows[-test:]) + "\n")
    return rows
