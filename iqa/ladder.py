"""The distortion-ladder proxy: does the student order graded distortions of one crop correctly?

A *ladder* is one reference crop (``reference``, ``crop``) with one distortion
applied at levels 1..N, plus the clean crop itself as level 0. The demo
corpus's shards carry exactly this in each sample's JSON (see
``iqa.data.synthetic``), and any corpus whose samples carry the same four fields
gets the proxy too. ``iqa.distortions.DISTORTION_ATTRIBUTE`` says which
attribute a distortion moves and in which direction as the level grows (blur:
sharpness down; noise: noisiness up; ...).

For each ladder the proxy is Spearman's rho between the student's score for the
mapped attribute and ``sign x level``: +1 when the student orders every rung
the way the distortion moves the attribute, -1 when it has them backwards.
Per attribute the proxy is the mean over that attribute's ladders, and
``mean`` is the mean over attributes (each attribute counts once, however many
distortions map to it). A ladder on which the student's scores are all equal
scores 0 (it orders nothing); ladders with fewer than three rungs or a single
level are left out. Distortions without a mapping are ignored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from iqa.distortions import DISTORTION_ATTRIBUTE

MIN_RUNGS = 3


def ladder_record(meta: Mapping[str, Any] | None) -> tuple[str, str, int] | None:
    """``(crop id, distortion, level)`` from a sample's metadata, or None when it is not a ladder sample."""
    if not meta:
        return None
    try:
        level = int(meta["level"])
        crop = f"{meta['reference']}#{meta['crop']}"
        distortion = str(meta["distortion"])
    except (KeyError, TypeError, ValueError):
        return None
    return crop, distortion, level


def ladder_correlations(
    records: Sequence[tuple[str, str, int]],
    scores: np.ndarray,
    attributes: Sequence[str],
    mapping: Mapping[str, tuple[str, int]] = DISTORTION_ATTRIBUTE,
) -> dict[str, float]:
    """Per-attribute mean ladder correlation and their ``mean`` (see the module docstring).

    ``records[i]`` describes row ``i`` of ``scores`` (``[N, len(attributes)]``).
    Attributes without any ladder are absent from the result; so is ``mean``
    when no attribute has one.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if len(records) != scores.shape[0]:
        raise ValueError(f"{len(records)} records for {scores.shape[0]} score rows")
    column = {name: i for i, name in enumerate(attributes)}
    clean: dict[str, list[int]] = defaultdict(list)
    rungs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row, (crop, distortion, level) in enumerate(records):
        if level == 0:
            clean[crop].append(row)
        elif distortion in mapping and mapping[distortion][0] in column:
            rungs[(crop, distortion)].append(row)
    per_attribute: dict[str, list[float]] = defaultdict(list)
    for (crop, distortion), rows in rungs.items():
        attribute, sign = mapping[distortion]
        rows = clean.get(crop, []) + rows
        levels = np.array([records[r][2] for r in rows], dtype=np.float64)
        if len(rows) < MIN_RUNGS or np.unique(levels).size < 2:
            continue
        values = scores[rows, column[attribute]]
        if np.all(values == values[0]):
            rho = 0.0
        else:
            rho = float(stats.spearmanr(values, sign * levels).statistic)
        if np.isfinite(rho):
            per_attribute[attribute].append(rho)
    result = {name: float(np.mean(per_attribute[name])) for name in attributes if per_attribute.get(name)}
    if result:
        result["mean"] = float(np.mean(list(result.values())))
    return result
