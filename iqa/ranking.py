"""Rank groups of images (image generators, cameras, codecs, ...) by predicted quality, with stated uncertainty.

    import iqa
    results = iqa.rank({"model_a": "gen_a/", "model_b": "gen_b/"}, ckpt="best.ckpt", cache="score-cache")
    results.to_frame()        # one row per group: n, mean quality and attributes with 95% CIs, rank
    results.pairs_frame()     # one row per pair: win rate, mean difference [CI], p-value, Holm, verdict
    results.write("report/")  # ranking.md / .csv / .json, pairs.csv, scores.csv, ranking.png

Inputs: one folder (or list of files) per group; a CSV with ``path``, ``group``
and optionally ``prompt`` (or ``pair``) and ``mos``; or a MOS dataset in its
official layout (``dataset="agiqa3k", root=...``) whose records carry a group
(the generator, from the file name) and a prompt id.

Scoring goes through :func:`iqa.inference.predict_items` (the batched
DataLoader path of ``iqa score``) in chunks; each chunk's scores are appended
to a per-checkpoint cache file and flushed to disk before the next chunk
starts, so an interrupted run loses nothing already scored, and a rerun or one
more group scores only the images not seen before (:class:`ScoreCache`).

Statistics (:func:`analyse`, which needs no model and is what the tests check):

* per group: images scored, mean quality (``quality_norm``: 0..1, 1 best) and
  the mean of each attribute score, each with a seeded percentile-bootstrap
  CI (:func:`bootstrap_means`); the rank by mean quality;
* per pair of groups: the win rate P(a random image of A scores above one of
  B), ties counting one half; the mean difference with a bootstrap CI; a
  p-value: Wilcoxon signed-rank on the per-prompt differences when prompt ids
  are given (paired, on the prompts both groups share), else Mann-Whitney U
  (whose statistic is the win rate); Holm's correction over all pairs; a pair
  is *distinguishable* when its Holm-adjusted p-value is below ``alpha``;
* per group, the attribute that moves most against the reference group (the
  top-ranked one unless named), in units of that attribute's standard
  deviation over all images: what drives the difference;
* where the inputs carry a MOS: the groups ranked by mean MOS beside the
  model's ranking, and their Spearman and Kendall agreement.

Nothing here needs Hydra or Lightning; :mod:`iqa.ranking_reports` writes the
files and :mod:`iqa.cli.rank` is the ``iqa rank`` command around both.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import warnings
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from iqa.errors import UserError

log = logging.getLogger(__name__)

__all__ = [
    "RankingResults", "ScoreCache", "analyse", "bootstrap_means", "collect_inputs", "holm", "percentile_ci", "rank",
    "score_paths", "win_rate",
]

#: Column names a CSV may use for the prompt / pairing id.
PROMPT_COLUMNS = ("prompt", "pair")


# -- statistics --------------------------------------------------------------------------------


def _rng(seed: int, *names: str) -> np.random.Generator:
    """A generator keyed by the seed and names: one group's CI does not change when another group is added."""
    return np.random.default_rng([int(seed), *(zlib.crc32(str(n).encode()) for n in names)])


