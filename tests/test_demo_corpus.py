"""The embedded demo corpus: deterministic, disjoint roles, documented MOS mapping."""

from __future__ import annotations

import json
import tarfile

import pytest

from iqa import distortions
from iqa.data.records import shard_records
from iqa.data.synthetic import BUILD_RECORD, ROLES, ensure_demo_corpus, synthetic_mos

pytestmark = pytest.mark.integration

CROPS = {"pretrain": 1, "pretrain_val": 1, "finetune": 1, "finetune_val": 1, "test": 1}


def members(shard):
    with tarfile.open(shard) as tar:
        return {m.name for m in tar.getmembers()}


@pytest.mark.unit
def test_roles_are_disjoint_and_cover_distinct_photos():
    seen = [photo for photos in ROLES.values() for photo in photos]
    assert len(seen) == len(set(seen))


def test_build_is_deterministic_and_complete(tiny_dirs, tmp_path):
    first = tiny_dirs[0] / "demo"
    second = ensure_demo_corpus(tmp_path / "again", size=64, crops=CROPS)
    a = json.loads((first / BUILD_RECORD).read_text())
    b = json.loads((second / BUILD_RECORD).read_text())
    assert a["content_sha256"] == b["content_sha256"]
    per_crop = 1 + len(distortions.DISTORTIONS) * distortions.NUM_LEVELS
    assert a["counts"] == {role: len(photos) * per_crop for role, photos in ROLES.items()}


def test_second_call_reuses_the_build(tiny_dirs):
    root = tiny_dirs[0] / "demo"
    before = (root / BUILD_RECORD).stat().st_mtime_ns
    ensure_demo_corpus(root, size=64, crops=CROPS)
    assert (root / BUILD_RECORD).stat().st_mtime_ns == before


def test_no_test_photo_reaches_training(tiny_dirs):
    root = tiny_dirs[0] / "demo"
    training = [*root.glob("corpus/*.tar"), *root.glob("iqa/train-*.tar"), *root.glob("iqa/val-*.tar")]
    names = {name for shard in training for name in members(shard)}
    for photo in ROLES["test"]:
        assert not any(name.startswith(f"{photo}-") for name in names)
    test_names = {name for shard in root.glob("iqa/test-*.tar") for name in members(shard)}
    assert {name.split("-c")[0] for name in test_names} == set(ROLES["test"])


def test_mos_follows_the_documented_mapping(tiny_dirs):
    records = shard_records(str(tiny_dirs[0] / "demo/iqa/test-*.tar"))
    assert len(records) == 2 * 41
    for record in records:
        assert record.mos == pytest.approx(5.0 - 0.8 * record.meta["level"])
        assert record.mos == synthetic_mos(record.meta["level"])
    assert {r.meta["distortion"] for r in records} == {"reference", *distortions.DISTORTIONS}


def test_corpus_shards_carry_no_mos(tiny_dirs):
    import webdataset as wds

    shard = sorted((tiny_dirs[0] / "demo/corpus").glob("train-*.tar"))[0]
    sample = next(iter(wds.WebDataset(str(shard), shardshuffle=False)))
    meta = json.loads(sample["json"])
    assert "mos" not in meta and meta["role"] == "pretrain"
