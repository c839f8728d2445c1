"""The photo registry: licences, sources, disjoint frozen splits, and the ``iqa photos`` command on an empty cache."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from iqa.cli.photos import main as photos_main
from iqa.data import photos
from iqa.data.photo_sources import KINDS
from iqa.errors import UserError

#: sha256 over the sorted (name, sha256, split) lines of the registry. A change to any photo's split (or file) changes it:
#: update it only on purpose, in the same commit as the registry edit, and say why in the message.
FROZEN_DIGEST = "6f550914731b217ba897e9b904d9a5d42d33121eb5d4d8776fea99f8fd7c7b5b"

RESERVED = ("opencv-doc", "mate-backgrounds", "plasma-workspace-wallpapers")
#: What the recipes trained or tuned on before the package photos: never test photos.
USED_BEFORE = ("astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "grass", "gravel", "hubble_deep_field",
               "immunohistochemistry", "moon", "motorcycle", "retina", "rocket", "grace_hopper", "china", "flower")

IN_SPLITS = [p for p in photos.PHOTOS if p.split in photos.SPLITS]


@pytest.mark.unit
def test_frozen_digest_of_names_hashes_and_splits():
    assert photos.registry_digest() == FROZEN_DIGEST, (
        "the registry's photos or splits changed; if on purpose, update FROZEN_DIGEST in the same commit")


@pytest.mark.unit
def test_digest_moves_with_any_split_change():
    moved = [photos.Photo(**{**p.__dict__, "split": "test" if p.split == "train" else p.split}) for p in photos.PHOTOS]
    assert photos.registry_digest(moved) != photos.registry_digest()


@pytest.mark.unit
def test_splits_are_disjoint_by_name_and_by_file_hash():
    assert len({p.name for p in photos.PHOTOS}) == len(photos.PHOTOS)
    assert len({p.sha256 for p in photos.PHOTOS}) == len(photos.PHOTOS), "two entries are the same file"
    by_split = {s: {p.sha256 for p in photos.photos(s)} for s in photos.SPLITS}
    assert not by_split["train"] & by_split["tune"] and not by_split["train"] & by_split["test"] and not by_split["tune"] & by_split["test"]
    assert sum(map(len, by_split.values())) == len(IN_SPLITS)


@pytest.mark.unit
def test_every_entry_has_a_pinned_source_a_licence_and_a_credit(monkeypatch):
    monkeypatch.delenv("ATTIQA_DEBIAN_MIRROR", raising=False)
    hexdigest = re.compile(r"^[0-9a-f]{64}$")
    for p in photos.PHOTOS:
        assert p.split in photos.ROLES, p.name
        assert p.licence.strip() and p.credit.strip(), p.name
        assert p.kind in KINDS and p.distribution and p.version and p.path, p.name
        assert hexdigest.match(p.sha256), p.name
        assert hexdigest.match(p.source.sha256) and p.source.size > 0, p.source.label
        assert p.source.archive_url().startswith("https://"), p.source.label
        assert isinstance(p.colour, bool)
        if p.member:
            assert p.path.endswith((".rcc", ".npz")), p.name


@pytest.mark.unit
def test_no_photo_from_a_reserved_package():
    for p in photos.PHOTOS:
        for reserved in RESERVED:
            assert reserved not in p.distribution and reserved not in p.path, p.name


@pytest.mark.unit
def test_photos_used_before_are_never_test_photos():
    for name in USED_BEFORE:
        assert photos.BY_NAME[name].split != "test", name
        assert photos.BY_NAME[name].split == photos.LEGACY_SPLITS[name]
    assert {photos.BY_NAME[n].split for n in ("grace_hopper", "china", "flower")} == {"tune"}
    assert {p.name for p in photos.recipe_train_photos()} == set(USED_BEFORE[:16])


@pytest.mark.unit
def test_split_sizes_and_sources():
    counts = Counter(p.split for p in IN_SPLITS)
    assert len(IN_SPLITS) >= 150 and counts["test"] >= 40 and counts["tune"] >= 20 and counts["train"] >= 100
    # Each split mixes packages.
    for split, least in (("train", 8), ("tune", 5), ("test", 5)):
        assert len({p.distribution for p in photos.photos(split)}) >= least, split


@pytest.mark.unit
def test_package_photos_follow_the_seeded_rule():
    new = [p for p in photos.PHOTOS if p.name not in photos.LEGACY_SPLITS]
    assert new and all(p.split in photos.SPLITS for p in new)
    rule = photos.seeded_splits(new)
    assert {p.name: p.split for p in new} == rule
    # Another seed deals differently: the seed is what fixes the splits.
    assert photos.seeded_splits(new, seed="another") != rule
    # The rule stratifies: within each package of 8 or more photos, every split gets some.
    per_package: dict[str, Counter] = {}
    for p in new:
        per_package.setdefault(p.distribution, Counter())[p.split] += 1
    for package, split_counts in per_package.items():
        if sum(split_counts.values()) >= 8:
            assert set(split_counts) == set(photos.SPLITS), package


@pytest.mark.unit
def test_heldout_is_an_alias_of_tune_and_tune_test_photos_are_not_trainable():
    assert photos.photos("heldout") == photos.photos("tune")
    assert set(photos.heldout_names()) <= {p.name for p in photos.photos("tune")}
    test_photo = photos.photos("test")[0].name
    with pytest.raises(photos.HeldOutPhotoError, match="test"):
        photos.trainable(test_photo)
    with pytest.raises(photos.HeldOutPhotoError, match="tune"):
        photos.trainable("china")
    with pytest.raises(UserError, match="splits are train, tune, test, excluded"):
        photos.photos("validation")
    with pytest.raises(UserError, match="did you mean: gc_colosseum"):
        photos.get("gc_coloseum")


@pytest.mark.unit
def test_a_photo_not_in_the_cache_names_the_command_that_brings_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTIQA_PHOTOS", str(tmp_path))
    name = next(p.name for p in photos.photos("test") if p.kind == "deb")
    with pytest.raises(UserError, match=r"iqa photos fetch --split test"):
        photos.photo_path(name)
    # Installed wheels need no fetch.
    assert photos.photo_path("astronaut").is_file()
    assert photos.load_photo("astronaut").shape == (512, 512, 3)


@pytest.mark.unit
def test_cli_list_and_check_on_an_empty_cache(tmp_path, capsys):
    assert photos_main(["list", "--dir", str(tmp_path), "--split", "test"]) == 0
    out = capsys.readouterr().out
    test_names = [p.name for p in photos.photos("test")]
    assert all(name in out for name in test_names)
    assert f"{len(test_names)} photos ({len(test_names)} test); 0 on this machine" in out
    assert photos_main(["check", "--dir", str(tmp_path), "--split", "test"]) == 1
    out = capsys.readouterr().out
    assert f"{len(test_names)} missing" in out
    # Tune's photos from installed wheels (matplotlib always; scikit-learn's with the bench extra) count, the rest are missing.
    installed = sum(photos.installed_path(p) is not None for p in photos.photos("tune"))
    assert installed >= 1
    assert photos_main(["check", "--dir", str(tmp_path), "--split", "tune"]) == 1
    assert f"{installed} installed, {len(photos.photos('tune')) - installed} missing" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        photos_main(["fetch", "--split", "validation"])
    assert exc.value.code == 2
    assert "invalid choice: 'validation'" in capsys.readouterr().err


@pytest.mark.unit
def test_fetch_missing_fetches_each_missing_photo_once_in_one_call(monkeypatch):
    from iqa.data import photo_sources

    calls = []
    here = {"coffee"}
    monkeypatch.setattr(photos, "available", lambda photo: photo.name in here)

    def fetch(chosen, *a, **k):
        calls.append([p.name for p in chosen])
        here.update(p.name for p in chosen)

    monkeypatch.setattr(photo_sources, "fetch", fetch)
    wanted = [photos.get(n) for n in ("camera", "coffee", "camera", "rocket")]
    assert [p.name for p in photos.fetch_missing(wanted)] == ["camera", "rocket"]
    assert calls == [["camera", "rocket"]]
    assert photos.fetch_missing(iter(wanted)) == [] and len(calls) == 1  # all here now: no second download

    def offline(chosen, *a, **k):
        raise photo_sources.FetchError("no network")

    here.clear()
    monkeypatch.setattr(photo_sources, "fetch", offline)
    with pytest.raises(photo_sources.FetchError, match="no network"):
        photos.fetch_missing(wanted)
