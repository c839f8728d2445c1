"""label.py: sidecars keyed by sample key, a complete manifest, resume, and bad files labelled to the end."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from iqa.attributes import ATTRIBUTES
from iqa.data.label_sets import MANIFEST, read_labels, unit_paths
from iqa.errors import UserError
from iqa.teachers.labelling import label as run

pytestmark = pytest.mark.integration


def test_manifest_and_sidecars(tiny_labels):
    manifest = json.loads((tiny_labels / MANIFEST).read_text())
    assert manifest["attributes"] == list(ATTRIBUTES)
    assert manifest["teacher"]["name"] == "classical" and manifest["teacher"]["image_size"] == 64
    assert manifest["prompts"] is None  # the classical teacher has no text encoder
    assert manifest["counts"] == {"labelled": 11 * 41, "skipped": 0, "units": 3}
    assert len(manifest["config_hash"]) == 16
    frame = read_labels(tiny_labels)
    assert list(frame.columns) == ["key", "source", "unit", *ATTRIBUTES]
    assert len(frame) == 11 * 41 and frame["key"].is_unique
    assert frame[list(ATTRIBUTES)].apply(lambda c: c.between(0, 1).all()).all()
    # The labels mean something: blur lowers sharpness on every reference crop.
    sharp = frame.set_index("key")["sharpness"]
    for key in [k for k in frame["key"] if k.endswith("-reference-0")]:
        stem = key[: -len("-reference-0")]
        ladder = [sharp[f"{stem}-gaussian_blur-{level}"] for level in range(1, 6)]
        assert sharp[key] > ladder[0] and all(a > b for a, b in zip(ladder, ladder[1:]))
    # Image bytes are never copied into the label directory.
    assert not list(tiny_labels.rglob("*.tar")) and not list(tiny_labels.rglob("*.png"))


def test_rerun_skips_finished_units(compose, tiny_overrides, tiny_dirs, tiny_labels):
    csv_path, done_path = unit_paths(tiny_labels, "train-000000")
    before = (csv_path.stat().st_mtime_ns, done_path.stat().st_mtime_ns)
    cfg = compose("label", ["experiment=demo", *tiny_overrides(*tiny_dirs), "num_workers=0", "trainer.accelerator=cpu"])
    manifest = run(cfg)
    assert (csv_path.stat().st_mtime_ns, done_path.stat().st_mtime_ns) == before
    assert manifest["counts"]["labelled"] == 11 * 41


def test_interrupted_run_resumes_only_missing_units(compose, tiny_overrides, tiny_dirs, tmp_path):
    overrides = ["experiment=demo", *tiny_overrides(*tiny_dirs), "num_workers=0", "trainer.accelerator=cpu", f"out={tmp_path}/labels"]
    run(compose("label", overrides))
    csv_path, done_path = unit_paths(tmp_path / "labels", "val-000000")
    kept_csv, kept_done = unit_paths(tmp_path / "labels", "train-000000")
    kept = kept_csv.stat().st_mtime_ns
    # Simulate a kill after the CSV was written but before the unit was committed, plus a stray temp file.
    done_path.unlink()
    (tmp_path / "labels" / MANIFEST).unlink()
    (csv_path.parent / ".train-000000.csv.123.tmp").write_text("half")
    manifest = run(compose("label", overrides))
    assert done_path.is_file() and kept_csv.stat().st_mtime_ns == kept
    assert manifest["counts"]["labelled"] == 11 * 41


def test_other_teacher_config_cannot_reuse_the_directory(compose, tiny_overrides, tiny_dirs, tiny_labels):
    cfg = compose(
        "label", ["experiment=demo", *tiny_overrides(*tiny_dirs), "num_workers=0", "trainer.accelerator=cpu", "teacher.image_size=48"]
    )
    with pytest.raises(UserError, match="different teacher/prompt config"):
        run(cfg)


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture()
def messy_folder(tmp_path) -> tuple[Path, dict[str, str | None]]:
    """A folder with good images and every kind of bad file; value: expected skip reason (None: labelled)."""
    root = tmp_path / "photos"
    (root / "nested" / "deeper").mkdir(parents=True)
    photo = Image.fromarray(skimage.data.chelsea())
    files: dict[str, tuple[bytes, str | None]] = {}
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG")
    jpeg = buffer.getvalue()
    files["good.jpg"] = (jpeg, None)
    files["nested/grey.png"] = (_png(skimage.data.camera()), None)
    cmyk = io.BytesIO()
    photo.convert("CMYK").save(cmyk, format="JPEG")
    files["nested/cmyk.jpg"] = (cmyk.getvalue(), None)
    rgba = io.BytesIO()
    photo.convert("RGBA").save(rgba, format="PNG")
    files["nested/deeper/rgba.png"] = (rgba.getvalue(), None)
    files["sixteen.png"] = (_png((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)), None)
    files["truncated.jpg"] = (jpeg[: len(jpeg) // 3], "unreadable")
    files["zero.jpg"] = (b"", "empty file")
    files["corrupt.png"] = (b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, "unreadable")
    files["notes.txt"] = (b"not an image", "not an image")
    files["tiny.png"] = (_png(np.zeros((16, 16, 3), np.uint8)), "too small")
    for rel, (data, _) in files.items():
        (root / rel).write_bytes(data)
    return root, {rel: reason for rel, (_, reason) in files.items()}


def test_messy_folder_is_labelled_to_the_end(compose, messy_folder, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="iqa.label")
    root, expected = messy_folder
    cfg = compose(
        "label",
        ["data=folder", f"data.root={root}", f"out={tmp_path}/labels", "num_workers=2", "batch_size=3",
         "trainer.accelerator=cpu", "data.corpus.chunk_size=4", "teacher.image_size=64"],
    )
    manifest = run(cfg)
    counts = manifest["counts"]
    assert counts["labelled"] + counts["skipped"] == len(expected)
    assert counts["labelled"] == sum(r is None for r in expected.values())
    reasons = {Path(s["source"]).relative_to(root).as_posix(): s["reason"] for s in manifest["skipped"]}
    assert set(reasons) == {rel for rel, r in expected.items() if r}
    for rel, reason in reasons.items():
        assert expected[rel] in reason, (rel, reason)
    frame = read_labels(tmp_path / "labels")
    assert sorted(frame["key"]) == sorted(rel for rel, r in expected.items() if r is None)
    assert counts["units"] == 3  # 10 files in chunks of 4
    # The start line names the corpus, the label set and where it goes (not the output folder as the label set).
    (start,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("labelling")]
    assert start == (f"labelling corpus data=folder (train: {root}) with label set classical (teacher classical): "
                     f"3 unit(s), 3 pending -> {tmp_path}/labels")


def test_start_line_names_the_prompt_set_of_a_clip_teacher(compose, tmp_path):
    from iqa.teachers.labelling import describe_job

    cfg = compose("label", ["teacher=vit_b32", "prompts=clipiqa", "data=shards", "data.train=/corpus/a-*.tar",
                            "data.val=/corpus/b-*.tar", f"out={tmp_path}/labels"])
    line = describe_job(cfg, {"teacher": {}, "prompts": {"sharpness": [["sharp", "blurry"]]}}, [], [], Path(cfg.out))
    assert line == ("labelling corpus data=shards (train: /corpus/a-*.tar, val: /corpus/b-*.tar) with label set "
                    f"openclip-ViT-B-32-clipiqa (teacher openclip-ViT-B-32, prompts clipiqa): 0 unit(s), 0 pending -> {tmp_path}/labels")


@pytest.mark.unit
def test_missing_root_is_a_clear_error(compose, tmp_path):
    cfg = compose("label", ["data=folder", f"data.root={tmp_path}/nope", f"out={tmp_path}/labels"])
    with pytest.raises(UserError, match="nothing found at .*nope"):
        run(cfg)
