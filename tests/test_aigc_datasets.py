"""AGIQA-3K, AGIQA-1K, AIGCIQA2023, FLIVE and AVA in their official layouts (tiny copies), their scales, ranking and training."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _aigc_helpers import (
    AGIQA1K_DUPLICATE,
    AIGCIQA2023_ORDER,
    FLIVE_COLLECTIONS,
    agiqa1k_prompt,
    aigciqa2023_prompt,
    make_agiqa1k,
    make_agiqa3k,
    make_aigciqa2023,
    make_ava,
    make_flive,
    write_xlsx,
)
from _evaluation_helpers import make_spaq, tiny_image

from iqa.data import datasets as iqa_datasets
from iqa.data import open_dataset
from iqa.data.datasets import generator_from_name
from iqa.errors import UserError

pytestmark = pytest.mark.unit


def test_generator_and_setting_come_from_the_file_name():
    assert generator_from_name("midjourney_lowstep_012.jpg") == ("midjourney", "lowstep")
    assert generator_from_name("sd1.5_normal_000.jpg") == ("sd1.5", "normal")
    assert generator_from_name("glide_v2_highcorr_7.png") == ("glide_v2", "highcorr")
    assert generator_from_name("dreamStudio_8_9_1_1.jpg") == ("dreamStudio_8_9", "1")  # not an AGIQA-3K name: first parts
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


def test_agiqa1k_reads_the_zscore_xlsx_by_default_with_prompts_shared_across_platforms(tmp_path, caplog):
    rows = make_agiqa1k(tmp_path)
    with caplog.at_level(logging.WARNING, logger="iqa.data.datasets"):
        records = open_dataset("agiqa1k", tmp_path)
    assert [Path(r.path).name for r in records] == [name for name, _, _ in rows] and all(os.path.isfile(r.path) for r in records)
    assert [r.mos for r in records] == [mos for _, mos, _ in rows]  # the xlsx's z-scores, not AIGC_all.csv's
    assert [r.meta["group"] for r in records] == ["deepai"] * 3 + ["dreamStudio"] * 3
    # The four numbers are the prompt: the same id on both platforms, so rankings pair them.
    assert [r.meta["prompt"] for r in records] == ["1_2_0_1", "8_9_1_1", "3_4_1_0", "1_2_0_1", "8_9_1_1", "5_6_0_0"]
    assert records[0].meta["prompt_text"] == agiqa1k_prompt("deepai_1_2_0_1.jpg") == "cat driving car, city, realistic style"
    assert [r.meta["style"] for r in records] == ["realistic", "realistic", "anime", "realistic", "realistic", "anime"]
    # dreamStudio_8_9_1_1.jpg is listed twice: one record, the first row's score, and a warning naming both.
    twice = [r for r in records if Path(r.path).name == AGIQA1K_DUPLICATE[0]]
    assert len(twice) == 1 and twice[0].mos == -1.27 and twice[0].meta["listed_scores"] == [-1.27, AGIQA1K_DUPLICATE[1]]
    assert "dreamStudio_8_9_1_1.jpg on 2 rows" in caplog.text and "-0.61" in caplog.text
    as_csv = open_dataset("agiqa1k", tmp_path, annotations="csv")
    assert [r.mos for r in as_csv] == [score for _, _, score in rows] and [r.meta["prompt"] for r in as_csv][:2] == ["1_2_0_1", "8_9_1_1"]
    with pytest.raises(UserError, match="annotations must be one of xlsx, csv"):
        open_dataset("agiqa1k", tmp_path, annotations="json")


def test_agiqa1k_declares_no_range_and_uses_the_observed_one(tmp_path):
    from iqa.data.catalog import data_config, dataset_from_config, dataset_scale

    make_agiqa1k(tmp_path)
    assert iqa_datasets.AGIQA1K.declared_scale({}) == (None, True)
    data = data_config("agiqa1k", root=tmp_path)
    assert dataset_from_config(data).mos_range == (-1.27, 1.31)  # the observed ends: z-scores are not on 0..5
    assert dataset_scale(data) == ((-1.27, 1.31), True)
    declared = data_config("agiqa1k", root=tmp_path, overrides={"iqa": {"mos_range": [-3.0, 3.0]}})
    assert dataset_scale(declared) == ((-3.0, 3.0), True)


def test_agiqa1k_names_without_four_numbers_are_ranked_unpaired(tmp_path, caplog):
    make_agiqa1k(tmp_path)
    tiny_image(1, (40, 40)).save(tmp_path / "file" / "dreamStudio_8_9_1.jpg")
    write_xlsx(tmp_path / "AIGC_MOS_Zscore.xlsx", [["Image", "Prompt", "MOS"], ["deepai_8_9_1_1.jpg", "p", 0.5],
                                                    ["dreamStudio_8_9_1.jpg", "p", 0.1]])
    with caplog.at_level(logging.WARNING, logger="iqa.data.datasets"):
        records = open_dataset("agiqa1k", tmp_path)
    assert records[0].meta["prompt"] == "8_9_1_1" and "prompt" not in records[1].meta and records[1].meta["group"] == "dreamStudio"
    assert "ranked without a prompt" in caplog.text


def test_aigciqa2023_generators_come_from_pic_index(tmp_path):
    shuffled = ["Unidiffuser", "Glide", "stable-diffusion", "Controlnet", "Lafite", "DALLE"]
    mos = make_aigciqa2023(tmp_path, per_generator=8, pic_index="rows", order=shuffled)
    records = open_dataset("aigciqa2023", tmp_path)
    np.testing.assert_allclose([r.mos for r in records], mos)
    assert [Path(r.path).name for r in records[:3]] == ["0.png", "1.png", "2.png"] and all(os.path.isfile(r.path) for r in records)
    assert [r.meta["group"] for r in records[::8]] == shuffled  # the file's labels, not a built-in order
    assert {r.meta["group"] for r in records[8:16]} == {"Glide"}
    authenticity = open_dataset("aigciqa2023", tmp_path, mos="authenticity")
    np.testing.assert_allclose([r.mos for r in authenticity], 100.0 - mos)


@pytest.mark.parametrize("pic_index", [None, "blocks"])
def test_aigciqa2023_release_order_without_pic_index_and_ranges_in_it(tmp_path, pic_index):
    make_aigciqa2023(tmp_path, per_generator=8, pic_index=pic_index)
    records = open_dataset("aigciqa2023", tmp_path)
    assert [r.meta["group"] for r in records[::8]] == ["Controlnet", "DALLE", "Glide", "Lafite", "stable-diffusion", "Unidiffuser"]
    renamed = open_dataset("aigciqa2023", tmp_path, generators=list("ABCDEF"))
    assert renamed[47].meta["group"] == "F" and renamed[0].meta["group"] == "A"


def test_aigciqa2023_pic_index_numbered_from_one_or_incomplete(tmp_path):
    make_aigciqa2023(tmp_path, per_generator=4, pic_index=None)
    write_xlsx(tmp_path / "pic-index.xlsx", [["model", "img"], *([AIGCIQA2023_ORDER[(n - 1) // 4], f"{n}.png"] for n in range(1, 25))])
    assert [r.meta["group"] for r in open_dataset("aigciqa2023", tmp_path)[::4]] == AIGCIQA2023_ORDER
    make_aigciqa2023(tmp_path / "cells", per_generator=4, pic_index=None)  # one cell a row: <generator>_<n>.png
    write_xlsx(tmp_path / "cells" / "pic-index.xlsx", [[f"{AIGCIQA2023_ORDER[::-1][n // 4]}_{n}.png"] for n in range(24)])
    assert [r.meta["group"] for r in open_dataset("aigciqa2023", tmp_path / "cells")[::4]] == AIGCIQA2023_ORDER[::-1]
    make_aigciqa2023(tmp_path / "gap", per_generator=4, pic_index=None)
    write_xlsx(tmp_path / "gap" / "pic-index.xlsx", [[AIGCIQA2023_ORDER[n // 4], n] for n in range(20)])
    with pytest.raises(UserError, match="pic-index.xlsx names no generator for 4 of 24 images"):
        open_dataset("aigciqa2023", tmp_path / "gap")


@pytest.mark.parametrize("prompts", ["plain", "header"])
def test_aigciqa2023_prompts_styles_and_classes_from_the_prompt_file(tmp_path, prompts):
    make_aigciqa2023(tmp_path, per_generator=8, prompts=prompts)
    records = open_dataset("aigciqa2023", tmp_path)
    # 8 images per generator in this copy, 4 per prompt: image n is prompt (n % 8) // 4 of its generator.
    for n in (0, 3, 4, 13, 47):
        style, klass, text = aigciqa2023_prompt((n % 8) // 4)
        assert (records[n].meta["prompt"], records[n].meta["style"], records[n].meta["class"]) == (text, style, klass)
        assert records[n].meta["prompt_index"] == (n % 8) // 4
    assert records[12].meta["prompt"] == records[15].meta["prompt"] == records[4].meta["prompt"] != records[16].meta["prompt"]


def test_aigciqa2023_without_the_prompt_file_numbers_the_prompts(tmp_path):
    make_aigciqa2023(tmp_path, per_generator=8, prompts=None)
    records = open_dataset("aigciqa2023", tmp_path)
    assert records[13].meta["prompt"] == "prompt001" and "style" not in records[13].meta and "class" not in records[13].meta


def test_aigciqa2023_third_party_csv_only_on_request(tmp_path):
    mos = make_aigciqa2023(tmp_path, per_generator=4, table=True)
    np.testing.assert_allclose([r.mos for r in open_dataset("aigciqa2023", tmp_path)], mos)  # the .mat by default
    table = open_dataset("aigciqa2023", tmp_path, annotations="csv")
    np.testing.assert_allclose([r.mos for r in table], mos + 1.0)
    assert table[5].meta["group"] == "DALLE" and table[5].meta["prompt"] == aigciqa2023_prompt(0)[2]


def test_aigciqa2023_missing_annotations_name_the_files(tmp_path):
    (tmp_path / "Image").mkdir()
    with pytest.raises(UserError, match="missing DATA/MOS/mosz1.mat") as missing:
        open_dataset("aigciqa2023", tmp_path)
    assert "pic-index.xlsx" in str(missing.value) and "AIGCIQA2023_Prompts.xlsx" in str(missing.value)
    (tmp_path / "AIGCIQA2023.csv").write_text("name,quality_mos\n0.png,50\n")
    with pytest.raises(UserError, match="AIGCIQA2023.csv is there: pass annotations=csv"):
        open_dataset("aigciqa2023", tmp_path)
    with pytest.raises(UserError, match="missing DATA/MOS/mosz3.mat"):
        open_dataset("aigciqa2023", tmp_path, mos="correspondence")


def test_flive_official_split_test_labels640_val_is_valid_train_the_rest(tmp_path):
    splits = make_flive(tmp_path, n=12, test=3, val=2)
    records = open_dataset("flive", tmp_path)
    assert [r.mos for r in records] == [20 + 6 * i for i in range(12)] and all(os.path.isfile(r.path) for r in records)
    assert {r.meta["group"] for r in records} == set(FLIVE_COLLECTIONS)
    parts = {s: open_dataset("flive", tmp_path, split=s) for s in ("train", "val", "test")}
    for split, names in splits.items():
        assert sorted(r.path for r in parts[split]) == sorted(str(tmp_path / "database" / n) for n in names), split
    assert [len(parts[s]) for s in ("train", "val", "test")] == [7, 2, 3]
    paths = [{r.path for r in part} for part in parts.values()]
    assert not (paths[0] & paths[1]) and not (paths[0] & paths[2]) and not (paths[1] & paths[2])
    # The root may also be database/ itself.
    assert [r.path for r in open_dataset("flive", tmp_path / "database", split="val")] == [r.path for r in parts["val"]]


def test_flive_without_a_validation_list_carves_it_from_training(tmp_path):
    make_flive(tmp_path, n=12, test=3, val=2)
    val = open_dataset("flive", tmp_path, split="val", val_list=None)
    train = open_dataset("flive", tmp_path, split="train", val_list=None)
    assert len(train) + len(val) == 9 and len(val) >= 1
    assert len(open_dataset("flive", tmp_path, split="test", val_list=None)) == 3


def test_flive_errors_name_the_files(tmp_path):
    make_flive(tmp_path, n=4, test=1, val=1)
    (tmp_path / "database" / "labels640.csv").write_text("name_image,mos\nEE371R/not_labelled.jpg,50\n")
    with pytest.raises(UserError, match="1 names of labels640.csv are not in labels_image.csv"):
        open_dataset("flive", tmp_path)
    (tmp_path / "database" / "labels=640_padded.csv").unlink()
    with pytest.raises(UserError, match=r"missing database/labels=640_padded.csv"):
        open_dataset("flive", tmp_path)
    make_flive(tmp_path / "odd", n=4, test=1, val=1)
    (tmp_path / "odd" / "database" / "labels=640_padded.csv").write_text("name_image,mos,is_valid\nEE371R/img_001.jpg,50,maybe\n")
    with pytest.raises(UserError, match="is_valid must be True or False"):
        open_dataset("flive", tmp_path / "odd")


@pytest.mark.parametrize("name,build", [
    ("agiqa1k", make_agiqa1k),
    ("aigciqa2023", lambda root: make_aigciqa2023(root, per_generator=4)),
    ("spaq", lambda root: make_spaq(root, n=3)),
])
def test_reading_xlsx_without_openpyxl_names_the_extra(tmp_path, monkeypatch, name, build):
    build(tmp_path)
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl now raises ImportError
    with pytest.raises(UserError, match=r"needs openpyxl: pip install 'attiqa\[xlsx\]'"):
        open_dataset(name, tmp_path)
    if name == "aigciqa2023":  # without the .xlsx files, the .mat alone needs no openpyxl
        (tmp_path / "pic-index.xlsx").unlink()
        (tmp_path / "AIGCIQA2023_Prompts.xlsx").unlink()
        assert open_dataset(name, tmp_path)[5].meta["group"] == "DALLE"


def test_dataset_rankings_carry_prompts_styles_and_classes(tmp_path):
    from iqa.ranking.analysis import analyse
    from iqa.ranking.inputs import collect_inputs

    make_aigciqa2023(tmp_path, per_generator=8)
    inputs = collect_inputs(dataset="aigciqa2023", root=tmp_path)
    assert inputs.groups == AIGCIQA2023_ORDER
    first = inputs.rows[4]
    assert (first["prompt"], first["style"], first["class"]) == (aigciqa2023_prompt(1)[2], *aigciqa2023_prompt(1)[:2])
    frame = pd.DataFrame(inputs.rows).assign(quality_norm=lambda f: f["mos"] / 100.0, error="")
    results = analyse(frame, attributes=[], n_boot=50, min_group=1, mos_scale=inputs.mos_scale)
    assert list(results.scores.columns[:5]) == ["group", "path", "prompt", "style", "class"]
    assert results.scores.groupby("style")["path"].count().to_dict() == {"Basic": 24, "Complex": 24}
    assert all(p["n_shared"] == 2 for p in results.pairs)  # paired on the two shared prompts
    one_k = collect_inputs(dataset="agiqa1k", root=_agiqa1k(tmp_path / "one"))
    assert [r["prompt"] for r in one_k.rows if r["group"] == "dreamStudio"] == ["1_2_0_1", "8_9_1_1", "5_6_0_0"]
    assert one_k.mos_scale["range"] is None and "class" not in one_k.rows[0]
    listed = tmp_path / "generators.csv"
    listed.write_text("path,group,prompt,style\nImage/allimg/0.png,a,p1,Basic\nImage/allimg/1.png,b,p1,\n")
    from_csv = collect_inputs(csv=listed)
    assert from_csv.rows[0]["style"] == "Basic" and "style" not in from_csv.rows[1] and "class" not in from_csv.rows[0]


def _agiqa1k(root: Path) -> Path:
    make_agiqa1k(root)
    return root


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
    expected = {"agiqa3k": ((0.0, 5.0), True, False), "agiqa1k": (None, True, False),
                "aigciqa2023": ((0.0, 100.0), True, False), "flive": ((0.0, 100.0), True, True), "ava": ((1.0, 10.0), True, True)}
    for name, (mos_range, higher, official) in expected.items():
        info = listed[name]
        assert (info["mos_range"], info["higher_is_better"], info["official_split"]) == (mos_range, higher, official), name


@pytest.mark.parametrize("name,expected", [
    ("agiqa3k", "data.csv"), ("agiqa1k", "AIGC_MOS_Zscore.xlsx"), ("flive", "database/labels640.csv"), ("ava", "AVA.txt"),
    ("aigciqa2023", "DATA/MOS/mosz1.mat"),
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
    "flive": (lambda root: make_flive(root, n=8, test=2, val=2), 4),
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
    assert code == 0 and "## Agreement with people (3 groups with MOS, higher MOS is better)" in capsys.readouterr().out
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
