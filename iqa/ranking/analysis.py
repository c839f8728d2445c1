"""The statistics of a scored table (one row per image): :func:`analyse`, which needs no model.

**The unit of analysis.** Images of one prompt (or one photo, one scene) are
not independent: they share content. Every statistic is therefore computed on
*units*: the prompts when the table has prompt ids, the values of
``cluster_by`` when asked, else the images themselves. A group's images of one
unit are averaged first, so each unit weighs the same; every interval
resamples units, never images within a unit.

* per group: images and units, mean quality (``quality_norm``: 0..1, 1 best)
  and the mean of each attribute score, each with a seeded bootstrap CI; the
  rank by mean quality, with a CI from the same resamples; the **tier**;
* per pair of groups: the mean difference and the win rate, each with a CI,
  and a p-value. Groups that share at least two units are compared *paired*
  on those units (Wilcoxon signed-rank on the per-unit differences; the win
  rate is the share of shared units on which ``a`` scores higher); the others
  unpaired, on their unit means (Mann-Whitney U; the win rate is P(a unit of
  ``a`` scores above one of ``b``)). Holm's correction over the pairs tested;
  a pair is *distinguishable* when its Holm-adjusted p-value is below ``alpha``;
* tiers: walking down the order, a group joins the current tier while it is
  not distinguishable from the tier's top group;
* a Bradley-Terry rating on the Elo scale from the per-unit head-to-heads,
  with a CI that resamples units, when groups share units;
* per group, each attribute's shift against the reference group, in SDs of
  that attribute over all images, with a CI; the attribute that moves most;
* breakdowns: per value of a category column (style, class, challenge), each
  group's mean quality [CI] and rank;
* where the inputs carry a MOS: the groups ranked by mean MOS beside the
  model's ranking, Spearman and Kendall agreement with bootstrap CIs.

**Intervals.** Percentile bootstrap over units, read at the *expanded* level
of :func:`~iqa.ranking.stats.expanded_level` so that a mean of few units gets
an interval as wide as Student's t. When units recur across groups (prompts
rendered by every generator), one resample of units serves every group, so
differences and ranks are paired as the design is.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

from iqa.errors import UserError
from iqa.ranking.inputs import CATEGORY_COLUMNS
from iqa.ranking.results import (
    Agreement,
    AttributeShift,
    BreakdownRow,
    Estimate,
    GroupRow,
    HumanRating,
    PairRow,
    RankingResults,
    UnreadableFile,
)
from iqa.ranking.stats import (
    bootstrap_cell_means,
    bootstrap_means,
    bootstrap_win_rates,
    bradley_terry,
    delong_win_rate_ci,
    elo_scale,
    expanded_level,
    finite,
    holm,
    keyed_rng,
    mann_whitney_p,
    percentile_ci,
    prompt_wins,
    rank_intervals,
    tiers_from,
    unit_means,
    wilcoxon_p,
    win_rate,
)

log = logging.getLogger(__name__)

__all__ = ["FILENAME_UNIT", "analyse"]

#: ``cluster_by`` value that makes each file name (without folder and extension) a unit: the same photo processed by every group.
FILENAME_UNIT = "filename"
#: Above this many cells (units x groups x statistics), groups are resampled one by one rather than jointly.
JOINT_CELLS = 30_000_000
#: Unpaired win-rate CIs are bootstrapped up to this many unit pairs, beyond that DeLong's normal interval.
WIN_BOOTSTRAP_PAIRS = 250_000
#: Bradley-Terry is fitted for at most this many groups (and units x groups^2 cells).
BT_MAX_GROUPS = 100
BT_CELLS = 20_000_000
#: A breakdown column with more values than this is left out (with a note).
MAX_BREAKDOWN_VALUES = 50
#: Notes about single pairs stop after this many; a count follows.
MAX_PAIR_NOTES = 10


@dataclass
class _Group:
    """One group's readable rows and its units: sorted unit ids, per-unit means (quality, attributes[, mos]) and image counts."""

    name: str
    rows: Any  # pandas.DataFrame
    n_bad: int
    ids: np.ndarray  # [C] sorted unit ids
    values: np.ndarray  # [C, k] unit means
    sizes: np.ndarray  # [C] images per unit

    @property
    def units(self) -> int:
        return len(self.ids)

    @property
    def means(self) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a column with no value (MOS missing) stays NaN
            return np.nanmean(self.values, axis=0)


