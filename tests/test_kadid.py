"""Tests for iqa.kadid, the 25 KADID-10k distortion types, on small real photos and synthetic images.

Severity and the controlled statistics are measured here, independently of the
distortion code; several types are compared with the same operation computed by
another library (scipy, Pillow, scikit-image).
"""

from __future__ import annotations

import functools
import io
import itertools
import math
import warnings

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage import color, data, transform

from iqa import kadid
from iqa.attributes import ATTRIBUTES
from iqa.data.synthetic import combined_mos
from iqa.errors import UserError

pytestmark = pytest.mark.unit

SIDE = 96
LEVELS = range(1, 6)


@functools.cache
def _photo() -> np.ndarray:
    return transform.resize(data.astronaut(), (SIDE, SIDE), anti_aliasing=True).astype(np.float32)


@pytest.fixture
def photo() -> np.ndarray:
    return _photo().copy()


def _mid_range(side: int = SIDE) -> np.ndarray:
    """The photo squeezed into [0.2, 0.8]: no sample is clipped by small additive changes."""
    return (0.2 + 0.6 * _photo()[:side, :side]).astype(np.float32)


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def _luma(img: np.ndarray) -> np.ndarray:
    return img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114


def _colourfulness(img: np.ndarray) -> float:
    """Hasler and Suesstrunk's colourfulness metric."""
    rg = img[..., 0] - img[..., 1]
    yb = 0.5 * (img[..., 0] + img[..., 1]) - img[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def _out(name: str, level: int, img: np.ndarray | None = None, seed: int = 7) -> np.ndarray:
    return kadid.apply(_photo() if img is None else img, name, level, np.random.default_rng(seed))


# --------------------------------------------------------------------------- contract, for every type and level


@pytest.mark.parametrize("name", list(kadid.TYPES))
def test_contract_shape_dtype_range_identity_and_determinism(name, photo):
    before = photo.copy()
    same = kadid.apply(photo, name, 0, np.random.default_rng(0))
    assert same is not photo and same.dtype == np.float32 and np.array_equal(same, photo)
    for level in LEVELS:
        out = kadid.apply(photo, name, level, np.random.default_rng(11))
        again = kadid.apply(photo, name, level, np.random.default_rng(11))
        assert out.shape == photo.shape and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
        assert np.array_equal(out, again), f"{name} level {level} is not deterministic given the seed"
        assert not np.array_equal(out, photo), f"{name} level {level} leaves the image unchanged"
    assert np.array_equal(photo, before), f"{name} modified its input"


SEVERITY_BY_MSE = [n for n in kadid.TYPES if n != "color_shift"]


@pytest.mark.parametrize("name", SEVERITY_BY_MSE)
def test_distance_to_the_clean_image_grows_with_the_level(name):
    errors = [_mse(_out(name, level), _photo()) for level in LEVELS]
    assert all(b > a for a, b in itertools.pairwise(errors)), f"{name}: MSE by level {errors}"


# --------------------------------------------------------------------------- the statistic each type controls


def test_white_noise_variance_matches_the_table():
    img = _mid_range()
    for level, var in zip(LEVELS, kadid.LEVEL_PARAMS["white_noise"], strict=True):
        residual = _out("white_noise", level, img) - img
        # A few samples leave [0, 1] at the largest sigma (0.1 around 0.2..0.8) and are clipped.
        assert residual.var() == pytest.approx(var, rel=0.08)
        assert abs(residual.mean()) < 0.1 * math.sqrt(var)


def test_colour_component_noise_is_white_in_ycbcr():
    img = np.full((SIDE, SIDE, 3), 0.5, np.float32)
    for level, var in zip(LEVELS, kadid.LEVEL_PARAMS["white_noise_color_component"], strict=True):
        out = _out("white_noise_color_component", level, img).astype(np.float64)
        y = out @ np.array([0.299, 0.587, 0.114])
        cb = (out[..., 2] - y) / 1.772
        cr = (out[..., 0] - y) / 1.402
        for component in (y, cb, cr):
            assert component.var() == pytest.approx(var, rel=0.12)
        assert abs(np.corrcoef(y.ravel(), cr.ravel())[0, 1]) < 0.1  # independent components


def test_impulse_noise_sets_the_tabled_fraction_of_samples_to_black_or_white():
    img = _mid_range(128)
    for level, density in zip(LEVELS, kadid.LEVEL_PARAMS["impulse_noise"], strict=True):
        out = _out("impulse_noise", level, img)
        n = out.size
        black, white = np.mean(out == 0.0), np.mean(out == 1.0)
        tol = 4 * math.sqrt(density / n) + 1e-9
        assert black + white == pytest.approx(density, abs=2 * tol)
        assert black == pytest.approx(density / 2, abs=tol) and white == pytest.approx(density / 2, abs=tol)
        untouched = (out != 0.0) & (out != 1.0)
        assert np.array_equal(out[untouched], img[untouched])


def test_multiplicative_noise_is_uniform_speckle_of_the_tabled_variance():
    img = _mid_range(128)
    for level, var in zip(LEVELS, kadid.LEVEL_PARAMS["multiplicative_noise"], strict=True):
        ratio = (_out("multiplicative_noise", level, img).astype(np.float64) - img) / img
        assert ratio.var() == pytest.approx(var, rel=0.06)
        assert np.abs(ratio).max() <= math.sqrt(3 * var) * (1 + 1e-5)  # uniform: bounded by sqrt(3 var)
        kurtosis = np.mean((ratio - ratio.mean()) ** 4) / ratio.var() ** 2
        assert kurtosis == pytest.approx(1.8, abs=0.1)  # a uniform law's kurtosis, not a Gaussian's 3


def test_denoise_removes_much_of_the_noise_it_added():
    img = _photo()
    for level, var in zip(LEVELS, kadid.LEVEL_PARAMS["denoise"], strict=True):
        rng = np.random.default_rng(5)
        noisy = np.clip(img + np.float32(math.sqrt(var)) * rng.standard_normal(img.shape, dtype=np.float32), 0, 1)
        out = kadid.apply(img, "denoise", level, np.random.default_rng(5))
        assert _mse(out, img) < 0.5 * _mse(noisy, img)


def test_colour_quantization_limits_and_lowers_the_number_of_colours():
    counts = []
    for level, colours in zip(LEVELS, kadid.LEVEL_PARAMS["color_quantization"], strict=True):
        out = np.rint(_out("color_quantization", level) * 255).astype(np.uint8)
        counts.append(len(np.unique(out.reshape(-1, 3), axis=0)))
        assert counts[-1] <= colours
    assert all(b < a for a, b in itertools.pairwise(counts)), counts


def test_quantization_leaves_at_most_n_plus_one_values_per_channel():
    for level, n in zip(LEVELS, kadid.LEVEL_PARAMS["quantization"], strict=True):
        out = _out("quantization", level)
        for c in range(3):
            assert len(np.unique(out[..., c])) <= n + 1
        # Mid-points of the luma-quantile intervals: every output value lies between two thresholds.
        edges = np.concatenate([[0.0], np.quantile(_luma(_photo()), np.arange(1, n + 1) / (n + 1)), [1.0]])
        mids = (edges[:-1] + edges[1:]) / 2
        assert np.min(np.abs(out[..., None] - mids.astype(np.float32)), axis=-1).max() < 1e-6


def test_pixelate_matches_pillow_nearest_down_and_up_and_its_block_size():
    img8 = np.rint(_photo() * 255).astype(np.uint8)
    img = img8.astype(np.float32) / 255
    for level, strength in zip(LEVELS, kadid.LEVEL_PARAMS["pixelate"], strict=True):
        z = 0.95 - strength ** 0.6
        small = int(SIDE * z)
        pil = Image.fromarray(img8).resize((small, small), Image.NEAREST).resize((SIDE, SIDE), Image.NEAREST)
        ours = np.rint(kadid.apply(img, "pixelate", level) * 255).astype(np.uint8)
        # Both are centre-aligned nearest neighbour; they may differ only where a centre falls exactly on a tie.
        assert np.mean(np.all(ours == np.asarray(pil), axis=-1)) > 0.9
        rows = 1 + np.count_nonzero(np.any(ours[1:] != ours[:-1], axis=(1, 2)))
        assert rows == small  # as many distinct rows as pixels in the low-resolution image


def test_mean_shift_moves_every_sample_by_the_tabled_amount_in_either_direction():
    img = _mid_range()
    signs = set()
    for seed, (level, amount) in itertools.product(range(6), zip(LEVELS, kadid.LEVEL_PARAMS["mean_shift"], strict=True)):
        diff = kadid.apply(img, "mean_shift", level, np.random.default_rng(seed)) - img
        assert np.allclose(np.abs(diff), amount, atol=1e-6) and np.ptp(diff) < 1e-6
        signs.add(int(np.sign(diff.mean())))
    assert signs == {-1, 1}


def test_brightness_and_contrast_curves_move_luma_mean_and_spread():
    means_up = [_luma(_out("brighten", level)).mean() for level in range(6)]
    means_down = [_luma(_out("darken", level)).mean() for level in range(6)]
    spreads = [_luma(_out("contrast_change", level)).std() for level in range(6)]
    assert all(b > a for a, b in itertools.pairwise(means_up)), means_up
    assert all(b < a for a, b in itertools.pairwise(means_down)), means_down
    assert all(b < a for a, b in itertools.pairwise(spreads)), spreads
    # The curves keep black and white and are monotone (PCHIP through increasing points).
    ramp = np.linspace(0, 1, 256, dtype=np.float32)[None, :, None].repeat(3, axis=2).repeat(4, axis=0)
    for name in ("darken", "contrast_change"):
        out = kadid.apply(ramp, name, 5)[0, :, 0]
        assert out[0] == pytest.approx(0, abs=1e-6) and out[-1] == pytest.approx(1, abs=1e-6)
        assert np.all(np.diff(out) >= -1e-6)


def test_patch_types_change_only_scaled_squares_and_more_of_them_by_level():
    img = _photo()
    side = max(2, round(32 * SIDE / kadid.KADID_SHORT_SIDE))
    changed = []
    for level, count in zip(LEVELS, kadid.LEVEL_PARAMS["color_block"], strict=True):
        out = _out("color_block", level)
        mask = np.any(out != img, axis=-1)
        changed.append(mask.mean())
        assert 0 < mask.sum() <= count * side * side
        # Every changed pixel lies inside a flat square: its colour is shared by a side x side block.
        values = {tuple(v) for v in out[mask]}
        assert len(values) <= count
    assert all(b > a for a, b in itertools.pairwise(changed)), changed


def test_colour_shift_moves_green_by_the_tabled_distance_at_edges():
    img = _photo()
    e = kadid.edge_weight(img)
    for level, amount in zip(LEVELS, kadid.LEVEL_PARAMS["color_shift"], strict=True):
        out = _out("color_shift", level)
        assert np.array_equal(out[..., [0, 2]], img[..., [0, 2]])
        matches = []
        for dy, dx in itertools.product(range(0, 13), repeat=2):
            padded = np.pad(img[..., 1], ((dy, 0), (dx, 0)), mode="edge")[:SIDE, :SIDE]
            if np.allclose(out[..., 1], np.clip(padded * e + img[..., 1] * (1 - e), 0, 1), atol=1e-6):
                matches.append((dy, dx))
        assert len(matches) == 1, f"level {level}: shifts matching {matches}"
        assert math.hypot(*matches[0]) == pytest.approx(amount, abs=0.75)


def test_edge_weight_is_high_on_edges_and_low_on_flat_regions():
    img = np.zeros((64, 64, 3), np.float32)
    img[:, 32:] = 1.0
    e = kadid.edge_weight(img)
    assert e[:, 30:34].mean() > 0.9 and e[:, :8].max() < 0.05 and e[:, -8:].max() < 0.05


# --------------------------------------------------------------------------- against independent computations


def test_gaussian_blur_matches_scipy():
    img = _photo()
    for level, sigma in zip(LEVELS, kadid.LEVEL_PARAMS["gaussian_blur"], strict=True):
        radius = max(1, math.ceil(2 * sigma))
        ref = ndimage.gaussian_filter(img.astype(np.float64), (sigma, sigma, 0), mode="reflect", truncate=radius / sigma)
        assert np.abs(kadid.apply(img, "gaussian_blur", level) - ref).max() < 1e-5


def test_lens_blur_impulse_response_is_the_disk():
    img = np.zeros((41, 41, 3), np.float32)
    img[20, 20] = 1.0
    for level, radius in zip(LEVELS, kadid.LEVEL_PARAMS["lens_blur"], strict=True):
        response = kadid.apply(img, "lens_blur", level)[..., 0].astype(np.float64)
        yy, xx = np.mgrid[-20:21, -20:21]
        dist = np.hypot(yy, xx)
        assert response.sum() == pytest.approx(1.0, abs=1e-5)
        assert response[dist > radius + 0.75].max() == 0.0  # nothing outside the disk's pixels
        inner = response[dist < radius - 0.75]
        assert np.ptp(inner) < 1e-6 and inner[0] == pytest.approx(1 / (math.pi * radius ** 2), rel=0.02)


def test_motion_blur_impulse_response_is_a_line_of_the_tabled_length():
    img = np.zeros((41, 41, 3), np.float32)
    img[20, 20] = 1.0
    for level, length in zip(LEVELS, kadid.LEVEL_PARAMS["motion_blur"], strict=True):
        response = kadid.apply(img, "motion_blur", level, np.random.default_rng(level))[..., 0].astype(np.float64)
        assert response.sum() == pytest.approx(1.0, abs=1e-5)
        yy, xx = np.mgrid[-20:21, -20:21]
        cov = np.cov(np.stack([yy.ravel(), xx.ravel()]), aweights=response.ravel(), bias=True)
        along, across = np.sqrt(np.linalg.eigvalsh(cov))[::-1]
        # A segment of length L has a standard deviation of L / sqrt(12) along it (plus the pixel's own 1/sqrt(12)).
        assert along == pytest.approx(math.sqrt((length ** 2 + 1) / 12), rel=0.15)
        assert across < 0.55  # the 1 px wide line and the pixel: sqrt(2 / 12) ~ 0.41, more when slanted


def test_jpeg_matches_a_direct_pillow_round_trip():
    img8 = np.rint(_photo() * 255).astype(np.uint8)
    for level, quality in zip(LEVELS, kadid.LEVEL_PARAMS["jpeg"], strict=True):
        buf = io.BytesIO()
        Image.fromarray(img8).save(buf, format="JPEG", quality=quality, subsampling="4:2:0")
        ref = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        ours = np.rint(kadid.apply(img8.astype(np.float32) / 255, "jpeg", level) * 255).astype(np.uint8)
        assert np.array_equal(ours, ref)


def test_jpeg2000_missing_codec_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(kadid, "jpeg2000_available", lambda: False)
    with pytest.raises(UserError, match="OpenJPEG"):
        kadid.apply(_photo(), "jpeg2000", 3)
    assert np.array_equal(kadid.apply(_photo(), "jpeg2000", 0), _photo())  # level 0 needs no codec


def test_colour_spaces_match_scikit_image():
    rng = np.random.default_rng(0)
    img = rng.random((32, 32, 3))
    assert np.abs(kadid.rgb_to_lab(img) - color.rgb2lab(img)).max() < 1e-3
    assert np.abs(kadid.lab_to_rgb(color.rgb2lab(img)) - img).max() < 1e-5
    assert np.abs(kadid.rgb_to_hsv(img) - color.rgb2hsv(img)).max() < 1e-9
    hsv = color.rgb2hsv(img)
    for factor in (0.4, 0.0, -0.4):
        scaled = hsv.copy()
        scaled[..., 1] *= factor
        assert np.abs(kadid.hsv_to_rgb(scaled) - color.hsv2rgb(scaled)).max() < 1e-9


def test_saturation_types_match_a_direct_scikit_image_computation():
    img = _photo()
    for level, factor in zip(LEVELS, kadid.LEVEL_PARAMS["color_saturation_hsv"], strict=True):
        hsv = color.rgb2hsv(img.astype(np.float64))
        hsv[..., 1] *= factor
        ref = np.clip(color.hsv2rgb(hsv), 0, 1)
        assert np.abs(kadid.apply(img, "color_saturation_hsv", level) - ref).max() < 1e-5
    for level, factor in zip(LEVELS, kadid.LEVEL_PARAMS["color_saturation_lab"], strict=True):
        lab = color.rgb2lab(img.astype(np.float64))
        lab[..., 1:] *= factor
        _assert_matches_in_gamut(kadid.apply(img, "color_saturation_lab", level), lab)


def _assert_matches_in_gamut(ours: np.ndarray, lab: np.ndarray) -> None:
    """``ours`` equals scikit-image's ``lab2rgb(lab)`` wherever that colour is inside the sRGB gamut.

    Out of gamut the two clip by different conventions (scikit-image clips the z-part of the inverse), both valid.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # out-of-gamut colours: scikit-image warns, then clips
        ref = np.clip(color.lab2rgb(lab), 0, 1)
    in_gamut = np.all(np.abs(color.rgb2lab(ref) - lab) < 1e-3, axis=-1)
    assert in_gamut.mean() > 0.1  # at least ~900 pixels compared
    assert np.abs(ours - ref)[in_gamut].max() < 1e-5


def test_high_sharpen_is_an_unsharp_mask_on_lightness():
    img = _photo()
    for level, amount in zip(LEVELS, kadid.LEVEL_PARAMS["high_sharpen"], strict=True):
        lab = color.rgb2lab(img.astype(np.float64))
        lum = lab[..., 0]
        lab[..., 0] = np.clip(lum + amount * (lum - ndimage.gaussian_filter(lum, 3.0, mode="reflect")), 0, 100)
        _assert_matches_in_gamut(kadid.apply(img, "high_sharpen", level), lab)


# --------------------------------------------------------------------------- attributes, registry, errors


def _attribute_measure(name: str, img: np.ndarray) -> float:
    lum = _luma(img.astype(np.float64))
    if name == "sharpness":
        return float(np.mean(ndimage.laplace(ndimage.gaussian_filter(lum, 0.7)) ** 2))
    if name == "noisiness":
        return float(np.median(np.abs(lum - ndimage.median_filter(lum, 3))))
    if name == "brightness":
        return float(lum.mean())
    if name == "contrast":
        return float(lum.std())
    return _colourfulness(img)


@pytest.mark.parametrize("name", [n for n, a in kadid.ATTRIBUTE.items() if a is not None])
def test_each_type_moves_its_attribute_in_the_stated_direction(name):
    attribute, sign = kadid.ATTRIBUTE[name]
    clean = _attribute_measure(attribute, _photo())
    for level in (3, 5):
        moved = _attribute_measure(attribute, _out(name, level)) - clean
        if sign == 0:
            assert abs(moved) > 0.02
        else:
            assert np.sign(moved) == sign, f"{name} level {level} moves {attribute} by {moved}"


def test_registry_is_complete_and_the_families_partition_it():
    assert len(kadid.TYPES) == 25 and list(kadid.TYPES)[:3] == ["gaussian_blur", "lens_blur", "motion_blur"]
    assert list(kadid.TYPES)[-1] == "contrast_change" and set(kadid.LEVEL_PARAMS) == set(kadid.TYPES)
    assert all(len(v) == 5 for v in kadid.LEVEL_PARAMS.values())
    grouped = [n for names in kadid.GROUPS.values() for n in names]
    assert len(kadid.GROUPS) == 7 and sorted(grouped) == sorted(kadid.TYPES)
    assert [n for n in kadid.TYPES if n in grouped] == grouped  # the groups follow KADID's numbering
    assert set(kadid.STRUCTURAL).isdisjoint(kadid.PHOTOMETRIC)
    assert sorted(kadid.STRUCTURAL + kadid.PHOTOMETRIC) == sorted(kadid.TYPES)
    assert set(kadid.ATTRIBUTE) == set(kadid.TYPES)
    assert {a for a, _ in filter(None, kadid.ATTRIBUTE.values())} <= set(ATTRIBUTES)
    unseen = set(kadid.UNSEEN_DEFAULT)
    assert 4 <= len(unseen) <= 6 and unseen <= set(kadid.TYPES)
    assert unseen & set(kadid.STRUCTURAL) and unseen & set(kadid.PHOTOMETRIC)
    # Every unseen type has a seen type moving the same attribute the same way.
    seen = {kadid.ATTRIBUTE[n] for n in kadid.TYPES if n not in unseen and kadid.ATTRIBUTE[n]}
    for name in unseen:
        attribute, sign = kadid.ATTRIBUTE[name]
        assert any(a == attribute and (sign == 0 or s in (sign, 0)) for a, s in seen), name


def test_bad_names_levels_and_images_get_clear_errors():
    with pytest.raises(UserError, match="valid types are gaussian_blur, lens_blur"):
        kadid.apply(_photo(), "gausian_blur", 1)
    for level in (6, -1, 2.0, True, "1"):
        with pytest.raises(UserError, match="valid levels are 0, 1, 2, 3, 4, 5"):
            kadid.apply(_photo(), "jpeg", level)
    with pytest.raises(TypeError, match="to_float"):
        kadid.apply((_photo() * 255).astype(np.uint8), "jpeg", 1)
    with pytest.raises(UserError, match="rng=np.random.default_rng"):
        kadid.apply(_photo(), "white_noise", 1, None)


def test_colour_only_types_are_exactly_the_no_ops_on_grey_images():
    grey = np.repeat(_luma(_photo())[..., None], 3, axis=2).astype(np.float32)
    assert kadid.is_grey(grey) and not kadid.is_grey(_photo())
    for name in kadid.TYPES:
        out = _out(name, 3, grey)
        unchanged = np.abs(out - grey).max() < 2e-3
        assert unchanged == (name in kadid.COLOUR_ONLY), name


# --------------------------------------------------------------------------- recipes and their MOS


def test_random_steps_are_deterministic_distinct_and_avoid_cancelling_pairs():
    draws = [kadid.random_steps(np.random.default_rng(seed), max_types=3) for seed in range(400)]
    assert draws == [kadid.random_steps(np.random.default_rng(seed), max_types=3) for seed in range(400)]
    counts = {len(steps) for steps in draws}
    assert counts == {1, 2, 3}
    for steps in draws:
        names = [n for n, _ in steps]
        assert len(set(names)) == len(names) and all(1 <= lv <= 5 for _, lv in steps)
        assert not any(frozenset(pair) in kadid.CANCELLING for pair in itertools.combinations(names, 2))
    assert {n for steps in draws for n, _ in steps} == set(kadid.TYPES)
    grey = [kadid.random_steps(np.random.default_rng(seed), grey=True) for seed in range(200)]
    assert not {n for steps in grey for n, _ in steps} & set(kadid.COLOUR_ONLY)
    only = kadid.random_steps(np.random.default_rng(1), types=("jpeg", "white_noise"), max_types=3, p_single=0.0)
    assert sorted(n for n, _ in only) == ["jpeg", "white_noise"]
    with pytest.raises(UserError, match="valid types are"):
        kadid.random_steps(np.random.default_rng(0), types=("jpeg", "blur"))
    with pytest.raises(UserError, match="grey"):
        kadid.random_steps(np.random.default_rng(0), types=kadid.COLOUR_ONLY, grey=True)


def test_random_ladder_is_one_drawn_type_at_every_level_in_order():
    ladders = [kadid.random_ladder(np.random.default_rng(seed)) for seed in range(300)]
    assert ladders == [kadid.random_ladder(np.random.default_rng(seed)) for seed in range(300)]
    for ladder in ladders:
        (name,) = {steps[0][0] for steps in ladder}
        assert ladder == [[(name, level)] for level in range(1, kadid.NUM_LEVELS + 1)]
    assert {ladder[0][0][0] for ladder in ladders} == set(kadid.TYPES)  # every type can be drawn
    grey = {kadid.random_ladder(np.random.default_rng(seed), grey=True)[0][0][0] for seed in range(300)}
    assert grey == set(kadid.TYPES) - set(kadid.COLOUR_ONLY)
    assert {kadid.random_ladder(np.random.default_rng(s), types=("jpeg", "pixelate"))[0][0][0] for s in range(40)} == {
        "jpeg", "pixelate"}
    with pytest.raises(UserError, match="valid types are"):
        kadid.random_ladder(np.random.default_rng(0), types=("blur",))
    with pytest.raises(UserError, match="grey"):
        kadid.random_ladder(np.random.default_rng(0), types=kadid.COLOUR_ONLY, grey=True)


def test_type_weights_make_a_type_likelier_in_proportion_and_leave_unweighted_draws_alone():
    singles = [kadid.random_steps(np.random.default_rng(seed), p_single=1.0, weights={"jpeg": 48.0}) for seed in range(1000)]
    share = np.mean([steps[0][0] == "jpeg" for steps in singles])
    assert abs(share - 48 / (48 + 24)) < 0.05  # 2/3, against 1/25 unweighted
    assert {steps[0][0] for steps in singles} == set(kadid.TYPES)  # the others stay drawable
    # equal weights, or none, draw exactly what the unweighted code draws, seed for seed
    for weights in (None, {}):
        assert [kadid.random_steps(np.random.default_rng(s), weights=weights) for s in range(50)] == [
            kadid.random_steps(np.random.default_rng(s)) for s in range(50)]
    ladders = {kadid.random_ladder(np.random.default_rng(s), weights={"pixelate": 1e9})[0][0][0] for s in range(30)}
    assert ladders == {"pixelate"}
    # a weighted type outside the pool (colour-only on a grey photo) is simply not drawn
    grey = [kadid.random_steps(np.random.default_rng(s), grey=True, weights={"color_shift": 1e9}) for s in range(30)]
    assert all(name not in kadid.COLOUR_ONLY for steps in grey for name, _ in steps)
    with pytest.raises(UserError, match="valid types are"):
        kadid.random_steps(np.random.default_rng(0), weights={"blur": 2.0})
    for bad in (0, -1.0, float("nan"), float("inf"), True, "2"):
        with pytest.raises(UserError, match="finite numbers above 0"):
            kadid.check_weights({"jpeg": bad})


def test_compose_is_deterministic_and_applies_the_steps_in_order():
    steps = [("white_noise", 2), ("jpeg", 3), ("color_block", 1)]
    one = kadid.compose(_photo(), steps, np.random.default_rng(3))
    assert np.array_equal(one, kadid.compose(_photo(), steps, np.random.default_rng(3)))
    rng = np.random.default_rng(3)
    manual = _photo()
    for name, level in steps:
        manual = kadid.apply(manual, name, level, rng)
    assert np.array_equal(one, manual)
    reordered = kadid.compose(_photo(), steps[::-1], np.random.default_rng(3))
    assert not np.array_equal(one, reordered)
    empty = kadid.compose(_photo(), [], None)
    assert np.array_equal(empty, _photo()) and empty is not _photo()


def test_recipe_mos_reuses_the_combined_rule_and_never_rises_with_a_level():
    assert kadid.recipe_mos([]) == 5.0
    for level in range(6):
        assert kadid.recipe_mos([("jpeg", level)]) == pytest.approx(5.0 - 0.8 * level)
    rng = np.random.default_rng(0)
    for _ in range(300):
        steps = kadid.random_steps(rng, max_types=3, p_single=0.2)
        mos = kadid.recipe_mos(steps)
        assert mos == combined_mos([lv for _, lv in steps]) and 1.0 <= mos <= 5.0
        for i, (name, level) in enumerate(steps):
            for higher in range(level, 6):
                raised = steps[:i] + [(name, higher)] + steps[i + 1:]
                assert kadid.recipe_mos(raised) <= mos
        if len(steps) > 1 and all(lv < 5 for _, lv in steps):
            assert kadid.recipe_mos(steps) < kadid.recipe_mos(steps[:1])  # adding a distortion lowers the MOS
    with pytest.raises(UserError, match="valid types"):
        kadid.recipe_mos([("blur", 2)])


RANDOM_TYPES = ("motion_blur", "color_shift", "white_noise", "white_noise_color_component", "impulse_noise",
                "multiplicative_noise", "denoise", "mean_shift", "jitter", "non_eccentricity_patch", "color_block")


def test_random_types_need_and_follow_the_rng_and_the_others_ignore_it():
    img = _photo()
    for name in kadid.TYPES:
        if name in RANDOM_TYPES:
            with pytest.raises(UserError, match="default_rng"):
                kadid.apply(img, name, 3, None)
            outs = {kadid.apply(img, name, 3, np.random.default_rng(seed)).tobytes() for seed in range(4)}
            assert len(outs) > 1, f"{name} ignores its rng"
            assert np.array_equal(kadid.apply(img, name, 0, None), img)  # level 0 draws nothing
        else:
            rng = np.random.default_rng(0)
            state = rng.bit_generator.state
            assert np.array_equal(kadid.apply(img, name, 3, None), kadid.apply(img, name, 3, rng))
            assert rng.bit_generator.state == state, f"{name} consumed random numbers"
