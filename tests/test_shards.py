"""The one shard writer: what it writes is what the package's readers (and plain tarfile) read back."""

from __future__ import annotations

import json
import tarfile

import pytest

from iqa.data.corpus import iter_unit_samples, list_units
from iqa.data.records import shard_records
from iqa.data.shards import ShardWriter, write_shard, write_shards

pytestmark = pytest.mark.unit


def samples(count: int, start: int = 0):
    for index in range(start, start + count):
        yield {"__key__": f"s{index:03d}", "jpg": bytes([index % 256]) * (100 + index), "json": {"mos": index / 10, "level": index % 6}}


def test_members_are_key_dot_extension_and_the_corpus_reader_gets_the_samples_back(tmp_path):
    path = write_shard(tmp_path / "a" / "x-000000.tar", samples(3))
    with tarfile.open(path) as tar:
        assert tar.getnames() == ["s000.jpg", "s000.json", "s001.jpg", "s001.json", "s002.jpg", "s002.json"]
        assert {m.mtime for m in tar.getmembers()} == {0}
        assert all(m.offset_data == m.offset + 512 for m in tar.getmembers())  # no extended headers in between
        assert json.loads(tar.extractfile("s001.json").read()) == {"mos": 0.1, "level": 1}
    (unit,) = list_units(str(path))
    read = list(iter_unit_samples(unit))
    assert [s["__key__"] for s in read] == ["s000", "s001", "s002"]
    assert read[2]["jpg"] == bytes([2]) * 102


def test_mos_shards_are_exact_records_and_rewriting_gives_identical_bytes(tmp_path):
    first = write_shard(tmp_path / "one.tar", samples(4))
    second = write_shard(tmp_path / "two.tar", samples(4))
    assert first.read_bytes() == second.read_bytes()
    records = shard_records(str(first))
    assert [(r.key, r.mos) for r in records] == [(f"s{i:03d}", i / 10) for i in range(4)]
    with open(first, "rb") as handle:  # each record points at its image bytes inside the shard
        handle.seek(records[3].offset)
        assert handle.read(records[3].size) == bytes([3]) * 103


def test_write_shards_rotates_every_n_samples(tmp_path):
    written = write_shards(tmp_path / "out", "train", samples(5), per_shard=2)
    assert [p.name for p in written] == ["train-000000.tar", "train-000001.tar", "train-000002.tar"]
    counts = [len(tarfile.open(p).getnames()) // 2 for p in written]
    assert counts == [2, 2, 1]
    assert write_shards(tmp_path / "none", "x", [], per_shard=2) == []
    with pytest.raises(ValueError, match="per_shard"):
        write_shards(tmp_path, "x", samples(1), per_shard=0)


def test_raw_members_keep_their_names_and_order(tmp_path):
    with ShardWriter(tmp_path / "raw.tar") as writer:
        writer.add("b.jpg", b"\xff\xd8")
        writer.add("notes.txt", b"")
        writer.add("a.jpg", b"x" * 600)
    with tarfile.open(tmp_path / "raw.tar") as tar:
        assert [(m.name, m.size) for m in tar.getmembers()] == [("b.jpg", 2), ("notes.txt", 0), ("a.jpg", 600)]
    with pytest.raises(ValueError, match="__key__"), ShardWriter(tmp_path / "bad.tar") as writer:
        writer.write({"jpg": b""})
