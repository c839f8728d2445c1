"""What :func:`iqa.ranking.analyse` builds on the statistics: units, tiers, rank CIs, Bradley-Terry, breakdowns, notes; CSV inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from iqa.errors import UserError
from iqa.ranking import analyse
from iqa.ranking.inputs import collect_inputs
from iqa.ranking.stats import bradley_terry, elo_scale, holm, prompt_wins, unit_means

pytestmark = pytest.mark.unit


def arena(means: dict[str, float], prompts: int = 30, per_prompt: int = 2, seed: int = 0, missing: float = 0.0, **columns) -> pd.DataFrame:
    """Groups rendering shared prompts: quality = group mean + prompt effect + noise.

    ``missing``: the share of (group, prompt) cells left out."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(0, 0.1, prompts)
    rows = []
    for group, mean in means.items():
        for p in range(prompts):
            if rng.random() < missing:
                continue
            for k in range(per_prompt):
                row = {"group": group, "path": f"/x/{group}/p{p}_{k}.png", "prompt": f"p{p}", "error": "",
                       "quality_norm": mean + effect[p] + rng.normal(0, 0.05),
                       "noisiness": rng.normal() + (2.0 if group == "noisy" else 0.0)}
                row.update({name: value(p) for name, value in columns.items()})
                rows.append(row)
    return pd.DataFrame(rows)


def test_tiers_follow_the_holm_verdicts_and_rank_intervals_hold_the_rank():
    frame = arena({"a": 0.80, "b": 0.79, "c": 0.60, "d": 0.595, "e": 0.30})
    results = analyse(frame, n_boot=500)
    order = results.order
    assert order[4] == "e" and set(order[:2]) == {"a", "b"}
    tiers = [g.tier for g in results.groups]
    assert tiers == sorted(tiers) and tiers[0] == 1 and tiers[-1] == 3, tiers
    for k, g in enumerate(results.groups):
        leader = next(h for h in results.groups if h.tier == g.tier)
        if g.group != leader.group:  # in a tier: not distinguishable from its top group
            assert not results.pair(leader.group, g.group).distinguishable
        elif k:  # a tier's top group: distinguishable from the previous tier's top group
            previous = next(h for h in results.groups if h.tier == g.tier - 1)
            assert results.pair(previous.group, g.group).distinguishable
        assert g.rank_lo <= g.rank <= g.rank_hi
    assert (results.group("e").rank_lo, results.group("e").rank_hi) == (5, 5)
    assert results.group("a").rank_lo == 1 and results.group("a").rank_hi == 2
    np.testing.assert_allclose([p.p_holm for p in results.pairs], holm([p.p for p in results.pairs]))


def test_bradley_terry_is_the_fit_to_per_prompt_head_to_heads():
    frame = arena({"a": 0.7, "b": 0.65, "c": 0.5}, per_prompt=3, missing=0.1)
    results = analyse(frame, n_boot=300)
    names = ["a", "b", "c"]
    table = np.full((30, 3), np.nan)
    for j, g in enumerate(names):
        rows = frame[frame.group == g]
        ids, means, _ = unit_means(rows.quality_norm.to_numpy(), rows.prompt.to_numpy())
        table[[int(i[1:]) for i in ids], j] = means
    wins = prompt_wins(table).sum(axis=0)
    rating = elo_scale(bradley_terry(wins))
    for j, g in enumerate(names):
        row = results.group(g)
        assert row.bt == pytest.approx(rating[j]) and row.bt_lo <= row.bt <= row.bt_hi
        assert row.games == pytest.approx(np.isfinite(table[:, j, None] + np.delete(table, j, axis=1)).sum())
    assert results.group("a").bt > results.group("b").bt > results.group("c").bt
    assert np.mean([results.group(g).bt for g in names]) == pytest.approx(1000.0)


def test_without_shared_units_there_is_no_bradley_terry_and_pairs_are_unpaired():
    frame = arena({"a": 0.7, "b": 0.6}).drop(columns=["prompt"])
    results = analyse(frame, n_boot=300)
    assert results.group("a").bt is None and results.settings["unit"] == "image" and results.pairs[0].unit == "image"
    assert results.pairs[0].win_lo <= results.pairs[0].win_rate <= results.pairs[0].win_hi


