"""The statistics of a scored table (one row per image): :func:`analyse`, which needs no model.

* per group: images scored, mean quality (``quality_norm``: 0..1, 1 best) and
  the mean of each attribute score, each with a seeded percentile-bootstrap
  CI; the rank by mean quality;
* per pair of groups: the win rate, the mean difference with a bootstrap CI, a
  p-value (Wilcoxon signed-rank on the per-prompt differences when prompt ids
  are given, else Mann-Whitney U), Holm's correction over all pairs; a pair is
  *distinguishable* when its Holm-adjusted p-value is below ``alpha``;
* per group, the attribute that moves most against the reference group, in
  units of that attribute's standard deviation over all images;
* where the inputs carry a MOS: the groups ranked by mean MOS beside the
  model's ranking, and their Spearman and Kendall agreement.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from iqa.errors import UserError
from iqa.ranking.inputs import CATEGORY_COLUMNS
from iqa.ranking.results import Agreement, AttributeShift, Estimate, GroupRow, HumanRating, PairRow, RankingResults, UnreadableFile
from iqa.ranking.stats import bootstrap_means, finite, holm, keyed_rng, mann_whitney_p, percentile_ci, wilcoxon_p, win_rate

log = logging.getLogger(__name__)

__all__ = ["analyse"]


@dataclass
class _Group:
    """One group's readable rows, their values (quality, then each attribute) and bootstrap means of those."""

    rows: Any  # pandas.DataFrame
    values: np.ndarray  # [n, 1 + attributes]
    boot: np.ndarray | None  # [n_boot, 1 + attributes]; None for a single image
    n_bad: int

    @property
    def means(self) -> np.ndarray:
        return self.values.mean(axis=0)


def _read_groups(frame: Any, names: Sequence[str], ok: Any, attributes: Sequence[str], n_boot: int, seed: int, min_group: int,
                 notes: list[str], unreadable: dict[str, list[UnreadableFile]]) -> dict[str, _Group]:
    data: dict[str, _Group] = {}
    for name in names:
        rows = frame[frame["group"] == name]
        good = rows[ok[rows.index]]
        bad = rows[~ok[rows.index]]
        if len(bad):
            unreadable[name] = [UnreadableFile(str(p), str(e) or "no score") for p, e in zip(bad["path"], bad["error"])]
        if len(rows) == 0:
            raise UserError(f"group '{name}' is empty")
        if len(good) == 0:
            first = unreadable[name][0]
            raise UserError(f"group '{name}' has no readable image: {len(bad)} unreadable (e.g. {first.path}: {first.reason})")
        values = np.column_stack([good["quality_norm"].to_numpy(dtype=np.float64),
                                  *(good[a].to_numpy(dtype=np.float64) for a in attributes)])
        boot = bootstrap_means(values, n_boot, keyed_rng(seed, name)) if len(good) >= 2 else None
        data[name] = _Group(good, values, boot, len(bad))
        if len(good) < 2:
            notes.append(f"group '{name}' has {len(good)} readable image: no confidence interval")
        elif len(good) < int(min_group):
            notes.append(f"group '{name}' has only {len(good)} readable images (< {min_group}): its confidence intervals are rough")
        if len(bad):
            notes.append(f"group '{name}': {len(bad)} of {len(rows)} images unreadable and left out (listed in ranking.json)")
    return data


def _shift(means: np.ndarray, reference: np.ndarray, attributes: Sequence[str], spread: Mapping[str, float]) -> AttributeShift:
    shifts = {a: (means[j] - reference[j]) / spread[a] if spread[a] and math.isfinite(spread[a]) else math.nan
              for j, a in enumerate(attributes, start=1)}
    moved = {a: s for a, s in shifts.items() if math.isfinite(s)}
    main = max(moved, key=lambda a: abs(moved[a])) if moved else None
    return AttributeShift(main or "", finite(moved[main]) if main else None, {a: finite(s) for a, s in shifts.items()})


