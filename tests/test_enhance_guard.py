"""The enhancement guard: all five classical attributes, colourfulness ratio and hue drift, per image and per degradation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


@pytest.fixture(scope="module")
def pairs():
    from iqa.enhancement.data import HeldOutPairs

    data = HeldOutPairs(photos=["chelsea", "motorcycle"], degradations=["darken", "contrast_decrease", "saturation_decrease",
                                                                        "gaussian_noise"], level=4, size=64, crops=1)
    return torch.stack(data.inputs), torch.stack(data.references), data.meta


def _chroma_scale(images: torch.Tensor, factor: float) -> torch.Tensor:
    """Scale every pixel's distance from its luma (grey) by ``factor``: a saturation boost that keeps luma."""
    grey = (images * LUMA).sum(1, keepdim=True)
    return (grey + factor * (images - grey)).clamp(0, 1)


def _run(inputs, outputs, references, meta):
    from iqa.enhancement import report

    return report.summarise(report.image_metrics(inputs, outputs, references), meta)


@pytest.mark.unit
def test_an_output_equal_to_the_reference_passes(pairs):
    inputs, references, meta = pairs
    rows = _run(inputs, references.clone(), references, meta)
    check = rows["all"]["guard"]
    assert check["passed"] == check["images"] == len(meta) == 8
    assert check["colourfulness_ratio"] == pytest.approx(1.0) and check["mean_hue_drift"] == pytest.approx(0.0, abs=1e-9)
    assert rows["all"]["guard_line"].startswith("guard: all 8 outputs passed")
    assert all(r["passed"] and r["flags"] == [] for r in rows["all"]["guard_images"])
    assert {name for name in rows if name != "all"} == {"darken", "contrast_decrease", "saturation_decrease", "gaussian_noise"}
    assert all(rows[name]["guard"]["passed"] == 2 for name in rows if name != "all")


@pytest.mark.unit
def test_an_over_saturating_enhancer_is_flagged_even_where_it_moved_the_intended_attribute(pairs):
    from iqa.enhancement import report

    inputs, references, meta = pairs
    outputs = _chroma_scale(references, 1.6)  # every attribute but colourfulness as the reference
    rows = _run(inputs, outputs, references, meta)
    check = rows["all"]["guard"]
    assert check["passed"] == 0 and check["over_saturated"] == 8
    # the old single-attribute check counted these as a success: the intended attribute did move toward the reference
    assert rows["darken"]["moved_intended_way"] == 1.0 and rows["saturation_decrease"]["moved_intended_way"] == 1.0
    assert check["over_saturated_ratio"] > 1.3
    line = rows["all"]["guard_line"]
    assert line.startswith("guard: 8/8 outputs flagged: 8/8 outputs over-saturated (colourfulness 1.")
    assert "x reference)" in line and line in report.format_table(rows)
    # a mild boost under the threshold passes; the threshold is adjustable
    mild = report.summarise(report.image_metrics(inputs, _chroma_scale(references, 1.05), references), meta)
    assert mild["all"]["guard"]["over_saturated"] == 0
    strict = report.summarise(report.image_metrics(inputs, _chroma_scale(references, 1.05), references), meta,
                              guard_options={"max_colourfulness_ratio": 1.01})
    assert strict["all"]["guard"]["over_saturated"] == 8


@pytest.mark.unit
@pytest.mark.parametrize("lift", [0.3, 0.2])
def test_a_washed_out_enhancer_is_flagged(pairs, lift):
    from iqa.enhancement import report

    inputs, references, meta = pairs
    outputs = (1 - lift) * references + lift  # lifted blacks: a grey veil over the reference
    rows = _run(inputs, outputs, references, meta)
    check = rows["all"]["guard"]
    assert check["passed"] == 0 and check["washed_out"] == 8 and check["out_of_band"] >= 6
    assert check["out_of_band_attributes"]["brightness"] >= 6  # every image but the darkened ones, whose intended attribute it is
    darken = [r for r in rows["all"]["guard_images"] if r["degradation"] == "darken"]
    # their contrast is no further from the reference than the dark input's (no band flag), yet they are washed out
    band = report.GUARD_BANDS["contrast"]
    assert all("washed_out" in r["flags"] and r["output"]["contrast"] < r["reference"]["contrast"] - band for r in darken)
    assert "washed out" in rows["all"]["guard_line"]


@pytest.mark.unit
def test_a_hue_rotating_enhancer_is_flagged_and_the_identity_fails_the_intended_check(pairs):
    inputs, references, meta = pairs
    rotated = references[:, [1, 2, 0]]  # channels swapped: the hues turn, the luma barely changes
    rows = _run(inputs, rotated, references, meta)
    assert rows["all"]["guard"]["mean_hue_drift"] > 30 and rows["all"]["guard"]["hue_drift"] == 8
    assert all("hue_drift" in r["flags"] for r in rows["all"]["guard_images"])
    identity = _run(inputs, inputs.clone(), references, meta)
    assert all("intended_not_moved" in r["flags"] for r in identity["all"]["guard_images"])


