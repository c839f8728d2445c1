"""Shipped models: export to float16 with a manifest and reference scores, the registry, hash checks, and the default checkpoint."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from _evaluation_helpers import tiny_image

from iqa import zoo
from iqa.checkpoints import KEYS
from iqa.errors import UserError
from iqa.zoo.export import TOLERANCE, compare_scores, export_model, fixture_images, fixture_scores, verify_model

pytestmark = pytest.mark.integration

ATTRS = ["sharpness", "brightness", "contrast", "colorfulness", "noisiness"]
CARD = "# tiny\n\nA tiny random network for tests.\n\nMore text.\n"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A tiny fine-tuning checkpoint with calibration, plus the trainer state a Lightning checkpoint carries."""
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    torch.manual_seed(0)
    quantiles = np.sort(np.random.default_rng(0).normal(size=(5, 101)), axis=1).tolist()
    calibration = {"attributes": ATTRS, "quantiles": quantiles, "count": 500, "reference": "validation split of demo"}
    path = tmp_path_factory.mktemp("src") / "last.ckpt"
    export_checkpoint(IQANet(backbone="test_efficientnet", weights="none"), path, stage="finetune", data="demo",
                      mos_range=[1.0, 5.0], higher_is_better=True, image_size=64, attribute_calibration=calibration,
                      attributes_trained=True)
    ckpt = torch.load(path, weights_only=False)
    ckpt["optimizer_states"] = [{"state": {0: {"exp_avg": torch.ones(1000)}}}]
    ckpt["loops"] = {"fit_loop": {}}
    ckpt["hyper_parameters"]["lr"] = 3e-4  # an optimisation setting: not metadata the loader needs
    torch.save(ckpt, path)
    return path


@pytest.fixture(scope="module")
def root(source, tmp_path_factory) -> Path:
    """A models folder holding the export of ``source`` as ``tiny`` v1, the default."""
    base = tmp_path_factory.mktemp("zoo")
    card = base / "CARD.md"
    card.write_text(CARD)
    models = base / "models"
    export_model(source, "tiny", card, version="1", commit="abc123", out=models)
    (models / zoo.REGISTRY).write_text(json.dumps({"default": "tiny"}))
    return models


@pytest.fixture
def shipped_tiny(root, monkeypatch) -> zoo.ShippedModel:
    """``tiny`` as the package's shipped default, and no $ATTIQA_CKPT."""
    monkeypatch.setattr(zoo, "ROOT", root)
    monkeypatch.delenv("ATTIQA_CKPT", raising=False)
    return zoo.get()


