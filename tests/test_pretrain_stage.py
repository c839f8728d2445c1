"""stage=pretrain end to end, in-process: losses from config, resume of step and stream, ladder proxy, W&B, bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from _pretrain_helpers import make_corpus, read_digests

from iqa.attributes import ATTRIBUTES
from iqa.config import instantiate_node
from iqa.errors import UserError
from iqa.losses import FidelityLoss, RankingLoss, RegressionLoss
from iqa.models import build_student
from iqa.training import train as run

pytestmark = pytest.mark.integration


@pytest.fixture
def train_cfg(compose, tiny_overrides, tiny_stage):
    def build(tiny_dirs, *extra: str):
        return compose("train", ["experiment=demo", *tiny_overrides(*tiny_dirs), *tiny_stage, "stage=pretrain", *extra])

    return build


@pytest.mark.parametrize(
    "overrides, cls, checks",
    [
        ([], RankingLoss, {"margin": 0.1, "min_gap": 0.0}),
        (["loss.margin=0.3", "loss.min_gap=0.05", "loss.weights={sharpness:2.0}"], RankingLoss, {"margin": 0.3, "min_gap": 0.05}),
        (["loss=fidelity", "loss.min_gap=0.02"], FidelityLoss, {"min_gap": 0.02}),
        (["loss=regression", "loss.kind=l1"], RegressionLoss, {"kind": "l1"}),
    ],
)
def test_loss_group_builds_the_configured_loss(compose, overrides, cls, checks):
    cfg = compose("train", ["stage=pretrain", *overrides])
    loss = instantiate_node(cfg.loss, attributes=ATTRIBUTES)
    assert type(loss) is cls and loss.attributes == ATTRIBUTES
    for name, value in checks.items():
        assert getattr(loss, name) == value
    if "loss.weights={sharpness:2.0}" in overrides:
        assert loss.weights == {a: 2.0 if a == "sharpness" else 1.0 for a in ATTRIBUTES}
        # The weight changes the total: sharpness counts twice.
        pred, target = torch.randn(6, 5), torch.rand(6, 5)
        total, parts = loss(pred, target)
        expected = (2 * parts["sharpness"] + sum(parts[a] for a in ATTRIBUTES[1:])) / 6
        torch.testing.assert_close(total, expected)


def test_any_timm_backbone_gets_one_head_per_attribute(compose):
    net = build_student(compose("train", ["stage=pretrain", "backbone=resnet18", "backbone.weights=none"]).backbone, None)
    assert net.backbone_name == "resnet18" and list(net.attribute_heads) == list(ATTRIBUTES)
    out = net(torch.zeros(2, 3, 48, 48, dtype=torch.uint8))
    assert out["attributes"].shape == (2, len(ATTRIBUTES))


def test_wandb_offline_then_resume_continues_step_and_stream_and_checkpoint_scores(
    train_cfg, tiny_dirs, tiny_labels, tmp_path, monkeypatch
):
    """First run (W&B offline) -> resume (CSV): global step and data stream continue; the checkpoint scores tensors."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    run_dir = tmp_path / "pre"
    common = [f"run_dir={run_dir}", "stage.digest=true", "stage.shuffle_buffer=16", "stage.steps_per_epoch=3",
              "stage.val_every_steps=3"]
    first = run(train_cfg(tiny_dirs, *common, "logger=wandb"))
    assert first["global_step"] == 4
    first_batches = read_digests(run_dir)[0]["batches"]
    assert len(first_batches) == 4

    # W&B, offline: losses, per-attribute SRCC, ladder proxy, learning rate, throughput, sample table.
    runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    data = next(runs[0].glob("*.wandb")).read_bytes()
    for key in (b"train/loss", b"train/loss_sharpness", b"val/srcc_sharpness", b"val/srcc_mean", b"val/ladder_mean",
                b"val/ladder_sharpness", b"lr-AdamW", b"train/images_per_sec", b"val/samples"):
        assert key in data, key
    assert list(runs[0].glob("files/media/table/val/samples_*.table.json")), "no sample table written"

    # The demo validation shards carry ladder metadata: the proxy is computed over the whole split.
    assert -1.0 <= first["metrics"]["val/ladder_mean"] <= 1.0
    assert first["metrics"]["val/samples_seen"] == 41.0

    resumed = run(train_cfg(tiny_dirs, *common, "logger=csv", "stage.max_steps=6"))
    assert resumed["start_step"] == 4 and resumed["global_step"] == 6
    assert resumed["resumed_from"] == str(run_dir / "checkpoints" / "last.ckpt")
    after = read_digests(run_dir)[0]["batches"]
    consumed = {k for batch in first_batches for k in batch}
    assert after[0] != first_batches[0]
    assert not consumed & {k for batch in after for k in batch}, "a resumed run replayed samples already trained on"

    # The pretrain checkpoint loads in the scoring API and scores a tensor like its network does.
    import iqa.inference

    model = iqa.inference.load(resumed["last_checkpoint"])
    images = torch.randint(0, 256, (3, 3, 48, 48), dtype=torch.uint8)
    scores = model.score(images, device="cpu")
    assert model.image_size == 64  # the teacher's input size for this corpus
    with torch.no_grad():
        expected = model.net(images)["attributes"].numpy()
    for i, name in enumerate(ATTRIBUTES):
        np.testing.assert_allclose(scores[name], expected[:, i], rtol=1e-5)
    # Its quality head was never trained, so the scoring API reports no quality rather than noise.
    assert model.quality_trained is False and np.isnan(scores["quality"]).all()


