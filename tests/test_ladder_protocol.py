"""Distortion families and photo-level statistics of the ladder reports (iqa.evaluation.protocol)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from iqa import kadid
from iqa.data import photos
from iqa.errors import UserError
from iqa.evaluation import heldout as bench
from iqa.evaluation import protocol


@pytest.mark.unit
def test_families_partition_their_types_and_name_their_unseen_ones():
    attiqa, kadid_family = protocol.family("attiqa"), protocol.family("kadid")
    assert attiqa.types == bench.TYPES and set(attiqa.unseen) == set(bench.UNSEEN)
    assert kadid_family.types == tuple(kadid.TYPES) and kadid_family.unseen == kadid.UNSEEN_DEFAULT
    for fam in (attiqa, kadid_family):
        assert set(fam.structural) | set(fam.photometric) == set(fam.types)
        assert not set(fam.structural) & set(fam.photometric)
        assert set(fam.seen) | set(fam.unseen) == set(fam.types) and not set(fam.seen) & set(fam.unseen)
    assert set(kadid_family.photometric) == set(kadid.PHOTOMETRIC)
    assert {"brighten", "darken", "contrast_decrease", "saturation_decrease"} <= set(attiqa.photometric)
    assert {"gaussian_blur", "jpeg", "gaussian_noise", "pixelate"} <= set(attiqa.structural)
    narrowed = protocol.family("kadid", unseen=["denoise"])
    assert narrowed.unseen == ("denoise",) and "lens_blur" in narrowed.seen
    with pytest.raises(UserError, match="valid: attiqa, kadid"):
        protocol.family("tid2013")
    with pytest.raises(UserError, match="not in the kadid family: vignette"):
        protocol.family("kadid", unseen=["vignette"])


@pytest.mark.unit
def test_photo_interval_is_the_percentile_bootstrap_over_photos():
    values = {f"p{i}": v for i, v in enumerate(np.random.default_rng(1).normal(0.6, 0.2, size=30))}
    mean, lo, hi = protocol.photo_interval(values, n_boot=20000, seed=3)
    sample = np.array(list(values.values()))
    reference = stats.bootstrap((sample,), np.mean, n_resamples=20000, method="percentile", confidence_level=0.95,
                                random_state=np.random.default_rng(7)).confidence_interval
    assert mean == pytest.approx(sample.mean())
    assert lo == pytest.approx(reference.low, abs=0.01) and hi == pytest.approx(reference.high, abs=0.01)
    assert protocol.photo_interval(values, n_boot=500, seed=3) == protocol.photo_interval(values, n_boot=500, seed=3)
    one = protocol.photo_interval({"only": 0.5})
    assert one[0] == 0.5 and np.isnan(one[1]) and np.isnan(one[2])


@pytest.mark.unit
def test_gaps_are_paired_by_photo():
    rng = np.random.default_rng(0)
    content = rng.normal(0.0, 0.5, size=40)  # photo difficulty, shared by both methods
    a = {f"p{i}": c + 0.05 + rng.normal(0, 0.02) for i, c in enumerate(content)}
    b = {f"p{i}": c for i, c in enumerate(content)}
    b["only_b"] = 0.9
    gap = protocol.paired_gap(a, b, n_boot=4000, seed=1)
    diffs = np.array([a[p] - b[p] for p in a])
    assert gap["photos"] == 40 and gap["gap"] == pytest.approx(diffs.mean())
    assert gap["wins"] == pytest.approx(np.mean(diffs > 0))
    # Paired, the interval is about the spread of the differences, far tighter than the photos' own spread.
    assert gap["lo"] > 0 and gap["hi"] - gap["lo"] < 0.05
    _, lo_a, hi_a = protocol.photo_interval(a, n_boot=4000, seed=1)
    assert hi_a - lo_a > 5 * (gap["hi"] - gap["lo"])


@pytest.mark.unit
def test_per_photo_means_weight_photos_not_crops():
    values = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    owners = ["a", "a", "a", "a", "b"]
    assert protocol.per_photo_means(values, owners) == {"a": 1.0, "b": 0.0}
    assert protocol.per_photo_means(values, owners, np.array([1, 1, 0, 0, 0], bool)) == {"a": 1.0}
    assert protocol.photo_interval(protocol.per_photo_means(values, owners), n_boot=200)[0] == 0.5


def _items(photo_names, types, crops=2):
    return [bench.Item(f"{p}-{c:02d}-{t}-{lv}", f"{p}-{c:02d}", p, t, lv, "") for p in photo_names for c in range(crops)
            for t in types for lv in bench.LEVELS]


@pytest.mark.unit
def test_summary_splits_structural_from_photometric_and_per_photo_matches():
    fam = protocol.family("attiqa")
    types = ("gaussian_blur", "jpeg", "darken", "saturation_decrease")
    items = _items(["a", "b"], types)
    # Right on structure everywhere; on tone right for photo a, reversed for photo b.
    scores = np.array([-it.level if (it.distortion in fam.structural or it.photo == "a") else it.level for it in items], float)
    summary, per_type = bench.summarise(scores, items, fam)
    assert summary["structural"] == pytest.approx(1.0) and summary["photometric"] == pytest.approx(0.0)
    assert summary["all"] == pytest.approx(0.5) and per_type["darken"] == pytest.approx(0.0)
    parts = bench.per_photo(scores, items, fam)
    assert parts["photometric"] == pytest.approx({"a": 1.0, "b": -1.0})
    assert parts["structural"] == pytest.approx({"a": 1.0, "b": 1.0})
    assert parts["all"] == pytest.approx({"a": 1.0, "b": 0.0})
    assert parts["unseen"] == {}  # none of these four types is unseen
    assert np.isnan(summary["unseen"])


@pytest.mark.integration
def test_kadid_ladders_end_to_end_with_photo_intervals(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setattr(bench, "DEFAULT_CKPTS", {})
    folder = tmp_path / "refs"
    folder.mkdir()
    astronaut = photos.load_photo("astronaut")
    for index, (top, left) in enumerate([(0, 0), (200, 100), (300, 300)]):
        Image.fromarray(astronaut[top:top + 200, left:left + 200]).save(folder / f"p{index}.png")
    report = bench.benchmark({}, photo_dir=folder, crops_per_photo=1, size=64, peers=False, cache=tmp_path / "cache",
                             out=tmp_path / "out", distortion_family="kadid", n_boot=300)
    assert report["meta"]["family"] == "kadid" and report["meta"]["images"] == 3 * 25 * 5
    assert {it.distortion for it in report["items"]} == set(kadid.TYPES)
    teacher = report["results"]["classical teacher (fixed combination)"]
    assert set(teacher["per_photo"]["all"]) == {"p0.png", "p1.png", "p2.png"}
    interval = teacher["intervals"]["all"]
    assert interval["photos"] == 3 and interval["lo"] <= interval["mean"] <= interval["hi"]
    assert interval["mean"] == pytest.approx(np.mean(list(teacher["per_photo"]["all"].values())))
    assert teacher["summary"]["all"] == pytest.approx(interval["mean"])  # one crop per photo, 25 ladders each
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written["meta"]["interval_unit"] == "photo" and written["meta"]["unseen"] == list(kadid.UNSEEN_DEFAULT)
    text = (tmp_path / "out" / "heldout.md").read_text()
    assert "resampling photos" in text and "| p1.png |" in text and "| color_block | yes | structural |" in text
    assert (tmp_path / "out" / "per_photo.csv").read_text().count("\n") == 1 + 3 * len(bench.PARTS)


@pytest.mark.unit
def test_iqa_heldout_takes_the_family_and_checks_unseen_types_before_any_work(tmp_path, capsys):
    from iqa.cli.heldout import parser, run

    args = parser().parse_args(["--family", "kadid", "--unseen", "denoise", "jitter", "--bootstrap", "100"])
    assert (args.family, args.unseen, args.bootstrap) == ("kadid", ["denoise", "jitter"], 100)
    with pytest.raises(SystemExit):
        parser().parse_args(["--family", "tid"])
    assert "invalid choice: 'tid'" in capsys.readouterr().err
    with pytest.raises(UserError, match="not in the kadid family: vignette"):
        run(["--family", "kadid", "--unseen", "vignette", "--no-peers", "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o")])
    assert not (tmp_path / "c").exists()


@pytest.mark.unit
def test_split_reports_take_the_whole_split_and_stop_when_photos_are_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTIQA_PHOTOS", str(tmp_path / "empty-cache"))
    test_photos = [p.name for p in photos.photos("test")]
    with pytest.raises(UserError, match=rf"of the {len(test_photos)} test photos are not local.*iqa photos fetch --split test"):
        bench.split_photos("test")
    with pytest.raises(UserError, match="must be one of tune, test"):
        bench.split_photos("train")
    with pytest.raises(UserError, match="not tune photos: astronaut"):
        bench.split_photos("tune", ["astronaut"])
    assert bench.split_photos("tune", ["grace_hopper"]) == ["grace_hopper"]  # matplotlib's, always installed
    with pytest.raises(UserError, match="--split and --photo-dir exclude each other"):
        bench.benchmark({}, split="tune", photo_dir=tmp_path, peers=False, cache=tmp_path / "c", out=None)
    commit = bench.source_commit()
    assert commit is None or len(commit.split("-")[0]) == 40


@pytest.mark.unit
def test_each_checkpoint_gets_its_gap_to_every_other_method():
    per = {"mine": {"all": {"a": 0.9, "b": 0.8, "c": 0.7}}, "peer": {"all": {"a": 0.5, "b": 0.9, "c": 0.6}},
           "teacher": {"all": {"a": 0.1, "b": 0.2, "c": 0.3}}}
    gaps = bench.photo_gaps(per, ["mine"], n_boot=200)
    assert set(gaps) == {"mine"} and set(gaps["mine"]) == {"peer", "teacher"}
    assert gaps["mine"]["peer"]["all"]["gap"] == pytest.approx((0.4 - 0.1 + 0.1) / 3)
    assert gaps["mine"]["peer"]["all"]["wins"] == pytest.approx(2 / 3) and gaps["mine"]["teacher"]["all"]["wins"] == 1.0
