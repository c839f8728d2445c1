"""The open_clip teacher: the antonym-softmax formula against an independent computation, and offline behaviour."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from iqa.attributes import ATTRIBUTES
from iqa.config import RESOURCES
from iqa.errors import UserError
from iqa.teachers.openclip import OpenCLIPTeacher, antonym_scores

pytestmark = pytest.mark.integration

TINY = str(RESOURCES / "attiqa-tiny.json")
PROMPTS = {
    "name": "test",
    "templates": ["{} photo.", "a {} picture."],
    "pairs": {
        "sharpness": [["sharp", "blurry"], ["crisp", "soft"]],
        "brightness": [["bright", "dark"]],
        "contrast": [["high contrast", "low contrast"]],
        "colorfulness": [["colorful", "dull"]],
        "noisiness": [["noisy", "clean"], ["grainy", "smooth"], ["speckled", "plain"]],
    },
}


@pytest.fixture(scope="module")
def teacher() -> OpenCLIPTeacher:
    torch.manual_seed(0)
    return OpenCLIPTeacher(model="attiqa-tiny", pretrained="none", prompts=PROMPTS, model_config=TINY)


def reference_scores(teacher: OpenCLIPTeacher, images: torch.Tensor) -> np.ndarray:
    """The formula of DESIGN §1 computed naively, one image, attribute and pair at a time, in float64."""
    import open_clip

    clip, tokenizer = teacher.clip, open_clip.get_tokenizer("attiqa-tiny")
    mean = torch.tensor(clip.visual.preprocess_cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(clip.visual.preprocess_cfg["std"]).view(1, 3, 1, 1)
    scale = float(clip.logit_scale.exp())
    with torch.no_grad():
        feats = clip.encode_image((images.float() / 255 - mean) / std).double()
    out = np.zeros((images.shape[0], len(ATTRIBUTES)))
    for b in range(images.shape[0]):
        f = feats[b] / feats[b].norm()
        for a, attr in enumerate(ATTRIBUTES):
            probs = []
            for pos_word, neg_word in PROMPTS["pairs"][attr]:
                for template in PROMPTS["templates"]:
                    with torch.no_grad():
                        t = clip.encode_text(tokenizer([template.format(pos_word), template.format(neg_word)])).double()
                    t = t / t.norm(dim=-1, keepdim=True)
                    cos_pos, cos_neg = float(f @ t[0]), float(f @ t[1])
                    probs.append(np.exp(scale * cos_pos) / (np.exp(scale * cos_pos) + np.exp(scale * cos_neg)))
            out[b, a] = np.mean(probs)
    return out


def test_scores_match_independent_formula(teacher):
    images = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    got = teacher(images).numpy()
    assert got.shape == (4, 5) and got.dtype == np.float32
    np.testing.assert_allclose(got, reference_scores(teacher, images), atol=1e-5, rtol=0)
    assert ((got > 0) & (got < 1)).all()


def test_expanded_prompts_are_recorded(teacher):
    assert teacher.prompts["sharpness"][:2] == [("sharp photo.", "blurry photo."), ("a sharp picture.", "a blurry picture.")]
    assert len(teacher.prompts["noisiness"]) == 6
    assert teacher.text_features.shape[:2] == (sum(len(v) for v in teacher.prompts.values()), 2)
    info = teacher.describe()
    assert info["model"] == "attiqa-tiny" and info["logit_scale"] == pytest.approx(1 / 0.07, rel=1e-4)
    assert info["image_size"] == 64


@pytest.mark.unit
def test_formula_with_known_features():
    # Two attributes; attribute 0 has two pairs. Hand-computed expectation.
    image = torch.tensor([[1.0, 0.0]])
    text = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]], [[0.6, 0.8], [0.8, 0.6]]])
    owners = torch.tensor([0, 0, 1])
    scores = antonym_scores(image, text, owners, logit_scale=2.0, num_attributes=2)
    s = lambda a, b: np.exp(2 * a) / (np.exp(2 * a) + np.exp(2 * b))  # noqa: E731
    expected = [(s(1, 0) + s(0, 1)) / 2, s(0.6, 0.8)]
    np.testing.assert_allclose(scores.numpy()[0], expected, rtol=1e-6)


def test_logit_scale_override_changes_sharpness_of_softmax():
    torch.manual_seed(0)
    soft = OpenCLIPTeacher(model="attiqa-tiny", pretrained="none", prompts=PROMPTS, model_config=TINY, logit_scale=1.0)
    images = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    scores = soft(images)
    assert soft.logit_scale == 1.0
    assert (scores - 0.5).abs().max() < 0.05  # cosines lie in [-1, 1]: with s=1 probabilities stay near 0.5


@pytest.mark.unit
def test_hub_tag_offline_fails_at_once_with_the_fix():
    started = time.perf_counter()
    with pytest.raises(UserError, match=r"not in the local cache.*teacher\.pretrained=/path/to"):
        OpenCLIPTeacher(model="ViT-B-32", pretrained="openai", prompts=PROMPTS)
    assert time.perf_counter() - started < 5


@pytest.mark.unit
def test_bad_names_and_paths_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="unknown open_clip model 'ViT-B-3'.*did you mean"):
        OpenCLIPTeacher(model="ViT-B-3", pretrained="none", prompts=PROMPTS)
    with pytest.raises(UserError, match="checkpoint file not found"):
        OpenCLIPTeacher(model="ViT-B-32", pretrained=str(tmp_path / "missing.bin"), prompts=PROMPTS)
    with pytest.raises(UserError, match="neither a file nor a known tag.*valid tags: openai"):
        OpenCLIPTeacher(model="ViT-B-32", pretrained="opanai", prompts=PROMPTS)
    bad = tmp_path / "garbage.bin"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="could not load CLIP weights"):
        OpenCLIPTeacher(model="attiqa-tiny", pretrained=str(bad), prompts=PROMPTS, model_config=TINY)


def test_local_weights_file_is_loaded(tmp_path, teacher):
    path = tmp_path / "tiny.pt"
    torch.save(teacher.clip.state_dict(), path)
    torch.manual_seed(123)  # a different random init, overwritten by the file
    loaded = OpenCLIPTeacher(model="attiqa-tiny", pretrained=str(path), prompts=PROMPTS, model_config=TINY)
    images = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    torch.testing.assert_close(loaded(images), teacher(images))


def test_formula_stays_float32_under_bf16_autocast(teacher):
    # label.py runs the teacher inside bf16 autocast on GPUs (precision=bf16-mixed); CPU autocast
    # exercises the same code path. Only the image encoder may run in bf16.
    images = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = teacher.encode_images(images)
        scores = teacher(images)
    expected = antonym_scores(features.float(), teacher.text_features, teacher.pair_to_attribute, teacher.logit_scale, 5)
    assert scores.dtype == torch.float32
    torch.testing.assert_close(scores, expected, atol=1e-6, rtol=0)
