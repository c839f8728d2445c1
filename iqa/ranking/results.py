"""What a ranking found, as typed rows: one :class:`GroupRow` per group, one :class:`PairRow` per pair, the agreement with MOS.

Every row has ``to_dict()``, the plain JSON-ready form written to
``ranking.json`` and the CSV tables; rows can also be read by those keys
(``row["quality_lo"]``, ``row.get("mos")``, ``"mos" in row``), as the plain
dicts they replace.
"""

from __future__ import annotations

import os
from collections.abc import KeysView
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from iqa.errors import UserError
from iqa.ranking.reports import markdown, write_reports

__all__ = ["Agreement", "AttributeShift", "BreakdownRow", "Estimate", "GroupRow", "HumanRating", "PairRow", "RankingResults",
           "UnreadableFile"]


class _Record:
    """Read access by the keys of :meth:`to_dict`."""

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def keys(self) -> KeysView[str]:
        return self.to_dict().keys()


@dataclass(frozen=True)
class Estimate:
    """A mean with the bounds of its bootstrap CI; None where not finite (or no interval: a group of one image)."""

    mean: float | None
    lo: float | None
    hi: float | None


@dataclass(frozen=True)
class AttributeShift:
    """How far a group's attribute means sit from the reference group's, in SDs of each attribute over all images.

    ``main``: the attribute that moves most ("" for the reference group itself
    or when none is finite), ``main_shift`` its signed shift; ``lo`` / ``hi``:
    the CI bounds of each shift (resampling prompts where there are prompts).
    """

    main: str
    main_shift: float | None
    shifts: dict[str, float | None]
    lo: dict[str, float | None] = field(default_factory=dict)
    hi: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class HumanRating:
    """A group's mean MOS (people) and its rank by that mean."""

    mos: float | None
    rank: int | None = None


@dataclass(frozen=True)
class UnreadableFile(_Record):
    path: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True)
class GroupRow(_Record):
    """One group: rank by mean quality, images scored and unreadable, quality and attribute means with CIs.

    ``quality_mos``: the quality on the checkpoint's MOS scale (None when the
    checkpoint declares no range); ``attributes``: per scored attribute;
    ``shift``: against the reference group (None without attributes);
    ``human``: the group's MOS where the inputs carry one. ``units``: the
    independent units its statistics resample (prompts, or images without
    prompt ids); ``tier``: groups that share a tier are not distinguishable
    from the tier's top group; ``rank_lo`` .. ``rank_hi``: the rank's CI;
    ``bt`` [``bt_lo``, ``bt_hi``]: the Bradley-Terry rating on the Elo scale
    (mean 1000) from per-prompt head-to-heads, and ``games`` their number.
    """

    rank: int
    group: str
    n: int
    unreadable: int
    quality: Estimate
    quality_mos: Estimate | None = None
    attributes: dict[str, Estimate] = field(default_factory=dict)
    shift: AttributeShift | None = None
    human: HumanRating | None = None
    units: int | None = None
    tier: int | None = None
    rank_lo: int | None = None
    rank_hi: int | None = None
    bt: float | None = None
    bt_lo: float | None = None
    bt_hi: float | None = None
    games: float | None = None

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"rank": self.rank, "rank_lo": self.rank_lo, "rank_hi": self.rank_hi, "tier": self.tier,
                               "group": self.group, "n": self.n, "units": self.units, "unreadable": self.unreadable,
                               "quality": self.quality.mean, "quality_lo": self.quality.lo, "quality_hi": self.quality.hi}
        if self.bt is not None:
            row.update(bt=self.bt, bt_lo=self.bt_lo, bt_hi=self.bt_hi, games=self.games)
        if self.quality_mos is not None:
            row.update(quality_mos=self.quality_mos.mean, quality_mos_lo=self.quality_mos.lo, quality_mos_hi=self.quality_mos.hi)
        for name, estimate in self.attributes.items():
            row[name], row[f"{name}_lo"], row[f"{name}_hi"] = estimate.mean, estimate.lo, estimate.hi
        if self.shift is not None:
            row.update(main_attribute=self.shift.main, main_attribute_shift=self.shift.main_shift, attribute_shifts=dict(self.shift.shifts),
                       attribute_shifts_lo=dict(self.shift.lo), attribute_shifts_hi=dict(self.shift.hi))
        if self.human is not None:
            row.update(mos=self.human.mos, mos_rank=self.human.rank)
        return row


