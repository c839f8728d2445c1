"""Which parameters the stages' optimisers train, and at which learning rates."""

from __future__ import annotations

import copy
import functools

import pytest
import torch

pytestmark = pytest.mark.unit


def _ids(params) -> set[int]:
    return {id(p) for p in params}


def test_finetune_heads_learn_faster_and_frozen_parameters_are_left_out():
    from iqa.losses import RegressionLoss
    from iqa.models import IQANet
    from iqa.modules.finetune import FinetuneModule

    torch.manual_seed(0)
    net = IQANet(backbone="test_efficientnet", weights="none")
    module = FinetuneModule(net, RegressionLoss(), optimizer=functools.partial(torch.optim.AdamW, lr=1e-3),
                            head_lr_mult=10.0, schedule="constant")
    optimizer = module.configure_optimizers()
    rates = {pid: group["lr"] for group in optimizer.param_groups for pid in _ids(group["params"])}
    assert set(rates) == _ids(p for p in net.parameters() if p.requires_grad)
    assert all(rates[id(p)] == pytest.approx(1e-3) for p in net.backbone.parameters())
    heads = [p for name, p in net.named_parameters() if not name.startswith("backbone.") and p.requires_grad]
    assert heads and all(rates[id(p)] == pytest.approx(1e-2) for p in heads)

    frozen = FinetuneModule(IQANet(backbone="test_efficientnet", weights="none"), RegressionLoss(),
                            optimizer=functools.partial(torch.optim.AdamW, lr=1e-3), freeze_backbone=True, schedule="constant")
    trained = {pid for group in frozen.configure_optimizers().param_groups for pid in _ids(group["params"])}
    assert trained and not trained & _ids(frozen.net.backbone.parameters())


def test_enhance_stage_optimises_every_enhancer_parameter_at_the_configured_rate():
    from iqa.enhancement.models import CurveEstimator
    from iqa.modules.enhance import EnhanceModule

    enhancer = CurveEstimator()
    module = EnhanceModule(enhancer, torch.nn.Identity(), optimizer=functools.partial(torch.optim.AdamW, lr=2e-3),
                           schedule="constant")
    optimizer = module.configure_optimizers()
    assert {pid for group in optimizer.param_groups for pid in _ids(group["params"])} == _ids(enhancer.parameters())
    assert [group["lr"] for group in optimizer.param_groups] == [pytest.approx(2e-3)]


LR = 1e-3


def _drift_after_training(anchor: float):
    """Train a small net on quality alone for a few steps; how far its attribute outputs moved (anchor-loss units)."""
    from iqa.losses import RegressionLoss, attribute_anchor_loss
    from iqa.models import IQANet
    from iqa.modules.finetune import FinetuneModule

    torch.manual_seed(0)
    net = IQANet(backbone="test_efficientnet", weights="none")
    start = copy.deepcopy(net).eval()
    module = FinetuneModule(net, RegressionLoss(attributes=["quality"]), optimizer=functools.partial(torch.optim.AdamW, lr=LR),
                            schedule="constant", attribute_anchor=anchor, mos_range=(1.0, 5.0))
    optimizer = module.configure_optimizers()  # schedule="constant": the optimiser itself
    generator = torch.Generator().manual_seed(1)

    def photos() -> torch.Tensor:  # images of different brightness and contrast, so the heads' outputs spread
        level, spread = torch.rand(2, 16, 1, 1, 1, generator=generator)
        return (level * 0.5 + spread * 0.5 * torch.rand(16, 3, 32, 32, generator=generator)).clamp(0, 1)

    images, mos = photos(), 1 + 4 * torch.rand(16, generator=generator)
    # Batch norm on its running statistics (as the anchor copy runs): the network starts exactly at its copy.
    module.eval()
    for _ in range(30):
        optimizer.zero_grad()
        module.training_step({"images": images, "mos": mos}, 0).backward()
        optimizer.step()
    held_out = photos()
    with torch.no_grad():
        drift = attribute_anchor_loss(module.net.eval()(held_out)["attributes"], start(held_out)["attributes"])
    return float(drift), module, start


@pytest.mark.filterwarnings(r"ignore:You are trying to `self.log\(\)`:UserWarning")  # training_step called without a Trainer
def test_attribute_anchor_holds_the_heads_and_its_copy_stays_out_of_the_checkpoint():
    free, free_module, _ = _drift_after_training(0.0)
    held, module, start = _drift_after_training(10.0)
    assert free_module.anchor_net is None
    assert free > 0.05  # quality-only training moves the features the frozen heads read
    assert held < free / 3
    # The copy is the starting network, unchanged by training, and in no state_dict, parameter list or train() call.
    for (name, value), (_, initial) in zip(module.anchor_net.state_dict().items(), start.state_dict().items()):
        torch.testing.assert_close(value, initial, msg=name)
    assert set(module.state_dict()) == set(free_module.state_dict())
    assert sum(p.numel() for p in module.parameters()) == sum(p.numel() for p in free_module.parameters())
    module.train()
    assert not module.anchor_net.training
    module.to(torch.float64)  # .to() reaches it
    assert next(module.anchor_net.parameters()).dtype == torch.float64
    assert module.hparams["attribute_anchor"] == 10.0


@pytest.mark.parametrize(("weight", "frozen", "message"), [
    (-1.0, False, "must be a number >= 0"),
    (float("nan"), False, "must be a number >= 0"),
    (1.0, True, "needs a backbone that learns"),
])
def test_attribute_anchor_bad_settings_fail_fast(weight, frozen, message):
    from iqa.errors import UserError
    from iqa.losses import RegressionLoss
    from iqa.models import IQANet
    from iqa.modules.finetune import FinetuneModule

    with pytest.raises(UserError, match=message):
        FinetuneModule(IQANet(backbone="test_efficientnet", weights="none"), RegressionLoss(), attribute_anchor=weight,
                       freeze_backbone=frozen)