def _group_rows(order: Sequence[str], data: Mapping[str, _Group], reference: str, attributes: Sequence[str],
                spread: Mapping[str, float], level: float, quality_scale: Mapping[str, Any] | None, has_mos: bool) -> list[GroupRow]:
    low = high = None
    if quality_scale and quality_scale.get("range"):
        low, high = map(float, quality_scale["range"])
    higher_better = bool((quality_scale or {}).get("higher_is_better", True))

    def on_scale(u: float | None) -> float | None:
        if low is None or u is None:
            return None
        return (u if higher_better else 1.0 - u) * (high - low) + low

    rows = []
    for position, name in enumerate(order, start=1):
        d = data[name]
        m = d.means
        lo, hi = percentile_ci(d.boot, level) if d.boot is not None else (np.full(len(m), np.nan), np.full(len(m), np.nan))
        quality = Estimate(finite(m[0]), finite(lo[0]), finite(hi[0]))
        on_mos = None
        if low is not None:
            ends = sorted(v for v in (on_scale(quality.lo), on_scale(quality.hi)) if v is not None)
            on_mos = Estimate(on_scale(quality.mean), *((ends[0], ends[1]) if len(ends) == 2 else (None, None)))
        estimates = {a: Estimate(finite(m[j]), finite(lo[j]), finite(hi[j])) for j, a in enumerate(attributes, start=1)}
        shift = None
        if attributes and name != reference:
            shift = _shift(m, data[reference].means, attributes, spread)
        elif attributes:
            shift = AttributeShift("", None, {a: 0.0 for a in attributes})
        human = None
        if has_mos:
            mos = d.rows["mos"].to_numpy(dtype=np.float64)
            mos = mos[np.isfinite(mos)]
            human = HumanRating(finite(mos.mean()) if len(mos) else None)
        rows.append(GroupRow(position, name, int(len(d.rows)), int(d.n_bad), quality, on_mos, estimates, shift, human))
    return rows


def _pair(a: str, b: str, data: Mapping[str, _Group], has_prompt: bool, n_boot: int, seed: int, level: float,
          notes: list[str]) -> PairRow:
    qa, qb = data[a].values[:, 0], data[b].values[:, 0]
    shared: list[str] = []
    if has_prompt:
        pa = data[a].rows.assign(q=qa).dropna(subset=["prompt"]).groupby("prompt")["q"].mean()
        pb = data[b].rows.assign(q=qb).dropna(subset=["prompt"]).groupby("prompt")["q"].mean()
        shared = sorted(set(pa.index) & set(pb.index))
    if has_prompt and len(shared) >= 2:
        diffs = pa.loc[shared].to_numpy() - pb.loc[shared].to_numpy()
        lo, hi = percentile_ci(bootstrap_means(diffs, n_boot, keyed_rng(seed, a, b, "paired")), level)
        return PairRow(a, b, len(qa), len(qb), win_rate(qa, qb), "wilcoxon signed-rank (paired by prompt)", len(shared),
                       float(diffs.mean()), float(lo), float(hi), wilcoxon_p(diffs))
    if has_prompt:
        notes.append(f"{a} / {b} share {len(shared)} prompt(s): compared unpaired")
    ba, bb = data[a].boot, data[b].boot
    if ba is not None and bb is not None:
        lo, hi = percentile_ci(ba[:, 0] - bb[:, 0], level)
    else:
        lo = hi = math.nan
    return PairRow(a, b, len(qa), len(qb), win_rate(qa, qb), "mann-whitney U (unpaired)", 0, float(qa.mean() - qb.mean()),
                   finite(lo), finite(hi), mann_whitney_p(qa, qb))


def _pair_rows(order: Sequence[str], data: Mapping[str, _Group], has_prompt: bool, n_boot: int, seed: int, level: float,
               alpha: float, notes: list[str]) -> list[PairRow]:
    """Every pair, ``a`` ranked above ``b``, with Holm's correction over all of them."""
    pairs = [_pair(a, b, data, has_prompt, n_boot, seed, level, notes) for i, a in enumerate(order) for b in order[i + 1:]]
    adjusted = holm([p.p for p in pairs])
    return [replace(p, p=finite(p.p), p_holm=finite(p_holm), distinguishable=bool(math.isfinite(p_holm) and p_holm < alpha))
            for p, p_holm in zip(pairs, adjusted)]


