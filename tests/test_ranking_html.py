"""ranking.html: one self-contained page (structure, escaping, thumbnails, optional columns, caps), and in a real browser.

The browser test needs Chromium on PATH (Debian: ``apt-get install chromium``) and is skipped without it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from _ranking_html_helpers import ATTRS, Extended, browser, dump_dom, screenshot, synthetic_frame, with_extras
from PIL import Image

from iqa.ranking import Agreement, BreakdownRow, Estimate, analyse
from iqa.ranking.html import HTML_FILE, THUMBNAIL_GROUPS, render_html, write_html

NAMES = ["gen_2", "gen_10", "gen_1", "gen_20"]


def results_for(names, folder: Path | None = None, n: int = 8, **options):
    return analyse(synthetic_frame(list(names), n=n, folder=folder), attributes=ATTRS, n_boot=200, **options)


def group_table(page: str) -> str:
    return re.search(r'<table id="groups".*?</table>', page, re.S).group(0)


def body_rows(table: str) -> list[str]:
    return re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1], re.S)


def column_keys(table: str) -> list[str]:
    return re.findall(r'<th data-key="([^"]*)"', table)


def group_order(table: str) -> list[str]:
    """The group names in the order of the table's body rows (the second cell of each)."""
    return [re.findall(r'<td data-v="([^"]*)"', row)[1] for row in body_rows(table)]


@pytest.mark.unit
def test_page_holds_the_tables_plot_thumbnails_and_nothing_from_the_network(tmp_path):
    results = results_for(NAMES, tmp_path / "images")
    page = render_html(results)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    table = group_table(page)
    assert group_order(table) == results.order and len(body_rows(table)) == 4
    assert column_keys(table)[:8] == ["rank", "group", "tier", "rank_ci", "n", "unreadable", "quality", "attr:sharpness"]
    top = results.groups[0]
    assert f"{top.quality.mean:.3f}" in table and f"[{top.quality.lo:.3f}, {top.quality.hi:.3f}]" in table
    # The CI plot: a dot and a whisker (line plus two caps) per group.
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert svg.count("<circle") == 4 and svg.count("stroke-width=\"2\"") == 12 and all(name in svg for name in NAMES)
    # Best and worst 3 per group, all readable: 24 thumbnails, inline JPEGs that decode.
    uris = re.findall(r'<img src="(data:image/jpeg;base64,[^"]+)"', page)
    assert len(uris) == 24 and "not readable" not in page
    thumb = Image.open(__import__("io").BytesIO(base64.b64decode(uris[0].split(",", 1)[1])))
    assert max(thumb.size) <= 96 and thumb.format == "JPEG"
    assert len(body_rows(re.search(r'<table id="pairs".*?</table>', page, re.S).group(0))) == 6
    assert '<table id="settings">' in page and "seed" in page
    # Self-contained: no address outside the page, every src a data: URI, a CSP that allows nothing else.
    assert not re.search(r"https?:", page, re.I) and "://" not in page and "href=" not in page
    assert all(src.startswith("data:") for src in re.findall(r'\ssrc="([^"]*)"', page))
    assert not re.search(r"<link\b|@import|url\(", page)
    assert "default-src 'none'; img-src data:" in page


@pytest.mark.unit
def test_sorting_script_is_inline_and_allowed_by_its_hash():
    page = render_html(results_for(NAMES))
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1 and "sortTable" in scripts[0] and "location.hash" in scripts[0] and "Intl.Collator" in scripts[0]
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page
    assert 'class="sortable"' in page and all(f'data-key="{k}"' in page for k in ("rank", "group", "quality", "win_rate", "p_holm"))
    # Numbers sort by their value (data-v), not by the text shown.
    assert re.search(r'<td data-v="0\.\d+"', group_table(page))


@pytest.mark.unit
def test_user_input_is_escaped_and_cannot_inject(tmp_path):
    evil = "<script>alert(1)</script>"
    names = [evil, 'a"b&c', "<img src=x onerror=alert(2)>"]
    results = results_for(names)
    results.warnings.append("note with <b>markup</b> & </td>")
    results.settings["inputs"] = "</code><script>alert(3)</script>"
    page = render_html(results, title="<title>x")
    assert page.count("<script") == 1 and "alert(1)</script>" not in page and "alert(3)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "a&quot;b&amp;c" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<b>markup</b>" not in page and "&lt;b&gt;markup&lt;/b&gt; &amp; &lt;/td&gt;" in page
    assert "<title>&lt;title&gt;x</title>" in page
    assert group_order(group_table(page)) == [__import__("html").escape(n) for n in results.order]


