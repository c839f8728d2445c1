"""Prompt selection: the scoring math against scipy, the right pair winning with a controlled teacher,
SPAQ's layout, and the whole job with the tiny open_clip model, whose output set is usable at once."""

from __future__ import annotations

import json

import numpy as np
import open_clip
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from _label_helpers import encode
from scipy.stats import spearmanr
from torch import nn

from iqa.attributes import ATTRIBUTES
from iqa.errors import UserError
from iqa.teachers import prompt_selection as ps
from iqa.teachers import select_prompts
from iqa.teachers.base import to_float01
from iqa.teachers.classical import classical_scores

pytestmark = pytest.mark.integration


@pytest.mark.unit
def test_score_table_is_the_mean_spearman_over_groups_and_a_constant_candidate_scores_zero():
    rng = np.random.default_rng(0)
    groups = [ps.ProxyGroup("sharpness", rng.permutation(30)[:12], rng.integers(0, 4, 12).astype(float)) for _ in range(3)]
    proxy = ps.Proxy("toy", groups, images=torch.zeros(30, 3, 8, 8, dtype=torch.uint8))
    # Candidate columns: continuous, tied, constant (it orders nothing: 0 by iqa.metrics' rule, not NaN).
    scores = np.column_stack([rng.normal(size=30), np.round(rng.normal(size=30), 1), np.full(30, 0.3)])
    candidates = [ps.Candidate("sharpness", (f"p{i}", f"n{i}"), ()) for i in range(3)]
    with pytest.warns(RuntimeWarning, match="constant"):
        table = ps.score_table(candidates, [proxy], {"toy": scores})
    for column in range(2):
        expected = np.mean([spearmanr(scores[g.indices, column], g.target).statistic for g in groups])
        assert table["toy"][column] == pytest.approx(expected, abs=1e-12)
    assert table["toy"][2] == 0.0 and table["score"][2] == 0.0


def test_candidates_expand_through_the_templates_in_teacher_order(compose):
    pool = compose("select_prompts").prompts
    prompt_set, candidates = ps.expand_candidates(pool)
    assert len(candidates) == sum(len(v) for v in pool.pairs.values()) >= 70
    assert {c.attribute for c in candidates} == set(ATTRIBUTES)
    assert all(len(c.sentences) == len(prompt_set.templates) == 3 for c in candidates)
    first = candidates[0]
    assert first.sentences[:2] == (("sharp photo.", "blurry photo."), ("a photo that is sharp.", "a photo that is blurry."))
    owners = ps.candidate_owners(candidates, prompt_set.expand())
    assert owners.tolist()[:7] == [0, 0, 0, 1, 1, 1, 2]
    # The shipped default set is part of the pool, so selection can confirm or replace each pair.
    attiqa = compose("label", ["prompts=attiqa"]).prompts
    pool_pairs = {(c.attribute, c.pair) for c in candidates}
    assert all((a, tuple(p)) in pool_pairs for a in ATTRIBUTES for p in attiqa.pairs[a])
    assert list(attiqa.templates) == list(prompt_set.templates)


@pytest.mark.unit
def test_ladder_proxy_groups_follow_the_distortion_table():
    from iqa import distortions

    proxy = ps.ladder_proxy(["astronaut"], size=32, crops=2, distortions=["gaussian_blur", "darken", "gaussian_noise"])
    assert len(proxy) == 2 * (1 + 3 * 5) and proxy.images.shape[1:] == (3, 32, 32) and proxy.images.dtype == torch.uint8
    assert [(g.attribute, g.target.tolist()) for g in proxy.groups[:3]] == [
        ("sharpness", [0, -1, -2, -3, -4, -5]), ("brightness", [0, -1, -2, -3, -4, -5]), ("noisiness", [0, 1, 2, 3, 4, 5])]
    group = proxy.groups[1]
    reference, darkest = proxy.images[group.indices[0]].float(), proxy.images[group.indices[-1]].float()
    assert darkest.mean() < reference.mean() - 20
    assert proxy.groups[3].indices[0] == 16  # the second view starts after the first view's 16 images
    assert distortions.DISTORTION_ATTRIBUTE["darken"] == ("brightness", -1)
    with pytest.raises(UserError, match="unknown.*valid"):
        ps.ladder_proxy(["astronaut"], 32, distortions=["sepia"])
    with pytest.raises(UserError, match="not a scikit-image photo"):
        ps.ladder_proxy(["no_such_photo"], 32)