def _agreement(groups: list[GroupRow], images: Any, mos_scale: Mapping[str, Any] | None,
               notes: list[str]) -> tuple[list[GroupRow], Agreement | None]:
    """The groups with their rank by MOS filled in, and the agreement of the two rankings (None for fewer than 2 groups with MOS)."""
    from iqa.metrics import krcc, srcc

    with_mos = [g for g in groups if g.human.mos is not None]
    direction = 1.0 if (mos_scale or {}).get("higher_is_better", True) else -1.0
    human = sorted(with_mos, key=lambda g: (-direction * g.human.mos, g.group))
    human_rank = {g.group: k for k, g in enumerate(human, start=1)}
    groups = [replace(g, human=replace(g.human, rank=human_rank.get(g.group))) for g in groups]
    if len(with_mos) < 2:
        return groups, None
    model_means = [g.quality.mean for g in with_mos]
    mos_means = [direction * g.human.mos for g in with_mos]
    images = images[np.isfinite(images["mos"].to_numpy(dtype=np.float64))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        agreement = Agreement(
            groups=len(with_mos), spearman=float(srcc(model_means, mos_means)), kendall=float(krcc(model_means, mos_means)),
            human_order=[g.group for g in human], model_order=[g.group for g in groups if g.human.mos is not None],
            image_srcc=float(srcc(images["quality_norm"], direction * images["mos"])) if len(images) > 2 else None,
            mos_higher_is_better=direction > 0, mos_scale=dict(mos_scale or {}),
        )
    if len(with_mos) < 4:
        notes.append(f"ranking agreement over only {len(with_mos)} groups: Spearman and Kendall take few values")
    return groups, agreement


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
    scored), and optionally ``prompt`` (pairing id), ``mos`` and the prompt's
    categories (``style``, ``class``: kept in the scores).
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
    unreadable: dict[str, list[UnreadableFile]] = {}
    data = _read_groups(frame, names, ok, attributes, n_boot, seed, min_group, notes, unreadable)
    order = sorted(names, key=lambda n: (-data[n].means[0], n))
    reference = reference if reference is not None else order[0]
    if reference not in data:
        raise UserError(f"reference group '{reference}' is not among the groups: {', '.join(names)}")
    all_good = frame[ok]
    spread = {a: float(all_good[a].std(ddof=1)) if len(all_good) > 1 else math.nan for a in attributes}
    groups = _group_rows(order, data, reference, attributes, spread, level, quality_scale, has_mos)
    pairs = _pair_rows(order, data, has_prompt, n_boot, seed, level, alpha, notes)
    agreement = None
    if has_mos:
        groups, agreement = _agreement(groups, all_good, mos_scale, notes)
    categories = [c for c in CATEGORY_COLUMNS if c in frame.columns and frame[c].notna().any()]
    columns = ["group", "path", *(["prompt"] if has_prompt else []), *categories, *(["mos"] if has_mos else []), "quality_norm",
               *attributes, "error"]
    out_scores = frame[[c for c in columns if c in frame.columns]].reset_index(drop=True)
    info = {"n_boot": int(n_boot), "seed": int(seed), "level": float(level), "alpha": float(alpha), "min_group": int(min_group),
            "reference": reference, "paired": bool(has_prompt), "quality": "quality_norm: 0..1, 1 best (unclipped)",
            "quality_scale": dict(quality_scale) if quality_scale else None, "ci": f"percentile bootstrap, {n_boot} resamples",
            **dict(settings or {})}
    for note in notes:
        log.warning(note)
    return RankingResults(groups=groups, pairs=pairs, attributes=list(attributes), scores=out_scores, agreement=agreement,
                          unreadable=unreadable, warnings=notes, settings=info)
