"""Write and check shipped models: float16 weights, a manifest with hashes and reference scores, the model card.

:func:`export_model` (``iqa models export``) turns any attiqa checkpoint into
a shipped model folder (see :mod:`iqa.zoo`); :func:`verify_model`
(``iqa models verify``) checks a shipped model against its manifest: the
weights' sha256 and the scores it gives on the fixture.

The fixture (:data:`FIXTURE`) is a handful of images built in memory from one
scikit-image photo with fixed distortions of :mod:`iqa.distortions`, saved as
PNG and scored on the CPU through the same path as ``iqa score``. Its reference
scores are computed from the exported float16 file, after the round trip, so a
reload must reproduce them up to floating-point noise (:data:`TOLERANCE`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from iqa import zoo
from iqa.checkpoints import KEYS
from iqa.errors import UserError
from iqa.io import atomic_write_json
from iqa.zoo import MANIFEST, ShippedModel, get, sha256

#: Largest weights file :func:`export_model` writes, in MB (10**6 bytes).
MAX_MB = 10.0
#: The fixture: one photo, its size (width, height) and the distortions (name, level) of each image.
FIXTURE: dict[str, Any] = {
    "photo": "astronaut",
    "size": [240, 180],
    "noise_seed": 0,
    "images": {
        "clean": [],
        "blur": [["gaussian_blur", 3]],
        "noise": [["gaussian_noise", 3]],
        "jpeg": [["jpeg", 4]],
        "dark": [["darken", 3]],
        "washed_out": [["contrast_decrease", 3], ["saturation_decrease", 3]],
    },
}
#: Largest difference allowed between a reload's fixture scores and the recorded ones: ``quality_norm`` and each raw
#: attribute score in absolute terms, ``quality`` in the same share of its MOS range.
TOLERANCE = 0.005


def fixture_images(fixture: Mapping[str, Any] = FIXTURE) -> dict[str, np.ndarray]:
    """The fixture's images as uint8 RGB arrays, by name (deterministic)."""
    from PIL import Image

    from iqa import distortions
    from iqa.data.synthetic import load_reference

    photo = load_reference(fixture["photo"])
    width, height = fixture["size"]
    base = Image.fromarray(distortions.to_uint8(photo)).convert("RGB")
    # Centre crop to the fixture's aspect ratio, then resize.
    w, h = base.size
    crop_w, crop_h = (w, round(w * height / width)) if w * height <= h * width else (round(h * width / height), h)
    left, top = (w - crop_w) // 2, (h - crop_h) // 2
    base = base.crop((left, top, left + crop_w, top + crop_h)).resize((width, height), Image.LANCZOS)
    clean = distortions.to_float(np.asarray(base))
    out = {}
    for name, steps in fixture["images"].items():
        rng = np.random.default_rng(int(fixture["noise_seed"]))
        image = clean
        for distortion, level in steps:
            image = distortions.apply(image, distortion, int(level), rng)
        out[name] = distortions.to_uint8(image)
    return out


def fixture_scores(model: Any, fixture: Mapping[str, Any] = FIXTURE) -> dict[str, dict[str, float]]:
    """``{image: {column: score}}`` of a :class:`~iqa.inference.QualityModel` on the fixture, scored on the CPU from PNG files."""
    from PIL import Image

    images = fixture_images(fixture)
    with tempfile.TemporaryDirectory(prefix="attiqa-fixture-") as tmp:
        paths = []
        for name, array in images.items():
            paths.append(Path(tmp) / f"{name}.png")
            Image.fromarray(array).save(paths[-1])
        frame = model.score([str(p) for p in paths], batch_size=len(paths), device="cpu", num_workers=0)
    columns = [c for c in frame.columns if c not in ("path", "error") and not c.endswith("_percentile")]
    bad = frame[frame["error"] != ""]
    if len(bad):
        raise UserError(f"the fixture could not be scored: {bad['error'].iloc[0]}")
    return {name: {c: round(float(frame[c].iloc[i]), 6) for c in columns} for i, name in enumerate(images)}


def compare_scores(expected: Mapping[str, Mapping[str, float]], found: Mapping[str, Mapping[str, float]],
                   mos_range: tuple[float, float], tolerance: float = TOLERANCE) -> tuple[float, list[str]]:
    """(largest difference in tolerance units, one line per score outside the tolerance or missing)."""
    span = abs(mos_range[1] - mos_range[0]) or 1.0
    worst, problems = 0.0, []
    for image, scores in expected.items():
        for column, value in scores.items():
            got = found.get(image, {}).get(column)
            if got is None:
                problems.append(f"{image}: no {column} score")
                continue
            if np.isnan(value) and np.isnan(got):
                continue
            allowed = tolerance * (span if column == "quality" else 1.0)
            ratio = abs(float(got) - float(value)) / allowed if np.isfinite(got) else float("inf")
            worst = max(worst, ratio)
            if ratio > 1:
                problems.append(f"{image}: {column} {got:.6f}, recorded {value:.6f} (tolerance {allowed:g})")
    return worst, problems


