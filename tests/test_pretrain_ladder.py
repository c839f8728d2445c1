"""The distortion-ladder proxy against an independent computation (Spearman's closed form, no ties)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from iqa.attributes import ATTRIBUTES
from iqa.ladder import LadderProxy, ladder_correlations, ladder_record

pytestmark = pytest.mark.unit

SHARP, BRIGHT = ATTRIBUTES.index("sharpness"), ATTRIBUTES.index("brightness")


def rho_closed_form(x, y) -> float:
    """1 - 6 sum d^2 / (n (n^2 - 1)) for data without ties."""
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    n = len(x)
    return 1.0 - 6.0 * float(((rx - ry) ** 2).sum()) / (n * (n * n - 1))


def ladder(crop: str, distortion: str, levels=range(1, 6)):
    return [(crop, distortion, level) for level in levels]


def test_ladder_record_reads_the_demo_metadata_and_ignores_other_samples():
    assert ladder_record({"reference": "coffee", "crop": 2, "distortion": "jpeg", "level": 3}) == ("coffee#2", "jpeg", 3)
    assert ladder_record({"reference": "coffee", "crop": 2}) is None
    assert ladder_record(None) is None
    assert ladder_record({"reference": "x", "crop": 0, "distortion": "jpeg", "level": "high"}) is None


def test_perfect_and_reversed_ladders_with_the_mapped_sign():
    records = [("a#0", "reference", 0), *ladder("a#0", "gaussian_blur"), *ladder("a#0", "brighten")]
    scores = np.zeros((len(records), len(ATTRIBUTES)))
    # Sharpness falls as blur grows (correct); brightness falls as "brighten" grows (backwards).
    scores[:, SHARP] = [10, 9, 8, 7, 6, 5, 0, 0, 0, 0, 0]
    scores[:, BRIGHT] = [5, 0, 0, 0, 0, 0, 4, 3, 2, 1, 0]
    result = ladder_correlations(records, scores, ATTRIBUTES)
    assert result["sharpness"] == pytest.approx(1.0)
    assert result["brightness"] == pytest.approx(-1.0)
    assert result["mean"] == pytest.approx(0.0)
    assert set(result) == {"sharpness", "brightness", "mean"}


def test_random_scores_match_the_closed_form_per_ladder_and_means():
    rng = np.random.default_rng(3)
    records, expected = [], {"sharpness": [], "noisiness": []}
    for crop in ("a#0", "a#1", "b#0"):
        records.append((crop, "reference", 0))
        for distortion in ("gaussian_blur", "motion_blur", "gaussian_noise"):
            records += ladder(crop, distortion)
    scores = rng.normal(size=(len(records), len(ATTRIBUTES)))  # continuous: no ties
    order = np.arange(len(records))
    rng.shuffle(order)  # row order must not matter
    records = [records[i] for i in order]
    scores = scores[order]
    for crop in ("a#0", "a#1", "b#0"):
        ref = [i for i, r in enumerate(records) if r == (crop, "reference", 0)]
        for distortion, attribute, sign in (("gaussian_blur", "sharpness", -1), ("motion_blur", "sharpness", -1),
                                            ("gaussian_noise", "noisiness", +1)):
            rows = ref + [i for i, r in enumerate(records) if r[0] == crop and r[1] == distortion]
            levels = [records[i][2] for i in rows]
            x = scores[rows, ATTRIBUTES.index(attribute)]
            expected[attribute].append(rho_closed_form(x, sign * np.array(levels)))
    result = ladder_correlations(records, scores, ATTRIBUTES)
    assert result["sharpness"] == pytest.approx(np.mean(expected["sharpness"]))
    assert result["noisiness"] == pytest.approx(np.mean(expected["noisiness"]))
    assert result["mean"] == pytest.approx((np.mean(expected["sharpness"]) + np.mean(expected["noisiness"])) / 2)


def test_clean_crop_joins_only_its_own_ladders_and_short_or_unknown_ladders_are_skipped():
    records = [("a#0", "reference", 0), ("b#0", "reference", 0), *ladder("a#0", "gaussian_blur"),
               ("c#0", "gaussian_blur", 1), ("c#0", "gaussian_blur", 2),  # two rungs, no clean crop: skipped
               *ladder("a#0", "pixelate")]  # no attribute mapping: ignored
    scores = np.zeros((len(records), len(ATTRIBUTES)))
    scores[0, SHARP] = 100.0  # a's clean crop is the sharpest: correct
    scores[1, SHARP] = -100.0  # b's clean crop would break a's ladder if it joined
    scores[2:7, SHARP] = [5, 4, 3, 2, 1]
    result = ladder_correlations(records, scores, ATTRIBUTES)
    assert result == {"sharpness": pytest.approx(1.0), "mean": pytest.approx(1.0)}


def test_constant_student_scores_zero_and_no_ladders_give_nothing():
    records = [("a#0", "reference", 0), *ladder("a#0", "darken")]
    assert ladder_correlations(records, np.ones((6, len(ATTRIBUTES))), ATTRIBUTES) == {"brightness": 0.0, "mean": 0.0}
    assert ladder_correlations([], np.zeros((0, len(ATTRIBUTES))), ATTRIBUTES) == {}


def test_prompt_selection_and_pretraining_validation_give_the_same_ladder_score():
    """One ladder score: prompt selection's ladder proxy and the validation metric agree on the same images."""
    from iqa.teachers import prompt_selection as ps

    proxy = ps.ladder_proxy(["astronaut"], size=24, crops=2, distortions=["gaussian_blur", "darken", "gaussian_noise", "jpeg"])
    rng = np.random.default_rng(5)
    scores = np.round(rng.normal(size=(len(proxy), len(ATTRIBUTES))), 1)  # rounded: ties within ladders
    scores[:, BRIGHT] = 0.7  # a collapsed head / an uninformative prompt pair: 0 on both paths
    # Prompt selection: one candidate per attribute, scored on its attribute's column.
    candidates = [ps.Candidate(a, (f"more {a}", f"less {a}"), ()) for a in ATTRIBUTES]
    with pytest.warns(RuntimeWarning, match="constant"):
        table = ps.score_table(candidates, [proxy], {"ladder": scores})
    # Pretraining validation: the torchmetrics metric fed the samples' metadata in uneven batches.
    metric = LadderProxy(ATTRIBUTES)
    for rows in np.array_split(np.arange(len(proxy)), 3):
        metric.update(torch.from_numpy(scores[rows]).float(), [proxy.metas[r] for r in rows])
    with pytest.warns(RuntimeWarning, match="constant"):
        validation = metric.compute()
    covered = ["sharpness", "brightness", "noisiness"]
    assert set(validation) == {*covered, "mean"}
    for attribute in covered:
        row = ATTRIBUTES.index(attribute)
        assert validation[attribute] == pytest.approx(table["ladder"][row], abs=1e-6)
        # Independently: scipy over the ladders written out by hand (the clean view, then levels 1..5).
        rhos = []
        for view in range(2):
            clean = [i for i, m in enumerate(proxy.metas) if m["crop"] == view and m["level"] == 0]
            for distortion, (mapped, sign) in {"gaussian_blur": ("sharpness", -1), "jpeg": ("sharpness", -1),
                                               "darken": ("brightness", -1), "gaussian_noise": ("noisiness", 1)}.items():
                if mapped == attribute:
                    rows = clean + [i for i, m in enumerate(proxy.metas) if m["crop"] == view and m["distortion"] == distortion]
                    levels = np.array([proxy.metas[i]["level"] for i in rows])
                    column = scores[rows, row].astype(np.float32).astype(np.float64)  # as the metric received it
                    rho = stats.spearmanr(column, sign * levels).statistic
                    rhos.append(0.0 if np.isnan(rho) else rho)
        assert validation[attribute] == pytest.approx(np.mean(rhos), abs=1e-12)
    assert validation["brightness"] == 0.0 and table["ladder"][BRIGHT] == 0.0
    assert np.isnan(table["ladder"][ATTRIBUTES.index("contrast")])  # no ladder moves contrast here


def test_validation_metric_with_no_ladder_samples_and_with_a_diverged_student():
    metric = LadderProxy(ATTRIBUTES)
    metric.update(torch.zeros(4, len(ATTRIBUTES)), [None, {"key": "x"}, None, None])
    assert metric.compute() == {}
    metric.reset()
    records = [{"reference": "a", "crop": 0, "distortion": "darken", "level": level} for level in range(6)]
    scores = torch.arange(6 * len(ATTRIBUTES), dtype=torch.float32).reshape(6, len(ATTRIBUTES))
    metric.update(scores, records)
    assert metric.compute() == {"brightness": pytest.approx(-1.0), "mean": pytest.approx(-1.0)}
    metric.reset()
    scores[2, BRIGHT] = float("inf")
    metric.update(scores, records)
    assert all(np.isnan(v) for v in metric.compute().values())