def bootstrap_means(values: np.ndarray, n_boot: int, rng: np.random.Generator, max_elements: int = 20_000_000) -> np.ndarray:
    """Means of ``n_boot`` resamples (with replacement) of the rows of ``values``: ``[n]`` -> ``[n_boot]``, ``[n, k]`` -> ``[n_boot, k]``.

    Every column is resampled with the same row indices (so the attribute CIs of
    one group come from the same resamples as its quality CI). Vectorised, in
    blocks of at most ``max_elements`` drawn indices: each resample's draw counts
    per row, times the values (one matrix product), so 100k images cost memory in
    the hundreds of MB at most and seconds, not minutes.
    """
    x = np.asarray(values, dtype=np.float64)
    flat = x.ndim == 1
    if flat:
        x = x[:, None]
    n, k = x.shape
    if n == 0:
        raise ValueError("bootstrap of an empty sample")
    out = np.empty((int(n_boot), k), dtype=np.float64)
    block = max(1, int(max_elements) // n)
    for start in range(0, int(n_boot), block):
        stop = min(int(n_boot), start + block)
        index = rng.integers(0, n, size=(stop - start, n))
        # How often each row was drawn in each resample, then one matrix product for every column at once.
        offsets = (np.arange(stop - start) * n)[:, None]
        counts = np.bincount((index + offsets).ravel(), minlength=(stop - start) * n).reshape(stop - start, n)
        out[start:stop] = counts @ x / n
    return out[:, 0] if flat else out


def percentile_ci(boot: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of bootstrap replicates (along the first axis)."""
    tail = (1.0 - float(level)) / 2.0
    low, high = np.quantile(np.asarray(boot, dtype=np.float64), [tail, 1.0 - tail], axis=0)
    return low, high


def win_rate(a: Sequence[float], b: Sequence[float]) -> float:
    """P(X > Y) + 0.5 P(X = Y) for X drawn from ``a`` and Y from ``b`` (every pair counted once), in O(n log n).

    This is the Mann-Whitney U statistic of ``a`` divided by ``len(a) * len(b)``.
    """
    from scipy.stats import rankdata

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if not len(a) or not len(b):
        return float("nan")
    ranks = rankdata(np.concatenate([a, b]))  # ties get the average rank: each tied pair counts 1/2
    u = ranks[: len(a)].sum() - len(a) * (len(a) + 1) / 2.0
    return float(u / (len(a) * len(b)))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = len(valid)
    if not m:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out


# -- the score cache ---------------------------------------------------------------------------


def file_key(path: str) -> str | None:
    """``absolute path|size|mtime_ns``, or None for a file that cannot be stat'ed (not cached)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}"


def model_identity(ckpt: str | os.PathLike, model: Any) -> str:
    """What a cached score depends on besides the image: the checkpoint's bytes and the view it is scored at."""
    digest = hashlib.sha256()
    with open(ckpt, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    view = model.view
    digest.update(json.dumps([view.image_size, view.policy, view.crop_size, view.max_side, list(model.attributes)]).encode())
    if not view.upscale:  # scores small images at another size; views that enlarge keep their earlier keys
        digest.update(b"no-upscale")
    return digest.hexdigest()[:20]


class ScoreCache:
    """Scores of one model (one :func:`model_identity`) per image file, in an append-only JSON-lines file.

    ``<dir>/<identity>.jsonl``; a line is ``{"k": file key, "q": quality_norm,
    "a": [attributes], "e": error}``. :meth:`add` appends a chunk, flushes and
    fsyncs it before returning, so a crash loses at most the chunk in flight;
    a torn last line (killed mid-write) is ignored when reading and fenced off
    by a newline before the next append. Keys carry the file's size and
    modification time, so an edited image is scored again.
    """

    def __init__(self, directory: str | os.PathLike, identity: str) -> None:
        self.path = Path(directory) / f"{identity}.jsonl"
        self.entries: dict[str, tuple[float, list[float], str]] = {}
        self.torn = 0
        if self.path.is_file():
            with open(self.path, encoding="utf-8") as handle:
                for line in handle:
                    try:
                        item = json.loads(line)
                        self.entries[item["k"]] = (float(item["q"]) if item["q"] is not None else math.nan,
                                                   [math.nan if v is None else float(v) for v in item["a"]], str(item.get("e", "")))
                    except (ValueError, KeyError, TypeError):
                        self.torn += 1

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: str | None) -> tuple[float, list[float], str] | None:
        return self.entries.get(key) if key else None

    def add(self, rows: Sequence[tuple[str, float, Sequence[float], str]]) -> None:
        """Append ``(key, quality_norm, attributes, error)`` rows durably."""
        if not rows:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for key, quality, attrs, error in rows:
            clean = [None if not math.isfinite(v) else float(v) for v in attrs]
            lines.append(json.dumps({"k": key, "q": None if not math.isfinite(quality) else float(quality), "a": clean, "e": error}))
            self.entries[key] = (float(quality), [float(v) for v in attrs], error)
        with open(self.path, "a+b") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell():
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # a torn line from an interrupted run: fence it off
                    handle.write(b"\n")
            handle.write(("\n".join(lines) + "\n").encode())
            handle.flush()
            os.fsync(handle.fileno())


# -- inputs ------------------------------------------------------------------------------------


@dataclass
class Inputs:
    """The images to rank: one row per (group, image), plus the MOS scale where the inputs carry a MOS."""

    rows: list[dict[str, Any]]
    groups: list[str]
    mos_scale: dict[str, Any] | None = None
    source: str = ""


def _group_name(folder: Path, taken: set[str]) -> str:
    name = folder.name or str(folder)
    if name in taken:
        name = f"{folder.parent.name}/{name}"
    return name


def _from_groups(groups: Any) -> Inputs:
    from iqa.inference import expand_paths

    if isinstance(groups, (str, os.PathLike)):
        groups = [groups]
    if isinstance(groups, Mapping):
        items = [(str(name), value) for name, value in groups.items()]
    else:
        items, taken = [], set()
        for value in groups:
            name = _group_name(Path(os.path.expanduser(str(value))).resolve(), taken)
            taken.add(name)
            items.append((name, value))
    rows: list[dict[str, Any]] = []
    names = []
    for name, value in items:
        values = [value] if isinstance(value, (str, os.PathLike)) else list(value)
        missing = [str(v) for v in values if not Path(os.path.expanduser(str(v))).exists()]
        if missing:
            raise UserError(f"group '{name}': not found: {', '.join(missing)}")
        paths = expand_paths(values)
        if not paths:
            raise UserError(f"group '{name}' is empty: no files in {', '.join(map(str, values))}")
        names.append(name)
        rows += [{"group": name, "path": p} for p in paths]
    return Inputs(rows, names, source="folders")


def _from_csv(path: str | os.PathLike) -> Inputs:
    path = Path(os.path.expanduser(str(path)))
    if not path.is_file():
        raise UserError(f"CSV not found: {path}")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or []]
        reader.fieldnames = columns
        absent = [c for c in ("path", "group") if c not in columns]
        if absent:
            raise UserError(f"{path}: missing column(s) {', '.join(absent)}; need path and group (optional prompt or pair, mos); "
                            f"columns are: {', '.join(columns) or 'none'}")
        prompt_column = next((c for c in PROMPT_COLUMNS if c in columns), None)
        rows, names = [], []
        for line, row in enumerate(reader, start=2):
            relative, group = (row.get("path") or "").strip(), (row.get("group") or "").strip()
            if not relative and not group:
                continue
            if not relative or not group:
                raise UserError(f"{path}:{line}: empty {'path' if not relative else 'group'}")
            item: dict[str, Any] = {"group": group, "path": relative if os.path.isabs(relative) else str(path.parent / relative)}
            if prompt_column and (row.get(prompt_column) or "").strip():
                item["prompt"] = row[prompt_column].strip()
            if "mos" in columns and (row.get("mos") or "").strip():
                try:
                    item["mos"] = float(row["mos"])
                except ValueError:
                    raise UserError(f"{path}:{line}: mos is not a number: {row['mos']!r}") from None
            rows.append(item)
            if group not in names:
                names.append(group)
    if not rows:
        raise UserError(f"{path}: no rows")
    scale = {"range": None, "higher_is_better": True, "dataset": str(path)} if any("mos" in r for r in rows) else None
    return Inputs(rows, names, mos_scale=scale, source=str(path))


def _from_dataset(name: str, root: Any, split: str | None, options: Mapping[str, Any]) -> Inputs:
    from iqa.data.catalog import list_datasets, open_dataset

    records = open_dataset(name, root, split=split, **dict(options))
    declared = list_datasets().get(name, {})
    rows, names = [], []
    for record in records:
        group = record.meta.get("group")
        if group is None:
            raise UserError(f"dataset '{name}' gives its images no group (generator); rank folders or a CSV with a group column")
        item = {"group": str(group), "path": record.path, "mos": float(record.mos)}
        if record.meta.get("prompt") is not None:
            item["prompt"] = str(record.meta["prompt"])
        rows.append(item)
        if str(group) not in names:
            names.append(str(group))
    mos_range = declared.get("mos_range") or options.get("mos_range")
    higher = declared.get("higher_is_better")
    scale = {"range": list(mos_range) if mos_range else None, "higher_is_better": True if higher is None else bool(higher), "dataset": name}
    return Inputs(rows, names, mos_scale=scale, source=f"dataset {name} ({split or 'all'})")


def collect_inputs(groups: Any = None, *, csv: Any = None, dataset: str | None = None, root: Any = None, split: str | None = None,
                   dataset_options: Mapping[str, Any] | None = None) -> Inputs:
    """The (group, image) rows from exactly one kind of input; see :func:`rank`."""
    given = [groups is not None and groups != [], csv is not None, dataset is not None]
    if sum(given) != 1:
        raise UserError("give exactly one input: folders (one per group), a CSV (path, group[, prompt][, mos]) or a dataset")
    if csv is not None:
        inputs = _from_csv(csv)
    elif dataset is not None:
        inputs = _from_dataset(dataset, root, split, dataset_options or {})
    else:
        inputs = _from_groups(groups)
    if len(inputs.groups) < 2:
        raise UserError(f"ranking needs at least 2 groups; got {len(inputs.groups)} ({', '.join(inputs.groups)})")
    return inputs


# -- scoring -----------------------------------------------------------------------------------


def score_paths(
    model: Any, paths: Sequence[str], *, cache: ScoreCache | None = None, batch_size: int = 32, num_workers: int = 0,
    device: Any = None, chunk_size: int = 2048, progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, list[str], dict[str, int]]:
    """``(quality_norm [N], attributes [N, A], errors [N], counts)`` for ``paths`` through the batched path, cached.

    Images already in ``cache`` are not scored again; the others are scored in
    chunks of ``chunk_size``, each appended to the cache before the next.
    """
    from iqa.inference import predict_items

    n_attr = len(model.attributes)
    quality = np.full(len(paths), np.nan)
    attributes = np.full((len(paths), n_attr), np.nan)
    errors = [""] * len(paths)
    keys = [file_key(p) for p in paths]
    todo = []
    for i, key in enumerate(keys):
        hit = cache.get(key) if cache is not None else None
        if hit is not None and len(hit[1]) == n_attr:
            quality[i], attributes[i], errors[i] = hit[0], hit[1], hit[2]
        elif key is None:
            errors[i] = "not found"
        else:
            todo.append(i)
    dev = device if device is not None else model.device
    size = max(1, int(chunk_size))
    chunks = (len(todo) + size - 1) // size
    for number, start in enumerate(range(0, len(todo), size), start=1):
        chunk = todo[start : start + size]
        label = (f"scoring {len(todo)} new images" + (f", chunk {number}/{chunks}" if chunks > 1 else "")) if progress else None
        q, a, errs = predict_items(model.net, [paths[i] for i in chunk], model.view, batch_size=batch_size, num_workers=num_workers,
                                   device=dev, progress=label)
        rows = []
        for j, i in enumerate(chunk):
            quality[i], attributes[i], errors[i] = q[j], a[j], errs.get(j, "")
            rows.append((keys[i], float(q[j]), a[j].tolist(), errs.get(j, "")))
        if cache is not None:
            cache.add(rows)
    counts = {"images": len(paths), "scored": len(todo), "cached": len(paths) - len(todo) - sum(1 for k in keys if k is None)}
    return quality, attributes, errors, counts


# -- results -----------------------------------------------------------------------------------


@dataclass
class RankingResults:
    """What :func:`analyse` found. ``groups``: one dict per group in rank order; ``pairs``: one per pair of groups."""

    groups: list[dict[str, Any]]
    pairs: list[dict[str, Any]]
    attributes: list[str]
    scores: Any  # pandas.DataFrame: one row per (group, image)
    agreement: dict[str, Any] | None = None
    unreadable: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def order(self) -> list[str]:
        """Group names, best first."""
        return [g["group"] for g in self.groups]

    def group(self, name: str) -> dict[str, Any]:
        for g in self.groups:
            if g["group"] == name:
                return g
        raise UserError(f"no group '{name}'; groups: {', '.join(self.order)}")

    def pair(self, a: str, b: str) -> dict[str, Any]:
        for p in self.pairs:
            if (p["a"], p["b"]) == (a, b):
                return p
            if (p["b"], p["a"]) == (a, b):
                flipped = dict(p, a=a, b=b, win_rate=1.0 - p["win_rate"], diff=-p["diff"], diff_lo=-p["diff_hi"], diff_hi=-p["diff_lo"])
                return flipped
        raise UserError(f"no pair {a} / {b}")

    def to_frame(self):
        """One row per group, best first: rank, n, unreadable, quality and attribute means with CI bounds, main attribute (+ MOS)."""
        import pandas as pd

        return pd.DataFrame(self.groups)

    def pairs_frame(self):
        """One row per pair (``a`` ranked above ``b``): win rate, difference [CI], test, p, Holm p, distinguishable."""
        import pandas as pd

        return pd.DataFrame(self.pairs)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: what ``ranking.json`` holds (without the per-image scores)."""
        return {"settings": self.settings, "attributes": self.attributes, "groups": self.groups, "pairs": self.pairs,
                "agreement": self.agreement, "unreadable": self.unreadable, "warnings": self.warnings}

    def to_markdown(self) -> str:
        from iqa.ranking_reports import markdown

        return markdown(self)

    def write(self, out_dir: str | os.PathLike) -> dict[str, Any]:
        """Write ranking.md / .csv / .json, pairs.csv, scores.csv and ranking.png into ``out_dir`` (see :mod:`iqa.ranking_reports`)."""
        from iqa.ranking_reports import write_reports

        return write_reports(self, out_dir)


def _finite(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _mann_whitney_p(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import mannwhitneyu

    if len(a) < 1 or len(b) < 1 or (np.ptp(np.concatenate([a, b])) == 0):
        return 1.0 if len(a) and len(b) else float("nan")
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def _wilcoxon_p(d: np.ndarray) -> float:
    from scipy.stats import wilcoxon

    if len(d) == 0:
        return float("nan")
    if not np.any(d != 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(wilcoxon(d).pvalue)


def analyse(
    scores: Any,
    *,
    attributes: Sequence[str] = (),
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    alpha: float = 0.05,
    min_group: int = 10,
    reference: str | None = None,
    quality_scale: Mapping[str, Any] | None = None,
    mos_scale: Mapping[str, Any] | None = None,
    group_order: Sequence[str] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> RankingResults:
    """The statistics of a scored table (one row per image): see the module docstring.

    ``scores``: a DataFrame with ``group``, ``path``, ``quality_norm`` (0..1,
    1 best), one column per name in ``attributes``, ``error`` (empty when
    scored), and optionally ``prompt`` (pairing id) and ``mos``.
    ``quality_scale``: ``{"range": [low, high], "higher_is_better": bool}`` of
    the checkpoint, to report the means on its MOS scale too. ``mos_scale``: the
    direction of the ``mos`` column. ``reference``: the group the attribute
    shifts are measured against (default: the top-ranked group).
    """
    frame = scores.reset_index(drop=True)
    if "error" not in frame:
        frame["error"] = ""
    frame["error"] = frame["error"].fillna("").astype(str)
    attributes = [a for a in attributes if a in frame.columns]
    names = list(group_order) if group_order is not None else list(dict.fromkeys(frame["group"]))
    ok = (frame["error"] == "") & np.isfinite(frame["quality_norm"].to_numpy(dtype=np.float64))
    has_prompt = "prompt" in frame.columns and frame["prompt"].notna().any()
    has_mos = "mos" in frame.columns and frame["mos"].notna().any()
    notes: list[str] = []
    unreadable: dict[str, list[dict[str, str]]] = {}
    data: dict[str, dict[str, Any]] = {}
    for name in names:
        rows = frame[frame["group"] == name]
        good = rows[ok[rows.index]]
        bad = rows[~ok[rows.index]]
        if len(bad):
            unreadable[name] = [{"path": str(p), "reason": str(e) or "no score"} for p, e in zip(bad["path"], bad["error"])]
        if len(rows) == 0:
            raise UserError(f"group '{name}' is empty")
        if len(good) == 0:
            first = unreadable[name][0]
            raise UserError(f"group '{name}' has no readable image: {len(bad)} unreadable (e.g. {first['path']}: {first['reason']})")
        values = np.column_stack([good["quality_norm"].to_numpy(dtype=np.float64),
                                  *(good[a].to_numpy(dtype=np.float64) for a in attributes)])
        boot = bootstrap_means(values, n_boot, _rng(seed, name)) if len(good) >= 2 else None
        data[name] = {"rows": good, "values": values, "boot": boot, "n_bad": len(bad)}
        if len(good) < 2:
            notes.append(f"group '{name}' has {len(good)} readable image: no confidence interval")
        elif len(good) < int(min_group):
            notes.append(f"group '{name}' has only {len(good)} readable images (< {min_group}): its confidence intervals are rough")
        if len(bad):
            notes.append(f"group '{name}': {len(bad)} of {len(rows)} images unreadable and left out (listed in ranking.json)")
    means = {n: data[n]["values"].mean(axis=0) for n in names}
    order = sorted(names, key=lambda n: (-means[n][0], n))
    reference = reference if reference is not None else order[0]
    if reference not in data:
        raise UserError(f"reference group '{reference}' is not among the groups: {', '.join(names)}")
    all_good = frame[ok]
    spread = {a: float(all_good[a].std(ddof=1)) if len(all_good) > 1 else math.nan for a in attributes}
    low = high = None
    if quality_scale and quality_scale.get("range"):
        low, high = map(float, quality_scale["range"])
    higher_better = bool((quality_scale or {}).get("higher_is_better", True))

    def on_scale(u: float) -> float | None:
        if low is None or u is None:
            return None
        return (u if higher_better else 1.0 - u) * (high - low) + low

    groups = []
    for position, name in enumerate(order, start=1):
        d = data[name]
        m = means[name]
        lo, hi = percentile_ci(d["boot"], level) if d["boot"] is not None else (np.full(len(m), np.nan), np.full(len(m), np.nan))
        row: dict[str, Any] = {"rank": position, "group": name, "n": int(len(d["rows"])), "unreadable": int(d["n_bad"]),
                               "quality": _finite(m[0]), "quality_lo": _finite(lo[0]), "quality_hi": _finite(hi[0])}
        if low is not None:
            ends = sorted(v for v in (on_scale(row["quality_lo"]), on_scale(row["quality_hi"])) if v is not None)
            row["quality_mos"] = on_scale(row["quality"])
            row["quality_mos_lo"], row["quality_mos_hi"] = (ends[0], ends[1]) if len(ends) == 2 else (None, None)
        for j, a in enumerate(attributes, start=1):
            row[a], row[f"{a}_lo"], row[f"{a}_hi"] = _finite(m[j]), _finite(lo[j]), _finite(hi[j])
        if attributes and name != reference:
            shifts = {a: (m[j] - means[reference][j]) / spread[a] if spread[a] and math.isfinite(spread[a]) else math.nan
                      for j, a in enumerate(attributes, start=1)}
            finite = {a: s for a, s in shifts.items() if math.isfinite(s)}
            main = max(finite, key=lambda a: abs(finite[a])) if finite else None
            row["main_attribute"] = main or ""
            row["main_attribute_shift"] = _finite(finite[main]) if main else None
            row["attribute_shifts"] = {a: _finite(s) for a, s in shifts.items()}
        elif attributes:
            row["main_attribute"], row["main_attribute_shift"] = "", None
            row["attribute_shifts"] = {a: 0.0 for a in attributes}
        if has_mos:
            mos = d["rows"]["mos"].to_numpy(dtype=np.float64)
            mos = mos[np.isfinite(mos)]
            row["mos"] = _finite(mos.mean()) if len(mos) else None
        groups.append(row)

    # Pairs, a ranked above b.
    pairs = []
    for i, a in enumerate(order):
        for b in order[i + 1 :]:
            qa, qb = data[a]["values"][:, 0], data[b]["values"][:, 0]
            pair: dict[str, Any] = {"a": a, "b": b, "n_a": len(qa), "n_b": len(qb), "win_rate": win_rate(qa, qb)}
            shared: list[str] = []
            if has_prompt:
                pa = data[a]["rows"].assign(q=qa).dropna(subset=["prompt"]).groupby("prompt")["q"].mean()
                pb = data[b]["rows"].assign(q=qb).dropna(subset=["prompt"]).groupby("prompt")["q"].mean()
                shared = sorted(set(pa.index) & set(pb.index))
            if has_prompt and len(shared) >= 2:
                diffs = pa.loc[shared].to_numpy() - pb.loc[shared].to_numpy()
                boot = bootstrap_means(diffs, n_boot, _rng(seed, a, b, "paired"))
                lo, hi = percentile_ci(boot, level)
                pair.update(test="wilcoxon signed-rank (paired by prompt)", n_shared=len(shared), diff=float(diffs.mean()),
                            diff_lo=float(lo), diff_hi=float(hi), p=_wilcoxon_p(diffs))
            else:
                if has_prompt:
                    notes.append(f"{a} / {b} share {len(shared)} prompt(s): compared unpaired")
                ba, bb = data[a]["boot"], data[b]["boot"]
                if ba is not None and bb is not None:
                    lo, hi = percentile_ci(ba[:, 0] - bb[:, 0], level)
                else:
                    lo = hi = math.nan
                pair.update(test="mann-whitney U (unpaired)", n_shared=0, diff=float(qa.mean() - qb.mean()),
                            diff_lo=_finite(lo), diff_hi=_finite(hi), p=_mann_whitney_p(qa, qb))
            pairs.append(pair)
    adjusted = holm([p["p"] for p in pairs])
    for pair, p_holm in zip(pairs, adjusted):
        pair["p"] = _finite(pair["p"])
        pair["p_holm"] = _finite(p_holm)
        pair["distinguishable"] = bool(math.isfinite(p_holm) and p_holm < alpha)

    agreement = None
    if has_mos:
        from iqa.metrics import krcc, srcc

        with_mos = [g for g in groups if g.get("mos") is not None]
        direction = 1.0 if (mos_scale or {}).get("higher_is_better", True) else -1.0
        human = sorted(with_mos, key=lambda g: (-direction * g["mos"], g["group"]))
        human_rank = {g["group"]: k for k, g in enumerate(human, start=1)}
        for g in groups:
            g["mos_rank"] = human_rank.get(g["group"])
        if len(with_mos) >= 2:
            model_means = [g["quality"] for g in with_mos]
            mos_means = [direction * g["mos"] for g in with_mos]
            images = all_good[np.isfinite(all_good["mos"].to_numpy(dtype=np.float64))]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                agreement = {
                    "groups": len(with_mos),
                    "spearman": float(srcc(model_means, mos_means)), "kendall": float(krcc(model_means, mos_means)),
                    "human_order": [g["group"] for g in human], "model_order": [g["group"] for g in groups if g.get("mos") is not None],
                    "image_srcc": float(srcc(images["quality_norm"], direction * images["mos"])) if len(images) > 2 else None,
                    "mos_higher_is_better": direction > 0, "mos_scale": dict(mos_scale or {}),
                }
            if len(with_mos) < 4:
                notes.append(f"ranking agreement over only {len(with_mos)} groups: Spearman and Kendall take few values")
    columns = ["group", "path", *(["prompt"] if has_prompt else []), *(["mos"] if has_mos else []), "quality_norm", *attributes, "error"]
    out_scores = frame[[c for c in columns if c in frame.columns]].reset_index(drop=True)
    info = {"n_boot": int(n_boot), "seed": int(seed), "level": float(level), "alpha": float(alpha), "min_group": int(min_group),
            "reference": reference, "paired": bool(has_prompt), "quality": "quality_norm: 0..1, 1 best (unclipped)",
            "quality_scale": dict(quality_scale) if quality_scale else None, "ci": f"percentile bootstrap, {n_boot} resamples",
            **dict(settings or {})}
    for note in notes:
        log.warning(note)
    return RankingResults(groups=groups, pairs=pairs, attributes=list(attributes), scores=out_scores, agreement=agreement,
                          unreadable=unreadable, warnings=notes, settings=info)


# -- the one call ------------------------------------------------------------------------------


def rank(
    groups: Any = None,
    *,
    ckpt: str | os.PathLike,
    csv: str | os.PathLike | None = None,
    dataset: str | None = None,
    root: str | os.PathLike | None = None,
    split: str | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    cache: str | os.PathLike | None = None,
    batch_size: int = 32,
    num_workers: int = 0,
    device: str | None = None,
    chunk_size: int = 2048,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    alpha: float = 0.05,
    min_group: int = 10,
    reference: str | None = None,
    image_size: int | None = None,
    progress: bool = False,
) -> RankingResults:
    """Score the groups' images with ``ckpt`` and rank the groups; returns :class:`RankingResults`.

    Exactly one input: ``groups`` (a mapping ``{name: folder, file or list}``,
    or a list of folders named after themselves), ``csv`` (columns ``path``,
    ``group``, optional ``prompt`` or ``pair`` and ``mos``; relative paths are
    relative to the CSV) or ``dataset`` (a ``data`` choice whose records carry a
    group, e.g. ``agiqa3k``, with ``root``/``split``/``dataset_options``).
    ``cache``: a folder for the per-image score cache (None: no cache).
    """
    import pandas as pd

    from iqa.inference import load

    inputs = collect_inputs(groups, csv=csv, dataset=dataset, root=root, split=split, dataset_options=dataset_options)
    model = load(ckpt, image_size=image_size, device=device)
    if not model.quality_trained:
        raise UserError(f"{ckpt} has no trained quality head (a pretraining checkpoint): rank with a fine-tuned checkpoint")
    identity = model_identity(ckpt, model)
    store = ScoreCache(cache, identity) if cache is not None else None
    unique = list(dict.fromkeys(r["path"] for r in inputs.rows))
    quality, attrs, errors, counts = score_paths(model, unique, cache=store, batch_size=batch_size, num_workers=num_workers,
                                                 device=device, chunk_size=chunk_size, progress=progress)
    where = {p: i for i, p in enumerate(unique)}
    frame = pd.DataFrame(inputs.rows)
    index = frame["path"].map(where).to_numpy()
    frame["quality_norm"] = quality[index]
    names = list(model.scored_attributes)
    for j, name in enumerate(model.attributes):
        if name in names:
            frame[name] = attrs[index, j]
    frame["error"] = [errors[i] for i in index]
    settings = {"checkpoint": str(ckpt), "model_identity": identity, "trained_on": model.meta.data,
                "view": {"policy": model.view.policy, "image_size": model.view.image_size, "crop_size": model.view.crop_size,
                         "upscale": model.view.upscale}, "inputs": inputs.source,
                "cache": str(store.path) if store else None, "images": counts["images"], "newly_scored": counts["scored"],
                "from_cache": counts["cached"], "attributes_trained": model.attributes_trained}
    results = analyse(frame, attributes=names, n_boot=n_boot, seed=seed, level=level, alpha=alpha, min_group=min_group,
                      reference=reference, quality_scale=model.quality_scale, mos_scale=inputs.mos_scale, group_order=inputs.groups,
                      settings=settings)
    if not model.attributes_trained:
        results.warnings.append(f"{ckpt} starts from init={model.meta.init}: its attribute heads never saw an attribute label, "
                                f"so the attribute columns and the attribute panel are left out")
    return results