def test_cluster_by_a_column_makes_its_values_the_units_and_a_wrong_name_lists_the_columns():
    frame = arena({"a": 0.7, "b": 0.6}, scene=lambda p: f"s{p // 3}").drop(columns=["prompt"])
    results = analyse(frame, n_boot=300, cluster_by="scene")
    assert results.settings["unit"] == "scene" and results.group("a").units == 10 and results.group("a").n == 60
    pair = results.pairs[0]
    assert pair.unit == "scene" and pair.n_shared == 10 and "paired by scene" in pair.test
    with pytest.raises(UserError, match=r"cluster_by 'scenes' is not a column.*scene.*'filename'"):
        analyse(frame, n_boot=300, cluster_by="scenes")


def test_same_file_names_across_groups_warn_and_cluster_by_filename_pairs_them():
    rng = np.random.default_rng(1)
    photos = rng.normal(0, 0.1, 20)
    frame = pd.DataFrame([{"group": g, "path": f"/runs/{g}/photo{i:02d}.png", "quality_norm": photos[i] + m + rng.normal(0, 0.01),
                           "error": ""} for g, m in (("denoiser_a", 0.02), ("denoiser_b", 0.0)) for i in range(20)])
    plain = analyse(frame, n_boot=300)
    assert any("file names recur across groups" in w and "--cluster-by filename" in w for w in plain.warnings)
    paired = analyse(frame, n_boot=300, cluster_by="filename")
    pair = paired.pair("denoiser_a", "denoiser_b")
    assert pair.n_shared == 20 and pair.distinguishable and not plain.pairs[0].distinguishable
    assert not any("recur" in w for w in paired.warnings)


def test_numbered_variants_of_one_content_warn_without_ids():
    frame = pd.DataFrame([{"group": g, "path": f"/x/{g}/{name}_{k}.png", "quality_norm": 0.5, "error": ""}
                          for g in ("a", "b") for name in ("cat", "dog", "tree") for k in range(4)])
    frame["path"] = frame["path"].str.replace("/b/", "/b/other_", regex=False)
    assert any("several images per content" in w for w in analyse(frame, n_boot=200).warnings)