def test_bad_corpus_members_are_counted_and_unlabelled_shards_left_out(compose, tiny_stage, tmp_path, caplog):
    units, labels = make_corpus(tmp_path / "corpus", [12, 12, 12], corrupt={"u0-3"}, unlabelled_units={2})
    overrides = [
        "stage=pretrain", "data=shards", f"data.train={tmp_path}/corpus/shards/u*.tar", f"labels={labels}",
        f"paths.output_dir={tmp_path}/out", f"run_dir={tmp_path}/run", *tiny_stage, "backbone=resnet18",
        "backbone.weights=none", "stage.crop_size=32", "stage.max_steps=2", "stage.shuffle_buffer=4",
    ]
    with caplog.at_level(logging.WARNING):
        summary = run(compose("train", overrides))
    assert "1 train unit(s) have no labels" in caplog.text and "u2" in caplog.text
    assert summary["global_step"] == 2
    # 2 batches of 8 plus a buffer of 4 read 20 of the 24 labelled samples: at least the first 8 of each unit.
    assert summary["skipped"].get("undecodable", 0) == 1
    assert "data/skipped_undecodable" in (tmp_path / "run" / "metrics.csv").read_text()


def test_labels_from_another_attribute_list_fail_before_training(compose, tiny_stage, tmp_path):
    _, labels = make_corpus(tmp_path / "corpus", [4], attributes=("sharpness", "noisiness", "contrast"))
    overrides = ["stage=pretrain", "data=shards", f"data.train={tmp_path}/corpus/shards/u*.tar", f"labels={labels}",
                 f"run_dir={tmp_path}/run", "backbone.weights=none", *tiny_stage]
    with pytest.raises(UserError, match="have attributes .*but this run expects"):
        run(compose("train", overrides))
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_resume_path_prefers_the_newest_checkpoint(compose, tmp_path):
    import os

    import torch

    from iqa.training import resume_path

    cfg = compose("train", ["stage=pretrain"])
    assert resume_path(cfg, tmp_path) is None
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.parent.mkdir()
    torch.save({"global_step": 3, "state_dict": {}}, last)
    hpc = tmp_path / "hpc_ckpt_1.ckpt"
    torch.save({"global_step": 5, "state_dict": {}}, hpc)
    os.utime(last, (1, 1))
    assert resume_path(cfg, tmp_path) == str(hpc)  # a SLURM requeue checkpoint newer than last.ckpt
    os.utime(hpc, (0, 0))
    assert resume_path(cfg, tmp_path) == str(last)
    assert Path(resume_path(cfg, tmp_path)).name == "last.ckpt"
    # A newest checkpoint cut short by kill -9 is skipped for the next readable one, and none readable means afresh.
    whole = last.read_bytes()
    hpc.write_bytes(whole[: len(whole) // 2])
    os.utime(hpc, (2, 2))
    assert resume_path(cfg, tmp_path) == str(last)
    last.write_bytes(b"")
    assert resume_path(cfg, tmp_path) is None
