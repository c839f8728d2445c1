"""The LOL layout: eval15 pairs for the enhancement report, our485/low for unpaired training, clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

TRAIN_NAMES = ("2", "5", "22")
EVAL_NAMES = ("1", "22", "111")
DARK = 0.15


def _write(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def lol(tmp_path) -> Path:
    """A tiny LOL tree with the real names: our485/{low,high}/2.png ..., eval15/{low,high}/1.png ..."""
    rng = np.random.default_rng(0)
    root = tmp_path / "LOL"
    for split, names in (("our485", TRAIN_NAMES), ("eval15", EVAL_NAMES)):
        for name in names:
            high = (rng.random((40, 60, 3)) * 200 + 40).astype(np.uint8)
            _write(root / split / "high" / f"{name}.png", high)
            _write(root / split / "low" / f"{name}.png", (high * DARK).round().astype(np.uint8))
    return root


@pytest.mark.unit
def test_eval15_pairs_are_matched_by_name_in_numeric_order(lol):
    from iqa.enhancement.data import HeldOutPairs, lol_pairs

    pairs = lol_pairs(lol)
    assert [(low.relative_to(lol).as_posix(), high.relative_to(lol).as_posix()) for low, high in pairs] == [
        ("eval15/low/1.png", "eval15/high/1.png"), ("eval15/low/22.png", "eval15/high/22.png"),
        ("eval15/low/111.png", "eval15/high/111.png")]
    for layout in ("auto", "lol"):
        val = HeldOutPairs(path=str(lol), size=16, layout=layout)
        assert len(val) == 3 and [m["key"] for m in val.meta] == ["eval15-1", "eval15-22", "eval15-111"]
        assert {m["degradation"] for m in val.meta} == {"low_light"}
        for i in range(3):
            item = val[i]
            assert item["images"].shape == item["reference"].shape == (3, 16, 16)
            # each input is its own reference darkened: the pairing is right
            assert float((item["images"] - DARK * item["reference"]).abs().mean()) < 0.02
    train_split = HeldOutPairs(path=str(lol), size=16, split="our485")
    assert [m["key"] for m in train_split.meta] == ["our485-2", "our485-5", "our485-22"]


@pytest.mark.unit
def test_missing_twins_and_mismatched_names_are_one_line_errors_listing_them(lol):
    from iqa.enhancement.data import HeldOutPairs, lol_pairs
    from iqa.errors import UserError

    (lol / "eval15" / "high" / "22.png").unlink()
    (lol / "eval15" / "high" / "111.png").rename(lol / "eval15" / "high" / "0111.png")
    with pytest.raises(UserError) as info:
        lol_pairs(lol)
    message = str(info.value)
    assert "\n" not in message
    assert "2 low image(s) without a high twin" in message and "22.png, 111.png" in message
    assert "1 high image(s) without a low one" in message and "0111.png" in message
    many = lol / "many"
    for i in range(8):
        _write(many / "eval15" / "low" / f"{i}.png", np.zeros((4, 4, 3), np.uint8))
    (many / "eval15" / "high").mkdir()
    with pytest.raises(UserError, match=r"0\.png, 1\.png, 2\.png, 3\.png, 4\.png, \.\.\. \(8 in all\)"):
        lol_pairs(many)
    import shutil

    shutil.rmtree(many / "eval15" / "high")
    with pytest.raises(UserError, match=r"eval15/high not found: the LOL layout pairs"):
        lol_pairs(many)
    with pytest.raises(UserError, match=r"is not in the LOL layout: expected .*eval15/low .*; found folders: LOL$"):
        HeldOutPairs(path=str(lol.parent), layout="lol", size=8)
    with pytest.raises(UserError, match="unknown layout 'LOL'.*valid: auto, pairs, lol"):
        HeldOutPairs(path=str(lol), layout="LOL")
    with pytest.raises(UserError, match="LOL split 'eval' unknown.*valid: our485, eval15"):
        lol_pairs(lol, "eval")
    _write(lol / "eval15" / "high" / "22.png", np.zeros((48, 48, 3), np.uint8))
    (lol / "eval15" / "high" / "0111.png").rename(lol / "eval15" / "high" / "111.png")
    with pytest.raises(UserError, match=r"22\.png and its reference differ in size \(60x40 vs 48x48\)"):
        HeldOutPairs(path=str(lol), size=8)


@pytest.mark.unit
def test_training_on_lol_reads_our485_low_only_and_needs_no_references(lol):
    from iqa.enhancement.data import DegradedCrops, skip_collate
    from iqa.errors import UserError

    torch.manual_seed(0)
    data = DegradedCrops(source="lol", path=str(lol), photo_size=20, crop_size=12, length=24)
    assert sorted(Path(f).relative_to(lol).as_posix() for f in data.files) == [f"our485/low/{n}.png" for n in sorted(TRAIN_NAMES)]
    assert not data.degrade
    batch = skip_collate([data[i] for i in range(24)])
    assert batch["images"].shape == (24, 3, 12, 12) and "reference" not in batch
    assert float(batch["images"].max()) <= DARK * 240 / 255 + 0.01  # the low images, as they are
    # a plain folder of low-light images trains the same way, without any references
    folder = DegradedCrops(source="folder", path=str(lol / "eval15" / "low"), photo_size=20, crop_size=12, length=4)
    assert len(folder.files) == 3 and skip_collate([folder[i] for i in range(4)])["images"].shape == (4, 3, 12, 12)
    with pytest.raises(UserError, match="is not in the LOL layout: expected .*our485/low"):
        DegradedCrops(source="lol", path=str(lol / "eval15"))
    with pytest.raises(UserError, match="unknown source 'lo'.*valid: photos, folder, shards, lol"):
        DegradedCrops(source="lo", path=str(lol))


@pytest.mark.unit
def test_the_report_checks_lol_outputs_for_brightness_and_the_guard(lol):
    from iqa.enhancement import report
    from iqa.enhancement.data import HeldOutPairs

    val = HeldOutPairs(path=str(lol), size=16)
    inputs, references = torch.stack(val.inputs), torch.stack(val.references)
    good = report.summarise(report.image_metrics(inputs, references, references), val.meta)
    assert good["low_light"]["attribute"] == "brightness" and good["low_light"]["direction"] == "raise"
    assert good["low_light"]["moved_intended_way"] == 1.0 and good["low_light"]["guard"]["passed"] == 3
    unchanged = report.summarise(report.image_metrics(inputs, inputs, references), val.meta)
    assert unchanged["low_light"]["guard"]["intended_not_moved"] == 3


@pytest.mark.unit
def test_the_enhance_config_selects_lol_for_training_and_validation(compose, lol):
    from iqa.config import instantiate_node

    cfg = compose("train", ["stage=enhance", "stage.data.train.source=lol", f"stage.data.train.path={lol}",
                            f"stage.data.val.path={lol}", "stage.data.val.size=16", "stage.crop_size=12",
                            "stage.data.train.photo_size=20", "stage.batch_size=2", "stage.num_workers=0"])
    datamodule = instantiate_node(cfg.stage.datamodule)
    datamodule.prepare()
    assert len(datamodule.train_set.files) == 3 and not datamodule.train_set.degrade
    assert [m["key"] for m in datamodule.val_set.meta] == ["eval15-1", "eval15-22", "eval15-111"]
    batch = next(iter(datamodule.val_dataloader()))
    assert batch["images"].shape == batch["reference"].shape == (2, 3, 16, 16)
