"""Fine-tuning and probing: closed-form ridge against an independent solve, frozen statistics, recorded split, guards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from iqa.errors import UserError
from iqa.modules.finetune import attribute_quantiles, ridge_fit, ridge_loo_mse

pytestmark = pytest.mark.integration


def independent_ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Ridge as ordinary least squares on the augmented system [Xc; sqrt(alpha) I] w = [yc; 0]."""
    xc, yc = x - x.mean(0), y - y.mean()
    d = x.shape[1]
    a = np.vstack([xc, np.sqrt(alpha) * np.eye(d)])
    b = np.concatenate([yc, np.zeros(d)])
    w = np.linalg.lstsq(a, b, rcond=None)[0]
    return w, float(y.mean() - x.mean(0) @ w)


@pytest.mark.unit
@pytest.mark.parametrize("n,d", [(60, 8), (8, 40)])  # primal and dual branches
def test_ridge_fit_matches_the_augmented_least_squares_solution(n, d):
    rng = np.random.default_rng(n * d)
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d) + rng.normal(size=d)
    y = x @ rng.normal(size=d) + 0.3 * rng.normal(size=n) + 2.0
    for alpha in (0.01, 1.0, 100.0):
        w, b = ridge_fit(x, y, alpha)
        w_ref, b_ref = independent_ridge(x, y, alpha)
        np.testing.assert_allclose(w, w_ref, rtol=1e-7, atol=1e-9)
        assert b == pytest.approx(b_ref, abs=1e-9)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        ridge_fit(x, y, 0.0)


@pytest.mark.unit
def test_ridge_leave_one_out_error_matches_refitting_without_each_sample():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(25, 6)), rng.normal(size=25)
    for alpha in (0.1, 10.0):
        errors = []
        for i in range(25):
            keep = np.arange(25) != i
            w, b = ridge_fit(x[keep], y[keep], alpha)
            errors.append((y[i] - x[i] @ w - b) ** 2)
        assert ridge_loo_mse(x, y, alpha) == pytest.approx(np.mean(errors), rel=1e-9)


@pytest.mark.unit
def test_attribute_quantiles_match_numpy():
    values = torch.randn(200, 5, generator=torch.Generator().manual_seed(0))
    q = np.array(attribute_quantiles(values))
    assert q.shape == (5, 101)
    np.testing.assert_allclose(q, np.quantile(values.numpy().astype(np.float64), np.linspace(0, 1, 101), axis=0).T, atol=1e-6)


@pytest.fixture
def train_cfg(compose, tiny_overrides, tiny_stage):
    def build(tiny_dirs, *extra: str):
        return compose("train", ["experiment=demo", *tiny_overrides(*tiny_dirs), *tiny_stage, *extra])

    return build


def test_ridge_probe_head_is_the_closed_form_fit_on_frozen_features(train_cfg, tiny_dirs, tmp_path):
    from iqa.data.catalog import split_records
    from iqa.data.records import RecordDataset
    from iqa.metrics import MOSScale
    from iqa.models import build_student, net_from_checkpoint
    from iqa.training import train as run

    cfg = train_cfg(tiny_dirs, "stage=ridge_probe", "stage.ridge_alpha=[1.0,30.0,1000.0]",
                    "init=imagenet", f"run_dir={tmp_path}/ridge")
    summary = run(cfg)
    assert summary["global_step"] == 0 and "val/srcc" in summary["metrics"]
    net, hparams = net_from_checkpoint(summary["last_checkpoint"])
    alpha = hparams["ridge_alpha"]
    assert alpha in (1.0, 30.0, 1000.0) and summary["metrics"]["val/ridge_alpha"] == alpha
    assert hparams["head"] == "ridge" and hparams["stage"] == "linear_probe"

    # Independent computation: the same frozen backbone, the training split's deterministic view, lstsq.
    reference = build_student(cfg.backbone, "imagenet").eval()
    records = split_records(cfg.data, "train")
    dataset = RecordDataset(records, int(cfg.data.iqa.image_size), int(cfg.stage.crop_size), train=False)
    with torch.no_grad():
        feats = reference.features(torch.stack([dataset[i]["images"] for i in range(len(dataset))])).double().numpy()
    y = MOSScale(1.0, 5.0, True).normalise(np.array([r.mos for r in records]))
    penalty = alpha * np.mean(np.sum((feats - feats.mean(0)) ** 2, axis=0))
    assert hparams["ridge_penalty"] == pytest.approx(penalty, rel=1e-4)
    w, b = independent_ridge(feats, y, penalty)
    head = net.quality_head
    np.testing.assert_allclose(head.weight.detach().double().numpy()[0], w, rtol=1e-3, atol=1e-6)
    assert float(head.bias.detach()) == pytest.approx(b, abs=1e-4)
    # The backbone is untouched, batch-norm statistics included.
    for key, value in reference.backbone.state_dict().items():
        torch.testing.assert_close(net.backbone.state_dict()[key], value, msg=key)


