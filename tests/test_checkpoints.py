"""Checkpoint metadata (``iqa.checkpoints``): one writer, one reader, and checkpoints written by older code still load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _evaluation_helpers import tiny_image

from iqa.errors import UserError

pytestmark = pytest.mark.unit

LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy_checkpoints"
ATTRS = ["sharpness", "brightness", "contrast", "colorfulness", "noisiness"]

# What each legacy file must read as: (stage, init is a checkpoint path, attributes trained, MOS range, head).
EXPECTED = {
    "pretrain": ("pretrain", False, True, (0.0, 1.0), None),
    "finetune-attiqa": ("finetune", True, True, (1.0, 5.0), "linear"),
    "finetune-none": ("finetune", False, False, (1.0, 5.0), "linear"),
    "linear_probe-ridge": ("linear_probe", True, True, (1.0, 5.0), "ridge"),
    "exported": ("finetune", False, False, (1.0, 5.0), None),
}


def _raw_outputs(path: Path, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """The network's outputs rebuilt by hand from the raw file (independent of the reader under test)."""
    import timm

    raw = torch.load(path, map_location="cpu", weights_only=False)
    state = {k[len("net."):]: v for k, v in raw["state_dict"].items() if k.startswith("net.")}
    backbone = timm.create_model(raw["hyper_parameters"]["net_config"]["backbone"], pretrained=False, num_classes=0).eval()
    backbone.load_state_dict({k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")})
    mean = torch.tensor(backbone.pretrained_cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(backbone.pretrained_cfg["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        features = backbone((image.float()[None] / 255.0 - mean) / std)
    quality = features @ state["quality_head.weight"].T + state["quality_head.bias"]
    attributes = torch.cat([features @ state[f"attribute_heads.{a}.weight"].T + state[f"attribute_heads.{a}.bias"] for a in ATTRS], 1)
    return {"quality": quality[:, 0], "attributes": attributes[0]}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_legacy_checkpoints_load_and_score_an_image(name, tmp_path):
    import iqa
    from iqa.checkpoints import read_meta
    from iqa.data.records import View

    path = LEGACY / f"{name}.ckpt"
    stage, from_checkpoint, trained, mos_range, head = EXPECTED[name]
    meta = read_meta(path)
    assert (meta.stage, meta.init_checkpoint is not None, meta.attributes_trained, meta.mos_range, meta.head) == (
        stage, from_checkpoint, trained, mos_range, head)
    assert meta.net_config["backbone"] == "test_efficientnet" and meta.image_size == 64
    assert "attributes_trained" not in torch.load(path, weights_only=False)["hyper_parameters"]  # inferred, not stored
    if stage != "pretrain" and name != "exported":
        assert meta.split["scheme"] == "official" and meta.train_images == 82 and meta.data == "demo"
        assert meta.attribute_calibration["count"] == 41 and meta.data_config["name"] == "demo"
        assert "warmup_steps" in meta.extra or "alphas" in meta.extra  # the module's own settings are kept

    photo = tmp_path / "photo.png"
    tiny_image(7, (80, 64)).save(photo)
    model = iqa.load(path, device="cpu")
    frame = model.score(photo)
    expected = _raw_outputs(path, View(image_size=64)(photo.read_bytes()))
    unit = float(expected["quality"][0])
    if stage == "pretrain":
        assert np.isnan(frame["quality"][0]) and np.isnan(frame["quality_norm"][0])
    else:
        assert frame["quality_norm"][0] == pytest.approx(unit, abs=1e-5)
        low, high = mos_range
        assert frame["quality"][0] == pytest.approx(min(high, max(low, low + (high - low) * unit)), abs=1e-5)
    if trained:
        np.testing.assert_allclose(frame[ATTRS].to_numpy()[0], expected["attributes"].numpy(), atol=1e-5)
        assert (stage == "pretrain") != all(f"{a}_percentile" in frame for a in ATTRS)
    else:
        assert list(frame.columns) == ["path", "quality", "quality_norm", "error"]


def test_legacy_checkpoints_serve_as_init_and_resume_check(tmp_path):
    """``init=<old checkpoint>``: its answer about the attribute heads carries over; the resume check reads old files."""
    from iqa.checkpoints import read_meta, stamp_run

    for name, trained in (("pretrain", True), ("finetune-attiqa", True), ("finetune-none", False)):
        hparams: dict = {}
        stamp_run(hparams, stage="finetune", init=str(LEGACY / f"{name}.ckpt"), data="koniq10k", image_size=384)
        assert hparams == {"stage": "finetune", "init": str(LEGACY / f"{name}.ckpt"), "data": "koniq10k", "image_size": 384,
                           "attributes_trained": trained}
    meta = read_meta(LEGACY / "finetune-none.ckpt")
    assert meta.init == "none" and meta.split["seed"] == 0  # what check_resume_matches compares


def test_one_writer_one_reader_round_trip(tmp_path):
    from iqa.checkpoints import KEYS, CheckpointMeta, read_meta, stamp
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet, load_net, net_from_checkpoint

    hparams: dict = {"warmup_steps": 5}
    stamp(hparams, split={"scheme": "random", "seed": 2}, mos_range=(0, 100), head="linear")
    assert hparams == {"warmup_steps": 5, "split": {"scheme": "random", "seed": 2}, "mos_range": [0, 100], "head": "linear"}
    with pytest.raises(TypeError, match="unknown checkpoint metadata key.*'mos_rnage'"):
        stamp(hparams, mos_rnage=[0, 1])
    torch.manual_seed(0)
    net = IQANet(backbone="test_efficientnet", weights="none")
    path = export_checkpoint(net, tmp_path / "x.ckpt", stage="finetune", init="imagenet", data="spaq", mos_range=[0, 100],
                             higher_is_better=False, image_size=256, train_images=7)
    meta = read_meta(path)
    assert isinstance(meta, CheckpointMeta) and set(KEYS) <= set(meta.hparams())
    assert (meta.data, meta.mos_range, meta.higher_is_better, meta.image_size, meta.train_images) == ("spaq", (0.0, 100.0), False, 256, 7)
    assert meta.attributes_trained is False and meta.quality_trained and meta.init_checkpoint is None
    loaded, _ = load_net(path)
    for key, value in net.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)
    _, hparams = net_from_checkpoint(str(path))  # the dict view keeps the keys callers index
    assert hparams["data"] == "spaq" and hparams["attributes_trained"] is False
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a readable checkpoint"):
        read_meta(tmp_path / "junk.ckpt")
    torch.save({"state_dict": {}, "hyper_parameters": {}}, tmp_path / "other.ckpt")
    with pytest.raises(UserError, match="is not an attiqa checkpoint"):
        read_meta(tmp_path / "other.ckpt")
    with pytest.raises(UserError, match="checkpoint not found"):
        read_meta(tmp_path / "missing.ckpt")
