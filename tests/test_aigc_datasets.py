"""AGIQA-3K, AGIQA-1K, AIGCIQA2023, FLIVE and AVA in their official layouts (tiny copies), their scales, ranking and training."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from _aigc_helpers import make_agiqa1k, make_agiqa3k, make_aigciqa2023, make_ava, make_flive

from iqa.data import open_dataset
from iqa.data.datasets import generator_from_name
from iqa.errors import UserError

pytestmark = pytest.mark.unit


def test_generator_and_setting_come_from_the_file_name():
    assert generator_from_name("midjourney_lowstep_012.jpg") == ("midjourney", "lowstep")
    assert generator_from_name("sd1.5_normal_000.jpg") == ("sd1.5", "normal")
    assert generator_from_name("glide_v2_highcorr_7.png") == ("glide_v2", "highcorr")
    assert generator_from_name("dreamStudio_8_9_1_.jpg") == ("dreamStudio_8", "9")  # not an AGIQA-3K name: first parts
    assert generator_from_name("plain.jpg") == ("plain", None)


def test_agiqa3k_layout_groups_by_generator_with_prompts(tmp_path):
    rows = make_agiqa3k(tmp_path)
    records = open_dataset("agiqa3k", tmp_path)
    assert [r.mos for r in records] == [r["mos_quality"] for r in rows]
    assert all(os.path.isfile(r.path) and "/AGIQA-3K/" in r.path for r in records)
    assert [r.meta["group"] for r in records[::4]] == ["midjourney", "sd1.5", "AttnGAN"]
    assert records[0].meta["prompt"] == "a photo of thing 0" and records[0].meta["setting"] == "lowstep"
    align = open_dataset("agiqa3k", tmp_path, mos="align")
    assert [r.mos for r in align] == [r["mos_align"] for r in rows]
    by_setting = open_dataset("agiqa3k", tmp_path, group_by="generator_setting")
    assert by_setting[0].meta["group"] == "midjourney_lowstep"
    with pytest.raises(UserError, match="mos must be one of quality, align"):
        open_dataset("agiqa3k", tmp_path, mos="beauty")


@pytest.mark.parametrize("malformed_in", ["disk", "csv"])
def test_agiqa1k_finds_the_malformed_file_name_either_way(tmp_path, malformed_in):
    rows = make_agiqa1k(tmp_path, malformed_in=malformed_in)
    records = open_dataset("agiqa1k", tmp_path)
    assert [r.mos for r in records] == [s for _, s in rows] and all(os.path.isfile(r.path) for r in records)
    odd = records[1]
    assert Path(odd.path).name == "dreamStudio_8_9_1_.jpg" if malformed_in == "disk" else Path(odd.path).name == "dreamStudio_8_9_1.jpg"
    assert odd.key == "dreamStudio_8_9_1" and [r.meta["group"] for r in records] == ["dreamStudio", "dreamStudio", "midjourney",
                                                                                      "midjourney", "dreamStudio"]


@pytest.mark.parametrize("table", [False, True])
def test_aigciqa2023_from_the_mat_file_or_the_csv(tmp_path, table):
    mos = make_aigciqa2023(tmp_path, per_generator=8, table=table)
    records = open_dataset("aigciqa2023", tmp_path)
    np.testing.assert_allclose([r.mos for r in records], mos)
    assert [Path(r.path).name for r in records[:3]] == ["0.png", "1.png", "2.png"] and all(os.path.isfile(r.path) for r in records)
    # 8 images per generator in this copy, 4 per prompt: image 13 is the second generator's second prompt.
    assert records[13].meta["group"] == "Lafite" and [r.meta["group"] for r in records[::8]] == [
        "Glide", "Lafite", "DALLE", "Stable-diffusion", "Unidiffuser", "Controlnet"]
    if not table:
        assert records[13].meta["prompt"] == "prompt001" and records[12].meta["prompt"] == records[15].meta["prompt"]
    else:
        assert records[13].meta["prompt"] == "prompt text 1"
    renamed = open_dataset("aigciqa2023", tmp_path, generators=list("ABCDEF"))
    assert renamed[47].meta["group"] == "F"


def test_aigciqa2023_missing_annotations_name_both_files(tmp_path):
    (tmp_path / "Image").mkdir()
    with pytest.raises(UserError, match="missing AIGCIQA2023.csv and DATA/MOS/mosz1.mat"):
        open_dataset("aigciqa2023", tmp_path)


def test_flive_official_test_list_is_the_test_split(tmp_path):
    test = make_flive(tmp_path, n=10, test=3)
    records = open_dataset("flive", tmp_path)
    assert [r.mos for r in records] == [20 + 6 * i for i in range(10)] and all(os.path.isfile(r.path) for r in records)
    assert {r.meta["group"] for r in records} == {"EE371R", "voc_emotic_ava"}
    held_out = open_dataset("flive", tmp_path, split="test")
    assert sorted(r.path for r in held_out) == sorted(str(tmp_path / "database" / n) for n in test)
    train, val = open_dataset("flive", tmp_path, split="train"), open_dataset("flive", tmp_path, split="val")
    assert len(train) + len(val) == 7 and len(val) >= 1
    make_flive(tmp_path / "other", n=4, test=1)
    (tmp_path / "other" / "test_images.txt").write_text("EE371R/not_labelled.jpg\n")
    with pytest.raises(UserError, match="1 names of test_images.txt are not in labels_image.csv"):
        open_dataset("flive", tmp_path / "other")


def test_ava_mean_score_from_vote_counts_and_generic_test_split(tmp_path):
    rows = make_ava(tmp_path, n=8, test=2)
    records = open_dataset("ava", tmp_path)
    for record, (image, votes) in zip(records, rows):
        expected = sum((k + 1) * v for k, v in enumerate(votes)) / sum(votes)
        assert record.key == image and record.mos == pytest.approx(expected) and record.meta["votes"] == votes
    assert 1.0 <= min(r.mos for r in records) and max(r.mos for r in records) <= 10.0
    assert [r.key for r in open_dataset("ava", tmp_path, split="test")] == [r[0] for r in rows[-2:]]
    assert {r.meta["group"] for r in records} == {"challenge_1396", "challenge_1397"}
    make_ava(tmp_path / "other", n=2, test=1)
    (tmp_path / "other" / "AVA.txt").write_text("1 123 4 5\n")
    with pytest.raises(UserError, match="AVA.txt:1: expected 15 columns"):
        open_dataset("ava", tmp_path / "other")


def test_every_new_dataset_declares_its_scale_and_split():
    import iqa

    listed = iqa.list_datasets()
    expected = {"agiqa3k": ((0.0, 5.0), True, False), "agiqa1k": ((0.0, 5.0), True, False),
                "aigciqa2023": ((0.0, 100.0), True, False), "flive": ((0.0, 100.0), True, True), "ava": ((1.0, 10.0), True, True)}
    for name, (mos_range, higher, official) in expected.items():
        info = listed[name]
        assert (info["mos_range"], info["higher_is_better"], info["official_split"]) == (mos_range, higher, official), name


@pytest.mark.parametrize("name,expected", [
    ("agiqa3k", "data.csv"), ("agiqa1k", "AIGC_all.csv"), ("flive", "labels_image.csv"), ("ava", "AVA.txt"),
])
def test_missing_root_lists_the_expected_files(tmp_path, name, expected):
    with pytest.raises(UserError, match="does not exist") as missing:
        open_dataset(name, tmp_path / "nowhere")
    assert expected in str(missing.value)


@pytest.mark.integration
def test_rank_a_dataset_by_generator_checks_the_model_against_people(tmp_path):
    import iqa
    from iqa.inference import export_checkpoint
    from iqa.metrics import krcc, srcc
    from iqa.models import IQANet

    make_agiqa3k(tmp_path / "agiqa", prompts=4)
    torch.manual_seed(0)
    ckpt = export_checkpoint(IQANet(weights="none"), tmp_path / "m.ckpt", stage="finetune", data="agiqa3k", mos_range=[0.0, 5.0],
                             higher_is_better=True, image_size=32, attributes_trained=True)
    results = iqa.rank(dataset="agiqa3k", root=tmp_path / "agiqa", ckpt=ckpt, device="cpu", n_boot=200)
    agreement = results.agreement
    assert agreement["human_order"] == ["midjourney", "sd1.5", "AttnGAN"] and agreement["groups"] == 3
    model = [results.group(g)["quality"] for g in agreement["model_order"]]
    human = [results.group(g)["mos"] for g in agreement["model_order"]]
    assert agreement["spearman"] == pytest.approx(srcc(model, human)) and agreement["kendall"] == pytest.approx(krcc(model, human))
    assert all(p["test"].startswith("wilcoxon") and p["n_shared"] == 4 for p in results.pairs)  # paired on shared prompts
    assert [results.group(g)["mos_rank"] for g in ("midjourney", "sd1.5", "AttnGAN")] == [1, 2, 3]


@pytest.mark.integration
def test_finetune_then_evaluate_on_agiqa3k_at_tiny_size(compose, tiny_stage, tmp_path):
    """stage=finetune trains on the official layout; evaluate scores its recorded test split and ranks the generators."""
    import iqa
    from iqa.training import train as run

    make_agiqa3k(tmp_path / "agiqa", prompts=5)
    overrides = ["data=agiqa3k", f"data.root={tmp_path / 'agiqa'}", "data.iqa.image_size=48", "stage=finetune", "init=none",
                 f"paths.output_dir={tmp_path / 'out'}", f"run_dir={tmp_path / 'out' / 'ft'}", *tiny_stage, "stage.crop_size=32",
                 "stage.batch_size=4", "stage.max_steps=2", "stage.val_every_steps=2", "logger=none"]
    run(compose("train", overrides))
    ckpt = next((tmp_path / "out" / "ft" / "checkpoints").glob("last.ckpt"))
    results = iqa.evaluate({"tiny": str(ckpt)}, ["agiqa3k"], roots={"agiqa3k": tmp_path / "agiqa"}, device="cpu", progress=False)
    cell = results.matrix["tiny"]["agiqa3k"]
    assert cell["split"] == "test" and cell["n"] == 3  # 20 % of 15 images, rebuilt from the checkpoint's recipe
    assert results.variants["tiny"]["trained_on"] == "agiqa3k"
    ranking = iqa.rank(dataset="agiqa3k", root=tmp_path / "agiqa", split="test", ckpt=ckpt, device="cpu", n_boot=200, min_group=1)
    assert {g["group"] for g in ranking.groups} <= {"midjourney", "sd1.5", "AttnGAN"} and sum(g["n"] for g in ranking.groups) == 3


BUILDERS = {
    "agiqa3k": (lambda root: make_agiqa3k(root, prompts=3), 3),
    "agiqa1k": (make_agiqa1k, 2),
    "aigciqa2023": (lambda root: make_aigciqa2023(root, per_generator=4), 6),
    "flive": (lambda root: make_flive(root, n=8, test=2), 2),
    "ava": (lambda root: make_ava(root, n=6, test=2), 2),
}


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> Path:
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    torch.manual_seed(3)
    return export_checkpoint(IQANet(weights="none"), tmp_path_factory.mktemp("ckpt") / "m.ckpt", stage="finetune", data="demo",
                             mos_range=[1.0, 5.0], higher_is_better=True, image_size=32, attributes_trained=True)


@pytest.mark.integration
@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_new_dataset_evaluates_and_ranks_by_its_groups(name, tiny_ckpt, tmp_path):
    import iqa
    from iqa.metrics import srcc

    build, groups = BUILDERS[name]
    build(tmp_path / name)
    records = open_dataset(name, tmp_path / name)
    evaluated = iqa.evaluate({"m": str(tiny_ckpt)}, [name], roots={name: tmp_path / name}, device="cpu", progress=False)
    cell = evaluated.cells["m"][name]
    assert cell.n == len(records) and cell.split == "all"
    mos, pred = cell.scored()
    assert cell.metrics["srcc"] == pytest.approx(srcc(pred, mos))
    ranked = iqa.rank(dataset=name, root=tmp_path / name, ckpt=tiny_ckpt, device="cpu", n_boot=200, min_group=1)
    assert len(ranked.groups) == groups and sum(g["n"] for g in ranked.groups) == len(records)
    assert ranked.agreement is not None and ranked.agreement["groups"] == groups
    for g in ranked.groups:  # each group's MOS is the mean of its records'
        want = np.mean([r.mos for r in records if r.meta["group"] == g["group"]])
        assert g["mos"] == pytest.approx(want)


@pytest.mark.integration
def test_cli_ranks_a_dataset_under_the_default_data_dir(tiny_ckpt, tmp_path, monkeypatch, capsys):
    from iqa.cli.rank import main

    make_agiqa3k(tmp_path / "data" / "agiqa3k", prompts=3)
    monkeypatch.setenv("ATTIQA_DATA_DIR", str(tmp_path / "data"))
    code = main(["--dataset", "agiqa3k", "--ckpt", str(tiny_ckpt), "--out", str(tmp_path / "out"), "--no-cache", "--device", "cpu",
                 "--bootstrap", "200", "--no-progress"])
    assert code == 0 and "## Agreement with people (3 groups with MOS)" in capsys.readouterr().out
    assert (tmp_path / "out" / "ranking.json").is_file()


@pytest.mark.integration
def test_ranking_imports_neither_lightning_nor_hydra(tiny_ckpt, tmp_path, repo_root):
    import subprocess
    import sys

    make_agiqa1k(tmp_path / "a")
    folder = str(tmp_path / "a" / "file")
    code = ("import sys, iqa\n"
            f"r = iqa.rank({{'x': {folder!r}, 'y': {folder!r}}}, ckpt={str(tiny_ckpt)!r}, device='cpu', n_boot=100)\n"
            f"r.write({str(tmp_path / 'out')!r})\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytorch_lightning', 'lightning', 'hydra')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