@pytest.mark.unit
def test_missing_and_unreadable_images_show_a_placeholder(tmp_path):
    frame = synthetic_frame(["a", "b"], n=4, folder=tmp_path)
    a_paths = frame.loc[frame.group == "a", "path"].tolist()
    Path(a_paths[0]).unlink()
    Path(a_paths[1]).write_bytes(b"not an image at all")
    Path(a_paths[2]).write_bytes(Path(a_paths[3]).read_bytes()[:60])  # truncated PNG
    frame.loc[frame.group == "b", "path"] = [str(tmp_path / "gone" / f"{i}.png") for i in range(4)]
    results = analyse(frame, attributes=ATTRS, n_boot=100)
    page = render_html(results)
    assert page.count('<div class="ph" role="img"') == 7 and page.count("<img src=\"data:") == 1
    # Relative paths are read from image_root.
    relative = frame.assign(path=[str(Path(p).relative_to(tmp_path)) if str(p).startswith(str(tmp_path)) else p for p in frame.path])
    assert render_html(analyse(relative, attributes=ATTRS, n_boot=100), image_root=tmp_path).count("<img src=\"data:") == 1


@pytest.mark.unit
def test_optional_columns_appear_only_when_rows_carry_them():
    bare = results_for(NAMES)
    bare.groups = [replace(g, tier=None, rank_lo=None, rank_hi=None) for g in bare.groups]
    plain = group_table(render_html(bare))
    assert not {"tier", "rank_ci", "bt", "quality_mos", "mos", "units"} & set(column_keys(plain))
    results = with_extras(results_for(NAMES))
    page = render_html(results)
    keys = column_keys(group_table(page))
    assert keys[:4] == ["rank", "group", "tier", "rank_ci"] and "bt" in keys
    extras = results.groups[1]
    assert f"{extras.bt:.0f} <span class=\"ci\">[{extras.bt_lo:.0f}, {extras.bt_hi:.0f}]</span>" in page
    assert re.search(r'<span class="tier" style="background:#[0-9a-f]{6}">1</span>', page)
    assert "&ndash;" in group_table(page) or all(g.rank_lo == g.rank_hi for g in results.groups)
    assert re.search(r'<rect x="0" y="\d+" width="\d+" height="\d+" fill="#[0-9a-f]{6}" fill-opacity', page)  # tier shading
    # One field alone, on some rows: only its column, blank where a row has none.
    base = bare
    base.groups = [Extended(g, tier="A" if g.rank <= 2 else None) for g in base.groups]
    keys = column_keys(group_table(render_html(base)))
    assert "tier" in keys and "rank_ci" not in keys and "bt" not in keys


@pytest.mark.unit
def test_units_win_intervals_marks_agreement_intervals_shift_intervals_and_sortable_breakdowns():
    results = results_for(NAMES)
    results.settings["unit"] = "prompt"
    results.groups = [replace(g, units=10 + k) for k, g in enumerate(results.groups)]
    first, second, third = results.pairs[:3]
    results.pairs[:3] = [replace(first, subset=True, win_lo=0.61, win_hi=0.83), replace(second, agrees=False),
                         replace(third, win_lo=None, win_hi=None)]
    results.agreement = Agreement(4, 0.8, 0.667, list(NAMES), list(NAMES), 0.55, True, {}, spearman_lo=0.4, spearman_hi=1.0,
                                  kendall_lo=0.333, kendall_hi=1.0)
    results.breakdowns = [BreakdownRow("style & kind", value, name, 4, 2, Estimate(0.7 - 0.1 * r, 0.6 - 0.1 * r, 0.8 - 0.1 * r), r)
                          for value in ("anime", "<photo>") for r, name in enumerate(results.order, start=1)]
    page = render_html(results)
    table = group_table(page)
    assert column_keys(table)[:6] == ["rank", "group", "tier", "rank_ci", "n", "units"] and ">prompts</th>" in table
    assert [re.findall(r'<td data-v="([^"]*)"', row)[5] for row in body_rows(table)] == ["10", "11", "12", "13"]
    shift = results.groups[1].shift
    assert f"{shift.main} {shift.main_shift:+.2f} SD <span class=\"ci\">[{shift.lo[shift.main]:+.2f}, {shift.hi[shift.main]:+.2f}]</span>" \
           in table
    pairs = re.search(r'<table id="pairs".*?</table>', page, re.S).group(0)
    rows = body_rows(pairs)
    assert f'{first.win_rate:.3f} <span class="ci">[0.610, 0.830]</span>' in rows[0] and "&dagger;" in rows[0]
    assert "&Dagger;" in rows[1] and "&dagger;" not in rows[1] and f'>{third.win_rate:.3f}</td>' in rows[2] and "n/a" not in rows[2]
    assert "&dagger; paired on the prompts both groups have only" in page and "&Dagger; on their shared prompts B scores higher" in page
    assert "Spearman 0.800 <span class=\"ci\">[0.400, 1.000]</span>, Kendall 0.667 <span class=\"ci\">[0.333, 1.000]</span>" in page
    breakdown = re.search(r'<table id="breakdown-style &amp; kind" class="sortable">.*?</table>', page, re.S).group(0)
    assert "<h3>By style &amp; kind</h3>" in page and column_keys(breakdown) == ["value", "rank", "group", "n", "units", "quality"]
    assert len(body_rows(breakdown)) == 8 and breakdown.count('data-v="&lt;photo&gt;"') == 4 and "<photo>" not in page
    assert ">prompts</th>" in breakdown and f'<td data-v="{results.order[0]}" class="t">' in breakdown


