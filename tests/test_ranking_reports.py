"""The ranking's files: tiers, rank CIs, Bradley-Terry, win-rate CIs, subset marks, agreement CIs and breakdowns in each."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from iqa.ranking import Agreement, AttributeShift, BreakdownRow, Estimate, GroupRow, HumanRating, PairRow, RankingResults, analyse
from iqa.ranking.reports import MARKDOWN_BREAKDOWN_VALUES, REPORT_FILES, breakdown_rows, markdown, write_reports

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


# -- a ranking built by hand: every field known ------------------------------------------------------------------------

NAMES = ["alpha", "beta", "gamma", "delta"]
#: 25 values of "class": more than the markdown shows (MARKDOWN_BREAKDOWN_VALUES).
CLASSES = [f"c{k:02d}" for k in range(25)]


def built() -> RankingResults:
    """Four groups on shared prompts: tiers 1, 1, 2, 3, rank CIs, ratings, a subset pair, a pair against the order, two breakdowns."""
    groups = []
    for rank, (name, tier, (lo, hi), units, bt) in enumerate(zip(NAMES, (1, 1, 2, 3), ((1, 2), (1, 2), (3, 3), (3, 4)), (40, 36, 40, 40),
                                                                 (1180.0, 1120.0, 930.0, 770.0)), start=1):
        q = 0.9 - 0.1 * rank
        shift = (AttributeShift("", None, {"noisiness": 0.0}, {"noisiness": 0.0}, {"noisiness": 0.0}) if name == "alpha" else
                 AttributeShift("noisiness", 0.5 * rank, {"noisiness": 0.5 * rank}, {"noisiness": 0.5 * rank - 0.3},
                                {"noisiness": 0.5 * rank + 0.3}))
        groups.append(GroupRow(rank, name, 2 * units, rank - 1, Estimate(q, q - 0.02, q + 0.02), attributes={"noisiness": Estimate(
            0.1 * rank, 0.1 * rank - 0.05, 0.1 * rank + 0.05)}, shift=shift, human=HumanRating(5.0 - rank, rank), units=units, tier=tier,
            rank_lo=lo, rank_hi=hi, bt=bt, bt_lo=bt - 40.0, bt_hi=bt + 40.0, games=60.0 + rank))
    pairs = []
    for i, a in enumerate(NAMES):
        for b in NAMES[i + 1:]:
            subset, agrees = (a, b) == ("alpha", "beta"), (a, b) != ("gamma", "delta")
            gap = NAMES.index(b) - i
            diff = 0.1 * gap if agrees else -0.01
            pairs.append(PairRow(a, b, 80, 72 if b == "beta" else 80, 0.5 + 0.1 * gap, "wilcoxon signed-rank (paired)",
                                 36 if subset else 40, diff, diff - 0.05, diff + 0.05, 0.001 / gap, 0.004 / gap,
                                 (a, b) not in (("alpha", "beta"), ("gamma", "delta")), win_lo=0.45 + 0.1 * gap, win_hi=0.55 + 0.1 * gap,
                                 unit="prompt", subset=subset, agrees=agrees))
    agreement = Agreement(4, 0.8, 0.667, list(NAMES), list(NAMES), 0.55, True, {}, spearman_lo=0.4, spearman_hi=1.0, kendall_lo=0.333,
                          kendall_hi=1.0)
    breakdowns = [BreakdownRow("style", style, name, 20, 18, Estimate(0.8 - 0.1 * r, 0.75 - 0.1 * r, 0.85 - 0.1 * r), r)
                  for style in ("anime", "photo") for r, name in enumerate(NAMES, start=1)]
    breakdowns += [BreakdownRow("class", value, name, 4, 3, Estimate(0.5, None, None) if k == 0 else
                                Estimate(0.7 - 0.1 * r, 0.6 - 0.1 * r, 0.8 - 0.1 * r), r)
                   for k, value in enumerate(CLASSES) for r, name in enumerate(NAMES, start=1)]
    scores = pd.DataFrame([{"group": g.group, "path": f"/nowhere/{g.group}/{p}.png", "prompt": f"p{p}", "quality_norm": g.quality.mean,
                            "noisiness": 0.1, "error": ""} for g in groups for p in range(3)])
    settings = {"seed": 0, "level": 0.95, "alpha": 0.05, "n_boot": 500, "reference": "alpha", "unit": "prompt",
                "design": "units shared across groups, resampled jointly", "pairs": "all 6 pairs, Holm's correction",
                "ci": "percentile bootstrap over prompts"}
    return RankingResults(groups=groups, pairs=pairs, attributes=["noisiness"], scores=scores, agreement=agreement, settings=settings,
                          breakdowns=breakdowns)


def test_markdown_of_a_built_ranking_has_every_new_column_mark_interval_and_section():
    text = markdown(built())
    assert "| tier | rank [95% CI] | group | n | prompts | unreadable | quality [95% CI] | noisiness [95% CI] | " \
           "main attribute vs alpha [95% CI] | MOS (people) | rank by MOS |" in text
    assert "| 1 | 1 [1–2] | alpha | 80 | 40 | 0 | 0.800 [0.780, 0.820] | 0.10 [0.05, 0.15] | (reference) | 4.000 | 1 |" in text
    assert "| 2 | 3 [3] | gamma | 80 | 40 | 2 | 0.600 [0.580, 0.620] | 0.30 [0.25, 0.35] | noisiness +1.50 SD [+1.20, +1.80] |" in text
    assert "| 3 | 4 [3–4] | delta | 80 | 40 | 3 |" in text and "| 1 | 2 [1–2] | beta | 72 | 36 | 1 |" in text
    assert "Unit of analysis: the prompt" in text and "Tier: groups in one tier" in text
    # Bradley-Terry: best first, rating [CI] and games.
    bt = text.split("## Bradley-Terry")[1].split("## Pairs")[0]
    assert [line.split(" | ")[0] for line in bt.splitlines() if line.startswith("| ") and "rating" not in line] == \
           ["| alpha", "| beta", "| gamma", "| delta"]
    assert "| alpha | 1180 [1140, 1220] | 61.0 |" in bt and "| delta | 770 [730, 810] | 64.0 |" in bt
    # Pairs: the win-rate CI, † on the subset pair, ‡ on the pair against the order, and their footnotes.
    assert "## Pairs (all 6 pairs, Holm's correction; alpha 0.05)" in text
    assert "| alpha | beta | 0.600 [0.550, 0.650] | 0.100 [0.050, 0.150]† | wilcoxon signed-rank, 36 prompts | 0.001 | 0.004 | " \
           "not distinguishable |" in text
    assert "| gamma | delta | 0.600 [0.550, 0.650] | -0.010 [-0.060, 0.040]‡ |" in text
    assert "| alpha | gamma | 0.700 [0.650, 0.750] | 0.200 [0.150, 0.250] | wilcoxon" in text
    assert text.count("†") == 2 and text.count("‡") == 2
    assert "† paired on the prompts both groups have only" in text and "‡ on their shared prompts B scores higher" in text
    assert "- Spearman 0.800 [0.400, 1.000], Kendall 0.667 [0.333, 1.000] (group means, 95% CIs over prompts); image-level SRCC 0.550" \
           in text


def test_markdown_breakdowns_list_groups_by_rank_and_cap_the_values_of_a_column():
    text = markdown(built())
    style = text.split("### By style")[1].split("### By class")[0]
    assert "| anime | 1. alpha 0.700 [0.650, 0.750] (18); 2. beta 0.600 [0.550, 0.650] (18); 3. gamma 0.500 [0.450, 0.550] (18); " \
           "4. delta 0.400 [0.350, 0.450] (18) |" in style and "| photo | 1. alpha" in style
    by_class = text.split("### By class")[1]
    shown = [value for value in CLASSES if f"| {value} | " in by_class]
    assert shown == CLASSES[:MARKDOWN_BREAKDOWN_VALUES] == CLASSES[:20]
    assert "| ... | 5 more values in breakdown.csv |" in by_class
    assert "| c00 | 1. alpha 0.500 [n/a, n/a] (3);" in by_class  # a value without an interval still shows its mean


def test_markdown_leaves_out_what_the_results_do_not_carry():
    results = built()
    bare = dict(tier=None, rank_lo=None, rank_hi=None, bt=None, bt_lo=None, bt_hi=None, games=None)
    results.groups = [replace(g, **bare) for g in results.groups]
    gamma = results.group("gamma")
    results.groups[2] = replace(gamma, shift=AttributeShift("", None, {"noisiness": None}))  # no finite shift, yet not the reference
    results.pairs = [replace(p, win_lo=None, win_hi=None, subset=False, agrees=True) for p in results.pairs]
    results.agreement = replace(results.agreement, spearman_lo=None, spearman_hi=None, kendall_lo=None, kendall_hi=None)
    results.breakdowns = []
    text = markdown(results)
    assert "## Bradley-Terry" not in text and "Tier: groups" not in text and "Rank CI" not in text and "## Breakdown" not in text
    assert "| rank | group | n | prompts | unreadable |" in text and "| tier" not in text
    assert "| 1 | alpha |" in text and "| 3 | gamma | 80 | 40 | 2 | 0.600 [0.580, 0.620] | 0.30 [0.25, 0.35] | n/a |" in text
    assert "[n/a, n/a]" not in text and "†" not in text and "‡" not in text
    assert "| alpha | beta | 0.600 | 0.100 [0.050, 0.150] |" in text
    assert "- Spearman 0.800, Kendall 0.667 (group means); image-level SRCC 0.550" in text


def test_write_reports_of_a_built_ranking_writes_every_file_and_breakdown_csv_reads_back(tmp_path):
    results = built()
    written = write_reports(results, tmp_path)
    assert sorted(p.name for p in written["files"]) == sorted(REPORT_FILES) == sorted(p.name for p in tmp_path.iterdir())
    assert written["markdown"] == (tmp_path / "ranking.md").read_text() == markdown(results)
    with open(tmp_path / "breakdown.csv", newline="") as handle:
        reader = csv.reader(handle)
        header, rows = next(reader), list(reader)
    assert header == ["column", "value", "group", "rank", "n", "units", "quality", "quality_lo", "quality_hi"]
    assert len(rows) == len(results.breakdowns) == 2 * 4 + 25 * 4  # every value, not only those the markdown shows
    for row, b in zip(rows, results.breakdowns):
        assert row[:6] == [b.column, b.value, b.group, str(b.rank), str(b.n), str(b.units)]
        assert [float(v) if v else None for v in row[6:]] == pytest.approx([b.quality.mean, b.quality.lo, b.quality.hi], abs=1e-6)
    assert rows[8][6:] == ["0.500000", "", ""]  # c00: no interval, empty cells
    with open(tmp_path / "ranking.csv", newline="") as handle:
        groups = list(csv.DictReader(handle))
    assert list(groups[0]) == ["rank", "rank_lo", "rank_hi", "tier", "group", "n", "units", "unreadable", "quality", "quality_lo",
                               "quality_hi", "bt", "bt_lo", "bt_hi", "games", "noisiness", "noisiness_lo", "noisiness_hi",
                               "main_attribute", "main_attribute_shift", "mos", "mos_rank"]
    assert [(g["group"], g["tier"], g["rank_lo"], g["rank_hi"], g["units"]) for g in groups] == \
           [("alpha", "1", "1", "2", "40"), ("beta", "1", "1", "2", "36"), ("gamma", "2", "3", "3", "40"), ("delta", "3", "3", "4", "40")]
    assert float(groups[3]["bt_lo"]) == 730.0 and float(groups[0]["games"]) == 61.0
    with open(tmp_path / "pairs.csv", newline="") as handle:
        pairs = list(csv.DictReader(handle))
    assert [(p["a"], p["b"]) for p in pairs if p["subset"] == "True"] == [("alpha", "beta")]
    assert [(p["a"], p["b"]) for p in pairs if p["agrees"] == "False"] == [("gamma", "delta")]
    assert float(pairs[0]["win_lo"]) == pytest.approx(0.55) and pairs[0]["unit"] == "prompt"
    payload = json.loads((tmp_path / "ranking.json").read_text())
    assert len(payload["breakdowns"]) == 108 and payload["breakdowns"][0] == results.breakdowns[0].to_dict()
    page = (tmp_path / "ranking.html").read_text()
    assert '<table id="breakdown-class"' in page and page.count('<td data-v="c24"') == 4  # the page has every value


def test_breakdown_csv_of_a_ranking_without_categories_is_the_header_alone(tmp_path):
    results = built()
    results.breakdowns = []
    write_reports(results, tmp_path)
    assert (tmp_path / "breakdown.csv").read_text().splitlines() == ["column,value,group,rank,n,units,quality,quality_lo,quality_hi"]
