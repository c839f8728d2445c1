"""Tests for the classical teacher against independent numpy/scipy references and real photos."""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage import data, transform

from iqa.attributes import ATTRIBUTES
from iqa.distortions import DISTORTION_ATTRIBUTE, apply, to_float, to_uint8
from iqa.teachers.base import Teacher
from iqa.teachers.classical import DEFINITIONS, ClassicalTeacher, classical_scores, raw_measures

pytestmark = pytest.mark.unit

COLOUR_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")
SIZE = 224
IDX = {a: i for i, a in enumerate(ATTRIBUTES)}


def _load(name: str) -> np.ndarray:
    img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return img


def _resize_u8(img: np.ndarray, size: int) -> np.ndarray:
    out = transform.resize(img, (size, size), anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@functools.cache
def photo_u8(name: str, size: int = SIZE) -> np.ndarray:
    """Centre square crop of a bundled skimage photo, resized to ``size`` (uint8 HxWx3)."""
    img = _load(name)
    h, w = img.shape[:2]
    s = min(h, w)
    out = _resize_u8(img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s], size)
    out.setflags(write=False)
    return out


def to_tensor(images) -> torch.Tensor:
    """list of uint8 HxWx3 -> uint8 [B,3,H,W]."""
    return torch.from_numpy(np.stack(list(images))).permute(0, 3, 1, 2).contiguous()


# --------------------------------------------------------------------------- reference


def reference_raw(img_u8: np.ndarray) -> np.ndarray:
    """Straightforward float64 per-image implementation of the documented definitions."""
    rgb = img_u8.astype(np.float64)
    y = rgb @ np.array([0.299, 0.587, 0.114])
    inner = (slice(1, -1), slice(1, -1))  # positions where a 3x3 kernel needs no padding

    sharpness = np.mean(np.abs(ndimage.laplace(y)[inner]))
    brightness = y.mean() / 255.0
    contrast = y.std() / 255.0

    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    colorfulness = math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())

    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    resp = ndimage.convolve(y, kernel)[inner]
    grad = ndimage.sobel(y, axis=0)[inner] ** 2 + ndimage.sobel(y, axis=1)[inner] ** 2
    flat = grad.ravel()
    k = (flat.size + 1) // 2
    threshold = np.partition(flat, k - 1)[k - 1]
    noisiness = math.sqrt(math.pi / 2) / 6 * np.mean(np.abs(resp)[grad <= threshold * 1.001 + 0.01])

    by_name = {
        "sharpness": sharpness,
        "brightness": brightness,
        "contrast": contrast,
        "colorfulness": colorfulness,
        "noisiness": noisiness,
    }
    return np.array([by_name[a] for a in ATTRIBUTES])


def reference_score(raw: np.ndarray) -> np.ndarray:
    out = np.empty_like(raw)
    for i, a in enumerate(ATTRIBUTES):
        d = DEFINITIONS[a]
        out[i] = raw[i] / (raw[i] + d.constant) if d.squash == "r/(r+c)" else min(max(d.constant * raw[i], 0), 1)
    return out


def reference_images() -> list[np.ndarray]:
    """Clean photos plus distorted versions that stress every measure."""
    imgs = [photo_u8(n, 160) for n in (*COLOUR_PHOTOS, "camera")]
    base = to_float(photo_u8("coffee", 160))
    rng = np.random.default_rng(3)
    for name, lv in [("gaussian_noise", 4), ("gaussian_blur", 3), ("jpeg", 5), ("darken", 5), ("saturation_decrease", 5)]:
        imgs.append(to_uint8(apply(base, name, lv, rng)))
    return imgs


# --------------------------------------------------------------------------- numerics


def test_raw_measures_match_independent_reference():
    imgs = reference_images()
    got = raw_measures(to_tensor(imgs)).numpy().astype(np.float64)
    assert got.shape == (len(imgs), len(ATTRIBUTES))
    want = np.stack([reference_raw(im) for im in imgs])
    # Exact zeros (colourfulness of grey images) need an absolute floor.
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_scores_follow_documented_squash():
    imgs = reference_images()
    got = classical_scores(to_tensor(imgs)).numpy().astype(np.float64)
    want = np.stack([reference_score(reference_raw(im)) for im in imgs])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_known_values_on_synthetic_images():
    grey = np.full((32, 32, 3), 128, np.uint8)
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 255
    raw = raw_measures(to_tensor([grey, red])).numpy()
    np.testing.assert_allclose(raw[0], [0, 128 / 255, 0, 0, 0][: len(ATTRIBUTES)], atol=1e-6)
    # A flat pure red image: rg = 255, yb = 127.5, no spread -> M = 0.3 * hypot(255, 127.5).
    assert raw[1, IDX["colorfulness"]] == pytest.approx(0.3 * math.hypot(255, 127.5), rel=1e-5)
    assert raw[1, IDX["brightness"]] == pytest.approx(0.299, rel=1e-5)
    assert raw[1, IDX["sharpness"]] == 0 and raw[1, IDX["noisiness"]] == 0


def test_scores_in_unit_interval_including_extremes():
    rng = np.random.default_rng(0)
    imgs = [photo_u8(n, 160) for n in COLOUR_PHOTOS]
    imgs += [
        np.zeros((160, 160, 3), np.uint8),
        np.full((160, 160, 3), 255, np.uint8),
        rng.integers(0, 256, (160, 160, 3), dtype=np.uint8),
        (np.indices((160, 160)).sum(0) % 2 * 255).astype(np.uint8)[..., None].repeat(3, -1),
    ]
    scores = classical_scores(to_tensor(imgs))
    assert scores.dtype == torch.float32
    assert torch.isfinite(scores).all()
    assert (scores >= 0).all() and (scores <= 1).all()
    # Typical photos should sit away from the ends of the scale.
    photo_scores = scores[: len(COLOUR_PHOTOS)]
    for a in ("sharpness", "brightness", "contrast", "colorfulness"):
        col = photo_scores[:, IDX[a]]
        assert (col > 0.1).all() and (col < 0.9).all(), (a, col)