@pytest.mark.unit
def test_mos_columns_and_agreement_when_the_inputs_carry_a_mos():
    frame = synthetic_frame(NAMES, n=8)
    frame["mos"] = 5.0 - frame.groupby("group").ngroup()
    page = render_html(analyse(frame, attributes=ATTRS, n_boot=100))
    assert {"mos", "mos_rank"} <= set(column_keys(group_table(page))) and "Agreement with people" in page


@pytest.mark.unit
def test_attribute_bars_are_percentiles_among_all_readable_images():
    frame = synthetic_frame(["a", "b"], n=5)
    frame["sharpness"] = np.arange(10.0)  # a: 0..4, b: 5..9
    frame.loc[9, "error"] = "decode failed"  # left out of the reference too
    page = render_html(analyse(frame, attributes=ATTRS, n_boot=100))
    widths = {float(raw): int(w) for raw, w in re.findall(r'title="sharpness: raw (\d\.\d+), percentile \d+[^"]*">.*?width:(\d+)%', page)}
    # Mid-rank percentile among the 9 readable images: value v (0..8) -> 100 (v + 0.5) / 9.
    assert widths and all(w == round(100 * (v + 0.5) / 9) for v, w in widths.items())


@pytest.mark.unit
def test_many_groups_cap_thumbnails_and_pairs_and_stay_small(tmp_path):
    names = [f"g{i:02d}" for i in range(60)]
    results = analyse(synthetic_frame(names, n=3, folder=tmp_path), attributes=ATTRS, n_boot=100, min_group=2)
    page = render_html(results)
    assert page.count('<section class="group"') == THUMBNAIL_GROUPS and page.count("<img src=\"data:") == 3 * THUMBNAIL_GROUPS
    assert f"Thumbnails for the first {THUMBNAIL_GROUPS} of 60 groups" in page
    pairs = body_rows(re.search(r'<table id="pairs".*?</table>', page, re.S).group(0))
    assert len(results.pairs) == 1770 and len(pairs) == 59 and "59 of 1770 pairs shown: those of neighbouring ranks" in page
    assert len(body_rows(group_table(page))) == 60 and re.search(r"<svg.*?</svg>", page, re.S).group(0).count("<circle") == 60
    assert len(page.encode()) < 400_000, len(page.encode())
    assert render_html(results, thumbnail_groups=0).count("<img") == 0


@pytest.mark.unit
def test_write_html_writes_atomically_and_replaces(tmp_path):
    results = results_for(NAMES)
    out = tmp_path / "report"
    path = write_html(results, out)
    assert path == out / HTML_FILE and path.read_text() == render_html(results)
    (out / HTML_FILE).write_text("old")
    write_html(results, out, max_pairs=1)
    assert "neighbouring ranks" in path.read_text() and sorted(p.name for p in out.iterdir()) == [HTML_FILE]


# -- in a browser ------------------------------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.skipif(browser() is None, reason="no Chromium on PATH (apt-get install chromium); the page is checked in a browser "
                                             "only where one is installed")
def test_page_in_headless_chromium_renders_and_sorts(tmp_path):
    results = with_extras(results_for(NAMES, tmp_path / "images"))
    page = write_html(results, tmp_path)
    rank_order = results.order

    dom = dump_dom(page)
    assert 'data-ready="1"' in dom  # the script ran (the CSP let it)
    table = group_table(dom)
    assert group_order(table) == rank_order and "data-sorted" not in table

    # #sort=<column>[:desc] sorts on load: text in natural order, numbers by value, empty last.
    table = group_table(dump_dom(page, "#sort=group"))
    assert 'data-sorted="group:asc"' in table and 'aria-sort="ascending"' in table
    assert group_order(table) == ["gen_1", "gen_2", "gen_10", "gen_20"]  # numeric-aware, not gen_1, gen_10, gen_2, ...
    table = group_table(dump_dom(page, "#sort=quality"))
    assert group_order(table) == rank_order[::-1]
    assert group_order(group_table(dump_dom(page, "#sort=quality:desc"))) == rank_order
    pairs_dom = dump_dom(page, "#table=pairs&sort=win_rate")
    pairs = re.search(r'<table id="pairs".*?</table>', pairs_dom, re.S).group(0)
    rates = [float(re.findall(r'<td data-v="([^"]*)"', row)[2]) for row in body_rows(pairs)]
    assert 'data-sorted="win_rate:asc"' in pairs and rates == sorted(rates) and len(rates) == 6

    shot = screenshot(page, tmp_path / "shot.png", size=(1200, 1400))
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape[:2] == (1400, 1200)
    colours = len(np.unique(image.reshape(-1, 3), axis=0))
    inked = float((image.min(axis=2) < 200).mean())
    assert colours > 50 and 0.01 < inked < 0.9, (colours, inked)
