"""The enhancement objective's terms against independent computations, the head probes, the power curve,
the classical baselines and the test-photo comparison."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
import torch

from iqa.enhancement import objective as O

pytestmark = pytest.mark.unit


def _photo(seed: int = 0, size: int = 32) -> torch.Tensor:
    """A smooth colourful image in 0.1..0.9 (no clipping either way)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, 4, 4, generator=g)
    return (0.1 + 0.8 * torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear", align_corners=False)).clamp(0, 1)


# -- terms --------------------------------------------------------------------------------------------


def test_hue_fidelity_matches_an_independent_angle_computation():
    x = _photo(0)
    y = x[:, [1, 2, 0]] * 0.9 + 0.05  # channels rotated: hue moves
    a = np.stack([(x[0, 0] - x[0, 1]) / math.sqrt(2), (x[0, 0] + x[0, 1] - 2 * x[0, 2]) / math.sqrt(6)], -1).reshape(-1, 2)
    b = np.stack([(y[0, 0] - y[0, 1]) / math.sqrt(2), (y[0, 0] + y[0, 1] - 2 * y[0, 2]) / math.sqrt(6)], -1).reshape(-1, 2)
    angle = np.arctan2(a[:, 1], a[:, 0]) - np.arctan2(b[:, 1], b[:, 0])
    expected = (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) * (1 - np.cos(angle))).sum() / (
        (a**2).sum() + 1e-4 * a.shape[0])
    assert float(O.hue_fidelity(x, y)) == pytest.approx(expected, rel=1e-4)
    assert float(O.hue_fidelity(x, y)) > 0.1
    # Brightening, darkening or a saturation change (chroma scaled, hue kept) costs nothing.
    grey = O.luma(x)
    for same_hue in (x * 0.5, grey + 1.5 * (x - grey), grey + 0.3 * (x - grey)):
        assert float(O.hue_fidelity(x, same_hue)) == pytest.approx(0.0, abs=1e-6)


def test_colourfulness_hs_is_the_classical_measure_and_gain_is_one_sided():
    from iqa.enhancement.report import colourfulness

    x = torch.cat([_photo(1), _photo(2)])
    assert O.colourfulness_hs(x).numpy() == pytest.approx(colourfulness(x), rel=1e-4)
    grey = O.luma(x)
    boosted = (grey + 1.6 * (x - grey)).clamp(0, 1)
    ratio = O.colourfulness_hs(boosted) / O.colourfulness_hs(x).clamp(min=5.0)
    expected = torch.relu(ratio - 1.05).square()
    assert torch.allclose(O.colourfulness_gain(x, boosted, margin=0.05), expected) and (expected > 0).all()
    assert torch.equal(O.colourfulness_gain(x, grey + 0.5 * (x - grey)), torch.zeros(2))  # less colour: free
    assert torch.equal(O.colourfulness_gain(x, x), torch.zeros(2))


def test_chroma_gain_charges_a_saturation_boost_not_a_desaturation():
    x = _photo(3)
    grey = O.luma(x)
    assert float(O.chroma_gain(x, grey + 1.5 * (x - grey))) > 0.01
    assert float(O.chroma_gain(x, grey + 0.5 * (x - grey))) == 0.0
    # Independent: regional (4x4) mean chroma over mean luma, growth where it grew.
    y = grey + 1.5 * (x - grey)

    def relative(img):
        c = torch.stack(((img[:, 0] - img[:, 1]) / 2**0.5, (img[:, 0] + img[:, 1] - 2 * img[:, 2]) / 6**0.5), 1).norm(dim=1)
        blocks = c.reshape(1, 8, 4, 8, 4).mean((2, 4))
        lum = O.luma(img)[:, 0].reshape(1, 8, 4, 8, 4).mean((2, 4))
        return blocks / (lum + 0.01)

    assert float(O.chroma_gain(x, y)) == pytest.approx(float(torch.relu(relative(y) - relative(x)).mean()), rel=1e-5)


def test_exposure_band_and_clipping_against_direct_computations():
    x = torch.zeros(1, 3, 32, 32)
    x[..., :16, :] = 0.05  # top half too dark
    x[..., 16:, :] = 0.95  # bottom half too bright
    # Regions of 16x16: two at 0.05, two at 0.95; band [0.1, 0.9] -> each 0.05 outside.
    assert float(O.exposure_band(x, 0.1, 0.9)) == pytest.approx(0.05**2, rel=1e-4)
    assert float(O.exposure_band(torch.full((1, 3, 32, 32), 0.5), 0.1, 0.9)) == 0.0
    inputs = torch.full((1, 3, 4, 4), 0.5)
    inputs[..., 0, 0] = 0.99  # already clipped in the input: not charged
    outputs = inputs.clone()
    outputs[..., 1, :] = 1.0  # 4 fresh pixels per channel pushed to white
    outputs[..., 0, 0] = 1.0
    assert float(O.clipping(inputs, outputs, 0.97)) == pytest.approx(4 / 16, rel=1e-5)