@pytest.mark.unit
def test_without_a_reference_brightening_a_dark_image_is_not_called_over_saturation():
    from iqa.enhancement import report
    from iqa.enhancement.data import HeldOutPairs

    data = HeldOutPairs(photos=["chelsea", "motorcycle"], degradations=["darken"], level=4, size=64, crops=1)
    clean = torch.stack(data.references)
    dark = clean * 0.3  # a shorter exposure: every channel scaled alike
    plain = report.summarise(report.image_metrics(dark, clean, None), data.meta)
    for row in plain["all"]["guard_images"]:
        # colourfulness rose ~3x with the brightness: per unit of brightness it did not move
        assert row["reference"] is None and row["intended"]["moved"] and "over_saturated" not in row["flags"]
        assert row["colourfulness_ratio"] == pytest.approx(1.0, abs=0.05)
    assert math.isnan(plain["all"]["psnr_output"]) and "reference" not in plain["all"]["guard_line"]
    boosted = report.summarise(report.image_metrics(dark, _chroma_scale(clean, 1.6), None), data.meta)
    assert all("over_saturated" in row["flags"] for row in boosted["all"]["guard_images"])
    assert "colourfulness 1." in boosted["all"]["guard_line"] and "x input" in boosted["all"]["guard_line"]


@pytest.mark.unit
def test_colourfulness_is_hasler_suesstrunk_computed_independently():
    from iqa.enhancement.report import colourfulness

    rng = np.random.default_rng(0)
    images = rng.random((3, 12, 10, 3))
    images[1] *= [1.0, 0.4, 0.2]  # a warm one
    images[2] = images[2].mean(axis=2, keepdims=True)  # grey: only the offset term is left, and it is 0
    expected = []
    for image in images * 255.0:
        rg = image[..., 0] - image[..., 1]
        yb = (image[..., 0] + image[..., 1]) / 2 - image[..., 2]
        expected.append(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))
    got = colourfulness(torch.from_numpy(images.transpose(0, 3, 1, 2)).float())
    assert got.tolist() == pytest.approx(expected, rel=1e-4, abs=1e-3)
    assert got[2] == pytest.approx(0.0, abs=1e-3) and min(got[0], got[1]) > 50


@pytest.mark.unit
def test_lab_and_hue_drift_agree_with_scikit_image_by_another_route():
    from skimage.color import lab2rgb, rgb2lab

    from iqa.enhancement.report import hue_drift, srgb_to_lab

    rng = np.random.default_rng(1)
    a = rng.random((2, 9, 11, 3))
    b = np.clip(a + rng.normal(0, 0.15, a.shape), 0, 1)
    tensor = lambda x: torch.from_numpy(x.transpose(0, 3, 1, 2).copy())  # noqa: E731
    lab_a = np.stack([rgb2lab(x) for x in a])
    lab_b = np.stack([rgb2lab(x) for x in b])
    assert np.abs(srgb_to_lab(tensor(a)).numpy().transpose(0, 2, 3, 1) - lab_a).max() < 1e-3
    # the other route: hue differences as angles of complex products, weights from complex magnitudes
    za, zb = lab_a[..., 1] + 1j * lab_a[..., 2], lab_b[..., 1] + 1j * lab_b[..., 2]
    weight = np.sqrt(np.abs(za) * np.abs(zb))
    expected = np.degrees((np.abs(np.angle(za * np.conj(zb))) * weight).sum((1, 2)) / weight.sum((1, 2)))
    assert hue_drift(tensor(b), tensor(a)).tolist() == pytest.approx(expected.tolist(), abs=1e-3)
    # a known rotation: every pixel's hue turned by 20 degrees in CIELAB (chroma small enough to stay in gamut)
    lab = np.zeros((1, 8, 8, 3))
    lab[..., 0] = 60
    angles = rng.uniform(-np.pi, np.pi, (1, 8, 8))
    lab[..., 1], lab[..., 2] = 18 * np.cos(angles), 18 * np.sin(angles)
    turned = lab.copy()
    turned[..., 1], turned[..., 2] = 18 * np.cos(angles + np.radians(20)), 18 * np.sin(angles + np.radians(20))
    base, rotated = lab2rgb(lab[0])[None], lab2rgb(turned[0])[None]
    assert hue_drift(tensor(rotated), tensor(base))[0] == pytest.approx(20.0, abs=0.05)
    assert hue_drift(tensor(base), tensor(base))[0] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.unit
def test_unknown_band_attribute_is_one_clear_line(pairs):
    from iqa.enhancement import report
    from iqa.errors import UserError

    inputs, references, meta = pairs
    with pytest.raises(UserError, match=r"unknown attribute\(s\) \['colourfulness'\]; valid: sharpness, brightness"):
        report.guard(report.image_metrics(inputs, references, references), meta, bands={"colourfulness": 0.1})


@pytest.mark.unit
def test_a_grey_reference_does_not_turn_a_faint_tint_into_a_huge_ratio():
    from iqa.enhancement import report

    grey = torch.rand(2, 1, 40, 40, generator=torch.Generator().manual_seed(0)).expand(2, 3, 40, 40).contiguous()
    tint = torch.tensor([0.004, 0.0, -0.004]).view(1, 3, 1, 1)  # about one 8-bit level: looks grey
    cast = torch.tensor([0.06, 0.0, -0.06]).view(1, 3, 1, 1)  # a visible warm cast
    meta = [{"degradation": "unknown"}] * 2
    faint = report.guard(report.image_metrics(grey, (grey + tint).clamp(0, 1), grey), meta)
    assert all(r["colourfulness_ratio"] < 1.0 and "over_saturated" not in r["flags"] for r in faint)
    warm = report.guard(report.image_metrics(grey, (grey + cast).clamp(0, 1), grey), meta)
    # M of the cast / the floor (the grey reference has M = 0)
    expected = report.colourfulness((grey + cast).clamp(0, 1)) / report.COLOURFULNESS_FLOOR
    assert [r["colourfulness_ratio"] for r in warm] == pytest.approx(expected.tolist())
    assert all("over_saturated" in r["flags"] for r in warm)

