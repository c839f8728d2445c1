"""The distortion-ladder score: does a scorer order graded distortions of one crop correctly?

A *ladder* is one reference crop (``reference``, ``crop``) with one distortion
applied at levels 1..N, plus the clean crop itself as level 0. The demo
corpus's shards carry exactly this in each sample's JSON (see
``iqa.data.synthetic``), and any corpus whose samples carry the same four fields
gets the score too. ``iqa.distortions.DISTORTION_ATTRIBUTE`` says which
attribute a distortion moves and in which direction as the level grows (blur:
sharpness down; noise: noisiness up; ...).

For each ladder the score is Spearman's rho (:func:`iqa.metrics.srcc_columns`)
between the scorer's value for the mapped attribute and ``sign x level``: +1
when it orders every rung the way the distortion moves the attribute, -1 when
it has them backwards. Per attribute the score is the mean over that
attribute's ladders, and ``mean`` is the mean over attributes (each attribute
counts once, however many distortions map to it). A ladder on which the
scores are all equal scores 0 (the package-wide constant-input rule of
:mod:`iqa.metrics`); ladders with fewer than three rungs or a single level are
left out. Distortions without a mapping are ignored.

One implementation serves both users: pretraining validation scores the student
(``val/ladder_<attribute>``, :class:`LadderProxy`) and prompt selection scores
every candidate prompt pair (:func:`iqa.teachers.prompt_selection.ladder_proxy`, scored
with :func:`group_correlations`), both through :func:`ladder_groups`.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from iqa.distortions import DISTORTION_ATTRIBUTE
from iqa.metrics import srcc_columns

MIN_RUNGS = 3


@dataclass
class RankGroup:
    """Samples whose expected ordering along one attribute is known (higher ``target`` = more of it).

    ``indices`` select the group's rows of a score matrix. Ladders are one kind;
    prompt selection's SPAQ proxy (human attribute ratings) is another.
    """

    attribute: str
    indices: np.ndarray
    target: np.ndarray
    label: str = ""


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


def ladder_groups(
    records: Sequence[tuple[str, str, int]],
    attributes: Sequence[str] | None = None,
    mapping: Mapping[str, tuple[str, int]] = DISTORTION_ATTRIBUTE,
) -> list[RankGroup]:
    """One :class:`RankGroup` per usable ladder, in order of first appearance.

    ``records[i]`` describes row ``i``: a ladder is the rows of one crop and one
    mapped distortion, plus that crop's clean (level 0) rows first; its target
    is ``sign x level``. With ``attributes`` given, distortions moving another
    attribute are ignored.
    """
    clean: dict[str, list[int]] = defaultdict(list)
    rungs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row, (crop, distortion, level) in enumerate(records):
        if level == 0:
            clean[crop].append(row)
        elif distortion in mapping and (attributes is None or mapping[distortion][0] in attributes):
            rungs[(crop, distortion)].append(row)
    groups = []
    for (crop, distortion), rows in rungs.items():
        attribute, sign = mapping[distortion]
        rows = clean.get(crop, []) + rows
        levels = np.array([records[r][2] for r in rows], dtype=np.float64)
        if len(rows) < MIN_RUNGS or np.unique(levels).size < 2:
            continue
        groups.append(RankGroup(attribute, np.asarray(rows), sign * levels, f"{crop}/{distortion}"))
    return groups


def group_correlations(scores: np.ndarray, groups: Sequence[RankGroup]) -> np.ndarray:
    """``[C]``: for each column of ``scores [N, C]``, the mean Spearman over ``groups`` (NaN without groups)."""
    scores = np.asarray(scores, dtype=np.float64)
    if not groups:
        return np.full(scores.shape[1], np.nan)
    return np.mean([srcc_columns(scores[group.indices], group.target) for group in groups], axis=0)


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
    groups = ladder_groups(records, attributes, mapping)
    result = {}
    for column, name in enumerate(attributes):
        mine = [g for g in groups if g.attribute == name]
        if mine:
            result[name] = float(group_correlations(scores[:, [column]], mine)[0])
    if result:
        result["mean"] = float(np.mean(list(result.values())))
    return result


# ---------------------------------------------------------------- the stateful form (pretraining validation)
def _crop_code(crop: str) -> float:
    # A deterministic 52-bit digest, exact in float64 (Python's hash() differs between processes).
    return float(int.from_bytes(hashlib.blake2b(crop.encode(), digest_size=8).digest(), "big") >> 12)


class LadderProxy(Metric):
    """:func:`ladder_correlations` over a validation split, gathered across DDP ranks like any torchmetrics metric.

    ``update(scores [B, A], metas)`` takes each sample's metadata dict (None or
    anything without the ladder fields is skipped). Every state is a flat
    float64 list reduced with ``cat`` (crop ids as 52-bit digests, distortion
    as an index into the mapping), so ranks with no ladder sample at all gather
    cleanly. ``compute()`` returns the dict of :func:`ladder_correlations`
    (empty without ladders); a non-finite student score makes every value NaN.
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = True

    def __init__(self, attributes: Sequence[str], mapping: Mapping[str, tuple[str, int]] = DISTORTION_ATTRIBUTE,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attributes = list(attributes)
        self.mapping = dict(mapping)
        self._distortions = sorted(self.mapping)
        for name in ("crop", "distortion", "level", "scores"):
            self.add_state(name, default=[], dist_reduce_fx="cat")
        self.set_dtype(torch.float64)

    def update(self, scores: torch.Tensor, metas: Sequence[Mapping[str, Any] | None]) -> None:
        rows, codes = [], []
        for row, meta in enumerate(metas or []):
            record = ladder_record(meta)
            if record is not None:
                crop, distortion, level = record
                index = self._distortions.index(distortion) if distortion in self.mapping else -1
                rows.append(row)
                codes.append((_crop_code(crop), float(index), float(level)))
        if not rows:
            return
        values = torch.as_tensor(codes, dtype=torch.float64, device=self.device)
        self.crop.append(values[:, 0])
        self.distortion.append(values[:, 1])
        self.level.append(values[:, 2])
        picked = torch.as_tensor(scores).detach()[rows]
        self.scores.append(picked.reshape(-1).to(device=self.device, dtype=torch.float64))

    def compute(self) -> dict[str, float]:
        if isinstance(self.crop, list) and not self.crop:
            return {}
        crop, distortion, level = (dim_zero_cat(s).cpu().numpy() for s in (self.crop, self.distortion, self.level))
        scores = dim_zero_cat(self.scores).cpu().numpy().reshape(-1, len(self.attributes))
        names = [self._distortions[int(i)] if i >= 0 else "" for i in distortion]
        records = [(f"{c:.0f}", n, int(v)) for c, n, v in zip(crop, names, level)]
        result = ladder_correlations(records, np.where(np.isfinite(scores), scores, 0.0), self.attributes, self.mapping)
        if not np.isfinite(scores).all():
            result = dict.fromkeys(result, float("nan"))
        return result
