"""Held-out distortion ladders: attiqa checkpoints against BRISQUE, NIQE and the classical teacher, in one run.

Reference crops come only from the photos that :mod:`iqa.data.photos` marks
``heldout`` (no training split ever sees them), or with ``photo_dir`` from a
folder of your own photos: ``crops_per_photo`` square crops per photo, each of
a random side between 45 % and 95 % of the photo's short side at a random
position, resized to ``size`` px (Lanczos). Each crop gets a ladder per
distortion type at levels 1..5:

* **seen** types: the eight of :mod:`iqa.distortions`, which the demo and the
  training recipes use;
* **unseen** types: the five in :data:`UNSEEN` below, defined here only for this
  benchmark and never used in training (pixelation, salt-and-pepper noise,
  colour quantisation, vignetting, over-saturation).

Metrics per method (higher is better everywhere; a score is "higher = better
quality", so BRISQUE and NIQE are negated):

* within-ladder SRCC: Spearman between level and score inside each ladder
  (one crop, one type, 5 levels), negated so that a right-signed method is
  positive, then averaged over ladders: over all types, the seen ones, the
  unseen ones, and per type;
* global SRCC and PLCC (linear Pearson) of the scores against the synthetic MOS
  (:func:`iqa.data.synthetic.synthetic_mos`) over every distorted image;
* pairwise accuracy: over all pairs of images of the same reference crop at
  different levels (any types), the share the method orders as the levels do
  (ties count one half).

Methods: attiqa checkpoints (scored through ``iqa.load(ckpt).score(paths)``,
i.e. the checkpoint's own view), the classical teacher
(:data:`TEACHER_FORMULA`), BRISQUE and NIQE (:mod:`iqa.evaluation.peers`, the
optional ``bench`` extra).

    from iqa.evaluation.heldout import benchmark
    report = benchmark({"mine": "path/to/last.ckpt"}, photo_dir="~/refs", out="outputs/heldout")

or ``iqa heldout --ckpt mine=path/to/last.ckpt --photo-dir ~/refs`` (``make heldout``).
:func:`validation_ladders` builds the same ladders, seen types only, on the
offline recipe's validation photos: the split to tune the recipe on.

Deterministic given ``seed``. Peer scores are cached under ``cache`` (keyed by
the ladder settings), so a rerun only scores the checkpoints.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import time
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from iqa import distortions
from iqa.data import photos as photo_registry
from iqa.data.synthetic import synthetic_mos
from iqa.errors import UserError
from iqa.evaluation.peers import PEERS
from iqa.evaluation.protocol import (
    SEEN,
    TYPES,
    UNSEEN,
    UNSEEN_PARAMS,
    Family,
    distort,
    family,
    paired_gap,
    per_photo_means,
    photo_interval,
)
from iqa.metrics import srcc

LADDER_VERSION = 1
LEVELS = tuple(range(1, distortions.NUM_LEVELS + 1))
DEFAULT_CKPTS = {
    "attiqa offline recipe, attribute-pretrained": "outputs/offline/finetune-attiqa/checkpoints/last.ckpt",
    "attiqa offline recipe, ImageNet-only": "outputs/offline/finetune-imagenet/checkpoints/last.ckpt",
    "attiqa demo, attribute-pretrained": "outputs/demo/finetune-attiqa/checkpoints/last.ckpt",
    "attiqa demo, ImageNet-only": "outputs/demo/finetune-imagenet/checkpoints/last.ckpt",
}
#: Relative to the working directory, as ``make`` runs it from the repository root.
DEFAULT_OUT = Path("outputs") / "heldout"
DEFAULT_CACHE = DEFAULT_OUT / "cache"
VALIDATION_CACHE = Path("outputs") / "val_ladders"

# -- reference crops ---------------------------------------------------------------------------------------------------


def reference_crops(photo: np.ndarray, count: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` square crops (side 45-95 % of the short side, random position) resized to ``size`` px, float [0, 1]."""
    h, w = photo.shape[:2]
    crops = []
    for _ in range(count):
        side = int(round(min(h, w) * rng.uniform(0.45, 0.95)))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        patch = Image.fromarray(photo[top : top + side, left : left + side]).resize((size, size), Image.LANCZOS)
        crops.append(distortions.to_float(np.asarray(patch)))
    return crops


@dataclass(frozen=True)
class Item:
    key: str
    crop: str
    photo: str
    distortion: str
    level: int
    path: str