def test_linear_probe_keeps_batchnorm_statistics_frozen(train_cfg, tiny_dirs, tmp_path):
    from iqa.models import build_student, net_from_checkpoint
    from iqa.training import train as run

    cfg = train_cfg(tiny_dirs, "stage=linear_probe", "init=imagenet", f"run_dir={tmp_path}/lp", "stage.max_steps=2")
    summary = run(cfg)
    assert summary["global_step"] == 2
    net, _ = net_from_checkpoint(summary["last_checkpoint"])
    reference = build_student(cfg.backbone, "imagenet")
    running = [k for k in reference.backbone.state_dict() if k.endswith("running_mean")]
    assert running
    for key, value in reference.backbone.state_dict().items():
        torch.testing.assert_close(net.backbone.state_dict()[key], value, msg=key)
    assert not torch.equal(net.quality_head.weight, reference.quality_head.weight)


def test_finetune_records_split_fraction_and_attribute_calibration_and_refuses_mixed_resume(train_cfg, tiny_dirs, tmp_path):
    from iqa.models import net_from_checkpoint
    from iqa.training import train as run

    summary = run(train_cfg(tiny_dirs, "stage=finetune", "init=imagenet", "data.train_fraction=0.25",
                            "data.split_seed=3", f"run_dir={tmp_path}/ft"))
    _, hparams = net_from_checkpoint(summary["last_checkpoint"])
    assert hparams["train_images"] == round(0.25 * 82)
    assert hparams["init"] == "imagenet" and hparams["attributes_trained"] is False  # ImageNet backbone: untrained attribute heads
    assert hparams["split"] == {"scheme": "official", "seed": 3, "test_fraction": 0.2, "val_fraction": 0.1,
                                "by_reference": True, "train_fraction": 0.25}
    calibration = hparams["attribute_calibration"]
    assert calibration["attributes"] == ["sharpness", "brightness", "contrast", "colorfulness", "noisiness"]
    assert calibration["count"] == 41  # the validation split of the tiny demo
    assert all(np.all(np.diff(q) >= 0) and len(q) == 101 for q in calibration["quantiles"])
    with pytest.raises(UserError, match=r"holds a run with other settings \(split:"):
        run(train_cfg(tiny_dirs, "stage=finetune", "init=imagenet", "data.train_fraction=0.25", "data.split_seed=4",
                      f"run_dir={tmp_path}/ft", "stage.max_steps=6"))


def test_grounded_head_finetunes_and_its_checkpoint_scores_through_the_attribute_heads(train_cfg, tiny_dirs, tmp_path):
    from iqa.models import GroundedQualityHead, build_student, net_from_checkpoint
    from iqa.training import train as run

    cfg = train_cfg(tiny_dirs, "stage=finetune", "stage.head=grounded", "init=imagenet", f"run_dir={tmp_path}/g",
                    "stage.max_steps=2")
    summary = run(cfg)
    assert summary["global_step"] == 2
    net, hparams = net_from_checkpoint(summary["last_checkpoint"])
    assert hparams["head"] == "grounded" and isinstance(net.quality_head, GroundedQualityHead)
    start = build_student(cfg.backbone, "imagenet", head="grounded")
    assert not torch.equal(net.quality_head.centre, start.quality_head.centre)  # the head learnt (it starts at zero)


def test_bad_head_and_crop_larger_than_images_fail_fast(train_cfg, tiny_dirs, tmp_path):
    from iqa.training import train as run

    with pytest.raises(UserError, match="unknown stage.head 'lasso'; valid: linear, grounded, ridge"):
        run(train_cfg(tiny_dirs, "stage=linear_probe", "stage.head=lasso", "init=imagenet", f"run_dir={tmp_path}/a"))
    with pytest.raises(UserError, match=r"needs a frozen backbone: use stage=ridge_probe \(or stage=linear_probe stage.head=ridge\)"):
        run(train_cfg(tiny_dirs, "stage=finetune", "stage.head=ridge", "init=imagenet", f"run_dir={tmp_path}/b"))
    with pytest.raises(UserError, match="stage.crop_size=96 exceeds data.iqa.image_size=64"):
        run(train_cfg(tiny_dirs, "stage=finetune", "stage.crop_size=96", "init=imagenet", f"run_dir={tmp_path}/c"))


@pytest.mark.slow
def test_ridge_probe_under_two_process_ddp_matches_one_process(compose, run_script, tiny_overrides, tiny_stage, tiny_dirs, tmp_path):
    """Every rank gathers all training features, drops the sampler's padding duplicate (41 images on 2 ranks)
    and solves the same system as a single process; validation metrics count each image once."""
    from iqa.models import net_from_checkpoint
    from iqa.training import train as run

    common = ["experiment=demo", *tiny_overrides(*tiny_dirs), *tiny_stage, "stage=linear_probe", "stage.head=ridge",
              "stage.ridge_alpha=3.0", "init=imagenet", "stage.batch_size=5", "data.train_fraction=0.5"]
    one = run(compose("train", [*common, f"run_dir={tmp_path}/one"]))
    result = run_script("train.py", *common, "trainer=ddp_cpu", "trainer.devices=2", f"run_dir={tmp_path}/ddp", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    heads = {}
    for name, path in (("one", one["last_checkpoint"]), ("ddp", tmp_path / "ddp" / "checkpoints" / "last.ckpt")):
        net, hparams = net_from_checkpoint(str(path))
        assert hparams["ridge_train_images"] == 41
        # Validation is not padded either: the 41 validation images are each scored once, on one rank.
        assert hparams["attribute_calibration"]["count"] == 41, name
        heads[name] = net.quality_head
    torch.testing.assert_close(heads["ddp"].weight, heads["one"].weight, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(heads["ddp"].bias, heads["one"].bias, rtol=1e-4, atol=1e-6)
