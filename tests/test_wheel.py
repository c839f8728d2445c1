"""The wheel, installed as a user would, outside the source tree.

Builds the wheel, installs it (not editable) into a fresh virtual environment
whose only other packages are this environment's dependencies, and runs the
``iqa`` command from an empty directory: help, version, a user prompt set, the
whole pipeline at a tiny size (label -> pretrain -> two fine-tunes -> evaluate,
through ``iqa demo``, as ``make demo`` runs it), ``iqa score``, and ``iqa score`` with no
checkpoint at all (the shipped default model).
"""

from __future__ import annotations

import json
import math
import os
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str], Path]:
    """(venv bin dir, environment, wheel path): the wheel installed into a new venv."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    # --no-build-isolation: build with this environment's setuptools, no registry needed.
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(dist), str(ROOT)],
         cwd=base, env=dict(os.environ))
    wheel = next(dist.glob("attiqa-*.whl"))
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base, env=dict(os.environ))
    purelib = Path(subprocess.check_output(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    # The dependencies (torch, Lightning, ...) come from this environment, appended after the venv's own
    # site-packages; path entries listed in a .pth file are not scanned for .pth files themselves, so this
    # environment's editable install of attiqa stays invisible.
    ours = [p for p in {sysconfig.get_paths()["purelib"], *site.getsitepackages()} if Path(p).is_dir()]
    (purelib / "deps.pth").write_text("\n".join(ours) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", WANDB_MODE="offline", PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)], cwd=base, env=env)
    return venv / "bin", env, wheel


def test_wheel_ships_the_configs(installed):
    _, _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n for n in names if n.startswith("iqa/conf/") and n.endswith(".yaml")}
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "iqa" / "conf").rglob("*.yaml")}
    assert shipped == on_disk and {"iqa/conf/train.yaml", "iqa/conf/label.yaml", "iqa/conf/evaluate.yaml"} <= shipped
    assert "iqa/resources/attiqa-tiny.json" in names
    # The shipped models: weights, manifest and card of each, and the registry naming the default.
    models = {p.relative_to(ROOT).as_posix() for p in (ROOT / "iqa" / "resources" / "models").rglob("*") if p.is_file()}
    assert "iqa/resources/models/registry.json" in models and any(n.endswith(".ckpt") for n in models)
    assert models <= set(names)
    assert not any(n.startswith(("tests/", "benchmarks/", "conf/")) for n in names)


def test_installed_command_runs_the_pipeline_from_an_empty_directory(installed, tmp_path):
    bin_dir, env, _ = installed
    iqa = str(bin_dir / "iqa")
    work = tmp_path / "empty"
    work.mkdir()

    where = _run([str(bin_dir / "python"), "-c", "import iqa; print(iqa.__file__)"], cwd=work, env=env).stdout.strip()
    assert not where.startswith(str(ROOT)) and str(bin_dir.parent) in where
    assert _run([iqa, "--version"], cwd=work, env=env).stdout.startswith("attiqa ")
    top = _run([iqa, "--help"], cwd=work, env=env).stdout
    train_help = _run([iqa, "train", "--help"], cwd=work, env=env).stdout
    for group in ("teacher", "prompts", "backbone", "data", "stage", "loss", "trainer", "logger"):
        assert f"\n  {group} " in top, group
        assert f"{group}:" in train_help, group
    # The applications' commands answer from the wheel too (the held-out ladders are library code now).
    assert "--photo-dir" in _run([iqa, "heldout", "--help"], cwd=work, env=env).stdout
    assert "--bootstrap" in _run([iqa, "rank", "--help"], cwd=work, env=env).stdout
    assert "--finetune-stage" in _run([iqa, "model", "--help"], cwd=work, env=env).stdout

    # A prompt set in the user config directory is found next to the shipped ones.
    prompts = work / "user_conf" / "prompts"
    prompts.mkdir(parents=True)
    shipped = (ROOT / "iqa" / "conf" / "prompts" / "clipiqa.yaml").read_text()
    (prompts / "mine.yaml").write_text(shipped.replace("name: clipiqa", "name: mine"))
    job = _run([iqa, "label", "teacher=openclip_tiny", "prompts=mine", "--cfg", "job"], cwd=work, env=env).stdout
    assert "name: mine" in job

    out, data = work / "outputs", work / "data"
    tiny = [f"paths.data_dir={data}", f"paths.output_dir={out}", f"paths.labels_dir={out}/labels", "data.prepare.size=64",
            "data.prepare.crops={pretrain:1,pretrain_val:1,finetune:1,finetune_val:1,test:1}", "stage.crop_size=48",
            "stage.batch_size=8", "stage.num_workers=0", "stage.max_steps=2", "stage.val_every_steps=2", "num_workers=0",
            "trainer.accelerator=cpu", "trainer.enable_progress_bar=false"]
    # The whole demo (label -> pretrain -> two fine-tunes -> evaluate) at a tiny size, as `make demo` runs it.
    demo_out = _run([iqa, "demo", *tiny], cwd=work, env=env).stdout
    lines = [line for line in demo_out.strip().splitlines() if line.strip()]
    assert lines[-1].startswith("demo finished in") and f"outputs: {out}/demo" in lines[-1]
    assert "| attribute_pretrained | demo |" in demo_out and "| imagenet_only | demo |" in demo_out
    demo = out / "demo"
    results = json.loads((demo / "results.json").read_text())["results"]
    assert set(results) == {"attribute_pretrained", "imagenet_only"}
    for variant in results.values():
        metrics = variant["demo"]
        assert {"srcc", "plcc"} <= set(metrics) and metrics["n"] == 82
        assert all(-1 <= metrics[k] <= 1 and not math.isnan(metrics[k]) for k in ("srcc", "plcc"))
    with Image.open(demo / "scatter.png") as image:
        assert image.size[0] > 200 and image.size[1] > 200
    # Each step left its artefacts where the README says.
    assert (demo / "labels" / "manifest.json").is_file()
    for run in ("pretrain", "finetune-attiqa", "finetune-imagenet"):
        assert (demo / run / "checkpoints" / "last.ckpt").is_file(), run
        assert (demo / run / "metrics.csv").is_file(), run
    # The same budget for both variants, and the attribute-pretrained one started from the pretraining checkpoint.
    summaries = {run: json.loads((demo / run / "summary.json").read_text()) for run in ("finetune-attiqa", "finetune-imagenet")}
    assert summaries["finetune-attiqa"]["global_step"] == summaries["finetune-imagenet"]["global_step"] == 2
    assert summaries["finetune-attiqa"]["init"] == f"{out}/demo/pretrain/checkpoints/last.ckpt"
    assert summaries["finetune-imagenet"]["init"] == "imagenet"

    ckpt = out / "demo" / "finetune-attiqa" / "checkpoints" / "last.ckpt"
    images = data / "photos"
    images.mkdir()
    for i in range(3):
        Image.new("RGB", (80, 64), (40 * i, 90, 200 - 50 * i)).save(images / f"{i}.jpg")
    scored = _run([iqa, "score", str(images), "--ckpt", str(ckpt), "--out", "scores.csv", "--no-progress"], cwd=work, env=env)
    assert "scored 3 images (0 unreadable" in scored.stdout
    assert (work / "scores.csv").read_text().count("\n") == 4


    # No checkpoint at all, in an empty folder: the shipped default model scores, and says so in one line.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    Image.new("RGB", (120, 90), (200, 120, 60)).save(fresh / "photo.jpg")
    bare = {k: v for k, v in env.items() if k not in ("ATTIQA_CKPT", "ATTIQA_OUTPUT_DIR")}
    shipped = _run([iqa, "score", "photo.jpg", "--no-progress"], cwd=fresh, env=bare)
    assert shipped.stderr.startswith("using the shipped model ") and "(iqa models show " in shipped.stderr.splitlines()[0]
    assert "scored 1 images (0 unreadable" in shipped.stdout
    rows = (fresh / "scores.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("photo.jpg,") and rows[1].split(",")[1] != ""
    assert "sha256 ok, fixture scores ok" in _run([iqa, "models", "verify"], cwd=fresh, env=bare).stdout
