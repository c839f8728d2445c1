"""QualityLoss inside outside training loops: input checks, autocast, cached resampling, compile, devices, checkpoints."""

from __future__ import annotations

import warnings

import pytest
import torch

IMAGE_SIZE = 16


def _model(view_size: int = IMAGE_SIZE, device: str | None = None):
    from iqa.data.records import View
    from iqa.inference import QualityModel
    from iqa.metrics import MOSScale
    from iqa.models import IQANet

    torch.manual_seed(0)
    net = IQANet(backbone="test_efficientnet", weights="none").eval()
    return QualityModel(net, MOSScale(1.0, 5.0), View(image_size=view_size), {"stage": "finetune", "attributes_trained": True},
                        torch.device(device) if device else None)


def _loss(**kwargs):
    from iqa.quality_loss import QualityLoss

    return QualityLoss(_model(), attributes={"contrast": "raise"}, **kwargs)


def _images(batch: int = 2, height: int = 20, width: int = 24, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    torch.manual_seed(0)
    return export_checkpoint(IQANet(backbone="test_efficientnet", weights="none"), tmp_path_factory.mktemp("ql") / "tiny.ckpt",
                             stage="finetune", data="demo", init="pretrain.ckpt", mos_range=[1.0, 5.0], higher_is_better=True,
                             image_size=IMAGE_SIZE, attributes_trained=True)


# -- input checks --------------------------------------------------------------------------------------

@pytest.mark.unit
@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.int16, torch.bool, torch.complex64])
def test_odd_dtypes_are_refused_in_one_line_naming_what_is_accepted(dtype):
    from iqa.errors import UserError

    images = torch.zeros(1, 3, 20, 24, dtype=dtype)
    with pytest.raises(UserError) as info:
        _loss()(images)
    message = str(info.value)
    assert "\n" not in message and str(dtype).removeprefix("torch.") in message
    assert "valid: float16, bfloat16, float32, float64, uint8" in message


@pytest.mark.unit
def test_uint8_and_half_precision_inputs_give_the_float32_value():
    loss_fn = _loss()
    images = (_images() * 255).round() / 255
    expected = float(loss_fn(images))
    assert float(loss_fn((images * 255).round().to(torch.uint8))) == pytest.approx(expected, abs=1e-6)
    # float16 holds every 8-bit level exactly; bfloat16 does not (8-bit mantissa), hence the looser bound
    assert float(loss_fn(images.half())) == pytest.approx(expected, abs=1e-5)
    assert float(loss_fn(images.bfloat16())) == pytest.approx(expected, abs=0.02)


@pytest.mark.unit
def test_values_outside_0_1_are_refused_with_the_range_found_unless_the_check_is_off():
    from iqa.errors import UserError
    from iqa.quality_loss import RANGE_TOLERANCE

    loss_fn = _loss()
    images = _images().clamp(0.1, 0.9)
    high, low = images.clone(), images.clone()
    high[1, 2, 3, 4] = 1.25
    low[0, 1, 2, 3] = -0.5
    with pytest.raises(UserError, match=r"got values in 0\.1\.\.1\.25;"):
        loss_fn(high)
    with pytest.raises(UserError, match=r"got values in -0\.5\.\.0\.9;"):
        loss_fn(low)
    # NaN / inf pass through to a non-finite loss: the training loop's own non-finite handling skips the step
    with_nan, high_with_nan = images.clone(), high.clone()
    with_nan[0, 0, 0, 0] = high_with_nan[0, 0, 0, 0] = float("nan")
    assert torch.isnan(loss_fn(with_nan))
    with pytest.raises(UserError, match=r"got values in 0\.1\.\.1\.25;"):  # the range reported ignores the NaN
        loss_fn(high_with_nan)
    # within the tolerance (a rounding slip, e.g. after a colour conversion) it is fine
    slightly = images.clone()
    slightly[0, 0, 0, 0], slightly[0, 0, 0, 1] = 1.0 + RANGE_TOLERANCE / 2, -RANGE_TOLERANCE / 2
    assert torch.isfinite(loss_fn(slightly))
    assert torch.isfinite(_loss(check_range=False)(images * 1.25))


# -- resampling: autocast off, cached matrices ----------------------------------------------------------

@pytest.mark.unit
def test_resize_runs_in_float32_under_autocast():
    loss_fn = _loss()
    images = _images()
    plain, _ = loss_fn._prepare(images)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast, _ = loss_fn._prepare(images)
    # bf16 einsum would be off by ~1e-3 here; with autocast off the resize is the float32 one, bit for bit
    assert under_autocast.dtype == torch.float32 and torch.equal(under_autocast, plain)
    assert plain.shape[-2:] == (IMAGE_SIZE, round(24 * IMAGE_SIZE / 20))


