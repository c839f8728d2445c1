"""Calibration of the ranking statistics on a known clustered truth.

Each simulated group renders ``PROMPTS`` prompts ``PER_PROMPT`` times: an image's
quality is the group's mean + the prompt's effect (SD 1, shared by its images)
+ the image's own noise (SD 1). The images of one prompt are therefore
correlated (intra-class correlation 0.5), as the images a generator makes of
one prompt are. The tests measure, over ``SIMULATIONS`` fixed-seed draws:

* the coverage of the 95 % intervals (group means, paired and unpaired
  differences): within 95 % +- 2 %;
* the false-positive rate of the tests at alpha = 0.05 between two equal
  groups (paired Wilcoxon on shared prompts, unpaired Mann-Whitney on prompt
  means): at most 6 %;
* and, as a control that the simulation has teeth, that resampling images
  instead of prompts fails both (coverage under 90 %, false positives over 10 %).

The last tests check that :func:`iqa.ranking.analyse` computes its intervals and
tests by exactly the compositions measured here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from iqa.ranking import analyse
from iqa.ranking.stats import (
    bootstrap_cell_means,
    bootstrap_means,
    expanded_level,
    keyed_rng,
    mann_whitney_p,
    percentile_ci,
    unit_means,
    wilcoxon_p,
)

pytestmark = pytest.mark.unit

PROMPTS, PER_PROMPT, SIMULATIONS, N_BOOT, LEVEL, ALPHA = 25, 4, 2000, 1000, 0.95, 0.05
IDS = np.repeat(np.arange(PROMPTS), PER_PROMPT)


def clustered(rng: np.random.Generator, mean: float = 0.0, prompt_effect: np.ndarray | None = None,
              interaction_sd: float = 0.0) -> np.ndarray:
    """One group's image qualities, ``PER_PROMPT`` consecutive images per prompt."""
    effect = rng.normal(0.0, 1.0, PROMPTS) if prompt_effect is None else prompt_effect
    effect = effect + rng.normal(0.0, interaction_sd, PROMPTS) if interaction_sd else effect
    return mean + np.repeat(effect, PER_PROMPT) + rng.normal(0.0, 1.0, PROMPTS * PER_PROMPT)


