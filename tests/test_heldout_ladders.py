"""The photo registry's held-out split and the held-out ladder benchmark (iqa.evaluation.heldout, iqa heldout)."""

from __future__ import annotations

import itertools
import json
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from iqa import distortions
from iqa.cli.heldout import run as heldout_command
from iqa.data import photos
from iqa.data.synthetic import ROLES, synthetic_mos
from iqa.errors import UserError
from iqa.evaluation import heldout as bench
from iqa.evaluation import peers


@pytest.fixture(scope="module")
def crop():
    """A 96 px crop of a (training) scikit-image photo, float RGB in [0, 1]."""
    return bench.reference_crops(photos.load_photo("astronaut"), 1, 96, np.random.default_rng(0))[0]


# -- registry ------------------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_heldout_photos_are_disjoint_from_every_demo_role():
    heldout = set(photos.heldout_names())
    assert heldout, "the registry must hold some photos out"
    for role, names in ROLES.items():
        for name in names:
            entry = photos.demo_photo(name)
            assert entry.role == "train", f"demo role {role} uses {name}, registered as {entry.role}"
            assert entry.name not in heldout
    demo_files = {(photos.demo_photo(n).package, photos.demo_photo(n).path) for names in ROLES.values() for n in names}
    assert not demo_files & {(p.package, p.path) for p in photos.photos("heldout")}


@pytest.mark.unit
def test_training_code_cannot_take_a_heldout_or_excluded_photo():
    assert photos.trainable("coffee").role == "train"
    for name in photos.heldout_names():
        with pytest.raises(photos.HeldOutPhotoError):
            photos.trainable(name)
    with pytest.raises(photos.HeldOutPhotoError):
        photos.trainable("motorcycle_right")
    with pytest.raises(KeyError):
        photos.trainable("lena")


@pytest.mark.unit
def test_registry_entries_are_unique_files_inside_their_wheels_with_a_licence():
    assert len({p.name for p in photos.PHOTOS}) == len(photos.PHOTOS)
    assert len({(p.package, p.path, p.member) for p in photos.PHOTOS}) == len(photos.PHOTOS)
    for photo in photos.PHOTOS:
        assert photo.role in photos.ROLES and photo.licence and photo.credit
        path = photos.locate(photo)
        if photo.package in ("skimage", "matplotlib"):  # runtime dependencies: always installed
            assert path is not None, photo.name
        if path is not None:
            # Inside the installed wheel, never a system (Debian) location.
            assert "dist-packages" not in path.parts and not str(path).startswith("/usr/share")
    image = photos.load_photo("grace_hopper")
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) >= 288


# -- distortions -----------------------------------------------------------------------------------------------------


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(1.0 / mse)


@pytest.mark.unit
def test_unseen_types_are_new_and_monotone_in_severity(crop):
    assert set(bench.UNSEEN).isdisjoint(bench.SEEN) and len(bench.UNSEEN) >= 4
    assert tuple(bench.SEEN) == tuple(distortions.DISTORTIONS)
    for name in bench.UNSEEN:
        outs = [bench.distort(crop, name, level, np.random.default_rng(1)) for level in bench.LEVELS]
        for out in outs:
            assert out.shape == crop.shape and out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0
        psnrs = [_psnr(out, crop) for out in outs]
        assert all(a > b for a, b in zip(psnrs, psnrs[1:])), f"{name}: PSNR per level {np.round(psnrs, 2)}"
        assert psnrs[0] < 60, f"{name}: level 1 leaves the image unchanged"
    with pytest.raises(ValueError):
        bench.distort(crop, "pixelate", 0, np.random.default_rng(0))


@pytest.mark.unit
def test_reference_crops_depend_only_on_the_seed():
    photo = photos.load_photo("astronaut")
    first = bench.reference_crops(photo, 3, 64, np.random.default_rng([7, 1]))
    again = bench.reference_crops(photo, 3, 64, np.random.default_rng([7, 1]))
    other = bench.reference_crops(photo, 3, 64, np.random.default_rng([8, 1]))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    assert all(c.shape == (64, 64, 3) for c in first)