def test_random_views_never_enlarge_and_pass_gradients():
    x = _photo(4, 64).requires_grad_(True)
    views = O.random_views(x, 6, (0.5, 1.0), 0.75, generator=torch.Generator().manual_seed(0))
    assert len(views) == 6 and all(v.shape[-1] == v.shape[-2] <= 64 and v.shape[-1] >= 24 for v in views)
    again = O.random_views(x, 6, (0.5, 1.0), 0.75, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(views, again))
    sum(v.mean() for v in views).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


# -- the objective with the shipped model ---------------------------------------------------------


@pytest.fixture(scope="module")
def shipped():
    import iqa.zoo

    return str(iqa.zoo.path())


@pytest.mark.integration
def test_raise_and_lower_stop_paying_past_the_calibration(shipped):
    from iqa.quality_loss import QualityLoss

    loss = QualityLoss(shipped, quality=0.0, attributes={"colorfulness": "raise"}, resize=False)
    # Smooth and photographic crops at several saturations; the one the head puts highest is past its calibration.
    x = torch.cat([_photo(5, 64), O.clean_crops(["astronaut", "coffee"], 96, 64)])
    grey = O.luma(x)
    candidates = torch.cat([(grey + k * (x - grey)).clamp(0, 1) for k in (1.0, 2.0, 3.0, 5.0)])
    with torch.no_grad():
        levels = loss.percentile("colorfulness", loss.predict(candidates)["attributes"][:, loss.attributes.index("colorfulness")])
    vivid = candidates[int(levels.argmax())][None].clone().requires_grad_(True)
    raw = loss.predict(vivid)["attributes"][:, loss.attributes.index("colorfulness")]
    assert float(loss.percentile("colorfulness", raw).detach()) > 100  # beyond the calibration ...
    term = loss.terms(vivid)["colorfulness"]
    assert float(term) == 0.0  # ... "more" earns nothing
    term.sum().backward()
    assert float(vivid.grad.abs().sum()) == 0.0
    # "lower" below the 0th percentile: nothing more to earn either (the percentile itself is forced there).
    lower = QualityLoss(shipped, quality=0.0, attributes={"colorfulness": "lower"}, resize=False)
    level = torch.tensor([-30.0, 40.0], requires_grad=True)
    predictions = {"quality_norm": torch.zeros(2), "attributes": torch.zeros(2, 5)}
    lower.percentile = lambda name, raw: level
    values = lower.terms(torch.zeros(2, 3, 8, 8), predictions)["colorfulness"]
    values.sum().backward()
    assert values.tolist() == pytest.approx([0.0, 0.4]) and level.grad.tolist() == pytest.approx([0.0, 0.01])