@dataclass(frozen=True)
class PairRow(_Record):
    """Groups ``a`` (ranked above) and ``b``: win rate P(a > b), mean difference a - b with its CI, the test, p and Holm's p.

    Paired on shared prompts, the win rate is the share of those prompts on
    which ``a`` scores higher; unpaired, the chance that a unit (prompt mean or
    image) of ``a`` scores above one of ``b``; ties count 1/2 in both.
    ``unit``: what the test and the intervals resample. ``subset``: the test
    used fewer units than the order (only the prompts both groups have);
    ``agrees``: the difference it measured has the order's sign. ``p_holm``:
    the adjusted p-value, Holm's over every pair (Bonferroni over the tier
    walk's tests when there are too many groups to test every pair).
    """

    a: str
    b: str
    n_a: int
    n_b: int
    win_rate: float
    test: str
    n_shared: int
    diff: float
    diff_lo: float | None
    diff_hi: float | None
    p: float | None
    p_holm: float | None = None
    distinguishable: bool = False
    win_lo: float | None = None
    win_hi: float | None = None
    unit: str = "image"
    subset: bool = False
    agrees: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def flipped(self) -> PairRow:
        """The same comparison seen from ``b``: the win rate and the difference change sides."""
        negate = lambda v: None if v is None else -v  # noqa: E731
        complement = lambda v: None if v is None else 1.0 - v  # noqa: E731
        return replace(self, a=self.b, b=self.a, n_a=self.n_b, n_b=self.n_a, win_rate=1.0 - self.win_rate, diff=-self.diff,
                       diff_lo=negate(self.diff_hi), diff_hi=negate(self.diff_lo), win_lo=complement(self.win_hi),
                       win_hi=complement(self.win_lo))


@dataclass(frozen=True)
class Agreement(_Record):
    """The model's ranking against the ranking by mean MOS, over the groups with a MOS."""

    groups: int
    spearman: float
    kendall: float
    human_order: list[str]
    model_order: list[str]
    image_srcc: float | None
    mos_higher_is_better: bool
    mos_scale: dict[str, Any]
    spearman_lo: float | None = None
    spearman_hi: float | None = None
    kendall_lo: float | None = None
    kendall_hi: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BreakdownRow(_Record):
    """One group's mean quality [CI] and rank among the groups, on the images whose ``column`` is ``value`` (a style, a class, ...)."""

    column: str
    value: str
    group: str
    n: int
    units: int
    quality: Estimate
    rank: int

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "value": self.value, "group": self.group, "n": self.n, "units": self.units, "rank": self.rank,
                "quality": self.quality.mean, "quality_lo": self.quality.lo, "quality_hi": self.quality.hi}


@dataclass
class RankingResults:
    """What :func:`iqa.ranking.analyse` found: groups in rank order, every pair, the agreement with MOS, notes and settings."""

    groups: list[GroupRow]
    pairs: list[PairRow]
    attributes: list[str]
    scores: Any  # pandas.DataFrame: one row per (group, image)
    agreement: Agreement | None = None
    unreadable: dict[str, list[UnreadableFile]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    breakdowns: list[BreakdownRow] = field(default_factory=list)

    @property
    def order(self) -> list[str]:
        """Group names, best first."""
        return [g.group for g in self.groups]

    def group(self, name: str) -> GroupRow:
        for g in self.groups:
            if g.group == name:
                return g
        raise UserError(f"no group '{name}'; groups: {', '.join(self.order)}")

    def pair(self, a: str, b: str) -> PairRow:
        """The pair of ``a`` and ``b`` seen from ``a`` (flipped when ``b`` is ranked above)."""
        for p in self.pairs:
            if (p.a, p.b) == (a, b):
                return p
            if (p.b, p.a) == (a, b):
                return p.flipped()
        raise UserError(f"no pair {a} / {b}")

    def to_frame(self):
        """One row per group, best first: rank, n, unreadable, quality and attribute means with CI bounds, main attribute (+ MOS)."""
        import pandas as pd

        return pd.DataFrame([g.to_dict() for g in self.groups])

    def pairs_frame(self):
        """One row per pair (``a`` ranked above ``b``): win rate, difference [CI], test, p, Holm p, distinguishable."""
        import pandas as pd

        return pd.DataFrame([p.to_dict() for p in self.pairs])

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: what ``ranking.json`` holds (without the per-image scores)."""
        return {"settings": self.settings, "attributes": self.attributes, "groups": [g.to_dict() for g in self.groups],
                "pairs": [p.to_dict() for p in self.pairs], "agreement": self.agreement.to_dict() if self.agreement else None,
                "breakdowns": [b.to_dict() for b in self.breakdowns],
                "unreadable": {name: [f.to_dict() for f in files] for name, files in self.unreadable.items()},
                "warnings": self.warnings}

    def to_markdown(self) -> str:
        return markdown(self)

    def breakdown_frame(self):
        """One row per (category column, value, group): images, prompts, mean quality [CI] and rank within that value."""
        import pandas as pd

        return pd.DataFrame([b.to_dict() for b in self.breakdowns])

    def write(self, out_dir: str | os.PathLike) -> dict[str, Any]:
        """Write ranking.md / .csv / .json / .html, pairs.csv, scores.csv, breakdown.csv and ranking.png into ``out_dir``
        (see :mod:`iqa.ranking.reports` and :mod:`iqa.ranking.html`)."""
        return write_reports(self, out_dir)