@pytest.mark.unit
def test_narrowed_ladders_use_only_their_types_and_their_own_photo_loader(tmp_path):
    """The validation ladders' construction: seen types only, photos read by the caller's loader, in their own cache."""
    asked = []

    def load(name):
        asked.append(name)
        return photos.load_photo("astronaut")

    full, _ = bench.ladder_items(tmp_path, ["grace_hopper"], 1, 48, 0, types=bench.TYPES[:1])
    settings, items = bench.ladder_items(tmp_path, ["camera_val"], 1, 48, 0, types=bench.SEEN[:2], load=load)
    assert asked == ["camera_val"]
    assert [(it.distortion, it.level) for it in items] == [(t, lv) for t in bench.SEEN[:2] for lv in bench.LEVELS]
    assert all(Path(it.path).is_file() and f"ladders-{settings}" in it.path for it in items)
    assert settings != full
    # The full benchmark's settings do not record the types, so its cache key is unchanged by the option.
    assert "types" not in bench.ladder_params(["grace_hopper"], 1, 48, 0)
    assert bench.ladder_params(["grace_hopper"], 1, 48, 0, bench.SEEN)["types"] == list(bench.SEEN)
    with pytest.raises(ValueError, match="unknown distortion type.*valid: "):
        bench.build_ladders(tmp_path / "bad", ["grace_hopper"], 1, 48, 0, types=["smudge"])


@pytest.mark.unit
def test_checkpoint_arguments_and_photo_choices_fail_before_any_work(tmp_path):
    ckpt = tmp_path / "a.ckpt"
    ckpt.write_bytes(b"x")
    assert bench.parse_checkpoints([f"a={ckpt}"]) == {"a": str(ckpt)}
    with pytest.raises(UserError, match="NAME=PATH"):
        bench.parse_checkpoints([str(ckpt)])
    with pytest.raises(UserError, match="no such checkpoint"):
        bench.parse_checkpoints([f"a={tmp_path / 'missing.ckpt'}"])
    from iqa import zoo

    shipped = zoo.default_name()  # a shipped model's name stands for its weights file
    assert bench.parse_checkpoints([f"v={shipped}"]) == {"v": str(zoo.path(shipped))}
    with pytest.raises(UserError, match="not held-out photos: astronaut"):
        bench.heldout_photos(["astronaut"])
    installed = bench.heldout_photos()
    assert installed and set(installed) <= set(photos.heldout_names())


@pytest.mark.integration
def test_ladders_from_a_folder_of_your_own_photos(tmp_path, capsys, monkeypatch):
    from PIL import Image

    monkeypatch.setattr(bench, "DEFAULT_CKPTS", {})  # the teacher only, whatever this checkout has built

    folder = tmp_path / "refs"
    folder.mkdir()
    astronaut = photos.load_photo("astronaut")
    Image.fromarray(astronaut[:200, :240]).save(folder / "a.png")
    Image.fromarray(astronaut[200:400, 100:300]).save(folder / "b.jpg", quality=95)
    Image.fromarray(astronaut[:40, :40]).save(folder / "tiny.png")
    (folder / "broken.png").write_bytes(b"not a png")
    (folder / "notes.txt").write_text("ignored")
    args = ["--photo-dir", str(folder), "--crops-per-photo", "1", "--size", "48", "--no-peers", "--ckpt", "x=" + str(tmp_path / "none")]
    with pytest.raises(UserError, match="no such checkpoint"):  # checked before any ladder is built
        heldout_command(args)
    assert not (tmp_path / "cache").exists()
    args = args[:-2] + ["--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out")]
    report = heldout_command(args)
    said = capsys.readouterr().out
    assert "photo broken.png skipped: unreadable" in said and "photo tiny.png skipped: 40x40 px" in said
    assert report["meta"]["photos"] == ["a.png", "b.jpg"] and report["meta"]["photo_dir"] == str(folder)
    items = report["items"]
    assert len(items) == 2 * len(bench.TYPES) * len(bench.LEVELS) and {it.photo for it in items} == {"a.png", "b.jpg"}
    # The first ladder image is the first crop of a.png, distorted as the benchmark does it.
    crop = bench.reference_crops(astronaut[:200, :240], 1, 48, np.random.default_rng([0, zlib.crc32(b"a.png")]))[0]
    first = items[0]
    expected = bench.distort(crop, first.distortion, first.level, np.random.default_rng([0, zlib.crc32(first.key.encode())]))
    assert np.array_equal(np.asarray(Image.open(first.path)), distortions.to_uint8(expected))
    # Another file under the same name is another set of ladders, never a stale cache.
    Image.fromarray(astronaut[100:300, 200:400]).save(folder / "a.png")
    again = heldout_command(args)
    assert again["meta"]["settings"] != report["meta"]["settings"]
    with pytest.raises(UserError, match="exclude each other"):
        heldout_command(args + ["--photos", "grace_hopper"])
    with pytest.raises(UserError, match="no readable photo"):
        heldout_command(["--photo-dir", str(tmp_path / "cache"), "--no-peers"])
    with pytest.raises(UserError, match="no such folder"):
        heldout_command(["--photo-dir", str(tmp_path / "missing"), "--no-peers"])


