"""Bad input is labelled to the end: every skipped sample listed with its reason, nothing lost or duplicated."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from _label_helpers import bad_members, encode, member_offsets, photo, write_shard
from PIL import Image, ImageDraw

from iqa.data.label_sets import read_labels
from iqa.teachers.labelling import label as run

pytestmark = pytest.mark.integration

LABEL = ["trainer.accelerator=cpu", "teacher.image_size=64", "batch_size=4", "progress=false"]


def test_image_over_50_megapixels_is_labelled_not_skipped(compose, tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    big = Image.new("RGB", (8000, 6500), (90, 140, 200))  # 52 megapixels
    draw = ImageDraw.Draw(big)
    for x in range(0, 8000, 500):
        draw.rectangle([x, 0, x + 250, 6500], fill=(230, 200, 40))
    buffer = io.BytesIO()
    big.save(buffer, format="PNG", compress_level=1)
    (root / "big.png").write_bytes(buffer.getvalue())
    (root / "small.jpg").write_bytes(encode(photo(96)))
    manifest = run(compose("label", ["data=folder", f"data.root={root}", f"out={tmp_path}/labels", "num_workers=0", *LABEL]))
    assert manifest["counts"] == {"labelled": 2, "skipped": 0, "units": 1}
    frame = read_labels(tmp_path / "labels").set_index("key")
    # Stripes of two colours: clearly colourful and contrasted, unlike a failed (blank) decode.
    assert frame.loc["big.png", "colorfulness"] > 0.3 and frame.loc["big.png", "contrast"] > 0.2


@pytest.fixture()
def shard_corpus(tmp_path) -> tuple[list[Path], list[tuple[str, str | None]], dict[str, int]]:
    """Three shards: every kind of bad member; one with a corrupt member header; one truncated.

    Returns the shard paths, ``(source, expected reason or None when labelled)`` for each
    sample that can be read, and ``shard -> samples before the break`` for the broken ones.
    """
    members = bad_members()
    good = members["good"][1]
    entries = [(f"{key}.{ext}", data) for key, (ext, data, _) in members.items()]
    entries += [("meta.json", b'{"only": "metadata"}'), ("good.jpg", good)]  # no image; a key seen before
    first = write_shard(tmp_path / "shards" / "mixed-000000.tar", entries)
    expected = [(f"{first}:{key}.{ext}", reason) for key, (ext, _, reason) in members.items()]
    expected += [(f"{first}:meta.json", "no image member"), (f"{first}:good.jpg", "duplicate key")]

    intact = [(f"ok{i}.jpg", encode(photo(64 + 8 * i))) for i in range(6)]
    header_broken = tmp_path / "shards" / "mixed-000001.tar"
    write_shard(header_broken, intact)
    data = bytearray(header_broken.read_bytes())
    offset = member_offsets(header_broken)[3]
    data[offset : offset + 100] = b"\xff" * 100  # the 4th member's header: name and checksum destroyed
    header_broken.write_bytes(bytes(data))

    truncated = tmp_path / "shards" / "mixed-000002.tar"
    write_shard(truncated, intact)
    cut = member_offsets(truncated)[4] + 700  # inside the 5th member's data
    truncated.write_bytes(truncated.read_bytes()[:cut])
    for shard, readable in ((header_broken, 3), (truncated, 4)):
        expected += [(f"{shard}:ok{i}.jpg", None) for i in range(readable)]
    return [first, header_broken, truncated], expected, {str(header_broken): 3, str(truncated): 4}


def test_bad_members_and_broken_shards_are_labelled_to_the_end(compose, shard_corpus, tmp_path):
    shards, expected, broken = shard_corpus
    pattern = str(shards[0]).replace("000000", "{000000..000002}")  # brace pattern input
    manifest = run(compose("label", ["data=shards", f"data.train='{pattern}'", f"out={tmp_path}/labels", "num_workers=2", *LABEL]))
    counts = manifest["counts"]
    labelled = sorted(s for s, r in expected if r is None)
    assert counts["labelled"] == len(labelled)
    assert counts["labelled"] + counts["skipped"] == len(expected)  # every readable sample accounted for
    frame = read_labels(tmp_path / "labels")
    assert sorted(frame["source"]) == labelled  # each labelled once, nothing else
    assert not frame.duplicated(["unit", "key"]).any()
    per_shard = frame.groupby(frame["source"].str.split(":").str[0]).size().to_dict()
    assert per_shard == {str(shards[0]): 5, **broken}
    sample_skips = [s for s in manifest["skipped"] if ":" in s["source"]]
    shard_skips = {s["source"]: s["reason"] for s in manifest["skipped"] if ":" not in s["source"]}
    assert len(sample_skips) == counts["skipped"]
    wanted = sorted((s, r) for s, r in expected if r)
    found = sorted((s["source"], s["reason"]) for s in sample_skips)
    assert [s for s, _ in found] == [s for s, _ in wanted]
    for (source, reason), (_, expected_reason) in zip(found, wanted):
        assert expected_reason in reason, (source, reason)
    # Each broken shard is reported once, by name, with what happened.
    assert set(shard_skips) == set(broken)
    assert "corrupt member header" in shard_skips[str(shards[1])]
    assert "truncated" in shard_skips[str(shards[2])]
    assert all(reason.startswith("shard error after") for reason in shard_skips.values())
