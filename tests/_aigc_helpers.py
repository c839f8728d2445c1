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


def write_xlsx(path: Path, rows: list[list]) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)


# The release README's key to AGIQA-1K's names <platform>_<object>_<action>_<place>_<style>.jpg (a few of the entries).
AGIQA1K_OBJECTS = {1: "cat", 3: "batman", 5: "teddy bear", 8: "woman"}
AGIQA1K_ACTIONS = {2: "driving car", 4: "having icecream", 6: "playing baseball", 9: "using CD"}
AGIQA1K_PLACES, AGIQA1K_STYLES = {0: "city", 1: "wild"}, {0: "anime style", 1: "realistic style"}
#: (name, z-score MOS, AIGC_all.csv score): two prompts rendered by both platforms, one by each alone; the malformed
#: dreamStudio_8_9_1_1.jpg is listed twice in the xlsx (the second time with another score), as in the release.
AGIQA1K_ROWS = [("deepai_1_2_0_1.jpg", 0.82, 3.4), ("deepai_8_9_1_1.jpg", 1.31, 3.9), ("deepai_3_4_1_0.jpg", -0.42, 2.1),
                ("dreamStudio_1_2_0_1.jpg", -0.95, 2.6), ("dreamStudio_8_9_1_1.jpg", -1.27, 3.0), ("dreamStudio_5_6_0_0.jpg", 0.14, 1.7)]
AGIQA1K_DUPLICATE = ("dreamStudio_8_9_1_1.jpg", -0.61)


def agiqa1k_prompt(name: str) -> str:
    a, b, c, d = (int(x) for x in Path(name).stem.split("_")[1:])
    return f"{AGIQA1K_OBJECTS[a]} {AGIQA1K_ACTIONS[b]}, {AGIQA1K_PLACES[c]}, {AGIQA1K_STYLES[d]}"


def make_agiqa1k(root: Path) -> list[tuple[str, float, float]]:
    """``AIGC_MOS_Zscore.xlsx`` (Image, Prompt, MOS: z-scores, the malformed name listed twice), ``AIGC_all.csv``
    (Image, Score: other scores) and ``file/*.jpg``; returns the rows (name, xlsx MOS, csv score) without the duplicate."""
    (root / "file").mkdir(parents=True, exist_ok=True)
    for i, (name, _, _) in enumerate(AGIQA1K_ROWS):
        tiny_image(400 + i, (40, 40)).save(root / "file" / name, quality=90)
    rows = [[name, agiqa1k_prompt(name), mos] for name, mos, _ in AGIQA1K_ROWS]
    rows.insert(5, [AGIQA1K_DUPLICATE[0], agiqa1k_prompt(AGIQA1K_DUPLICATE[0]), AGIQA1K_DUPLICATE[1]])
    write_xlsx(root / "AIGC_MOS_Zscore.xlsx", [["Image", "Prompt", "MOS"], *rows])
    with open(root / "AIGC_all.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Image", "Score"])
        writer.writerows([(name, score) for name, _, score in AGIQA1K_ROWS])
    return list(AGIQA1K_ROWS)


#: The release's order of AIGCIQA2023's six blocks of images, as pic-index.xlsx gives it.
AIGCIQA2023_ORDER = ["Controlnet", "DALLE", "Glide", "Lafite", "stable-diffusion", "Unidiffuser"]
AIGCIQA2023_STYLES = ["Basic", "Complex", "Imagination"]
AIGCIQA2023_CLASSES = ["Animals", "People", "Arts"]


def aigciqa2023_prompt(p: int) -> tuple[str, str, str]:
    return AIGCIQA2023_STYLES[p % 3], AIGCIQA2023_CLASSES[p % 3], f"a painting of object number {p}"