@pytest.mark.unit
def test_resampling_matrices_are_built_once_per_device_dtype_and_size(monkeypatch):
    import iqa.quality_loss as ql

    built: list[tuple[int, int]] = []
    original = ql._resample_weights

    def counting(in_size: int, out_size: int) -> torch.Tensor:
        built.append((in_size, out_size))
        return original(in_size, out_size)

    monkeypatch.setattr(ql, "_resample_weights", counting)
    loss_fn = _loss()
    images = _images()
    first = loss_fn(images)
    assert sorted(built) == [(20, IMAGE_SIZE), (24, 19)]  # one per axis
    assert torch.equal(loss_fn(images), first) and len(built) == 2  # the second call reuses them
    assert set(loss_fn._resample_cache) == {("cpu", torch.float32, 20, IMAGE_SIZE), ("cpu", torch.float32, 24, 19)}
    # the cached weights are PIL's rule: rows sum to 1, and they equal the float64 reference matrix rounded to float32
    cached = loss_fn._resample_cache[("cpu", torch.float32, 24, 19)]
    assert torch.equal(cached, original(24, 19).float())
    assert torch.allclose(cached.sum(1), torch.ones(19))
    loss_fn(images.double())
    assert ("cpu", torch.float64, 24, 19) in loss_fn._resample_cache and len(built) == 4
    loss_fn.to(torch.device("cpu"))  # moving the module drops the cache: nothing stale on another device
    assert loss_fn._resample_cache == {}


@pytest.mark.unit
def test_vectorised_weights_equal_pils_coefficient_rule_written_out():
    """The weights built with tensor operations equal PIL's rule computed the plain way, one output sample at a time."""
    import math

    from iqa.quality_loss import resample_matrix

    def cubic(x: float) -> float:
        a, x = -0.5, abs(x)
        if x < 1:
            return ((a + 2) * x - (a + 3)) * x * x + 1
        if x < 2:
            return (((x - 5) * x + 8) * x - 4) * a
        return 0.0

    for in_size, out_size in [(24, 19), (20, 16), (7, 30), (61, 13), (5, 5)]:
        scale = in_size / out_size
        support = 2.0 * max(scale, 1.0)
        matrix = resample_matrix(in_size, out_size)
        for out in range(out_size):
            centre = (out + 0.5) * scale
            lo, hi = max(0, int(centre - support + 0.5)), min(in_size, int(centre + support + 0.5))
            row = [cubic((i - centre + 0.5) / max(scale, 1.0)) for i in range(lo, hi)]
            total = math.fsum(row)
            expected = [0.0] * in_size
            expected[lo:hi] = [w / total for w in row]
            assert matrix[out].tolist() == pytest.approx(expected, abs=1e-12)


