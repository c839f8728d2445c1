"""Rankings to render as ranking.html in the tests (synthetic scores with real image files, rows with the optional
fields) and headless Chromium to look at them.

``python tests/_ranking_html_helpers.py OUT_DIR [SCREENSHOT.png]`` writes the realistic 6-group report
(:func:`realistic_results`) to ``OUT_DIR/ranking.html`` and, given a PNG path, screenshots it there
(how ``docs/images/ranking-html.png`` is made).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

ATTRS = ["sharpness", "brightness", "contrast", "colorfulness", "noisiness"]

#: (generator, distortion or None, level), best first: the report in docs/images/ranking-html.png.
GENERATORS: tuple[tuple[str, str | None, int], ...] = (
    ("clean", None, 0),
    ("jpeg_q", "jpeg", 2),
    ("slightly_dark", "darken", 2),
    ("desaturated", "saturation_decrease", 3),
    ("blurred", "gaussian_blur", 3),
    ("very_noisy", "gaussian_noise", 5),
)


class Extended:
    """A :class:`~iqa.ranking.GroupRow` with extra fields (``tier``, ``rank_lo``, ``bt``, ...), as rows may carry them."""

    def __init__(self, row: Any, **extra: Any) -> None:
        self._row = row
        self.__dict__.update(extra)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def write_images(folder: Path, group: str, n: int, seed: int) -> list[str]:
    """``n`` small PNGs (smooth random colour fields, distinct per group and index) under ``folder/group``."""
    (folder / group).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        small = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
        path = folder / group / f"{i:03d}.png"
        Image.fromarray(small).resize((200, 150), Image.BILINEAR).save(path)
        paths.append(str(path))
    return paths


def synthetic_frame(groups: list[str], n: int = 12, *, folder: Path | None = None, seed: int = 0) -> pd.DataFrame:
    """Scores of ``n`` images per group, quality falling with the group's position; real PNGs when ``folder`` is given."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, group in enumerate(groups):
        paths = write_images(folder, group, n, seed + k) if folder is not None else [f"/nowhere/{k}/{i}.png" for i in range(n)]
        for path in paths:
            row = {"group": group, "path": path, "quality_norm": 0.8 - 0.5 * k / max(1, len(groups)) + rng.normal(0, 0.05), "error": ""}
            row.update({a: rng.normal() + (1.5 if a == "noisiness" and k == len(groups) - 1 else 0.0) for a in ATTRS})
            rows.append(row)
    return pd.DataFrame(rows)


def with_extras(results: Any) -> Any:
    """``results`` with tiers, rank CIs and a Bradley-Terry rating on every row (see :func:`extras`)."""
    results.groups = [Extended(g, **fields) for g, fields in zip(results.groups, extras(results))]
    return results


def extras(results: Any, n_boot: int = 200, seed: int = 0) -> list[dict[str, Any]]:
    """Illustrative tier, rank CI and Bradley-Terry fields for each group of ``results``.

    Tier: a new tier starts below a group distinguishable from the one above
    it. Rank CI: the ranks of the groups not distinguishable from this one.
    Bradley-Terry: log-strengths fitted to the win rates (mean over groups 0)
    by the MM algorithm, with a percentile CI over image resamples.
    """
    order = results.order
    apart = {frozenset((p.a, p.b)): p.distinguishable for p in results.pairs}
    tiers, tier = [], 1
    for i, name in enumerate(order):
        if i and apart[frozenset((order[i - 1], name))]:
            tier += 1
        tiers.append(tier)
    rank_ci = []
    for i, name in enumerate(order):
        close = [j for j, other in enumerate(order) if j == i or not apart[frozenset((name, other))]]
        rank_ci.append((min(close) + 1, max(close) + 1))
    frame = results.scores
    values = [frame[(frame["group"] == name) & (frame["error"] == "")]["quality_norm"].to_numpy(dtype=np.float64) for name in order]
    rng = np.random.default_rng(seed)
    point = _bradley_terry(values)
    boots = np.array([_bradley_terry([v[rng.integers(0, len(v), len(v))] for v in values]) for _ in range(n_boot)])
    lo, hi = np.percentile(boots, [2.5, 97.5], axis=0)
    return [{"tier": tiers[i], "rank_lo": rank_ci[i][0], "rank_hi": rank_ci[i][1], "bt": float(point[i]), "bt_lo": float(lo[i]),
             "bt_hi": float(hi[i])} for i in range(len(order))]