def _summary(card_text: str) -> str:
    """The card's first line of prose (not a heading), as the one-line summary."""
    for line in card_text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "<!--", "|", "---")):
            return line[:200]
    return ""


def export_model(ckpt: str | os.PathLike, name: str, card: str | os.PathLike, *, version: str = "0", commit: str | None = None,
                 out: str | os.PathLike | None = None, max_mb: float = MAX_MB, summary: str | None = None,
                 force: bool = False) -> Path:
    """Write ``ckpt`` as the shipped model ``name`` into ``out/name/`` (default ``out``: the package's models folder).

    The folder gets ``<name>.ckpt`` (float16 weights and the metadata the loader
    needs: no optimiser or trainer state), ``manifest.json`` and the card. A
    weights file over ``max_mb`` MB is refused; so is an existing folder unless
    ``force``. Returns the folder.
    """
    from iqa.inference import load
    from iqa.models import load_net, write_checkpoint

    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise UserError(f"model name '{name}': use letters, digits, '-', '_' and '.' only")
    card = Path(card)
    if not card.is_file():
        raise UserError(f"model card not found: {card}")
    card_text = card.read_text()
    root = Path(out) if out is not None else zoo.ROOT
    target = root / name
    if target.exists() and not force:
        raise UserError(f"{target} exists: pass --force to replace it, or choose another --name")
    net, meta = load_net(str(ckpt))
    fields = {k: getattr(meta, k) for k in KEYS if k != "net_config"}  # named metadata only: no optimiser settings
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        weights = staging / f"{name}.ckpt"
        write_checkpoint(net.half(), weights, **fields)
        size = weights.stat().st_size
        if size > max_mb * 1e6:
            raise UserError(f"{name}: the float16 weights take {size / 1e6:.1f} MB, over the limit of {max_mb:g} MB; "
                            f"export a smaller network (or raise --max-mb)")
        model = load(weights, device="cpu")
        manifest = {
            "name": name,
            "version": str(version),
            "summary": summary if summary is not None else _summary(card_text),
            "weights": {"file": weights.name, "sha256": sha256(weights), "bytes": size, "dtype": "float16",
                        "parameters": int(sum(p.numel() for p in model.net.parameters()))},
            "card": card.name,
            "commit": commit,
            "source": Path(ckpt).name,
            "metadata": {"stage": meta.stage, "data": meta.data, "backbone": meta.net_config.get("backbone"),
                         "view": model.meta.scoring_view(), "mos_range": list(meta.mos_range),
                         "higher_is_better": meta.higher_is_better, "attributes_trained": meta.attributes_trained,
                         "calibrated": model.calibration is not None},
            "fixture": dict(FIXTURE),
            "tolerance": TOLERANCE,
            "reference_scores": fixture_scores(model),
        }
        shutil.copyfile(card, staging / card.name)
        atomic_write_json(staging / MANIFEST, manifest)
        staging.chmod(0o755)  # package data: readable by everyone once installed
        for item in staging.iterdir():
            item.chmod(0o644)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def verify_model(model: ShippedModel) -> dict[str, Any]:
    """Check one shipped model: ``{"name", "sha256_ok", "scores_ok", "worst", "problems"}`` (worst: in tolerance units)."""
    from iqa.inference import load
    from iqa.zoo import check

    result: dict[str, Any] = {"name": model.name, "sha256_ok": False, "scores_ok": False, "worst": None, "problems": []}
    try:
        weights = check(model)
    except UserError as exc:
        result["problems"].append(str(exc))
        return result
    result["sha256_ok"] = True
    manifest = model.manifest
    loaded = load(weights, device="cpu")
    found = fixture_scores(loaded, manifest.get("fixture", FIXTURE))
    worst, problems = compare_scores(manifest.get("reference_scores", {}), found, (loaded.scale.low, loaded.scale.high),
                                     float(manifest.get("tolerance", TOLERANCE)))
    if not manifest.get("reference_scores"):
        problems.append("the manifest records no reference scores")
    result.update(scores_ok=not problems, worst=worst, problems=problems)
    return result


def verify(name: str | None = None, root: Path | None = None) -> list[dict[str, Any]]:
    """:func:`verify_model` for ``name``, or for every shipped model when None."""
    from iqa.zoo import available

    models = [get(name, root)] if name is not None else available(root)
    return [verify_model(m) for m in models]


__all__ = ["FIXTURE", "MAX_MB", "TOLERANCE", "compare_scores", "export_model", "fixture_images", "fixture_scores",
           "verify", "verify_model"]