def make_aigciqa2023(root: Path, per_generator: int = 8, pic_index: str | None = "rows", order: list[str] | None = None,
                     prompts: str | None = "plain", table: bool = False) -> np.ndarray:
    """``DATA/MOS/mosz{1,2,3}.mat`` (``MOSz``, N x 1, as the release), ``Image/allimg/<n>.png``, ``pic-index.xlsx`` and
    ``AIGCIQA2023_Prompts.xlsx`` (style, class, prompt; one row per prompt, no header: ``prompts="plain"``, or a header
    row: ``"header"``), optionally the third-party ``AIGCIQA2023.csv``. ``pic_index``: ``"rows"`` (one row per image:
    generator, image index, no header), ``"blocks"`` (a header, then one row per generator: name, ``a-b`` range of
    ``<n>.png`` files) or None. ``order``: the generators of the blocks (the release's by default). The k-th block's
    MOS is about 70 - 5k."""
    from scipy.io import savemat

    order = order or AIGCIQA2023_ORDER
    total = len(order) * per_generator
    (root / "Image" / "allimg").mkdir(parents=True, exist_ok=True)
    mos = np.array([70.0 - 5.0 * (n // per_generator) + 0.5 * (n % 4) for n in range(total)])
    for n in range(total):
        tiny_image(500 + n, (32, 32)).save(root / "Image" / "allimg" / f"{n}.png")
    (root / "DATA" / "MOS").mkdir(parents=True, exist_ok=True)
    for k, values in enumerate([mos, 100.0 - mos, mos / 2.0], start=1):
        savemat(root / "DATA" / "MOS" / f"mosz{k}.mat", {"MOSz": values[:, None]})
    if pic_index == "rows":
        write_xlsx(root / "pic-index.xlsx", [[order[n // per_generator], n] for n in range(total)])
    elif pic_index == "blocks":
        write_xlsx(root / "pic-index.xlsx", [["model", "images"], *([g, f"{k * per_generator}-{(k + 1) * per_generator - 1}"]
                                                                for k, g in enumerate(order))])
    texts = [list(aigciqa2023_prompt(p)) for p in range(per_generator // 4)]
    if prompts == "plain":
        write_xlsx(root / "AIGCIQA2023_Prompts.xlsx", texts)
    elif prompts == "header":
        write_xlsx(root / "AIGCIQA2023_Prompts.xlsx", [["style", "class", "prompt"], *texts])
    if table:
        with open(root / "AIGCIQA2023.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["name", "prompt", "style", "class", "quality_mos", "authenticity_mos", "correspondence_mos"])
            for n in range(total):
                style, klass, prompt = aigciqa2023_prompt((n % per_generator) // 4)
                writer.writerow([f"{n}.png", prompt, style, klass, mos[n] + 1.0, 50.0, 60.0])
    return mos


FLIVE_COLLECTIONS = ["voc_emotic_ava", "EE371R", "blur_dataset", "AVA__"]


def make_flive(root: Path, n: int = 12, test: int = 3, val: int = 2) -> dict[str, list[str]]:
    """``database/labels_image.csv`` (name, mos, ...), ``database/<collection>/<file>``, ``database/labels640.csv``
    (name_image, mos, ...: the last ``test`` images) and ``database/labels=640_padded.csv`` (name_image, mos, ...,
    is_valid: every other image, the ``val`` before the test ones valid); returns the names of each split."""
    database = root / "database"
    names = []
    for i in range(n):
        collection = FLIVE_COLLECTIONS[i % len(FLIVE_COLLECTIONS)]
        name = f"{collection}/VOC2012__2008_{i:06d}.jpg" if collection == "voc_emotic_ava" else f"{collection}/img_{i:03d}.jpg"
        (database / collection).mkdir(parents=True, exist_ok=True)
        tiny_image(600 + i, (48, 40)).save(database / name, quality=90)
        names.append(name)
    splits = {"test": names[n - test:], "val": names[n - test - val:n - test], "train": names[:n - test - val]}
    with open(database / "labels_image.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "mos", "width", "height"])
        for i, name in enumerate(names):
            writer.writerow([name, 20 + 6 * i, 48, 40])
    with open(database / "labels640.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name_image", "mos", "width", "height"])
        for name in splits["test"]:
            writer.writerow([name, 20 + 6 * names.index(name), 48, 40])
    with open(database / "labels=640_padded.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name_image", "mos", "width", "height", "left", "top", "is_valid"])
        for name in splits["train"] + splits["val"]:
            writer.writerow([name, 20 + 6 * names.index(name), 640, 640, 0, 0, name in splits["val"]])
    return splits


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
