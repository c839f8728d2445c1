"""Reports of a ranking (:class:`iqa.ranking.RankingResults`): tables, a figure, logger output.

:func:`write_reports` writes, in one directory:

* ``ranking.md``: the group table (tier, rank with its CI, n, units, mean
  quality and attributes with CIs, the attribute that moves most against the
  reference group with its CI; tier and rank CI only when the results carry
  them), the Bradley-Terry table where groups have a rating, the
  pairwise table (win rate and mean difference with CIs, p-value, adjusted
  p-value, verdict; † for a test on a subset of the units, ‡ for a shared-unit
  difference against the order), the agreement with MOS with CIs, the
  breakdowns (at most 20 values per column), warnings and unreadable files;
* ``ranking.html``: the same as one self-contained, sortable page with the CI
  plot and thumbnails (:mod:`iqa.ranking.html`);
* ``ranking.csv`` (a row per group), ``pairs.csv`` (a row per pair),
  ``scores.csv`` (a row per image), ``breakdown.csv`` (a row per category
  value and group; the header alone when there is no category) and
  ``ranking.json`` (everything but the per-image scores);
* ``ranking.png``: group means with CI bars, and one panel per attribute (the
  top and bottom 30 groups when there are more than 60).

Every file is written atomically, from the results' JSON-ready form
(``to_dict()``). :func:`log_ranking` sends the tables and the figure to a W&B
logger (scalars for other loggers); :func:`report` does all of it for a run:
the files, W&B when asked (``iqa/conf/logger/wandb.yaml``), the printed summary.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
from pathlib import Path
from typing import Any, Protocol

from iqa.io import atomic_write_bytes, atomic_write_json, atomic_write_text

__all__ = ["Ranking", "figure", "group_rows", "log_ranking", "markdown", "pair_rows", "report", "write_reports"]

#: File names :func:`write_reports` writes.
REPORT_FILES = ("ranking.md", "ranking.html", "ranking.csv", "pairs.csv", "scores.csv", "breakdown.csv", "ranking.json", "ranking.png")
#: Groups drawn in ranking.png: past this, the top and bottom halves of it.
FIGURE_GROUPS = 60
#: Values per breakdown column shown in ranking.md (breakdown.csv and ranking.html have them all).
MARKDOWN_BREAKDOWN_VALUES = 20


class Ranking(Protocol):
    """What the reports read: the JSON-ready form and the per-image scores (as :class:`iqa.ranking.RankingResults` has)."""

    scores: Any  # pandas.DataFrame

    def to_dict(self) -> dict[str, Any]: ...


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _ci(row: dict[str, Any], key: str, digits: int = 3) -> str:
    return f"{_num(row.get(key), digits)} [{_num(row.get(f'{key}_lo'), digits)}, {_num(row.get(f'{key}_hi'), digits)}]"


def _interval(mean: Any, lo: Any, hi: Any, digits: int = 3) -> str:
    """``mean [lo, hi]``, or the mean alone when there are no bounds (an older results file, an interval not computed)."""
    if lo is None and hi is None:
        return _num(mean, digits)
    return f"{_num(mean, digits)} [{_num(lo, digits)}, {_num(hi, digits)}]"


def _p(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2g}" if value >= 1e-4 else "<1e-4"


def _rank_ci(g: dict[str, Any]) -> str:
    lo, hi = g.get("rank_lo"), g.get("rank_hi")
    if lo is None or hi is None:
        return str(g["rank"])
    return f"{g['rank']} [{lo}–{hi}]" if lo != hi else f"{g['rank']} [{lo}]"


def _shift(g: dict[str, Any], reference: Any) -> str:
    main = g.get("main_attribute")
    if not main or g.get("main_attribute_shift") is None:
        return "(reference)" if g["group"] == reference else "n/a"
    lo, hi = (g.get("attribute_shifts_lo") or {}).get(main), (g.get("attribute_shifts_hi") or {}).get(main)
    bounds = f" [{lo:+.2f}, {hi:+.2f}]" if lo is not None and hi is not None else ""
    return f"{main} {g['main_attribute_shift']:+.2f} SD{bounds}"


def markdown(results: Ranking) -> str:
    """``ranking.md``: the group table (tiers, rank CIs), Bradley-Terry, the pairs, the agreement with MOS, breakdowns, warnings and
    unreadable files."""
    data = results.to_dict()
    s, groups, pairs, attributes = data["settings"], data["groups"], data["pairs"], data["attributes"]
    agreement, warnings, unreadable = data["agreement"], data["warnings"], data["unreadable"]
    breakdowns = data.get("breakdowns") or []
    level = int(round(100 * s.get("level", 0.95)))
    scale = s.get("quality_scale") or {}
    unit = s.get("unit", "image")
    lines = [f"# Ranking of {len(groups)} groups", ""]
    if s.get("checkpoint"):
        lines.append(f"Checkpoint `{s['checkpoint']}` (fine-tuned on {s.get('trained_on')}); {s.get('images', '?')} images, "
                     f"{s.get('newly_scored', '?')} newly scored, {s.get('from_cache', '?')} from the cache.")
    on_scale = f" and on the MOS scale {scale['range']} of {scale.get('dataset')}" if scale.get("range") else ""
    lines.append(f"Quality: mean predicted quality on 0..1 (1 best){on_scale}; {level}% CIs: {s.get('ci')}, seed {s.get('seed')}.")
    if unit != "image":
        lines.append(f"Unit of analysis: the {unit} (a group's images of one {unit} are averaged first; {s.get('design')}).")
    lines.append("")
    has_tier, has_rank_ci = any(g.get("tier") is not None for g in groups), any(g.get("rank_lo") is not None for g in groups)
    header = ["tier"] if has_tier else []
    header += [f"rank [{level}% CI]" if has_rank_ci else "rank", "group", "n", f"{unit}s" if unit != "image" else "readable",
               "unreadable", f"quality [{level}% CI]"]
    if any("quality_mos" in g for g in groups):
        header.append("on the MOS scale")
    header += [f"{a} [{level}% CI]" for a in attributes]
    if attributes:
        header.append(f"main attribute vs {s.get('reference')} [{level}% CI]")
    if any("mos" in g for g in groups):
        header += ["MOS (people)", "rank by MOS"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for g in groups:
        units = g.get("units")
        cells = [str(g.get("tier") or "")] if has_tier else []
        cells += [_rank_ci(g), g["group"], str(g["n"]), "" if units is None else str(units), str(g["unreadable"]), _ci(g, "quality")]
        if "quality_mos" in g:
            cells.append(_ci(g, "quality_mos", 2))
        cells += [_ci(g, a, 2) for a in attributes]
        if attributes:
            cells.append(_shift(g, s.get("reference")))
        if "mos" in g:
            cells += [_num(g.get("mos")), str(g.get("mos_rank") or "")]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    notes = []
    if has_tier:
        notes.append("Tier: groups in one tier are not distinguishable from the tier's top group (adjusted p >= alpha).")
    if has_rank_ci:
        notes.append("Rank CI: the range of the group's rank over the bootstrap resamples.")
    if notes:
        lines += [" ".join(notes), ""]
    if attributes:
        lines += ["Attribute scores are raw and relative (higher = more of the attribute; noisiness: higher = noisier). "
                  "Main attribute: the one whose group mean differs most from the reference group's, in standard deviations of "
                  "that attribute over all images.", ""]
    if any(g.get("bt") is not None for g in groups):
        lines += [f"## Bradley-Terry (Elo scale: mean 1000, 400 points = 10:1 odds; per-{unit} head-to-heads)", "",
                  f"| group | rating [{level}% CI] | games |", "|---|---|---|"]
        for g in sorted(groups, key=lambda g: (g.get("bt") is None, -(g.get("bt") or 0.0))):
            lines.append(f"| {g['group']} | {_ci(g, 'bt', 0)} | {_num(g.get('games'), 1)} |")
        lines.append("")
    lines.append(f"## Pairs ({s.get('pairs') or f'{len(pairs)} pairs'}; alpha {s.get('alpha')})")
    lines.append("")
    lines.append(f"| A | B | P(A > B) [{level}% CI] | mean difference A - B [CI] | test | p | p (adjusted) | verdict |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for p in pairs:
        test = p["test"].split(" (")[0] + (f", {p['n_shared']} {p.get('unit', 'prompt')}s" if p.get("n_shared") else "")
        marks = ("†" if p.get("subset") else "") + ("‡" if not p.get("agrees", True) else "")
        verdict = "distinguishable" if p["distinguishable"] else "not distinguishable"
        win = _interval(p["win_rate"], p.get("win_lo"), p.get("win_hi"))
        lines.append(f"| {p['a']} | {p['b']} | {win} | {_ci(p, 'diff')}{marks} | {test} | {_p(p['p'])} | {_p(p['p_holm'])} | "
                     f"{verdict} |")
    if any(p.get("subset") for p in pairs):
        lines += ["", f"† paired on the {unit}s both groups have only, fewer than the order uses."]
    if any(not p.get("agrees", True) for p in pairs):
        lines += ["", f"‡ on their shared {unit}s B scores higher, against the order (which uses every {unit})."]
    if agreement:
        a = agreement
        intervals = (f"Spearman {_interval(a['spearman'], a.get('spearman_lo'), a.get('spearman_hi'))}, "
                     f"Kendall {_interval(a['kendall'], a.get('kendall_lo'), a.get('kendall_hi'))}")
        cis = f", {level}% CIs over {unit}s" if a.get("spearman_lo") is not None or a.get("kendall_lo") is not None else ""
        lines += ["", f"## Agreement with people ({a['groups']} groups with MOS, "
                      f"{'higher' if a.get('mos_higher_is_better', True) else 'lower'} MOS is better)", "",
                  f"- ranking by mean MOS: {' > '.join(a['human_order'])}",
                  f"- the model's ranking: {' > '.join(a['model_order'])}",
                  f"- {intervals} (group means{cis}); image-level SRCC {_num(a.get('image_srcc'))}"]
    if breakdowns:
        lines += ["", "## Breakdown", ""]
        for column in dict.fromkeys(b["column"] for b in breakdowns):
            rows = [b for b in breakdowns if b["column"] == column]
            values = list(dict.fromkeys(b["value"] for b in rows))
            lines += [f"### By {column}", "", f"| {column} | groups, best first: quality [{level}% CI] ({unit}s) |", "|---|---|"]
            for value in values[:MARKDOWN_BREAKDOWN_VALUES]:
                cells = sorted((b for b in rows if b["value"] == value), key=lambda b: b["rank"])
                lines.append(f"| {value} | " + "; ".join(f"{b['rank']}. {b['group']} {_ci(b, 'quality')} ({b['units']})" for b in cells)
                             + " |")
            if len(values) > MARKDOWN_BREAKDOWN_VALUES:
                lines.append(f"| ... | {len(values) - MARKDOWN_BREAKDOWN_VALUES} more values in breakdown.csv |")
            lines.append("")
    if warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in warnings]
    if unreadable:
        lines += ["", "## Unreadable files", ""]
        for group, items in unreadable.items():
            shown = ", ".join(f"`{Path(i['path']).name}` ({i['reason']})" for i in items[:10])
            more = f" and {len(items) - 10} more (ranking.json)" if len(items) > 10 else ""
            lines.append(f"- {group}: {len(items)}: {shown}{more}")
    return "\n".join(lines) + "\n"


def group_rows(results: Ranking) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of the group table (``ranking.csv`` and the W&B table)."""
    data = results.to_dict()
    groups, attributes = data["groups"], data["attributes"]
    keys = ["rank", "rank_lo", "rank_hi", "tier", "group", "n", "units", "unreadable", "quality", "quality_lo", "quality_hi"]
    if any(g.get("bt") is not None for g in groups):
        keys += ["bt", "bt_lo", "bt_hi", "games"]
    if any("quality_mos" in g for g in groups):
        keys += ["quality_mos", "quality_mos_lo", "quality_mos_hi"]
    for a in attributes:
        keys += [a, f"{a}_lo", f"{a}_hi"]
    if attributes:
        keys += ["main_attribute", "main_attribute_shift"]
    if any("mos" in g for g in groups):
        keys += ["mos", "mos_rank"]
    return keys, [[g.get(k) for k in keys] for g in groups]