@pytest.mark.unit
def test_upsampling_is_warned_about_once():
    loss_fn = _loss()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss_fn(_images(height=20, width=24))  # larger than the view: no warning
        assert not [w for w in caught if "enlarged" in str(w.message)]
        loss_fn(_images(height=10, width=12))
        loss_fn(_images(height=10, width=12))
    messages = [str(w.message) for w in caught if "enlarged" in str(w.message)]
    assert len(messages) == 1 and "12x10 inputs are enlarged to 19x16" in messages[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _loss(resize=False)(_images(height=10, width=12))  # used as given: nothing is enlarged
    assert not [w for w in caught if "enlarged" in str(w.message)]


# -- torch.compile -------------------------------------------------------------------------------------

@pytest.mark.unit
def test_compiles_as_one_graph_and_keeps_the_range_check():
    import torch._dynamo

    loss_fn = _loss()
    images = _images()
    torch._dynamo.reset()
    compiled = torch.compile(loss_fn, backend="eager", fullgraph=True)  # fullgraph: any graph break raises
    assert float(compiled(images)) == pytest.approx(float(loss_fn(images)), abs=1e-6)
    grad_input = images.clone().requires_grad_(True)
    compiled(grad_input).backward()
    assert torch.isfinite(grad_input.grad).all() and grad_input.grad.abs().sum() > 0
    with pytest.raises(RuntimeError, match="images must lie in 0..1"):
        compiled(images * 1.5)
    torch._dynamo.reset()


# -- devices ---------------------------------------------------------------------------------------------

@pytest.mark.unit
def test_load_device_is_where_the_loss_lives_and_to_moves_everything(tiny_ckpt):
    import iqa

    # The meta device stands in for an accelerator: every tensor must follow the module there.
    loss_fn = iqa.load(tiny_ckpt, device="meta").as_loss(quality=1.0)
    assert loss_fn.device.type == "meta"
    assert all(t.device.type == "meta" for t in [*loss_fn.net.parameters(), *loss_fn.net.buffers(), *loss_fn.buffers()])
    on_cpu = iqa.load(tiny_ckpt, device="cpu").as_loss(quality=1.0)
    on_cpu(_images())
    assert on_cpu._resample_cache and all(w.device.type == "cpu" for w in on_cpu._resample_cache.values())
    on_cpu.to("meta")
    assert on_cpu._resample_cache == {} and all(p.device.type == "meta" for p in on_cpu.net.parameters())
    assert all(b.device.type == "meta" for b in on_cpu.buffers())


@pytest.mark.unit
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_cuda_device_the_cache_and_the_range_check_stay_on_it(tiny_ckpt):
    import iqa

    loss_fn = iqa.load(tiny_ckpt, device="cuda").as_loss(quality=1.0)
    assert loss_fn.device.type == "cuda"
    images = _images().cuda()
    value = loss_fn(images)
    assert value.device.type == "cuda" and torch.isfinite(value)
    assert all(w.device.type == "cuda" for w in loss_fn._resample_cache.values())
    assert float(value) == pytest.approx(float(iqa.load(tiny_ckpt, device="cpu").as_loss(quality=1.0)(images.cpu())), abs=1e-4)


# -- checkpoints of the module that holds the loss --------------------------------------------------------

class _Owner(torch.nn.Module):
    def __init__(self, loss_fn: torch.nn.Module) -> None:
        super().__init__()
        self.enhancer = torch.nn.Conv2d(3, 3, 1)
        self.loss = loss_fn


@pytest.mark.unit
def test_the_frozen_network_stays_out_of_the_owners_state_dict_and_parameters():
    owner = _Owner(_loss())
    state = owner.state_dict()
    assert sorted(state) == ["enhancer.bias", "enhancer.weight"]
    assert sum(p.numel() for p in owner.parameters()) == 3 * 3 + 3  # an optimiser given owner.parameters() sees only these
    fresh = _Owner(_loss())
    torch.nn.init.zeros_(fresh.enhancer.weight)
    result = fresh.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(fresh.enhancer.weight, owner.enhancer.weight)
    owner.train()
    assert not owner.loss.net.training  # still in eval mode for batch-norm statistics


@pytest.mark.unit
def test_an_older_state_dict_with_the_network_weights_loads_strictly_and_ignores_them():
    owner = _Owner(_loss())
    kept = {k: v.clone() for k, v in owner.loss.net.state_dict().items()}
    old = dict(owner.state_dict())
    old.update({f"loss.net.{k}": torch.zeros_like(v) for k, v in kept.items()})  # as an owner's checkpoint used to hold them
    with pytest.warns(UserWarning, match=rf"ignored {len(kept)} stored weights of the frozen quality network \(loss\.net\.\*\)"):
        result = owner.load_state_dict(old, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert all(torch.equal(v, owner.loss.net.state_dict()[k]) for k, v in kept.items())  # the zeros were not loaded
    # a typo'd key of the owner's own is still an error under strict loading
    with pytest.raises(RuntimeError, match="enhancer.wieght"):
        owner.load_state_dict({**owner.state_dict(), "enhancer.wieght": torch.zeros(1)}, strict=True)


@pytest.mark.unit
def test_an_enhancement_module_state_dict_holds_only_the_enhancer_and_old_ones_still_load(tiny_ckpt):
    """stage=enhance's LightningModule holds the objective (with the loss) as ``loss``: the same holds one level down."""
    from iqa.enhancement.objective import EnhancementObjective

    class Module(torch.nn.Module):  # the shape of EnhanceModule: ``net`` (the enhancer) and ``loss`` (the objective)
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Conv2d(3, 3, 1)
            self.loss = EnhancementObjective(str(tiny_ckpt), quality=1.0)

    module = Module()
    assert sorted(module.state_dict()) == ["net.bias", "net.weight"]
    network = module.loss.attiqa.net.state_dict()
    old = {**module.state_dict(), **{f"loss.attiqa.net.{k}": v + 1 for k, v in network.items() if v.is_floating_point()}}
    fresh = Module()
    with pytest.warns(UserWarning, match=r"ignored \d+ stored weights of the frozen quality network \(loss\.attiqa\.net\.\*\); "
                                         r"it keeps the weights of .*tiny\.ckpt"):
        fresh.load_state_dict(old, strict=True)
    assert torch.equal(fresh.net.weight, module.net.weight)
    assert all(torch.equal(v, fresh.loss.attiqa.net.state_dict()[k]) for k, v in network.items())