def test_export_writes_float16_weights_metadata_manifest_and_card(source, root):
    folder = root / "tiny"
    manifest = json.loads((folder / "manifest.json").read_text())
    weights = folder / manifest["weights"]["file"]
    ckpt = torch.load(weights, weights_only=False)
    assert set(ckpt) == {"state_dict", "hyper_parameters"}  # no optimiser, loops or other trainer state
    floats = [v for v in ckpt["state_dict"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    hparams = ckpt["hyper_parameters"]
    assert set(hparams) <= set(KEYS) and "lr" not in hparams
    assert hparams["mos_range"] == [1.0, 5.0] and hparams["image_size"] == 64 and hparams["attributes_trained"] is True
    assert hparams["attribute_calibration"]["count"] == 500 and hparams["net_config"]["backbone"] == "test_efficientnet"
    # Half the bytes of the float32 weights (the source also carried trainer state).
    fp32_bytes = sum(v.numel() * 4 for v in floats)
    assert weights.stat().st_size < 0.6 * fp32_bytes
    assert manifest["weights"]["bytes"] == weights.stat().st_size
    assert manifest["weights"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert (manifest["name"], manifest["version"], manifest["commit"], manifest["card"]) == ("tiny", "1", "abc123", "CARD.md")
    assert manifest["summary"] == "A tiny random network for tests."
    assert (folder / "CARD.md").read_text() == CARD
    scores = manifest["reference_scores"]
    assert set(scores) == set(fixture_images()) and all(set(s) == {"quality", "quality_norm", *ATTRS} for s in scores.values())
    assert len({s["quality_norm"] for s in scores.values()}) > 1  # the fixture's images differ, and so do their scores


def test_reload_reproduces_the_reference_scores_and_runs_in_float32(shipped_tiny):
    import iqa

    model = iqa.load("tiny")
    floats = [v for v in model.net.state_dict().values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float32 for v in floats)  # float16 in the file, float32 once loaded
    assert model.image_size == 64 and model.calibration is not None
    worst, problems = compare_scores(shipped_tiny.manifest["reference_scores"], fixture_scores(model), (1.0, 5.0))
    assert problems == [] and worst <= 1.0
    result = verify_model(shipped_tiny)
    assert result["sha256_ok"] and result["scores_ok"], result


def test_the_score_comparison_catches_a_changed_score(shipped_tiny):
    reference = shipped_tiny.manifest["reference_scores"]
    changed = json.loads(json.dumps(reference))
    changed["blur"]["sharpness"] += 3 * TOLERANCE
    worst, problems = compare_scores(reference, changed, (1.0, 5.0))
    assert worst == pytest.approx(3.0, rel=1e-3) and len(problems) == 1 and "blur: sharpness" in problems[0]
    del changed["blur"]["sharpness"]
    assert "blur: no sharpness score" in compare_scores(reference, changed, (1.0, 5.0))[1]
    # quality is compared on its MOS range: 0.5 x TOLERANCE x (5 - 1) is within the tolerance.
    shifted = json.loads(json.dumps(reference))
    shifted["dark"]["quality"] += 2 * TOLERANCE
    assert compare_scores(reference, shifted, (1.0, 5.0))[1] == []


def test_the_fixture_is_deterministic_and_its_distortions_are_applied():
    first, second = fixture_images(), fixture_images()
    assert first.keys() == second.keys() and all(np.array_equal(first[k], second[k]) for k in first)
    assert all(a.shape == (180, 240, 3) and a.dtype == np.uint8 for a in first.values())
    clean = first["clean"].astype(float)
    assert first["dark"].mean() < clean.mean() - 10
    assert np.abs(np.diff(first["blur"].astype(float), axis=1)).mean() < np.abs(np.diff(clean, axis=1)).mean()


def test_export_refuses_a_file_over_the_limit_and_an_existing_folder(source, root, tmp_path):
    card = root.parent / "CARD.md"
    with pytest.raises(UserError, match=r"big: the float16 weights take [\d.]+ MB, over the limit of 0.01 MB"):
        export_model(source, "big", card, out=tmp_path, max_mb=0.01)
    assert list(tmp_path.iterdir()) == []  # nothing left behind
    with pytest.raises(UserError, match="exists: pass --force"):
        export_model(source, "tiny", card, out=root)
    with pytest.raises(UserError, match="model name 'a/b'"):
        export_model(source, "a/b", card, out=tmp_path)
    with pytest.raises(UserError, match="model card not found"):
        export_model(source, "x", tmp_path / "missing.md", out=tmp_path)


def test_a_damaged_weights_file_is_a_clear_error(root, tmp_path, monkeypatch, capsys):
    damaged = tmp_path / "models"
    shutil.copytree(root, damaged)
    weights = damaged / "tiny" / "tiny.ckpt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError, match=r"the shipped model file is damaged: .*tiny.ckpt does not match the sha256.*reinstall"):
        zoo.path("tiny", damaged)
    result = verify_model(zoo.get("tiny", damaged))
    assert not result["sha256_ok"] and "damaged" in result["problems"][0]
    monkeypatch.setattr(zoo, "ROOT", damaged)
    from iqa.cli.main import main

    assert main(["models", "verify"]) == 1
    assert capsys.readouterr().out.startswith("tiny: FAILED: the shipped model file is damaged")
    weights.unlink()
    with pytest.raises(UserError, match="the shipped model file is missing"):
        zoo.path("tiny", damaged)


def test_registry_lists_models_and_unknown_names_list_the_shipped_ones(root, tmp_path):
    models = zoo.available(root)
    assert [m.name for m in models] == ["tiny"] and models[0].is_default and models[0].version == "1"
    assert zoo.path(None, root) == root / "tiny" / "tiny.ckpt"
    assert zoo.card("tiny", root) == CARD
    with pytest.raises(UserError, match=r"unknown shipped model 'tinny' \(did you mean: tiny\?\); shipped: tiny"):
        zoo.get("tinny", root)
    (tmp_path / zoo.REGISTRY).write_text(json.dumps({"default": "gone"}))
    with pytest.raises(UserError, match="unknown the default shipped model 'gone'; shipped: none"):
        zoo.get(None, tmp_path)


def test_precedence_explicit_then_env_then_shipped_with_a_one_line_notice(shipped_tiny, source, monkeypatch, capsys):
    import iqa
    from iqa.inference import default_checkpoint, resolve_checkpoint

    notice = "using the shipped model tiny v1 (iqa models show tiny)"
    assert shipped_tiny.notice() == notice
    assert default_checkpoint() == str(shipped_tiny.weights)
    assert capsys.readouterr().err.splitlines() == [notice]
    model = iqa.load()
    assert model.net.config["backbone"] == "test_efficientnet" and model.image_size == 64
    assert capsys.readouterr().err.splitlines() == [notice]
    # $ATTIQA_CKPT beats the shipped model, and says nothing.
    other = source.parent / "other.ckpt"
    shutil.copyfile(source, other)
    monkeypatch.setenv("ATTIQA_CKPT", str(other))
    assert default_checkpoint() == str(other) and resolve_checkpoint(None) == str(other)
    # An explicit checkpoint beats both.
    assert resolve_checkpoint(str(source)) == str(source)
    assert capsys.readouterr().err == ""
    # A shipped name works wherever a path does.
    monkeypatch.setenv("ATTIQA_CKPT", "tiny")
    assert default_checkpoint() == str(shipped_tiny.weights)
    with pytest.raises(UserError, match=r"checkpoint not found: nope.ckpt \(neither a file nor a shipped model; shipped: tiny\)"):
        resolve_checkpoint("nope.ckpt")


def test_score_and_rank_without_ckpt_use_the_shipped_default(shipped_tiny, tmp_path, monkeypatch, capsys):
    from iqa.cli.main import main

    for group in ("a", "b"):
        (tmp_path / group).mkdir()
        for i in range(3):
            tiny_image(i + (10 if group == "b" else 0), (80, 64)).save(tmp_path / group / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    assert main(["score", "a", "--out", "s.csv", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert err.splitlines()[0] == shipped_tiny.notice() and err.count("using the shipped model") == 1
    assert (tmp_path / "s.csv").read_text().count("\n") == 4
    assert json.loads((tmp_path / "s.meta.json").read_text())["checkpoint"] == str(shipped_tiny.weights)
    assert main(["rank", "a", "b", "--min-group", "2", "--bootstrap", "100", "--out", "r", "--no-cache", "--no-progress"]) == 0
    assert shipped_tiny.notice() in capsys.readouterr().err
    assert json.loads((tmp_path / "r" / "ranking.json").read_text())["settings"]["checkpoint"] == str(shipped_tiny.weights)


def test_models_command_lists_shows_and_exports(shipped_tiny, source, tmp_path, capsys):
    from iqa.cli.main import main

    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert "* tiny" in listing and "A tiny random network for tests." in listing and " 1 " in listing
    assert main(["models", "show", "tiny"]) == 0 and capsys.readouterr().out == CARD
    assert main(["models", "show"]) == 0 and capsys.readouterr().out == CARD
    with pytest.raises(SystemExit) as exit_info:
        main(["models", "show", "nope"])
    assert exit_info.value.code == 2 and capsys.readouterr().err.strip() == "error: unknown shipped model 'nope'; shipped: tiny"
    assert main(["models", "verify"]) == 0 and "tiny: sha256 ok, fixture scores ok" in capsys.readouterr().out
    card = tmp_path / "card.md"
    card.write_text(CARD)
    assert main(["models", "export", str(source), "--name", "copy", "--card", str(card), "--version", "2",
                 "--out", str(tmp_path / "out")]) == 0
    assert "exported copy v2" in capsys.readouterr().out
    assert zoo.get("copy", tmp_path / "out").version == "2"


def test_iqa_score_in_an_empty_folder_scores_with_the_shipped_default(tmp_path, monkeypatch, capsys):
    """As a user runs it: no --ckpt, no $ATTIQA_CKPT, no outputs/ folder; the package's real default model."""
    from iqa.cli.main import main

    default = zoo.get()
    tiny_image(0, (96, 80)).save(tmp_path / "photo.jpg")
    for name in ("ATTIQA_CKPT", "ATTIQA_OUTPUT_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["score", "photo.jpg", "--no-progress", "--num-workers", "0"]) == 0
    assert capsys.readouterr().err.splitlines()[0] == default.notice()
    rows = (tmp_path / "scores.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("photo.jpg,")
    quality = float(rows[1].split(",")[1])
    low, high = default.manifest["metadata"]["mos_range"]
    assert low <= quality <= high


def test_the_rank_demo_prefers_the_demo_runs_checkpoint_then_the_shipped_model(shipped_tiny, source, tmp_path, monkeypatch, capsys):
    from iqa.inference import DEMO_CKPT
    from iqa.ranking.demo import demo_checkpoint

    monkeypatch.setenv("ATTIQA_OUTPUT_DIR", str(tmp_path))
    assert demo_checkpoint() == str(shipped_tiny.weights)  # no demo run: the shipped default
    assert capsys.readouterr().err.splitlines() == [shipped_tiny.notice()]
    demo = tmp_path / DEMO_CKPT
    demo.parent.mkdir(parents=True)
    shutil.copyfile(source, demo)
    assert demo_checkpoint() == str(demo) and capsys.readouterr().err == ""
    monkeypatch.setenv("ATTIQA_CKPT", "tiny")
    assert demo_checkpoint() == str(shipped_tiny.weights)
    assert demo_checkpoint(str(source)) == str(source)