def ladder_params(names: Sequence[str], crops_per_photo: int, size: int, seed: int, types: Sequence[str] | None = None,
                  sources: Mapping[str, str] | None = None, fam: Family | None = None) -> dict:
    fam = fam or family("attiqa")
    types = fam.types if types is None else tuple(types)
    if fam.name == "attiqa":
        params = {"version": LADDER_VERSION, "photos": list(names), "crops_per_photo": int(crops_per_photo), "size": int(size),
                  "seed": int(seed), "seen": {k: list(distortions.LEVEL_PARAMS[k]) for k in SEEN},
                  "unseen": {k: list(v) for k, v in UNSEEN_PARAMS.items()}}
    else:  # which types are unseen is a reporting choice: it does not change the images
        params = {"version": LADDER_VERSION, "family": fam.name, "photos": list(names), "crops_per_photo": int(crops_per_photo),
                  "size": int(size), "seed": int(seed), "levels": {k: list(v) for k, v in fam.params.items()}}
    # Recorded only when set, so the full benchmark's settings hash stays as it was.
    if tuple(types) != fam.types:
        params["types"] = list(types)
    if sources:
        params["sources"] = dict(sources)
    return params


def ladder_items(cache: Path, names: Sequence[str], crops_per_photo: int, size: int, seed: int,
                 types: Sequence[str] | None = None, load: Callable[[str], np.ndarray] | None = None,
                 sources: Mapping[str, str] | None = None, fam: Family | None = None) -> tuple[str, list[Item]]:
    """``(settings hash, items)``: the ladders for these settings, built once under ``cache/ladders-<hash>``.

    ``sources`` (``{photo: content hash}``) ties the ladders to the files ``load`` reads, for photos outside the registry.
    """
    params = ladder_params(names, crops_per_photo, size, seed, types, sources, fam)
    settings = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    return settings, build_ladders(cache / f"ladders-{settings}", names, crops_per_photo, size, seed, types, load, sources, fam)


def build_ladders(folder: Path, names: Sequence[str], crops_per_photo: int, size: int, seed: int,
                  types: Sequence[str] | None = None, load: Callable[[str], np.ndarray] | None = None,
                  sources: Mapping[str, str] | None = None, fam: Family | None = None) -> list[Item]:
    """Write every ladder image as PNG under ``folder`` (once per settings) and list them.

    ``fam``: the distortion family (default: ``attiqa``, :mod:`iqa.evaluation.protocol`);
    ``types`` narrows its types (default: all, seen and unseen);
    ``load`` reads a photo by name (default: the photo registry).
    """
    fam = fam or family("attiqa")
    types = fam.types if types is None else tuple(types)
    unknown = [t for t in types if t not in fam.types]
    if unknown:
        raise ValueError(f"unknown distortion type(s) {', '.join(unknown)}; valid: {', '.join(fam.types)}")
    load = load or photo_registry.load_photo
    params = ladder_params(names, crops_per_photo, size, seed, types, sources, fam)
    record = folder / "ladders.json"
    items: list[Item] = []
    plan: list[tuple[Item, np.ndarray | None]] = []
    built = record.is_file() and json.loads(record.read_text()).get("params") == params
    for name in names:
        # Built ladders are only listed: the photo is read and cropped only to write them.
        crops = ([None] * crops_per_photo if built else
                 reference_crops(load(name), crops_per_photo, size, np.random.default_rng([seed, zlib.crc32(name.encode())])))
        for index, crop in enumerate(crops):
            crop_id = f"{name}-{index:02d}"
            for dist in types:
                for level in LEVELS:
                    key = f"{crop_id}-{dist}-{level}"
                    item = Item(key, crop_id, name, dist, level, str(folder / "images" / f"{key}.png"))
                    items.append(item)
                    if not built:
                        rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
                        plan.append((item, fam.distort(crop, dist, level, rng)))
    if not built:
        (folder / "images").mkdir(parents=True, exist_ok=True)
        for item, image in plan:
            Image.fromarray(distortions.to_uint8(image)).save(item.path, compress_level=1)
        record.write_text(json.dumps({"params": params, "images": len(items)}, indent=2))
    return items


# -- metrics -----------------------------------------------------------------------------------------------------------


def within_ladder_srcc(scores: np.ndarray, levels: np.ndarray, ladders: np.ndarray) -> np.ndarray:
    """Per ladder (in sorted ladder-id order), Spearman between score and *negated* level: +1 = perfectly right-signed."""
    scores, levels, ladders = np.asarray(scores, float), np.asarray(levels, float), np.asarray(ladders)
    out = []
    for ladder in np.unique(ladders):
        mask = ladders == ladder
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out.append(srcc(scores[mask], -levels[mask]))
    return np.asarray(out, dtype=float)


def pairwise_accuracy(scores: np.ndarray, levels: np.ndarray, groups: np.ndarray) -> float:
    """Share of same-group pairs at different levels that the scores order as the levels (lower level = better); ties 1/2."""
    scores, levels, groups = np.asarray(scores, float), np.asarray(levels, float), np.asarray(groups)
    right = total = 0.0
    for group in np.unique(groups):
        mask = groups == group
        s, lv = scores[mask], levels[mask]
        dl = lv[:, None] - lv[None, :]
        ds = s[:, None] - s[None, :]
        pairs = dl > 0  # i is more degraded than j: want s_i < s_j
        total += pairs.sum()
        right += (ds[pairs] < 0).sum() + 0.5 * (ds[pairs] == 0).sum()
    return float(right / total) if total else float("nan")


