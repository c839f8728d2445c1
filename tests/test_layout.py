"""A clone's layout: the config groups at the top (``conf/``) are the ones the package ships and composes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.unit
def test_top_level_conf_shows_the_shipped_groups(repo_root):
    from iqa.config import config_dir

    top = repo_root / "conf"
    assert top.is_dir()
    assert top.resolve() == (repo_root / "iqa" / "conf").resolve() == Path(config_dir()).resolve()
    groups = {p.name for p in top.iterdir() if p.is_dir()}
    assert {"teacher", "prompts", "backbone", "data", "stage"} <= groups


@pytest.mark.integration
def test_train_py_composes_from_a_clone(repo_root):
    """``python train.py --cfg job`` from the clone's root composes the groups it shows at conf/."""
    run = subprocess.run([sys.executable, "train.py", "--cfg", "job", "stage=finetune", "backbone=resnet50"], cwd=repo_root,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "name: finetune" in run.stdout and "builder: iqa.training.student_stage" in run.stdout
    assert "resnet50" in run.stdout
    bad = subprocess.run([sys.executable, "train.py", "--cfg", "job", "stage=fine"], cwd=repo_root, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode != 0 and "finetune" in bad.stderr  # an unknown choice lists the valid ones


@pytest.mark.unit
def test_config_files_are_read_in_one_place(repo_root):
    """Outside Hydra's composition, config files are read by iqa.config.load_group alone (one error, one search path)."""
    import ast

    readers = []
    for path in sorted((repo_root / "iqa").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("OmegaConf.load", "omegaconf.OmegaConf.load"):
                readers.append(path.relative_to(repo_root).as_posix())
    assert readers and set(readers) == {"iqa/config.py"}


@pytest.mark.unit
def test_load_group_lists_the_valid_choices(tmp_path, monkeypatch):
    from iqa.config import group_choices, load_group
    from iqa.errors import UserError

    assert load_group("stage", "finetune").stage.name == "finetune"
    with pytest.raises(UserError, match=r"unknown stage 'finetun' \(did you mean: finetune\?\); valid: .*pretrain"):
        load_group("stage", "finetun")
    # A user's group file is found beside the shipped ones; a shipped one of the same name shadows it, as in Hydra.
    (tmp_path / "stage").mkdir()
    (tmp_path / "stage" / "mine.yaml").write_text("stage:\n  name: mine\n")
    (tmp_path / "stage" / "finetune.yaml").write_text("stage:\n  name: shadowed\n")
    monkeypatch.setenv("ATTIQA_USER_CONF", str(tmp_path))
    assert "mine" in group_choices("stage") and load_group("stage", "mine").stage.name == "mine"
    assert load_group("stage", "finetune").stage.name == "finetune"
