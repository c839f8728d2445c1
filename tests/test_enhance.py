"""stage=enhance and iqa enhance: enhancers, regularisers, validation report, training in-process, bad input, applying."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

#: A few steps on tiny crops against a tiny quality checkpoint.
TINY_ENHANCE = [
    "stage=enhance", "stage.crop_size=32", "stage.batch_size=2",
    "stage.num_workers=0", "stage.max_steps=4", "stage.val_every_steps=2", "stage.steps_per_epoch=4",
    "stage.data.train.photos=[coffee,astronaut]", "stage.data.train.photo_size=64", "stage.data.val.size=32",
    "stage.data.val.crops=1", "stage.data.val.photos=[chelsea]", "stage.module.grid_images=4",
    "trainer.accelerator=cpu", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1", "logger=csv",
    "~stage.objective.attributes", "+stage.objective.attributes={brightness: raise, noisiness: {direction: lower, weight: 0.5}}",
]


@pytest.fixture(scope="module")
def quality_ckpt(tmp_path_factory) -> Path:
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    torch.manual_seed(0)
    return export_checkpoint(IQANet(backbone="test_efficientnet", weights="none"), tmp_path_factory.mktemp("q") / "quality.ckpt",
                             stage="finetune", init="pretrain.ckpt", attributes_trained=True, image_size=32, data="demo",
                             mos_range=[1.0, 5.0])


@pytest.fixture
def enhance_cfg(compose, quality_ckpt, tmp_path):
    def build(*extra: str, enhancer: tuple[str, ...] = ("enhancer.width=4", "enhancer.iterations=2")):
        return compose("train", [*TINY_ENHANCE, *enhancer, f"stage.quality_ckpt={quality_ckpt}", f"paths.output_dir={tmp_path}/out",
                                 f"run_dir={tmp_path}/run", *extra])

    return build


# -- enhancers and regularisers ------------------------------------------------------------------------

@pytest.mark.unit
@pytest.mark.parametrize("arch,kwargs", [("zero_dce", {"width": 4, "iterations": 3}), ("zero_dce", {"width": 4, "downscale": 2}),
                                         ("zero_dce", {"width": 4, "per_channel": True}), ("unet", {"width": 4, "depth": 2})])
def test_enhancers_start_at_the_identity_and_take_any_size(arch, kwargs):
    from iqa.enhancement.models import build_enhancer

    torch.manual_seed(0)
    model = build_enhancer(arch, **kwargs)
    x = torch.rand(2, 3, 21, 34)
    out, aux = model.enhance(x)
    assert out.shape == x.shape and torch.allclose(out, x, atol=1e-6)
    assert aux.shape[0] == 2 and aux.shape[-2:] == x.shape[-2:]
    assert model.config["arch"] == arch


@pytest.mark.unit
def test_curve_estimator_output_stays_in_range_and_is_monotone_in_the_input():
    from iqa.enhancement.models import CurveEstimator

    model = CurveEstimator(width=4, iterations=4)
    with torch.no_grad():
        model.c7.bias.fill_(3.0)  # a strongly brightening curve (a = tanh(3) everywhere)
    ramp = torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(1, 3, 4, 64).contiguous()
    out = model(ramp)
    assert out.min() >= 0 and out.max() <= 1 and out[..., 0].abs().max() < 1e-6 and (out[..., -1] - 1).abs().max() < 1e-6
    assert (torch.diff(out, dim=-1) >= 0).all() and (out >= ramp - 1e-6).all() and out.mean() > ramp.mean() + 0.1


@pytest.mark.unit
def test_regularisers_are_zero_for_the_identity_and_grow_with_change():
    from iqa.enhancement.objective import color_constancy, smoothness, spatial_consistency

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 16, 16, generator=gen)
    assert torch.allclose(spatial_consistency(x, x), torch.zeros(2))
    scrambled = x[..., torch.randperm(16, generator=gen)]
    assert (spatial_consistency(x, scrambled) > 0).all()
    assert (spatial_consistency(x, x + 0.2) < 1e-10).all()  # a uniform shift keeps every local difference
    assert torch.allclose(smoothness(torch.ones(2, 3, 8, 8)), torch.zeros(2)) and (smoothness(x) > 0).all()
    grey = x.mean(1, keepdim=True).expand(-1, 3, -1, -1)
    assert torch.allclose(color_constancy(grey), torch.zeros(2), atol=1e-12)
    cast = grey.clone()
    cast[:, 1] += 0.2
    assert torch.allclose(color_constancy(cast), torch.full((2,), 2 * 0.2**2), atol=1e-6)


@pytest.mark.integration  # imports torchmetrics' image metrics (seconds on a small CPU)
def test_report_checks_the_intended_direction_with_the_classical_teacher():
    from iqa.enhancement import report
    from iqa.enhancement.data import HeldOutPairs

    pairs = HeldOutPairs(photos=["chelsea"], degradations=["darken", "saturation_decrease"], level=4, size=48, crops=1)
    inputs, refs = torch.stack(pairs.inputs), torch.stack(pairs.references)
    # An "enhancer" that brightens everything: right for the dark image; it also lowers saturation a little.
    outputs = inputs ** 0.6
    rows = report.summarise(report.image_metrics(inputs, outputs, refs), pairs.meta)
    assert rows["darken"]["attribute"] == "brightness" and rows["darken"]["direction"] == "raise"
    assert rows["darken"]["moved_intended_way"] == 1.0 and rows["darken"]["psnr_output"] > rows["darken"]["psnr_input"]
    assert rows["darken"]["teacher_output"] > rows["darken"]["teacher_input"]
    assert rows["saturation_decrease"]["moved_intended_way"] == 0.0
    assert rows["all"]["moved_intended_way"] == 0.5 and rows["all"]["images"] == 2
    identity = report.summarise(report.image_metrics(inputs, inputs, refs), pairs.meta)
    assert identity["all"]["psnr_output"] == pytest.approx(identity["all"]["psnr_input"])
    table = report.format_table(rows)
    assert "| darken | 1 |" in table and "brightness (raise)" in table


@pytest.mark.unit
def test_enhancer_checkpoints_round_trip_and_are_not_quality_models(tmp_path, quality_ckpt):
    import iqa
    from iqa.enhancement.models import build_enhancer, read_enhancer_checkpoint, write_enhancer
    from iqa.errors import UserError

    torch.manual_seed(1)
    model = build_enhancer("unet", width=4, depth=1)
    torch.nn.init.normal_(model.out.weight, std=0.1)
    path = write_enhancer(model, tmp_path / "enh.ckpt")
    loaded, hparams = read_enhancer_checkpoint(path)
    x = torch.rand(1, 3, 9, 9)
    assert torch.equal(loaded(x), model(x)) and hparams["enhancer"] == {"arch": "unet", "width": 4, "depth": 1}
    with pytest.raises(UserError, match="is an enhancer checkpoint"):
        iqa.load(path)
    with pytest.raises(UserError, match="is a quality-model checkpoint"):
        read_enhancer_checkpoint(quality_ckpt)
    with pytest.raises(UserError, match="unknown enhancer arch 'zero_dec'.*did you mean: zero_dce"):
        build_enhancer("zero_dec")


# -- training ----------------------------------------------------------------------------------------

@pytest.mark.integration
def test_enhance_stage_trains_validates_writes_grid_and_resumes(enhance_cfg, tmp_path):
    from iqa.training import train as run

    summary = run(enhance_cfg())
    run_dir = tmp_path / "run"
    assert summary["global_step"] == 4 and summary["nonfinite_batches"] == 0
    assert (run_dir / "checkpoints" / "last.ckpt").is_file() and Path(summary["best_checkpoint"]).name == "best.ckpt"
    grid = Image.open(run_dir / "enhance_grid.png")
    assert grid.size[0] > 3 * 32 and grid.size[1] > 4 * 32  # input | output | reference, one row per image
    results = json.loads((run_dir / "results.json").read_text())
    val = results["validation"]
    assert set(val) == {"all", "darken", "contrast_decrease", "saturation_decrease", "gaussian_noise"}
    for row in val.values():
        assert all(np.isfinite(row[k]) for k in ("psnr_input", "psnr_output", "ssim_input", "ssim_output"))
    assert val["darken"]["attribute"] == "brightness" and 0.0 <= val["all"]["moved_intended_way"] <= 1.0
    # the guard: every output checked on all five attributes, per image and per degradation
    assert len(val["all"]["guard_images"]) == val["all"]["images"] == 4  # one crop of one photo, four degradations
    assert all(set(r["output"]) == {"sharpness", "brightness", "contrast", "colorfulness", "noisiness"} for r in val["all"]["guard_images"])
    assert all(row["guard"]["images"] == row["images"] for row in val.values())
    assert val["all"]["guard_line"].startswith("guard: ") and val["all"]["guard_line"] in (run_dir / "results.md").read_text()
    assert "val/psnr" in summary["metrics"] and "val/teacher_moved" in summary["metrics"]
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert not [k for k in ckpt["state_dict"] if not k.startswith("net.")]  # the frozen quality network is left out
    assert ckpt["hyper_parameters"]["enhancer"] == {"arch": "zero_dce", "width": 4, "iterations": 2, "downscale": 1, "curve": "quadratic",
                                                    "per_channel": False}
    # Only the enhancer learnt: the quality checkpoint's network is what it was.
    from iqa.enhancement.models import read_enhancer_checkpoint

    enhancer, _ = read_enhancer_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert any(p.abs().sum() > 0 for p in enhancer.c7.parameters())  # moved away from the identity
    resumed = run(enhance_cfg("stage.max_steps=6"))
    assert resumed["start_step"] == 4 and resumed["global_step"] == 6 and resumed["resumed_from"].endswith("last.ckpt")


@pytest.mark.integration
def test_nan_enhancer_output_skips_the_step_and_counts_it(enhance_cfg, monkeypatch):
    from iqa.enhancement.models import CurveEstimator
    from iqa.training import train as run

    original = CurveEstimator.enhance
    calls = {"n": 0}

    def sometimes_nan(self, x):
        out, maps = original(self, x)
        if self.training:
            calls["n"] += 1
            if calls["n"] == 2:
                out = out * float("nan")
        return out, maps

    monkeypatch.setattr(CurveEstimator, "enhance", sometimes_nan)
    summary = run(enhance_cfg("stage.val_every_steps=4"))
    assert summary["nonfinite_batches"] == 1 and summary["global_step"] == 4
    ckpt = torch.load(summary["last_checkpoint"], weights_only=False)
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
    assert {float(s["step"]) for s in ckpt["optimizer_states"][0]["state"].values()} == {3.0}


@pytest.mark.integration
def test_bad_input_is_one_line_before_training(enhance_cfg, tmp_path, monkeypatch):
    import pytorch_lightning as pl

    from iqa.enhancement.models import build_enhancer, write_enhancer
    from iqa.errors import UserError
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet
    from iqa.training import train as run

    monkeypatch.setattr(pl.Trainer, "fit", lambda *a, **k: pytest.fail("training started"))
    pretrain = export_checkpoint(IQANet(backbone="test_efficientnet", weights="none"), tmp_path / "pre.ckpt", stage="pretrain")
    cases = [
        ([f"stage.quality_ckpt={pretrain}"], "stage=pretrain, whose quality head never saw a MOS"),
        (["+stage.objective.attributes.brightnes=raise"], "unknown attribute 'brightnes'"),
        ([f"stage.quality_ckpt={tmp_path}/missing.ckpt"], "checkpoint not found"),
        (["stage.data.train.degradations=[darkn]"], "unknown degradation 'darkn'"),
    ]
    unet = write_enhancer(build_enhancer("unet", width=4, depth=1), tmp_path / "unet.ckpt")
    cases.append(([f"stage.init={unet}"], r"holds enhancer \{'arch': 'unet'"))
    cases.append(([f"stage.quality_ckpt={unet}"], "is an enhancer checkpoint"))
    for overrides, message in cases:
        with pytest.raises(UserError, match=message):
            run(enhance_cfg(*overrides))
    # A run directory holding another enhancer is not resumed into.
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    write_enhancer(build_enhancer("zero_dce", width=8), tmp_path / "run" / "checkpoints" / "last.ckpt")
    with pytest.raises(UserError, match="resume: .* holds enhancer"):
        run(enhance_cfg())


# -- iqa enhance -------------------------------------------------------------------------------------

@pytest.mark.integration
def test_iqa_enhance_writes_originals_size_format_and_reports_unreadable(tmp_path, capsys):
    from iqa.cli.main import main
    from iqa.enhancement.models import build_enhancer, write_enhancer

    model = build_enhancer("zero_dce", width=4, iterations=2)
    with torch.no_grad():
        model.c7.bias.fill_(1.0)  # brightens
    ckpt = write_enhancer(model, tmp_path / "enh.ckpt")
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    photo = (rng.random((30, 41, 3)) * 120).astype(np.uint8)
    Image.fromarray(photo).save(src / "a.jpg", quality=90)
    Image.fromarray(photo).save(src / "b.png")
    Image.fromarray(photo[:20, :20]).save(src / "sub" / "c.png")
    Image.fromarray(photo[..., 0]).save(src / "grey.png")
    rgba = np.concatenate([photo, np.full((30, 41, 1), 77, np.uint8)], axis=2)
    Image.fromarray(rgba, "RGBA").save(src / "alpha.png")
    (src / "broken.jpg").write_bytes(b"not a jpeg at all")
    out = tmp_path / "out"
    # --curve-pixels 200: the curves are estimated on small copies and upsampled (as for large photos)
    assert main(["enhance", str(src), "--ckpt", str(ckpt), "--out", str(out), "--batch-size", "2", "--curve-pixels", "200"]) == 0
    printed = capsys.readouterr()
    assert "enhanced 5 images" in printed.out and "1 unreadable" in printed.out and "broken.jpg" in printed.err
    for name, fmt, mode, size in [("a.jpg", "JPEG", "RGB", (41, 30)), ("b.png", "PNG", "RGB", (41, 30)),
                                  ("sub/c.png", "PNG", "RGB", (20, 20)), ("grey.png", "PNG", "L", (41, 30)),
                                  ("alpha.png", "PNG", "RGBA", (41, 30))]:
        with Image.open(out / name) as image:
            assert (image.format, image.mode, image.size) == (fmt, mode, size), name
            pixels = np.asarray(image)
        original = np.asarray(Image.open(src / name))
        channels = slice(None) if mode != "RGBA" else slice(0, 3)
        assert pixels[..., channels].astype(float).mean() > original[..., channels].astype(float).mean() + 5, name
    assert (np.asarray(Image.open(out / "alpha.png"))[..., 3] == 77).all()
    umask = os.umask(0)
    os.umask(umask)
    assert (out / "b.png").stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not the private temporary one
    errors = (out / "enhance_errors.csv").read_text()
    assert "broken.jpg" in errors and "not an image" in errors
    # Applying the wrong kind of checkpoint, or writing over the inputs, is one line.
    with pytest.raises(SystemExit):
        main(["enhance", str(src), "--ckpt", str(tmp_path / "nope.ckpt"), "--out", str(out)])
    assert "checkpoint not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["enhance", str(src), "--ckpt", str(ckpt), "--out", str(src)])
    assert "originals would be overwritten" in capsys.readouterr().err


@pytest.mark.integration
def test_unet_enhancer_trains_and_its_checkpoint_applies(enhance_cfg, tmp_path, capsys):
    from iqa.cli.enhance import main as enhance_main
    from iqa.training import train as run

    summary = run(enhance_cfg("stage.max_steps=2", enhancer=("enhancer=unet", "enhancer.width=4", "enhancer.depth=1")))
    ckpt = Path(summary["last_checkpoint"])
    assert summary["global_step"] == 2 and torch.load(ckpt, weights_only=False)["hyper_parameters"]["enhancer"]["arch"] == "unet"
    src = tmp_path / "photos"
    src.mkdir()
    Image.fromarray((np.random.default_rng(0).random((13, 17, 3)) * 255).astype(np.uint8)).save(src / "odd.webp")
    assert enhance_main([str(src), "--ckpt", str(ckpt), "--out", str(tmp_path / "out")]) == 0
    with Image.open(tmp_path / "out" / "odd.webp") as image:
        assert (image.format, image.size) == ("WEBP", (17, 13))


@pytest.mark.integration
def test_wandb_logger_gets_the_before_after_grid(enhance_cfg, tmp_path, monkeypatch):
    from iqa.training import train as run

    monkeypatch.setenv("WANDB_MODE", "offline")
    run(enhance_cfg("logger=wandb", "stage.max_steps=2"))
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    images = list(runs[0].glob("files/media/images/val/before_after*.png"))
    assert images and Image.open(images[0]).size == Image.open(tmp_path / "run" / "enhance_grid.png").size


@pytest.mark.unit
def test_demo_enhance_trains_both_arms_then_compares_on_test_photos(tmp_path, monkeypatch, capsys):
    import subprocess

    import iqa.inference
    from iqa.cli import recipes

    steps, background = [], []

    class FakeProcess:
        def __init__(self, command, **kwargs):
            background.append(command)
            self.code = 0 if "bad" not in " ".join(command) else 3

        def wait(self):
            return self.code

        def kill(self):
            pass

    monkeypatch.setattr(subprocess, "Popen", FakeProcess)
    monkeypatch.setattr(recipes, "run_steps", lambda step_list, overrides, name, outputs="": steps.extend(step_list) or 0)
    monkeypatch.setattr(iqa.inference, "usable_cpus", lambda: 2)  # one compute thread per arm: side by side
    monkeypatch.setattr(recipes, "fetch_demo_photos", lambda names, role: None)  # no network in tests
    assert recipes.demo(["enhance", f"paths.output_dir={tmp_path}", "seed=2"]) == 0
    # The arm without the attiqa term: same experiment and overrides, the attiqa weight at 0, its own run directory.
    (arm,) = background
    assert arm[3:6] == ["train", "experiment=demo_enhance", "stage.objective.attiqa_weight=0"]
    assert "run_name=enhance-no-attiqa" in arm and "seed=2" in arm
    train, compare = steps
    assert train == ["train", "experiment=demo_enhance", f"paths.output_dir={tmp_path}", "seed=2"]
    assert compare[0] == "enhance-compare" and compare[compare.index("--split") + 1] == "test" and "--fetch" in compare
    assert f"attiqa={tmp_path}/demo/enhance/checkpoints/best.ckpt" in compare
    assert f"no_attiqa={tmp_path}/demo/enhance-no-attiqa/checkpoints/best.ckpt" in compare
    # A failing background arm stops the demo before the comparison, with its exit code and log.
    steps.clear()
    assert recipes.demo(["enhance", f"paths.output_dir={tmp_path}", "run_name=bad"]) == 3
    assert len(steps) == 1 and "enhance-no-attiqa.log" in capsys.readouterr().err


@pytest.mark.unit
def test_demo_enhance_trains_the_arms_one_after_the_other_where_the_cores_cannot_hold_both(tmp_path, monkeypatch, capsys,
                                                                                            compose):
    import subprocess

    import iqa.inference
    from iqa.cli import recipes

    assert compose("train", ["experiment=demo_enhance"]).stage.torch_threads == recipes.DEMO_THREADS
    monkeypatch.setattr(recipes, "fetch_demo_photos", lambda names, role: None)  # no network in tests
    steps, background = [], []
    monkeypatch.setattr(subprocess, "Popen", lambda command, **kwargs: background.append(command))
    monkeypatch.setattr(recipes, "run_steps", lambda step_list, overrides, name, outputs="": steps.extend(step_list) or 0)
    for cpus, threads in ((2, ["stage.torch_threads=2"]), (1, []), (8, ["stage.torch_threads=null"])):
        monkeypatch.setattr(iqa.inference, "usable_cpus", lambda cpus=cpus: cpus)
        steps.clear()
        assert recipes.demo(["enhance", f"paths.output_dir={tmp_path}", *threads]) == 0
        assert not background and "would oversubscribe" in capsys.readouterr().out
        main, baseline, compare = steps
        assert main == ["train", "experiment=demo_enhance", f"paths.output_dir={tmp_path}", *threads]
        assert baseline[:5] == ["train", "experiment=demo_enhance", "stage.objective.attiqa_weight=0", "run_name=enhance-no-attiqa",
                                "stage.num_workers=0"] and baseline[5:] == main[2:]
        assert compare[0] == "enhance-compare"
    # Two threads each on four cores still fit side by side.
    monkeypatch.setattr(iqa.inference, "usable_cpus", lambda: 4)
    monkeypatch.setattr(subprocess, "Popen", lambda command, **kwargs: background.append(command) or FakeDone())
    steps.clear()
    assert recipes.demo(["enhance", f"paths.output_dir={tmp_path}", "stage.torch_threads=2"]) == 0
    assert len(background) == 1 and len(steps) == 2


@pytest.mark.unit
def test_demo_enhance_fetches_its_validation_photos_first_and_goes_on_offline(tmp_path, monkeypatch, capsys, compose):
    import iqa.data.photo_sources as sources
    import iqa.data.photos as registry
    from iqa.cli import recipes

    assert tuple(compose("train", ["experiment=demo_enhance"]).stage.data.val.photos) == recipes.DEMO_VAL_PHOTOS
    fetched, order = [], []
    monkeypatch.setattr(registry, "available", lambda photo: photo.name == "grace_hopper")
    monkeypatch.setattr(sources, "fetch", lambda photos, *a, **k: fetched.append([p.name for p in photos]) or order.append("fetch"))
    monkeypatch.setattr(recipes, "run_steps", lambda step_list, overrides, name, outputs="": order.extend(s[0] for s in step_list) or 0)
    monkeypatch.setattr(recipes, "demo_threads", lambda overrides: None)  # one after the other: no background process
    assert recipes.demo(["enhance", f"paths.output_dir={tmp_path}"]) == 0
    assert fetched == [["china", "flower"]]  # only the missing ones, before any training
    assert order == ["fetch", "train", "train", "enhance-compare"]

    def offline(photos, *a, **k):
        raise sources.FetchError("no network")

    monkeypatch.setattr(sources, "fetch", offline)
    order.clear()
    assert recipes.demo(["enhance", f"paths.output_dir={tmp_path}"]) == 0
    assert order == ["train", "train", "enhance-compare"]
    assert "could not fetch the validation (best.ckpt) photos china, flower" in capsys.readouterr().err
    monkeypatch.setattr(registry, "available", lambda photo: True)
    monkeypatch.setattr(sources, "fetch", lambda *a, **k: pytest.fail("nothing is missing"))
    assert recipes.demo(["enhance", f"paths.output_dir={tmp_path}"]) == 0


class FakeDone:
    def wait(self):
        return 0

    def kill(self):
        pass


@pytest.mark.integration
def test_bf16_mixed_precision_trains_with_finite_losses(enhance_cfg):
    from iqa.training import train as run

    summary = run(enhance_cfg("trainer.precision=bf16-mixed", "stage.max_steps=2"))
    assert summary["global_step"] == 2 and summary["nonfinite_batches"] == 0
    assert all(np.isfinite(v) for k, v in summary["metrics"].items() if k.startswith(("train/", "val/")))


@pytest.mark.slow
def test_two_process_cpu_ddp_gathers_validation_over_ranks(run_script, quality_ckpt, tmp_path):
    run_dir = tmp_path / "ddp"
    # Three held-out images over two ranks: the sampler pads one rank with a repeat, which must count once.
    result = run_script("train.py", *TINY_ENHANCE, "enhancer.width=4", "enhancer.iterations=2", f"stage.quality_ckpt={quality_ckpt}",
                        "stage.data.val.degradations=[darken,contrast_decrease,gaussian_noise]", "trainer=ddp_cpu",
                        "trainer.devices=2", f"run_dir={run_dir}", f"paths.output_dir={tmp_path}/out", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["global_step"] == 4
    final = summary["validation"]["all"]  # rank 0 alone, over the whole held-out set, after training
    assert final["images"] == 3
    # The last validation (step 4, the same weights) was gathered over both ranks: the same numbers.
    assert summary["metrics"]["val/psnr"] == pytest.approx(final["psnr_output"], abs=1e-4)
    assert summary["metrics"]["val/ssim"] == pytest.approx(final["ssim_output"], abs=1e-4)


@pytest.mark.integration  # imports Lightning (the data module lives beside the datasets)
def test_training_images_from_a_folder_or_shards_and_paired_validation_folder(tmp_path):
    import io
    import tarfile

    from iqa.enhancement.data import DegradedCrops, HeldOutPairs, skip_collate
    from iqa.errors import UserError

    rng = np.random.default_rng(0)
    folder = tmp_path / "lowlight"
    folder.mkdir()
    for i in range(2):
        Image.fromarray((rng.random((40, 50, 3)) * 60).astype(np.uint8)).save(folder / f"{i}.png")
    (folder / "broken.jpg").write_bytes(b"nope")
    torch.manual_seed(0)
    data = DegradedCrops(source="folder", path=str(folder), photo_size=40, crop_size=24, length=12)
    assert not data.degrade and len(data) == 12  # a folder is used as it is
    batch = skip_collate([data[i] for i in range(12)])
    assert batch["images"].shape[1:] == (3, 24, 24) and batch["images"].max() <= 60 / 255 + 1e-6  # not degraded, not brightened
    assert any("broken.jpg" in reason for reason in batch["skipped_items"])
    shard = tmp_path / "s-000000.tar"
    with tarfile.open(shard, "w") as tar:
        for i in range(2):
            buffer = io.BytesIO()
            Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(buffer, format="PNG")  # >= 32 px
            info = tarfile.TarInfo(f"k{i}.png")
            info.size = len(buffer.getvalue())
            tar.addfile(info, io.BytesIO(buffer.getvalue()))
    shards = DegradedCrops(source="shards", path=str(tmp_path / "s-*.tar"), degrade=True, degradations=["darken"], levels=[5, 5],
                           photo_size=40, crop_size=16, length=4)
    assert len(shards.files) == 2 and shards[0]["images"].shape == (3, 16, 16)
    with pytest.raises(UserError, match="held out for validation"):
        DegradedCrops(photos=["grace_hopper"])
    with pytest.raises(UserError, match="folder not found"):
        DegradedCrops(source="folder", path=str(tmp_path / "missing"))
    pairs = tmp_path / "pairs"
    (pairs / "input").mkdir(parents=True)
    (pairs / "reference").mkdir()
    clean = (rng.random((36, 48, 3)) * 255).astype(np.uint8)
    Image.fromarray(clean).save(pairs / "reference" / "a.png")
    Image.fromarray((clean * 0.5).astype(np.uint8)).save(pairs / "input" / "a.png")
    val = HeldOutPairs(path=str(pairs), size=32)
    assert len(val) == 1 and val[0]["images"].shape == (3, 32, 32) and val.meta[0]["degradation"] == "unknown"
    assert val[0]["images"].mean() < val[0]["reference"].mean()


@pytest.mark.integration
def test_torch_threads_apply_while_fitting_and_are_restored(enhance_cfg, monkeypatch):
    from iqa.modules.enhance import EnhanceModule
    from iqa.training import train as run

    before = torch.get_num_threads()
    seen = []
    original = EnhanceModule.training_step

    def spy(self, batch, batch_idx):
        seen.append(torch.get_num_threads())
        return original(self, batch, batch_idx)

    monkeypatch.setattr(EnhanceModule, "training_step", spy)
    run(enhance_cfg("stage.torch_threads=1", "stage.max_steps=2"))
    assert seen == [1, 1] and torch.get_num_threads() == before


# -- the Python API: iqa.enhancement.enhance and Enhancer ------------------------------------------------

def _brightening_ckpt(path: Path) -> Path:
    from iqa.enhancement.models import build_enhancer, write_enhancer

    model = build_enhancer("zero_dce", width=4, iterations=2)
    with torch.no_grad():
        model.c7.bias.fill_(1.0)  # a = tanh(1) everywhere: brightens
    return write_enhancer(model, path)


def _grey16(height: int = 40, width: int = 50) -> np.ndarray:
    """A 16-bit ramp whose low bytes vary: 2000 distinct values, none of them on the 8-bit grid (multiples of 257)."""
    ramp = 1000 + 7 * np.arange(height * width, dtype=np.uint32).reshape(height, width)
    ramp[ramp % 257 == 0] += 1
    return ramp.astype(np.uint16)


@pytest.mark.unit
def test_library_reader_keeps_16_bit_grey_and_decode_rgb_is_unchanged():
    import io

    from iqa.data.images import SkipImage, bit_depth, decode_rgb, open_image, rgb_float

    grey = _grey16()
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, format="PNG")  # Pillow writes a uint16 array as a 16-bit greyscale PNG
    image = open_image(buffer.getvalue())
    assert image.mode == "I;16" and bit_depth(image) == 16
    pixels = rgb_float(image)
    assert pixels.shape == (40, 50, 3) and pixels.dtype == np.float32
    assert np.array_equal(np.round(pixels[..., 1] * 65535).astype(np.uint16), grey)  # every bit kept
    rgb8 = np.asarray(decode_rgb(buffer.getvalue()))  # existing callers still get 8-bit RGB, scaled, not clipped
    assert rgb8.dtype == np.uint8 and np.array_equal(rgb8[..., 0], np.clip(grey / 65535 * 255 + 0.5, 0, 255).astype(np.uint8))
    small = io.BytesIO()
    Image.fromarray(grey[:10, :12]).save(small, format="PNG")
    assert open_image(small.getvalue(), min_side=1).size == (12, 10)
    with pytest.raises(SkipImage, match="too small: 12x10"):
        decode_rgb(small.getvalue())
    with pytest.raises(SkipImage, match="not an image"):
        open_image(b"not an image at all")
    rgba = Image.fromarray(np.dstack([np.full((4, 4, 3), 40, np.uint8), np.zeros((4, 4, 1), np.uint8)]), "RGBA")
    assert np.allclose(rgb_float(rgba, composite=False), 40 / 255) and np.allclose(rgb_float(rgba), 1.0)  # on white


@pytest.mark.integration
def test_python_api_enhances_a_folder_and_reports_what_it_did(tmp_path):
    from iqa.enhancement import EnhanceReport, enhance

    ckpt = _brightening_ckpt(tmp_path / "enh.ckpt")
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    photo = (np.random.default_rng(0).random((30, 41, 3)) * 120).astype(np.uint8)
    Image.fromarray(photo).save(src / "a.png")
    Image.fromarray(photo).save(src / "sub" / "b.jpg", quality=90)
    Image.fromarray(_grey16()).save(src / "deep.png")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # a PNG signature, then nothing usable
    out = tmp_path / "out"
    report = enhance(src, ckpt, out, device="cpu", batch_size=2, progress=False)
    assert isinstance(report, EnhanceReport) and report.ok and report.seconds > 0
    assert sorted(p.relative_to(out).as_posix() for p in report.written) == ["a.png", "deep.png", "sub/b.jpg"]
    assert list(report.skipped) == [str(src / "broken.png")] and report.skipped[str(src / "broken.png")].startswith("unreadable")
    assert report.errors_csv == out / "enhance_errors.csv" and "broken.png" in report.errors_csv.read_text()
    with Image.open(out / "a.png") as image:
        assert (image.format, image.mode, image.size) == ("PNG", "RGB", (41, 30))
        assert np.asarray(image).astype(float).mean() > photo.mean() + 5
    with Image.open(out / "sub" / "b.jpg") as image:
        assert (image.format, image.size) == ("JPEG", (41, 30))
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary file left behind
    # A second run leaves what is there alone; overwrite=True replaces it.
    again = enhance([src / "a.png"], ckpt, out, device="cpu", progress=False)
    assert again.written == [] and again.existing == [out / "a.png"] and again.skipped == {}
    assert enhance([src / "a.png"], ckpt, out, device="cpu", overwrite=True, progress=False).written == [out / "a.png"]


@pytest.mark.integration
def test_16_bit_png_comes_out_16_bit_with_its_precision(tmp_path):
    from iqa.enhancement import Enhancer, enhance
    from iqa.enhancement.models import build_enhancer, write_enhancer

    grey = _grey16()
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(grey).save(src / "deep.png")
    Image.fromarray(grey).save(src / "deep.tif")
    Image.fromarray(grey).save(src / "deep.pgm")  # Pillow reads 16-bit PGM back as mode I
    Image.fromarray((grey >> 8).astype(np.uint8)).save(src / "shallow.png")
    # The enhancers start at the identity: what comes out must be the input, to the last bit.
    identity = write_enhancer(build_enhancer("zero_dce", width=4, iterations=2), tmp_path / "identity.ckpt")
    enhance(src, identity, tmp_path / "same", device="cpu", progress=False)
    for name, mode in (("deep.png", "I;16"), ("deep.tif", "I;16"), ("deep.pgm", "I")):
        with Image.open(tmp_path / "same" / name) as image:
            assert image.mode == mode and image.size == (50, 40), name
            assert np.array_equal(np.asarray(image), grey), name
    with Image.open(tmp_path / "same" / "shallow.png") as image:
        assert image.mode == "L" and np.array_equal(np.asarray(image), grey >> 8)  # 8-bit stays 8-bit
    # A brightening enhancer: brighter, still 16-bit, and off the 8-bit grid (not quantised to 256 levels).
    report = enhance(src / "deep.png", _brightening_ckpt(tmp_path / "bright.ckpt"), tmp_path / "bright", device="cpu", progress=False)
    with Image.open(report.written[0]) as image:
        assert image.mode == "I;16" and image.format == "PNG"
        pixels = np.asarray(image).astype(np.int64)
    assert pixels.mean() > grey.mean() + 1000 and len(np.unique(pixels)) > 256 and (pixels % 257 != 0).mean() > 0.9
    # The same from arrays and single files.
    enhancer = Enhancer.from_checkpoint(identity, device="cpu")
    out = enhancer.enhance_array(grey)
    assert out.shape == (40, 50, 3) and out.dtype == np.float32
    assert np.array_equal(np.round(out[..., 0] * 65535).astype(np.uint16), grey)
    assert enhancer.enhance_file(src / "deep.png", tmp_path / "one" / "d.png") == tmp_path / "one" / "d.png"
    assert np.array_equal(np.asarray(Image.open(tmp_path / "one" / "d.png")), grey)


@pytest.mark.integration
def test_unreadable_inputs_and_unwritable_outputs_are_skipped_with_reasons(tmp_path):
    from iqa.data.images import SkipImage
    from iqa.enhancement import Enhancer, enhance

    enhancer = Enhancer.from_checkpoint(_brightening_ckpt(tmp_path / "enh.ckpt"), device="cpu")
    src = tmp_path / "in"
    src.mkdir()
    photo = (np.random.default_rng(1).random((24, 24, 3)) * 200).astype(np.uint8)
    Image.fromarray(photo).save(src / "good.png")
    Image.fromarray(photo).save(src / "blocked.png")
    full = (src / "good.png").read_bytes()
    (src / "truncated.png").write_bytes(full[: len(full) // 2])
    (src / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    (out / "blocked.png").mkdir(parents=True)  # a folder where an output should go: it cannot be replaced
    report = enhance([src], enhancer, out, overwrite=True, progress=False)
    assert report.written == [out / "good.png"]
    assert report.skipped[str(src / "notes.txt")] == "unreadable: not an image"
    assert report.skipped[str(src / "truncated.png")].startswith("unreadable")
    assert report.skipped[str(src / "blocked.png")].startswith(f"not written to {out / 'blocked.png'}")
    assert (out / "blocked.png").is_dir() and not [p for p in out.rglob("*") if p.name.startswith(".")]
    assert not (out / "truncated.png").exists() and not (out / "notes.txt").exists()
    with pytest.raises(SkipImage, match="not an image"):
        enhancer.enhance_file(src / "notes.txt", tmp_path / "x.png")
    with pytest.raises(SkipImage, match="not found"):
        enhancer.enhance_file(src / "missing.png", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.integration
def test_cli_reports_existing_outputs_and_16_bit_inputs(tmp_path, capsys):
    from iqa.cli.enhance import main

    ckpt = _brightening_ckpt(tmp_path / "enh.ckpt")
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_grey16()).save(src / "deep.png")
    out = tmp_path / "out"
    assert main([str(src), "--ckpt", str(ckpt), "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr()
    assert "enhanced 1 images" in printed.out and "0 unreadable" in printed.out and "(zero_dce) on cpu" in printed.err
    assert Image.open(out / "deep.png").mode == "I;16"
    assert main([str(src), "--ckpt", str(ckpt), "--out", str(out), "--device", "cpu"]) == 0
    assert "enhanced 0 images" in (text := capsys.readouterr().out) and "1 already in" in text and "--overwrite" in text
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "junk.png").write_bytes(b"junk")
    assert main([str(tmp_path / "bad"), "--ckpt", str(ckpt), "--out", str(tmp_path / "o2"), "--device", "cpu"]) == 1
    with pytest.raises(SystemExit):
        main([str(src), "--ckpt", str(ckpt), "--out", str(out), "--batch-size", "0"])
    assert "--batch-size must be >= 1" in capsys.readouterr().err


@pytest.mark.integration  # a subprocess
def test_importing_the_enhancement_package_loads_no_torch():
    import subprocess
    import sys

    code = "import sys, iqa, iqa.enhancement; assert 'torch' not in sys.modules; print(iqa.enhancement.__all__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "enhance" in result.stdout and "Enhancer" in result.stdout