def _bradley_terry(values: list[np.ndarray], steps: int = 100) -> np.ndarray:
    """Log-strengths (mean 0) whose Bradley-Terry win probabilities fit the groups' pairwise win rates (MM algorithm)."""
    k, width = len(values), max(len(v) for v in values)
    padded = np.full((k, width), np.nan)
    for i, v in enumerate(values):
        padded[i, : len(v)] = v
    a, b = padded[:, None, :, None], padded[None, :, None, :]
    valid = np.isfinite(a) & np.isfinite(b)
    wins = np.where(valid, (a > b) + 0.5 * (a == b), 0.0).sum(axis=(2, 3)) / valid.sum(axis=(2, 3))
    np.fill_diagonal(wins, 0.0)
    games = wins + wins.T
    strength = np.ones(k)
    for _ in range(steps):
        denominator = (games / (strength[:, None] + strength[None, :])).sum(axis=1)
        strength = np.maximum(wins.sum(axis=1), 1e-3) / denominator
        strength /= math.exp(np.mean(np.log(strength)))
    return np.log(strength)


def realistic_results(root: Path) -> Any:
    """Six "generators" (degradations of the demo's held-out photos, 96 px crops) with classical attribute scores.

    The attribute scores are the classical teacher's measures of each image;
    quality is synthetic (the demo MOS of the degradation level, 1 - 0.16 x
    level, plus noise), so the order is known. The crops are the prompts, so
    the tiers, rank CIs and Bradley-Terry ratings are the analysis's own.
    """
    import torch

    from iqa.ranking import analyse
    from iqa.ranking.demo import build_generators
    from iqa.teachers.classical import raw_measures

    table = pd.read_csv(build_generators(root / "generators", size=96, photos=("rocket", "chelsea"), scales=(2,), generators=GENERATORS))
    table["path"] = [str(root / "generators" / p) for p in table["path"]]
    level = {name: lvl for name, _, lvl in GENERATORS}
    images = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in table["path"]])
    raw = raw_measures(torch.from_numpy(images).permute(0, 3, 1, 2)).numpy()
    z = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    for j, a in enumerate(ATTRS):
        table[a] = z[:, j]
    rng = np.random.default_rng(7)
    table["quality_norm"] = [1.0 - 0.16 * level[g] + rng.normal(0, 0.06) for g in table["group"]]
    table["error"] = ""
    results = analyse(table, attributes=ATTRS, n_boot=1000, reference="clean", min_group=10,
                      settings={"checkpoint": "demo/finetune-attiqa/last.ckpt", "trained_on": "demo"})
    return results


# -- headless Chromium -------------------------------------------------------------------------------------------------

#: Names the browser goes by on PATH (Debian: ``apt-get install chromium``).
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def browser() -> str | None:
    """The first headless-capable Chromium on PATH, or None."""
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def run_browser(page: Path, *args: str, address: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    """Open ``page`` (plus ``address``, e.g. ``#sort=group``) in headless Chromium with ``args``, in a fresh profile."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [browser() or "chromium", "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-dev-shm-usage",
                   "--disable-extensions", f"--user-data-dir={profile}", *args, page.resolve().as_uri() + address]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def dump_dom(page: Path, address: str = "") -> str:
    """The page's DOM after its scripts ran (``--dump-dom`` with a virtual-time budget)."""
    done = run_browser(page, "--virtual-time-budget=5000", "--dump-dom", address=address)
    assert done.returncode == 0 and "<html" in done.stdout, done.stderr[-2000:]
    return done.stdout


def screenshot(page: Path, out: Path, size: tuple[int, int] = (1280, 1600), address: str = "") -> Path:
    """A PNG of the top ``size`` of the page."""
    done = run_browser(page, "--hide-scrollbars", "--virtual-time-budget=5000", f"--window-size={size[0]},{size[1]}",
                       f"--screenshot={out}", address=address)
    assert done.returncode == 0 and out.is_file(), done.stderr[-2000:]
    return out


if __name__ == "__main__":
    from iqa.ranking.html import write_html

    out = Path(sys.argv[1])
    page = write_html(realistic_results(out / "inputs"), out)
    print(page, page.stat().st_size, "bytes")
    if len(sys.argv) > 2:
        shot = screenshot(page, Path(sys.argv[2]).resolve())
        # A palette PNG (256 colours) keeps the picture for the docs small.
        Image.open(shot).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(shot, optimize=True)
        print(shot, shot.stat().st_size, "bytes")
