"""Every config group choice composes; bad choices and keys fail fast with the valid options."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

pytestmark = pytest.mark.integration


PRIMARIES = {
    "label": ["teacher", "prompts", "data", "trainer", "logger", "experiment"],
    "train": ["teacher", "prompts", "data", "backbone", "enhancer", "loss", "stage", "trainer", "callbacks", "logger", "experiment"],
    "evaluate": ["data", "trainer", "logger", "experiment"],
}
REQUIRED = {
    "data/folder": ["data.root=/tmp/images"],
    "data/shards": ["data.train=/tmp/shards/*.tar"],
    "data/csv": ["data.csv=/tmp/labels.csv", "data.mos_range=[0,5]", "data.higher_is_better=true"],
}


CONF_DIR = Path(__file__).resolve().parent.parent / "iqa" / "conf"  # read at collection time, before fixtures exist


def choices(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


#: Experiments that select train.py's own groups (stage=enhance, its enhancer): they compose with train.py only.
TRAIN_ONLY_EXPERIMENTS = {"demo_enhance"}

CASES = [(primary, group, choice) for primary, groups in PRIMARIES.items() for group in groups for choice in choices(group)
         if not (group == "experiment" and choice in TRAIN_ONLY_EXPERIMENTS and primary != "train")]


@pytest.mark.parametrize("primary,group,choice", CASES, ids=[f"{p}:{g}={c}" for p, g, c in CASES])
def test_every_choice_composes(compose, primary, group, choice):
    overrides = [f"{group}={choice}", *REQUIRED.get(f"{group}/{choice}", [])]
    if primary == "evaluate":
        overrides.append("ckpt=model.ckpt")
    cfg = compose(primary, overrides)
    node = cfg if group == "experiment" else cfg[group]
    assert node is not None
    if group == "stage":  # the ridge probe is a linear probe with another head (same run name and metadata)
        assert cfg.stage.name == {"ridge_probe": "linear_probe"}.get(choice, choice)
        if choice == "enhance":  # its objective is stage.objective (the attiqa loss); the loss group is left as it was
            assert cfg.stage.objective._target_.endswith("EnhancementObjective")
        else:
            assert cfg.loss.name == ("ranking" if choice == "pretrain" else "regression")
    if group == "teacher":
        assert cfg.teacher._target_.startswith("iqa.teachers.")
        assert cfg.teacher.label_set  # resolves
    if group == "prompts":
        from iqa.teachers.prompts import expand_prompts

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


# -- every choice builds the objects it describes (not only composes) --------------------------------

ALL_GROUPS = sorted({g for groups in PRIMARIES.values() for g in groups})
#: open_clip presets with real sizes: their random initialisation takes ~20 s each on a small CPU.
LARGE_TEACHERS = {"openclip", "rn50", "vit_b32", "vit_l14"}


def build_choice(compose, group: str, choice: str, tmp_path: Path) -> list:
    """Instantiate what ``group=choice`` configures; returns the built objects."""
    import inspect

    from hydra.utils import get_object

    from iqa.attributes import ATTRIBUTES
    from iqa.config import instantiate_list, instantiate_node
    from iqa.loggers import build_logger
    from iqa.teachers import build_teacher

    base = [f"run_dir={tmp_path}/run", f"paths.output_dir={tmp_path}/out", "backbone.weights=none"]
    selected = [f"{group}={choice}", *REQUIRED.get(f"{group}/{choice}", [])]
    if group == "teacher":
        cfg = compose("label", selected)
        if choice in LARGE_TEACHERS:  # the node's arguments must fit the constructor, and the model must exist
            import open_clip

            node = OmegaConf.to_container(cfg.teacher, resolve=True)
            inspect.signature(get_object(node.pop("_target_"))).bind(**node)
            assert node["model"] in open_clip.list_models()
            return []
        return [build_teacher(cfg.teacher)]
    if group == "prompts":  # a prompt set is built into a (tiny, random) CLIP teacher's text features
        from iqa.teachers.prompts import expand_prompts

        cfg = compose("label", ["teacher=openclip_tiny", *selected])
        teacher = build_teacher(cfg.teacher)
        expanded = expand_prompts(OmegaConf.to_container(cfg.prompts, resolve=True))
        assert teacher.text_features is not None
        assert {a: [tuple(p) for p in v] for a, v in teacher.prompts.items()} == {a: [tuple(p) for p in v] for a, v in expanded.items()}
        return [teacher]
    if group == "data":
        built = []
        for stage in ("pretrain", "finetune"):
            cfg = compose("train", [*base, *selected, f"stage={stage}"])
            section = cfg.data.corpus if stage == "pretrain" else cfg.data.iqa
            if section:
                built.append(instantiate_node(cfg.stage.datamodule, attributes=ATTRIBUTES) if stage == "pretrain"
                             else instantiate_node(cfg.stage.datamodule))
        if cfg.data.iqa:
            built.append(instantiate_node(cfg.data.iqa.dataset))
        if cfg.data.prepare:  # building a corpus is tested elsewhere; here its arguments must fit the function
            node = OmegaConf.to_container(cfg.data.prepare, resolve=True)
            inspect.signature(get_object(node.pop("_target_"))).bind(**node)
        return built
    if group == "trainer":
        overrides = ["trainer.accelerator=cpu", "trainer.precision=32-true", "trainer.devices=1"]
        cfg = compose("train", [*base, *selected, *overrides])
        trainer = instantiate_node(cfg.trainer, drop=(), logger=False, callbacks=[], enable_checkpointing=False)
        assert trainer.max_steps == cfg.stage.max_steps
        return [trainer]
    if group == "logger":
        cfg = compose("train", [*base, *selected])
        logger = build_logger(cfg)
        return [logger] if logger else []
    if group == "callbacks":
        return instantiate_list(compose("train", [*base, *selected]).callbacks)
    if group == "enhancer":
        return [instantiate_node(compose("train", [*base, *selected]).enhancer)]
    if group == "stage" and choice == "enhance" or group == "experiment" and choice in TRAIN_ONLY_EXPERIMENTS:
        return build_enhance_stage(compose, [*base, *selected], tmp_path)
    if group == "experiment":
        cfg = compose("train", [*base, *selected])
        net = instantiate_node(cfg.net)
        trainer = instantiate_node(cfg.trainer, drop=(), logger=False, callbacks=instantiate_list(cfg.callbacks))
        teacher = build_teacher(compose("label", [*base[:2], *selected]).teacher)
        return [net, trainer, teacher]
    cfg = compose("train", [*base, *selected] if group != "stage" else [*base, *selected, "data=demo"])
    if group == "loss":
        return [instantiate_node(cfg.loss, attributes=ATTRIBUTES)]
    if group == "backbone":
        return [instantiate_node(cfg.net)]
    assert group == "stage"
    net = instantiate_node(cfg.net)
    pretrain = cfg.stage.name == "pretrain"
    loss = instantiate_node(cfg.loss, attributes=ATTRIBUTES if pretrain else ["quality"])
    scale = {} if pretrain else {"mos_range": [1.0, 5.0], "higher_is_better": True}
    module = instantiate_node(cfg.stage.module, net=net, loss=loss, optimizer=instantiate_node(cfg.stage.optimizer), **scale)
    datamodule = instantiate_node(cfg.stage.datamodule, **({"attributes": ATTRIBUTES} if pretrain else {}))
    return [net, loss, module, datamodule]


def build_enhance_stage(compose, overrides: list[str], tmp_path: Path) -> list:
    """stage=enhance against a tiny quality checkpoint: enhancer, objective, module, datamodule and trainer."""
    import torch

    from iqa.config import instantiate_list, instantiate_node
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    torch.manual_seed(0)
    ckpt = export_checkpoint(IQANet(backbone="test_efficientnet", weights="none"), tmp_path / "quality.ckpt", stage="finetune",
                             init="pretrain.ckpt", attributes_trained=True, image_size=32)
    cfg = compose("train", [*overrides, f"stage.quality_ckpt={ckpt}", "~stage.objective.attributes",
                            "+stage.objective.attributes={brightness: raise}"])
    enhancer = instantiate_node(cfg.enhancer)
    objective = instantiate_node(cfg.stage.objective)
    module = instantiate_node(cfg.stage.module, net=enhancer, loss=objective, optimizer=instantiate_node(cfg.stage.optimizer))
    datamodule = instantiate_node(cfg.stage.datamodule)
    trainer = instantiate_node(cfg.trainer, drop=(), logger=False, callbacks=instantiate_list(cfg.callbacks))
    return [enhancer, objective, module, datamodule, trainer]


INSTANCES = [(group, choice) for group in ALL_GROUPS for choice in choices(group)]


@pytest.mark.parametrize("group,choice", INSTANCES, ids=[f"{g}={c}" for g, c in INSTANCES])
def test_every_choice_instantiates(compose, group, choice, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    built = build_choice(compose, group, choice, tmp_path)
    names = [type(obj).__name__ for obj in built]
    expected = {
        ("teacher", "classical"): ["ClassicalTeacher"],
        ("teacher", "openclip_tiny"): ["OpenCLIPTeacher"],
        ("loss", "fidelity"): ["FidelityLoss"], ("loss", "ranking"): ["RankingLoss"], ("loss", "regression"): ["RegressionLoss"],
        ("loss", "regression_ranking"): ["CombinedLoss"],
        ("logger", "csv"): ["ResumableCSVLogger"], ("logger", "none"): [], ("logger", "tensorboard"): ["TensorBoardLogger"],
        ("logger", "wandb"): ["WandbLogger"],
        ("stage", "pretrain"): ["IQANet", "RankingLoss", "PretrainModule", "PretrainDataModule"],
        ("stage", "finetune"): ["IQANet", "RegressionLoss", "FinetuneModule", "IQADataModule"],
        ("stage", "linear_probe"): ["IQANet", "RegressionLoss", "FinetuneModule", "IQADataModule"],
        ("stage", "ridge_probe"): ["IQANet", "RegressionLoss", "RidgeProbeModule", "IQADataModule"],
        ("callbacks", "default"): ["ModelCheckpoint", "ThroughputCallback", "LearningRateMonitor", "TQDMProgressBar"],
        ("experiment", "demo"): ["IQANet", "Trainer", "ClassicalTeacher"],
        ("enhancer", "zero_dce"): ["CurveEstimator"], ("enhancer", "unet"): ["SmallUNet"],
        ("stage", "enhance"): ["CurveEstimator", "EnhancementObjective", "EnhanceModule", "EnhanceDataModule", "Trainer"],
        ("experiment", "demo_enhance"): ["CurveEstimator", "EnhancementObjective", "EnhanceModule", "EnhanceDataModule", "Trainer"],
        ("experiment", "offline"): ["IQANet", "Trainer", "ClassicalTeacher"],
    }
    if (group, choice) in expected:
        assert names == expected[(group, choice)]
    elif group == "backbone":
        (net,) = built
        assert names == ["IQANet"] and net.backbone_name == compose("train", [f"backbone={choice}"]).backbone.name
    elif group in ("trainer", "prompts"):
        assert names == ["Trainer" if group == "trainer" else "OpenCLIPTeacher"]
    elif group == "data":
        import pytorch_lightning as pl

        from iqa.data.datasets import IQADataset

        assert built and all(isinstance(obj, (pl.LightningDataModule, IQADataset)) or type(obj).__name__.endswith("Dataset")
                             for obj in built), names
    elif group == "teacher":
        assert choice in LARGE_TEACHERS and built == []
    else:  # pragma: no cover - a new group or choice needs its expectation here
        pytest.fail(f"no expectation for {group}={choice}: {names}")


@pytest.mark.slow
def test_a_full_size_clip_teacher_instantiates_with_random_weights(compose):
    """One full-size teacher built for real, its prompts encoded (the others share its code path: their model names and
    arguments are checked against open_clip without building them, in the per-choice test above)."""
    from iqa.teachers import build_teacher

    cfg = compose("label", ["teacher=vit_b32", "teacher.pretrained=none"])
    teacher = build_teacher(cfg.teacher)
    assert teacher.name == cfg.teacher.name and teacher.text_features is not None


def test_callbacks_follow_logger_progress_bar_digest_and_monitor(compose, tmp_path, monkeypatch):
    from pytorch_lightning.callbacks import ModelCheckpoint

    from iqa.config import instantiate_list

    def built(*overrides):
        callbacks = instantiate_list(compose("train", [f"run_dir={tmp_path}", *overrides]).callbacks)
        return {type(c).__name__: c for c in callbacks}

    default = built("stage=finetune")
    checkpoint = default["ModelCheckpoint"]
    assert isinstance(checkpoint, ModelCheckpoint) and checkpoint.monitor == "val/srcc" and checkpoint.save_top_k == 1
    assert checkpoint.dirpath == str(tmp_path / "checkpoints") and checkpoint.save_last
    assert built("stage=pretrain")["ModelCheckpoint"].monitor == "val/srcc_mean"
    # No validation split: train.py sets stage.monitor null, and no best.ckpt is kept.
    unmonitored = built("stage=pretrain", "stage.monitor=null")["ModelCheckpoint"]
    assert unmonitored.monitor is None and unmonitored.save_top_k == 0
    assert "LearningRateMonitor" not in built("logger=none")
    assert "TQDMProgressBar" not in built("trainer.enable_progress_bar=false")
    assert built("stage=pretrain", "stage.digest=true")["ReplicaDigest"].directory == tmp_path / "digest"
    # The refresh policy: every step on CPU, every 25 on a GPU (each refresh syncs it), or as given.
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default["TQDMProgressBar"].refresh_rate == 1
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert built()["TQDMProgressBar"].refresh_rate == 25
    assert built("trainer.accelerator=cpu")["TQDMProgressBar"].refresh_rate == 1
    assert built("progress_refresh=7")["TQDMProgressBar"].refresh_rate == 7


def test_linear_probe_with_ridge_head_is_an_alias_of_stage_ridge_probe(compose):
    from iqa.training import apply_stage_alias

    alias = compose("train", ["stage=linear_probe", "stage.head=ridge", "stage.ridge_alpha=3.0", "trainer.max_epochs=5"])
    apply_stage_alias(alias)
    direct = compose("train", ["stage=ridge_probe", "stage.ridge_alpha=3.0"])
    assert OmegaConf.to_container(alias.stage, resolve=True) == OmegaConf.to_container(direct.stage, resolve=True)
    assert OmegaConf.to_container(alias.trainer, resolve=True) == OmegaConf.to_container(direct.trainer, resolve=True)
    assert alias.stage.module.alphas == 3.0 and alias.trainer.max_epochs == 1 and alias.trainer.gradient_clip_val is None
    plain = compose("train", ["stage=linear_probe"])
    apply_stage_alias(plain)
    assert plain.stage.module._target_.endswith("FinetuneModule") and plain.trainer.max_steps == 2000


def test_help_and_cfg_do_not_import_torch(repo_root):
    import subprocess
    import sys

    for script, flag in (("label.py", "--help"), ("train.py", "--cfg=job")):
        code = (f"import runpy, sys; sys.argv = [{script!r}, {flag!r}]\n"
                f"try:\n    runpy.run_path({script!r}, run_name='__main__')\n"
                "except SystemExit:\n    pass\n"
                "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')")
        result = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith("NO-TORCH"), (script, result.stdout[-300:])
    # iqa model's option checks (the quality heads included) and its help stay free of torch as well.
    code = ("import sys\nfrom iqa.cli.recipes import model, parse_model_args\n"
            "assert model(['--help']) == 0 and model(['offline.finetune.head=deep']) == 2\n"
            "parse_model_args(['offline.finetune.head=grounded'])\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')")
    result = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("NO-TORCH"), result.stdout[-300:]
