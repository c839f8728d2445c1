"""attiqa as a differentiable loss: direction, frozen net, gradients to the input only, agreement with score()."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

IMAGE_SIZE = 32


def _photo(height: int = 40, width: int = 48) -> torch.Tensor:
    """A real photo (scikit-image's cat), small, float ``[1, 3, H, W]`` in 0..1 on the 8-bit grid."""
    from iqa.data.synthetic import load_reference

    image = Image.fromarray((load_reference("chelsea") * 255).round().astype(np.uint8)).resize((width, height), Image.LANCZOS)
    return torch.from_numpy(np.asarray(image).transpose(2, 0, 1).copy()).float().div(255.0)[None]


def _calibration(net, images: torch.Tensor) -> dict:
    with torch.no_grad():
        attrs = net(images)["attributes"].double()
    levels = torch.linspace(0, 1, 101, dtype=torch.float64)
    return {"attributes": list(net.attributes), "quantiles": torch.quantile(attrs, levels, dim=0).T.tolist(),
            "count": int(images.shape[0]), "reference": "random test images"}


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    """A tiny fine-tuned checkpoint with trained (random, but declared trained) attribute heads and a calibration."""
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    torch.manual_seed(0)
    net = IQANet(backbone="test_efficientnet", weights="none").eval()
    gen = torch.Generator().manual_seed(1)
    reference = torch.rand(24, 3, IMAGE_SIZE, IMAGE_SIZE, generator=gen) * torch.rand(24, 1, 1, 1, generator=gen)
    path = tmp_path_factory.mktemp("qloss") / "tiny.ckpt"
    return export_checkpoint(net, path, stage="finetune", data="demo", init="pretrain.ckpt", mos_range=[1.0, 5.0],
                             higher_is_better=True, image_size=IMAGE_SIZE, attributes_trained=True,
                             attribute_calibration=_calibration(net, reference))


@pytest.mark.unit
def test_gradient_reaches_the_input_finite_and_nonzero(tiny_ckpt):
    import iqa

    terms = {"brightness": "raise", "noisiness": {"direction": "lower", "weight": 0.5}}
    loss_fn = iqa.QualityLoss(tiny_ckpt, quality=1.0, attributes=terms)
    image = _photo().requires_grad_(True)
    loss = loss_fn(image)
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert image.grad is not None and torch.isfinite(image.grad).all() and image.grad.abs().sum() > 0
    # Only the input got a gradient: every parameter of the IQA network is frozen.
    assert all(not p.requires_grad and p.grad is None for p in loss_fn.net.parameters())


@pytest.mark.unit
def test_matches_finite_differences_in_float64():
    from iqa.data.records import View
    from iqa.inference import QualityModel
    from iqa.metrics import MOSScale
    from iqa.models import IQANet
    from iqa.quality_loss import QualityLoss

    torch.manual_seed(3)
    net = IQANet(backbone="test_efficientnet", weights="none").double().eval()
    model = QualityModel(net, MOSScale(1.0, 5.0), View(image_size=8), {"stage": "finetune", "attributes_trained": True})
    # quantise=False: the exact derivative of the smooth function (8-bit rounding is straight-through otherwise)
    loss_fn = QualityLoss(model, quality=1.0, attributes={"contrast": "raise", "colorfulness": {"direction": "lower", "weight": 0.3}},
                          quantise=False)
    gen = torch.Generator().manual_seed(0)
    image = (0.2 + 0.6 * torch.rand(1, 3, 10, 12, generator=gen, dtype=torch.float64)).requires_grad_(True)
    (grad,) = torch.autograd.grad(loss_fn(image), image)
    assert grad.dtype == torch.float64
    eps = 1e-6
    for seed in range(3):  # directional derivatives along random directions
        direction = torch.randn(image.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        with torch.no_grad():
            numeric = (loss_fn(image + eps * direction) - loss_fn(image - eps * direction)) / (2 * eps)
        assert float((grad * direction).sum()) == pytest.approx(float(numeric), rel=1e-5, abs=1e-8)


@pytest.mark.unit
def test_iqa_parameters_unchanged_after_an_enhancer_step(tiny_ckpt):
    import iqa

    loss_fn = iqa.load(tiny_ckpt).as_loss(quality=1.0, attributes={"brightness": "raise"})
    before = {k: v.clone() for k, v in loss_fn.net.state_dict().items()}
    assert before  # weights and batch-norm statistics of the frozen network
    enhancer = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3, padding=1), torch.nn.Sigmoid())
    owner = torch.nn.ModuleDict({"enhancer": enhancer, "loss": loss_fn}).train()  # a trainer's .train() reaches the loss too
    assert not loss_fn.net.training and not any(m.training for m in loss_fn.net.modules())
    optimiser = torch.optim.AdamW(owner.parameters(), lr=0.1, weight_decay=0.5)  # even handed every parameter
    enhancer_before = [p.clone() for p in enhancer.parameters()]
    for _ in range(2):
        optimiser.zero_grad()
        loss_fn(enhancer(_photo())).backward()
        optimiser.step()
    after = loss_fn.net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and batch-norm statistics
    assert any(not torch.equal(a, b) for a, b in zip(enhancer_before, enhancer.parameters()))


