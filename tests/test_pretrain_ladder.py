"""The distortion-ladder proxy against an independent computation (Spearman's closed form, no ties)."""

from __future__ import annotations

import numpy as np
import pytest

from iqa.attributes import ATTRIBUTES
from iqa.ladder import ladder_correlations, ladder_record

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