# -- metrics ---------------------------------------------------------------------------------------------------------


def _ladder_arrays(crops: int = 3, types: int = 4):
    ladders = np.array([f"c{c}/t{t}" for c in range(crops) for t in range(types) for _ in range(5)])
    levels = np.array([lv for _ in range(crops * types) for lv in range(1, 6)], dtype=float)
    groups = np.array([name.split("/")[0] for name in ladders])
    return ladders, levels, groups


@pytest.mark.unit
def test_within_ladder_srcc_matches_scipy_and_is_signed():
    ladders, levels, _ = _ladder_arrays()
    scores = np.random.default_rng(3).normal(size=levels.shape)
    got = bench.within_ladder_srcc(scores, levels, ladders)
    expected = [stats.spearmanr(scores[ladders == lad], -levels[ladders == lad])[0] for lad in np.unique(ladders)]
    np.testing.assert_allclose(got, expected, atol=1e-12)
    np.testing.assert_allclose(bench.within_ladder_srcc(-levels, levels, ladders), 1.0)
    np.testing.assert_allclose(bench.within_ladder_srcc(levels, levels, ladders), -1.0)


@pytest.mark.unit
def test_pairwise_accuracy_matches_a_pair_by_pair_count():
    _, levels, groups = _ladder_arrays()
    scores = np.round(np.random.default_rng(4).normal(size=levels.shape), 1)  # rounding makes ties
    right = total = 0.0
    for i, j in itertools.combinations(range(len(levels)), 2):
        if groups[i] != groups[j] or levels[i] == levels[j]:
            continue
        total += 1
        worse, better = (i, j) if levels[i] > levels[j] else (j, i)
        right += 1.0 if scores[worse] < scores[better] else 0.5 if scores[worse] == scores[better] else 0.0
    assert bench.pairwise_accuracy(scores, levels, groups) == pytest.approx(right / total)
    assert bench.pairwise_accuracy(-levels, levels, groups) == 1.0
    assert bench.pairwise_accuracy(levels, levels, groups) == 0.0
    assert bench.pairwise_accuracy(np.zeros_like(levels), levels, groups) == 0.5


@pytest.mark.unit
def test_summary_global_metrics_match_scipy():
    items = [bench.Item(f"c{c}-{t}-{lv}", f"c{c}", "p", t, lv, "") for c in range(2) for t in bench.TYPES for lv in bench.LEVELS]
    scores = np.random.default_rng(5).normal(size=len(items)) - 0.3 * np.array([it.level for it in items])
    mos = np.array([synthetic_mos(it.level) for it in items])
    summary, per_type = bench.summarise(scores, items)
    assert summary["global_srcc"] == pytest.approx(stats.spearmanr(scores, mos)[0])
    assert summary["plcc"] == pytest.approx(stats.pearsonr(scores, mos)[0])
    assert summary["ladders"] == 2 * len(bench.TYPES) and set(per_type) == set(bench.TYPES)
    assert summary["seen"] == pytest.approx(np.mean([per_type[t] for t in bench.SEEN]))
    assert summary["unseen"] == pytest.approx(np.mean([per_type[t] for t in bench.UNSEEN]))
    perfect, _ = bench.summarise(-np.array([it.level for it in items], dtype=float), items)
    assert perfect["all"] == perfect["seen"] == perfect["unseen"] == perfect["pairwise"] == 1.0


