"""train.py stages in-process on the tiny demo: fast_dev_run, resume, init chains, loggers, guards."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from iqa.errors import UserError
from iqa.training import train as run

pytestmark = pytest.mark.integration


@pytest.fixture
def train_cfg(compose, tiny_overrides, tiny_stage):
    def build(tiny_dirs, *extra: str):
        return compose("train", ["experiment=demo", *tiny_overrides(*tiny_dirs), *tiny_stage, *extra])

    return build


@pytest.mark.parametrize("stage", ["pretrain", "finetune", "linear_probe"])
def test_fast_dev_run(train_cfg, tiny_dirs, tiny_labels, tmp_path, stage):
    summary = run(train_cfg(tiny_dirs, f"stage={stage}", "init=imagenet", "+trainer.fast_dev_run=true", f"run_dir={tmp_path}/run"))
    assert summary["global_step"] == 1
    assert all(torch.isfinite(torch.tensor(v)) for k, v in summary["metrics"].items() if k.startswith("train/loss"))


def test_pretrain_then_finetune_from_its_checkpoint_and_resume(train_cfg, tiny_dirs, tiny_labels, tmp_path):
    pre = run(train_cfg(tiny_dirs, "stage=pretrain", f"run_dir={tmp_path}/pre"))
    last = Path(pre["last_checkpoint"])
    assert pre["global_step"] == 4 and last.is_file() and pre["best_checkpoint"].endswith("best.ckpt")
    assert set(k for k in pre["metrics"] if k.startswith("val/srcc_")) >= {"val/srcc_sharpness", "val/srcc_mean"}
    ckpt = torch.load(last, weights_only=False)
    assert ckpt["hyper_parameters"]["net_config"]["backbone"] == "tf_efficientnet_lite0"

    # Resume: a longer budget continues from the saved global step instead of starting over.
    more = run(train_cfg(tiny_dirs, "stage=pretrain", f"run_dir={tmp_path}/pre", "stage.max_steps=6"))
    assert more["start_step"] == 4 and more["global_step"] == 6 and more["resumed_from"] == str(last)
    # metrics.csv carries the first run's rows over the resume, each logged step once.
    import pandas as pd

    losses = pd.read_csv(tmp_path / "pre" / "metrics.csv").dropna(subset=["train/loss"])
    assert losses["step"].is_unique and losses["step"].min() == 0 and losses["step"].max() >= 5

    fine = run(train_cfg(tiny_dirs, "stage=finetune", f"init={last}", f"run_dir={tmp_path}/fine"))
    assert fine["global_step"] == 4 and "val/srcc" in fine["metrics"]
    # A fine-tune resumes too: its checkpoint holds plain values only, which torch.load's weights-only default accepts.
    fine_ckpt = torch.load(fine["last_checkpoint"], weights_only=True)
    assert fine_ckpt["hyper_parameters"]["mos_range"] == [1.0, 5.0]
    longer = run(train_cfg(tiny_dirs, "stage=finetune", f"init={last}", f"run_dir={tmp_path}/fine", "stage.max_steps=6"))
    assert longer["start_step"] == 4 and longer["global_step"] == 6
    # A fine-tune written by an earlier version (OmegaConf containers among its hyperparameters) resumes as well.
    from omegaconf import OmegaConf

    older = torch.load(longer["last_checkpoint"], weights_only=False)
    older["hyper_parameters"]["mos_range"] = OmegaConf.create([1.0, 5.0])
    torch.save(older, longer["last_checkpoint"])
    with pytest.raises(Exception, match="Weights only load failed"):
        torch.load(longer["last_checkpoint"], weights_only=True)
    oldest = run(train_cfg(tiny_dirs, "stage=finetune", f"init={last}", f"run_dir={tmp_path}/fine", "stage.max_steps=7"))
    assert oldest["start_step"] == 6 and oldest["global_step"] == 7
    # Pretraining trains the attribute heads, and a run initialised from it records that it inherits them.
    from iqa.checkpoints import read_meta

    assert read_meta(last).attributes_trained and read_meta(fine["last_checkpoint"]).attributes_trained
    assert read_meta(fine["last_checkpoint"]).init == str(last)
    # The fine-tuned backbone starts from the pretrained one, not from ImageNet.
    pre_state = torch.load(last, weights_only=False)["state_dict"]
    from iqa.models import build_student

    net = build_student(train_cfg(tiny_dirs, "stage=finetune").backbone, str(last))
    key = "backbone.conv_stem.weight"
    torch.testing.assert_close(net.state_dict()[key], pre_state[f"net.{key}"])


def test_init_from_checkpoint_with_other_backbone_is_refused(train_cfg, tiny_dirs, tiny_labels, tmp_path):
    pre = run(train_cfg(tiny_dirs, "stage=pretrain", f"run_dir={tmp_path}/pre", "stage.max_steps=1"))
    with pytest.raises(UserError, match="holds a 'tf_efficientnet_lite0' backbone"):
        run(train_cfg(tiny_dirs, "stage=finetune", "backbone=resnet18", "backbone.weights=none", f"init={pre['last_checkpoint']}",
                      f"run_dir={tmp_path}/x"))


def test_finetune_with_attribute_anchor_from_a_pretrain_checkpoint_and_its_guards(train_cfg, tiny_dirs, tiny_labels, tmp_path):
    pre = run(train_cfg(tiny_dirs, "stage=pretrain", f"run_dir={tmp_path}/pre", "stage.max_steps=1"))
    init = f"init={pre['last_checkpoint']}"
    held = run(train_cfg(tiny_dirs, "stage=finetune", init, "stage.module.attribute_anchor=1.0", f"run_dir={tmp_path}/held",
                         "stage.max_steps=2"))
    assert held["global_step"] == 2
    assert torch.isfinite(torch.tensor(held["metrics"]["train/loss_attribute_anchor"]))
    assert held["metrics"]["val/attribute_drift"] >= 0
    ckpt = torch.load(held["last_checkpoint"], weights_only=True)
    assert ckpt["hyper_parameters"]["attribute_anchor"] == 1.0
    plain = run(train_cfg(tiny_dirs, "stage=finetune", init, f"run_dir={tmp_path}/plain", "stage.max_steps=1"))
    assert "train/loss_attribute_anchor" not in plain["metrics"]
    assert set(ckpt["state_dict"]) == set(torch.load(plain["last_checkpoint"], weights_only=True)["state_dict"])  # no copy stored
    # It resumes: the anchor copy is rebuilt from the same init.
    assert run(train_cfg(tiny_dirs, "stage=finetune", init, "stage.module.attribute_anchor=1.0", f"run_dir={tmp_path}/held",
                         "stage.max_steps=3"))["start_step"] == 2
    with pytest.raises(UserError, match=r"attribute_anchor=1.0 .* but init=imagenet has untrained heads"):
        run(train_cfg(tiny_dirs, "stage=finetune", "init=imagenet", "stage.module.attribute_anchor=1.0", f"run_dir={tmp_path}/x"))
    with pytest.raises(UserError, match=r"attribute_anchor must be a number >= 0 \(0 turns it off\), got 'strong'"):
        run(train_cfg(tiny_dirs, "stage=finetune", init, "stage.module.attribute_anchor=strong", f"run_dir={tmp_path}/z"))
    with pytest.raises(UserError, match="needs a backbone that learns"):
        run(train_cfg(tiny_dirs, "stage=linear_probe", init, "+stage.module.attribute_anchor=1.0", f"run_dir={tmp_path}/y"))


def test_finetune_on_a_corpus_and_pretrain_without_labels_fail_early(compose, train_cfg, tiny_dirs, tmp_path):
    with pytest.raises(UserError, match="needs an IQA dataset with MOS"):
        run(compose("train", ["stage=finetune", "data=folder", f"data.root={tmp_path}", f"run_dir={tmp_path}/r"]))
    with pytest.raises(UserError, match="run label.py first"):
        run(train_cfg(tiny_dirs, "stage=pretrain", f"labels={tmp_path}/none", f"run_dir={tmp_path}/r2"))


def test_unknown_backbone_and_missing_weights_are_one_line_errors(train_cfg, tiny_dirs, tmp_path):
    with pytest.raises(UserError, match="unknown timm backbone 'resnet5O'.*resnet50"):
        run(train_cfg(tiny_dirs, "stage=finetune", "backbone.name=resnet5O", f"run_dir={tmp_path}/a"))
    with pytest.raises(UserError, match="not found: /nope.pth"):
        run(train_cfg(tiny_dirs, "stage=finetune", "init=imagenet", "backbone.weights=/nope.pth", f"run_dir={tmp_path}/b"))
    with pytest.raises(UserError, match="hub, which is unreachable offline"):
        run(train_cfg(tiny_dirs, "stage=finetune", "init=imagenet", "backbone=resnet18", f"run_dir={tmp_path}/c"))
    with pytest.raises(UserError, match="checkpoint file; not found"):
        run(train_cfg(tiny_dirs, "stage=finetune", "init=/no/such.ckpt", f"run_dir={tmp_path}/d"))


@pytest.mark.parametrize(
    "optimizer",
    [[], ["+stage.optimizer.fused=true", "trainer.precision=bf16-mixed"]],
    ids=["plain-fp32", "fused-bf16"],  # fused: the GPU path (device-side skip, direct clipping), run here on CPU
)
def test_nan_loss_skips_the_step_and_counts_it(train_cfg, tiny_dirs, tiny_labels, tmp_path, monkeypatch, optimizer):
    from iqa import losses

    original = losses.RankingLoss.forward
    calls = {"n": 0}

    def sometimes_nan(self, pred, target):
        calls["n"] += 1
        total, parts = original(self, pred, target)
        return (total * float("nan"), parts) if calls["n"] == 2 else (total, parts)

    monkeypatch.setattr(losses.RankingLoss, "forward", sometimes_nan)
    summary = run(train_cfg(tiny_dirs, "stage=pretrain", f"run_dir={tmp_path}/nan", *optimizer))
    assert summary["nonfinite_batches"] == 1 and summary["global_step"] == 4
    ckpt = torch.load(summary["last_checkpoint"], weights_only=False)
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
    # The skipped step really skipped the update: the optimiser advanced 3 times in 4 steps.
    steps = {float(s["step"]) for s in ckpt["optimizer_states"][0]["state"].values()}
    assert steps == {3.0}


def test_csv_logger_writes_metrics(train_cfg, tiny_dirs, tiny_labels, tmp_path):
    run(train_cfg(tiny_dirs, "stage=pretrain", f"run_dir={tmp_path}/csv", "stage.max_steps=2"))
    text = (tmp_path / "csv" / "metrics.csv").read_text()
    assert "train/loss" in text and "val/srcc_mean" in text


def test_wandb_logger_works_offline(train_cfg, tiny_dirs, tiny_labels, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    run(train_cfg(tiny_dirs, "stage=pretrain", "logger=wandb", f"run_dir={tmp_path}/wb", "stage.max_steps=2"))
    runs = list((tmp_path / "wb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    history = list(runs[0].glob("*.wandb"))
    assert len(history) == 1
    # The run file is a protobuf log; metric names are stored as plain bytes in its history records.
    data = history[0].read_bytes()
    for key in (b"train/loss", b"val/srcc_mean", b"val/srcc_sharpness", b"lr-AdamW"):
        assert key in data, key