def _units(frame: Any, cluster_by: str | None) -> tuple[str, Any]:
    """The unit name and one id per row: the prompt, the ``cluster_by`` column (or the file name), else the row itself."""
    own = "image:" + frame.index.astype(str)
    if cluster_by:
        if cluster_by == FILENAME_UNIT and FILENAME_UNIT not in frame.columns:
            return FILENAME_UNIT, frame["path"].map(lambda p: PurePath(str(p)).stem)
        if cluster_by not in frame.columns:
            extra = [c for c in frame.columns if c not in ("group", "path", "error", "quality_norm")]
            raise UserError(f"cluster_by '{cluster_by}' is not a column of the scores; columns: {', '.join(extra) or 'none'}, "
                            f"or '{FILENAME_UNIT}' (the file name without folder and extension)")
        column = cluster_by
    elif "prompt" in frame.columns and frame["prompt"].notna().any():
        column = "prompt"
    else:
        return "image", own
    ids = frame[column].astype(object).where(frame[column].notna())
    text = ids.map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip() == "" else str(v))
    return column, text.where(text.notna(), own)


def _read_groups(frame: Any, names: Sequence[str], ok: Any, columns: Sequence[str], min_group: int, unit: str,
                 notes: list[str], unreadable: dict[str, list[UnreadableFile]]) -> dict[str, _Group]:
    data: dict[str, _Group] = {}
    where = frame.groupby("group", sort=False).indices
    for name in names:
        rows = frame.iloc[where.get(name, [])]
        good = rows[ok[rows.index]]
        bad = rows[~ok[rows.index]]
        if len(bad):
            unreadable[name] = [UnreadableFile(str(p), str(e) or "no score") for p, e in zip(bad["path"], bad["error"])]
        if len(rows) == 0:
            raise UserError(f"group '{name}' is empty")
        if len(good) == 0:
            first = unreadable[name][0]
            raise UserError(f"group '{name}' has no readable image: {len(bad)} unreadable (e.g. {first.path}: {first.reason})")
        values = np.column_stack([good[c].to_numpy(dtype=np.float64) for c in columns])
        ids, means, sizes = unit_means(values, good["_unit"].to_numpy())
        data[name] = _Group(name, good, len(bad), ids, means, sizes)
        what = "readable image" if unit == "image" else unit
        if len(ids) < 2:
            notes.append(f"group '{name}' has {len(ids)} {what}: no confidence interval")
        elif len(ids) < int(min_group):
            notes.append(f"group '{name}' has only {len(ids)} {what}s (< {min_group}): its confidence intervals are rough")
        if len(bad):
            notes.append(f"group '{name}': {len(bad)} of {len(rows)} images unreadable and left out (listed in ranking.json)")
    return data


