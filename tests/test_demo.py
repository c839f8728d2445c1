"""The whole demo (label -> pretrain -> two fine-tunes -> evaluate) at a tiny size, as `make demo` runs it."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from PIL import Image

pytestmark = pytest.mark.slow


@pytest.mark.slow
def test_demo_end_to_end_at_tiny_size(repo_root, tiny_overrides, tiny_stage, tiny_dirs, tmp_path):
    data_dir, _ = tiny_dirs
    out = tmp_path / "outputs"
    overrides = [*tiny_overrides(data_dir, out), *tiny_stage, "num_workers=0"]
    result = subprocess.run(
        [sys.executable, "-m", "iqa.cli.main", "demo", *overrides], cwd=repo_root, capture_output=True, text=True, timeout=900,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    lines = [line for line in result.stdout.strip().splitlines() if line.strip()]
    assert lines[-1].startswith("demo finished in") and f"outputs: {out}/demo" in lines[-1]

    demo = out / "demo"
    results = json.loads((demo / "results.json").read_text())["results"]
    assert set(results) == {"attribute_pretrained", "imagenet_only"}
    for variant in results.values():
        metrics = variant["demo"]
        assert {"srcc", "plcc"} <= set(metrics) and metrics["n"] == 82
        assert all(-1 <= metrics[k] <= 1 and not math.isnan(metrics[k]) for k in ("srcc", "plcc"))
    assert "| attribute_pretrained | demo |" in result.stdout and "| imagenet_only | demo |" in result.stdout
    with Image.open(demo / "scatter.png") as image:
        assert image.size[0] > 200 and image.size[1] > 200
    # Each step left its artefacts where the README says.
    assert (demo / "labels" / "manifest.json").is_file()
    for run in ("pretrain", "finetune-attiqa", "finetune-imagenet"):
        assert (demo / run / "checkpoints" / "last.ckpt").is_file(), run
        assert (demo / run / "metrics.csv").is_file(), run
    # Same budget for both variants.
    steps = {run: json.loads((demo / run / "summary.json").read_text())["global_step"] for run in ("finetune-attiqa", "finetune-imagenet")}
    assert steps["finetune-attiqa"] == steps["finetune-imagenet"] == 4
    # The attribute-pretrained variant really started from the pretraining checkpoint.
    attiqa = json.loads((demo / "finetune-attiqa" / "summary.json").read_text())
    imagenet = json.loads((demo / "finetune-imagenet" / "summary.json").read_text())
    assert attiqa["init"] == f"{out}/demo/pretrain/checkpoints/last.ckpt" and imagenet["init"] == "imagenet"