def pair_rows(results: Ranking) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of the pair table (``pairs.csv`` and the W&B table)."""
    keys = ["a", "b", "n_a", "n_b", "unit", "n_shared", "subset", "agrees", "win_rate", "win_lo", "win_hi", "diff", "diff_lo", "diff_hi",
            "test", "p", "p_holm", "distinguishable"]
    return keys, [[p.get(k) for k in keys] for p in results.to_dict()["pairs"]]


def breakdown_rows(results: Ranking) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of ``breakdown.csv``: one row per (category column, value, group); the header alone when there is none."""
    keys = ["column", "value", "group", "rank", "n", "units", "quality", "quality_lo", "quality_hi"]
    return keys, [[b.get(k) for k in keys] for b in results.to_dict().get("breakdowns") or []]


def _csv(columns: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else f"{v:.6f}" if isinstance(v, float) else v for v in row])
    return buffer.getvalue()


def figure(results: Ranking) -> bytes:
    """PNG: mean quality per group with CI bars, then one panel per attribute (group means with CI bars)."""
    data = results.to_dict()
    attributes, rows_by_rank = data["attributes"], data["groups"]
    left_out = 0
    if len(rows_by_rank) > FIGURE_GROUPS:  # a readable figure: the top and the bottom of the order
        left_out = len(rows_by_rank) - FIGURE_GROUPS
        rows_by_rank = rows_by_rank[: FIGURE_GROUPS // 2] + rows_by_rank[-(FIGURE_GROUPS // 2):]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = ["quality", *attributes]
    columns = min(3, len(panels))
    rows = (len(panels) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(4.4 * columns, 0.35 * len(rows_by_rank) + 2.6 * rows), squeeze=False)
    names = [g["group"] for g in rows_by_rank][::-1]  # best at the top
    level = int(round(100 * data["settings"].get("level", 0.95)))
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, key in zip(axes.flat, panels):
        groups = rows_by_rank[::-1]
        means = [g.get(key) if g.get(key) is not None else math.nan for g in groups]
        low = [m - g[f"{key}_lo"] if g.get(f"{key}_lo") is not None else 0.0 for m, g in zip(means, groups)]
        high = [g[f"{key}_hi"] - m if g.get(f"{key}_hi") is not None else 0.0 for m, g in zip(means, groups)]
        colours = ["tab:blue"] * len(groups) if key == "quality" else \
            ["tab:red" if g.get("main_attribute") == key else "tab:grey" for g in groups]
        for y, (m, lo, hi, colour) in enumerate(zip(means, low, high, colours)):
            ax.errorbar([m], [y], xerr=[[lo], [hi]], fmt="o", color=colour, ecolor=colour, capsize=3, markersize=5)
        ax.set_yticks(range(len(groups)), names, fontsize=8)
        ax.set_ylim(-0.6, len(groups) - 0.4)
        ax.grid(axis="x", alpha=0.3)
        title = "quality (0..1, 1 best)" if key == "quality" else f"{key} (raw{', higher = noisier' if key == 'noisiness' else ''})"
        ax.set_title(f"{title}, {level}% CI", fontsize=9)
    title = []
    if attributes:
        title.append(f"red: a group's main attribute vs {data['settings'].get('reference')}")
    if left_out:
        title.append(f"the top and bottom {FIGURE_GROUPS // 2} groups; {left_out} between them in ranking.csv")
    if title:
        fig.suptitle("; ".join(title), fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def write_reports(results: Ranking, out_dir: str | Path) -> dict[str, Any]:
    """Write every report file (module docstring) into ``out_dir``; returns ``{"markdown": text, "files": [paths]}``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(results)
    files = {name: out / name for name in REPORT_FILES}
    atomic_write_text(files["ranking.md"], text)
    atomic_write_text(files["ranking.csv"], _csv(*group_rows(results)))
    atomic_write_text(files["pairs.csv"], _csv(*pair_rows(results)))
    frame = results.scores
    atomic_write_text(files["scores.csv"], _csv(list(frame.columns), frame.astype(object).where(frame.notna(), None).values.tolist()))
    atomic_write_text(files["breakdown.csv"], _csv(*breakdown_rows(results)))
    atomic_write_json(files["ranking.json"], results.to_dict())
    atomic_write_bytes(files["ranking.png"], figure(results))
    from iqa.ranking.html import write_html  # the page reads the results only, never these reports

    write_html(results, out)
    return {"markdown": text, "files": list(files.values()), "image": files["ranking.png"]}


def log_ranking(logger: Any, results: Ranking, image: str | Path | None = None) -> None:
    """Send the group and pair tables (and the figure) to a W&B logger; other loggers get the group means as scalars."""
    if not logger:
        return
    data = results.to_dict()
    if "wandb" in type(logger).__name__.lower():
        columns, rows = group_rows(results)
        logger.log_table(key="ranking", columns=columns, data=rows)
        columns, rows = pair_rows(results)
        logger.log_table(key="ranking_pairs", columns=columns, data=rows)
        if image:
            logger.log_image(key="ranking", images=[str(image)])
        if data["agreement"]:
            logger.experiment.summary.update({"rank_spearman": data["agreement"]["spearman"], "rank_kendall": data["agreement"]["kendall"]})
    else:
        logger.log_metrics({f"quality/{g['group']}": g["quality"] for g in data["groups"]}, step=0)


#: The WANDB_DIR values set here for earlier reports; a value the user set is never overridden.
_OWN_WANDB_DIR: list[str] = []


def _wandb_logger(out: Path, name: str) -> Any:
    """A W&B logger from ``iqa/conf/logger/wandb.yaml`` writing under ``out`` (offline with WANDB_MODE=offline)."""
    from omegaconf import OmegaConf

    from iqa.config import instantiate_node, load_group

    cfg = OmegaConf.create({"run_name": name, "run_dir": str(out), "task": "rank", "logger": load_group("logger", "wandb")})
    if os.environ.get("WANDB_DIR") is None or os.environ.get("WANDB_DIR") in _OWN_WANDB_DIR:
        os.environ["WANDB_DIR"] = str(out)
        _OWN_WANDB_DIR.append(str(out))
    if os.environ.get("WANDB_MODE") == "offline":
        os.environ.setdefault("WANDB_SILENT", "true")
    return instantiate_node(cfg.logger, drop=())


def _finish_wandb() -> None:
    """Finish the W&B run: an unfinished run never writes its summary."""
    import wandb

    if wandb.run is not None:
        wandb.finish()


def report(results: Ranking, out: str | os.PathLike, *, logger: str = "none", seconds: float = 0.0) -> dict[str, Any]:
    """Write the files into ``out``, log them to W&B when ``logger`` is ``"wandb"``, print the Markdown and a summary line.

    Returns what :func:`write_reports` returns.
    """
    out = Path(out)
    written = write_reports(results, out)
    if str(logger) == "wandb":
        run = _wandb_logger(out, out.name or "rank")
        try:
            log_ranking(run, results, written["image"])
        finally:
            _finish_wandb()
    print(written["markdown"])
    data = results.to_dict()
    s = data["settings"]
    scored = s.get("newly_scored", 0)
    rate = f" ({scored / seconds:.1f} img/s incl. loading)" if scored and seconds > 0 else ""
    print(f"{s.get('images')} images: {scored} scored, {s.get('from_cache')} from the cache, in {seconds:.1f}s{rate} -> "
          f"{out}/{', '.join(REPORT_FILES)}", file=sys.stderr)
    for note in data["warnings"]:
        print(f"warning: {note}", file=sys.stderr)
    return written
