"""``ranking.html``: the ranking as one self-contained page to look at (:func:`render_html`, :func:`write_html`).

The page needs nothing but itself: the CSS and the sorting script are inline,
the CI plot is inline SVG, the thumbnails are ``data:`` URIs, and a
Content-Security-Policy forbids every network fetch (the script is allowed by
its hash, so nothing injected could run). It holds:

* the group table: rank, the group, images scored and unreadable, mean quality
  with its CI, and, when the rows carry them, ``tier``, the rank CI
  (``rank_lo``..``rank_hi``), the units resampled (prompts, when the unit is
  not the image) and a Bradley-Terry rating with its CI (``bt``, ``bt_lo``,
  ``bt_hi``); the quality on the MOS scale, each attribute mean with its CI,
  the attribute that moves most against the reference group (with its CI), and
  the MOS and its rank where the inputs carry one. Optional columns appear only
  when at least one row has a value for them;
* the CI plot: a dot per group with its CI whisker, best at the top, coloured
  and shaded by tier when there are tiers;
* per group, the ``per_group`` best and worst images by ``quality_norm`` as
  thumbnails (at most ``thumbnail_px`` on a side, JPEG) with a bar per
  attribute. Thumbnails are made for the first ``thumbnail_groups`` groups by
  rank only (default :data:`THUMBNAIL_GROUPS`), so a ranking of many groups
  stays a few hundred KB; a missing or unreadable file shows a placeholder;
* the pairs: all of them up to ``max_pairs``; beyond that only the pairs of
  neighbouring ranks (those that decide the order), with a note. The win rate
  and the mean difference carry their CIs; † marks a test on the shared units
  only (``subset``), ‡ a shared-unit difference against the order (``agrees``
  false);
* the agreement with MOS (Spearman and Kendall with their CIs);
* the breakdowns: per category column, a table of every (value, group) with
  the group's rank, images, units and quality [CI] on that value;
* warnings, unreadable files and the settings.

Attribute bars: attribute scores are raw, relative and unbounded (higher = more
of the attribute; noisiness: higher = noisier), so a bar shows the image's
**percentile among all readable images of this ranking** (mid-rank: the share
scoring lower plus half the share scoring the same), 0..100. The raw score is
in the bar's tooltip.

Every table sorts by a click on a column header (numbers numerically, text in
natural order, empty cells last; a second click reverses). The page also sorts
on load from its address: ``ranking.html#sort=quality`` (ascending),
``#sort=group:desc``, and ``&table=pairs`` for the pair table (default
``groups``). Every value from the inputs (group names, paths, warnings,
settings) is HTML-escaped.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from iqa.io import atomic_write_text

__all__ = ["HTML_FILE", "MAX_PAIRS", "PER_GROUP", "THUMBNAIL_GROUPS", "THUMBNAIL_PX", "render_html", "write_html"]

#: The file :func:`write_html` writes.
HTML_FILE = "ranking.html"
#: Thumbnails are made for this many groups (the first by rank); the others get a note.
THUMBNAIL_GROUPS = 20
#: Best and worst images shown per group (each).
PER_GROUP = 3
#: Longest side of a thumbnail, in pixels.
THUMBNAIL_PX = 96
#: Beyond this many pairs only the pairs of neighbouring ranks are listed.
MAX_PAIRS = 200

#: Colours of tiers 1, 2, ... (repeating).
TIER_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")

_SCRIPT = """
(function () {
  "use strict";
  var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  function value(cell) { return cell ? cell.getAttribute("data-v") || "" : ""; }
  function sortTable(table, key, dir) {
    var heads = table.tHead.rows[0].cells, column = -1, i;
    for (i = 0; i < heads.length; i++) { if (heads[i].getAttribute("data-key") === key) { column = i; } }
    if (column < 0) { return false; }
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var numeric = rows.every(function (r) { var v = value(r.cells[column]); return v === "" || isFinite(Number(v)); });
    rows.sort(function (a, b) {
      var x = value(a.cells[column]), y = value(b.cells[column]);
      if (x === "" || y === "") { return (x === "") - (y === ""); }
      var c = numeric ? Number(x) - Number(y) : collator.compare(x, y);
      return dir === "desc" ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    for (i = 0; i < heads.length; i++) { heads[i].removeAttribute("aria-sort"); }
    heads[column].setAttribute("aria-sort", dir === "desc" ? "descending" : "ascending");
    table.setAttribute("data-sorted", key + ":" + dir);
    return true;
  }
  function onHeader(th) {
    var dir = th.getAttribute("aria-sort") === "ascending" ? "desc" : "asc";
    sortTable(th.closest("table"), th.getAttribute("data-key"), dir);
  }
  document.querySelectorAll("table.sortable th[data-key]").forEach(function (th) {
    th.addEventListener("click", function () { onHeader(th); });
    th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onHeader(th); } });
  });
  function fromAddress() {
    var hash = location.hash.replace(/^#/, ""), params = {};
    hash.split("&").forEach(function (part) {
      var at = part.indexOf("=");
      if (at > 0) { params[part.slice(0, at)] = decodeURIComponent(part.slice(at + 1)); }
    });
    if (!params.sort) { return; }
    var table = document.getElementById(params.table || "groups");
    var spec = params.sort.split(":");
    if (table) { sortTable(table, spec[0], spec[1] === "desc" ? "desc" : "asc"); }
  }
  window.addEventListener("hashchange", fromAddress);
  fromAddress();
  document.body.setAttribute("data-ready", "1");
})();
"""

_CSS = """
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 0 0 6px; }
p.meta, .note { color: var(--muted); margin: 4px 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { background: var(--bg); position: sticky; top: 0; font-weight: 600; }
td.t, th.t { text-align: left; }
table.sortable th[data-key] { cursor: pointer; user-select: none; }
table.sortable th[data-key]:hover { background: #e8ebf0; }
th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; }
th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; }
.ci { color: var(--muted); }
.tier { display: inline-block; min-width: 1.6em; padding: 0 6px; border-radius: 9px; color: #fff; text-align: center; }
.scroll { overflow-x: auto; max-width: 100%; }
svg.plot { max-width: 100%; height: auto; font: 12px system-ui, sans-serif; }
.groups { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 14px; }
.group { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.strip { display: flex; gap: 8px; flex-wrap: wrap; align-items: flex-start; }
figure { margin: 0; width: 120px; }
figure img, .ph { display: block; width: 120px; height: 96px; object-fit: contain; background: var(--bg); border-radius: 4px; }
.ph { display: flex; align-items: center; justify-content: center; color: var(--muted); font-size: 11px; border: 1px dashed #b8bfcc; }
figcaption { font-size: 11px; color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
figcaption b { color: var(--ink); }
.bar { display: grid; grid-template-columns: 34px 1fr 20px; gap: 3px; align-items: center; font-size: 10px; color: var(--muted); }
.bar .track { height: 6px; background: #e6e9ef; border-radius: 3px; overflow: hidden; }
.bar .fill { display: block; height: 100%; background: #6b8fc7; }
.bar.noisiness .fill { background: #c77b6b; }
.kind { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 6px 0 2px; }
ul { margin: 4px 0; padding-left: 20px; }
code { background: var(--bg); padding: 0 3px; border-radius: 3px; }
"""


def _e(value: Any) -> str:
    """HTML-escaped text (quotes too, so it is safe in attributes)."""
    return html.escape(str(value), quote=True)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _num(value: Any, digits: int = 3) -> str:
    number = _finite(value)
    return "n/a" if number is None else f"{number:.{digits}f}"


def _cell(text: str, sort: Any = None, cls: str = "", title: str | None = None) -> str:
    """A ``<td>``: ``text`` is already HTML; ``sort`` the value the script sorts by (None: empty, sorted last)."""
    if isinstance(sort, float):
        sort = "" if not math.isfinite(sort) else repr(sort)
    attrs = f' data-v="{_e("" if sort is None else sort)}"'
    attrs += f' class="{cls}"' if cls else ""
    attrs += f' title="{_e(title)}"' if title else ""
    return f"<td{attrs}>{text}</td>"


def _interval(mean: Any, lo: Any, hi: Any, digits: int = 3) -> str:
    """``mean [lo, hi]`` as HTML, the bounds muted; the mean alone when there are no bounds."""
    if lo is None and hi is None:
        return _num(mean, digits)
    return f"{_num(mean, digits)} <span class=\"ci\">[{_num(lo, digits)}, {_num(hi, digits)}]</span>"


def _estimate_cell(estimate: Any, digits: int = 3, bounds: bool = True) -> str:
    """Mean [lo, hi] of an :class:`~iqa.ranking.Estimate` (or None); ``bounds=False``: the mean alone when it has no bounds."""
    if estimate is None:
        return _cell("n/a")
    mean = _finite(estimate.mean)
    if not bounds and estimate.lo is None and estimate.hi is None:
        return _cell(_num(mean, digits), mean)
    text = f"{_num(mean, digits)} <span class=\"ci\">[{_num(estimate.lo, digits)}, {_num(estimate.hi, digits)}]</span>"
    return _cell(text, mean)


def _extra(row: Any, name: str) -> Any:
    return getattr(row, name, None)


def _has(rows: Sequence[Any], name: str) -> bool:
    return any(_extra(r, name) is not None for r in rows)


_TEXT = ' class="t"'


def _table(table_id: str, columns: Sequence[tuple[str, str, bool]], rows: Sequence[Sequence[str]]) -> str:
    """A sortable table: ``columns`` are (key, label HTML, text column?); rows are lists of ``<td>`` HTML."""
    head = "".join(f'<th data-key="{_e(key)}" tabindex="0" scope="col"{_TEXT if text else ""}>{label}</th>' for key, label, text in columns)
    body = "\n".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    return (f'<div class="scroll"><table id="{_e(table_id)}" class="sortable"><thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody></table></div>")


def _tier_colour(tiers: Sequence[Any], tier: Any) -> str:
    return TIER_COLOURS[tiers.index(tier) % len(TIER_COLOURS)] if tier in tiers else "#4c72b0"


def _tiers(groups: Sequence[Any]) -> list[Any]:
    """The distinct tiers in order of first appearance (rank order)."""
    return list(dict.fromkeys(_extra(g, "tier") for g in groups if _extra(g, "tier") is not None))


# -- the group table ---------------------------------------------------------------------------------------------------


def _group_table(results: Any, level: int) -> str:
    groups, attributes = results.groups, list(results.attributes)
    tiers = _tiers(groups)
    reference = (results.settings or {}).get("reference")
    columns: list[tuple[str, str, bool]] = [("rank", "rank", False), ("group", "group", True)]
    has_tier, has_rank_ci, has_bt = bool(tiers), _has(groups, "rank_lo") or _has(groups, "rank_hi"), _has(groups, "bt")
    if has_tier:
        columns.append(("tier", "tier", False))
    if has_rank_ci:
        columns.append(("rank_ci", f"rank {level}% CI", False))
    unit = (results.settings or {}).get("unit", "image")
    has_units = _has(groups, "units") and unit != "image"
    columns += [("n", "n", False)]
    if has_units:
        columns.append(("units", f"{_e(unit)}s", False))
    columns += [("unreadable", "unreadable", False), ("quality", f"quality [{level}% CI]", False)]
    has_mos_scale = any(getattr(g, "quality_mos", None) is not None for g in groups)
    if has_mos_scale:
        columns.append(("quality_mos", "on the MOS scale", False))
    if has_bt:
        columns.append(("bt", f"Bradley&ndash;Terry [{level}% CI]", False))
    columns += [(f"attr:{a}", f"{_e(a)} [{level}% CI]", False) for a in attributes]
    if attributes:
        columns.append(("main", f"main attribute vs {_e(reference)} [{level}% CI]", True))
    has_human = any(getattr(g, "human", None) is not None for g in groups)
    if has_human:
        columns += [("mos", "MOS (people)", False), ("mos_rank", "rank by MOS", False)]
    rows = []
    for g in groups:
        cells = [_cell(str(g.rank), g.rank), _cell(f"<b>{_e(g.group)}</b>", g.group, "t")]
        if has_tier:
            tier = _extra(g, "tier")
            badge = f'<span class="tier" style="background:{_tier_colour(tiers, tier)}">{_e(tier)}</span>' if tier is not None else "n/a"
            cells.append(_cell(badge, tier if isinstance(tier, (int, float)) else (None if tier is None else str(tier))))
        if has_rank_ci:
            lo, hi = _extra(g, "rank_lo"), _extra(g, "rank_hi")
            text = "n/a" if lo is None or hi is None else (f"{_e(lo)}" if lo == hi else f"{_e(lo)}&ndash;{_e(hi)}")
            cells.append(_cell(text, _finite(lo)))
        cells.append(_cell(str(g.n), g.n))
        if has_units:
            units = _extra(g, "units")
            cells.append(_cell("" if units is None else str(units), units))
        cells += [_cell(str(g.unreadable), g.unreadable), _estimate_cell(g.quality)]
        if has_mos_scale:
            cells.append(_estimate_cell(getattr(g, "quality_mos", None), 2))
        if has_bt:
            bt = _extra(g, "bt")
            cells.append(_estimate_cell(_Est(bt, _extra(g, "bt_lo"), _extra(g, "bt_hi")) if bt is not None else None, 0))
        cells += [_estimate_cell((g.attributes or {}).get(a), 2) for a in attributes]
        if attributes:
            shift = getattr(g, "shift", None)
            if shift is not None and shift.main and shift.main_shift is not None:
                lo, hi = (getattr(shift, "lo", None) or {}).get(shift.main), (getattr(shift, "hi", None) or {}).get(shift.main)
                bounds = f' <span class="ci">[{lo:+.2f}, {hi:+.2f}]</span>' if lo is not None and hi is not None else ""
                cells.append(_cell(f"{_e(shift.main)} {shift.main_shift:+.2f} SD{bounds}", abs(shift.main_shift), "t"))
            else:
                cells.append(_cell("(reference)" if g.group == reference else "n/a", None, "t"))
        if has_human:
            human = getattr(g, "human", None)
            mos, mos_rank = (human.mos, human.rank) if human is not None else (None, None)
            cells += [_cell(_num(mos), _finite(mos)), _cell("" if mos_rank is None else str(mos_rank), mos_rank)]
        rows.append(cells)
    return _table("groups", columns, rows)


class _Est:
    """A stand-in :class:`~iqa.ranking.Estimate` for (mean, lo, hi) read from optional fields."""

    def __init__(self, mean: Any, lo: Any, hi: Any) -> None:
        self.mean, self.lo, self.hi = mean, lo, hi


# -- the CI plot -------------------------------------------------------------------------------------------------------


def _ticks(low: float, high: float, count: int = 6) -> list[float]:
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [round(first + k * step, 10) for k in range(int((high - first) / step + 1e-9) + 1)]


def _ci_plot(results: Any, level: int) -> str:
    """Inline SVG: per group (best at the top) the mean quality as a dot and its CI as a whisker, by tier when there are tiers."""
    groups = results.groups
    tiers = _tiers(groups)
    values = [v for g in groups for v in (_finite(g.quality.mean), _finite(g.quality.lo), _finite(g.quality.hi)) if v is not None]
    if not values:
        return '<p class="note">No finite quality means to plot.</p>'
    low, high = min(values), max(values)
    pad = (high - low) * 0.06 or 0.05
    low, high = low - pad, high + pad
    row_h, left, right, top, width = 22, 190, 24, 34, 900
    plot_w = width - left - right
    height = top + row_h * len(groups) + 36

    def x(v: float) -> float:
        return left + (v - low) / (high - low) * plot_w

    parts = [f'<svg class="plot" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="mean quality per group with {level}% confidence intervals">']
    for i, g in enumerate(groups):
        tier = _extra(g, "tier")
        y = top + i * row_h
        if tier is not None:
            parts.append(f'<rect x="0" y="{y}" width="{width}" height="{row_h}" fill="{_tier_colour(tiers, tier)}" '
                         f'fill-opacity="{0.10 if tiers.index(tier) % 2 == 0 else 0.04}"/>')
        elif i % 2 == 1:
            parts.append(f'<rect x="0" y="{y}" width="{width}" height="{row_h}" fill="#f6f7f9"/>')
    for t in _ticks(low, high):
        parts.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{top + row_h * len(groups)}" stroke="#d9dde5"/>')
        parts.append(f'<text x="{x(t):.1f}" y="{top + row_h * len(groups) + 16}" text-anchor="middle" fill="#5b6475">{t:g}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 4}" text-anchor="middle" fill="#5b6475">'
                 f"mean quality (quality_norm, 0..1, 1 best), {level}% CI</text>")
    for i, g in enumerate(groups):
        tier = _extra(g, "tier")
        colour = _tier_colour(tiers, tier) if tiers else "#4c72b0"
        cy = top + i * row_h + row_h / 2
        name = g.group if len(g.group) <= 26 else g.group[:25] + "\u2026"
        label = f"{g.rank}. {name}"
        parts.append(f'<g><title>{_e(g.group)}: {_num(g.quality.mean)} [{_num(g.quality.lo)}, {_num(g.quality.hi)}]'
                     f'{f", tier {_e(tier)}" if tier is not None else ""}</title>')
        parts.append(f'<text x="{left - 10}" y="{cy + 4:.1f}" text-anchor="end">{_e(label)}</text>')
        lo, hi, mean = _finite(g.quality.lo), _finite(g.quality.hi), _finite(g.quality.mean)
        if lo is not None and hi is not None:
            parts.append(f'<line x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{cy:.1f}" y2="{cy:.1f}" stroke="{colour}" stroke-width="2"/>')
            for end in (lo, hi):
                parts.append(f'<line x1="{x(end):.1f}" x2="{x(end):.1f}" y1="{cy - 5:.1f}" y2="{cy + 5:.1f}" stroke="{colour}" '
                             f'stroke-width="2"/>')
        if mean is not None:
            parts.append(f'<circle cx="{x(mean):.1f}" cy="{cy:.1f}" r="5" fill="{colour}"/>')
        parts.append("</g>")
    if tiers:
        cursor = left
        for tier in tiers:
            parts.append(f'<rect x="{cursor}" y="8" width="12" height="12" rx="2" fill="{_tier_colour(tiers, tier)}"/>')
            parts.append(f'<text x="{cursor + 16}" y="18">tier {_e(tier)}</text>')
            cursor += 28 + 7 * len(f"tier {tier}")
    parts.append("</svg>")
    return "\n".join(parts)


# -- thumbnails --------------------------------------------------------------------------------------------------------


def _thumbnail(path: str, px: int) -> str | None:
    """A ``data:image/jpeg;base64,...`` URI of the image at most ``px`` on a side, or None when it cannot be read."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            image.draft("RGB", (2 * px, 2 * px))  # JPEG: decode at a reduced size directly
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "P"):
                image = image.convert("RGBA")
                flat = Image.new("RGB", image.size, (246, 247, 249))
                flat.paste(image, mask=image.getchannel("A"))
                image = flat
            image = image.convert("RGB")
            image.thumbnail((px, px), Image.LANCZOS)
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=72, optimize=True)
    except Exception:  # noqa: BLE001 - any file Pillow cannot decode (missing, truncated, not an image, too large) gets a placeholder
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _percentiles(frame: Any, ok: Any, attributes: Sequence[str]) -> dict[str, np.ndarray]:
    """Per attribute, the sorted finite scores of all readable images (the reference for the mid-rank percentile)."""
    out = {}
    for a in attributes:
        values = frame.loc[ok, a].to_numpy(dtype=np.float64)
        out[a] = np.sort(values[np.isfinite(values)])
    return out


def _percentile(sorted_values: np.ndarray, value: float) -> float | None:
    if not len(sorted_values) or not math.isfinite(value):
        return None
    below = np.searchsorted(sorted_values, value, side="left")
    at_or_below = np.searchsorted(sorted_values, value, side="right")
    return 100.0 * (below + at_or_below) / 2.0 / len(sorted_values)


def _figure(row: Any, attributes: Sequence[str], reference: dict[str, np.ndarray], px: int, root: Path | None,
            cache: dict[str, str | None]) -> str:
    path = str(row["path"])
    where = path if root is None or os.path.isabs(path) else str(root / path)
    if where not in cache:
        cache[where] = _thumbnail(where, px)
    uri = cache[where]
    name = Path(path).name
    image = (f'<img src="{uri}" alt="{_e(name)}">' if uri is not None else
             '<div class="ph" role="img" aria-label="image not readable">not readable</div>')
    bars = []
    for a in attributes:
        raw = _finite(row.get(a))
        pct = _percentile(reference[a], raw) if raw is not None else None
        width = 0.0 if pct is None else pct
        shown = "n/a" if pct is None else f"{pct:.0f}"
        tip = f"{a}: raw {_num(raw)}, percentile {shown} among all readable images"
        bars.append(f'<div class="bar {_e(a)}" title="{_e(tip)}"><span>{_e(a[:5])}</span><span class="track">'
                    f'<span class="fill" style="width:{width:.0f}%"></span></span><span>{shown}</span></div>')
    return (f'<figure>{image}<figcaption title="{_e(path)}"><b>{_num(row["quality_norm"])}</b> {_e(name)}</figcaption>'
            f'{"".join(bars)}</figure>')


def _gallery(results: Any, groups_shown: int, per_group: int, px: int, root: Path | None) -> str:
    frame = results.scores
    if frame is None or not len(frame) or "quality_norm" not in frame:
        return '<p class="note">No per-image scores.</p>'
    attributes = [a for a in results.attributes if a in frame.columns]
    quality = frame["quality_norm"].to_numpy(dtype=np.float64)
    errors = frame["error"].fillna("").astype(str) if "error" in frame else None
    ok = np.isfinite(quality) & ((errors == "").to_numpy() if errors is not None else True)
    reference = _percentiles(frame, ok, attributes)
    cache: dict[str, str | None] = {}
    sections = []
    for g in results.groups[:groups_shown]:
        rows = frame[ok & (frame["group"] == g.group).to_numpy()]
        rows = rows.assign(_order=rows["path"].astype(str)).sort_values(["quality_norm", "_order"], ascending=[False, True])
        records = rows.to_dict("records")
        best = records[:per_group]
        worst = records[max(len(best), len(records) - per_group):][::-1]
        strips = [f'<p class="kind">{kind}</p><div class="strip">'
                  + "".join(_figure(r, attributes, reference, px, root, cache) for r in chosen) + "</div>"
                  for kind, chosen in (("best", best), ("worst", worst)) if chosen]
        sections.append(f'<section class="group" id="group-{g.rank}"><h3>{g.rank}. {_e(g.group)} '
                        f'<span class="ci">({len(records)} readable images)</span></h3>{"".join(strips)}</section>')
    notes = ['<p class="note">Bars: the image\'s percentile among all readable images of this ranking for each attribute '
             "(raw scores are relative and unbounded; higher = more of the attribute, noisiness: higher = noisier; "
             "the raw score is in the tooltip).</p>"]
    if len(results.groups) > groups_shown:
        notes.append(f'<p class="note">Thumbnails for the first {groups_shown} of {len(results.groups)} groups by rank '
                     f"(<code>thumbnail_groups</code>); every image's scores are in scores.csv.</p>")
    return "".join(notes) + f'<div class="groups">{"".join(sections)}</div>'


# -- pairs, notes, settings --------------------------------------------------------------------------------------------


def _p(value: Any) -> tuple[str, float | None]:
    number = _finite(value)
    if number is None:
        return "n/a", None
    return (f"{number:.2g}" if number >= 1e-4 else "&lt;1e-4"), number


def _pair_table(results: Any, max_pairs: int) -> str:
    pairs = list(results.pairs)
    shown, note = pairs, ""
    if len(pairs) > max_pairs:
        position = {name: i for i, name in enumerate(results.order)}
        shown = [p for p in pairs if abs(position.get(p.a, -9) - position.get(p.b, -9)) == 1][:max_pairs]
        note = (f'<p class="note">{len(shown)} of {len(pairs)} pairs shown: those of neighbouring ranks, which decide the order '
                f"(more than <code>max_pairs</code> = {max_pairs}); every pair is in pairs.csv and ranking.json.</p>")
    unit_name = _e((results.settings or {}).get("unit", "unit"))
    columns = [("a", "A", True), ("b", "B", True), ("win_rate", "P(A &gt; B) [CI]", False),
               ("diff", "mean difference A &minus; B [CI]", False), ("test", "test", True), ("p", "p", False),
               ("p_holm", "p (adjusted)", False), ("verdict", "verdict", True)]
    rows, marked = [], set()
    for p in shown:
        unit = getattr(p, "unit", "prompt")
        test = p.test.split(" (")[0] + (f", {p.n_shared} {unit}s" if p.n_shared else "")
        marks = ""
        if getattr(p, "subset", False):
            marks += " &dagger;"
            marked.add("subset")
        if not getattr(p, "agrees", True):
            marks += " &Dagger;"
            marked.add("against")
        p_text, p_value = _p(p.p)
        holm_text, holm_value = _p(p.p_holm)
        verdict = "distinguishable" if p.distinguishable else "not distinguishable"
        shown_verdict = verdict if p.distinguishable else f'<span class="ci">{verdict}</span>'
        win = _Est(p.win_rate, getattr(p, "win_lo", None), getattr(p, "win_hi", None))
        rows.append([_cell(_e(p.a), p.a, "t"), _cell(_e(p.b), p.b, "t"), _estimate_cell(win, bounds=False),
                     _estimate_cell(_Est(p.diff, p.diff_lo, p.diff_hi)), _cell(_e(test) + marks, test, "t"),
                     _cell(p_text, p_value), _cell(holm_text, holm_value), _cell(shown_verdict, verdict, "t")])
    legend = ""
    if "subset" in marked:
        legend += f'<p class="note">&dagger; paired on the {unit_name}s both groups have only, fewer than the order uses.</p>'
    if "against" in marked:
        legend += (f'<p class="note">&Dagger; on their shared {unit_name}s B scores higher, against the order '
                   f"(which uses every {unit_name}).</p>")
    return note + _table("pairs", columns, rows) + legend


def _agreement(results: Any) -> str:
    a = results.agreement
    if a is None:
        return ""
    spearman = _interval(a.spearman, getattr(a, "spearman_lo", None), getattr(a, "spearman_hi", None))
    kendall = _interval(a.kendall, getattr(a, "kendall_lo", None), getattr(a, "kendall_hi", None))
    cis = ", bootstrap CIs" if getattr(a, "spearman_lo", None) is not None or getattr(a, "kendall_lo", None) is not None else ""
    return (f"<h2>Agreement with people ({a.groups} groups with MOS)</h2><ul>"
            f"<li>ranking by mean MOS: {' &gt; '.join(_e(n) for n in a.human_order)}</li>"
            f"<li>the model's ranking: {' &gt; '.join(_e(n) for n in a.model_order)}</li>"
            f"<li>Spearman {spearman}, Kendall {kendall} (group means{cis}); image-level SRCC {_num(a.image_srcc)}</li></ul>")


def _breakdowns(results: Any, level: int) -> str:
    """Per category column, a sortable table (``id="breakdown-<column>"``) of every (value, group): rank, images, units, quality [CI]."""
    rows_all = list(getattr(results, "breakdowns", None) or [])
    if not rows_all:
        return ""
    unit = (results.settings or {}).get("unit", "image")
    out = ["<h2>Breakdown</h2>", '<p class="note">Per value of each category column: every group\'s rank among the groups and its '
           "mean quality on the images with that value.</p>"]
    for column in dict.fromkeys(b.column for b in rows_all):
        columns = [("value", _e(column), True), ("rank", "rank", False), ("group", "group", True), ("n", "n", False),
                   ("units", f"{_e(unit)}s", False), ("quality", f"quality [{level}% CI]", False)]
        rows = [[_cell(_e(b.value), b.value, "t"), _cell(str(b.rank), b.rank), _cell(_e(b.group), b.group, "t"), _cell(str(b.n), b.n),
                 _cell(str(b.units), b.units), _estimate_cell(b.quality)] for b in rows_all if b.column == column]
        out += [f"<h3>By {_e(column)}</h3>", _table(f"breakdown-{column}", columns, rows)]
    return "".join(out)


def _notes(results: Any) -> str:
    out = []
    if results.warnings:
        out.append("<h2>Warnings and notes</h2><ul>" + "".join(f"<li>{_e(w)}</li>" for w in results.warnings) + "</ul>")
    if results.unreadable:
        items = []
        for group, files in results.unreadable.items():
            shown = ", ".join(f'<code title="{_e(f.path)}">{_e(Path(f.path).name)}</code> ({_e(f.reason)})' for f in files[:10])
            more = f" and {len(files) - 10} more (ranking.json)" if len(files) > 10 else ""
            items.append(f"<li>{_e(group)}: {len(files)}: {shown}{more}</li>")
        out.append("<h2>Unreadable files</h2><ul>" + "".join(items) + "</ul>")
    return "".join(out)


def _settings(results: Any) -> str:
    settings = results.settings or {}
    if not settings:
        return ""
    rows = []
    for key, value in settings.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        rows.append(f'<tr><th class="t" scope="row">{_e(key)}</th><td class="t">{_e(text)}</td></tr>')
    return f'<h2>Settings</h2><div class="scroll"><table id="settings">{"".join(rows)}</table></div>'


# -- the page ----------------------------------------------------------------------------------------------------------


def render_html(results: Any, *, title: str | None = None, thumbnail_groups: int = THUMBNAIL_GROUPS, per_group: int = PER_GROUP,
                thumbnail_px: int = THUMBNAIL_PX, max_pairs: int = MAX_PAIRS, image_root: str | os.PathLike | None = None) -> str:
    """``ranking.html`` of ``results`` (:class:`~iqa.ranking.RankingResults`) as a string: see the module docstring.

    ``thumbnail_groups``: thumbnails for this many groups (the first by rank; 0
    for none); ``per_group``: best and worst images shown per group (each);
    ``thumbnail_px``: their longest side; ``max_pairs``: above this many pairs
    only the pairs of neighbouring ranks are listed; ``image_root``: the folder
    relative image paths are read from (default: the working directory).
    """
    settings = results.settings or {}
    level = int(round(100 * float(settings.get("level", 0.95))))
    heading = title if title is not None else f"Ranking of {len(results.groups)} groups"
    root = Path(image_root) if image_root is not None else None
    meta = []
    if settings.get("checkpoint"):
        meta.append(f"Checkpoint <code>{_e(settings['checkpoint'])}</code> (fine-tuned on {_e(settings.get('trained_on'))}).")
    images = len(results.scores) if results.scores is not None else settings.get("images", "?")
    pairs = settings.get("pairs") or "Holm's correction"
    meta.append(f"{len(results.groups)} groups, {_e(images)} images. Quality: mean predicted quality "
                f"(<code>quality_norm</code>, 0..1, 1 best); {level}% CIs: {_e(settings.get('ci', 'bootstrap'))}, "
                f"seed {_e(settings.get('seed', 'n/a'))}. Pairs: {_e(pairs)}, "
                f"alpha {_e(settings.get('alpha', 'n/a'))}.")
    script = _SCRIPT.strip()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode("ascii")
    policy = (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{digest}'; "
              "base-uri 'none'; form-action 'none'")
    sort_hint = ('<p class="note">Click a column header to sort (again to reverse); '
                 "<code>#sort=quality:desc</code> in the address sorts on load.</p>")
    body = [
        f"<h1>{_e(heading)}</h1>",
        *(f'<p class="meta">{m}</p>' for m in meta),
        "<h2>Groups</h2>", sort_hint, _group_table(results, level),
        '<p class="note">Attribute scores are raw and relative (higher = more of the attribute; noisiness: higher = noisier). '
        "Main attribute: the one whose group mean differs most from the reference group's, in standard deviations of that "
        "attribute over all images.</p>" if results.attributes else "",
        f"<h2>Mean quality with {level}% CIs</h2>", _ci_plot(results, level),
        f"<h2>Best and worst images per group (by quality, {max(0, int(per_group))} each)</h2>",
        _gallery(results, max(0, int(thumbnail_groups)), max(0, int(per_group)), int(thumbnail_px), root)
        if thumbnail_groups > 0 and per_group > 0 else '<p class="note">Thumbnails turned off.</p>',
        f"<h2>Pairs ({_e(settings.get('pairs') or len(results.pairs))}; alpha {_e(settings.get('alpha', 'n/a'))})</h2>",
        _pair_table(results, int(max_pairs)),
        _agreement(results), _breakdowns(results, level), _notes(results), _settings(results),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(heading)}</title>\n<style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(part for part in body if part)
            + f"\n<script>{script}</script>\n</body></html>\n")


def write_html(results: Any, out_dir: str | os.PathLike, **options: Any) -> Path:
    """Write ``ranking.html`` (:func:`render_html` with ``options``) into ``out_dir`` atomically; returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / HTML_FILE
    atomic_write_text(path, render_html(results, **options))
    return path
