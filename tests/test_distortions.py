"""Tests for iqa.distortions on real photos from skimage.data.

Severity is checked with statistics computed here, independently of the
distortion code, so a wrong parameter table or a swapped level order fails.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from skimage import data, transform

from iqa.attributes import ATTRIBUTES
from iqa.distortions import (
    DISTORTION_ATTRIBUTE,
    DISTORTIONS,
    LEVEL_PARAMS,
    apply,
    to_float,
    to_uint8,
)

pytestmark = pytest.mark.unit

EXPECTED_NAMES = {
    "gaussian_blur",
    "motion_blur",
    "gaussian_noise",
    "jpeg",
    "brighten",
    "darken",
    "contrast_decrease",
    "saturation_decrease",
}
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")
SIZE = 192
LUMA = np.array([0.299, 0.587, 0.114])


@functools.cache
def _photo_u8(name: str, size: int = SIZE) -> np.ndarray:
    """Centre square crop of a bundled skimage photo, resized with anti-aliasing, as uint8 RGB."""
    img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    img = transform.resize(img, (size, size), anti_aliasing=True, preserve_range=True)
    out = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


def photo(name: str, size: int = SIZE) -> np.ndarray:
    return to_float(_photo_u8(name, size))


def luma(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64) @ LUMA


def levels(img: np.ndarray, name: str, seed: int = 0) -> list[np.ndarray]:
    return [apply(img, name, lv, np.random.default_rng(seed)) for lv in range(6)]


def strictly_decreasing(values) -> bool:
    return bool(np.all(np.diff(np.asarray(values, dtype=np.float64)) < 0))


def strictly_increasing(values) -> bool:
    return bool(np.all(np.diff(np.asarray(values, dtype=np.float64)) > 0))


# --------------------------------------------------------------------------- contract


def test_registry_and_tables_cover_the_same_names():
    assert set(DISTORTIONS) == EXPECTED_NAMES
    assert set(LEVEL_PARAMS) == EXPECTED_NAMES
    assert set(DISTORTION_ATTRIBUTE) == EXPECTED_NAMES
    for name, table in LEVEL_PARAMS.items():
        assert len(table) == 5, name


def test_distortion_attribute_mapping():
    assert DISTORTION_ATTRIBUTE == {
        "gaussian_blur": ("sharpness", -1),
        "motion_blur": ("sharpness", -1),
        "gaussian_noise": ("noisiness", +1),
        "jpeg": ("sharpness", -1),
        "brighten": ("brightness", +1),
        "darken": ("brightness", -1),
        "contrast_decrease": ("contrast", -1),
        "saturation_decrease": ("colorfulness", -1),
    }
    for attr, sign in DISTORTION_ATTRIBUTE.values():
        assert attr in ATTRIBUTES
        assert sign in (-1, 1)


def test_parameter_tables_are_graded():
    # Parameters that grow with severity vs. those (JPEG quality) that shrink.
    assert strictly_increasing(LEVEL_PARAMS["gaussian_blur"])
    assert strictly_increasing(LEVEL_PARAMS["motion_blur"])
    assert all(int(n) % 2 == 1 for n in LEVEL_PARAMS["motion_blur"])
    assert strictly_increasing(LEVEL_PARAMS["gaussian_noise"])
    assert strictly_decreasing(LEVEL_PARAMS["jpeg"])
    assert strictly_decreasing(LEVEL_PARAMS["brighten"]) and max(LEVEL_PARAMS["brighten"]) < 1
    assert strictly_increasing(LEVEL_PARAMS["darken"]) and min(LEVEL_PARAMS["darken"]) > 1
    assert strictly_increasing(LEVEL_PARAMS["contrast_decrease"])
    assert strictly_increasing(LEVEL_PARAMS["saturation_decrease"])


def test_to_float_and_to_uint8():
    u8 = _photo_u8("coffee")
    f = to_float(u8)
    assert f.dtype == np.float32 and f.shape == u8.shape
    assert f.min() >= 0.0 and f.max() <= 1.0
    np.testing.assert_array_equal(to_uint8(f), u8)
    # Round to nearest, clip out-of-range values.
    vals = np.array([[[0.0, 0.4 / 255, 0.6 / 255], [1.0, 1.7, -0.3]]], dtype=np.float32)
    np.testing.assert_array_equal(to_uint8(vals), np.array([[[0, 0, 1], [255, 255, 0]]], dtype=np.uint8))
    with pytest.raises(TypeError):
        to_float(f)


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_shape_dtype_range_and_input_untouched(name):
    img = photo("astronaut")
    before = img.copy()
    for lv in range(1, 6):
        out = apply(img, name, lv, np.random.default_rng(lv))
        assert out.shape == img.shape
        assert out.dtype == np.float32
        assert np.isfinite(out).all()
        assert out.min() >= 0.0 and out.max() <= 1.0
        assert not np.array_equal(out, img), f"{name} level {lv} did nothing"
    np.testing.assert_array_equal(img, before)


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_level_zero_is_identity(name):
    img = photo("chelsea")
    out = apply(img, name, 0, np.random.default_rng(0))
    np.testing.assert_array_equal(out, img)
    assert out.dtype == np.float32
    out[0, 0, 0] = 0.5 if img[0, 0, 0] != 0.5 else 0.25
    assert img[0, 0, 0] != out[0, 0, 0], "level 0 must return a copy, not the input itself"


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_deterministic_given_seed(name):
    img = photo("rocket")
    for lv in (1, 3, 5):
        a = apply(img, name, lv, np.random.default_rng(1234))
        b = apply(img, name, lv, np.random.default_rng(1234))
        np.testing.assert_array_equal(a, b)
        c = apply(img, name, lv, np.random.default_rng(999))
        if name == "gaussian_noise":
            assert not np.array_equal(a, c)
        else:
            # Only the noise distortion may consume randomness.
            np.testing.assert_array_equal(a, c)


def test_unknown_name_lists_valid_names():
    img = photo("coffee")
    with pytest.raises(ValueError) as err:
        apply(img, "pixelate", 1, np.random.default_rng(0))
    msg = str(err.value)
    assert "pixelate" in msg
    for name in EXPECTED_NAMES:
        assert name in msg


@pytest.mark.parametrize("level", [-1, 6, 10, 2.0, 2.5, True, "3", None])
def test_invalid_level_lists_valid_levels(level):
    img = photo("coffee")
    for name in EXPECTED_NAMES:
        with pytest.raises(ValueError, match=r"0, 1, 2, 3, 4, 5"):
            apply(img, name, level, np.random.default_rng(0))


def test_numpy_integer_level_accepted():
    img = photo("coffee")
    a = apply(img, "gaussian_blur", np.int64(2), None)
    np.testing.assert_array_equal(a, apply(img, "gaussian_blur", 2, None))


def test_rejects_bad_images():
    with pytest.raises(TypeError):
        apply(_photo_u8("coffee"), "darken", 1, None)
    with pytest.raises(ValueError):
        apply(np.zeros((16, 16), np.float32), "darken", 1, None)
    with pytest.raises(ValueError):
        apply(np.zeros((16, 16, 4), np.float32), "darken", 1, None)


# --------------------------------------------------------------------------- severity


def hf_energy(img: np.ndarray, axis: int | None = None) -> float:
    """Mean squared first difference of luma (along one axis, or both)."""
    y = luma(img)
    axes = (0, 1) if axis is None else (axis,)
    return float(sum(np.mean(np.diff(y, axis=a) ** 2) for a in axes))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(1.0 / mse))


@pytest.mark.parametrize("photo_name", PHOTOS)
def test_gaussian_blur_removes_high_frequencies(photo_name):
    img = photo(photo_name)
    energies = [hf_energy(x) for x in levels(img, "gaussian_blur")]
    assert strictly_decreasing(energies), energies
    assert energies[-1] < 0.1 * energies[0]


@pytest.mark.parametrize("photo_name", PHOTOS)
def test_motion_blur_is_horizontal_and_graded(photo_name):
    img = photo(photo_name)
    outs = levels(img, "motion_blur")
    horizontal = [hf_energy(x, axis=1) for x in outs]
    assert strictly_decreasing(horizontal), horizontal
    # A horizontal line kernel barely touches vertical structure compared with horizontal.
    vertical = [hf_energy(x, axis=0) for x in outs]
    assert horizontal[-1] / horizontal[0] < 0.5 * vertical[-1] / vertical[0]


@pytest.mark.parametrize("photo_name", PHOTOS)
def test_gaussian_noise_residual_grows(photo_name):
    img = photo(photo_name)
    residual = [float(np.std(x.astype(np.float64) - img)) for x in levels(img, "gaussian_noise", seed=5)]
    assert residual[0] == 0.0
    assert strictly_increasing(residual), residual


def test_gaussian_noise_matches_table_sigma_on_mid_grey():
    # On a mid-grey image clipping is negligible up to level 4, so the residual std is the table sigma.
    grey = np.full((128, 128, 3), 0.5, dtype=np.float32)
    for lv in range(1, 5):
        out = apply(grey, "gaussian_noise", lv, np.random.default_rng(lv))
        sigma = LEVEL_PARAMS["gaussian_noise"][lv - 1]
        assert abs(np.std(out - 0.5) / sigma - 1.0) < 0.03
        assert abs(np.mean(out - 0.5)) < 0.1 * sigma


@pytest.mark.parametrize("photo_name", PHOTOS)
def test_jpeg_psnr_falls(photo_name):
    img = photo(photo_name)
    values = [psnr(x, img) for x in levels(img, "jpeg")[1:]]
    assert strictly_decreasing(values), values
    # Level 1 is an ordinary, visibly intact JPEG; level 5 is far worse.
    assert values[0] > 25.0
    assert values[0] - values[-1] > 4.0


@pytest.mark.parametrize("photo_name", PHOTOS)
def test_brighten_and_darken_move_mean_luma(photo_name):
    img = photo(photo_name)
    bright = levels(img, "brighten")
    dark = levels(img, "darken")
    assert strictly_increasing([luma(x).mean() for x in bright])
    assert strictly_decreasing([luma(x).mean() for x in dark])
    # Power curves are pointwise monotone: no pixel may move the wrong way.
    for a, b in zip(bright[:-1], bright[1:]):
        assert np.all(b >= a - 1e-6)
    for a, b in zip(dark[:-1], dark[1:]):
        assert np.all(b <= a + 1e-6)


@pytest.mark.parametrize("photo_name", PHOTOS)
def test_contrast_decrease_shrinks_luma_spread(photo_name):
    img = photo(photo_name)
    outs = levels(img, "contrast_decrease")
    stds = [luma(x).std() for x in outs]
    assert strictly_decreasing(stds), stds
    for lv, x in enumerate(outs[1:], start=1):
        # Blending toward mean luma keeps the mean and scales the spread by (1 - w).
        assert abs(luma(x).mean() - luma(img).mean()) < 1e-4
        w = LEVEL_PARAMS["contrast_decrease"][lv - 1]
        assert stds[lv] == pytest.approx((1 - w) * stds[0], rel=1e-4)


def chroma(img: np.ndarray) -> float:
    """Mean distance of each pixel's RGB from its own luma grey."""
    x = img.astype(np.float64)
    return float(np.mean(np.abs(x - luma(x)[..., None])))


@pytest.mark.parametrize("photo_name", PHOTOS)
def test_saturation_decrease_shrinks_chroma(photo_name):
    img = photo(photo_name)
    outs = levels(img, "saturation_decrease")
    values = [chroma(x) for x in outs]
    assert strictly_decreasing(values), values
    assert values[-1] < 1e-6  # the last level is fully grey
    for x in outs:
        np.testing.assert_allclose(luma(x), luma(img), atol=1e-5)


def test_distortions_run_on_non_square_and_small_images():
    img = photo("coffee")[:100, :150]
    for name in EXPECTED_NAMES:
        out = apply(img, name, 5, np.random.default_rng(0))
        assert out.shape == (100, 150, 3)