@pytest.mark.unit
def test_skvideo_shims_exist_only_inside_the_block():
    import scipy.misc

    before = (hasattr(np, "int"), hasattr(np, "float"), hasattr(scipy.misc, "imresize"))
    with peers.numpy_compat_for_skvideo():
        assert np.int is int and np.float is float
        half = scipy.misc.imresize(np.arange(64, dtype=np.float32).reshape(8, 8), 0.5, interp="bicubic", mode="F")
        assert half.shape == (4, 4) and half.dtype == np.float32
    assert (hasattr(np, "int"), hasattr(np, "float"), hasattr(scipy.misc, "imresize")) == before


@pytest.mark.unit
def test_peer_scores_are_cached_per_image(tmp_path, crop):
    from PIL import Image

    items = []
    for level in bench.LEVELS:
        path = tmp_path / f"{level}.png"
        Image.fromarray(distortions.to_uint8(bench.distort(crop, "vignette", level, np.random.default_rng(0)))).save(path)
        items.append(bench.Item(f"k{level}", "c", "p", "vignette", level, str(path)))
    calls = []

    def factory():
        calls.append(1)
        return lambda rgb: float(rgb.mean())

    first = bench.peer_scores("mean", factory, items, tmp_path / "cache", "s")
    assert np.all(np.diff(first) < 0) and len(calls) == 1
    second = bench.peer_scores("mean", factory, items, tmp_path / "cache", "s")
    np.testing.assert_array_equal(first, second)
    assert len(calls) == 1


# -- peers (bench extra) ----------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_a_missing_bench_extra_is_a_one_line_error_naming_it(monkeypatch):
    for module in ("brisque", "skvideo", "skvideo.measure"):
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed: importing it raises ImportError
    for scorer in (peers.brisque_scorer, peers.niqe_scorer):
        with pytest.raises(UserError, match=r"needs the bench extra .*pip install 'attiqa\[bench\]'") as caught:
            scorer()
        assert "\n" not in str(caught.value)


@pytest.mark.integration
def test_brisque_and_niqe_prefer_the_clean_crop():
    pytest.importorskip("brisque")
    pytest.importorskip("cv2")
    pytest.importorskip("skvideo")
    clean = bench.reference_crops(photos.load_photo("astronaut"), 1, 224, np.random.default_rng(0))[0]
    noisy = bench.distort(clean, "gaussian_noise", 5, np.random.default_rng(0))
    blurred = bench.distort(clean, "gaussian_blur", 5, np.random.default_rng(0))
    brisque, niqe = peers.brisque_scorer(), peers.niqe_scorer()
    for scorer in (brisque, niqe):
        assert scorer(distortions.to_uint8(clean)) > scorer(distortions.to_uint8(noisy))
    assert brisque(distortions.to_uint8(clean)) > brisque(distortions.to_uint8(blurred))
    assert not hasattr(np, "int")


# -- command line -----------------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_iqa_heldout_help_lists_its_options(capsys):
    from iqa.cli.main import main

    with pytest.raises(SystemExit) as caught:
        main(["heldout", "--help"])
    assert caught.value.code == 0
    said = capsys.readouterr().out
    assert "usage: iqa heldout" in said and "--photo-dir" in said and "--no-peers" in said
    assert main(["--help"]) == 0 and "heldout" in capsys.readouterr().out


@pytest.mark.unit
def test_iqa_heldout_argument_errors_are_one_line(capsys, tmp_path):
    from iqa.cli.main import main

    with pytest.raises(SystemExit) as caught:
        main(["heldout", "--ckpt", "no-name.ckpt", "--cache", str(tmp_path / "cache")])
    assert caught.value.code == 2
    assert capsys.readouterr().err.strip() == "error: --ckpt expects NAME=PATH, got 'no-name.ckpt'"
    assert not (tmp_path / "cache").exists()


