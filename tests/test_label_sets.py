"""Label sets written by earlier releases still load, and pretraining still joins them with their images."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from iqa.attributes import ATTRIBUTES
from iqa.data.corpus import iter_unit_samples, list_units
from iqa.data.label_sets import LabelLookup, check_attributes, load_manifest, read_labels

pytestmark = pytest.mark.unit

LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy_labels"


def sidecar_rows() -> dict[str, tuple[str, str, list[float]]]:
    """key -> (unit, source, scores), read straight from the CSV sidecars with the csv module."""
    rows = {}
    for path in sorted((LEGACY / "labels" / "units").glob("*.csv")):
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                rows[row["key"]] = (path.stem, row["source"], [float(row[a]) for a in ATTRIBUTES])
    return rows


def test_legacy_label_set_reads_back_exactly_its_sidecars():
    expected = sidecar_rows()
    assert sorted(expected) == ["img0.jpg", "img1.jpg", "img2.jpg", "sub/img3.jpg", "sub/img4.jpg"]
    frame = read_labels(LEGACY / "labels")
    assert list(frame.columns) == ["key", "source", "unit", *ATTRIBUTES]
    assert sorted(frame["key"]) == sorted(expected)
    for row in frame.itertuples(index=False):
        unit, source, scores = expected[row.key]
        assert (row.unit, row.source) == (unit, source)
        assert [getattr(row, a) for a in ATTRIBUTES] == pytest.approx(scores, abs=0)
    manifest = load_manifest(LEGACY / "labels")
    check_attributes(manifest, ATTRIBUTES, LEGACY / "labels")
    assert manifest["counts"] == {"labelled": 5, "skipped": 1, "units": 2}
    assert [s["source"] for s in manifest["skipped"]] == ["images/notes.txt"]
    recorded = json.loads((LEGACY / "labels" / "label_config.json").read_text())
    assert recorded["config_hash"] == manifest["config_hash"]


def test_pretraining_lookup_joins_the_legacy_label_set_with_its_corpus():
    expected = sidecar_rows()
    units = list_units(str(LEGACY / "images"), chunk_size=3)
    assert [u.name for u in units] == [u["name"] for u in load_manifest(LEGACY / "labels")["units"]]
    lookup = LabelLookup(LEGACY / "labels", ATTRIBUTES)
    joined = {}
    for unit in units:
        for sample in iter_unit_samples(unit):
            label = lookup.get(unit.name, sample["__key__"])
            if label is not None:
                assert label.dtype == np.float32
                joined[sample["__key__"]] = (unit.name, label.tolist())
    assert sorted(joined) == sorted(expected)  # every image joined, the text file not
    for key, (unit, label) in joined.items():
        assert unit == expected[key][0]
        assert label == pytest.approx(expected[key][2], abs=1e-6)


def test_pretrain_data_module_trains_on_the_legacy_label_set():
    from iqa.data.datamodules import PretrainDataModule

    expected = sidecar_rows()
    module = PretrainDataModule({"train": str(LEGACY / "images"), "chunk_size": 3}, str(LEGACY / "labels"), ATTRIBUTES,
                                batch_size=5, num_workers=0, crop_size=24, steps_per_epoch=1, shuffle_buffer=1)
    module.prepare()  # refuses labels that do not match the corpus
    batch = next(iter(module.train_dataloader()))
    assert sorted(batch["keys"]) == sorted(expected)
    assert tuple(batch["images"].shape) == (5, 3, 24, 24)
    for key, target in zip(batch["keys"], batch["targets"].tolist()):
        assert target == pytest.approx(expected[key][2], abs=1e-6)


def test_todays_label_py_writes_the_legacy_layout_byte_for_byte(compose, tmp_path, monkeypatch):
    import shutil

    from iqa.teachers.labelling import label as run

    shutil.copytree(LEGACY / "images", tmp_path / "images")
    monkeypatch.chdir(tmp_path)  # relative sources, as the fixture was written
    manifest = run(compose("label", ["data=folder", "data.root=images", "out=labels", "data.corpus.chunk_size=3",
                                     "teacher.image_size=32", "num_workers=0", "trainer.accelerator=cpu", "progress=false"]))
    old, new = LEGACY / "labels", tmp_path / "labels"
    files = sorted(p.relative_to(old).as_posix() for p in old.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(new).as_posix() for p in new.rglob("*") if p.is_file())
    for name in files:
        if name != "manifest.json":
            assert (new / name).read_bytes() == (old / name).read_bytes(), name
    legacy = json.loads((old / "manifest.json").read_text())
    for key in ("created", "last_run"):  # the only fields that describe the run rather than the labels
        legacy.pop(key), manifest.pop(key)
    assert manifest == legacy