def test_batch_matches_single_and_uint8_matches_float():
    imgs = [photo_u8(n, 160) for n in COLOUR_PHOTOS]
    batch_u8 = to_tensor(imgs)
    batch = classical_scores(batch_u8)
    for i in range(len(imgs)):
        torch.testing.assert_close(classical_scores(batch_u8[i : i + 1])[0], batch[i], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(classical_scores(batch_u8.float() / 255.0), batch, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    batch = to_tensor(reference_images())
    cpu = raw_measures(batch)
    gpu = raw_measures(batch.cuda())
    assert gpu.device.type == "cuda" and gpu.dtype == torch.float32
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------- teacher module


def test_teacher_interface_and_description():
    teacher = ClassicalTeacher()
    assert isinstance(teacher, Teacher)
    assert teacher.name == "classical"
    assert teacher.image_size == 256
    assert ClassicalTeacher(image_size=192).image_size == 192
    assert tuple(teacher.attributes) == ATTRIBUTES

    imgs = to_tensor([photo_u8(n, 96) for n in COLOUR_PHOTOS[:3]])
    out = teacher(imgs)
    assert out.shape == (3, len(ATTRIBUTES)) and out.dtype == torch.float32
    torch.testing.assert_close(out, classical_scores(imgs))
    torch.testing.assert_close(teacher(imgs.float() / 255.0), out, rtol=1e-5, atol=1e-6)

    desc = teacher.describe()
    json.dumps(desc)
    assert desc["name"] == "classical" and desc["image_size"] == 256
    assert desc["attributes"] == list(ATTRIBUTES)
    assert list(desc["definitions"]) == list(ATTRIBUTES)
    for a in ATTRIBUTES:
        entry = desc["definitions"][a]
        assert entry["formula"] and entry["squash"]
        assert entry["constant"] == DEFINITIONS[a].constant


def test_rejects_bad_shapes():
    with pytest.raises(ValueError):
        classical_scores(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError):
        classical_scores(torch.zeros(3, 32, 32))
    with pytest.raises(ValueError):
        classical_scores(torch.zeros(1, 3, 2, 32))


# --------------------------------------------------------------------------- behaviour on real photos


@functools.cache
def distortion_ladder_scores(photo_name: str) -> dict[str, np.ndarray]:
    """Scores [6, 5] for levels 0..5 of every distortion, computed in one batch per photo."""
    img = to_float(photo_u8(photo_name))
    names = list(DISTORTION_ATTRIBUTE)
    # The labelling pipeline sees stored 8-bit images, so quantise before scoring.
    ladder = [to_uint8(apply(img, n, lv, np.random.default_rng(11))) for n in names for lv in range(6)]
    scores = ClassicalTeacher(image_size=SIZE)(to_tensor(ladder)).numpy()
    return {n: scores[6 * i : 6 * i + 6] for i, n in enumerate(names)}


@pytest.mark.parametrize("photo_name", COLOUR_PHOTOS)
@pytest.mark.parametrize("distortion", list(DISTORTION_ATTRIBUTE))
def test_attribute_moves_the_right_way_as_distortion_grows(photo_name, distortion):
    attr, sign = DISTORTION_ATTRIBUTE[distortion]
    values = distortion_ladder_scores(photo_name)[distortion][:, IDX[attr]]
    steps = sign * np.diff(values.astype(np.float64))
    assert (steps > 0).all(), f"{attr} on {photo_name} under {distortion}: {np.round(values, 4)}"


def test_grey_photo_has_zero_colourfulness_and_monotone_other_attributes():
    ladders = distortion_ladder_scores("camera")
    for distortion, (attr, sign) in DISTORTION_ATTRIBUTE.items():
        values = ladders[distortion][:, IDX[attr]].astype(np.float64)
        if attr == "colorfulness":
            # A greyscale photo has no chroma to remove: the score stays at exactly 0.
            assert np.all(values == 0.0)
        else:
            assert (sign * np.diff(values) > 0).all(), (distortion, values)


@pytest.mark.integration
def test_sharper_image_scores_higher_sharpness_pairwise():
    # Off-centre crops at a different size from the ladder test, so the pairs are new content.
    pairs = []
    for name in (*COLOUR_PHOTOS, "camera"):
        full = _load(name)
        h, w = full.shape[:2]
        s = min(h, w) * 3 // 4
        for y0, x0 in ((0, 0), (h - s, w - s)):
            crop = to_float(_resize_u8(full[y0 : y0 + s, x0 : x0 + s], 192))
            for distortion in ("gaussian_blur", "motion_blur"):
                ladder = [to_uint8(apply(crop, distortion, lv, None)) for lv in range(6)]
                sharp = classical_scores(to_tensor(ladder))[:, IDX["sharpness"]].numpy()
                for lo in range(6):
                    for hi in range(lo + 1, 6):
                        pairs.append((name, y0, distortion, lo, hi, sharp[lo], sharp[hi]))
    assert len(pairs) >= 20
    wrong = [p for p in pairs if not p[5] > p[6]]
    assert not wrong, wrong[:5]