def group_ci(images: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """A group's CI as the ranking computes it: prompt means, resampled, read at the expanded level."""
    _, means, _ = unit_means(images, IDS)
    return percentile_ci(bootstrap_means(means, N_BOOT, rng), expanded_level(LEVEL, len(means)))


def share(hits: int) -> float:
    return hits / SIMULATIONS


def test_group_mean_intervals_cover_95_percent_and_image_resampling_does_not():
    rng = np.random.default_rng(20261204)
    prompt_hits = image_hits = 0
    for s in range(SIMULATIONS):
        images = clustered(rng)
        lo, hi = group_ci(images, keyed_rng(s, "prompts"))
        prompt_hits += lo < 0.0 < hi
        lo, hi = percentile_ci(bootstrap_means(images, N_BOOT, keyed_rng(s, "images")), LEVEL)
        image_hits += lo < 0.0 < hi
    assert 0.93 <= share(prompt_hits) <= 0.97, share(prompt_hits)
    assert share(image_hits) < 0.90, share(image_hits)


def test_joint_resampling_with_missing_prompts_covers_95_percent():
    """Groups that share most prompts, each missing some: one resample of prompts serves every group."""
    rng = np.random.default_rng(7)
    hits = np.zeros(3)
    for s in range(SIMULATIONS // 2):
        effect = rng.normal(0.0, 1.0, PROMPTS)
        values = np.stack([unit_means(clustered(rng, 0.0, effect, 0.5), IDS)[1] for _ in range(3)], axis=1)[:, :, None]
        present = rng.random((PROMPTS, 3)) > 0.2
        boot = bootstrap_cell_means(values, present, N_BOOT, keyed_rng(s, "units"))
        for g in range(3):
            lo, hi = percentile_ci(boot[:, g, 0], expanded_level(LEVEL, int(present[:, g].sum())))
            hits[g] += lo < 0.0 < hi
    coverage = hits / (SIMULATIONS // 2)
    assert np.all((coverage >= 0.93) & (coverage <= 0.97)), coverage


def test_paired_difference_intervals_cover_and_wilcoxon_on_prompt_means_holds_its_level():
    rng = np.random.default_rng(11)
    hits = false_positives = 0
    for s in range(SIMULATIONS):
        effect = rng.normal(0.0, 1.0, PROMPTS)
        a, b, b_again = (clustered(rng, mean, effect, 0.5) for mean in (0.3, 0.0, 0.0))
        d = unit_means(a, IDS)[1] - unit_means(b, IDS)[1]
        lo, hi = percentile_ci(bootstrap_means(d, N_BOOT, keyed_rng(s, "paired")), expanded_level(LEVEL, PROMPTS))
        hits += lo < 0.3 < hi
        false_positives += wilcoxon_p(unit_means(b_again, IDS)[1] - unit_means(b, IDS)[1]) < ALPHA
    assert 0.93 <= share(hits) <= 0.97, share(hits)
    assert share(false_positives) <= 0.06, share(false_positives)


def test_unpaired_tests_on_prompt_means_hold_their_level_and_on_images_do_not():
    """Two equal generators on different prompts."""
    rng = np.random.default_rng(5)
    on_prompts = on_images = covered = 0
    for s in range(SIMULATIONS):
        a, b = clustered(rng), clustered(rng)
        ma, mb = unit_means(a, IDS)[1], unit_means(b, IDS)[1]
        on_prompts += mann_whitney_p(ma, mb) < ALPHA
        on_images += mann_whitney_p(a, b) < ALPHA
        diff = bootstrap_means(ma, N_BOOT, keyed_rng(s, "a")) - bootstrap_means(mb, N_BOOT, keyed_rng(s, "b"))
        lo, hi = percentile_ci(diff, expanded_level(LEVEL, PROMPTS))
        covered += lo < 0.0 < hi
    assert share(on_prompts) <= 0.06, share(on_prompts)
    assert share(on_images) > 0.10, share(on_images)
    assert 0.93 <= share(covered) <= 0.975, share(covered)


# -- analyse() computes exactly these compositions -------------------------------------------------------------------


def frame_of(groups: dict[str, np.ndarray], prompts: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = []
    for name, images in groups.items():
        rows += [{"group": name, "path": f"/x/{name}/{i}.png", "prompt": f"p{prompts[name][i]}", "quality_norm": float(q), "error": ""}
                 for i, q in enumerate(images)]
    return pd.DataFrame(rows)


def test_analyse_group_intervals_are_the_prompt_bootstrap():
    rng = np.random.default_rng(3)
    # Different prompts per group: each group resampled on its own, keyed by its name.
    frame = frame_of({"a": clustered(rng, 0.2), "b": clustered(rng)}, {"a": IDS, "b": IDS + PROMPTS})
    results = analyse(frame, n_boot=N_BOOT, seed=9)
    for name in ("a", "b"):
        images = frame[frame.group == name]
        ids, means, _ = unit_means(images.quality_norm.to_numpy(), images.prompt.to_numpy())
        lo, hi = percentile_ci(bootstrap_means(means, N_BOOT, keyed_rng(9, name)), expanded_level(LEVEL, len(ids)))
        row = results.group(name)
        assert row.units == PROMPTS and row.n == PROMPTS * PER_PROMPT
        assert (row.quality.mean, row.quality.lo, row.quality.hi) == pytest.approx((means.mean(), lo, hi), abs=1e-12)
    pair = results.pairs[0]
    top, low = (frame[frame.group == g] for g in (pair.a, pair.b))
    ma = unit_means(top.quality_norm.to_numpy(), top.prompt.to_numpy())[1]
    mb = unit_means(low.quality_norm.to_numpy(), low.prompt.to_numpy())[1]
    assert pair.n_shared == 0 and pair.unit == "prompt" and pair.p == pytest.approx(sps.mannwhitneyu(ma, mb).pvalue)
    assert pair.win_rate == pytest.approx(sps.mannwhitneyu(ma, mb).statistic / PROMPTS ** 2)


def test_analyse_shared_prompts_resample_jointly_and_test_paired():
    rng = np.random.default_rng(4)
    effect = rng.normal(0.0, 1.0, PROMPTS)
    frame = frame_of({g: clustered(rng, m, effect, 0.5) for g, m in (("a", 0.4), ("b", 0.0), ("c", -0.2))}, dict.fromkeys("abc", IDS))
    results = analyse(frame, n_boot=N_BOOT, seed=2)
    names = ["a", "b", "c"]
    values = np.stack([unit_means(frame[frame.group == g].quality_norm.to_numpy(), IDS)[1] for g in names], axis=1)
    boot = bootstrap_cell_means(values[:, :, None], np.ones((PROMPTS, 3), bool), N_BOOT, keyed_rng(2, "units"))
    for j, name in enumerate(names):
        lo, hi = percentile_ci(boot[:, j, 0], expanded_level(LEVEL, PROMPTS))
        assert (results.group(name).quality.lo, results.group(name).quality.hi) == pytest.approx((lo, hi), abs=1e-12)
    d = values[:, 0] - values[:, 1]
    pair = results.pair("a", "b")
    assert pair.n_shared == PROMPTS and not pair.subset and pair.p == pytest.approx(sps.wilcoxon(d).pvalue)
    lo, hi = percentile_ci(bootstrap_means(np.column_stack([d, (d > 0) + 0.5 * (d == 0)]), N_BOOT, keyed_rng(2, "a", "b", "paired")),
                           expanded_level(LEVEL, PROMPTS))
    assert (pair.diff, pair.diff_lo, pair.diff_hi, pair.win_lo, pair.win_hi) == pytest.approx((d.mean(), lo[0], hi[0], lo[1], hi[1]))
    assert results.settings["unit"] == "prompt" and "jointly" in results.settings["design"]