def _ladders(scores: np.ndarray, items: Sequence[Item]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per ladder (sorted ladder-id order): within-ladder SRCC, its type and its photo."""
    levels = np.array([it.level for it in items], dtype=float)
    ladders = np.array([f"{it.crop}/{it.distortion}" for it in items])
    photo_of = {f"{it.crop}/{it.distortion}": it.photo for it in items}
    ids = np.unique(ladders)
    per_ladder = within_ladder_srcc(np.asarray(scores, dtype=float), levels, ladders)
    return per_ladder, np.array([i.split("/", 1)[1] for i in ids]), np.array([photo_of[i] for i in ids])


def attribute_ladders(attributes: Mapping[str, np.ndarray], items: Sequence[Item],
                      mapping: Mapping[str, tuple[str, int] | None] | None = None) -> dict[str, dict[str, Any]]:
    """Do the attribute heads move the way each distortion moves their attribute?

    ``attributes``: ``{attribute: raw head output per item}``. ``mapping``: distortion type ->
    ``(attribute, sign)``, the attribute the type moves as its level grows and which way
    (default :data:`iqa.kadid.ATTRIBUTE`; types mapped to None, sign 0 or an attribute not in
    ``attributes`` are left out). Per type: ``{"attribute", "srcc", "ladders"}``, the mean over
    its ladders of Spearman between the head and ``sign * level``: +1 means the head rises
    exactly as the distortion pushes the attribute up (or falls as it pushes it down).
    """
    if mapping is None:
        from iqa import kadid

        mapping = kadid.ATTRIBUTE
    out: dict[str, dict[str, Any]] = {}
    signed: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for dist, m in mapping.items():
        if not m or not m[1] or m[0] not in attributes:
            continue
        if m not in signed:  # within_ladder_srcc correlates with -level: -sign * head correlates with sign * level
            signed[m] = _ladders(-m[1] * np.asarray(attributes[m[0]], dtype=float), items)
        per_ladder, ladder_type, _ = signed[m]
        mask = ladder_type == dist
        if mask.any():
            out[dist] = {"attribute": m[0], "srcc": float(np.nanmean(per_ladder[mask])), "ladders": int(mask.sum())}
    return out


#: The ladders the model card and the recipe's reports use: KADID-10k family, 1 crop per photo, 192 px, seed 0.
CARD_FAMILY, CARD_CROPS_PER_PHOTO, CARD_SIZE, CARD_SEED = "kadid", 1, 192, 0

#: The subsets of types every report gives, as (key, label).
PARTS = (("all", "all types"), ("seen", "seen types"), ("unseen", "unseen types"), ("structural", "structural"),
         ("photometric", "photometric"))


def _part_masks(ladder_type: np.ndarray, fam: Family) -> dict[str, np.ndarray]:
    return {"all": np.ones(len(ladder_type), dtype=bool), "seen": np.isin(ladder_type, fam.seen),
            "unseen": np.isin(ladder_type, fam.unseen), "structural": np.isin(ladder_type, fam.structural),
            "photometric": np.isin(ladder_type, fam.photometric)}


def summarise(scores: np.ndarray, items: Sequence[Item], fam: Family | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """(summary metrics, per-type within-ladder SRCC) of one method's scores on ``items`` (``fam``: default ``attiqa``)."""
    from scipy import stats

    fam = fam or family("attiqa")
    scores = np.asarray(scores, dtype=float)
    levels = np.array([it.level for it in items], dtype=float)
    crops = np.array([it.crop for it in items])
    mos = np.array([synthetic_mos(it.level) for it in items], dtype=float)
    per_ladder, ladder_type, _ = _ladders(scores, items)
    per_type = {t: float(per_ladder[ladder_type == t].mean()) for t in fam.types if (ladder_type == t).any()}
    summary = {key: float(per_ladder[mask].mean()) if mask.any() else float("nan")
               for key, mask in _part_masks(ladder_type, fam).items()}
    summary.update({
        "global_srcc": srcc(scores, mos),
        "plcc": float(stats.pearsonr(scores, mos)[0]) if np.ptp(scores) > 0 else 0.0,
        "pairwise": pairwise_accuracy(scores, levels, crops),
        "images": int(len(scores)),
        "ladders": int(len(per_ladder)),
    })
    return summary, per_type


def per_photo(scores: np.ndarray, items: Sequence[Item], fam: Family | None = None) -> dict[str, dict[str, float]]:
    """``{part: {photo: mean within-ladder SRCC}}`` for each of :data:`PARTS` (a photo's crops averaged first)."""
    fam = fam or family("attiqa")
    per_ladder, ladder_type, ladder_photo = _ladders(scores, items)
    return {key: per_photo_means(per_ladder, ladder_photo, mask) for key, mask in _part_masks(ladder_type, fam).items()}


def photo_intervals(photos: Mapping[str, Mapping[str, dict[str, float]]], seed: int = 0, n_boot: int = 4000,
                    level: float = 0.95) -> dict[str, dict[str, dict[str, float]]]:
    """Per method and part: the mean over photos with its interval resampling photos (:func:`~iqa.evaluation.protocol.photo_interval`)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for method, parts in photos.items():
        out[method] = {}
        for key, values in parts.items():
            mean, lo, hi = photo_interval(values, n_boot, level, seed, tag=f"{method}/{key}")
            out[method][key] = {"mean": mean, "lo": lo, "hi": hi, "photos": len(values)}
    return out


def photo_gaps(photos: Mapping[str, Mapping[str, dict[str, float]]], methods: Sequence[str], seed: int = 0, n_boot: int = 4000,
               level: float = 0.95) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """``{method: {other: {part: gap}}}``: each of ``methods`` minus every other method of ``photos``, paired by photo."""
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for method in methods:
        for other, parts in photos.items():
            if other == method:
                continue
            out.setdefault(method, {})[other] = {key: paired_gap(photos[method][key], parts[key], n_boot, level, seed,
                                                                 tag=f"{method}-{other}/{key}") for key in photos[method]}
    return out


# -- methods -----------------------------------------------------------------------------------------------------------

TEACHER_FORMULA = "mean(sharpness, contrast, colorfulness, 1 - noisiness, 1 - 2 |brightness - 0.5|) of the classical teacher's scores"


def _read(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def teacher_scores(items: Sequence[Item], batch_size: int = 64) -> np.ndarray:
    """The classical teacher's five attributes combined by the fixed :data:`TEACHER_FORMULA` (not fitted to anything)."""
    import torch

    from iqa.attributes import ATTRIBUTES
    from iqa.teachers.classical import classical_scores

    a = {name: i for i, name in enumerate(ATTRIBUTES)}
    out = []
    for start in range(0, len(items), batch_size):
        batch = np.stack([_read(it.path) for it in items[start : start + batch_size]])
        s = classical_scores(torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()).double().numpy()
        q = (s[:, a["sharpness"]] + s[:, a["contrast"]] + s[:, a["colorfulness"]] + (1 - s[:, a["noisiness"]])
             + (1 - 2 * np.abs(s[:, a["brightness"]] - 0.5))) / 5.0
        out.append(q)
    return np.concatenate(out)


def score_checkpoint(ckpt: str, items: Sequence[Item], batch_size: int = 32, device: str | None = None) -> dict:
    """``{"summary": ..., "per_type": ...}`` of one checkpoint on ``items``: a row of every ladder table."""
    summary, per_type = summarise(checkpoint_scores(str(ckpt), items, batch_size, device), items)
    return {"summary": summary, "per_type": per_type}


def checkpoint_frame(ckpt: str, items: Sequence[Item], batch_size: int, device: str | None):
    """The checkpoint's score table (``iqa.load(ckpt).score``) of ``items``, in order; raises if any image failed."""
    from iqa.inference import load

    frame = load(ckpt, device=device).score([it.path for it in items], batch_size=batch_size)
    if frame["error"].astype(bool).any():
        raise RuntimeError(f"{ckpt}: could not score {int(frame['error'].astype(bool).sum())} images")
    return frame


def checkpoint_scores(ckpt: str, items: Sequence[Item], batch_size: int, device: str | None) -> np.ndarray:
    return checkpoint_frame(ckpt, items, batch_size, device)["quality_norm"].to_numpy(dtype=float)


# -- peers -------------------------------------------------------------------------------------------------------------


def peer_scores(tag: str, factory: Callable[[], Callable[[np.ndarray], float]], items: Sequence[Item], cache: Path,
                settings: str) -> np.ndarray:
    """Scores of one peer, read from / written to ``cache/<tag>-<settings>.json``."""
    path = cache / f"{tag}-{settings}.json"
    stored = json.loads(path.read_text()) if path.is_file() else {}
    missing = [it for it in items if it.key not in stored]
    if missing:
        scorer = factory()
        for it in missing:
            stored[it.key] = scorer(_read(it.path))
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stored))
        tmp.replace(path)
    return np.array([stored[it.key] for it in items], dtype=float)


