"""Datasets built offline and deterministically from real photos: the demo corpus and a KADID-layout set.

Two builders share the photos and the distortions of :mod:`iqa.distortions`:
:func:`ensure_demo_corpus` (the corpus and MOS shards of ``data=demo``, below)
and :func:`build_synthetic_kadid` (``data=demo_kadid``, a second MOS set in the
official KADID-10k file layout, for cross-dataset studies).

The demo corpus
---------------

The photos are the CC0 / public-domain images that ship inside the
scikit-image wheel (``skimage.data``). Each reference photo is assigned to one
role, and roles never share a photo:

===============  =========================================================  ======================
role             reference photos                                           written to
===============  =========================================================  ======================
pretrain         retina, immunohistochemistry, camera, moon, brick, grass,  ``corpus/train-*.tar``
                 gravel, coins, clock, cell                                 (no MOS: unlabelled)
pretrain_val     hubble_deep_field                                          ``corpus/val-*.tar``
finetune         coffee, astronaut                                          ``iqa/train-*.tar``
finetune_val     rocket                                                     ``iqa/val-*.tar``
test             chelsea, motorcycle (left view of the stereo pair)         ``iqa/test-*.tar``
===============  =========================================================  ======================

So no distorted variant of a test photo (nor of any fine-tuning photo) is ever
seen in training. Grey photos are used as RGB; they only join the pretraining
corpus, where the teacher's colourfulness label describes them correctly.

Each photo is resized so that its short side is ``2 * size`` and cut into up
to ``crops`` non-overlapping ``size x size`` crops (the ones nearest the
centre first). Every crop yields its clean reference plus each distortion of
:mod:`iqa.distortions` at levels 1..5: ``1 + 8 x 5 = 41`` samples.

Synthetic MOS (fine-tuning and test roles), on a 1..5 scale, higher is better::

    mos = 5.0 - 0.8 * level        # level 0 (clean) -> 5.0, level 5 -> 1.0

It is ordinal within a distortion type and the same for every type at the
same level, a deliberate simplification: levels were graded per type to be of
comparable severity (see ``iqa.distortions.LEVEL_PARAMS``), but nobody rated
them. The shards hold one PNG (lossless, so the only compression artefacts are
the ``jpeg`` distortion's) and one JSON per sample with ``reference``,
``crop``, ``distortion``, ``level``, ``role`` and, outside the corpus, ``mos``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import shutil
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from iqa import distortions
from iqa.data.shards import write_shards
from iqa.io import atomic_write_json, locked, replace_dir

log = logging.getLogger(__name__)

DEMO_VERSION = 1
BUILD_RECORD = "demo.json"

ROLES: dict[str, tuple[str, ...]] = {
    "pretrain": ("retina", "immunohistochemistry", "camera", "moon", "brick", "grass", "gravel", "coins", "clock", "cell"),
    "pretrain_val": ("hubble_deep_field",),
    "finetune": ("coffee", "astronaut"),
    "finetune_val": ("rocket",),
    "test": ("chelsea", "motorcycle"),
}
OUTPUT: dict[str, tuple[str, str]] = {
    "pretrain": ("corpus", "train"),
    "pretrain_val": ("corpus", "val"),
    "finetune": ("iqa", "train"),
    "finetune_val": ("iqa", "val"),
    "test": ("iqa", "test"),
}
UNLABELLED_ROLES = ("pretrain", "pretrain_val")
DEFAULT_CROPS = {"pretrain": 3, "pretrain_val": 2, "finetune": 4, "finetune_val": 2, "test": 4}


def synthetic_mos(level: int) -> float:
    """Synthetic MOS of a distortion level on a 1..5 scale (higher is better)."""
    return 5.0 - 0.8 * int(level)


def load_reference(name: str) -> np.ndarray:
    """A reference photo from the scikit-image wheel as float32 RGB in [0, 1]."""
    import skimage.data

    if name == "motorcycle":
        image = skimage.data.stereo_motorcycle()[0]
    else:
        image = getattr(skimage.data, name)()
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = image[..., :3]
    if image.dtype != np.uint8:
        image = np.clip(image.astype(np.float64) / max(1.0, float(image.max())) * 255.0, 0, 255).astype(np.uint8)
    return distortions.to_float(image)


def reference_crops(image: np.ndarray, size: int, count: int) -> list[np.ndarray]:
    """Up to ``count`` non-overlapping centre-most ``size``-px crops of the photo resized to short side ``2*size``."""
    height, width = image.shape[:2]
    scale = 2 * size / min(height, width)
    new_w, new_h = max(2 * size, round(width * scale)), max(2 * size, round(height * scale))
    resized = Image.fromarray(distortions.to_uint8(image)).resize((new_w, new_h), Image.LANCZOS)
    array = distortions.to_float(np.asarray(resized))
    rows, cols = new_h // size, new_w // size
    off_y, off_x = (new_h - rows * size) // 2, (new_w - cols * size) // 2
    centre = ((rows - 1) / 2, (cols - 1) / 2)
    cells = sorted(
        ((r, c) for r in range(rows) for c in range(cols)), key=lambda rc: ((rc[0] - centre[0]) ** 2 + (rc[1] - centre[1]) ** 2, rc)
    )
    return [
        array[off_y + r * size : off_y + (r + 1) * size, off_x + c * size : off_x + (c + 1) * size].copy()
        for r, c in cells[:count]
    ]


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    # Fixed compression settings make the bytes, not just the pixels, reproducible.
    Image.fromarray(distortions.to_uint8(image)).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def _seed(*parts: Any) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def role_samples(role: str, size: int, crops: int) -> Iterator[dict[str, Any]]:
    """All samples of a role, in a fixed order, as WebDataset dicts."""
    for reference in ROLES[role]:
        for index, crop in enumerate(reference_crops(load_reference(reference), size, crops)):
            variants = [("reference", 0, crop)] + [
                (name, level, distortions.apply(crop, name, level, np.random.default_rng(_seed(reference, index, name, level))))
                for name in distortions.DISTORTIONS
                for level in range(1, distortions.NUM_LEVELS + 1)
            ]
            for name, level, image in variants:
                meta: dict[str, Any] = {"reference": reference, "crop": index, "distortion": name, "level": level, "role": role}
                if role not in UNLABELLED_ROLES:
                    meta["mos"] = synthetic_mos(level)
                yield {"__key__": f"{reference}-c{index}-{name}-{level}", "png": _png(image), "json": meta}


def build_params(size: int, crops: dict[str, int] | None, shard_size: int) -> dict[str, Any]:
    return {
        "version": DEMO_VERSION,
        "size": int(size),
        "crops": {role: int((crops or {}).get(role, DEFAULT_CROPS[role])) for role in ROLES},
        "shard_size": int(shard_size),
        "levels": distortions.NUM_LEVELS,
        "distortions": {name: list(distortions.LEVEL_PARAMS[name]) for name in distortions.DISTORTIONS},
    }


def combined_mos(levels: Sequence[int]) -> float:
    """Synthetic MOS of an image under several distortions at once, on the scale of :func:`synthetic_mos`.

    Each distortion at level ``l`` keeps a share ``1 - l / 5`` of the quality
    range above the floor; the shares multiply, so the loss of independent
    impairments compounds::

        mos = 1 + 4 * prod(1 - l_i / 5)

    One distortion gives exactly ``synthetic_mos(l)``, no distortion 5.0; the
    score never rises when any level rises, and reaches 1.0 as soon as one
    distortion is at level 5.
    """
    kept = 1.0
    for level in levels:
        level = int(level)
        if not 0 <= level <= distortions.NUM_LEVELS:
            raise ValueError(f"distortion level {level} outside 0..{distortions.NUM_LEVELS}")
        kept *= 1.0 - level / distortions.NUM_LEVELS
    return round(1.0 + 4.0 * kept, 6)


def build_once(root: str | Path, params: dict[str, Any], write: Any, what: str = "corpus") -> Path:
    """Build a dataset under ``root`` with ``write(tmp, params) -> summary`` unless one with ``params`` is there.

    Safe to call from several processes at once (DDP ranks): a file lock lets
    one build while the others wait, and the build is assembled in a
    temporary folder and renamed into place, so ``root`` is never half-written.
    The summary (with ``params`` and the build time) is kept as ``root/demo.json``.
    """
    root = Path(root)
    record = root / BUILD_RECORD
    root.parent.mkdir(parents=True, exist_ok=True)
    with locked(root.parent / f".{root.name}.lock"):
        if record.is_file():
            with open(record) as handle:
                if json.load(handle).get("params") == params:
                    return root
            log.info("%s at %s was built with other settings; rebuilding", what, root)
        tmp = root.parent / f".{root.name}.building-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        started = time.perf_counter()
        summary = write(tmp, params)
        summary["build_seconds"] = round(time.perf_counter() - started, 2)
        atomic_write_json(tmp / BUILD_RECORD, summary)
        replace_dir(tmp, root)
    return root


def write_role_shards(tmp: Path, outputs: dict[str, tuple[str, str]], samples: Any, total: int, shard_size: int,
                      desc: str) -> dict[str, Any]:
    """Write ``samples(role)`` of every role to ``tmp/<folder>/<prefix>-*.tar``; counts, shard lists and a content hash."""
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    shards: dict[str, list[str]] = {}
    with tqdm(total=total, unit="img", desc=desc, dynamic_ncols=True) as bar:
        for role, (folder, prefix) in outputs.items():
            counts[role] = 0

            def tracked(items: Iterator[dict[str, Any]], role: str = role) -> Iterator[dict[str, Any]]:
                for sample in items:
                    digest.update(sample["__key__"].encode() + sample["png"])
                    counts[role] += 1
                    bar.update(1)
                    yield sample

            (tmp / folder).mkdir(parents=True, exist_ok=True)
            # Fixed member times (the writer's default): byte-identical shards on every build.
            written = write_shards(tmp / folder, prefix, tracked(samples(role)), per_shard=int(shard_size))
            shards[role] = [str(path.relative_to(tmp)) for path in written]
    return {"counts": counts, "shards": shards, "content_sha256": digest.hexdigest()}


def ensure_demo_corpus(root: str | Path, size: int = 160, crops: dict[str, int] | None = None, shard_size: int = 256) -> Path:
    """Build the demo corpus under ``root`` unless an identical build is already there (see :func:`build_once`)."""
    params = build_params(size, dict(crops) if crops else None, shard_size)
    return build_once(root, params, _write_roles, what="demo corpus")


def _write_roles(tmp: Path, params: dict[str, Any]) -> dict[str, Any]:
    total = sum(len(ROLES[r]) * params["crops"][r] * (1 + len(distortions.DISTORTIONS) * distortions.NUM_LEVELS) for r in ROLES)
    written = write_role_shards(tmp, OUTPUT, lambda role: role_samples(role, params["size"], params["crops"][role]), total,
                                params["shard_size"], "building demo corpus")
    return {
        "params": params,
        "roles": {role: list(refs) for role, refs in ROLES.items()},
        "counts": written["counts"],
        "shards": written["shards"],
        "mos": "5.0 - 0.8 * level (1..5, higher is better); corpus roles carry no MOS",
        "content_sha256": written["content_sha256"],
    }


# -- a synthetic dataset in the KADID-10k layout -----------------------------------------------

#: Per-distortion exponent of the synthetic score curve: < 1 hurts early (noise, JPEG), > 1 late
#: (exposure, colour). A different "taste" from the demo's level-only MOS, so that the two
#: synthetic sets make a real cross-dataset pair.
SYNTHETIC_KADID_EXPONENT = {
    "gaussian_blur": 1.0,
    "motion_blur": 1.2,
    "gaussian_noise": 0.6,
    "jpeg": 0.8,
    "brighten": 1.6,
    "darken": 1.3,
    "contrast_decrease": 1.4,
    "saturation_decrease": 2.0,
}
SYNTHETIC_KADID_VERSION = 1


def synthetic_kadid_score(distortion: str, level: int) -> float:
    """Score (1..5, higher is better) of a synthetic KADID-layout image: ``5 - 4 (level / 5) ** exponent``."""
    return round(5.0 - 4.0 * (int(level) / distortions.NUM_LEVELS) ** SYNTHETIC_KADID_EXPONENT[distortion], 4)


def build_synthetic_kadid(
    root: str | os.PathLike, photos: Sequence[str] = ("rocket", "chelsea", "motorcycle"), crops: int = 3, size: int = 96
) -> Path:
    """Write a small dataset in the official KADID-10k layout from scikit-image photos.

    ``images/I01.png`` ... are references (``crops`` centre-most ``size``-px
    crops of each photo, taken from the photo resized to short side
    ``2 * size``); ``images/I01_TT_LL.png`` is reference 1 under distortion
    type ``TT`` (the order of :data:`iqa.distortions.DISTORTIONS`) at level
    ``LL``; ``dmos.csv`` has the official columns (``dist_img``, ``ref_img``,
    ``dmos``, ``var``) with :func:`synthetic_kadid_score`. Built once (a
    ``synthetic.json`` records the parameters), atomically, under a lock.
    """
    root = Path(root)
    params = {"version": SYNTHETIC_KADID_VERSION, "photos": list(photos), "crops": int(crops), "size": int(size),
              "exponent": SYNTHETIC_KADID_EXPONENT, "levels": {k: list(v) for k, v in distortions.LEVEL_PARAMS.items()}}
    record = root / "synthetic.json"
    root.parent.mkdir(parents=True, exist_ok=True)
    with locked(root.parent / f".{root.name}.lock"):
        if record.is_file() and json.loads(record.read_text()).get("params") == params:
            return root
        tmp = root.parent / f".{root.name}.building-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "images").mkdir(parents=True)
        rows = []
        number = 0
        for photo in photos:
            for crop in reference_crops(load_reference(photo), int(size), int(crops)):
                number += 1
                ref = f"I{number:02d}.png"
                Image.fromarray(distortions.to_uint8(crop)).save(tmp / "images" / ref, compress_level=6)
                for type_index, name in enumerate(distortions.DISTORTIONS, start=1):
                    for level in range(1, distortions.NUM_LEVELS + 1):
                        rng = np.random.default_rng(zlib.crc32(f"{ref}/{name}/{level}".encode()))
                        image = distortions.apply(crop, name, level, rng)
                        dist = f"I{number:02d}_{type_index:02d}_{level:02d}.png"
                        Image.fromarray(distortions.to_uint8(image)).save(tmp / "images" / dist, compress_level=6)
                        rows.append((dist, ref, synthetic_kadid_score(name, level), 0.0))
        with open(tmp / "dmos.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["dist_img", "ref_img", "dmos", "var"])
            writer.writerows(rows)
        atomic_write_json(tmp / "synthetic.json", {"params": params, "references": number, "images": len(rows)})
        replace_dir(tmp, root)
    return root
