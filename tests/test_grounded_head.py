"""The grounded quality head: its formula against numpy, what it guarantees, and how it is built, trained and stored."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from iqa.attributes import ATTRIBUTES
from iqa.models import GroundedQualityHead, IQANet, build_student, load_net, write_checkpoint

pytestmark = pytest.mark.unit


def random_head(seed: int, width: int = 6, bound: float = 0.25, directions=None) -> GroundedQualityHead:
    head = GroundedQualityHead(width, ATTRIBUTES, bound, directions).double()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in head.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float64) * 2)
    return head


def numpy_quality(head: GroundedQualityHead, features: np.ndarray, attributes: np.ndarray) -> np.ndarray:
    """The documented formula, computed from the parameters with numpy alone."""
    def softplus(x):
        return np.log1p(np.exp(x))

    c = head.centre.detach().numpy()
    u, v = softplus(head.below.detach().numpy()), softplus(head.above.detach().numpy())
    signs = np.array([head.directions[name] for name in ATTRIBUTES])
    u, v = u * (signs >= 0), v * (signs <= 0)
    penalty = (u * np.maximum(c - attributes, 0) + v * np.maximum(attributes - c, 0)).sum(axis=1)
    w, b = head.residual.weight.detach().numpy()[0], float(head.residual.bias.detach())
    return float(head.bias.detach()) - penalty + head.bound * np.tanh(features @ w + b)


def test_the_head_computes_its_documented_formula():
    head = random_head(0)
    rng = np.random.default_rng(0)
    features, attributes = rng.normal(size=(64, 6)), rng.normal(scale=3, size=(64, len(ATTRIBUTES)))
    got = head(torch.from_numpy(features), torch.from_numpy(attributes)).detach().numpy()
    np.testing.assert_allclose(got, numpy_quality(head, features, attributes), rtol=1e-12, atol=1e-12)


def test_quality_never_rises_as_an_attribute_leaves_its_optimum():
    """Any attribute moved away from the head's optimum (either way; noisiness only upwards) never raises quality."""
    for seed in range(5):
        head = random_head(seed)
        rng = np.random.default_rng(seed)
        features = torch.from_numpy(rng.normal(size=(32, 6)))
        attributes = torch.from_numpy(rng.normal(scale=3, size=(32, len(ATTRIBUTES))))
        base = head(features, attributes)
        centre = head.centre.detach()
        for k, name in enumerate(ATTRIBUTES):
            away = attributes.clone()
            step = torch.from_numpy(rng.uniform(0, 2, size=32))
            away[:, k] = attributes[:, k] + torch.sign(attributes[:, k] - centre[k]) * step
            assert torch.all(head(features, away) <= base + 1e-12), name
        # Noisiness costs only above its optimum: lowering it never lowers quality, raising it never raises it.
        n = ATTRIBUTES.index("noisiness")
        less, more = attributes.clone(), attributes.clone()
        less[:, n] -= 1.0
        more[:, n] += 1.0
        assert torch.all(head(features, less) >= base - 1e-12) and torch.all(head(features, more) <= base + 1e-12)


def test_the_residual_cannot_move_quality_by_more_than_its_bound():
    head = random_head(1, bound=0.1)
    with torch.no_grad():
        head.residual.weight.mul_(1e3)
    rng = np.random.default_rng(1)
    features, attributes = torch.from_numpy(rng.normal(size=(256, 6))), torch.from_numpy(rng.normal(size=(256, len(ATTRIBUTES))))
    grounded_part = head.bias - head.penalties(attributes).sum(dim=1)
    residual = head(features, attributes) - grounded_part
    assert residual.abs().max() <= 0.1 + 1e-12 and residual.abs().max() > 0.09  # saturates at the bound, never past it


def test_bad_directions_and_bound_are_refused():
    with pytest.raises(ValueError, match="unknown attributes"):
        GroundedQualityHead(4, ATTRIBUTES, directions={"noise": -1})
    with pytest.raises(ValueError, match="values not in"):
        GroundedQualityHead(4, ATTRIBUTES, directions={"noisiness": 2})
    with pytest.raises(ValueError, match="bound must be"):
        GroundedQualityHead(4, ATTRIBUTES, bound=-1)
    with pytest.raises(ValueError, match="valid heads are linear, grounded"):
        IQANet(weights="none", quality_head="free")


def test_gradients_reach_the_backbone_through_the_attribute_heads():
    net = IQANet(weights="none", quality_head="grounded")
    net.attribute_heads.requires_grad_(False)  # as fine-tuning keeps them
    with torch.no_grad():
        net.quality_head.residual.weight.zero_()
        net.quality_head.residual.bias.zero_()
    net.quality_head.residual.requires_grad_(False)
    net(torch.rand(2, 3, 64, 64))["quality"].sum().backward()
    grads = [p.grad for p in net.backbone.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


def test_a_grounded_checkpoint_round_trips_and_older_configs_mean_a_linear_head(tmp_path):
    net = IQANet(weights="none", quality_head="grounded", residual_bound=0.2).eval()
    with torch.no_grad():
        net.quality_head.centre.fill_(0.3)
    path = write_checkpoint(net, tmp_path / "g.ckpt", stage="finetune")
    loaded, meta = load_net(path)
    assert meta.net_config["quality_head"] == "grounded" and loaded.quality_head.bound == pytest.approx(0.2)
    images = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(images)["quality"], net(images)["quality"])
    linear = IQANet(weights="none")
    assert "quality_head" not in linear.config and isinstance(linear.quality_head, torch.nn.Linear)


def test_build_student_starts_a_grounded_head_from_a_linear_checkpoint(tmp_path):
    source = IQANet(weights="none").eval()
    path = write_checkpoint(source, tmp_path / "pretrain.ckpt", stage="pretrain")
    backbone = {"name": "tf_efficientnet_lite0", "weights": "none", "drop_rate": 0.0, "channels_last": False}
    net = build_student(backbone, str(path), head="grounded")
    assert isinstance(net.quality_head, GroundedQualityHead)
    for key, value in source.backbone.state_dict().items():
        torch.testing.assert_close(net.backbone.state_dict()[key], value, msg=key)
    for name in ATTRIBUTES:
        torch.testing.assert_close(net.attribute_heads[name].weight, source.attribute_heads[name].weight)
    assert isinstance(build_student(backbone, str(path), head="linear").quality_head, torch.nn.Linear)


def test_the_config_builds_the_head_that_stage_head_names(compose):
    cfg = compose("train", ["experiment=demo", "stage=finetune", "stage.head=grounded", "stage.residual_bound=0.1"])
    assert cfg.net.head == "grounded" and cfg.net.residual_bound == 0.1
    assert compose("train", ["experiment=demo", "stage=pretrain"]).net.head is None


def test_the_offline_recipe_passes_its_head_choice_to_the_attribute_pretrained_arm_only(compose):
    from iqa.cli.recipes import model_steps

    attiqa, imagenet = model_steps("out")[2:4]
    for choice in ("linear", "grounded"):
        cfg = compose("train", [*attiqa[1:], f"offline.finetune.head={choice}"])
        assert cfg.stage.head == choice and cfg.net.head == choice
        assert compose("train", [*imagenet[1:], f"offline.finetune.head={choice}"]).net.head == "linear"
