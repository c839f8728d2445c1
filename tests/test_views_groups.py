"""Same-crop training groups for fine-tuning, and the scoring view a checkpoint records (never enlarging, tiles)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from iqa.data.records import GroupedRecordDataset, Record, RecordDataset, View, group_key, grouped_collate, scoring_view
from iqa.errors import UserError

pytestmark = pytest.mark.unit


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture()
def crops(tmp_path):
    """Two photos x two crops x three versions each; version v of a crop is the crop's pixels plus v (so every
    version of a crop has the same content and each crop differs from every other)."""
    rng = np.random.default_rng(0)
    records = []
    for photo in ("a", "b"):
        for crop in (0, 1):
            base = rng.integers(0, 200, size=(40, 48, 3), dtype=np.uint8)
            for version in range(3):
                path = tmp_path / f"{photo}-c{crop}-v{version}.png"
                path.write_bytes(_png(base + version * 20))
                records.append(Record(str(path), mos=5.0 - version, key=path.stem, reference=photo,
                                      meta={"reference": photo, "crop": crop, "variant": version}))
    return records


def test_groups_are_reference_and_crop_and_members_are_cut_alike(crops):
    assert group_key(crops[0]) == "a#0" and group_key(Record("x.png", 1.0, key="x", reference="ref")) == "ref"
    assert group_key(Record("x.png", 1.0, key="x")) == "x"
    dataset = GroupedRecordDataset(RecordDataset(crops, image_size=40, crop_size=24, train=True), group_size=2)
    assert len(dataset) == 4 and sorted(map(len, dataset.groups)) == [3, 3, 3, 3]
    torch.manual_seed(0)
    for index in range(len(dataset)):
        members = dataset[index]
        assert len(members) == 2 and {m["group"] for m in members} == {index}
        assert len({crops[m["index"]].meta["crop"] for m in members}) == 1
        assert len({crops[m["index"]].reference for m in members}) == 1
        # Same crop window and flip: the versions differ by the constant offsets they were made with.
        a, b = (m["images"].int() for m in members)
        va, vb = (crops[m["index"]].meta["variant"] for m in members)
        assert va != vb
        assert torch.equal(b - a, torch.full_like(a, (vb - va) * 20))


def test_grouped_batches_hold_whole_groups_and_report_them(crops):
    from iqa.data.datamodules import IQADataModule

    dataset = GroupedRecordDataset(RecordDataset(crops, image_size=40, crop_size=24, train=True), group_size=3)
    batch = grouped_collate([dataset[0], dataset[3]])
    assert batch["images"].shape == (6, 3, 24, 24) and batch["group"].tolist() == [0, 0, 0, 3, 3, 3]
    assert sorted(batch["mos"].tolist()) == [3.0, 3.0, 4.0, 4.0, 5.0, 5.0]
    with pytest.raises(UserError, match="at least 2"):
        GroupedRecordDataset(dataset.base, group_size=1)
    with pytest.raises(UserError, match="group_size=16 exceeds batch_size=8"):
        IQADataModule({"name": "x", "iqa": {"image_size": 40}}, batch_size=8, group_size=16)


def test_grouped_batch_drops_an_unreadable_member_and_says_why(crops, tmp_path):
    broken = tmp_path / "a-c0-v1.png"
    broken.write_bytes(b"not an image")
    dataset = GroupedRecordDataset(RecordDataset(crops, image_size=40, crop_size=24, train=True), group_size=3)
    batch = grouped_collate([dataset[0]])
    assert batch["images"].shape[0] == 2 and len(batch["skipped_items"]) == 1 and "a-c0-v1.png" in batch["skipped_items"][0]
    assert batch["group"].tolist() == [0, 0]


@pytest.mark.parametrize(("size", "expected"), [((288, 300), (288, 300)), ((160, 200), (160, 200)), ((640, 480), (427, 320))])
def test_a_view_that_never_enlarges_keeps_small_images_and_caps_large_ones(size, expected):
    view = View(image_size=320, policy="tiles", crop_size=160, upscale=False)
    assert view.target_size(*size) == expected
    assert View(image_size=320).target_size(160, 200) == (320, 400)  # the default still enlarges
    # 288 x 300 px at native scale: a 2 x 2 grid of 160 px tiles.
    assert view.planned_shape(288, 300) == (4, 3, 160, 160)


def test_scoring_view_is_checked_and_completed():
    assert scoring_view(None, 160) is None
    assert scoring_view({"policy": "tiles", "crop_size": 160, "upscale": False, "image_size": 320}, 160) == {
        "image_size": 320, "policy": "tiles", "crop_size": 160, "max_side": None, "upscale": False}
    assert scoring_view({"policy": "resize"}, 160)["image_size"] == 160
    with pytest.raises(UserError, match="unknown key.*upscal.*valid: image_size, policy, crop_size, max_side, upscale"):
        scoring_view({"upscal": False}, 160)
    with pytest.raises(UserError, match="unknown view policy 'tile'; valid: resize, tiles"):
        scoring_view({"policy": "tile"}, 160)


def test_evaluation_starts_from_the_test_sets_own_view_and_applies_only_what_is_given():
    from iqa.evaluation import view_for_test_set

    offline = {"iqa": {"image_size": 160, "view": {"image_size": 320, "policy": "tiles", "crop_size": 160, "upscale": False}}}
    nothing = {"policy": None, "image_size": None, "max_side": None, "upscale": None}
    assert view_for_test_set(nothing, None, offline) == View(image_size=320, policy="tiles", crop_size=160, upscale=False)
    # Each given setting replaces its part only.
    assert view_for_test_set({**nothing, "policy": "resize"}, None, offline) == View(320, "resize", 160, None, False)
    assert view_for_test_set({"image_size": 256}, 128, offline) == View(256, "tiles", 128, None, False)
    # A test set without a view of its own: resize to its image size (384 when it names none).
    assert view_for_test_set(nothing, None, {"iqa": {"image_size": 224}}) == View(image_size=224)
    assert view_for_test_set({"policy": "tiles"}, 96, {"iqa": {}}) == View(384, "tiles", 96)
    with pytest.raises(UserError, match="unknown key.*tile_size.*valid: image_size, policy"):
        view_for_test_set({"tile_size": 96}, None, offline)
    with pytest.raises(UserError, match="unknown view policy 'grid'"):
        view_for_test_set({"policy": "grid"}, None, offline)


def test_load_scores_through_the_view_the_checkpoint_recorded(tmp_path):
    from iqa.checkpoints import read_meta, stamp_run
    from iqa.inference import export_checkpoint, load
    from iqa.models import IQANet

    view = scoring_view({"image_size": 320, "policy": "tiles", "crop_size": 160, "upscale": False}, 160)
    hparams: dict = {}
    stamp_run(hparams, stage="finetune", init="imagenet", data="offline", image_size=160, view=view)
    assert hparams["view"] == view
    path = export_checkpoint(IQANet(backbone="test_efficientnet", weights="none"), tmp_path / "m.ckpt", **hparams)
    assert read_meta(path).view == view
    model = load(path)
    assert (model.view.image_size, model.view.policy, model.view.crop_size, model.view.upscale) == (320, "tiles", 160, False)
    resized = load(path, policy="resize", image_size=200)  # given parts override; the tile size does not carry over
    assert (resized.view.image_size, resized.view.policy, resized.view.crop_size, resized.view.upscale) == (200, "resize", None, False)
    # The tiled score of a 288 px image is the mean over its four native-scale 160 px tiles.
    image = np.random.default_rng(1).integers(0, 255, size=(288, 288, 3), dtype=np.uint8)
    file = tmp_path / "x.png"
    file.write_bytes(_png(image))
    tiled = float(model.score([str(file)])["quality_norm"].iloc[0])
    tiles = torch.stack([torch.from_numpy(image[y:y + 160, x:x + 160]).permute(2, 0, 1) for y in (0, 128) for x in (0, 128)])
    direct = model.score(tiles)["quality_norm"].to_numpy(dtype=float).mean()
    assert tiled == pytest.approx(direct, abs=1e-5)
    old = export_checkpoint(IQANet(backbone="test_efficientnet", weights="none"), tmp_path / "old.ckpt", stage="finetune",
                            image_size=160)
    assert read_meta(old).view is None and load(old).view == View(image_size=160)


def test_rank_cache_keys_tell_a_view_that_never_enlarges_apart(tmp_path):
    import dataclasses
    from types import SimpleNamespace

    from iqa.ranking import model_identity

    ckpt = tmp_path / "m.ckpt"
    ckpt.write_bytes(b"weights")
    model = SimpleNamespace(view=View(image_size=320, policy="tiles", crop_size=160), attributes=("sharpness",))
    enlarging = model_identity(ckpt, model)
    model.view = dataclasses.replace(model.view, upscale=False)
    assert model_identity(ckpt, model) != enlarging