# -- report ------------------------------------------------------------------------------------------------------------

COLUMNS = (("all", "all types"), ("seen", "seen types"), ("unseen", "unseen types"), ("structural", "structural"),
           ("photometric", "photometric"), ("global_srcc", "global SRCC"), ("plcc", "PLCC"), ("pairwise", "pairwise acc."))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3f}"


def _ci(row: Mapping[str, float], key: str = "mean") -> str:
    return f"{_fmt(row[key])} [{_fmt(row['lo'])}, {_fmt(row['hi'])}]"


def markdown(results: dict[str, dict], fam: Family | None = None) -> tuple[str, str]:
    """(the summary table, the per-type table) of :func:`benchmark`'s results."""
    fam = fam or family("attiqa")
    head = "| method | " + " | ".join(label for _, label in COLUMNS) + " |"
    rows = [head, "|---" * (len(COLUMNS) + 1) + "|"]
    rows += [f"| {name} | " + " | ".join(_fmt(r["summary"].get(k)) for k, _ in COLUMNS) + " |" for name, r in results.items()]
    names = list(results)
    per = ["| type | seen | part | " + " | ".join(names) + " |", "|---" * (len(names) + 3) + "|"]
    for t in fam.types:
        per.append(f"| {t} | {'no' if t in fam.unseen else 'yes'} | {fam.part(t)} | "
                   + " | ".join(_fmt(results[n]["per_type"].get(t, float('nan'))) for n in names) + " |")
    return "\n".join(rows), "\n".join(per)


