"""Which parameters the stages' optimisers train, and at which learning rates."""

from __future__ import annotations

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