# ---------------------------------------------------------------- a controlled teacher
def word_vector(word: str) -> torch.Tensor:
    """up_<attr> points along that attribute's axis, down_<attr> against it; anything else along the bias axis."""
    vector = torch.zeros(len(ATTRIBUTES) + 1)
    kind, _, attribute = word.partition("_")
    if attribute in ATTRIBUTES:
        vector[ATTRIBUTES.index(attribute)] = 1.0 if kind == "up" else -1.0
    else:
        vector[-1] = 1.0
    return vector


class ControlledTeacher(nn.Module):
    """A CLIP stand-in: image features are the classical scores; text features come from ``word_vector``."""

    name = "controlled"
    attributes = ATTRIBUTES
    image_size = 48
    logit_scale = 30.0  # low enough that no probability saturates to exactly 0 or 1 in float32

    def __init__(self, prompt_cfg) -> None:
        super().__init__()
        prompt_set, _ = ps.expand_candidates(prompt_cfg)
        self.prompts = prompt_set.expand()
        words = [(p.split()[0], n.split()[0]) for a in ATTRIBUTES for p, n in self.prompts[a]]
        text = torch.stack([torch.stack([word_vector(p), word_vector(n)]) for p, n in words])
        self.register_buffer("text_features", F.normalize(text, dim=-1))
        self.encoded = 0

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        self.encoded += len(images)
        centred = classical_scores(to_float01(images)) - 0.5
        # A large constant component keeps the norm nearly fixed, so cos(f, axis) follows the classical score.
        return F.normalize(torch.cat([centred, torch.full((len(images), 1), 3.0)], dim=1), dim=-1)

    def describe(self):
        return {"model": "controlled", "pretrained": "test", "logit_scale": self.logit_scale}


def controlled_pool() -> dict:
    # Per attribute, in this order: uninformative, reversed, right. The right one must win though it comes last.
    return {
        "name": "controlled_pool",
        "templates": ["{} photo."],
        "pairs": {a: [["flat", "level"], [f"down_{a}", f"up_{a}"], [f"up_{a}", f"down_{a}"]] for a in ATTRIBUTES},
    }


@pytest.fixture
def selection_cfg(compose):
    def build(tmp_path, extra=()):
        return compose("select_prompts", [
            "name=picked", f"prompts_dir={tmp_path}/user/prompts", f"run_dir={tmp_path}/run", "device=cpu",
            "proxies.ladder.photos=[astronaut,coffee]", "proxies.ladder.views=1", "batch_size=20", *extra])

    return build


