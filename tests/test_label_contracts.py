"""label.py's contracts: inputs, manifest fields, the public reader, text embeddings once, progress totals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import open_clip
import pytest
from _label_helpers import encode, photo, photo_crops, write_shard

from iqa.attributes import ATTRIBUTES
from iqa.data.corpus import list_units
from iqa.data.label_sets import MANIFEST
from iqa.teachers.labelling import estimate_share, run
from iqa.teachers.prompts import expand_prompts

pytestmark = pytest.mark.unit

CPU = ["trainer.accelerator=cpu", "num_workers=0", "progress=false"]


@pytest.mark.integration
def test_public_reader_is_the_one_pretraining_uses(tiny_labels):
    import iqa
    import iqa.data.label_sets
    import iqa.data.streaming

    assert iqa.read_labels is iqa.data.label_sets.read_labels
    assert iqa.data.streaming.LabelLookup is iqa.data.label_sets.LabelLookup
    frame = iqa.read_labels(tiny_labels)
    assert {"key", "source", *ATTRIBUTES} <= set(frame.columns)
    assert frame["source"].str.contains(r"\.tar:.+\.png$").all()  # shard and member
    # The streaming join reads exactly these values.
    row = frame.iloc[5]
    lookup = iqa.data.label_sets.LabelLookup(tiny_labels, ATTRIBUTES)
    assert list(lookup.get(row["unit"], row["key"])) == pytest.approx([row[a] for a in ATTRIBUTES], abs=1e-6)


@pytest.mark.integration
def test_classical_manifest_names_teacher_fields(tiny_labels):
    manifest = json.loads((tiny_labels / MANIFEST).read_text())
    teacher = manifest["teacher"]
    assert {"model": teacher["model"], "pretrained": teacher["pretrained"], "logit_scale": teacher["logit_scale"]} == {
        "model": "classical", "pretrained": None, "logit_scale": None}
    assert manifest["skipped"] == [] and set(manifest["counts"]) >= {"labelled", "skipped"}


@pytest.mark.integration
def test_openclip_manifest_records_exact_prompts_and_encodes_text_once(compose, tiny_overrides, tiny_dirs, tmp_path, monkeypatch):
    calls = []
    real = open_clip.model.CLIP.encode_text
    monkeypatch.setattr(open_clip.model.CLIP, "encode_text", lambda self, text, **kw: calls.append(len(text)) or real(self, text, **kw))
    cfg = compose("label", [*tiny_overrides(*tiny_dirs), *CPU, "teacher=openclip_tiny", "prompts=attiqa", "batch_size=16"])
    manifest = run(cfg)
    expected = expand_prompts(compose("label", ["prompts=attiqa"]).prompts)
    assert manifest["prompts"] == {a: [list(p) for p in expected[a]] for a in ATTRIBUTES}
    assert manifest["prompts"]["sharpness"][0] == ["sharp photo.", "blurry photo."]
    assert manifest["attributes"] == list(ATTRIBUTES)
    teacher = manifest["teacher"]
    assert teacher["model"] == "attiqa-tiny" and teacher["pretrained"] == "none"
    assert teacher["logit_scale"] == pytest.approx(1 / 0.07, rel=1e-4)
    assert manifest["counts"]["labelled"] == 11 * 41 and len(manifest["config_hash"]) == 16
    # All 30 sentences (5 attributes x 2 pairs x 3 templates, positive and negative) in one call, for 451 images.
    assert calls == [60]
    assert Path(cfg.out).name == "openclip-attiqa-tiny-attiqa" and Path(cfg.out).parent.name == "demo"


def test_folder_input_is_recursive_in_common_formats(compose, tmp_path):
    root = tmp_path / "photos"
    crops = photo_crops(8, size=72)
    files = {
        "a.jpg": encode(crops[0], "JPEG"), "b.JPEG": encode(crops[1], "JPEG"), "x/c.png": encode(crops[2], "PNG"),
        "x/y/d.bmp": encode(crops[3], "BMP"), "x/y/e.tif": encode(crops[4], "TIFF"), "x/f.webp": encode(crops[5], "WEBP"),
        "x/y/z/g.gif": encode(crops[6], "GIF"), "h.ppm": encode(crops[7], "PPM"), "no_extension": encode(crops[0], "PNG"),
        ".hidden/skipped.jpg": encode(crops[0]),  # hidden folders are not part of the corpus
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    manifest = run(compose("label", ["data=folder", f"data.root={root}", f"out={tmp_path}/labels", "teacher.image_size=64", *CPU]))
    from iqa.data.label_sets import read_labels

    frame = read_labels(tmp_path / "labels")
    assert sorted(frame["key"]) == sorted(k for k in files if not k.startswith("."))
    assert manifest["counts"]["skipped"] == 0
    assert all(Path(s).is_file() for s in frame["source"])  # the source is the file itself


def test_progress_total_for_shards(tmp_path):
    shards = [write_shard(tmp_path / f"c-{i:06d}.tar", [(f"k{j}.jpg", encode(photo(40 + j))) for j in range(5 + i)]) for i in range(4)]
    units = list_units(str(tmp_path / "c-{000000..000003}.tar"))
    names = {u.name for u in units}
    out = tmp_path / "labels" / "mine"
    # Exact from member headers: rank 0 of 2 gets shards 0 and 2 (5 + 7 samples).
    assert estimate_share(units, names, out, 0, 2) == (12, 2)
    assert estimate_share(units, names, out, 1, 2) == (14, 2)
    # Scanning only one shard: the rest is extrapolated by file size.
    sizes = [s.stat().st_size for s in shards]
    assert estimate_share(units, names, out, 0, 1, max_scan=1) == (5 + round(sum(sizes[1:]) * 5 / sizes[0]), 4)
    # A finished label set of the same corpus gives the counts without reading the shards.
    sibling = tmp_path / "labels" / "other"
    (sibling / "units").mkdir(parents=True)
    (sibling / "label_config.json").write_text("{}")
    (sibling / "units" / f"{units[0].name}.done.json").write_text(json.dumps(
        {"labelled": 40, "skipped": [{"key": "a", "source": "x", "reason": "r"}, {"key": "", "source": "s", "reason": "shard"}]}))
    shards[0].write_bytes(b"")  # proves the sibling was used: this shard can no longer be counted
    assert estimate_share(units, {units[0].name}, out, 0, 1) == (41, 1)
    # Folders are exact.
    (tmp_path / "f").mkdir()
    for i in range(3):
        (tmp_path / "f" / f"{i}.jpg").write_bytes(b"x")
    assert estimate_share(list_units(str(tmp_path / "f")), {"f-part-000000"}, out, 0, 1) == (3, 1)


def test_classical_teacher_ignores_bf16_autocast():
    import torch

    from iqa.teachers.classical import ClassicalTeacher

    teacher = ClassicalTeacher(64)
    images = torch.stack([torch.from_numpy(np.array(c)).permute(2, 0, 1) for c in photo_crops(4, size=64)])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = teacher(images)
    torch.testing.assert_close(mixed, teacher(images), atol=0, rtol=0)


def test_brace_patterns_reach_hydra_quoted():
    from iqa.cli.common import quote_brace_patterns

    assert quote_brace_patterns(["data.train=/c/s-{000000..000099}.tar", "data.val=/c/{a,b}.tar", "teacher=vit_b32",
                                 "data.train='/c/s-{0..9}.tar'", "+x={a: 1, b: 2}", "-m"]) == [
        "data.train='/c/s-{000000..000099}.tar'", "data.val='/c/{a,b}.tar'", "teacher=vit_b32",
        "data.train='/c/s-{0..9}.tar'", "+x={a: 1, b: 2}", "-m"]


def test_teacher_errors_stay_one_line_user_errors(compose, tmp_path):
    from iqa.errors import UserError

    folder = ["data=folder", f"data.root={one_photo_folder(tmp_path)}", *CPU]
    cfg = compose("label", ["teacher=vit_b32", *folder, f"out={tmp_path}/labels"])
    with pytest.raises(UserError, match="not in the local cache.*teacher.pretrained=/path/to"):
        run(cfg)
    cfg = compose("label", ["teacher=openclip", "teacher.model=ViT-B-3", *folder, f"out={tmp_path}/other"])
    with pytest.raises(UserError, match="unknown open_clip model 'ViT-B-3'"):
        run(cfg)


def one_photo_folder(tmp_path: Path) -> Path:
    (tmp_path / "p").mkdir(exist_ok=True)
    (tmp_path / "p" / "a.jpg").write_bytes(encode(photo(64)))
    return tmp_path / "p"