def test_past_the_cap_each_group_meets_its_tier_leader_with_bonferroni_and_the_tiers_agree():
    means = {f"g{k}": 0.9 - 0.1 * (k // 2) for k in range(8)}
    capped = analyse(arena(means), n_boot=300, max_pair_groups=4)
    full = analyse(arena(means), n_boot=300)
    assert len(capped.pairs) == 7 and len(full.pairs) == 28 and "tier's top group" in capped.settings["pairs"]
    leader = capped.order[0]
    for p, b in zip(capped.pairs, capped.order[1:]):
        assert (p.a, p.b) == (leader, b) and p.p_holm == pytest.approx(min(1.0, 7 * p.p))
        assert p.p == pytest.approx(full.pair(leader, b).p)
        leader = b if p.distinguishable else leader
    assert [g.tier for g in capped.groups] == [1, 1, 2, 2, 3, 3, 4, 4] == [g.tier for g in full.groups]


def test_shared_prompt_subset_is_flagged_and_a_disagreeing_pair_is_noted():
    rng = np.random.default_rng(2)
    rows = []
    for p in range(20):  # a has 20 prompts (10 easy ones only it has); on the 10 shared ones b is better
        base = 0.9 if p >= 10 else 0.4
        rows.append({"group": "a", "path": f"/a/{p}.png", "prompt": f"p{p}", "quality_norm": base + rng.normal(0, 0.01), "error": ""})
        if p < 10:
            rows.append({"group": "b", "path": f"/b/{p}.png", "prompt": f"p{p}", "quality_norm": 0.5 + rng.normal(0, 0.01), "error": ""})
    results = analyse(pd.DataFrame(rows), n_boot=300)
    pair = results.pairs[0]
    assert results.order == ["a", "b"] and pair.subset and not pair.agrees and pair.diff < 0 and pair.n_shared == 10
    assert any("b scores higher on the 10 they share" in w for w in results.warnings)
    assert any("tested on the prompts both groups have" in w for w in results.warnings)


def test_breakdowns_rank_groups_within_each_category_value():
    frame = arena({"a": 0.7, "b": 0.6}, style=lambda p: "photo" if p % 2 else "anime")
    # b is better on anime prompts only
    frame.loc[(frame.group == "b") & (frame["style"] == "anime"), "quality_norm"] += 0.3
    results = analyse(frame, n_boot=300)
    rows = {(r.value, r.group): r for r in results.breakdowns}
    assert {r.column for r in results.breakdowns} == {"style"}
    assert rows["anime", "b"].rank == 1 and rows["photo", "a"].rank == 1
    cell = frame[(frame.group == "b") & (frame["style"] == "anime")]
    means = unit_means(cell.quality_norm.to_numpy(), cell.prompt.to_numpy())[1]
    row = rows["anime", "b"]
    assert row.quality.mean == pytest.approx(means.mean()) and row.units == 15 and row.n == 30
    assert row.quality.lo < row.quality.mean < row.quality.hi
    with pytest.raises(UserError, match="breakdown column.*genre.*style"):
        analyse(frame, n_boot=300, breakdown_by=["genre"])
    many = arena({"a": 0.7, "b": 0.6}, prompts=60, tag=lambda p: f"t{p}")
    skipped = analyse(many, n_boot=200, breakdown_by=["tag"])
    assert not skipped.breakdowns and any("no breakdown by 'tag'" in w for w in skipped.warnings)


def test_attribute_shift_intervals_exclude_zero_only_for_the_attribute_that_moved():
    results = analyse(arena({"clean": 0.8, "noisy": 0.5}, prompts=40), attributes=["noisiness"], n_boot=500, reference="clean")
    shift = results.group("noisy").shift
    assert shift.lo["noisiness"] > 0 and shift.shifts["noisiness"] > 1
    twin = analyse(arena({"clean": 0.8, "other": 0.5}, prompts=40), attributes=["noisiness"], n_boot=500, reference="clean")
    assert twin.group("other").shift.lo["noisiness"] < 0 < twin.group("other").shift.hi["noisiness"]


def test_agreement_intervals_resample_units_and_hold_the_estimate():
    frame = arena({"a": 0.8, "b": 0.79, "c": 0.6, "d": 0.5, "e": 0.49})
    frame["mos"] = frame.quality_norm * 5 + np.random.default_rng(3).normal(0, 0.5, len(frame))
    agreement = analyse(frame, n_boot=400).agreement
    boot = analyse(frame, n_boot=400)  # the same seed, the same interval
    assert (boot.agreement.kendall_lo, boot.agreement.kendall_hi) == (agreement.kendall_lo, agreement.kendall_hi)
    assert agreement.spearman_lo < agreement.spearman_hi  # the close pairs swap in some resamples
    model = frame.groupby("group").quality_norm.mean()
    human = frame.groupby("group").mos.mean()
    assert agreement.spearman == pytest.approx(sps.spearmanr(model, human)[0])
    assert -1 <= agreement.spearman_lo <= agreement.spearman <= agreement.spearman_hi <= 1
    assert -1 <= agreement.kendall_lo <= agreement.kendall <= agreement.kendall_hi <= 1


# -- CSV inputs ---------------------------------------------------------------------------------


def write_csv(tmp_path, header: str, rows: list[str]):
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(b"")
    path = tmp_path / "images.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_csv_dmos_is_lower_is_better_mos_is_assumed_higher_with_a_note_and_the_flag_overrides(tmp_path):
    dmos = write_csv(tmp_path, "path,group,dmos,scene", ["a.png,x,30,s1", "b.png,y,50,s1"])
    inputs = collect_inputs(csv=dmos)
    assert inputs.mos_scale["higher_is_better"] is False and not inputs.notes
    assert inputs.rows[0]["mos"] == 30.0 and inputs.rows[0]["scene"] == "s1"  # other columns kept
    mos = write_csv(tmp_path, "path,group,mos", ["a.png,x,3", "b.png,y,4"])
    assumed = collect_inputs(csv=mos)
    assert assumed.mos_scale["higher_is_better"] is True and "--mos-direction lower" in assumed.notes[0]
    told = collect_inputs(csv=mos, mos_direction="lower")
    assert told.mos_scale["higher_is_better"] is False and not told.notes
    with pytest.raises(UserError, match="higher, lower"):
        collect_inputs(csv=mos, mos_direction="down")
    both = write_csv(tmp_path, "path,group,mos,dmos", ["a.png,x,3,1", "b.png,y,4,2"])
    with pytest.raises(UserError, match="both mos and dmos"):
        collect_inputs(csv=both)


def test_rank_correlations_of_every_replicate_match_scipy_with_ties():
    from iqa.ranking.analysis import _rank_correlations

    rng = np.random.default_rng(4)
    x, y = rng.integers(0, 4, size=(30, 7)).astype(float), rng.normal(size=(30, 7))
    y[:, 0] = y[:, 1]
    spearman, kendall = _rank_correlations(x, y)
    assert spearman == pytest.approx([sps.spearmanr(a, b)[0] for a, b in zip(x, y)], nan_ok=True)
    assert kendall == pytest.approx([sps.kendalltau(a, b)[0] for a, b in zip(x, y)], nan_ok=True)