def interval_markdown(results: dict[str, dict], gaps: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]],
                      level: int = 95) -> str:
    """The photo-level tables: each method's mean over photos with its CI, the paired gaps, and every photo's value."""
    keys = [k for k, _ in PARTS]
    lines = [f"Mean within-ladder SRCC over photos [{level}% CI, resampling photos]:", "",
             "| method | photos | " + " | ".join(label for _, label in PARTS) + " |", "|---" * (len(PARTS) + 2) + "|"]
    for name, r in results.items():
        intervals = r.get("intervals") or {}
        if intervals:
            lines.append(f"| {name} | {intervals['all']['photos']} | " + " | ".join(_ci(intervals[k]) for k in keys) + " |")
    if gaps:
        lines += ["", f"Paired gaps over photos (method minus other) [{level}% CI]; wins: share of photos where the method is higher:", "",
                  "| method | minus | " + " | ".join(label for _, label in PARTS) + " |", "|---" * (len(PARTS) + 2) + "|"]
        for name, others in gaps.items():
            for other, parts in others.items():
                cells = [f"{_fmt(parts[k]['gap'])} [{_fmt(parts[k]['lo'])}, {_fmt(parts[k]['hi'])}], wins {_fmt(parts[k]['wins'])}"
                         for k in keys]
                lines.append(f"| {name} | {other} | " + " | ".join(cells) + " |")
    photos = list(dict.fromkeys(p for r in results.values() for p in (r.get("per_photo") or {}).get("all", {})))
    if photos:
        lines += ["", "Within-ladder SRCC per photo (all types / structural / photometric):", "",
                  "| photo | " + " | ".join(results) + " |", "|---" * (len(results) + 1) + "|"]
        for photo in photos:
            cells = []
            for r in results.values():
                pp = r.get("per_photo") or {}
                cells.append(" / ".join(_fmt(pp.get(k, {}).get(photo)) for k in ("all", "structural", "photometric")))
            lines.append(f"| {photo} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_outputs(out: Path, results: dict[str, dict], meta: dict, fam: Family | None = None,
                  gaps: Mapping[str, Any] | None = None) -> None:
    fam = fam or family("attiqa")
    out.mkdir(parents=True, exist_ok=True)
    table, per_type = markdown(results, fam)
    photo_tables = interval_markdown(results, gaps or {})
    (out / "heldout.md").write_text(f"# Distortion ladders\n\n{table}\n\n{photo_tables}\n\nWithin-ladder SRCC per type:\n\n{per_type}\n\n"
                                    f"```json\n{json.dumps(meta, indent=2)}\n```\n")
    with open(out / "summary.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", *[k for k, _ in COLUMNS], "images", "ladders"])
        for name, r in results.items():
            writer.writerow([name, *[r["summary"].get(k) for k, _ in COLUMNS], r["summary"]["images"], r["summary"]["ladders"]])
    with open(out / "per_type.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["type", "seen", "part", *results])
        for t in fam.types:
            writer.writerow([t, t not in fam.unseen, fam.part(t), *[results[n]["per_type"].get(t) for n in results]])
    with open(out / "per_photo.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", "part", "photo", "within_ladder_srcc"])
        for name, r in results.items():
            for part, values in (r.get("per_photo") or {}).items():
                for photo, value in values.items():
                    writer.writerow([name, part, photo, value])
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": results, "gaps": gaps or {}}, indent=2))


# -- inputs ------------------------------------------------------------------------------------------------------------


def ladder_check_parser(doc: str, splits: Sequence[str]) -> argparse.ArgumentParser:
    """The arguments the per-type ladder checks (``benchmarks/attribute_heads.py``, ``type_response.py``) share.

    ``doc``: the script's docstring (first paragraph: description; the rest: epilog); ``splits``: the
    ``--split`` choices, the first one the default.
    """
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=doc.split("\n\n", 1)[1])
    parser.add_argument("--ckpt", action="append", required=True, metavar="NAME=PATH", help="a checkpoint (or shipped model name)")
    parser.add_argument("--split", default=splits[0], choices=tuple(splits), help=f"the photos (default {splits[0]})")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="the ladder cache (shared with iqa heldout)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", default=None, help="write the per-type results as JSON here")
    return parser