@pytest.mark.integration
def test_objective_resolves_clean_targets_and_probes_the_heads(shipped, caplog):
    obj = O.EnhancementObjective(shipped, quality=1.0, attributes={"brightness": {"target": "clean"}}, resize=False,
                                 ceilings={"colorfulness": "clean"}, clean_photos=["astronaut", "coffee"], clean_size=96,
                                 clean_crop=64)
    clean = O.clean_crops(["astronaut", "coffee"], 96, 64)
    assert clean.shape == (6, 3, 64, 64)
    with torch.no_grad():
        levels = obj.attiqa.percentile("brightness", obj.attiqa.predict(clean)["attributes"][:, 1])
    (term,) = [t for t in obj.attiqa.terms_config if t.name == "brightness"]
    assert term.target == pytest.approx(float(levels.median()), abs=1e-4)
    assert obj.ceilings["colorfulness"] == pytest.approx(obj.clean_ceilings["colorfulness"])
    # A brightness target at the level the head gives a flat black image is met better by black than by clean
    # photos (wherever the shipped head puts black, as long as it is apart from the clean crops), and the probe says so.
    with torch.no_grad():
        black = float(obj.attiqa.percentile("brightness", obj.attiqa.predict(torch.zeros(1, 3, 64, 64))["attributes"][:, 1]))
    assert abs(black - float(levels.median())) > 10
    caplog.set_level("WARNING", logger="iqa.train")
    dark = O.EnhancementObjective(shipped, quality=1.0, attributes={"brightness": {"target": min(max(black, 0.0), 100.0)}},
                                  resize=False, clean_photos=["astronaut", "coffee"], clean_size=96, clean_crop=64)
    assert any("brightness term prefers a flat black image" in w for w in dark.head_warnings)
    assert any("brightness term prefers a flat black image" in r.getMessage() for r in caplog.records)
    # The quality probe reports exactly the degenerate images the quality head scores above the clean crops
    # (median quality_norm, the term being 1 - quality_norm), computed here from the predictions directly.
    side = clean.shape[-1]
    probes = {"a flat black": torch.zeros(1, 3, side, side), "a flat grey": torch.full((1, 3, side, side), 0.5),
              "a flat white": torch.ones(1, 3, side, side), "a washed-out": 0.35 * clean + 0.65,
              "an over-saturated": (clean + 1.5 * (clean - O.luma(clean))).clamp(0, 1)}
    with torch.no_grad():
        def median_quality(images):
            return float(obj.attiqa.predict(images)["quality_norm"].median())

        expected = {label for label, images in probes.items() if median_quality(images) > median_quality(clean) + 1e-3}
    reported = {label for label in probes for w in obj.head_warnings if w.startswith(f"the quality term prefers {label} ")}
    assert reported == expected
    total, parts = obj(clean, clean.clone(), None)
    assert torch.isfinite(total) and {"attiqa_quality", "attiqa_brightness", "attiqa_colorfulness_ceiling"} <= set(parts)


@pytest.mark.integration
def test_objective_without_the_attiqa_term_never_runs_the_network(shipped, monkeypatch):
    monkeypatch.delenv("ATTIQA_CKPT", raising=False)
    obj = O.EnhancementObjective(None, quality=1.0, attiqa_weight=0.0, probe_heads=False, exposure=1.0,
                                 exposure_band=[0.2, 0.8], hue_fidelity=1.0)
    assert obj.attiqa.source == shipped  # no checkpoint given: the shipped default model
    monkeypatch.setattr(obj.attiqa, "predict", lambda *a: pytest.fail("the network ran"))
    x = _photo(6)
    total, parts = obj(x, x * 0.5)
    assert "attiqa" not in parts and set(parts) >= {"exposure", "hue_fidelity"} and float(total) > 0


def test_bad_objective_settings_are_one_line_errors(shipped):
    from iqa.errors import UserError

    for kwargs, message in [({"exposure_band": [0.8, 0.2]}, "exposure_band"), ({"views": -1}, "views must be >= 0"),
                            ({"ceilings": {"colourfulnes": 50}}, "unknown attribute 'colourfulnes'"),
                            ({"hue_fidelity": -1}, "hue_fidelity=-1")]:
        with pytest.raises(UserError, match=message):
            O.EnhancementObjective(shipped, probe_heads=False, **kwargs)


# -- the power curve --------------------------------------------------------------------------------


def test_power_curve_is_x_to_a_per_pixel_gamma_keeping_0_and_1():
    from iqa.enhancement.models import build_enhancer

    net = build_enhancer("zero_dce", width=4, iterations=3, curve="power")
    x = torch.rand(2, 3, 16, 16)
    x[0, :, 0, 0], x[0, :, 0, 1] = 0.0, 1.0
    assert torch.allclose(net(x), x, atol=1e-6)  # identity at initialisation
    with torch.no_grad():
        net.c7.bias.fill_(0.3)  # each map tanh(0.3): gamma = 2 ** -(3 tanh 0.3)
    y, maps = net.enhance(x)
    gamma = 2.0 ** (-3 * math.tanh(0.3))
    assert torch.allclose(y, x**gamma, atol=1e-5) and maps.shape == (2, 3, 16, 16)
    assert float(y[0, 0, 0, 0]) == 0.0 and float(y[0, 0, 0, 1]) == pytest.approx(1.0)
    y.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
    from iqa.errors import UserError

    with pytest.raises(UserError, match="unknown curve 'cubic'"):
        build_enhancer("zero_dce", curve="cubic")


# -- baselines ---------------------------------------------------------------------------------------


