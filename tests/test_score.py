"""``iqa score`` and ``iqa.load(ckpt).score(...)``: batched, ordered, unreadable files reported, columns documented."""

from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _evaluation_helpers import tiny_image

from iqa.errors import UserError

pytestmark = pytest.mark.integration

ATTRS = ["sharpness", "brightness", "contrast", "colorfulness", "noisiness"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A fine-tuning-style checkpoint (random network) with a MOS scale, trained attribute heads and their calibration."""
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    torch.manual_seed(0)
    quantiles = np.sort(np.random.default_rng(0).normal(size=(5, 101)), axis=1).tolist()
    calibration = {"attributes": ATTRS, "quantiles": quantiles, "count": 500, "reference": "validation split of demo"}
    path = tmp_path_factory.mktemp("ckpt") / "model.ckpt"
    return export_checkpoint(IQANet(weights="none"), path, stage="finetune", data="demo", mos_range=[1.0, 5.0],
                             higher_is_better=True, image_size=64, attribute_calibration=calibration, attributes_trained=True)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """A folder tree of mixed sizes and formats, plus an unreadable JPEG and a stray text file."""
    root = tmp_path_factory.mktemp("photos")
    (root / "b" / "deeper").mkdir(parents=True)
    sizes = [(96, 64), (64, 96), (96, 64), (80, 80), (96, 64), (120, 60)]
    for i, size in enumerate(sizes):
        folder = root if i < 2 else root / "b" if i < 4 else root / "b" / "deeper"
        tiny_image(i, size).save(folder / f"img{i}.{'png' if i % 2 else 'jpg'}")
    (root / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "notes.txt").write_text("not an image")
    return root


def test_cli_scores_folders_recursively_reports_bad_files_and_documents_columns(checkpoint, photos, tmp_path, capsys):
    from iqa.cli.score import main

    out = tmp_path / "scores.csv"
    code = main([str(photos), str(photos / "notes.txt"), "--ckpt", str(checkpoint),
                 "--batch-size", "4", "--num-workers", "0", "--device", "cpu", "--out", str(out)])
    assert code == 0
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    assert header == ["path", "quality", "quality_norm", *ATTRS, *(f"{a}_percentile" for a in ATTRS), "error"]
    paths = [Path(r["path"]).name for r in rows]
    # A folder is walked like a labelled one: every file, judged by content (the explicit notes.txt is a duplicate).
    assert paths == ["img0.jpg", "img1.png", "notes.txt", "broken.jpg", "img2.jpg", "img3.png", "img4.jpg", "img5.png"]
    errors = {Path(r["path"]).name: r["error"] for r in rows}
    assert errors["broken.jpg"].startswith("unreadable") and errors["notes.txt"] == "unreadable: not an image"
    good = [r for r in rows if not r["error"]]
    assert len(good) == 6 and all(r["quality"] and r["sharpness"] for r in good)
    assert all(r["quality"] == "" for r in rows if r["error"])
    for r in good:
        unit = float(r["quality_norm"])
        assert float(r["quality"]) == pytest.approx(min(5.0, max(1.0, 1.0 + 4.0 * unit)), abs=1e-5)
        assert all(0.0 <= float(r[f"{a}_percentile"]) <= 100.0 for a in ATTRS)
    meta = json.loads((tmp_path / "scores.meta.json").read_text())
    assert meta["columns"]["quality"]["range"] == [1.0, 5.0] and meta["columns"]["quality"]["higher_is_better"] is True
    assert "noisier" in meta["columns"]["noisiness"]["meaning"]
    assert meta["unreadable"] == 2 and meta["images"] == 8 and meta["not_images"] == 1
    assert meta["attributes_trained"] is True and meta["columns"]["quality"]["clipped"] is True
    captured = capsys.readouterr()
    assert "scored 6 images (2 unreadable, of which 1 not an image" in captured.out and "scoring" in captured.err  # the progress bar
    # The console names the view the checkpoint is scored at.
    assert "view resize, short side 64 px" in captured.err


@pytest.mark.unit
def test_cli_missing_input_path_is_an_error_naming_it(checkpoint, photos, tmp_path, capsys):
    from iqa.cli.score import main

    out = tmp_path / "scores.csv"
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(SystemExit) as exit_info:
        main([str(photos), str(missing), "--ckpt", str(checkpoint), "--num-workers", "0", "--device", "cpu", "--out", str(out)])
    assert exit_info.value.code == 2 and not out.exists()
    assert f"input path not found: {missing}" in capsys.readouterr().err


def test_python_api_paths_tensors_batching_and_calibration(checkpoint, photos):
    import iqa
    from iqa.data.records import View

    model = iqa.load(checkpoint, device="cpu")  # exact comparisons below: no bf16 autocast
    assert model.view.image_size == 64 and model.quality_scale["range"] == [1.0, 5.0]
    by_folder = model.score(photos, batch_size=3)
    one_by_one = model.score(photos, batch_size=1)
    assert list(by_folder["path"]) == list(one_by_one["path"])
    np.testing.assert_allclose(by_folder["quality"], one_by_one["quality"], rtol=1e-5, atol=1e-6)
    # A tensor is scored as given; the same pixels as the path's view give the same scores.
    first = photos / "img0.jpg"
    pixels = View(image_size=64)(first.read_bytes())
    from_tensor = model.score(pixels)
    row = by_folder[by_folder["path"] == str(first)].iloc[0]
    assert from_tensor["quality"][0] == pytest.approx(row["quality"], abs=1e-5)
    assert from_tensor["sharpness"][0] == pytest.approx(row["sharpness"], abs=1e-5)
    batch = model.score(torch.stack([pixels, pixels.flip(-1)]).float() / 255.0)
    assert len(batch) == 2 and batch["path"].tolist() == ["tensor[0]", "tensor[1]"]
    assert batch["quality"][0] == pytest.approx(row["quality"], abs=1e-4)
    # Percentiles: the share of the calibration sample below the score, by the stored quantiles.
    quantiles = np.array(model.hparams["attribute_calibration"]["quantiles"][0])
    for value, percentile in zip(by_folder["sharpness"].dropna(), by_folder["sharpness_percentile"].dropna()):
        below = np.searchsorted(quantiles, value)
        assert below - 1 <= percentile <= below + 1
    with pytest.raises(UserError, match=r"tensors must be \[B, 3, H, W\]"):
        model.score(torch.zeros(2, 4, 32, 32))
    # Numpy arrays (channels last, uint8 or float) and PIL images: the same pixels, the same scores.
    from PIL import Image

    hwc = pixels.permute(1, 2, 0).numpy()
    for given in (hwc, hwc.astype(np.float32) / 255.0, Image.fromarray(hwc), [hwc, Image.fromarray(hwc[:, ::-1])]):
        scored = model.score(given)
        assert scored["quality"][0] == pytest.approx(row["quality"], abs=1e-4) and not scored["error"].astype(bool).any()
    assert model.score(np.stack([hwc, hwc[:, ::-1]]))["quality"].tolist() == pytest.approx(batch["quality"].tolist(), abs=1e-4)
    with pytest.raises(UserError, match=r"numpy images must be \[H, W, 3\]"):
        model.score(np.zeros((32, 32)))
    with pytest.raises(UserError, match="not a mix of both"):
        model.score([hwc, str(first)])


def test_pretrain_checkpoint_scores_attributes_only(tmp_path, photos):
    import iqa
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    path = export_checkpoint(IQANet(weights="none"), tmp_path / "pre.ckpt", stage="pretrain", data="demo")
    frame = iqa.load(path, image_size=64).score(photos / "img0.jpg")
    assert np.isnan(frame["quality"][0]) and np.isfinite(frame["sharpness"][0]) and "sharpness_percentile" not in frame


def test_default_checkpoint_and_the_iqa_command(checkpoint, monkeypatch, tmp_path, photos, capsys):
    from iqa import zoo
    from iqa.cli.main import main
    from iqa.inference import DEMO_CKPT, default_checkpoint

    monkeypatch.delenv("ATTIQA_CKPT", raising=False)
    # A demo run's checkpoint is no longer a fallback: without $ATTIQA_CKPT the shipped default model is used, and said so.
    demo = tmp_path / "outputs" / DEMO_CKPT
    demo.parent.mkdir(parents=True)
    demo.write_bytes(checkpoint.read_bytes())
    monkeypatch.setenv("ATTIQA_OUTPUT_DIR", str(tmp_path / "outputs"))
    assert default_checkpoint() == str(zoo.path())
    assert capsys.readouterr().err.splitlines() == [zoo.get().notice()]
    monkeypatch.setenv("ATTIQA_CKPT", str(checkpoint))
    assert default_checkpoint() == str(checkpoint)
    assert main(["score", str(photos / "img1.png"), "--out", str(tmp_path / "s.csv"), "--num-workers", "0", "--no-progress"]) == 0
    assert (tmp_path / "s.csv").read_text().count("\n") == 2
    assert main(["bogus"]) == 2


def test_import_iqa_stays_light_and_exposes_load(repo_root):
    code = "import sys, iqa; assert 'torch' not in sys.modules; from iqa import load; import iqa.data; iqa.data.open_dataset; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def _constant_net(bias: float, seed: int = 0):
    """A random network whose quality head outputs ``bias`` for every image (normalised scale, 1 = best)."""
    from iqa.models import IQANet

    torch.manual_seed(seed)
    net = IQANet(backbone="test_efficientnet", weights="none")
    with torch.no_grad():
        net.quality_head.weight.zero_()
        net.quality_head.bias.fill_(bias)
    return net


@pytest.mark.parametrize(("bias", "mos_range", "higher", "expected"), [
    (1.5, [1.0, 5.0], True, 5.0),     # overshoots the top: 1 + 4 * 1.5 = 7 -> 5
    (-0.25, [1.0, 5.0], True, 1.0),   # undershoots: 1 + 4 * -0.25 = 0 -> 1
    (1.5, [0.0, 10.0], False, 0.0),   # lower is better: 10 - 10 * 1.5 = -5 -> 0 (the best end)
    (0.25, [1.0, 5.0], True, 2.0),    # inside the range: untouched
])
def test_quality_is_clipped_to_the_declared_range_and_quality_norm_is_not(tmp_path, photos, bias, mos_range, higher, expected):
    import iqa
    from iqa.cli.score import main
    from iqa.inference import export_checkpoint

    ckpt = export_checkpoint(_constant_net(bias), tmp_path / "c.ckpt", stage="finetune", data="demo", init="imagenet",
                             mos_range=mos_range, higher_is_better=higher, image_size=64)
    frame = iqa.load(ckpt, device="cpu").score(photos / "img0.jpg")
    assert frame["quality_norm"][0] == pytest.approx(bias, abs=1e-6)
    assert frame["quality"][0] == pytest.approx(expected, abs=1e-6)
    out = tmp_path / "s.csv"
    assert main([str(photos / "img1.png"), "--ckpt", str(ckpt), "--num-workers", "0", "--device", "cpu", "--out", str(out),
                 "--no-progress"]) == 0
    columns = json.loads((tmp_path / "s.meta.json").read_text())["columns"]
    low, high = columns["quality"]["range"]
    with open(out, newline="") as handle:
        value = float(next(csv.DictReader(handle))["quality"])
    assert low <= value <= high and value == pytest.approx(expected, abs=1e-5)
    assert columns["quality"]["clipped"] is True and columns["quality_norm"]["clipped"] is False
    assert "clipped" in columns["quality"]["meaning"] and "unclipped" in columns["quality_norm"]["meaning"]


def test_attribute_columns_only_for_checkpoints_whose_heads_saw_attribute_labels(tmp_path, photos, capsys):
    """Fine-tuned from init=imagenet (or none): random attribute heads, so no attribute or percentile columns;
    fine-tuned from an attribute-pretraining checkpoint: the full set, as before."""
    import iqa
    from iqa.checkpoints import read_meta, stamp_run
    from iqa.cli.score import main
    from iqa.inference import export_checkpoint

    quantiles = np.sort(np.random.default_rng(1).normal(size=(5, 101)), axis=1).tolist()
    calibration = {"attributes": ATTRS, "quantiles": quantiles, "count": 50, "reference": "validation split of demo"}
    pre = export_checkpoint(_constant_net(0.5), tmp_path / "pre.ckpt", stage="pretrain", data="demo", image_size=64,
                            attributes_trained=True)
    frames, metas = {}, {}
    for init in ("imagenet", "none", str(pre)):
        hparams: dict = {}
        stamp_run(hparams, stage="finetune", init=init, data="demo", image_size=64)  # what training records
        name = Path(init).stem
        ckpt = export_checkpoint(_constant_net(0.5), tmp_path / f"from-{name}.ckpt", mos_range=[1.0, 5.0],
                                 attribute_calibration=calibration, **hparams)
        assert read_meta(ckpt).attributes_trained is (init == str(pre))
        frames[name] = iqa.load(ckpt, device="cpu").score(photos / "img0.jpg")
        out = tmp_path / f"{name}.csv"
        assert main([str(photos / "img0.jpg"), "--ckpt", str(ckpt), "--num-workers", "0", "--device", "cpu", "--out", str(out),
                     "--no-progress"]) == 0
        metas[name] = json.loads((tmp_path / f"{name}.meta.json").read_text())
    for name in ("imagenet", "none"):
        assert list(frames[name].columns) == ["path", "quality", "quality_norm", "error"]
        assert metas[name]["attributes_trained"] is False and list(metas[name]["columns"]) == list(frames[name].columns)
    assert "init=imagenet: its attribute heads never saw an attribute label" in capsys.readouterr().err
    assert list(frames["pre"].columns) == ["path", "quality", "quality_norm", *ATTRS, *(f"{a}_percentile" for a in ATTRS), "error"]
    assert metas["pre"]["attributes_trained"] is True and list(metas["pre"]["columns"]) == list(frames["pre"].columns)


@pytest.mark.unit
@pytest.mark.parametrize("cpus", [1, 2, 4, 8, 16, 64])
def test_cpu_scoring_never_runs_more_busy_threads_than_cores(cpus):
    from iqa.inference import plan_threads

    workers, threads = plan_threads(None, "cpu", cpus=cpus)
    assert workers + threads <= max(cpus, 2) and threads >= 1
    assert workers == (0 if cpus <= 4 else cpus // 4 if cpus < 32 else 8)
    # An explicit worker count is kept, and the network gives up those cores.
    assert plan_threads(3, "cpu", cpus=cpus) == (3, max(1, cpus - 3))
    # On a GPU the decoding workers get the cores.
    assert plan_threads(None, "cuda", cpus=cpus) == (min(8, cpus), cpus)


@pytest.mark.unit
def test_usable_cores_follow_the_affinity_and_omp_num_threads(monkeypatch):
    import os

    from iqa.inference import plan_threads, usable_cpus

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert usable_cpus() == 3 and plan_threads(None, "cpu") == (0, 3)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert usable_cpus() == 1 and plan_threads(None, "cpu") == (0, 1)
    monkeypatch.setenv("OMP_NUM_THREADS", "8")  # a cap, never more than the affinity allows
    assert usable_cpus() == 3


def test_labelling_and_scoring_walk_a_folder_by_one_rule(checkpoint, tmp_path):
    """Both take every non-hidden file and judge it by content: an extensionless PNG is an image, a CSV is not."""
    import iqa
    from iqa.data.corpus import list_folder
    from iqa.inference import expand_paths

    root = tmp_path / "mixed"
    (root / "sub").mkdir(parents=True)
    (root / ".cache").mkdir()
    tiny_image(0, (64, 64)).save(root / "a.jpg")
    tiny_image(1, (64, 64)).save(root / "sub" / "no_extension", format="PNG")
    (root / "labels.csv").write_text("path,mos\n")
    (root / ".hidden.jpg").write_bytes(b"")
    tiny_image(2, (64, 64)).save(root / ".cache" / "c.jpg")
    labelled = sorted(list_folder(root))
    scored = sorted(str(Path(p).relative_to(root)) for p in expand_paths([root]))
    assert labelled == scored == ["a.jpg", "labels.csv", "sub/no_extension"]
    frame = iqa.load(checkpoint, device="cpu").score(root)
    errors = {Path(p).name: e for p, e in zip(frame["path"], frame["error"])}
    assert errors == {"a.jpg": "", "labels.csv": "unreadable: not an image", "no_extension": ""}


@pytest.mark.unit
def test_every_iqa_command_is_listed_dispatched_and_suggested(capsys):
    import importlib
    import re

    from iqa.cli.main import HYDRA_COMMANDS, JOBS, SUBCOMMANDS, USAGE, main

    listed = re.findall(r"^  ([\w-]+)\s", USAGE.split("commands:")[1], flags=re.M)
    assert sorted(listed) == sorted([*SUBCOMMANDS, *HYDRA_COMMANDS])
    for target in [*SUBCOMMANDS.values(), *JOBS.values()]:  # every command's function exists where it is named
        module, _, name = target.partition(":")
        assert callable(getattr(importlib.import_module(module), name)), target
    for typo, meant in (("enhanse", "enhance"), ("rnak", "rank"), ("scor", "score")):
        assert main([typo]) == 2
        assert f"did you mean: {meant}?" in capsys.readouterr().err


def test_cpu_scoring_runs_channels_last_and_agrees_with_the_default_layout(checkpoint, photos):
    """Scoring on a CPU puts the network in channels-last layout (oneDNN's fastest for convolutions), and the scores are
    the default layout's up to float rounding: the same images scored by the unconverted network, image by image."""
    import iqa
    from iqa.inference import _EvalImages

    model = iqa.load(checkpoint, device="cpu")
    paths = [str(p) for p in sorted(photos.rglob("img*"))]  # JPEGs and PNGs of four shapes
    assert len(paths) == 6
    reference = copy.deepcopy(model.net).eval()  # loaded as trained: the default layout
    assert not reference.channels_last
    conv = next(name for name, p in reference.named_parameters() if p.ndim == 4)
    assert reference.get_parameter(conv).is_contiguous()
    frame = model.score(paths, batch_size=2)
    assert model.net.channels_last
    assert model.net.get_parameter(conv).is_contiguous(memory_format=torch.channels_last)
    images = _EvalImages(paths, model.view)
    with torch.no_grad():
        expected = [reference(images[i][1][None] if images[i][1].ndim == 3 else images[i][1])["quality"].float().mean().item()
                    for i in range(len(paths))]
    np.testing.assert_allclose(frame["quality_norm"].to_numpy(dtype=float), expected, rtol=0, atol=1e-5)