def _joint_table(data: Mapping[str, _Group], names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All units of all groups: ``(ids[C], values[C, g, k], present[C, g])``."""
    ids = np.unique(np.concatenate([data[n].ids for n in names]))
    k = data[names[0]].values.shape[1]
    values = np.full((len(ids), len(names), k), np.nan)
    present = np.zeros((len(ids), len(names)), dtype=bool)
    for j, name in enumerate(names):
        where = np.searchsorted(ids, data[name].ids)
        values[where, j] = data[name].values
        present[where, j] = np.isfinite(data[name].values[:, 0])
    return ids, values, present


def _replicates(data: Mapping[str, _Group], names: Sequence[str], shared: bool, n_boot: int, seed: int) -> np.ndarray:
    """``[n_boot, g, k]`` bootstrap means per group: jointly over all units when they recur across groups, else group by group."""
    if shared:
        _, values, present = _joint_table(data, names)
        return bootstrap_cell_means(values, present, n_boot, keyed_rng(seed, "units"))
    k = data[names[0]].values.shape[1]
    out = np.full((int(n_boot), len(names), k), np.nan)
    for j, name in enumerate(names):
        if data[name].units >= 2:
            out[:, j] = bootstrap_means(data[name].values, n_boot, keyed_rng(seed, name))
    return out


def _estimate(mean: float, boot: np.ndarray | None, level: float) -> Estimate:
    if boot is None or not np.isfinite(boot).any():
        return Estimate(finite(mean), None, None)
    lo, hi = percentile_ci(boot, level)
    return Estimate(finite(mean), finite(lo), finite(hi))


def _pair(a: _Group, b: _Group, ia: int, ib: int, boot: np.ndarray, unit: str, n_boot: int, seed: int, level: float,
          counters: Counter) -> PairRow:
    """Groups ``a`` (ranked above) and ``b``: paired on their shared units when there are at least two, else unpaired on unit means."""
    qa, qb = a.values[:, 0], b.values[:, 0]
    n_a, n_b = int(len(a.rows)), int(len(b.rows))
    if unit != "image":
        _, where_a, where_b = np.intersect1d(a.ids, b.ids, assume_unique=True, return_indices=True)
        if len(where_a) >= 2:
            d = qa[where_a] - qb[where_b]
            outcome = (d > 0) + 0.5 * (d == 0)
            lo, hi = percentile_ci(bootstrap_means(np.column_stack([d, outcome]), n_boot, keyed_rng(seed, a.name, b.name, "paired")),
                                   expanded_level(level, len(d)))
            diff = float(d.mean())
            return PairRow(a.name, b.name, n_a, n_b, float(outcome.mean()), f"wilcoxon signed-rank (paired by {unit})", len(d), diff,
                           finite(lo[0]), finite(hi[0]), wilcoxon_p(d), win_lo=finite(lo[1]), win_hi=finite(hi[1]), unit=unit,
                           subset=bool(len(d) < a.units or len(d) < b.units), agrees=bool(diff >= 0))
        counters["unpaired"] += 1
    level_ab = expanded_level(level, min(a.units, b.units))
    lo = hi = math.nan
    if a.units >= 2 and b.units >= 2:
        lo, hi = percentile_ci(boot[:, ia, 0] - boot[:, ib, 0], level_ab)
    win_lo = win_hi = None
    if a.units >= 2 and b.units >= 2:
        if a.units * b.units <= WIN_BOOTSTRAP_PAIRS:
            low, high = percentile_ci(bootstrap_win_rates(qa, qb, n_boot, keyed_rng(seed, a.name, b.name, "win")), level_ab)
        else:
            low, high = delong_win_rate_ci(qa, qb, level_ab)
            counters["delong"] += 1
        win_lo, win_hi = finite(low), finite(high)
    return PairRow(a.name, b.name, n_a, n_b, win_rate(qa, qb), f"mann-whitney U (unpaired, on {unit} means)"
                   if unit != "image" else "mann-whitney U (unpaired)", 0, float(a.means[0] - b.means[0]), finite(lo), finite(hi),
                   mann_whitney_p(qa, qb), win_lo=win_lo, win_hi=win_hi, unit=unit)


def _pair_rows(order: Sequence[str], index: Mapping[str, int], data: Mapping[str, _Group], boot: np.ndarray, unit: str, n_boot: int,
               seed: int, level: float, alpha: float, max_pair_groups: int, notes: list[str]) -> tuple[list[PairRow], bool]:
    """The pairs tested, ``a`` ranked above ``b``, and whether every pair was.

    Up to ``max_pair_groups`` groups: every pair, Holm's correction over all.
    Past it (the table grows as n^2): the tier walk only, each group against
    the top group of the tier above it, Bonferroni over those n - 1 tests (a
    test decides where the walk goes next, so a step-down correction over
    them would not hold its level). The tiers are the same rule either way.
    """
    every = len(order) <= int(max_pair_groups)
    counters: Counter = Counter()

    def tested(a: str, b: str) -> PairRow:
        return _pair(data[a], data[b], index[a], index[b], boot, unit, n_boot, seed, level, counters)

    if every:
        pairs = [tested(a, b) for i, a in enumerate(order) for b in order[i + 1:]]
        adjusted = holm([p.p for p in pairs])
        pairs = [replace(p, p=finite(p.p), p_holm=finite(p_holm), distinguishable=bool(math.isfinite(p_holm) and p_holm < alpha))
                 for p, p_holm in zip(pairs, adjusted)]
    else:
        tests, leader, pairs = len(order) - 1, order[0], []
        for b in order[1:]:
            row = tested(leader, b)
            adjusted = min(1.0, row.p * tests) if math.isfinite(row.p) else math.nan
            row = replace(row, p=finite(row.p), p_holm=finite(adjusted), distinguishable=bool(math.isfinite(adjusted) and adjusted < alpha))
            pairs.append(row)
            if row.distinguishable:
                leader = b
    if counters["unpaired"]:
        notes.append(f"{counters['unpaired']} pair(s) share fewer than 2 {unit}s: compared unpaired, on {unit} means")
    if counters["delong"]:
        notes.append(f"{counters['delong']} pair(s) with more than {WIN_BOOTSTRAP_PAIRS:,} {unit} pairs: win-rate CI from DeLong's "
                     f"normal interval, not the bootstrap")
    subset = [p for p in pairs if p.subset]
    if subset:
        notes.append(f"{len(subset)} of {len(pairs)} pairs are tested on the {unit}s both groups have, fewer than the order uses "
                     f"('subset' in pairs.csv)")
    against = [p for p in pairs if not p.agrees]
    for p in against[:MAX_PAIR_NOTES]:
        notes.append(f"{p.a} ranks above {p.b} over all their {unit}s, but {p.b} scores higher on the {p.n_shared} they share "
                     f"(difference {p.diff:+.4f})")
    if len(against) > MAX_PAIR_NOTES:
        notes.append(f"... and {len(against) - MAX_PAIR_NOTES} more pairs whose shared-{unit} difference goes against the order")
    return pairs, every


def _tiers(order: Sequence[str], pairs: Sequence[PairRow]) -> list[int]:
    verdict = {(p.a, p.b): p.distinguishable for p in pairs}
    return tiers_from(lambda i, j: verdict.get((order[i], order[j]), False), len(order))


def _bradley_terry(data: Mapping[str, _Group], names: Sequence[str], n_boot: int, seed: int, level: float,
                   notes: list[str]) -> dict[str, tuple[float, float | None, float | None, float]] | None:
    """Per group: (Elo-scale rating, CI low, CI high, games) from the per-unit head-to-heads; None when not fitted (with a note)."""
    g = len(names)
    if g > BT_MAX_GROUPS:
        notes.append(f"Bradley-Terry not fitted: {g} groups (at most {BT_MAX_GROUPS})")
        return None
    _, values, present = _joint_table(data, names)
    if len(values) * g * g > BT_CELLS:
        notes.append(f"Bradley-Terry not fitted: {len(values)} units x {g}^2 groups is too large a table")
        return None
    quality = np.where(present, values[:, :, 0], np.nan)
    per_unit = prompt_wins(quality).reshape(len(quality), g * g)  # [C, g*g]
    wins = per_unit.sum(axis=0).reshape(g, g)
    rating = elo_scale(bradley_terry(wins))
    boot = bootstrap_means(per_unit, n_boot, keyed_rng(seed, "bradley-terry")) * len(per_unit)
    lo, hi = percentile_ci(elo_scale(bradley_terry(boot.reshape(-1, g, g), tol=1e-8)), level)
    games = wins + wins.T
    return {name: (float(rating[j]), finite(lo[j]), finite(hi[j]), float(games[j].sum())) for j, name in enumerate(names)}


def _shift(j: int, ref: int, means: np.ndarray, boot: np.ndarray, attributes: Sequence[str], spread: Mapping[str, float],
           level: float) -> AttributeShift:
    sd = np.array([spread[a] if spread[a] and math.isfinite(spread[a]) else np.nan for a in attributes])
    cols = slice(1, 1 + len(attributes))
    point = (means[j, cols] - means[ref, cols]) / sd
    lo, hi = percentile_ci((boot[:, j, cols] - boot[:, ref, cols]) / sd, level)
    shifts = {a: finite(point[c]) for c, a in enumerate(attributes)}
    moved = {a: s for a, s in shifts.items() if s is not None}
    main = max(moved, key=lambda a: abs(moved[a])) if moved else ""
    return AttributeShift(main, moved.get(main), shifts, {a: finite(lo[c]) for c, a in enumerate(attributes)},
                          {a: finite(hi[c]) for c, a in enumerate(attributes)})


def _group_rows(order: Sequence[str], index: Mapping[str, int], data: Mapping[str, _Group], boot: np.ndarray, reference: str,
                attributes: Sequence[str], spread: Mapping[str, float], level: float, quality_scale: Mapping[str, Any] | None,
                has_mos: bool, tiers: Sequence[int], bt: Mapping[str, tuple] | None) -> list[GroupRow]:
    low = high = None
    if quality_scale and quality_scale.get("range"):
        low, high = map(float, quality_scale["range"])
    higher_better = bool((quality_scale or {}).get("higher_is_better", True))

    def on_scale(u: float | None) -> float | None:
        if low is None or u is None:
            return None
        return (u if higher_better else 1.0 - u) * (high - low) + low

    names = sorted(index, key=index.get)
    means = np.stack([data[n].means for n in names])  # [g, k]
    quality = boot[:, :, 0]
    filled = np.where(np.isfinite(quality), quality, means[None, :, 0])
    rank_lo, rank_hi = rank_intervals(filled, level)
    ref = index[reference]
    rows = []
    for position, name in enumerate(order, start=1):
        j, d = index[name], data[name]
        bounds = percentile_ci(boot[:, j], expanded_level(level, d.units)) if d.units >= 2 else None
        estimates = [Estimate(finite(means[j, col]), *((finite(bounds[0][col]), finite(bounds[1][col])) if bounds else (None, None)))
                     for col in range(means.shape[1])]
        q = estimates[0]
        on_mos = None
        if low is not None:
            ends = sorted(v for v in (on_scale(q.lo), on_scale(q.hi)) if v is not None)
            on_mos = Estimate(on_scale(q.mean), *((ends[0], ends[1]) if len(ends) == 2 else (None, None)))
        per_attribute = {a: estimates[col] for col, a in enumerate(attributes, start=1)}
        shift = None
        if attributes and name != reference:
            shift_level = expanded_level(level, min(d.units, data[reference].units))
            shift = _shift(j, ref, means, boot, attributes, spread, shift_level)
        elif attributes:
            shift = AttributeShift("", None, {a: 0.0 for a in attributes}, {a: 0.0 for a in attributes}, {a: 0.0 for a in attributes})
        human = HumanRating(finite(means[j, -1])) if has_mos else None
        rating = (bt or {}).get(name)
        rows.append(GroupRow(position, name, int(len(d.rows)), int(d.n_bad), q, on_mos, per_attribute, shift, human, units=d.units,
                             tier=int(tiers[position - 1]), rank_lo=int(rank_lo[j]), rank_hi=int(rank_hi[j]),
                             bt=rating[0] if rating else None, bt_lo=rating[1] if rating else None,
                             bt_hi=rating[2] if rating else None, games=rating[3] if rating else None))
    return rows


def _rank_correlations(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spearman and Kendall of each row of ``x`` with the same row of ``y`` (``[B, g]``)."""
    from scipy.stats import kendalltau, rankdata

    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        spearman = np.clip((rx * ry).sum(axis=1) / np.sqrt((rx ** 2).sum(axis=1) * (ry ** 2).sum(axis=1)), -1.0, 1.0)
    if x.shape[1] <= 200:  # tau-b from the signs of every pair, all replicates at once
        upper = np.triu_indices(x.shape[1], 1)
        sx = np.sign(x[:, :, None] - x[:, None, :])[:, upper[0], upper[1]]
        sy = np.sign(y[:, :, None] - y[:, None, :])[:, upper[0], upper[1]]
        with np.errstate(invalid="ignore", divide="ignore"):
            kendall = (sx * sy).sum(axis=1) / np.sqrt((sx != 0).sum(axis=1) * (sy != 0).sum(axis=1))
        return spearman, np.clip(kendall, -1.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kendall = np.array([kendalltau(a, b).statistic for a, b in zip(x, y)])
    return spearman, kendall


def _agreement(groups: list[GroupRow], index: Mapping[str, int], boot: np.ndarray, images: Any, mos_scale: Mapping[str, Any] | None,
               level: float, notes: list[str]) -> tuple[list[GroupRow], Agreement | None]:
    """The groups with their rank by MOS filled in, and the agreement of the two rankings (None for fewer than 2 groups with MOS)."""
    from iqa.metrics import krcc, srcc

    with_mos = [g for g in groups if g.human.mos is not None]
    direction = 1.0 if (mos_scale or {}).get("higher_is_better", True) else -1.0
    human = sorted(with_mos, key=lambda g: (-direction * g.human.mos, g.group))
    human_rank = {g.group: k for k, g in enumerate(human, start=1)}
    groups = [replace(g, human=replace(g.human, rank=human_rank.get(g.group))) for g in groups]
    if len(with_mos) < 2:
        return groups, None
    model_means = np.array([g.quality.mean for g in with_mos])
    mos_means = np.array([direction * g.human.mos for g in with_mos])
    columns = [index[g.group] for g in with_mos]
    model_boot = np.where(np.isfinite(boot[:, columns, 0]), boot[:, columns, 0], model_means)
    mos_boot = direction * boot[:, columns, -1]
    mos_boot = np.where(np.isfinite(mos_boot), mos_boot, mos_means)
    spearman_boot, kendall_boot = _rank_correlations(model_boot, mos_boot)
    (s_lo, k_lo), (s_hi, k_hi) = percentile_ci(np.column_stack([spearman_boot, kendall_boot]), level)
    images = images[np.isfinite(images["mos"].to_numpy(dtype=np.float64))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        agreement = Agreement(
            groups=len(with_mos), spearman=float(srcc(model_means, mos_means)), kendall=float(krcc(model_means, mos_means)),
            human_order=[g.group for g in human], model_order=[g.group for g in groups if g.human.mos is not None],
            image_srcc=float(srcc(images["quality_norm"], direction * images["mos"])) if len(images) > 2 else None,
            mos_higher_is_better=direction > 0, mos_scale=dict(mos_scale or {}),
            spearman_lo=finite(s_lo), spearman_hi=finite(s_hi), kendall_lo=finite(k_lo), kendall_hi=finite(k_hi),
        )
    if len(with_mos) < 4:
        notes.append(f"ranking agreement over only {len(with_mos)} groups: Spearman and Kendall take few values")
    return groups, agreement


def _breakdown_columns(frame: Any, breakdown_by: Sequence[str] | None) -> list[str]:
    if breakdown_by is None:
        return [c for c in CATEGORY_COLUMNS if c in frame.columns and frame[c].notna().any()]
    absent = [c for c in breakdown_by if c not in frame.columns]
    if absent:
        extra = [c for c in frame.columns if c not in ("group", "path", "error", "quality_norm", "_unit")]
        raise UserError(f"breakdown column(s) {', '.join(absent)} not in the scores; columns: {', '.join(extra) or 'none'}")
    return list(breakdown_by)


def _breakdowns(frame: Any, ok: Any, columns: Sequence[str], names: Sequence[str], n_boot: int, seed: int, level: float,
                notes: list[str]) -> list[BreakdownRow]:
    out: list[BreakdownRow] = []
    good = frame[ok]
    for column in columns:
        present = good[good[column].notna() & (good[column].astype(str).str.strip() != "")]
        values = sorted(present[column].astype(str).unique(), key=_natural)
        if len(values) > MAX_BREAKDOWN_VALUES:
            notes.append(f"no breakdown by '{column}': {len(values)} values (at most {MAX_BREAKDOWN_VALUES})")
            continue
        labels = present[column].astype(str)
        for value in values:
            cells = []
            for name in names:
                rows = present[(labels == value) & (present["group"] == name)]
                if not len(rows):
                    continue
                _, means, _ = unit_means(rows["quality_norm"].to_numpy(dtype=np.float64), rows["_unit"].to_numpy())
                boot = bootstrap_means(means, n_boot, keyed_rng(seed, column, value, name)) if len(means) >= 2 else None
                estimate = _estimate(float(means.mean()), boot, expanded_level(level, len(means)))
                cells.append((name, len(rows), len(means), estimate))
            ranked = sorted(cells, key=lambda c: (-c[3].mean, c[0]))
            out += [BreakdownRow(column, value, name, n, units, estimate, rank)
                    for rank, (name, n, units, estimate) in enumerate(ranked, start=1)]
    return out


def _natural(text: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


_TRAILING_NUMBER = re.compile(r"[_\-. ]?\d+$")


def _repeated_content(frame: Any, names: Sequence[str]) -> str | None:
    """A warning when, without unit ids, the file names suggest repeated content: the same names in several groups, or numbered
    variants of several contents in one group (``cat_1``, ``cat_2``, ``dog_1``, ...; one counter over a whole group, ``IMG_0001``
    ..., is a naming scheme, not repeated content)."""
    stems = frame["path"].map(lambda p: PurePath(str(p)).stem).to_numpy()
    where = frame.groupby("group", sort=False).indices
    per_group = [set(stems[where.get(n, [])]) for n in names]
    if len(per_group) >= 2:
        everywhere = Counter(s for names_ in per_group for s in names_)
        shared = sum(1 for c in everywhere.values() if c >= 2)
        if everywhere and shared >= 0.5 * len(everywhere):
            return (f"{shared} of {len(everywhere)} file names recur across groups: if they are the same content processed by each "
                    f"group, rank with cluster_by='{FILENAME_UNIT}' (--cluster-by {FILENAME_UNIT}) to compare them paired")
    for name in names:
        group = pd.Series(stems[where.get(name, [])])
        if len(group) < 4:
            continue
        roots = group.map(lambda s: _TRAILING_NUMBER.sub("", s))
        counts = roots[(roots != group) & (roots != "")].value_counts()
        repeated = counts[counts >= 2]
        if len(repeated) >= 2 and repeated.sum() >= 0.2 * len(group) and repeated.iloc[0] < 0.5 * len(group):
            example = str(repeated.index[0])
            return (f"file names in group '{name}' suggest several images per content ('{example}...' {int(repeated.iloc[0])} times, "
                    f"{len(repeated)} such names): images of one content are not independent and the intervals would be too narrow; "
                    f"give the CSV a prompt column, or cluster_by a column that names the content")
    return None


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
    cluster_by: str | None = None,
    breakdown_by: Sequence[str] | None = None,
    max_pair_groups: int = 60,
) -> RankingResults:
    """The statistics of a scored table (one row per image): see the module docstring.

    ``scores``: a DataFrame with ``group``, ``path``, ``quality_norm`` (0..1,
    1 best), one column per name in ``attributes``, ``error`` (empty when
    scored), and optionally ``prompt`` (the unit id), ``mos`` and category
    columns (``style``, ``class``, ``challenge``: kept in the scores).
    ``cluster_by``: the column whose values are the units (default: ``prompt``
    when present, else each image), or ``"filename"``: the file name without
    folder and extension, for the same photos processed by every group.
    ``breakdown_by``: the category columns to break the ranking down by
    (default: those of ``style``, ``class``, ``challenge`` present).
    ``max_pair_groups``: past this many groups only adjacent pairs are tested.
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
    if len(names) < 1:
        raise UserError("nothing to analyse: no groups")
    ok = (frame["error"] == "") & np.isfinite(frame["quality_norm"].to_numpy(dtype=np.float64))
    has_mos = "mos" in frame.columns and frame["mos"].notna().any()
    notes: list[str] = []
    unit, frame["_unit"] = _units(frame, cluster_by)
    if unit == "image":
        warning = _repeated_content(frame[ok], names)
        if warning:
            notes.append(warning)
    columns = ["quality_norm", *attributes, *(["mos"] if has_mos else [])]
    unreadable: dict[str, list[UnreadableFile]] = {}
    data = _read_groups(frame, names, ok, columns, min_group, unit, notes, unreadable)
    index = {name: j for j, name in enumerate(names)}
    order = sorted(names, key=lambda n: (-data[n].means[0], n))
    reference = reference if reference is not None else order[0]
    if reference not in data:
        raise UserError(f"reference group '{reference}' is not among the groups: {', '.join(names)}")
    recurring = unit != "image" and len(np.unique(np.concatenate([data[n].ids for n in names]))) < sum(data[n].units for n in names)
    cells = len(np.unique(np.concatenate([data[n].ids for n in names]))) * len(names) * len(columns)
    joint = recurring and cells <= JOINT_CELLS
    boot = _replicates(data, names, joint, n_boot, seed)
    all_good = frame[ok]
    spread = {a: float(all_good[a].std(ddof=1)) if len(all_good) > 1 else math.nan for a in attributes}
    pairs, every = _pair_rows(order, index, data, boot, unit, n_boot, seed, level, alpha, max_pair_groups, notes)
    tiers = _tiers(order, pairs)
    bt = _bradley_terry(data, names, n_boot, seed, level, notes) if recurring else None
    groups = _group_rows(order, index, data, boot, reference, attributes, spread, level, quality_scale, has_mos, tiers, bt)
    agreement = None
    if has_mos:
        groups, agreement = _agreement(groups, index, boot, all_good, mos_scale, level, notes)
    breakdowns = _breakdowns(frame, ok, _breakdown_columns(frame, breakdown_by), names, n_boot, seed, level, notes)
    kept = [c for c in frame.columns if c not in ("_unit", "error", "quality_norm", *attributes, "group", "path", "prompt", "mos")]
    out_columns = ["group", "path", *(["prompt"] if "prompt" in frame.columns and frame["prompt"].notna().any() else []), *kept,
                   *(["mos"] if has_mos else []), "quality_norm", *attributes, "error"]
    out_scores = frame[[c for c in out_columns if c in frame.columns]].reset_index(drop=True)
    design = ("units shared across groups, resampled jointly" if joint else
              "units shared across groups, resampled per group (table too large to resample jointly)" if recurring else
              "independent units per group")
    tested = (f"all {len(pairs)} pairs, Holm's correction" if every else
              f"each group against its tier's top group ({len(names)} groups > {int(max_pair_groups)}), Bonferroni over {len(pairs)} tests")
    info = {"n_boot": int(n_boot), "seed": int(seed), "level": float(level), "alpha": float(alpha), "min_group": int(min_group),
            "reference": reference, "paired": bool(recurring), "unit": unit, "design": design, "pairs": tested,
            "quality": "quality_norm: 0..1, 1 best (unclipped); a group's mean weighs each unit the same",
            "quality_scale": dict(quality_scale) if quality_scale else None,
            "ci": f"percentile bootstrap over {unit}s, {n_boot} resamples, expanded for small samples",
            "bradley_terry": "per-unit head-to-heads, Elo scale (400 = 10:1 odds, mean 1000)" if bt else "not fitted",
            **dict(settings or {})}
    for note in notes:
        log.warning(note)
    return RankingResults(groups=groups, pairs=pairs, attributes=list(attributes), scores=out_scores, agreement=agreement,
                          unreadable=unreadable, warnings=notes, settings=info, breakdowns=breakdowns)
