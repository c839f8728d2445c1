"""Every config group choice composes; bad choices and keys fail fast with the valid options."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

pytestmark = pytest.mark.integration


PRIMARIES = {
    "label": ["teacher", "prompts", "data", "trainer", "logger", "experiment"],
    "train": ["teacher", "prompts", "data", "backbone", "loss", "stage", "trainer", "logger", "experiment"],
    "evaluate": ["data", "trainer", "logger", "experiment"],
}
REQUIRED = {"data/folder": ["data.root=/tmp/images"], "data/shards": ["data.train=/tmp/shards/*.tar"]}


CONF_DIR = Path(__file__).resolve().parent.parent / "iqa" / "conf"  # read at collection time, before fixtures exist


def choices(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


CASES = [(primary, group, choice) for primary, groups in PRIMARIES.items() for group in groups for choice in choices(group)]


@pytest.mark.parametrize("primary,group,choice", CASES, ids=[f"{p}:{g}={c}" for p, g, c in CASES])
def test_every_choice_composes(compose, primary, group, choice):
    overrides = [f"{group}={choice}", *REQUIRED.get(f"{group}/{choice}", [])]
    if primary == "evaluate":
        overrides.append("ckpt=model.ckpt")
    cfg = compose(primary, overrides)
    node = cfg if group == "experiment" else cfg[group]
    assert node is not None
    if group == "stage":
        assert cfg.stage.name == choice
        assert cfg.loss.name == ("ranking" if choice == "pretrain" else "regression")
    if group == "teacher":
        assert cfg.teacher._target_.startswith("iqa.teachers.")
        assert cfg.teacher.label_set  # resolves
    if group == "prompts":
        from iqa.prompts import expand_prompts

        expanded = expand_prompts(OmegaConf.to_container(cfg.prompts, resolve=True))
        assert set(expanded) == {"sharpness", "brightness", "contrast", "colorfulness", "noisiness"}
    if group == "backbone":
        import timm

        assert timm.is_model(cfg.backbone.name)
    if primary == "train" and group in ("stage", "backbone", "loss", "data"):
        # Everything a training run reads must resolve (not only compose).
        OmegaConf.to_container(cfg.stage, resolve=True)
        OmegaConf.to_container(cfg.trainer, resolve=True)


def test_stage_finetune_keeps_explicit_loss_choice(compose):
    cfg = compose("train", ["stage=finetune", "loss=ranking"])
    assert cfg.loss.name == "ranking"


@pytest.mark.unit
def test_label_set_names_follow_teacher_and_prompts(compose):
    cfg = compose("label", ["teacher=vit_b32", "prompts=clipiqa"])
    assert cfg.teacher.label_set == "openclip-ViT-B-32-clipiqa"
    assert Path(cfg.out).parts[-2:] == ("demo", "openclip-ViT-B-32-clipiqa")
    assert compose("label", ["teacher=classical", "prompts=clipiqa"]).teacher.label_set == "classical"


def test_train_help_lists_every_group(run_script):
    result = run_script("train.py", "--help", timeout=120)
    assert result.returncode == 0, result.stderr
    for group in PRIMARIES["train"]:
        assert f"{group}:" in result.stdout, group
    assert "tf_efficientnet_lite0" in result.stdout and "finetune" in result.stdout


def test_label_cfg_job_prints_composed_config(run_script):
    result = run_script("label.py", "--cfg", "job", "teacher=vit_b32", timeout=120)
    assert result.returncode == 0, result.stderr
    printed = OmegaConf.create(result.stdout)
    assert printed.teacher.model == "ViT-B-32" and printed.task == "label"


def test_unknown_choice_fails_fast_and_lists_choices(run_script):
    started = time.perf_counter()
    result = run_script("train.py", "backbone=resnet5O", timeout=120)
    assert result.returncode != 0
    assert "resnet50" in result.stderr and "tf_efficientnet_lite0" in result.stderr
    assert time.perf_counter() - started < 30


def test_mistyped_key_names_valid_keys(run_script):
    result = run_script("train.py", "stage.max_stepz=5", timeout=120)
    assert result.returncode == 2
    assert "unknown config key 'stage.max_stepz'" in result.stderr
    assert "did you mean: max_steps" in result.stderr
