"""The offline demonstration of ``iqa rank``: "generators" whose true order and defect are known.

Each generator is one degradation of :mod:`iqa.distortions` at a fixed
severity, applied to the same crops of the embedded photos (the demo's held-out
ones: ``rocket`` is its validation photo, ``chelsea`` and ``motorcycle`` its
test photos, so the demo's fine-tuned model never trained on them). A crop is a
"prompt": every generator renders every prompt, so the pairs are compared
paired, as generators are on shared prompts.

==============  ======================  =====  ==========================  ==================
generator       degradation             level  demo MOS (5 - 0.8 x level)  expected attribute
==============  ======================  =====  ==========================  ==================
clean           none                    0      5.0                         (reference)
slightly_dark   darken                  2      3.4                         brightness, lower
blurred         gaussian_blur           3      2.6                         sharpness, lower
very_noisy      gaussian_noise          5      1.0                         noisiness, higher
==============  ======================  =====  ==========================  ==================

So the ranking must come out ``clean > slightly_dark > blurred > very_noisy``, and
for each degraded generator the attribute its degradation targets
(``DISTORTION_ATTRIBUTE``) must move the intended way against ``clean``, with a
CI that excludes zero; other attributes may move too, even further (blur also
lowers contrast). :func:`check` compares a ranking with that; :func:`run_demo`
(``iqa rank --demo``) builds the images, ranks them with the demo's fine-tuned
checkpoint, writes the reports and returns 1 if the check fails.

    iqa rank --demo                       # after `make demo`
    iqa rank --demo --ckpt outputs/demo/finetune-attiqa/checkpoints/last.ckpt
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from iqa import distortions
from iqa.io import atomic_write_json, atomic_write_text, locked, replace_dir
from iqa.ranking.reports import report
from iqa.ranking.results import RankingResults
from iqa.ranking.scoring import rank
from iqa.ranking.settings import RankSettings, demo_out

__all__ = ["GENERATORS", "PHOTOS", "SCALES", "build_generators", "check", "describe", "expected_attributes", "expected_order",
           "run_demo"]

#: (generator, distortion or None, level), best first.
GENERATORS: tuple[tuple[str, str | None, int], ...] = (
    ("clean", None, 0),
    ("slightly_dark", "darken", 2),
    ("blurred", "gaussian_blur", 3),
    ("very_noisy", "gaussian_noise", 5),
)
PHOTOS = ("rocket", "chelsea", "motorcycle")
#: Each photo is resized to a short side of scale x size and cut into size x size crops.
SCALES = (2, 3)
BUILD_VERSION = 1


def expected_order(generators: Sequence[tuple[str, str | None, int]] = GENERATORS) -> list[str]:
    return [name for name, _, level in sorted(generators, key=lambda g: g[2])]


def expected_attributes(generators: Sequence[tuple[str, str | None, int]] = GENERATORS) -> dict[str, tuple[str, int]]:
    """Generator -> (attribute its degradation moves, sign of the move)."""
    return {name: distortions.DISTORTION_ATTRIBUTE[kind] for name, kind, _ in generators if kind}


def _crops(image: np.ndarray, size: int, scale: int) -> list[np.ndarray]:
    height, width = image.shape[:2]
    factor = scale * size / min(height, width)
    new_w, new_h = max(scale * size, round(width * factor)), max(scale * size, round(height * factor))
    resized = distortions.to_float(np.asarray(Image.fromarray(distortions.to_uint8(image)).resize((new_w, new_h), Image.LANCZOS)))
    rows, cols = new_h // size, new_w // size
    off_y, off_x = (new_h - rows * size) // 2, (new_w - cols * size) // 2
    return [resized[off_y + r * size: off_y + (r + 1) * size, off_x + c * size: off_x + (c + 1) * size].copy()
            for r in range(rows) for c in range(cols)]


def build_generators(root: str | Path, size: int = 160, photos: Sequence[str] = PHOTOS, scales: Sequence[int] = SCALES,
                     generators: Sequence[tuple[str, str | None, int]] = GENERATORS) -> Path:
    """Write ``<root>/<generator>/<prompt>.png`` and ``<root>/generators.csv`` (path, group, prompt); returns the CSV.

    Deterministic (the noise is seeded by photo, crop and generator) and built
    once: a finished build with the same parameters is reused.
    """
    from iqa.data.synthetic import load_reference

    root = Path(root)
    params = {"version": BUILD_VERSION, "size": int(size), "photos": list(photos), "scales": list(scales),
              "generators": [list(g) for g in generators]}
    record = root / "build.json"
    table = root / "generators.csv"
    with locked(root.parent / f".{root.name}.lock"):
        if record.is_file() and table.is_file() and json.loads(record.read_text()) == params:
            return table
        tmp = root.parent / f".{root.name}.tmp"
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp)
        rows = []
        for photo in photos:
            image = load_reference(photo)
            for scale in scales:
                for index, crop in enumerate(_crops(image, int(size), int(scale))):
                    prompt = f"{photo}-x{scale}-{index:02d}"
                    for name, kind, level in generators:
                        seed = zlib.crc32(f"{prompt}/{name}".encode())
                        out = crop if kind is None else distortions.apply(crop, kind, level, np.random.default_rng(seed))
                        folder = tmp / name
                        folder.mkdir(parents=True, exist_ok=True)
                        buffer = io.BytesIO()
                        Image.fromarray(distortions.to_uint8(out)).save(buffer, format="PNG", compress_level=6)
                        (folder / f"{prompt}.png").write_bytes(buffer.getvalue())
                        rows.append([f"{name}/{prompt}.png", name, prompt])
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["path", "group", "prompt"])
        writer.writerows(rows)
        atomic_write_text(tmp / "generators.csv", text.getvalue())
        atomic_write_json(tmp / "build.json", params)
        replace_dir(tmp, root)
    return table


def check(results: RankingResults, generators: Sequence[tuple[str, str | None, int]] = GENERATORS) -> dict[str, Any]:
    """Whether a ranking of the demo generators found their known order and, per degraded generator, moved its attribute.

    A generator passes when the attribute its degradation targets moved in the
    intended direction against the reference group with a CI that excludes
    zero (``lo > 0`` for a rise, ``hi < 0`` for a fall; a missing bound
    fails). Which attribute moved *most* is not checked: chroma noise is also
    colourful, blur also lowers contrast, and how strongly a small model reacts
    to each varies by machine. The whole check passes when the order is the
    expected one and every degraded generator passes.

    Returns ``expected_order``, ``order``, ``order_ok``, ``attributes`` (per
    degraded generator: ``expected``, ``attribute``, ``shift``, ``lo``, ``hi``,
    ``found``, ``main`` and ``ok``), ``attributes_ok`` and ``ok``.
    """
    want = expected_order(generators)
    attributes: dict[str, dict[str, Any]] = {}
    for name, (attribute, sign) in expected_attributes(generators).items():
        shift = results.group(name).shift
        moved = lo = hi = None
        if shift is not None:
            moved, lo, hi = shift.shifts.get(attribute), shift.lo.get(attribute), shift.hi.get(attribute)
        bound = lo if sign > 0 else hi
        ok = moved is not None and bound is not None and np.sign(moved) == sign and sign * bound > 0
        bounds = ", ".join("n/a" if v is None else f"{v:+.2f}" for v in (lo, hi))
        found = "none" if moved is None else f"{moved:+.2f} SD [{bounds}]"
        attributes[name] = {"expected": f"{attribute} {'higher' if sign > 0 else 'lower'}", "attribute": attribute, "shift": moved,
                            "lo": lo, "hi": hi, "found": found, "main": shift.main if shift is not None else None, "ok": bool(ok)}
    order_ok = results.order == want
    attributes_ok = bool(attributes) and all(a["ok"] for a in attributes.values())
    return {"expected_order": want, "order": results.order, "order_ok": order_ok, "attributes": attributes,
            "attributes_ok": attributes_ok, "ok": order_ok and attributes_ok}


def describe(verdict: Mapping[str, Any]) -> str:
    """The verdict of :func:`check` as text: the orders, a line per degraded generator, and passed / FAILED."""
    lines = [f"expected order: {' > '.join(verdict['expected_order'])}",
             f"found order:    {' > '.join(verdict['order'])}   {'OK' if verdict['order_ok'] else 'WRONG'}"]
    for name, item in verdict["attributes"].items():
        lines.append(f"{name:<13} expected {item['expected']:<18} found {item['found']:<24} {'OK' if item['ok'] else 'WRONG'}")
    lines.append("(an attribute passes when its CI against clean excludes zero in the intended direction)")
    lines.append("demo check: " + ("passed" if verdict["ok"] else "FAILED"))
    return "\n".join(lines)


def demo_checkpoint(ckpt: str | None = None) -> str:
    """The demo's checkpoint: ``ckpt``, else ``$ATTIQA_CKPT``, else the one ``make demo`` fine-tunes if it exists,
    else the shipped default model."""
    from iqa.inference import CKPT_ENV, DEMO_CKPT, resolve_checkpoint

    if ckpt or os.environ.get(CKPT_ENV):
        return resolve_checkpoint(ckpt)
    demo = Path(os.environ.get("ATTIQA_OUTPUT_DIR", "outputs")) / DEMO_CKPT
    return str(demo) if demo.is_file() else resolve_checkpoint(None)


def run_demo(settings: RankSettings | None = None, *, size: int = 160, photos: Sequence[str] = PHOTOS,
             scales: Sequence[int] = SCALES) -> int:
    """Build the generators beside ``settings.out``, rank them, write the reports, print the check; 0 if it passed, else 1.

    ``settings``: as for ``iqa rank`` (default: :class:`RankSettings` writing to
    :func:`~iqa.ranking.settings.demo_out`); the reference group defaults to ``clean``.
    """
    s = settings if settings is not None else RankSettings(out=demo_out())
    ckpt = demo_checkpoint(s.ckpt)
    out = Path(s.out)
    table = build_generators(out.parent / f"{out.name}-generators", size=size, photos=photos, scales=scales)
    started = time.perf_counter()
    results = rank(csv=table, ckpt=ckpt, cache=s.cache, batch_size=int(s.batch_size), num_workers=int(s.num_workers or 0),
                   device=s.torch_device, chunk_size=int(s.chunk_size), n_boot=int(s.bootstrap), seed=int(s.seed), level=float(s.level),
                   alpha=float(s.alpha), min_group=int(s.min_group), reference=s.reference or "clean", progress=s.progress,
                   cluster_by=s.cluster_by, breakdown_by=s.breakdown_by, max_pair_groups=int(s.max_pair_groups))
    report(results, out, logger=s.logger, seconds=time.perf_counter() - started)
    verdict = check(results)
    atomic_write_json(out / "demo_check.json", verdict)
    print(describe(verdict))
    return 0 if verdict["ok"] else 1