def test_auto_gamma_brings_mean_luma_to_the_target_on_both_paths():
    from iqa.enhancement.baselines import LUMA, auto_gamma

    rng = np.random.default_rng(0)
    eight_bit = (rng.integers(0, 80, (24, 32, 3)) / 255.0).astype(np.float32)  # dark, on the 1/255 grid
    smooth = (rng.random((24, 32, 3)) * 0.3).astype(np.float64)  # off the grid
    for image in (eight_bit, smooth):
        out = auto_gamma(image, target=0.45)
        assert float((out.astype(np.float64) @ LUMA).mean()) == pytest.approx(0.45, abs=1e-4)
        # One gamma for the whole image: out = image ** g for a single g.
        mask = image > 0.02
        g = np.log(out[mask]) / np.log(image[mask])
        assert np.ptp(g) < 1e-3
    flat = np.zeros((8, 8, 3), np.float32)
    assert np.array_equal(auto_gamma(flat), flat)
    with pytest.raises(ValueError, match="target"):
        auto_gamma(eight_bit, target=1.5)


@pytest.mark.parametrize("backend", ["opencv", "scikit-image"])
def test_clahe_raises_local_contrast_and_keeps_colour(backend, monkeypatch):
    if backend == "opencv":
        pytest.importorskip("cv2")
    else:
        monkeypatch.setitem(sys.modules, "cv2", None)  # import fails: the scikit-image fallback
    from skimage import color

    from iqa.enhancement.baselines import clahe, clahe_backend

    assert clahe_backend() == backend
    x = _photo(7, 64).permute(0, 2, 3, 1)[0].numpy()
    low = 0.4 + 0.2 * x  # low contrast
    out = clahe(low)
    assert out.shape == low.shape and out.dtype == np.float32 and 0 <= out.min() <= out.max() <= 1
    assert color.rgb2lab(out)[..., 0].std() > 1.5 * color.rgb2lab(low)[..., 0].std()
    hue_in, hue_out = (np.arctan2(lab[..., 2], lab[..., 1]) for lab in (color.rgb2lab(low), color.rgb2lab(out)))
    assert np.median(np.abs(np.angle(np.exp(1j * (hue_in - hue_out))))) < 0.1


# -- the comparison ----------------------------------------------------------------------------------


def test_compare_measures_methods_per_photo_with_intervals(tmp_path, monkeypatch):
    from iqa.enhancement import benchmark as B
    from iqa.enhancement.models import build_enhancer, write_enhancer

    pairs = B.photo_pairs(names=["astronaut", "coffee", "chelsea"], degradation="darken", level=3, size=48)
    assert pairs.photos == ["astronaut", "coffee", "chelsea"] and pairs.inputs.shape == (3, 3, 48, 48)
    perfect = B.measure(pairs, pairs.references)
    assert np.all(perfect["ssim"] > 0.999) and np.allclose(perfect["colourfulness_ratio"], 1.0) and np.allclose(perfect["hue_drift"], 0)
    results = B.run_methods(pairs, {"auto_gamma": "auto_gamma", "input": "input"})
    summary = B.summarise(pairs, results, n_boot=200)
    gap = summary["methods"]["input"]["psnr_gap_auto_gamma"]
    differences = results["auto_gamma"]["psnr"] - results["input"]["psnr"]
    assert gap["photos"] == 3 and gap["gap"] == pytest.approx(differences.mean()) and gap["lo"] <= gap["gap"] <= gap["hi"]
    assert gap["wins"] == pytest.approx(np.mean(differences > 0))
    row = summary["methods"]["auto_gamma"]["psnr"]
    assert row["lo"] <= row["mean"] <= row["hi"] and row["mean"] == pytest.approx(float(np.mean(results["auto_gamma"]["psnr"])))
    table = B.format_summary(summary)
    assert "| auto_gamma |" in table and "3 photos" in table
    # compare(): enhancer checkpoints beside the baselines, written out; a split with no photo here falls back to tune.
    ckpt = write_enhancer(build_enhancer("zero_dce", width=4, iterations=2), tmp_path / "identity.ckpt")
    from iqa.data import photos as registry

    original = registry.available
    monkeypatch.setattr(registry, "available", lambda p: p.name == "grace_hopper" or (p.split == "train" and original(p)))
    report = B.compare({"identity": str(ckpt)}, split="test", size=48, n_boot=100, out=str(tmp_path / "cmp"), baselines=("input",))
    assert report["split"].startswith("tune") and report["tables"]["darken"]["photo_names"] == ["grace_hopper"]
    stored = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    identity, plain = stored["tables"]["darken"]["methods"]["identity"], stored["tables"]["darken"]["methods"]["input"]
    assert identity["psnr"]["mean"] == pytest.approx(plain["psnr"]["mean"])  # an identity enhancer is the input
    assert "| identity |" in (tmp_path / "cmp" / "comparison.md").read_text()
