"""The models actually shipped in iqa/resources/models: present, intact, and scoring as their manifests recorded."""

from __future__ import annotations

import pytest
import torch

from iqa import zoo
from iqa.zoo.export import MAX_MB, verify_model

pytestmark = pytest.mark.integration


def test_at_least_one_model_is_shipped_and_the_default_is_one_of_them():
    models = zoo.available()
    assert models, f"no shipped model under {zoo.ROOT}"  # fails, never skips: the package must ship a default
    assert zoo.default_name() in [m.name for m in models]
    assert sum(m.is_default for m in models) == 1


@pytest.mark.parametrize("name", zoo.names() or ["<none shipped>"])
def test_each_shipped_model_loads_matches_its_hash_and_reproduces_its_fixture_scores(name):
    model = zoo.get(name)  # "<none shipped>" fails here with the list of shipped models
    manifest = model.manifest
    assert model.weights.stat().st_size == model.size <= MAX_MB * 1e6
    assert zoo.sha256(model.weights) == model.sha256 and zoo.path(name) == model.weights
    state = torch.load(model.weights, map_location="cpu", weights_only=False)
    assert set(state) == {"state_dict", "hyper_parameters"}
    assert all(v.dtype == torch.float16 for v in state["state_dict"].values() if v.is_floating_point())
    assert model.card.is_file() and model.card.read_text().strip() and manifest["summary"]
    assert manifest["reference_scores"] and manifest["name"] == name
    result = verify_model(model)
    assert result["sha256_ok"] and result["scores_ok"], result["problems"]
    assert result["worst"] <= 1.0


def test_the_enhancer_takes_a_shipped_name_for_its_quality_model(tmp_path, monkeypatch):
    from iqa.enhancement.stage import check_quality_ckpt
    from iqa.errors import UserError

    for name in zoo.names():
        assert check_quality_ckpt(name) == str(zoo.path(name))
    assert check_quality_ckpt(None) == check_quality_ckpt("default") == str(zoo.path())
    shipped = r"\(neither a file nor a shipped model; shipped: " + ", ".join(zoo.names()) + r"\)"
    with pytest.raises(UserError, match=r"^stage.quality_ckpt: checkpoint not found: no-such-model " + shipped):
        check_quality_ckpt("no-such-model")
    with pytest.raises(UserError, match=r"^stage.quality_ckpt: checkpoint is a directory, not a file: "):
        check_quality_ckpt(str(tmp_path))
    # No checkpoint given: the one every command falls back to, $ATTIQA_CKPT before the shipped default.
    other = next(n for n in zoo.names() if n != zoo.default_name())
    monkeypatch.setenv("ATTIQA_CKPT", other)
    assert check_quality_ckpt(None) == str(zoo.path(other))
    monkeypatch.setenv("ATTIQA_CKPT", str(tmp_path / "gone.ckpt"))
    with pytest.raises(UserError, match=r"^stage.quality_ckpt: checkpoint not found: .*gone.ckpt"):
        check_quality_ckpt(None)