# -- end to end -------------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_tiny_end_to_end_run_with_a_checkpoint(tmp_path):
    import torch

    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    torch.manual_seed(0)
    ckpt = export_checkpoint(IQANet(backbone="test_efficientnet", weights="none"), tmp_path / "tiny.ckpt", stage="finetune",
                             init="none", data="demo", mos_range=[1.0, 5.0], image_size=64)
    # The Python API, as iqa heldout --photos grace_hopper --crops-per-photo 1 --size 96 --no-peers --ckpt tiny=... calls it.
    report = bench.benchmark({"tiny": ckpt}, photos=["grace_hopper"], crops_per_photo=1, size=96, peers=False,
                             cache=tmp_path / "cache", out=tmp_path / "out")
    results = report["results"]
    assert list(results) == ["tiny", "classical teacher (fixed combination)"]
    assert report["meta"]["images"] == len(bench.TYPES) * len(bench.LEVELS)
    for result in results.values():
        summary = result["summary"]
        assert summary["ladders"] == len(bench.TYPES) and set(result["per_type"]) == set(bench.TYPES)
        assert all(-1.0 <= summary[k] <= 1.0 for k in ("all", "seen", "unseen", "global_srcc", "plcc"))
        assert 0.0 <= summary["pairwise"] <= 1.0
    # The teacher row is recomputable from the written images.
    items = report["items"]
    again, _ = bench.summarise(bench.teacher_scores(items), items)
    assert again == results["classical teacher (fixed combination)"]["summary"]
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written["meta"]["photos"] == ["grace_hopper"] and set(written["results"]) == set(results)
    assert (tmp_path / "out" / "summary.csv").read_text().count("\n") == 3
    assert "| tiny |" in (tmp_path / "out" / "heldout.md").read_text()
    # Same seed, fresh cache: byte-identical ladder images.
    rebuilt = bench.build_ladders(tmp_path / "again", ["grace_hopper"], 1, 96, 0)
    assert all(open(a.path, "rb").read() == open(b.path, "rb").read() for a, b in zip(items, rebuilt))
    with pytest.raises(UserError, match="not held-out photos: astronaut"):
        bench.benchmark({}, photos=["astronaut"], peers=False, teacher=False, cache=tmp_path / "c2", out=tmp_path / "o2")
    assert not (tmp_path / "c2").exists()


@pytest.mark.unit
def test_attribute_ladders_match_spearman_against_the_signed_level_per_ladder():
    rng = np.random.default_rng(3)
    items, levels = [], []
    for photo in ("p0", "p1", "p2"):
        for dist in ("noise", "dark", "other", "flat"):
            for level in range(1, 6):
                items.append(bench.Item(f"{photo}-{dist}-{level}", f"{photo}-00", photo, dist, level, ""))
                levels.append(level)
    levels = np.array(levels, dtype=float)
    # noisiness follows the level (plus noise); brightness falls with it, but inverted on p2's ladder.
    noisiness = levels + 0.8 * rng.standard_normal(len(items))
    brightness = -levels + 0.8 * rng.standard_normal(len(items))
    brightness[[i for i, it in enumerate(items) if it.photo == "p2"]] *= -1
    heads = {"noisiness": noisiness, "brightness": brightness, "sharpness": rng.standard_normal(len(items))}
    mapping = {"noise": ("noisiness", 1), "dark": ("brightness", -1), "other": None, "flat": ("sharpness", 0),
               "absent": ("colorfulness", 1)}
    found = bench.attribute_ladders(heads, items, mapping)
    assert set(found) == {"noise", "dark"}  # no attribute, no direction, or a head not given: left out
    for dist, (attribute, sign) in (("noise", ("noisiness", 1)), ("dark", ("brightness", -1))):
        expected = np.mean([stats.spearmanr(heads[attribute][rows], sign * levels[rows]).statistic
                            for rows in ([i for i, it in enumerate(items) if it.photo == p and it.distortion == dist]
                                         for p in ("p0", "p1", "p2"))])
        assert found[dist] == {"attribute": attribute, "srcc": pytest.approx(expected), "ladders": 3}
    assert found["noise"]["srcc"] > 0.5 and found["dark"]["srcc"] < found["noise"]["srcc"]  # p2's inverted head shows
    flipped = bench.attribute_ladders({**heads, "noisiness": -noisiness}, items, mapping)
    assert flipped["noise"]["srcc"] == pytest.approx(-found["noise"]["srcc"])