def report_check(title: str, text: str, record: Mapping[str, Any], out: str | Path | None) -> None:
    """Print a ladder check's table under ``title``; write ``record`` as JSON to ``out`` (if given)."""
    print(f"\n{title}:\n\n{text}")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(record, indent=1))
        print(f"\nwritten to {out}")


def parse_checkpoints(specs: Sequence[str]) -> dict[str, str]:
    """``NAME=PATH`` values (``--ckpt``) as ``{name: path}``; a malformed one or a missing file stops with its reason."""
    pairs = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise UserError(f"--ckpt expects NAME=PATH, got {spec!r}")
        pairs[name] = path
    return check_checkpoints(pairs)


def check_checkpoints(checkpoints: Mapping[str, str | Path]) -> dict[str, str]:
    """``{name: path}`` with every path checked to be a file (so a typo fails before any ladder is built).

    A shipped model's name (``iqa models``) stands for its weights file, as everywhere else.
    """
    from iqa import zoo

    resolved = {}
    for name, path in checkpoints.items():
        if not Path(path).is_file() and str(path) in zoo.names():
            path = zoo.path(str(path))
        if not Path(path).is_file():
            raise UserError(f"--ckpt {name}: no such checkpoint: {path}")
        resolved[str(name)] = str(path)
    return resolved


def default_checkpoints() -> dict[str, str]:
    """The fine-tuned checkpoints of ``make model`` and ``make demo`` (:data:`DEFAULT_CKPTS`) that are built, as absolute paths."""
    found = {name: str(Path(rel).resolve()) for name, rel in DEFAULT_CKPTS.items() if Path(rel).is_file()}
    if not found:
        print("no attiqa checkpoint given and none built (make model, make demo); scoring the other methods only")
    return found


def heldout_photos(chosen: Sequence[str] | None = None) -> list[str]:
    """The held-out photos to build ladders from: ``chosen`` (each checked), or every installed one.

    A held-out photo whose wheel is not installed is skipped with the ``pip install`` that brings it.
    """
    heldout = photo_registry.heldout_names()
    if chosen:
        bad = [p for p in chosen if p not in heldout]
        if bad:
            raise UserError(f"not held-out photos: {', '.join(bad)} (held-out: {', '.join(heldout)})")
        return list(chosen)
    names = []
    for p in heldout:
        if photo_registry.available(photo_registry.BY_NAME[p]):
            names.append(p)
        else:
            print(f"held-out photo {p!r} skipped: pip install {photo_registry.BY_NAME[p].distribution}")
    if not names:
        raise UserError("no held-out photo is installed")
    return names


#: The registry splits a ladder report may use: ``tune`` for every choice, ``test`` to report, once per recipe version.
REPORT_SPLITS = ("tune", "test")


def split_photos(split: str, chosen: Sequence[str] | None = None) -> list[str]:
    """Every photo of the registry split ``split`` (``tune`` or ``test``), or the ``chosen`` ones of it.

    All must be local (installed or in the photo cache): a missing one stops the
    run, naming the ``iqa photos fetch`` that brings it, since a report on
    whichever photos happen to be present would not be the split's report.
    """
    if split not in REPORT_SPLITS:
        raise UserError(f"--split must be one of {', '.join(REPORT_SPLITS)} (train photos are trained on), got {split!r}")
    members = [p.name for p in photo_registry.photos(split)]
    if chosen:
        bad = [p for p in chosen if p not in members]
        if bad:
            raise UserError(f"not {split} photos: {', '.join(bad)} (iqa photos list --split {split} shows them)")
        members = list(chosen)
    missing = [p for p in members if not photo_registry.available(photo_registry.BY_NAME[p])]
    if missing:
        raise UserError(f"{len(missing)} of the {len(members)} {split} photos are not local ({', '.join(missing[:4])}"
                        f"{', ...' if len(missing) > 4 else ''}): run `iqa photos fetch --split {split}` first")
    return members


