"""The ranking's files: tiers, rank CIs, Bradley-Terry, win-rate CIs, subset marks, agreement CIs and breakdowns in each."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

from iqa.ranking import analyse
from iqa.ranking.reports import REPORT_FILES, breakdown_rows, markdown, write_reports

pytestmark = pytest.mark.unit


def prompted(seed: int = 0) -> pd.DataFrame:
    """Three groups on 24 shared prompts (b lacks 6 of them), two styles, a MOS."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(0, 0.1, 24)
    rows = []
    for group, mean in (("a", 0.8), ("b", 0.78), ("c", 0.5)):
        for p in range(24):
            if group == "b" and p >= 18:
                continue
            for k in range(2):
                q = mean + effect[p] + rng.normal(0, 0.03)
                rows.append({"group": group, "path": f"/x/{group}/p{p}_{k}.png", "prompt": f"p{p}", "style": "photo" if p % 2 else "anime",
                             "quality_norm": q, "noisiness": rng.normal(), "mos": 5 * q + rng.normal(0, 0.1), "error": ""})
    return pd.DataFrame(rows)


def test_markdown_shows_tiers_rank_intervals_bradley_terry_win_intervals_agreement_and_breakdowns():
    results = analyse(prompted(), attributes=["noisiness"], n_boot=300)
    text = markdown(results)
    assert "| tier | rank [95% CI] | group | n | prompts |" in text
    for g in results.groups:
        rank = f"{g.rank} [{g.rank_lo}–{g.rank_hi}]" if g.rank_lo != g.rank_hi else f"{g.rank} [{g.rank_lo}]"
        assert f"| {g.tier} | {rank} | {g.group} | {g.n} | {g.units} |" in text
        assert f"| {g.group} | {g.bt:.0f} [{g.bt_lo:.0f}, {g.bt_hi:.0f}] | {g.games:.1f} |" in text
    ab = results.pair("a", "b") if results.order.index("a") < results.order.index("b") else results.pair("b", "a")
    assert f"{ab.win_rate:.3f} [{ab.win_lo:.3f}, {ab.win_hi:.3f}]" in text
    assert ab.subset and "†" in text and "paired on the prompts both groups have only" in text
    a = results.agreement
    assert f"Spearman {a.spearman:.3f} [{a.spearman_lo:.3f}, {a.spearman_hi:.3f}]" in text
    assert "### By style" in text and "| anime |" in text and "| photo |" in text
    assert "Unit of analysis: the prompt" in text


def test_breakdown_csv_holds_every_row_and_only_the_header_without_categories(tmp_path):
    results = analyse(prompted(), attributes=["noisiness"], n_boot=300)
    write_reports(results, tmp_path / "with")
    with open(tmp_path / "with" / "breakdown.csv", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert len(read) == len(results.breakdowns) == 6
    for row, b in zip(read, results.breakdowns):
        read_back = (row["column"], row["value"], row["group"], int(row["rank"]), int(row["units"]))
        assert read_back == (b.column, b.value, b.group, b.rank, b.units)
        assert float(row["quality"]) == pytest.approx(b.quality.mean, abs=1e-6)
    bare = analyse(prompted().drop(columns=["style"]), n_boot=200)
    assert breakdown_rows(bare)[1] == []
    write_reports(bare, tmp_path / "without")
    assert (tmp_path / "without" / "breakdown.csv").read_text().strip() == ",".join(breakdown_rows(bare)[0])


def test_every_report_file_is_written_and_the_tables_carry_the_new_columns(tmp_path):
    results = analyse(prompted(), attributes=["noisiness"], n_boot=300)
    written = write_reports(results, tmp_path)
    assert sorted(p.name for p in written["files"]) == sorted(REPORT_FILES)
    assert all((tmp_path / name).stat().st_size > 0 for name in REPORT_FILES)
    assert {"ranking.html", "breakdown.csv"} <= set(REPORT_FILES)
    groups = pd.read_csv(tmp_path / "ranking.csv")
    assert {"tier", "rank_lo", "rank_hi", "units", "bt", "bt_lo", "bt_hi", "games"} <= set(groups.columns)
    assert list(groups.group) == results.order and list(groups.tier) == [g.tier for g in results.groups]
    pairs = pd.read_csv(tmp_path / "pairs.csv")
    assert {"win_lo", "win_hi", "unit", "subset", "agrees"} <= set(pairs.columns) and len(pairs) == 3
    assert set(pairs.unit) == {"prompt"}
    payload = json.loads((tmp_path / "ranking.json").read_text())
    assert len(payload["breakdowns"]) == 6 and payload["settings"]["unit"] == "prompt"
    page = (tmp_path / "ranking.html").read_text()
    assert "Bradley&ndash;Terry" in page and "<h3>By style</h3>" in page and "&dagger;" in page


def test_the_figure_of_many_groups_draws_the_top_and_bottom_sixty():
    import io

    from PIL import Image

    from iqa.ranking.reports import FIGURE_GROUPS, figure

    def frame(groups: int) -> pd.DataFrame:
        rng = np.random.default_rng(groups)
        return pd.DataFrame([{"group": f"g{g:03d}", "path": f"/x/{g}/{i}.png", "quality_norm": g / groups + rng.normal(0, 0.01),
                              "noisiness": rng.normal(), "error": ""} for g in range(groups) for i in range(3)])

    def height(groups: int) -> int:
        return Image.open(io.BytesIO(figure(analyse(frame(groups), attributes=["noisiness"], n_boot=100, min_group=1)))).size[1]

    assert height(200) == height(FIGURE_GROUPS) > height(FIGURE_GROUPS // 2)