def test_the_right_pair_wins_and_every_image_is_encoded_once(compose, selection_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("ATTIQA_USER_CONF", str(tmp_path / "user"))
    cfg = selection_cfg(tmp_path)
    cfg.prompts = controlled_pool()
    teacher = ControlledTeacher(cfg.prompts)
    record = select_prompts.select(cfg, teacher)
    assert teacher.encoded == 2 * (1 + 8 * 5)  # the ladder images, each once
    assert record["winners"] == {a: [[f"up_{a}", f"down_{a}"]] for a in ATTRIBUTES}
    table = pd.read_csv(tmp_path / "run" / "scores.csv")
    for attribute in ATTRIBUTES:
        rows = table[table.attribute == attribute].reset_index(drop=True)
        flat, reversed_, right = rows.itertuples()
        assert right.rank == 1 and right.selected and flat.rank == 2 and reversed_.rank == 3
        assert flat.ladder == 0.0 and right.ladder > 0.5
        assert reversed_.ladder == pytest.approx(-right.ladder, abs=1e-9)  # swapping the words flips every ranking
    # The written set is a prompt set like any other: found by name through the user config directory.
    written = compose("label", ["prompts=picked"]).prompts
    assert written.name == "picked" and list(written.templates) == ["{} photo."]
    assert {a: [list(p) for p in written.pairs[a]] for a in ATTRIBUTES} == record["winners"]
    markdown = (tmp_path / "run" / "scores.md").read_text()
    assert markdown.count("**yes**") == 5 and "| sharpness | 1 | up_sharpness | down_sharpness |" in markdown


def test_top_k_and_refusals(selection_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("ATTIQA_USER_CONF", str(tmp_path / "user"))
    some = "[gaussian_blur,darken,brighten,gaussian_noise,contrast_decrease,saturation_decrease]"
    cfg = selection_cfg(tmp_path, ["top_k=2", f"proxies.ladder.distortions={some}"])
    cfg.prompts = controlled_pool()
    record = select_prompts.select(cfg, ControlledTeacher(cfg.prompts))
    assert all(pairs[0] == [f"up_{a}", f"down_{a}"] and pairs[1] == ["flat", "level"] for a, pairs in record["winners"].items())
    # Regenerating a set this job wrote is fine; a file it did not write, or a shipped name, is refused.
    select_prompts.select(cfg, ControlledTeacher(cfg.prompts))
    (tmp_path / "user" / "prompts" / "mine.yaml").write_text("name: mine\n")
    for name, message in (("mine", "not written by select_prompts.py"), ("attiqa", "ships in"), ("bad name", "letters, digits")):
        cfg.name = name
        with pytest.raises(UserError, match=message):
            select_prompts.select(cfg, ControlledTeacher(cfg.prompts))
    cfg.name = "picked"
    with pytest.raises(UserError, match="needs a CLIP teacher"):
        from iqa.teachers.classical import ClassicalTeacher

        select_prompts.select(cfg, ClassicalTeacher(32))
    cfg.proxies.ladder.enabled = False
    with pytest.raises(UserError, match="no proxy task is enabled"):
        select_prompts.select(cfg, ControlledTeacher(cfg.prompts))


# ---------------------------------------------------------------- SPAQ
def fake_spaq(root, count: int = 12, missing: int = 1):
    """The official SPAQ layout with ``count`` small photos whose brightness rating follows their exposure."""
    import skimage.data
    from PIL import Image

    (root / "TestImage").mkdir(parents=True)
    (root / "Annotations").mkdir()
    base = np.asarray(Image.fromarray(skimage.data.coffee()).resize((64, 48)), dtype=np.float64) / 255
    rng = np.random.default_rng(0)
    rows = []
    for index in range(count):
        gamma = 0.4 + 2.4 * index / (count - 1)  # index 0: brightest
        image = Image.fromarray(np.uint8(np.clip(base**gamma * 255, 0, 255)))
        name = f"{index + 1:05d}.jpg"
        if index < count - missing:
            (root / "TestImage" / name).write_bytes(encode(image, quality=95))
        mos = float(rng.uniform(20, 80))
        rows.append({"Image name": name, "MOS": mos, "Brightness": 100.0 - 8 * index, "Colorfulness": rng.uniform(0, 100),
                     "Contrast": rng.uniform(0, 100), "Noisiness": mos + rng.normal(0, 1), "Sharpness": rng.uniform(0, 100)})
    pd.DataFrame(rows).to_excel(root / "Annotations" / "MOS and Image attribute scores.xlsx", index=False)
    return rows


@pytest.mark.unit
def test_spaq_proxy_reads_the_official_layout(tmp_path):
    fake_spaq(tmp_path / "SPAQ")
    proxy = ps.spaq_proxy(tmp_path / "SPAQ", size=40)
    assert len(proxy) == 11 and proxy.info["images"] == 11  # the missing image is left out
    assert proxy.info["signs"] == {"sharpness": 1, "brightness": 1, "contrast": 1, "colorfulness": 1, "noisiness": -1}
    groups = {g.attribute: g for g in proxy.groups}
    assert groups["brightness"].target.tolist() == [100.0 - 8 * i for i in range(11)]
    batches = list(proxy.batches(4, threads=2))
    assert [len(b) for b in batches] == [4, 4, 3] and batches[0].shape[1:] == (3, 40, 40)
    assert batches[0][0].float().mean() > batches[-1][-1].float().mean() + 30  # brightest first
    assert len(ps.spaq_proxy(tmp_path / "SPAQ", size=40, max_images=5)) == 5
    assert ps.spaq_proxy(tmp_path / "SPAQ", 40, signs={"noisiness": 1}).info["signs"]["noisiness"] == 1
    with pytest.raises(UserError, match="no SPAQ annotations"):
        ps.spaq_proxy(tmp_path, 40)


def test_spaq_alone_selects_with_human_scores(selection_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("ATTIQA_USER_CONF", str(tmp_path / "user"))
    fake_spaq(tmp_path / "SPAQ")
    cfg = selection_cfg(tmp_path, ["proxies.ladder.enabled=false", f"proxies.spaq.root={tmp_path}/SPAQ"])
    cfg.prompts = controlled_pool()
    teacher = ControlledTeacher(cfg.prompts)
    record = select_prompts.select(cfg, teacher)
    assert teacher.encoded == 11
    assert record["winners"]["brightness"] == [["up_brightness", "down_brightness"]]
    table = pd.read_csv(tmp_path / "run" / "scores.csv")
    assert "ladder" not in table.columns and table["spaq"].notna().all()
    assert table.loc[(table.attribute == "brightness") & (table.positive == "up_brightness"), "spaq"].item() > 0.9


# ---------------------------------------------------------------- the real job with the tiny open_clip model
def test_selection_job_with_tiny_openclip_end_to_end(compose, selection_cfg, tiny_overrides, tmp_path, tiny_dirs, monkeypatch):
    monkeypatch.setenv("ATTIQA_USER_CONF", str(tmp_path / "user"))
    texts = []
    real = open_clip.model.CLIP.encode_text
    monkeypatch.setattr(open_clip.model.CLIP, "encode_text", lambda self, t, **kw: texts.append(len(t)) or real(self, t, **kw))
    cfg = selection_cfg(tmp_path, ["teacher=openclip_tiny", "name=tiny_selected"])
    record = select_prompts.run(cfg)
    candidates = ps.expand_candidates(cfg.prompts)[1]
    assert texts == [2 * 3 * len(candidates)]  # every candidate sentence, once, in one call
    table = pd.read_csv(tmp_path / "run" / "scores.csv")
    assert len(table) == len(candidates) and table["ladder"].between(-1, 1).all()
    for attribute in ATTRIBUTES:  # winners are the argmax of the table (random weights: whatever it is)
        rows = table[table.attribute == attribute]
        best = rows.loc[rows["score"].idxmax()]
        assert record["winners"][attribute] == [[best.positive, best.negative]]
    header = (tmp_path / "user" / "prompts" / "tiny_selected.yaml").read_text()
    assert "RANDOM weights" in header and "attiqa-tiny" in header
    selection = json.loads((tmp_path / "run" / "selection.json").read_text())
    assert selection["proxies"][0]["images"] == 2 * 41 and selection["teacher"]["model"] == "attiqa-tiny"

    # An independent computation of two table entries: encode, apply DESIGN §1's formula by hand, scipy's Spearman.
    import pytorch_lightning as pl

    from iqa.config import instantiate_node

    pl.seed_everything(int(cfg.seed), verbose=False)  # as the job did: the same random weights
    teacher = instantiate_node(cfg.teacher)
    proxy = ps.ladder_proxy(["astronaut", "coffee"], teacher.image_size, 1)
    tokenizer = open_clip.get_tokenizer("attiqa-tiny")
    with torch.no_grad():
        images = teacher.encode_images(proxy.images).double()
        for index in (0, len(candidates) - 1):
            candidate = candidates[index]
            probabilities = []
            for positive, negative in candidate.sentences:
                text = F.normalize(real(teacher.clip, tokenizer([positive, negative])).double(), dim=-1)
                logits = teacher.logit_scale * images @ text.T
                probabilities.append(torch.softmax(logits, dim=1)[:, 0])
            score = torch.stack(probabilities).mean(0).numpy()
            rhos = [spearmanr(score[g.indices], g.target).statistic for g in proxy.groups if g.attribute == candidate.attribute]
            expected = float(np.mean(np.nan_to_num(rhos)))
            got = table.iloc[index]
            assert (got.positive, got.negative) == candidate.pair
            assert got.ladder == pytest.approx(expected, abs=2e-3)

    # The new set labels a corpus right away.
    from iqa.teachers.labelling import label

    manifest = label(compose("label", [*tiny_overrides(*tiny_dirs), "teacher=openclip_tiny", "prompts=tiny_selected",
                                       f"out={tmp_path}/labels", "num_workers=0", "trainer.accelerator=cpu", "progress=false"]))
    assert manifest["teacher"]["prompt_set"] == "tiny_selected"
    winner = record["winners"]["sharpness"][0][0]
    assert [p[0] for p in manifest["prompts"]["sharpness"]] == [t.format(winner) for t in cfg.prompts.templates]