def source_commit() -> str | None:
    """The git commit of the code that runs (``-dirty`` when it has uncommitted changes), or None outside a clone."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


#: A reference photo from a photo folder must be at least this large on its short side (its crops take 45-95 % of it).
MIN_PHOTO_SIDE = 64


def folder_photos(folder: str | Path) -> tuple[dict[str, Path], dict[str, str]]:
    """``({name: path}, {name: content hash})`` of the readable photos in ``folder`` (not recursive), in name order.

    The name is the file name. Unreadable or tiny files are skipped with their reason; none left stops the run.
    """
    from iqa.data.images import IMAGE_EXTENSIONS

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"--photo-dir: no such folder: {folder}")
    paths, hashes = {}, {}
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()):
        data = path.read_bytes()  # read once: decoded to check it, hashed for the cache key
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                width, height = image.size
        except Exception as error:  # noqa: BLE001  (any decoder failure: skip the file, say why)
            print(f"photo {path.name} skipped: unreadable ({error.__class__.__name__}: {error})")
            continue
        if min(width, height) < MIN_PHOTO_SIDE:
            print(f"photo {path.name} skipped: {width}x{height} px, its short side is under {MIN_PHOTO_SIDE} px")
            continue
        paths[path.name] = path
        hashes[path.name] = hashlib.sha256(data).hexdigest()[:16]
    if not paths:
        raise UserError(f"--photo-dir: no readable photo in {folder} (extensions: {', '.join(IMAGE_EXTENSIONS)})")
    return paths, hashes


# -- the benchmark -----------------------------------------------------------------------------------------------------


def benchmark(
    checkpoints: Mapping[str, str | Path] | None = None,
    *,
    photos: Sequence[str] | None = None,
    photo_dir: str | Path | None = None,
    crops_per_photo: int = 12,
    size: int = 288,
    seed: int = 0,
    peers: bool = True,
    teacher: bool = True,
    batch_size: int = 32,
    device: str | None = None,
    cache: str | Path = DEFAULT_CACHE,
    out: str | Path | None = DEFAULT_OUT,
    command: str | None = None,
    distortion_family: str = "attiqa",
    unseen: Sequence[str] | None = None,
    n_boot: int = 4000,
    split: str | None = None,
) -> dict:
    """Build the ladders, score every method on them, write the tables; ``{"meta", "results", "gaps", "items"}``.

    ``checkpoints``: ``{name: path}`` (None: :func:`default_checkpoints`).
    ``photos``: held-out photos of the registry (None: every installed one);
    ``split``: every photo of the registry's ``tune`` or ``test`` split instead
    (``photos`` then narrows it; the test split is for the one report per recipe
    version, and its meta records the commit); ``photo_dir``: a folder of your
    own reference photos instead. ``peers`` /
    ``teacher``: score BRISQUE and NIQE / the classical teacher (a peer whose
    extra is missing is skipped with its ``pip install``). ``out``: the folder
    for ``heldout.md``, ``summary.csv``, ``per_type.csv`` and ``results.json``
    (None: nothing written). ``command`` is recorded in the report's meta.
    ``distortion_family``: ``attiqa`` (13 types) or ``kadid`` (the 25 KADID-10k
    types); ``unseen`` overrides which of its types are reported as unseen
    (:func:`iqa.evaluation.protocol.family`). Each method also gets its mean over
    photos with a CI that resamples photos, and every attiqa checkpoint its gap to
    every other method, paired by photo (``n_boot`` resamples).
    """
    started = time.perf_counter()
    fam = family(distortion_family, unseen)
    # Before the ladders are built: a typo fails at once.
    checkpoints = default_checkpoints() if checkpoints is None else check_checkpoints(checkpoints)
    if photo_dir is not None and (photos or split):
        raise UserError(f"--{'split' if split else 'photos'} and --photo-dir exclude each other")
    cache = Path(cache)
    load = sources = None
    if photo_dir is not None:
        paths, sources = folder_photos(photo_dir)
        names = list(paths)

        def load(name: str) -> np.ndarray:
            return _read(str(paths[name]))
    elif split is not None:
        names = split_photos(split, photos)
        if split == "test":
            print(f"the test split ({len(names)} photos): score each recipe version once, after every choice is made on tune")

        def load(name: str) -> np.ndarray:
            return photo_registry.load_photo(name)
    else:
        names = heldout_photos(photos)
    settings, items = ladder_items(cache, names, crops_per_photo, size, seed, load=load, sources=sources, fam=fam)
    build_s = time.perf_counter() - started
    print(f"{len(items)} images: {len(names)} photos x {crops_per_photo} crops x {len(fam.types)} {fam.name} types "
          f"({len(fam.seen)} seen, {len(fam.unseen)} unseen; {len(fam.structural)} structural, {len(fam.photometric)} photometric) "
          f"x {len(LEVELS)} levels, {size} px ({build_s:.1f} s)")

    methods: dict[str, Callable[[], np.ndarray]] = {}
    for name, path in checkpoints.items():
        methods[name] = lambda path=path: checkpoint_scores(path, items, batch_size, device)
    if teacher:
        methods["classical teacher (fixed combination)"] = lambda: teacher_scores(items)
    skipped = []
    if peers:
        for label, (tag, factory) in PEERS.items():
            if tag == "niqe" and size <= 193:
                skipped.append(label)
                print(f"{label} skipped: NIQE needs crops larger than 193 px (--size {size})")
                continue
            try:
                factory()
            except UserError as error:
                skipped.append(label)
                print(f"{label} skipped: {error}")
                continue
            methods[label] = lambda tag=tag, factory=factory: peer_scores(tag, factory, items, cache, settings)

    results: dict[str, dict] = {}
    for label, fn in methods.items():
        t0 = time.perf_counter()
        scores = fn()
        summary, per_type = summarise(scores, items, fam)
        results[label] = {"summary": summary, "per_type": per_type, "per_photo": per_photo(scores, items, fam),
                          "seconds": round(time.perf_counter() - t0, 1)}
        print(f"  {label}: {results[label]['seconds']} s")
    photo_level = photo_intervals({k: r["per_photo"] for k, r in results.items()}, seed=seed, n_boot=n_boot)
    for label, r in results.items():
        r["intervals"] = photo_level[label]
    gaps = photo_gaps({k: r["per_photo"] for k, r in results.items()}, [k for k in results if k in checkpoints], seed=seed,
                      n_boot=n_boot)
    wall = time.perf_counter() - started
    meta = {"command": command, "commit": source_commit(), "split": split, "photos": names,
            "photo_dir": str(photo_dir) if photo_dir else None,
            "crops_per_photo": crops_per_photo, "size": size, "seed": seed,
            "family": fam.name, "seen": list(fam.seen), "unseen": list(fam.unseen), "structural": list(fam.structural),
            "photometric": list(fam.photometric), "levels": list(LEVELS), "images": len(items), "interval_unit": "photo",
            "checkpoints": checkpoints, "teacher_formula": TEACHER_FORMULA, "skipped": skipped,
            "wall_seconds": round(wall, 1), "settings": settings}
    if out is not None:
        write_outputs(Path(out), results, meta, fam, gaps)
    table, per_type = markdown(results, fam)
    print()
    print(table)
    print()
    print(interval_markdown(results, gaps))
    print()
    print("within-ladder SRCC per type:")
    print(per_type)
    print(f"\nwall time {wall:.1f} s" + (f"; written to {out}" if out is not None else ""))
    return {"meta": meta, "results": results, "gaps": gaps, "items": items}


# -- validation ladders ------------------------------------------------------------------------------------------------


def load_validation_photo(name: str) -> np.ndarray:
    """A validation photo, refused unless it is a train-role photo (never a held-out one)."""
    return photo_registry.load_photo(photo_registry.trainable(name).name)


def validation_ladders(
    checkpoints: Mapping[str, str | Path],
    *,
    photos: Sequence[str] | None = None,
    crops_per_photo: int = 12,
    size: int = 288,
    seed: int = 0,
    batch_size: int = 32,
    cache: str | Path = VALIDATION_CACHE,
) -> dict[str, dict]:
    """Seen-type ladders on the offline recipe's *validation* photos: ``{name: score_checkpoint(...)}`` per checkpoint.

    The held-out benchmark (:func:`benchmark`) is for reporting only; choices of
    the recipe (fine-tuning protocol, budgets) are made on these ladders: the
    same construction and metrics, on the validation photos of
    :mod:`iqa.data.offline` (train-role photos, checked by
    :func:`iqa.data.photos.trainable`, which no training split of the recipe
    uses) and the seen distortion types only, so the unseen types stay unseen
    during tuning as well. The rows are also written to ``cache/last.json``.
    """
    from iqa.data import offline

    checkpoints = check_checkpoints(checkpoints)  # before the ladders are built: a typo fails at once
    cache = Path(cache)
    chosen = list(photos) if photos else list(offline.VAL_PHOTOS)
    _, items = ladder_items(cache, chosen, crops_per_photo, size, seed, types=SEEN, load=load_validation_photo)
    rows = {}
    for name, path in checkpoints.items():
        rows[name] = score_checkpoint(path, items, batch_size)
        summary, per_type = rows[name]["summary"], rows[name]["per_type"]
        print(f"{name}: seen {summary['seen']:.3f}, global SRCC {summary['global_srcc']:.3f}, pairwise {summary['pairwise']:.3f}; "
              + ", ".join(f"{t} {v:.2f}" for t, v in per_type.items()), flush=True)
    (cache / "last.json").write_text(json.dumps(rows, indent=2))
    return rows


__all__ = [
    "COLUMNS", "DEFAULT_CACHE", "DEFAULT_CKPTS", "DEFAULT_OUT", "LADDER_VERSION", "LEVELS", "MIN_PHOTO_SIDE", "SEEN",
    "PARTS", "TEACHER_FORMULA", "TYPES", "UNSEEN", "UNSEEN_PARAMS", "VALIDATION_CACHE", "Item", "attribute_ladders", "benchmark",
    "build_ladders", "CARD_CROPS_PER_PHOTO", "CARD_FAMILY", "CARD_SEED", "CARD_SIZE", "check_checkpoints", "checkpoint_frame",
    "checkpoint_scores", "default_checkpoints", "distort", "folder_photos", "heldout_photos",
    "interval_markdown", "ladder_items", "ladder_params", "load_validation_photo", "markdown", "pairwise_accuracy",
    "REPORT_SPLITS", "parse_checkpoints", "per_photo", "photo_gaps", "photo_intervals", "source_commit", "split_photos",
    "peer_scores", "reference_crops", "score_checkpoint", "summarise", "teacher_scores", "validation_ladders",
    "within_ladder_srcc", "write_outputs",
]
