"""Tests for iqa.losses against explicit pair-by-pair reference computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from iqa.attributes import ATTRIBUTES
from iqa.losses import (
    CombinedLoss,
    FidelityLoss,
    RankingLoss,
    RegressionLoss,
    fidelity_loss,
    pairwise_margin_loss,
    regression_loss,
)

pytestmark = pytest.mark.unit

# ---------------------------------------------------------------------------
# Reference implementations: plain Python loops over pairs, in float64.
# ---------------------------------------------------------------------------


def _valid_pairs(t: list[float], min_gap: float):
    gap = max(min_gap, 0.0)
    for i in range(len(t)):
        for j in range(i + 1, len(t)):
            if math.isnan(t[i]) or math.isnan(t[j]):
                continue
            if abs(t[i] - t[j]) > gap:
                yield i, j


def ref_margin(p, t, margin, min_gap):
    terms = []
    for i, j in _valid_pairs(t, min_gap):
        s = 1.0 if t[i] > t[j] else -1.0
        terms.append(max(0.0, margin - s * (p[i] - p[j])))
    return sum(terms) / len(terms) if terms else 0.0


def ref_fidelity(p, t, min_gap, eps=1e-8):
    terms = []
    for i, j in _valid_pairs(t, min_gap):
        x = (p[i] - p[j]) / math.sqrt(2.0)
        prob = 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))
        q = 1.0 if t[i] > t[j] else 0.0
        terms.append(1.0 - math.sqrt(prob * q + eps) - math.sqrt((1.0 - prob) * (1.0 - q) + eps))
    return sum(terms) / len(terms) if terms else 0.0


def ref_regression(p, t, kind):
    terms = []
    for pi, ti in zip(p, t):
        if math.isnan(ti):
            continue
        d = pi - ti
        if kind == "mse":
            terms.append(d * d)
        elif kind == "l1":
            terms.append(abs(d))
        else:
            terms.append(0.5 * d * d if abs(d) < 1.0 else abs(d) - 0.5)
    return sum(terms) / len(terms) if terms else 0.0


def random_batch(seed: int, b: int = 24, nan_frac: float = 0.15):
    """Predictions and integer-valued targets (many ties) with a few NaN labels."""
    rng = np.random.default_rng(seed)
    pred = rng.normal(0.0, 1.0, size=b)
    target = rng.integers(0, 6, size=b).astype(np.float64) * 0.5
    target[rng.random(b) < nan_frac] = np.nan
    return torch.from_numpy(pred), torch.from_numpy(target)


def random_matrix(seed: int, b: int = 16, a: int = len(ATTRIBUTES)):
    cols = [random_batch(seed * 100 + k, b=b) for k in range(a)]
    return torch.stack([c[0] for c in cols], 1), torch.stack([c[1] for c in cols], 1)


SEEDS = [0, 1, 2, 3]
GAPS = [0.0, 0.5, 1.2, -1.0]

# ---------------------------------------------------------------------------
# Functional losses vs. the references
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("min_gap", GAPS)
@pytest.mark.parametrize("margin", [0.1, 0.7])
def test_margin_loss_matches_reference(seed, min_gap, margin):
    pred, target = random_batch(seed)
    got = pairwise_margin_loss(pred, target, margin=margin, min_gap=min_gap)
    want = ref_margin(pred.tolist(), target.tolist(), margin, min_gap)
    assert got.dtype == torch.float64
    assert got.item() == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("min_gap", GAPS)
def test_fidelity_loss_matches_reference(seed, min_gap):
    pred, target = random_batch(seed)
    got = fidelity_loss(pred, target, min_gap=min_gap)
    want = ref_fidelity(pred.tolist(), target.tolist(), min_gap)
    assert got.item() == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["mse", "l1", "smooth_l1"])
def test_regression_loss_matches_reference(seed, kind):
    pred, target = random_batch(seed)
    target = target * 0.8  # put some residuals on both sides of smooth_l1's beta
    got = regression_loss(pred, target, kind=kind)
    want = ref_regression(pred.tolist(), target.tolist(), kind)
    assert got.item() == pytest.approx(want, abs=1e-12)


def test_float32_inputs_work():
    pred, target = random_batch(5)
    got = pairwise_margin_loss(pred.float(), target.float())
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(ref_margin(pred.float().tolist(), target.float().tolist(), 0.1, 0.0), abs=1e-6)


def test_ties_are_excluded():
    # All-tied targets leave no valid pair at all.
    pred = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    target = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64)
    assert pairwise_margin_loss(pred, target).item() == 0.0
    assert fidelity_loss(pred, target).item() == 0.0


def test_min_gap_is_strict():
    pred = torch.tensor([0.0, 0.0], dtype=torch.float64)
    target = torch.tensor([1.0, 2.0], dtype=torch.float64)
    # |t_i - t_j| == min_gap is not enough.
    assert pairwise_margin_loss(pred, target, margin=0.3, min_gap=1.0).item() == 0.0
    assert pairwise_margin_loss(pred, target, margin=0.3, min_gap=0.999).item() == pytest.approx(0.3)


# ---------------------------------------------------------------------------
# Behaviour of the margin loss
# ---------------------------------------------------------------------------


def test_margin_zero_when_perfectly_ordered():
    target = torch.arange(8, dtype=torch.float64)
    # Adjacent gaps equal the margin exactly (0.5 is exact in binary) ...
    assert pairwise_margin_loss(0.5 * target, target, margin=0.5).item() == 0.0
    # ... or exceed it.
    assert pairwise_margin_loss(2.0 * target - 3.0, target, margin=0.5).item() == 0.0


def test_margin_positive_when_reversed():
    target = torch.arange(8, dtype=torch.float64)
    loss = pairwise_margin_loss(-target, target, margin=0.1)
    assert loss.item() > 0.1
    assert loss.item() == pytest.approx(ref_margin((-target).tolist(), target.tolist(), 0.1, 0.0))


def test_no_valid_pair_returns_connected_zero():
    pred = torch.tensor([0.5, -0.2, 1.0], dtype=torch.float64, requires_grad=True)
    target = torch.tensor([float("nan"), 2.0, float("nan")], dtype=torch.float64)
    for fn in (pairwise_margin_loss, fidelity_loss, regression_loss):
        loss = fn(pred, torch.full_like(target, float("nan"))) if fn is regression_loss else fn(pred, target)
        assert loss.item() == 0.0
        assert loss.requires_grad
        loss.backward()
        assert torch.equal(pred.grad, torch.zeros_like(pred))
        pred.grad = None


@pytest.mark.parametrize("fn", [pairwise_margin_loss, fidelity_loss])
def test_gradient_pushes_misordered_pair_apart(fn):
    # Item 0 has the better target but the lower prediction.
    pred = torch.tensor([0.0, 1.0], dtype=torch.float64, requires_grad=True)
    target = torch.tensor([5.0, 1.0], dtype=torch.float64)
    fn(pred, target).backward()
    assert pred.grad is not None
    assert pred.grad[0] < 0 < pred.grad[1]  # gradient descent raises p_0 and lowers p_1


def test_gradient_flows_through_nan_targets():
    pred, target = random_batch(11)
    pred.requires_grad_(True)
    (pairwise_margin_loss(pred, target) + fidelity_loss(pred, target) + regression_loss(pred, target)).backward()
    assert torch.isfinite(pred.grad).all()
    assert pred.grad.abs().sum() > 0
    # Entries whose label is missing take part in no pair and no residual.
    assert torch.all(pred.grad[torch.isnan(target)] == 0)


def test_fidelity_near_zero_for_confident_correct_order():
    target = torch.arange(5, dtype=torch.float64)
    assert fidelity_loss(20.0 * target, target).item() == pytest.approx(-1e-4, abs=1e-6)
    assert fidelity_loss(-20.0 * target, target).item() == pytest.approx(1.0, abs=1e-3)


# ---------------------------------------------------------------------------
# Validation of the functional forms
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [pairwise_margin_loss, fidelity_loss])
def test_pairwise_shape_errors(fn):
    with pytest.raises(ValueError, match="same length"):
        fn(torch.zeros(4), torch.zeros(5))
    with pytest.raises(ValueError, match="1-D"):
        fn(torch.zeros(4, 2), torch.zeros(4, 2))


def test_regression_unknown_kind_lists_valid_kinds():
    with pytest.raises(ValueError, match="mse, l1, smooth_l1"):
        regression_loss(torch.zeros(3), torch.zeros(3), kind="huber")
    with pytest.raises(ValueError, match="mse, l1, smooth_l1"):
        RegressionLoss(kind="huber")


def test_regression_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        regression_loss(torch.zeros(3), torch.zeros(4))


# ---------------------------------------------------------------------------
# Attribute-level modules
# ---------------------------------------------------------------------------


def _per_column_reference(cls_name, pred, target, **kw):
    out = []
    for k in range(pred.shape[1]):
        p, t = pred[:, k].tolist(), target[:, k].tolist()
        if cls_name == "ranking":
            out.append(ref_margin(p, t, kw.get("margin", 0.1), kw.get("min_gap", 0.0)))
        elif cls_name == "fidelity":
            out.append(ref_fidelity(p, t, kw.get("min_gap", 0.0)))
        else:
            out.append(ref_regression(p, t, kw.get("kind", "mse")))
    return out


MODULE_CASES = [
    ("ranking", RankingLoss, {"margin": 0.3, "min_gap": 0.5}),
    ("fidelity", FidelityLoss, {"min_gap": 0.5}),
    ("regression", RegressionLoss, {"kind": "smooth_l1"}),
]


@pytest.mark.parametrize(("name", "cls", "kw"), MODULE_CASES)
def test_module_matches_weighted_reference(name, cls, kw):
    pred, target = random_matrix(3)
    weights = {"sharpness": 2.0, "noisiness": 0.5}
    total, per_attr = cls(weights=weights, **kw)(pred, target)
    ref = _per_column_reference(name, pred, target, **kw)
    assert list(per_attr) == list(ATTRIBUTES)
    for k, a in enumerate(ATTRIBUTES):
        assert per_attr[a].item() == pytest.approx(ref[k], abs=1e-12)
    w = [weights.get(a, 1.0) for a in ATTRIBUTES]
    assert total.item() == pytest.approx(sum(wi * ri for wi, ri in zip(w, ref)) / sum(w), abs=1e-12)


@pytest.mark.parametrize(("name", "cls", "kw"), MODULE_CASES)
def test_zero_weight_removes_attribute(name, cls, kw):
    pred, target = random_matrix(4)
    other = target.clone()
    other[:, 2] = torch.flip(other[:, 2], [0]) + 1.0  # change only the "contrast" labels
    off = cls(weights={"contrast": 0.0}, **kw)
    on = cls(**kw)
    assert off(pred, target)[0].item() == pytest.approx(off(pred, other)[0].item(), abs=1e-12)
    assert on(pred, target)[0].item() != pytest.approx(on(pred, other)[0].item(), abs=1e-6)
    # Per-attribute values are still reported for the switched-off attribute.
    assert off(pred, target)[1]["contrast"].item() != pytest.approx(off(pred, other)[1]["contrast"].item())


def test_zero_weight_shields_total_from_nan_column():
    pred, target = random_matrix(6)
    pred = pred.clone()
    pred[:, 1] = float("nan")
    total, per_attr = RegressionLoss(weights={"brightness": 0.0})(pred, target)
    assert torch.isfinite(total)
    assert torch.isnan(per_attr["brightness"])


def test_weights_as_list_and_mapping_agree():
    pred, target = random_matrix(7)
    as_map = RankingLoss(weights={"brightness": 3.0, "contrast": 0.0})(pred, target)[0]
    as_list = RankingLoss(weights=[1.0, 3.0, 0.0, 1.0, 1.0])(pred, target)[0]
    assert as_map.item() == pytest.approx(as_list.item(), abs=1e-12)


def test_uniform_weight_scale_does_not_matter():
    pred, target = random_matrix(8)
    a = FidelityLoss()(pred, target)[0]
    b = FidelityLoss(weights=[3.0] * len(ATTRIBUTES))(pred, target)[0]
    assert a.item() == pytest.approx(b.item(), abs=1e-12)


def test_unknown_attribute_weight_lists_valid_names():
    with pytest.raises(ValueError, match="sharpness, brightness, contrast, colorfulness, noisiness"):
        RankingLoss(weights={"sharpnes": 1.0})


@pytest.mark.parametrize("weights", [[1.0, 2.0], [0.0] * len(ATTRIBUTES), [1.0, -1.0, 1.0, 1.0, 1.0], "sharpness"])
def test_bad_weights_raise(weights):
    with pytest.raises(ValueError):
        RankingLoss(weights=weights)


@pytest.mark.parametrize(("name", "cls", "kw"), MODULE_CASES)
def test_module_shape_errors(name, cls, kw):
    loss = cls(**kw)
    with pytest.raises(ValueError, match=r"\[B, 5\]"):
        loss(torch.zeros(4, 4), torch.zeros(4, 4))
    with pytest.raises(ValueError, match=r"\[B, 5\]"):
        loss(torch.zeros(4), torch.zeros(4))
    with pytest.raises(ValueError, match=r"\[B, 5\]"):
        loss(torch.zeros(4, 5), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="batch sizes"):
        loss(torch.zeros(4, 5), torch.zeros(3, 5))


def test_single_attribute_fine_tuning():
    pred, target = random_matrix(9, a=1)
    loss = RegressionLoss(kind="l1", attributes=["quality"])
    total, per_attr = loss(pred, target)
    assert list(per_attr) == ["quality"]
    assert total.item() == pytest.approx(ref_regression(pred[:, 0].tolist(), target[:, 0].tolist(), "l1"))
    with pytest.raises(ValueError, match="quality"):
        RankingLoss(attributes=["quality"], weights={"sharpness": 1.0})
    with pytest.raises(ValueError, match=r"\[B, 1\]"):
        loss(torch.zeros(4, 5), torch.zeros(4, 5))


def test_module_backward():
    pred, target = random_matrix(10)
    pred.requires_grad_(True)
    total, _ = RankingLoss()(pred, target)
    total.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


# ---------------------------------------------------------------------------
# CombinedLoss
# ---------------------------------------------------------------------------


def test_combined_equals_weighted_sum_of_parts():
    pred, target = random_matrix(12, a=1)
    attrs = ["quality"]
    reg = RegressionLoss(attributes=attrs)
    rank = RankingLoss(margin=0.2, attributes=attrs)
    combined = CombinedLoss({"regression": reg, "ranking": rank}, {"ranking": 0.5})
    total, parts = combined(pred, target)
    expected = reg(pred, target)[0] + 0.5 * rank(pred, target)[0]
    assert total.item() == pytest.approx(expected.item(), abs=1e-12)
    assert set(parts) == {"regression/quality", "ranking/quality"}
    assert parts["ranking/quality"].item() == pytest.approx(rank(pred, target)[1]["quality"].item(), abs=1e-12)


def test_combined_multi_attribute_keys_and_gradient():
    pred, target = random_matrix(13)
    pred.requires_grad_(True)
    combined = CombinedLoss({"fid": FidelityLoss(), "reg": RegressionLoss()}, {"fid": 2.0, "reg": 0.25})
    total, parts = combined(pred, target)
    assert set(parts) == {f"{t}/{a}" for t in ("fid", "reg") for a in ATTRIBUTES}
    expected = 2.0 * FidelityLoss()(pred, target)[0] + 0.25 * RegressionLoss()(pred, target)[0]
    assert total.item() == pytest.approx(expected.item(), abs=1e-12)
    total.backward()
    assert pred.grad.abs().sum() > 0


def test_combined_validation():
    with pytest.raises(ValueError, match="unknown term"):
        CombinedLoss({"reg": RegressionLoss()}, {"rank": 1.0})
    with pytest.raises(ValueError, match="at least one"):
        CombinedLoss({}, {})


def test_hydra_instantiation():
    cfg = OmegaConf.create(
        {
            "_target_": "iqa.losses.CombinedLoss",
            "terms": {
                "regression": {"_target_": "iqa.losses.RegressionLoss", "kind": "mse", "attributes": ["quality"]},
                "ranking": {"_target_": "iqa.losses.RankingLoss", "margin": 0.1, "attributes": ["quality"]},
            },
            "coefficients": {"regression": 1.0, "ranking": 0.5},
        }
    )
    loss = instantiate(cfg)
    pred, target = random_matrix(14, a=1)
    total, parts = loss(pred, target)
    assert set(parts) == {"regression/quality", "ranking/quality"}
    assert torch.isfinite(total)

    pre = instantiate(OmegaConf.create({"_target_": "iqa.losses.FidelityLoss", "weights": {"noisiness": 2.0}}))
    assert pre.weights["noisiness"] == 2.0 and pre.attributes == ATTRIBUTES


def test_loss_group_regression_ranking_builds_for_the_stage_attributes():
    from pathlib import Path

    from iqa.config import CONFIG_DIR, instantiate_node

    cfg = OmegaConf.load(Path(CONFIG_DIR) / "loss" / "regression_ranking.yaml")
    finetune = instantiate_node(cfg, attributes=["quality"])
    assert {name: term.attributes for name, term in finetune.terms.items()} == {"regression": ("quality",), "ranking": ("quality",)}
    pred, target = random_matrix(10, a=1)
    total, _ = finetune(pred, target)
    expected = RegressionLoss(attributes=["quality"])(pred, target)[0] + RankingLoss(margin=0.1, attributes=["quality"])(pred, target)[0]
    assert total.item() == pytest.approx(expected.item(), abs=1e-12)
    pretrain = instantiate_node(cfg)
    assert pretrain.terms["ranking"].attributes == ATTRIBUTES


def test_combined_refuses_a_term_for_other_attributes_and_a_non_loss():
    with pytest.raises(ValueError, match="scores sharpness"):
        CombinedLoss({"reg": RegressionLoss()}, attributes=["quality"])
    with pytest.raises(TypeError, match="not a torch module"):
        CombinedLoss({"bad": lambda attributes: 3.0}, attributes=["quality"])
    with pytest.raises(TypeError, match="factory of one"):
        CombinedLoss({"bad": 3.0})


# ---------------------------------------------------------------------------
# attribute_anchor_loss
# ---------------------------------------------------------------------------


def _anchor_reference(current: np.ndarray, reference: np.ndarray) -> float:
    batch, attributes = current.shape
    per_attribute = []
    for a in range(attributes):
        mean = sum(reference[b, a] for b in range(batch)) / batch
        spread = max(sum((reference[b, a] - mean) ** 2 for b in range(batch)) / batch, 1e-6) if batch > 1 else 1.0
        per_attribute.append(sum((current[b, a] - reference[b, a]) ** 2 for b in range(batch)) / batch / spread)
    return sum(per_attribute) / attributes


@pytest.mark.parametrize("batch", [1, 2, 7])
def test_attribute_anchor_loss_matches_a_loop_over_heads(batch):
    from iqa.losses import attribute_anchor_loss

    rng = np.random.default_rng(batch)
    reference = rng.normal(size=(batch, 5)) * np.array([1.0, 10.0, 0.1, 3.0, 1.0])
    current = reference + rng.normal(size=(batch, 5))
    got = attribute_anchor_loss(torch.tensor(current), torch.tensor(reference))
    assert float(got) == pytest.approx(_anchor_reference(current, reference), rel=1e-10)


def test_attribute_anchor_loss_is_scale_free_zero_at_the_reference_and_leaves_the_reference_alone():
    from iqa.losses import attribute_anchor_loss

    torch.manual_seed(0)
    reference = torch.randn(8, 5, requires_grad=True)
    current = (reference.detach() + 0.3 * torch.randn(8, 5)).requires_grad_(True)
    base = attribute_anchor_loss(current, reference)
    # Each head in its own units: rescaling one head (both networks alike) changes nothing.
    scale = torch.tensor([1.0, 100.0, 0.01, 5.0, 1.0])
    torch.testing.assert_close(attribute_anchor_loss(current * scale, reference * scale), base)
    assert float(attribute_anchor_loss(reference.detach(), reference)) == 0.0
    base.backward()
    assert reference.grad is None and current.grad is not None and current.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="must match"):
        attribute_anchor_loss(torch.zeros(4, 5), torch.zeros(4, 4))
