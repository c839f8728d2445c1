from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from iqa.errors import UserError
from iqa.teachers.prompts import PromptSet, expand_prompts

pytestmark = pytest.mark.unit

BASE = {a: [["x", "y"]] for a in ("sharpness", "brightness", "contrast", "colorfulness", "noisiness")}


def test_sentences_without_templates_are_verbatim(repo_root):
    cfg = OmegaConf.to_container(OmegaConf.load(repo_root / "iqa/conf/prompts/clipiqa.yaml"))
    assert expand_prompts(cfg)["sharpness"] == [("Sharp photo.", "Blurry photo.")]


def test_templates_multiply_pairs_in_order():
    pairs = BASE | {"noisiness": [["n", "c"], ["g", "s"]]}
    expanded = expand_prompts({"name": "t", "templates": ["{} photo.", "a {} one."], "pairs": pairs})
    assert expanded["noisiness"] == [("n photo.", "c photo."), ("a n one.", "a c one."), ("g photo.", "s photo."), ("a g one.", "a s one.")]


@pytest.mark.parametrize(
    "change,message",
    [
        ({"pairs": {k: v for k, v in BASE.items() if k != "contrast"}}, "no pairs for: contrast"),
        ({"pairs": BASE | {"sharpnes": [["a", "b"]]}}, "unknown attribute.*did you mean: sharpness"),
        ({"pairs": BASE | {"brightness": [["only one"]]}}, r"\[positive, negative\]"),
        ({"pairs": BASE | {"brightness": [["", "dark"]]}}, "non-empty"),
        ({"templates": ["no placeholder"]}, "exactly once"),
    ],
)
def test_invalid_prompt_sets_are_rejected(change, message):
    with pytest.raises(UserError, match=message):
        PromptSet.from_config({"name": "bad", "pairs": BASE, **change})