@pytest.mark.unit
def test_gradient_descent_on_a_darkened_photo_raises_quality_and_brightness(tiny_ckpt):
    import iqa

    model = iqa.load(tiny_ckpt, device="cpu")
    loss_fn = model.as_loss(quality=1.0, attributes={"brightness": "raise"})
    dark = _photo() ** 2.3  # the demo's darken distortion at level 4
    with torch.no_grad():
        start = loss_fn.predict(dark)
    x = dark.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=0.02)
    for _ in range(5):
        optimiser.zero_grad()
        loss_fn(x).backward()
        optimiser.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    brightness = model.attributes.index("brightness")
    with torch.no_grad():
        end = loss_fn.predict(x)
    assert float(end["quality_norm"]) > float(start["quality_norm"])
    assert float(end["attributes"][0, brightness]) > float(start["attributes"][0, brightness])


@pytest.mark.integration
@pytest.mark.parametrize("size", [(IMAGE_SIZE, 40), (56, 72), (101, 150)], ids=["native-size", "resized", "resized-3x"])
def test_loss_equals_what_score_reports(tiny_ckpt, tmp_path, size):
    import iqa

    model = iqa.load(tiny_ckpt, device="cpu")
    image = _photo(*size)
    path = tmp_path / "photo.png"
    Image.fromarray((image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(path)
    frame = model.score(path, progress=False)
    # With quantise the loss resamples with PIL's weights and 8-bit rounding: the network sees score()'s pixels.
    tol = 1e-5
    with torch.no_grad():
        quality = model.as_loss(quality=1.0, quantise=True)(image)
        assert float(quality) == pytest.approx(1.0 - float(frame["quality_norm"][0]), abs=tol)
        smooth = model.as_loss(quality=1.0)(image)  # unrounded (the default): off by the rounding only
        assert float(smooth) == pytest.approx(1.0 - float(frame["quality_norm"][0]), abs=1e-3)
        bright = model.as_loss(quality=0.0, attributes={"brightness": {"direction": "raise", "weight": 2.0}}, quantise=True)(image)
        assert float(bright) == pytest.approx(2.0 * (1.0 - float(frame["brightness_percentile"][0]) / 100.0), abs=50 * tol)
        target = model.as_loss(quality=0.0, attributes={"contrast": 30}, quantise=True)(image)
        assert float(target) == pytest.approx(((float(frame["contrast_percentile"][0]) - 30) / 100) ** 2, abs=50 * tol)


@pytest.mark.unit
def test_soft_percentile_extends_beyond_the_calibration_with_a_gradient():
    from iqa.quality_loss import _percentile_table, soft_percentile

    knots, levels = _percentile_table([0.0, 0.0, 1.0, 2.0, 4.0])  # a tie at the bottom
    values = torch.tensor([-1.0, 0.5, 3.0, 6.0], requires_grad=True)
    pct = soft_percentile(values, knots, levels)
    # ties averaged: knots 0, 1, 2, 4 at levels 12.5, 50, 75, 100; outside, the mean slope 87.5 / 4
    assert pct.detach().tolist() == pytest.approx([12.5 - 87.5 / 4, 12.5 + 0.5 * 37.5, 87.5, 100 + 2 * 87.5 / 4])
    pct.sum().backward()
    assert (values.grad > 0).all()


@pytest.mark.unit
def test_bad_configurations_fail_with_one_clear_line(tiny_ckpt, tmp_path):
    import iqa
    from iqa.errors import UserError
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    with pytest.raises(UserError, match=r"unknown attribute 'brightnes'.*did you mean: brightness"):
        iqa.QualityLoss(tiny_ckpt, attributes={"brightnes": "raise"})
    with pytest.raises(UserError, match="unknown direction 'up'"):
        iqa.QualityLoss(tiny_ckpt, attributes={"brightness": "up"})
    with pytest.raises(UserError, match="percentile must lie in 0..100"):
        iqa.QualityLoss(tiny_ckpt, attributes={"brightness": 140})
    with pytest.raises(UserError, match="no terms"):
        iqa.QualityLoss(tiny_ckpt, quality=0.0)
    pretrain = export_checkpoint(IQANet(backbone="test_efficientnet", weights="none"), tmp_path / "pre.ckpt", stage="pretrain")
    with pytest.raises(UserError, match="stage=pretrain, whose quality head never saw a MOS"):
        iqa.QualityLoss(pretrain)
    assert iqa.QualityLoss(pretrain, quality=0.0, attributes={"sharpness": "raise"}).describe() == ["sharpness raise (weight 1)"]
    fresh = export_checkpoint(IQANet(backbone="test_efficientnet", weights="none"), tmp_path / "fresh.ckpt", init="imagenet")
    with pytest.raises(UserError, match="need trained attribute heads"):
        iqa.QualityLoss(fresh, attributes={"brightness": "raise"})
    with pytest.raises(UserError, match="need a calibrated checkpoint"):
        iqa.QualityLoss(pretrain, quality=0.0, attributes={"brightness": 50})


@pytest.mark.integration  # oneDNN's bf16 kernels take a second to set up on a small CPU
def test_bf16_autocast_on_cpu_gives_finite_float32_loss_and_gradient(tiny_ckpt):
    import iqa

    loss_fn = iqa.QualityLoss(tiny_ckpt, attributes={"brightness": "raise"})
    image = _photo().requires_grad_(True)
    reference = float(loss_fn(image))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = loss_fn(image)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert float(loss) == pytest.approx(reference, abs=0.05)  # bf16 keeps ~3 significant digits
    loss.backward()
    assert torch.isfinite(image.grad).all() and image.grad.abs().sum() > 0


@pytest.mark.unit
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_the_gpu_under_bf16_autocast_it_agrees_with_the_cpu(tiny_ckpt):
    import iqa

    image = _photo(56, 72)
    cpu = float(iqa.QualityLoss(tiny_ckpt, attributes={"brightness": "raise"})(image))
    loss_fn = iqa.QualityLoss(tiny_ckpt, attributes={"brightness": "raise"}).cuda()
    x = image.cuda().requires_grad_(True)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = loss_fn(x)
    loss.backward()
    assert loss.device.type == "cuda" and float(loss) == pytest.approx(cpu, abs=0.05)
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss_fn.parameters())


@pytest.mark.unit
@pytest.mark.parametrize("view_args", [{"image_size": 40}, {"image_size": 48, "crop_size": 40}, {"image_size": 21},
                                       {"image_size": 40, "policy": "tiles", "crop_size": 32}, {"image_size": 64, "max_side": 72}],
                         ids=["resize", "resize-crop", "shrink-2x", "tiles", "max-side"])
def test_differentiable_view_sees_exactly_the_pixels_score_decodes(view_args):
    import io

    from iqa.data.records import View
    from iqa.quality_loss import differentiable_view

    view = View(**view_args)
    image = _photo(45, 61)
    buffer = io.BytesIO()
    Image.fromarray((image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(buffer, format="PNG")
    expected = view(buffer.getvalue()).float()  # what score() feeds the network for this file, uint8
    got = differentiable_view(image, view, quantise=True) * 255
    assert got.shape == (expected.shape if expected.ndim == 4 else (1, *expected.shape))
    assert (got - expected.view_as(got)).abs().max() <= 1.0  # PIL's fixed-point rounding can differ by one level
    assert (got - expected.view_as(got)).abs().mean() < 0.01


@pytest.mark.unit
def test_a_shipped_model_by_name_or_by_default(capsys, monkeypatch):
    import iqa
    from iqa import zoo
    from iqa.errors import UserError

    monkeypatch.delenv("ATTIQA_CKPT", raising=False)
    default_name = zoo.get().name
    other = next(name for name in zoo.names() if name != default_name)
    named = iqa.QualityLoss(other)
    assert named.source == str(zoo.path(other))
    default = iqa.QualityLoss()
    assert default.source == str(zoo.path(default_name))
    assert f"using the shipped model {default_name}" in capsys.readouterr().err
    # Two different networks: the name reached the loader.
    mine, theirs = named.net.state_dict(), default.net.state_dict()
    assert any(not torch.equal(mine[key], theirs[key]) for key in mine)
    with pytest.raises(UserError, match=rf"checkpoint not found: attiqa-ofline .*shipped: .*{other}"):
        iqa.QualityLoss("attiqa-ofline")