@pytest.mark.unit
def test_attribute_heads_benchmark_fails_fast_on_a_missing_checkpoint(repo_root, capsys, tmp_path):
    script = _script(repo_root, "attribute_heads")
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--ckpt", f"mine={tmp_path / 'none.ckpt'}", "--cache", str(tmp_path / "cache")])
    assert exit_info.value.code == 2 and "--ckpt mine: no such checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()  # nothing built before the check
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--ckpt", "x=y", "--split", "train"])
    assert exit_info.value.code == 2 and "invalid choice: 'train'" in capsys.readouterr().err
    # The table: one row per type, the checkpoints as columns, then each attribute's mean and the overall mean.
    def row(attribute, value):
        return {"attribute": attribute, "srcc": value, "ladders": 2}

    results = {"a": {"t1": row("noisiness", 0.5), "t2": row("sharpness", -0.25)},
               "b": {"t1": row("noisiness", 1.0), "t2": row("sharpness", 0.0)}}
    lines = script.table(results).splitlines()
    assert lines[0] == "| type | attribute | a | b |" and lines[2] == "| t1 | noisiness | +0.50 | +1.00 |"
    assert lines[-1] == "| **mean, all types** | | +0.12 | +0.50 |"


def _script(repo_root, name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, repo_root / "benchmarks" / f"{name}.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.mark.unit
def test_type_response_separates_an_unseen_distortion_from_an_unordered_ladder(repo_root):
    from iqa.evaluation.heldout import Item

    script = _script(repo_root, "type_response")
    rng = np.random.default_rng(3)
    crops = ["a-00", "b-00", "c-00", "d-00"]
    reference = dict(zip(crops, [0.9, 0.5, 0.7, 0.3]))
    items, scores, mse = [], [], []
    for crop in crops:
        for level in range(1, 6):
            # "seen": the score falls with the level; "flat": it barely moves, in no order, though the error grows
            for dist, score in (("seen", reference[crop] - 0.1 * level), ("flat", reference[crop] + rng.normal(0, 0.01))):
                items.append(Item(f"{crop}-{dist}-{level}", crop, crop[0], dist, level, f"{crop}-{dist}-{level}.png"))
                scores.append(score)
                mse.append(level * 10.0 + rng.uniform(0, 1) if dist == "seen" else rng.uniform(0, 50))
    found = script.responses(scores, mse, items, reference)
    assert list(found) == ["seen", "flat"]
    spread = np.std(list(reference.values()))
    for dist in ("seen", "flat"):
        idx = {c: [i for i, it in enumerate(items) if it.crop == c and it.distortion == dist] for c in crops}
        srcc = np.mean([stats.spearmanr([scores[i] for i in ix], [-items[i].level for i in ix])[0] for ix in idx.values()])
        fr = np.mean([stats.spearmanr([-mse[i] for i in ix], [-items[i].level for i in ix])[0] for ix in idx.values()])
        drop = np.median([reference[c] - scores[ix[-1]] for c, ix in idx.items()]) / spread
        assert found[dist] == {"srcc": pytest.approx(srcc), "fr_srcc": pytest.approx(fr), "response": pytest.approx(drop),
                               "ladders": 4}
    assert found["seen"]["srcc"] == pytest.approx(1.0) and found["seen"]["response"] == pytest.approx(0.5 / spread)
    assert abs(found["flat"]["response"]) < 0.1
    lines = script.table({"m": found}).splitlines()
    assert lines[0] == "| type | full-reference SRCC | m SRCC | m response |"
    assert lines[2] == f"| seen | 1.000 | 1.000 | {0.5 / spread:+.2f} |"
    with pytest.raises(ValueError, match="8 items"):
        script.responses(scores[:3], mse, items[:8], reference)


@pytest.mark.unit
def test_type_response_refuses_the_test_split_and_bad_arguments_before_building(repo_root, capsys, tmp_path):
    script = _script(repo_root, "type_response")
    for argv, message in ((["--split", "test"], "invalid choice: 'test'"), (["--photos", "1"], "--photos: at least 2"),
                          ([], "--ckpt mine: no such checkpoint"), (["--types", "blur,white_noise"], "unknown type(s) blur; valid:")):
        with pytest.raises(SystemExit) as exit_info:
            script.main(["--ckpt", f"mine={tmp_path / 'none.ckpt'}", "--cache", str(tmp_path / "cache"), *argv])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()  # nothing built before the checks
