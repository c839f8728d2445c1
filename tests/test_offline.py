"""The offline recipe: its corpus uses train-role photos only, combined distortions, their MOS, and the tiny end-to-end run."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from itertools import product

import numpy as np
import pytest

from iqa import distortions, kadid
from iqa.data import offline_corpus as offline
from iqa.data import photos as registry
from iqa.data.synthetic import combined_mos, synthetic_mos

TINY_CROPS = {"pretrain": 1, "pretrain_val": 1, "finetune": 1, "finetune_val": 1, "finetune_test": 1}
TINY_VARIANTS = {"pretrain": 2, "pretrain_val": 1, "finetune": 2, "finetune_val": 1, "finetune_test": 1}
# Train photos inside the scikit-image wheel (colour and grey): tests never fetch.
INSTALLED = ["coffee", "camera", "astronaut", "rocket", "motorcycle"]


def _members(root):
    """(json meta of every sample, shard path) over every shard under ``root``."""
    for shard in sorted(root.glob("*/*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar.getmembers():
                if member.name.endswith(".json"):
                    yield json.load(io.BytesIO(tar.extractfile(member).read())), shard


@pytest.mark.unit
def test_roles_hold_only_trainable_photos_and_never_share_one():
    roles = offline.roles()
    heldout = set(registry.heldout_names())
    assert heldout, "the registry must hold out some photos"
    for names in roles.values():
        for name in names:
            assert registry.BY_NAME[name].role == "train" and name not in heldout
    train, val, test = set(roles["finetune"]), set(roles["finetune_val"]), set(roles["finetune_test"])
    assert train and val and test and not (train & val) and not (train & test) and not (val & test)
    assert set(roles["pretrain"]) == train and set(roles["pretrain_val"]) == val


@pytest.mark.unit
@pytest.mark.parametrize("name", [*registry.heldout_names(), "motorcycle_right", "logo"])
def test_a_heldout_or_excluded_photo_is_refused(name, tmp_path):
    with pytest.raises(registry.HeldOutPhotoError):
        offline.roles(photos=["astronaut", name])
    with pytest.raises(registry.HeldOutPhotoError):
        offline.roles(val=[name])
    with pytest.raises(registry.HeldOutPhotoError):
        offline.load_trainable(name)
    with pytest.raises(registry.HeldOutPhotoError):
        offline.ensure_offline_corpus(tmp_path / "offline", size=32, crops=TINY_CROPS, variants=TINY_VARIANTS, photos=["coffee", name])
    assert not (tmp_path / "offline").exists()


@pytest.mark.unit
def test_built_corpus_reads_only_train_role_photos(tmp_path, monkeypatch):
    """Every photo file the builder opens is a train-role photo, and every sample names one."""
    opened = []
    real = registry.load_photo

    def spy(name):
        opened.append(name)
        return real(name)

    monkeypatch.setattr(registry, "load_photo", spy)
    root = offline.ensure_offline_corpus(tmp_path / "offline", size=32, crops=TINY_CROPS, variants=TINY_VARIANTS,
                                         photos=INSTALLED, family="classic")
    assert opened and {registry.BY_NAME[n].role for n in opened} == {"train"}
    assert not set(opened) & set(registry.heldout_names())
    metas = [meta for meta, _ in _members(root)]
    record = json.loads((root / "demo.json").read_text())
    assert len(metas) == sum(record["counts"].values())
    assert {meta["reference"] for meta in metas} <= {p.name for p in registry.photos("train")}
    by_role = {}
    for meta in metas:
        by_role.setdefault(meta["role"], set()).add(meta["reference"])
    assert by_role["finetune_val"] == set(offline.VAL_PHOTOS) and by_role["finetune_test"] == set(offline.TEST_PHOTOS)
    for meta in metas:
        assert ("mos" in meta) == (meta["role"] not in offline.UNLABELLED_ROLES)
        if "mos" in meta:
            assert meta["mos"] == combined_mos([level for _, level in meta["steps"]])
        assert all(name in distortions.DISTORTIONS for name, _ in meta["steps"])
        if not registry.BY_NAME[meta["reference"]].colour:
            assert "saturation_decrease" not in {name for name, _ in meta["steps"]}


@pytest.mark.unit
def test_the_default_build_uses_every_train_photo_and_the_seen_kadid_types():
    params = offline.build_params(32, None, None, None, 0.25, 1.0, 3, 0.5, 0, 512)
    used = {name for names in params["roles"].values() for name in names}
    assert used == {p.name for p in registry.photos("train")} and len(used) >= 140
    assert params["family"] == "kadid" and params["unseen"] == list(kadid.UNSEEN_DEFAULT)
    assert params["types"] == [t for t in kadid.TYPES if t not in kadid.UNSEEN_DEFAULT] and len(params["types"]) == 20


@pytest.mark.unit
def test_a_kadid_build_holds_only_seen_types_with_the_monotone_mos(tmp_path):
    variants = {role: 12 for role in TINY_VARIANTS}
    root = offline.ensure_offline_corpus(tmp_path / "k", size=32, crops=TINY_CROPS, variants=variants, photos=INSTALLED,
                                         unseen=["jpeg2000", "denoise", "lens_blur"])
    metas = [meta for meta, _ in _members(root)]
    drawn = {name for meta in metas for name, _ in meta["steps"]}
    allowed = set(kadid.TYPES) - {"jpeg2000", "denoise", "lens_blur"}
    assert drawn <= allowed and len(drawn) >= 12  # many of the family's types, never an unseen one
    assert any(len(meta["steps"]) > 1 for meta in metas)  # KADIS-style combinations
    for meta in metas:
        if "mos" in meta:
            assert meta["mos"] == kadid.recipe_mos([tuple(step) for step in meta["steps"]])
        if not registry.BY_NAME[meta["reference"]].colour:
            assert not {name for name, _ in meta["steps"]} & set(kadid.COLOUR_ONLY)


def _pngs(root, folder):
    """{sample key: PNG bytes} of every shard under ``root/folder``."""
    out = {}
    for shard in sorted((root / folder).glob("*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar.getmembers():
                if member.name.endswith(".png"):
                    out[member.name] = tar.extractfile(member).read()
    return out


@pytest.mark.unit
def test_ladders_put_one_type_at_every_level_in_each_mos_crop_and_leave_pretraining_alone(tmp_path):
    variants = {role: 7 for role in TINY_VARIANTS}
    small = {"size": 32, "crops": {**TINY_CROPS, "finetune": 2}, "variants": variants, "photos": INSTALLED}
    plain = offline.ensure_offline_corpus(tmp_path / "plain", **small)
    laddered = offline.ensure_offline_corpus(tmp_path / "ladders", ladders=1, **small)
    seen = set(offline.seen_types())
    crops = {}
    for meta, _ in _members(laddered):
        crops.setdefault((meta["role"], meta["reference"], meta["crop"]), {})[meta["variant"]] = meta
    mos_crops = [key for key in crops if key[0] not in offline.UNLABELLED_ROLES]
    assert len(mos_crops) == 2 * 3 + 1 + 1  # finetune: 3 photos x 2 crops; one validation and one test photo
    ladder_types = set()
    for key in mos_crops:
        versions = crops[key]
        assert sorted(versions) == list(range(8)) and versions[0]["steps"] == []
        ladder = [versions[v]["steps"] for v in range(1, 6)]
        (name,) = {steps[0][0] for steps in ladder}  # one type ...
        assert ladder == [[[name, level]] for level in range(1, 6)]  # ... alone, at levels 1..5 in order
        assert [versions[v]["mos"] for v in range(1, 6)] == pytest.approx([synthetic_mos(level) for level in range(1, 6)])
        assert name in seen
        if not registry.BY_NAME[key[1]].colour:
            assert name not in kadid.COLOUR_ONLY
        ladder_types.add(name)
    assert len(ladder_types) >= 3  # drawn per crop, not one type for the whole build
    # the unlabelled pretraining roles are byte-identical to the build without ladders; the MOS roles are not
    assert _pngs(laddered, "corpus") == _pngs(plain, "corpus") and _pngs(laddered, "corpus")
    assert _pngs(laddered, "iqa").keys() == _pngs(plain, "iqa").keys() and _pngs(laddered, "iqa") != _pngs(plain, "iqa")
    # a build without ladders keeps the parameters (and so the content hash) it had before the option existed
    assert "ladders" not in offline.build_params(32, None, None, None, 0.25, 1.0, 3, 0.5, 0, 512)
    assert offline.build_params(32, None, None, None, 0.25, 1.0, 3, 0.5, 0, 512, ladders=2)["ladders"] == 2


@pytest.mark.unit
def test_type_weights_reshape_the_mos_roles_draws_and_leave_pretraining_alone(tmp_path):
    from iqa.errors import UserError

    small = {"size": 32, "crops": {**TINY_CROPS, "finetune": 2}, "variants": TINY_VARIANTS, "photos": INSTALLED}
    plain = offline.ensure_offline_corpus(tmp_path / "plain", **small)
    weighted = offline.ensure_offline_corpus(tmp_path / "weighted", type_weights={"non_eccentricity_patch": 1000.0}, **small)

    def share(root, mos):
        versions = [meta for meta, _ in _members(root) if meta["steps"] and (meta["role"] not in offline.UNLABELLED_ROLES) == mos]
        return np.mean([any(name == "non_eccentricity_patch" for name, _ in meta["steps"]) for meta in versions])

    assert share(weighted, mos=True) > 0.9 and share(plain, mos=True) < 0.3
    assert share(weighted, mos=False) == share(plain, mos=False) < 0.3
    assert _pngs(weighted, "corpus") == _pngs(plain, "corpus") and _pngs(weighted, "corpus")
    # unset, the parameters (and so the content hash) are what they were before the option existed
    args = (32, None, None, None, 0.25, 1.0, 3, 0.5, 0, 512)
    assert "type_weights" not in offline.build_params(*args) and "type_weights" not in offline.build_params(*args, type_weights={})
    assert offline.build_params(*args, type_weights={"jpeg": 2, "denoise": 3})["type_weights"] == {"jpeg": 2.0, "denoise": 3.0}
    with pytest.raises(UserError, match=r"types that training leaves out \(unseen\): mean_shift; training types: gaussian_blur, "):
        offline.build_params(*args, type_weights={"mean_shift": 2.0})
    with pytest.raises(UserError, match="type_weights needs family=kadid"):
        offline.build_params(*args, family="classic", type_weights={"jpeg": 2.0})
    with pytest.raises(UserError, match=r"data.prepare.type_weights: type weights must be finite numbers above 0"):
        offline.build_params(*args, type_weights={"jpeg": 0})
    with pytest.raises(UserError, match="valid types are"):
        offline.build_params(*args, type_weights={"blur": 2.0})


@pytest.mark.unit
def test_bad_ladders_fail_fast(tmp_path):
    from iqa.errors import UserError

    with pytest.raises(UserError, match=r"ladders=2 needs 10 distorted versions per crop in every MOS role; "
                                        r"data.prepare.variants gives \{'finetune': 7, 'finetune_val': 7, 'finetune_test': 7\}"):
        offline.ensure_offline_corpus(tmp_path / "a", size=32, photos=INSTALLED, ladders=2,
                                      variants={role: 7 for role in TINY_VARIANTS})
    with pytest.raises(UserError, match="ladders needs family=kadid"):
        offline.ensure_offline_corpus(tmp_path / "b", size=32, photos=INSTALLED, ladders=1, family="classic")
    for bad in (-1, 1.5, True):
        with pytest.raises(UserError, match="whole number >= 0"):
            offline.ensure_offline_corpus(tmp_path / "c", size=32, photos=INSTALLED, ladders=bad)
    assert not any((tmp_path / d).exists() for d in "abc")


@pytest.mark.unit
def test_bad_family_or_unseen_types_fail_fast_with_the_valid_choices(tmp_path):
    from iqa.errors import UserError

    with pytest.raises(UserError, match="valid families are kadid, classic"):
        offline.ensure_offline_corpus(tmp_path / "a", size=32, photos=INSTALLED, family="kadis")
    with pytest.raises(UserError, match="unknown KADID types in unseen: \\['blur'\\]; valid types are gaussian_blur"):
        offline.ensure_offline_corpus(tmp_path / "b", size=32, photos=INSTALLED, unseen=["blur"])
    with pytest.raises(UserError, match="leaves no KADID type"):
        offline.ensure_offline_corpus(tmp_path / "c", size=32, photos=INSTALLED, unseen=list(kadid.TYPES))
    assert not any((tmp_path / d).exists() for d in "abc")


@pytest.mark.unit
def test_missing_photos_are_fetched_once_before_the_build(monkeypatch):
    from iqa.data import photo_sources

    calls = []
    monkeypatch.setattr(registry, "available", lambda photo: photo.name != "gc_colosseum" and photo.name != "coffee")
    monkeypatch.setattr(photo_sources, "fetch", lambda photos, *a, **k: calls.append([p.name for p in photos]))
    offline.fetch_missing(["coffee", "camera", "coffee"])
    assert calls == [["coffee"]]
    offline.fetch_missing(["camera"])
    assert calls == [["coffee"]]
    with pytest.raises(registry.HeldOutPhotoError):
        offline.fetch_missing(["grace_hopper"])


@pytest.mark.unit
def test_the_build_is_byte_identical_per_seed_and_changes_with_it(tmp_path):
    small = {"size": 32, "crops": TINY_CROPS, "variants": TINY_VARIANTS, "photos": ["coffee", "camera", "rocket", "motorcycle"]}
    a = json.loads((offline.ensure_offline_corpus(tmp_path / "a", **small) / "demo.json").read_text())
    b = json.loads((offline.ensure_offline_corpus(tmp_path / "b", **small) / "demo.json").read_text())
    c = json.loads((offline.ensure_offline_corpus(tmp_path / "c", seed=1, **small) / "demo.json").read_text())
    assert a["content_sha256"] == b["content_sha256"] != c["content_sha256"]


@pytest.mark.unit
def test_random_steps_are_deterministic_per_seed_and_well_formed():
    def draw(seed):
        rng = np.random.default_rng(seed)
        return [distortions.random_steps(rng, max_types=3, p_single=0.3) for _ in range(300)]

    first, again, other = draw(7), draw(7), draw(8)
    assert first == again and first != other
    sizes = {len(steps) for steps in first}
    assert sizes == {1, 2, 3}
    for steps in first:
        names = [name for name, _ in steps]
        assert len(set(names)) == len(names) and all(1 <= level <= distortions.NUM_LEVELS for _, level in steps)
        assert not {"brighten", "darken"} <= set(names)
    assert {name for steps in first for name, _ in steps} == set(distortions.DISTORTIONS)
    only = [distortions.random_steps(np.random.default_rng(s), names=("jpeg", "darken")) for s in range(50)]
    assert {name for steps in only for name, _ in steps} == {"jpeg", "darken"}
    with pytest.raises(ValueError, match="unknown distortions"):
        distortions.random_steps(np.random.default_rng(0), names=("pixelate",))


@pytest.mark.unit
def test_combined_distortions_compose_deterministically_per_seed():
    image = np.random.default_rng(0).random((24, 24, 3), dtype=np.float32)
    steps = [("gaussian_noise", 3), ("jpeg", 2), ("contrast_decrease", 4)]
    one = distortions.compose(image, steps, np.random.default_rng(5))
    two = distortions.compose(image, steps, np.random.default_rng(5))
    three = distortions.compose(image, steps, np.random.default_rng(6))
    assert one.dtype == np.float32 and one.shape == image.shape and np.array_equal(one, two) and not np.array_equal(one, three)
    # Composition is the distortions applied in order.
    rng = np.random.default_rng(5)
    by_hand = image
    for name, level in steps:
        by_hand = distortions.apply(by_hand, name, level, rng)
    assert np.array_equal(one, by_hand)
    assert np.array_equal(distortions.compose(image, [], None), image)


@pytest.mark.unit
def test_combined_mos_extends_the_single_distortion_mos_and_is_monotone():
    levels = range(distortions.NUM_LEVELS + 1)
    assert combined_mos([]) == 5.0
    for level in levels:
        assert combined_mos([level]) == pytest.approx(synthetic_mos(level))
    for combo in product(levels, repeat=3):
        mos = combined_mos(combo)
        assert 1.0 <= mos <= 5.0
        assert mos <= min(combined_mos([level]) for level in combo) + 1e-9  # an added distortion never helps
        for index in range(3):  # raising any one level never raises the MOS
            if combo[index] < distortions.NUM_LEVELS:
                worse = list(combo)
                worse[index] += 1
                assert combined_mos(worse) <= mos
                if 5 not in combo:
                    assert combined_mos(worse) < mos
    assert combined_mos([2, 2]) < combined_mos([2]) and combined_mos([1, 5]) == 1.0
    with pytest.raises(ValueError):
        combined_mos([6])


@pytest.mark.unit
def test_offline_steps_are_the_pipeline_commands():
    from iqa.cli.recipes import model_steps as steps

    plan = steps("out", pretrain_loss="ranking", finetune_data="uniform")  # recipe version 1's options
    assert [s[0] for s in plan] == ["label", "train", "train", "train", "evaluate"]
    assert all("experiment=offline" in s for s in plan)
    assert plan[1][1:] == ["experiment=offline", "stage=pretrain"]  # the stage's own loss: ranking
    assert steps("out", pretrain_loss="regression")[1][1:] == ["experiment=offline", "stage=pretrain", "loss=regression"]
    # The defaults are recipe version 3's (and 2's): regression pretraining, weighted fine-tuning data.
    assert steps("out") == steps("out", pretrain_loss="regression", finetune_data="weighted") != plan
    assert "init=out/offline/pretrain/checkpoints/last.ckpt" in plan[2] and "init=imagenet" in plan[3]
    assert plan[2][2:4] == plan[3][2:4] == ["stage=finetune", "loss=regression_ranking"]
    assert "stage.head=${offline.finetune.head}" in plan[2] and not any(a.startswith("stage.head") for a in plan[3])
    anchor = "stage.module.attribute_anchor=${offline.finetune.attribute_anchor}"
    assert anchor in plan[2] and not any("attribute_anchor" in a for a in plan[3])  # ImageNet-only: no heads to hold
    probe = steps("out", "ridge_probe", finetune_data="uniform")[2]
    assert probe[2:4] == ["stage=ridge_probe", "init=out/offline/pretrain/checkpoints/last.ckpt"]
    with pytest.raises(ValueError):
        steps("out", "pretrain")
    with pytest.raises(ValueError, match="ranking, regression"):
        steps("out", pretrain_loss="fidelity")
    # Weighted fine-tuning data: both quality steps (so the ImageNet-only twin sees the same data), nothing before them.
    weighted = steps("out", pretrain_loss="ranking", finetune_data="weighted")
    for step in weighted[2:4]:
        assert "data.prepare.type_weights={non_eccentricity_patch:5,contrast_change:2}" in step
        assert "data.root=${paths.data_dir}/offline-weighted" in step
    assert weighted[:2] == plan[:2] and weighted[4] == plan[4]
    assert not any("type_weights" in a or a.startswith("data.root") for step in plan for a in step)
    with pytest.raises(ValueError, match="uniform, weighted"):
        steps("out", finetune_data="heavy")


@pytest.fixture
def refused_only(monkeypatch):
    """For tests where every ``iqa model`` call must be refused: a call that got through would start a real recipe run
    (half an hour, in the working directory), so it fails at once instead."""
    from iqa.cli import recipes

    def ran(*args, **kwargs):
        raise AssertionError(f"iqa model was not refused and started its steps: {args[0]}")

    monkeypatch.setattr(recipes, "run_steps", ran)


@pytest.mark.unit
def test_model_command_rejects_unknown_choices_and_lists_the_valid_ones(capsys, refused_only):
    from iqa.cli.recipes import ANCHOR_KEY as ANCHOR
    from iqa.cli.recipes import model

    assert model(["--pretrain-loss", "fidelity"]) == 2
    assert "--pretrain-loss takes one of ranking, regression, got fidelity" in capsys.readouterr().err
    assert model(["--finetune-stage"]) == 2
    assert "--finetune-stage takes one of ridge_probe, finetune, linear_probe, got nothing" in capsys.readouterr().err
    assert model(["--finetune-data", "heavy"]) == 2
    assert "--finetune-data takes one of uniform, weighted, got heavy" in capsys.readouterr().err
    assert model(["--recipe", "4"]) == 2
    assert "--recipe takes one of 1, 2, 3, got 4" in capsys.readouterr().err
    for weight in ("-0.5", "heavy", "nan"):
        assert model([f"offline.finetune.attribute_anchor={weight}"]) == 2
        assert f"offline.finetune.attribute_anchor takes a weight >= 0, got {weight}" in capsys.readouterr().err
    for steps in ("0", "-3", "1.5", "many"):
        assert model([f"offline.pretrain.max_steps={steps}"]) == 2
        assert f"offline.pretrain.max_steps takes a whole number of steps >= 1, got {steps}" in capsys.readouterr().err
    for steps in ("0", "700.5"):
        assert model([f"offline.finetune.max_steps={steps}"]) == 2
        assert f"offline.finetune.max_steps takes a whole number of steps >= 1, got {steps}" in capsys.readouterr().err
    assert model(["offline.finetune.head=deep"]) == 2
    assert "offline.finetune.head takes one of linear, grounded, got deep" in capsys.readouterr().err
    # The stage keys behind the recorded ones would reach both fine-tunes unrecorded: refused, naming the key to give.
    for given, key in (("stage.head=grounded", "offline.finetune.head"), ("+stage.module.attribute_anchor=1", ANCHOR)):
        assert model(["seed=1", given]) == 2
        assert f"would reach both fine-tunes and go unrecorded: give {key}=... instead" in capsys.readouterr().err


@pytest.mark.unit
def test_model_command_runs_recipe_version_3_unless_told_otherwise():
    from iqa.cli import recipes
    from iqa.cli.recipes import ANCHOR_KEY, HEAD_KEY, OVERRIDES_KEY, RECIPES, Recipe, parse_model_args

    steps, tune_steps, rate = recipes.PRETRAIN_STEPS_KEY, recipes.FINETUNE_STEPS_KEY, recipes.FINETUNE_LR_KEY
    v2 = {"--finetune-stage": "finetune", "--pretrain-loss": "regression", "--finetune-data": "weighted", ANCHOR_KEY: "0.1",
          steps: "400", tune_steps: "700", HEAD_KEY: "linear", rate: "0.0003", OVERRIDES_KEY: {}}
    v2_overrides = [f"{ANCHOR_KEY}=0.1", f"{steps}=400", f"{HEAD_KEY}=linear", f"{tune_steps}=700", f"{rate}=0.0003"]
    v3 = {**v2, rate: "0.0006"}  # version 2 fine-tuned at 6e-4, the default
    v3_overrides = [*v2_overrides[:4], f"{rate}=0.0006"]
    assert parse_model_args([]) == (v3, v3_overrides) and parse_model_args(["--recipe", "3"]) == (v3, v3_overrides)
    assert parse_model_args(["--recipe", "2", "seed=3"]) == ({**v2, OVERRIDES_KEY: {"seed": "3"}}, [*v2_overrides, "seed=3"])
    v1 = {**v2, "--pretrain-loss": "ranking", "--finetune-data": "uniform", ANCHOR_KEY: "0"}
    assert parse_model_args(["seed=1", "--recipe", "1"]) == ({**v1, OVERRIDES_KEY: {"seed": "1"}},
                                                             [f"{ANCHOR_KEY}=0", *v2_overrides[1:], "seed=1"])
    # One option changes one thing of the version; the user's anchor, steps and head come after the version's, so they win.
    options, overrides = parse_model_args(["--recipe", "1", "--pretrain-loss", "regression", f"{ANCHOR_KEY}=0.25", f"{steps}=800",
                                           f"{HEAD_KEY}=grounded", f"{tune_steps}=1000", f"{rate}=6.0e-4"])
    assert options == {**v1, "--pretrain-loss": "regression", ANCHOR_KEY: "0.25", steps: "800", HEAD_KEY: "grounded",
                       tune_steps: "1000", rate: "0.0006"}  # recorded on their own, not among the other overrides
    assert overrides == [f"{ANCHOR_KEY}=0.25", f"{steps}=800", f"{HEAD_KEY}=grounded", f"{tune_steps}=1000",
                         f"{rate}=6.0e-4"]  # one value each
    assert parse_model_args([f"{tune_steps}=1000", "seed=2"])[1] == [*v3_overrides[:3], v3_overrides[4], f"{tune_steps}=1000", "seed=2"]
    # The rate given to version 3 replaces its own: version 2's options, recorded as such.
    assert parse_model_args([f"{rate}=3.0e-4"]) == (v2, [*v2_overrides[:4], f"{rate}=3.0e-4"])
    assert RECIPES["2"].command == "iqa model --pretrain-loss regression --finetune-data weighted offline.finetune.attribute_anchor=0.1"
    longer = Recipe("regression", "uniform", 0.1, pretrain_steps=1200)  # the steps are named only where they differ
    assert longer.command.endswith(" offline.finetune.attribute_anchor=0.1 offline.pretrain.max_steps=1200")
    grounded = Recipe("regression", "uniform", 0.1, quality_head="grounded")  # ... and the head likewise
    assert grounded.command.endswith(" offline.finetune.attribute_anchor=0.1 offline.finetune.head=grounded")
    assert f"{HEAD_KEY}=grounded" in grounded.overrides and grounded.recorded[HEAD_KEY] == "grounded"
    longer_finetune = Recipe("regression", "weighted", 0.1, finetune_steps=1000)
    assert longer_finetune.command.endswith(" offline.finetune.attribute_anchor=0.1 offline.finetune.max_steps=1000")
    assert f"{tune_steps}=1000" in longer_finetune.overrides and longer_finetune.recorded[tune_steps] == "1000"
    faster = Recipe("regression", "weighted", 0.1, finetune_lr=6.0e-4)  # ... and the rate likewise
    assert faster.command.endswith(" offline.finetune.attribute_anchor=0.1 offline.finetune.lr=0.0006")
    assert f"{rate}=0.0006" in faster.overrides and RECIPES["2"].recorded[rate] == "0.0003"
    assert faster == RECIPES["3"] and RECIPES["3"].command == f"{RECIPES['2'].command} offline.finetune.lr=0.0006"


@pytest.mark.unit
def test_recipe_pretraining_steps_reach_the_pretraining_only(compose):
    from iqa.cli.recipes import model_steps, parse_model_args

    for args, expected in ((["--recipe", "1"], 400), ([], 400), (["offline.pretrain.max_steps=1200"], 1200)):
        options, overrides = parse_model_args(args)
        pretrain, finetune = model_steps("out", options["--finetune-stage"], options["--pretrain-loss"], options["--finetune-data"])[1:3]
        assert compose("train", [*pretrain[1:], *overrides]).stage.max_steps == expected
        assert compose("train", [*finetune[1:], *overrides]).stage.max_steps == 700  # the fine-tune's budget does not move
    # The fine-tunes' steps reach both fine-tunes (the twin keeps the same budget) and not the pretraining.
    options, overrides = parse_model_args(["offline.finetune.max_steps=1000"])
    pretrain, finetune, twin = model_steps("out", options["--finetune-stage"], options["--pretrain-loss"], options["--finetune-data"])[1:4]
    assert [compose("train", [*step[1:], *overrides]).stage.max_steps for step in (pretrain, finetune, twin)] == [400, 1000, 1000]
    # The fine-tunes' rate likewise: both fine-tunes, not the pretraining.
    pretrain_lr = compose("train", [*pretrain[1:], *parse_model_args([])[1]]).stage.optimizer.lr
    for args, rate in (([], 6.0e-4), (["--recipe", "2"], 3.0e-4), (["offline.finetune.lr=1.0e-4"], 1.0e-4)):
        overrides = parse_model_args(args)[1]
        rates = [compose("train", [*step[1:], *overrides]).stage.optimizer.lr for step in (pretrain, finetune, twin)]
        assert rates == [pretrain_lr, rate, rate] and pretrain_lr != rate, args


@pytest.mark.unit
def test_recorded_options_defaults_are_experiment_offline_s_own(compose):
    """A version's command names only the recorded values it changes from experiment=offline's: the table of those
    values must be what the experiment composes to, or a command would leave out a change."""
    from omegaconf import OmegaConf

    from iqa.cli.recipes import ANCHOR_KEY, EXPERIMENT_VALUES, RECIPE, RECIPES, same_option

    cfg = compose("train", ["experiment=offline"])
    for key, value in EXPERIMENT_VALUES.items():
        assert same_option(key, OmegaConf.select(cfg, key), value), (key, OmegaConf.select(cfg, key), value)
    # The anchor is named in every version's command; experiment=offline's own default is the default version's.
    assert same_option(ANCHOR_KEY, OmegaConf.select(cfg, ANCHOR_KEY), RECIPES[RECIPE].recorded[ANCHOR_KEY])


@pytest.mark.unit
def test_a_recipe_folder_refuses_a_rerun_with_other_options(tmp_path, refused_only):
    from iqa.cli.recipes import check_recipe_options, model

    out = str(tmp_path / "o")
    ranking = {"--finetune-stage": "finetune", "--pretrain-loss": "ranking", "--finetune-data": "uniform"}
    regression = {**ranking, "--pretrain-loss": "regression"}
    assert check_recipe_options(out, ranking) is None and check_recipe_options(out, ranking) is None  # a rerun continues
    assert json.loads((tmp_path / "o" / "offline" / "recipe.json").read_text()) == ranking
    problem = check_recipe_options(out, regression)
    assert "--pretrain-loss ranking there, regression now" in problem and "paths.output_dir" in problem
    assert json.loads((tmp_path / "o" / "offline" / "recipe.json").read_text()) == ranking  # the record is kept
    # A folder with runs from before the record: made with version 1, whose anchor was off.
    old = tmp_path / "old"
    (old / "offline" / "pretrain" / "checkpoints").mkdir(parents=True)
    assert "--pretrain-loss ranking there" in check_recipe_options(str(old), regression)
    assert model(["--pretrain-loss", "regression", f"paths.output_dir={old}"]) == 2
    assert model([f"paths.output_dir={old}"]) == 2  # the default, version 3, does not reuse version 1's runs
    anchored = {**ranking, "offline.finetune.attribute_anchor": "0.1"}
    assert "offline.finetune.attribute_anchor 0 there, 0.1 now" in check_recipe_options(str(old), anchored)
    assert check_recipe_options(str(old), {**ranking, "offline.finetune.attribute_anchor": "0.0"}) is None  # same weight
    fresh = tmp_path / "fresh"
    assert check_recipe_options(str(fresh), regression) is None and check_recipe_options(str(fresh), regression) is None
    # Pretraining steps: version 1's runs pretrained 400; a recorded count refuses another, written either way.
    steps = "offline.pretrain.max_steps"
    assert f"{steps} 400 there, 1200 now" in check_recipe_options(str(old), {**ranking, steps: "1200"})
    assert check_recipe_options(str(fresh), {**regression, steps: "1200"}) is None
    assert f"{steps} 1200 there, 400 now" in check_recipe_options(str(fresh), {**regression, steps: "400"})
    assert model(["--finetune-data", "uniform", f"paths.output_dir={fresh}"]) == 2  # the same options but 400 steps
    # The quality head (version 1's runs had the free, linear one) and the fine-tunes' steps (700 in version 1): a recorded
    # value refuses another, and iqa model with the version's value refuses a folder recorded with the other.
    for key, version_1, other in (("offline.finetune.head", "linear", "grounded"), ("offline.finetune.max_steps", "700", "1000"),
                                  ("offline.finetune.lr", "0.0003", "0.0006")):
        assert f"{key} {version_1} there, {other} now" in check_recipe_options(str(old), {**ranking, key: other})
        recorded = tmp_path / f"recorded-{other}"
        assert check_recipe_options(str(recorded), {**regression, key: other}) is None
        assert f"{key} {other} there, {version_1} now" in check_recipe_options(str(recorded), {**regression, key: version_1})
        # (version 2: version 3's rate is 0.0006, the recorded one here)
        assert model(["--recipe", "2", "--finetune-data", "uniform", f"paths.output_dir={recorded}"]) == 2
    # A record from before the rate was recorded on its own holds it among the other overrides: compared as recorded,
    # and written back on its own.
    lifted = tmp_path / "lifted" / "offline"
    lifted.mkdir(parents=True)
    (lifted / "recipe.json").write_text(json.dumps({**regression, "overrides": {"offline.finetune.lr": "1.0e-4", "seed": "2"}}))
    slow, seed_2 = {**regression, "offline.finetune.lr": "0.0001"}, {"overrides": {"seed": "2"}}
    usual = {**regression, "offline.finetune.lr": "0.0003", **seed_2}
    assert "offline.finetune.lr 1.0e-4 there, 0.0003 now" in check_recipe_options(str(lifted.parent), usual)
    assert "seed=2 there, seed=(not given) now" in check_recipe_options(str(lifted.parent), {**slow, "overrides": {}})
    assert check_recipe_options(str(lifted.parent), {**slow, **seed_2}) is None
    assert json.loads((lifted / "recipe.json").read_text()) == {**slow, **seed_2}
    # A hand-edited record whose number does not parse is a difference, not a crash.
    edited = tmp_path / "edited" / "offline"
    edited.mkdir(parents=True)
    (edited / "recipe.json").write_text(json.dumps({**ranking, "offline.finetune.attribute_anchor": "a little"}))
    assert "attribute_anchor a little there, 0.1 now" in check_recipe_options(str(tmp_path / "edited"), anchored)
    for broken in ('{"--pretrain-loss": "ranking"', '["ranking"]', "\xff"):  # cut short, not an object, not text
        (edited / "recipe.json").write_bytes(broken.encode("latin-1"))
        problem = check_recipe_options(str(tmp_path / "edited"), ranking)
        assert problem.startswith(f"cannot read the recipe record {edited / 'recipe.json'}") and "start over" in problem
        assert (edited / "recipe.json").read_bytes() == broken.encode("latin-1")  # left as it was
    # A record from before --finetune-data existed was made with uniform data: weighted data must not reuse its runs.
    older = tmp_path / "older" / "offline"
    older.mkdir(parents=True)
    (older / "recipe.json").write_text(json.dumps({"--finetune-stage": "finetune", "--pretrain-loss": "ranking"}))
    assert "--finetune-data uniform there, weighted now" in check_recipe_options(str(tmp_path / "older"),
                                                                                  {**ranking, "--finetune-data": "weighted"})
    assert check_recipe_options(str(tmp_path / "older"), ranking) is None
    assert json.loads((older / "recipe.json").read_text()) == ranking
    # ... and says nothing of the anchor, which is then recorded for the next run to be held to.
    assert check_recipe_options(str(tmp_path / "older"), anchored) is None
    assert "attribute_anchor 0.1 there, 0 now" in check_recipe_options(str(tmp_path / "older"),
                                                                       {**ranking, "offline.finetune.attribute_anchor": "0"})


@pytest.mark.unit
def test_a_recipe_folder_records_the_overrides_that_change_what_is_trained(tmp_path, capsys, refused_only):
    from iqa.cli.recipes import OVERRIDES_KEY, check_recipe_options, model, output_dir, parse_model_args, training_overrides

    args = ["seed=1", "stage.max_steps=12", "~data.prepare.unseen", "+data.prepare.ladders=1", "paths.output_dir=x",
            "stage.num_workers=0", "stage.torch_threads=1", "trainer.enable_progress_bar=false", "logger=csv",
            "offline.finetune.max_steps=900"]
    # What changes the runs is recorded; where outputs go and how a step runs is not; the recorded options stay apart.
    assert training_overrides(args) == {"data.prepare.ladders": "1", "data.prepare.unseen": "~", "seed": "1", "stage.max_steps": "12"}
    out = str(tmp_path / "o")
    seed_1 = parse_model_args(["seed=1", "stage.max_steps=12"])[0]
    assert check_recipe_options(out, seed_1) is None
    assert json.loads((tmp_path / "o" / "offline" / "recipe.json").read_text())[OVERRIDES_KEY] == {"seed": "1", "stage.max_steps": "12"}
    # The same overrides with other threads continue; another seed, or the steps left out, stop with what differs.
    assert check_recipe_options(out, parse_model_args(["stage.max_steps=12", "stage.torch_threads=1", "seed=1"])[0]) is None
    problem = check_recipe_options(out, parse_model_args(["seed=2", "stage.max_steps=12"])[0])
    assert "seed=1 there, seed=2 now" in problem and "stage.max_steps" not in problem and "paths.output_dir" in problem
    problem = check_recipe_options(out, parse_model_args(["seed=1"])[0])
    assert "stage.max_steps=12 there, stage.max_steps=(not given) now" in problem
    assert model([f"paths.output_dir={tmp_path / 'o'}", "seed=2", "stage.max_steps=12"]) == 2
    assert "seed=1 there, seed=2 now" in capsys.readouterr().err
    # Hydra keeps the last paths.output_dir given; the record is read from that folder too, not from the first.
    assert output_dir([f"paths.output_dir={tmp_path / 'elsewhere'}", f"paths.output_dir={out}"]) == out
    assert output_dir([f"++paths.output_dir={out}", "paths.output_dir_suffix=x"]) == out
    assert model([f"paths.output_dir={tmp_path / 'elsewhere'}", f"paths.output_dir={out}", "seed=2", "stage.max_steps=12"]) == 2
    assert "seed=1 there, seed=2 now" in capsys.readouterr().err and not (tmp_path / "elsewhere").exists()
    assert json.loads((tmp_path / "o" / "offline" / "recipe.json").read_text()) == seed_1  # the record is kept
    # A record from before the overrides were recorded says nothing about them; they are recorded for the next run.
    older = tmp_path / "older" / "offline"
    older.mkdir(parents=True)
    (older / "recipe.json").write_text(json.dumps({k: v for k, v in seed_1.items() if k != OVERRIDES_KEY}))
    assert check_recipe_options(str(tmp_path / "older"), parse_model_args(["seed=2", "stage.max_steps=12"])[0]) is None
    assert "seed=2 there, seed=1 now" in check_recipe_options(str(tmp_path / "older"), seed_1)


@pytest.mark.unit
def test_recipe_pretraining_loss_composes_to_the_loss_named(compose):
    from iqa.cli.recipes import model_steps
    from iqa.config import instantiate_node

    five = dict.fromkeys(("sharpness", "brightness", "contrast", "colorfulness", "noisiness"), 1.0)
    for name, kind in (("ranking", "RankingLoss"), ("regression", "RegressionLoss")):
        cfg = compose("train", model_steps("out", pretrain_loss=name)[1][1:])
        loss = instantiate_node(cfg.loss)
        assert cfg.stage.name == "pretrain" and type(loss).__name__ == kind and dict(loss.weights) == five


@pytest.mark.slow
def test_offline_recipe_runs_end_to_end_at_tiny_size(compose, tiny_stage, tmp_path):
    """experiment=offline composes and runs label -> pretrain -> two quality heads -> evaluate: the steps of make model,
    each composed and run in this process (the step runner itself is the demo's, run from the wheel in test_wheel)."""
    from iqa.cli.recipes import model_steps
    from iqa.evaluation.job import run as evaluate
    from iqa.teachers.labelling import label
    from iqa.training import train

    out, data = tmp_path / "outputs", tmp_path / "data"
    crops = "{" + ",".join(f"{k}:{v}" for k, v in TINY_CROPS.items()) + "}"
    variants = "{" + ",".join(f"{k}:{v}" for k, v in TINY_VARIANTS.items()) + "}"
    overrides = [f"paths.data_dir={data}", f"paths.output_dir={out}", f"paths.labels_dir={out}/labels", "data.prepare.size=64",
                 f"data.prepare.crops={crops}", f"data.prepare.variants={variants}", "data.prepare.photos=[coffee,camera]",
                 *tiny_stage, "num_workers=0"]
    jobs = {"label": label, "train": train, "evaluate": evaluate}
    for command, *step in model_steps(str(out)):
        jobs[command](compose(command, [*step, *overrides]))
    base = out / "offline"
    assert json.loads((base / "labels" / "manifest.json").read_text())
    record = json.loads((data / "offline" / "demo.json").read_text())
    assert set(record["params"]["roles"]["pretrain"]).isdisjoint(registry.heldout_names())
    pretrain = json.loads((base / "pretrain" / "summary.json").read_text())
    assert pretrain["global_step"] == 4
    for run in ("finetune-attiqa", "finetune-imagenet"):
        assert (base / run / "checkpoints" / "last.ckpt").is_file(), run
    attiqa = json.loads((base / "finetune-attiqa" / "summary.json").read_text())
    imagenet = json.loads((base / "finetune-imagenet" / "summary.json").read_text())
    assert attiqa["init"] == f"{base}/pretrain/checkpoints/last.ckpt" and imagenet["init"] == "imagenet"
    from iqa.checkpoints import read_meta

    # The recipe's checkpoints score at native pixel scale, as 64 px tiles here (the tiny corpus size), never enlarged.
    # Each run records its loss, so a folder cannot be resumed with another one.
    # Recipe version 2: regression pretraining; both fine-tunes on the weighted corpus, built beside the pretraining one.
    assert read_meta(base / "pretrain" / "checkpoints" / "last.ckpt").loss_name == "regression"
    assert read_meta(base / "finetune-attiqa" / "checkpoints" / "last.ckpt").loss_name == "regression_ranking"
    weighted = json.loads((data / "offline-weighted" / "demo.json").read_text())["params"]
    assert weighted["type_weights"] == {"non_eccentricity_patch": 5, "contrast_change": 2}
    view = read_meta(base / "finetune-attiqa" / "checkpoints" / "last.ckpt").view
    assert view == {"image_size": 320, "policy": "tiles", "crop_size": 64, "max_side": None, "upscale": False}
    results = json.loads((base / "results.json").read_text())["results"]
    assert set(results) == {"attribute_pretrained", "imagenet_only"}


def _ablations_module(repo_root):
    import importlib.util

    spec = importlib.util.spec_from_file_location("offline_ablations", repo_root / "benchmarks" / "offline_ablations.py")
    ablations = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = ablations  # dataclasses look their module up by name
    spec.loader.exec_module(ablations)
    return ablations


@pytest.mark.unit
def test_ablation_arms_compose_to_what_they_name(repo_root, compose, tmp_path):
    """Each arm's commands compose to the one change it names, for the seed and folder given; everything else is the
    recipe's: the fine-tune's loss, group size and head, the pretraining it starts from."""
    from iqa.config import instantiate_node
    from iqa.data import photos as registry

    ablations = _ablations_module(repo_root)
    from iqa.evaluation import heldout

    assert (ablations.FAMILY, ablations.CROPS_PER_PHOTO, ablations.SIZE, ablations.LADDER_SEED) == (
        heldout.CARD_FAMILY, heldout.CARD_CROPS_PER_PHOTO, heldout.CARD_SIZE, heldout.CARD_SEED)
    arms = ablations.arm_table(photos=12)
    seed_dir = tmp_path / "s3"
    base = f"{seed_dir}/offline"
    steps = {key: ablations.commands(arm, 3, seed_dir, [], 12) for key, arm in arms.items()}
    assert steps["reference"] == [] and steps["imagenet"] == []  # the recipe's own runs

    def composed(command):
        cfg = compose(command[0] if command[0] == "label" else "train", command[1:])
        assert cfg.seed == 3
        return cfg

    def finetune_checks(cfg, init, run_dir):
        assert cfg.stage.name == "finetune" and cfg.loss.name == "regression_ranking" and cfg.stage.group_size == 8
        assert cfg.net.init == init and cfg.run_dir == run_dir

    (head,) = steps["head"]
    cfg = composed(head)
    finetune_checks(cfg, f"{base}/pretrain/checkpoints/last.ckpt", f"{base}/finetune-grounded")
    assert cfg.stage.head == "grounded" and f"{seed_dir}/{arms['head'].run}" == cfg.run_dir

    for key, name in (("attributes", "sharpness_only"), ("loss", "regression_loss")):
        pretrain, finetune = (composed(c) for c in steps[key])
        assert pretrain.stage.name == "pretrain" and pretrain.run_dir == f"{base}/pretrain-{name}"
        loss = instantiate_node(pretrain.loss)
        if key == "loss":
            assert type(loss).__name__ == "RegressionLoss" and set(dict(loss.weights).values()) == {1.0}
        else:
            assert type(loss).__name__ == "RankingLoss" and dict(loss.weights) == {
                "sharpness": 1.0, "brightness": 0.0, "contrast": 0.0, "colorfulness": 0.0, "noisiness": 0.0}
        finetune_checks(finetune, f"{base}/pretrain-{name}/checkpoints/last.ckpt", f"{seed_dir}/{arms[key].run}")
        assert finetune.stage.head == "linear"

    (anchored,) = steps["anchor"]
    cfg = composed(anchored)
    finetune_checks(cfg, f"{base}/pretrain/checkpoints/last.ckpt", f"{seed_dir}/{arms['anchor'].run}")
    assert cfg.stage.module.attribute_anchor == 1.0 and cfg.stage.head == "linear" and cfg.run_dir.endswith("finetune-anchored-1")
    (lighter,) = ablations.commands(ablations.arm_table(12, anchor=0.1)["anchor"], 3, seed_dir, [], 12)
    assert composed(lighter).stage.module.attribute_anchor == 0.1 and composed(lighter).run_dir.endswith("finetune-anchored-0.1")
    assert compose("train", ["experiment=offline", "stage=finetune"]).stage.module.attribute_anchor == 0.0  # off by default

    # The ladder arms: their own fine-tuning data (ladders=1) beside the recipe's, from pretraining or ImageNet weights.
    ladder_cfgs = {key: composed(steps[key][0]) for key in ("ladders", "ladders_anchor", "ladders_imagenet")}
    for key, cfg in ladder_cfgs.items():
        init = "imagenet" if key == "ladders_imagenet" else f"{base}/pretrain/checkpoints/last.ckpt"
        finetune_checks(cfg, init, f"{seed_dir}/{arms[key].run}")
        assert cfg.data.prepare.ladders == 1 and cfg.data.root == f"{seed_dir}/data/offline-ladders" == cfg.data.prepare.root
        assert cfg.data.iqa.dataset.train == f"{seed_dir}/data/offline-ladders/iqa/train-*.tar"
        assert cfg.stage.module.attribute_anchor == (1.0 if key == "ladders_anchor" else 0.0)
    assert len({cfg.run_dir for cfg in ladder_cfgs.values()}) == 3
    assert compose("train", ["experiment=offline", "stage=finetune"]).data.prepare.ladders == 0  # off by default

    # The weighted arms: their own fine-tuning data (type_weights) beside the recipe's and the ladders'.
    weighted_cfgs = {key: composed(steps[key][0]) for key in ("weighted", "weighted_anchor", "weighted_imagenet")}
    for key, cfg in weighted_cfgs.items():
        init = "imagenet" if key == "weighted_imagenet" else f"{base}/pretrain/checkpoints/last.ckpt"
        finetune_checks(cfg, init, f"{seed_dir}/{arms[key].run}")
        assert dict(cfg.data.prepare.type_weights) == {"non_eccentricity_patch": 5, "contrast_change": 2}
        assert cfg.data.prepare.ladders == 0 and cfg.data.prepare.unseen is None  # unseen types: the recipe's
        assert cfg.data.root == f"{seed_dir}/data/offline-weighted" == cfg.data.prepare.root
        assert cfg.data.iqa.dataset.train == f"{seed_dir}/data/offline-weighted/iqa/train-*.tar"
        assert cfg.stage.module.attribute_anchor == (1.0 if key == "weighted_anchor" else 0.0)
        assert cfg.stage.head == "linear"
    assert len({cfg.run_dir for cfg in weighted_cfgs.values()} | {cfg.run_dir for cfg in ladder_cfgs.values()}) == 6
    assert compose("train", ["experiment=offline", "stage=finetune"]).data.prepare.type_weights is None  # off by default

    # Regression pretraining (the loss arm's run, trained first when missing), then the weighted, anchored fine-tune.
    pretrain, finetune = (composed(c) for c in steps["regression_weighted_anchor"])
    loss_pretrain = composed(steps["loss"][0])
    assert pretrain.run_dir == loss_pretrain.run_dir == f"{base}/pretrain-regression_loss"
    assert type(instantiate_node(pretrain.loss)).__name__ == "RegressionLoss"
    run_dir = f"{seed_dir}/{arms['regression_weighted_anchor'].run}"
    finetune_checks(finetune, f"{base}/pretrain-regression_loss/checkpoints/last.ckpt", run_dir)
    assert dict(finetune.data.prepare.type_weights) == {"non_eccentricity_patch": 5, "contrast_change": 2}
    assert finetune.data.root == weighted_cfgs["weighted_anchor"].data.root == f"{seed_dir}/data/offline-weighted"
    assert finetune.stage.module.attribute_anchor == 1.0 and finetune.stage.head == "linear"
    assert finetune.run_dir not in {cfg.run_dir for cfg in weighted_cfgs.values()}
    (_, lighter) = ablations.commands(ablations.arm_table(12, anchor=0.1)["regression_weighted_anchor"], 3, seed_dir, [], 12)
    assert composed(lighter).stage.module.attribute_anchor == 0.1
    assert composed(lighter).run_dir == f"{base}/finetune-regression-weighted-anchored-0.1"

    # Recipe version 2 is that arm (regression pretraining, weighted data, the anchor at 0.1), with the anchor given by the
    # version and by experiment=offline's own default alike.
    from iqa.cli.recipes import model_steps, parse_model_args

    options, version = parse_model_args(["--recipe", "2"])
    steps_v2 = model_steps(str(seed_dir), options["--finetune-stage"], options["--pretrain-loss"], options["--finetune-data"])
    recipe = [[*step, *version, *ablations.run_overrides(3, seed_dir)] for step in steps_v2]
    assert composed(model_steps(str(seed_dir))[2] + ablations.run_overrides(3, seed_dir)) == composed(recipe[2])
    v2_pretrain, v2_finetune, v2_twin = (composed(c) for c in recipe[1:4])
    assert type(instantiate_node(v2_pretrain.loss)) is type(instantiate_node(pretrain.loss))
    assert v2_pretrain.loss == pretrain.loss and v2_pretrain.stage == pretrain.stage and v2_pretrain.data == pretrain.data
    arm_finetune = composed(lighter)
    for field in ("data", "loss", "stage", "backbone", "seed"):
        assert v2_finetune[field] == arm_finetune[field], field
    assert v2_finetune.net.init == f"{base}/pretrain/checkpoints/last.ckpt"
    assert v2_twin.data == arm_finetune.data and v2_twin.net.init == "imagenet" and v2_twin.stage.module.attribute_anchor == 0.0
    # Version 3, the default, is version 2 with both fine-tunes at 6e-4 (the head at 10 times it) and nothing else changed.
    options_v3, version_3 = parse_model_args([])
    assert options_v3 == {**options, "offline.finetune.lr": "0.0006"}
    recipe_v3 = [composed([*step, *version_3, *ablations.run_overrides(3, seed_dir)]) for step in steps_v2[1:4]]
    assert recipe_v3[0].stage.optimizer.lr == v2_pretrain.stage.optimizer.lr == 1.0e-3
    for v3_cfg, v2_cfg in zip(recipe_v3[1:], (v2_finetune, v2_twin)):
        assert v3_cfg.stage.optimizer.lr == 6.0e-4 and v2_cfg.stage.optimizer.lr == 3.0e-4
        v3_cfg.stage.optimizer.lr = v2_cfg.stage.optimizer.lr
    for v3_cfg, v2_cfg in zip(recipe_v3, (v2_pretrain, v2_finetune, v2_twin)):
        v3_cfg.offline.finetune.lr = v2_cfg.offline.finetune.lr
        assert v3_cfg == v2_cfg

    (fraction,) = steps["fraction"]
    cfg = composed(fraction)
    finetune_checks(cfg, f"{base}/pretrain/checkpoints/last.ckpt", f"{seed_dir}/{arms['fraction'].run}")
    assert cfg.data.train_fraction == 0.25 and cfg.data.iqa.split.fraction_unit == "group"

    # The photos arm: its own folder and corpus, from a seeded subset of the train split, for every step.
    label, pretrain, finetune = (composed(c) for c in steps["photos"])
    sub = f"{seed_dir}/photos12"
    chosen = ablations.photo_subset(12, 3)
    train = {p.name for p in registry.photos("train")}
    assert len(set(chosen)) == 12 and set(chosen) <= train
    for cfg in (label, pretrain, finetune):
        assert list(cfg.data.prepare.photos) == chosen and cfg.data.root == f"{sub}/data/offline"
    assert pretrain.stage.name == "pretrain" and pretrain.run_dir == f"{sub}/offline/pretrain"
    finetune_checks(finetune, f"{sub}/offline/pretrain/checkpoints/last.ckpt", f"{seed_dir}/{arms['photos'].run}")
    assert ablations.photo_subset(12, 3) == chosen and ablations.photo_subset(12, 4) != chosen
    with pytest.raises(SystemExit, match="--photos must be in 1..") as exit_info:
        ablations.photo_subset(len(train) + 1, 0)
    assert exit_info.value.code


def _record(values: dict[str, float]) -> dict:
    return {"per_photo": {part: dict(values) for part in ("all", "structural", "photometric", "unseen")}}


@pytest.mark.unit
def test_scored_folders_are_labelled_by_what_their_recipe_record_holds(repo_root, tmp_path):
    ablations = _ablations_module(repo_root)
    from iqa.cli.recipes import RECIPES

    def folder(name, record):
        (tmp_path / name / "offline").mkdir(parents=True)
        if record is not None:
            (tmp_path / name / "offline" / "recipe.json").write_text(json.dumps(record))
        return tmp_path / name

    v2 = RECIPES["2"].recorded
    plain, older = folder("plain", None), folder("older", {k: v2[k] for k in ("--pretrain-loss", "--finetune-data")})
    exact, longer = folder("exact", v2), folder("longer", {**v2, "offline.finetune.max_steps": "1000"})
    longer2 = folder("longer2", {**v2, "offline.finetune.max_steps": "1000"})
    assert ablations.reference_label("2", [plain, older, exact]) == ablations.REFERENCE_LABELS["2"]
    assert ablations.reference_label("2", [longer, longer2]) == "recipe version 2 with offline.finetune.max_steps=1000"
    assert "they differ between seeds" in ablations.reference_label("2", [exact, longer])
    # The other training overrides count too, the seed (each folder's own) aside.
    slower = [folder(f"slower{s}", {**v2, "overrides": {"offline.finetune.lr": "1.0e-4", "seed": str(s)}}) for s in (0, 1)]
    assert ablations.reference_label("2", slower) == "recipe version 2 with offline.finetune.lr=1.0e-4"
    seeded = [folder(f"seeded{s}", {**v2, "overrides": {"seed": str(s)}}) for s in (0, 1)]
    assert ablations.reference_label("2", seeded) == ablations.REFERENCE_LABELS["2"]
    v1_folder = folder("v1", RECIPES["1"].recorded)
    assert ablations.reference_label("2", [v1_folder]) == ("recipe version 2 with --finetune-data=uniform --pretrain-loss=ranking "
                                                         "offline.finetune.attribute_anchor=0")
    # Version 3 trained before the rate was recorded on its own (the rate among the other overrides), and a rate written
    # another way: both are version 3, read by value, and version 2 with another rate.
    rate = "offline.finetune.lr"
    before = [folder(f"before{s}", {**{k: v for k, v in v2.items() if k != rate}, "overrides": {rate: "6.0e-4", "seed": str(s)}})
              for s in (0, 1)]
    written = folder("written", {**RECIPES["3"].recorded, rate: "6.0e-4"})
    assert ablations.reference_label("3", [*before, written]) == ablations.REFERENCE_LABELS["3"]
    assert ablations.reference_label("2", before) == "recipe version 2 with offline.finetune.lr=6.0e-4"


@pytest.mark.unit
def test_ablation_table_gaps_pair_photos_within_each_seed(repo_root):
    """Gaps are arm minus reference, paired by photo within a seed, pooled by averaging each photo over seeds; an arm is
    better or worse only when every seed's interval is on one side of zero."""
    ablations = _ablations_module(repo_root)
    rng = np.random.default_rng(0)
    photos = [f"p{i}" for i in range(30)]
    ref = {s: {p: float(v) for p, v in zip(photos, rng.uniform(0.6, 0.9, len(photos)))} for s in (0, 1)}
    shift = {s: {p: float(v) for p, v in zip(photos, rng.normal(0.0, 0.01, len(photos)))} for s in (0, 1)}
    worse = {s: {p: ref[s][p] - 0.1 + shift[s][p] for p in photos} for s in (0, 1)}
    noisy = {s: {p: ref[s][p] + float(rng.normal(0.0, 0.1)) for p in photos} for s in (0, 1)}
    noisy[1] = {p: ref[1][p] - 0.2 for p in photos}  # one seed clearly worse, the other a wash
    rows = {"reference": {s: _record(ref[s]) for s in (0, 1)}, "worse": {s: _record(worse[s]) for s in (0, 1)},
            "mixed": {s: _record(noisy[s]) for s in (0, 1)}, "one seed": {1: _record({p: ref[1][p] + 0.05 for p in photos})}}
    table = ablations.compare(rows, n_boot=500)

    reference = table["reference"]["parts"]["all"]
    assert "gap_per_seed" not in reference
    assert reference["per_seed"][1] == pytest.approx(np.mean(list(ref[1].values())))
    assert reference["min"] == pytest.approx(min(np.mean(list(ref[s].values())) for s in (0, 1)))
    w = table["worse"]["parts"]["all"]
    for s in (0, 1):
        expected = np.mean([worse[s][p] - ref[s][p] for p in photos])
        assert w["gap_per_seed"][s]["gap"] == pytest.approx(expected)
        assert w["gap_per_seed"][s]["hi"] < 0
    pooled = np.mean([np.mean([worse[s][p] - ref[s][p] for s in (0, 1)]) for p in photos])
    assert w["gap_pooled"]["gap"] == pytest.approx(pooled) and w["verdict"] == "worse"
    assert table["mixed"]["parts"]["all"]["verdict"] == "inside the spread"
    one = table["one seed"]["parts"]["all"]
    assert list(one["gap_per_seed"]) == [1] and one["verdict"] == "better" and one["gap_pooled"]["gap"] == pytest.approx(0.05)
    assert ablations.verdict([]) == "inside the spread"

    text = ablations.markdown(table, {k: ablations.Arm(k, k, k, "") for k in rows}, [0, 1])
    gap_rows = [line for line in text.splitlines() if line.startswith("| worse |") and line.endswith("| worse |")]
    assert len(gap_rows) == 1 and f"{pooled:+.3f}" in gap_rows[0]
    assert any(line.startswith("| one seed |") and line.endswith("| better |") for line in text.splitlines())

    # Against another arm (a data arm's ImageNet-only twin): the gaps are measured from that arm, which gets none itself.
    twin = ablations.compare(rows, reference="worse", n_boot=500)
    assert "gap_per_seed" not in twin["worse"]["parts"]["all"]
    back = twin["reference"]["parts"]["all"]
    assert back["gap_pooled"]["gap"] == pytest.approx(-pooled) and back["verdict"] == "better"
    labels = {k: ablations.Arm(k, k, f"{k} label", "") for k in rows}
    assert "Gap to worse label (worse)" in ablations.markdown(twin, labels, [0, 1], "worse")
    assert "Gap to the reference" in ablations.markdown(table, labels, [0, 1])


@pytest.mark.unit
def test_ablations_command_line_fails_fast_and_dry_runs(repo_root, capsys, tmp_path):
    ablations = _ablations_module(repo_root)
    capsys.readouterr()
    out = tmp_path / "out"
    assert ablations.main(["--dry-run", "--seeds", "0,1", "--arms", "head,fraction", "--seed-dir", f"{tmp_path}/s{{seed}}",
                           "--out", str(out)]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("$ iqa ")]
    # Per arm, every seed: the recipe (the reference) first, then the arms in the order given.
    assert [line.split()[2] for line in printed] == ["model", "model", "train", "train", "train", "train"]
    assert "stage.head=grounded" in printed[2] and f"paths.output_dir={tmp_path}/s1" in printed[3]
    assert "data.train_fraction=0.25" in printed[5] and not out.exists()
    # --baseline runs right after the reference, before the arms, whatever order --arms gives.
    assert ablations.main(["--dry-run", "--seeds", "0", "--anchor", "0.1", "--arms", "regression_weighted_anchor",
                           "--baseline", "weighted_imagenet", "--seed-dir", f"{tmp_path}/s0"]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("$ iqa ")]
    assert [line.split()[2] for line in printed] == ["model", "train", "train", "train"]
    assert printed[0].startswith("$ iqa model --recipe 1 ")  # the arms ablate version 1
    assert "init=imagenet" in printed[1] and "run_name=finetune-imagenet-weighted" in printed[1]
    assert "run_name=finetune-regression-weighted-anchored-0.1" in printed[3]
    # --recipe 2: version 2 itself and its twin, both runs of iqa model; the version 1 arms are refused.
    assert ablations.main(["--dry-run", "--seeds", "0", "--recipe", "2", "--arms", "imagenet", "--seed-dir", f"{tmp_path}/v"]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("$ iqa ")]
    assert [line.split()[2:4] for line in printed] == [["model", "--recipe"]] * 2 and all(" --recipe 2 " in p for p in printed)
    with pytest.raises(SystemExit) as exit_info:
        ablations.main(["--dry-run", "--recipe", "2", "--arms", "imagenet,head"])
    assert exit_info.value.code == 2 and "--recipe 2 takes the arms reference and imagenet only" in capsys.readouterr().err
    for argv, message in ((["--arms", "head,colour"], "choose from reference, imagenet, head"),
                          (["--seeds", "0,x"], "a comma list of integers"),
                          (["--baseline", "twin"], "invalid choice: 'twin'"),
                          (["--seeds", "0,1", "--seed-dir", "outputs/one"], "must contain {seed}")):
        with pytest.raises(SystemExit) as exit_info:
            ablations.main([*argv, "--dry-run"])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow
def test_a_recipe_killed_mid_run_resumes_where_it_stopped(tmp_path):
    """iqa model killed with SIGKILL during a fine-tune: the rerun skips the finished steps, resumes the fine-tune
    from its last checkpoint, and finishes."""
    import os
    import signal
    import subprocess
    import time

    import torch

    out, data = tmp_path / "outputs", tmp_path / "data"
    crops = "{" + ",".join(f"{k}:{v}" for k, v in TINY_CROPS.items()) + "}"
    variants = "{" + ",".join(f"{k}:{v}" for k, v in TINY_VARIANTS.items()) + "}"
    command = [sys.executable, "-m", "iqa.cli.main", "model", f"paths.data_dir={data}", f"paths.output_dir={out}",
               "data.prepare.size=64", f"data.prepare.crops={crops}", f"data.prepare.variants={variants}",
               "data.prepare.photos=[coffee,camera]", "stage.crop_size=48", "stage.batch_size=8", "stage.num_workers=0",
               "stage.max_steps=12", "stage.val_every_steps=3", "trainer.accelerator=cpu", "trainer.enable_progress_bar=false",
               "num_workers=0"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", WANDB_MODE="offline")
    run = out / "offline" / "finetune-attiqa"
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 400
        while not (run / "checkpoints" / "last.ckpt").is_file():
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the fine-tune wrote no checkpoint in time"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not (run / "summary.json").exists()  # killed mid fine-tune
    pretrain = json.loads((out / "offline" / "pretrain" / "summary.json").read_text())
    assert pretrain["global_step"] == 12
    rerun = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["global_step"] == 12 and summary["resumed_from"] and summary["start_step"] > 0
    assert torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["global_step"] == 12
    assert json.loads((out / "offline" / "pretrain" / "summary.json").read_text())["resumed_from"]  # not retrained
    assert json.loads((out / "offline" / "results.json").read_text())["results"].keys() == {"attribute_pretrained", "imagenet_only"}
