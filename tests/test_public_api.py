"""The flat public API in ``iqa``: lazy, documented, and light enough to score without the training stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from _evaluation_helpers import tiny_image

pytestmark = pytest.mark.integration

PUBLIC = ("load", "QualityLoss", "evaluate", "rank", "read_labels", "open_dataset", "list_datasets", "enhance")
#: What scoring must never import: the training stack and the config system.
TRAINING_STACK = ("pytorch_lightning", "lightning", "lightning_fabric", "hydra")

SCORE_IN_A_FRESH_PROCESS = f"""
import json, sys
import iqa
frame = iqa.load(sys.argv[1], device="cpu").score(sys.argv[2])
print(json.dumps({{"quality": float(frame["quality"][0]), "sharpness": float(frame["sharpness"][0]),
                  "loaded": sorted(m for m in sys.modules if m.split(".")[0] in {TRAINING_STACK!r})}}))
"""


@pytest.mark.unit
def test_public_names_are_listed_lazy_and_documented(repo_root):
    code = "import sys, iqa; print(sorted(m for m in ('torch', 'pandas', 'omegaconf') if m in sys.modules)); print(dir(iqa))"
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "[]"  # import iqa loads none of the heavy libraries
    import iqa

    for name in PUBLIC:
        assert name in iqa.__all__ and name in out[1] and f"iqa.{name}(" in iqa.__doc__
    assert iqa.read_labels.__module__ == "iqa.data.label_sets" and iqa.enhance.__module__ == "iqa.enhancement.apply"
    assert iqa.open_dataset is iqa.data.open_dataset and iqa.list_datasets is iqa.data.list_datasets
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        iqa.nope  # noqa: B018


def test_scoring_through_iqa_load_never_imports_lightning_or_hydra(repo_root, tmp_path):
    import torch

    import iqa
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    torch.manual_seed(0)
    ckpt = export_checkpoint(IQANet(weights="none"), tmp_path / "tiny.ckpt", stage="finetune", data="demo",
                             mos_range=[1.0, 5.0], higher_is_better=True, image_size=64, attributes_trained=True)
    image = tmp_path / "photo.png"
    tiny_image(3, (80, 64)).save(image)
    run = subprocess.run([sys.executable, "-c", SCORE_IN_A_FRESH_PROCESS, str(ckpt), str(image)],
                         cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["loaded"] == []
    # It really scored: the same numbers as this (fully loaded) process gets.
    here = iqa.load(ckpt, device="cpu").score(image)
    assert result["quality"] == pytest.approx(float(here["quality"][0]), abs=1e-5)
    assert result["sharpness"] == pytest.approx(float(here["sharpness"][0]), abs=1e-5)


def test_list_datasets_agrees_with_the_configs_and_their_classes(compose, tiny_overrides, tiny_dirs):
    import iqa
    from iqa.data.catalog import dataset_choices, dataset_scale

    listed = iqa.list_datasets()
    assert sorted(listed) == sorted(dataset_choices())
    expected = {
        "koniq10k": ((1.0, 5.0), True, True), "spaq": ((0.0, 100.0), True, False),
        "livec": ((0.0, 100.0), True, False), "kadid10k": ((1.0, 5.0), True, False),
        "demo": ((1.0, 5.0), True, True), "demo_kadid": ((1.0, 5.0), True, False),
        "csv": (None, None, None),  # declared by whoever points it at a CSV
    }
    for name, (mos_range, higher, official) in expected.items():
        info = listed[name]
        assert (info["mos_range"], info["higher_is_better"], info["official_split"]) == (mos_range, higher, official), name
    assert listed["koniq10k"]["dataset"] == "iqa.data.datasets.KonIQ10k"
    # The same scale that a training run on the built demo data uses.
    data = compose("train", ["experiment=demo", *tiny_overrides(*tiny_dirs), "stage=finetune"]).data
    assert dataset_scale(data) == (listed["demo"]["mos_range"], listed["demo"]["higher_is_better"])


@pytest.mark.unit
def test_module_paths_of_earlier_versions_import_as_their_replacements():
    import importlib
    import warnings

    import iqa

    for old, new in iqa.MOVED_MODULES.items():
        sys.modules.pop(old, None)  # imported by an earlier test: resolve it afresh
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            module = importlib.import_module(old)
        assert module is importlib.import_module(new), old
        assert module.__spec__.name == new  # the replacement keeps its own identity
        assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught), old
    from iqa.cli.train import run  # what scripts of earlier versions called
    from iqa.training import train

    assert run is train
    assert iqa.MOVED_MODULES["iqa.reports"] == "iqa.evaluation.reports"
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("iqa.not_a_module")
