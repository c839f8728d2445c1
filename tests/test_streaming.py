"""The pretraining stream: explicit node/worker splits, equal batch counts per rank, resumption, bad input."""

from __future__ import annotations

import logging
from collections import Counter

import pytest
import torch
from _pretrain_helpers import make_corpus, unit_of
from torch.utils.data import DataLoader

from iqa.attributes import ATTRIBUTES
from iqa.data.datamodules import PretrainDataModule, labelled_units
from iqa.data.label_sets import LabelLookup
from iqa.data.streaming import PseudoLabelStream, _Cursor, plan_reader, worker_quota
from iqa.errors import UserError

pytestmark = pytest.mark.unit


def stream_for(units, labels, rank=0, world=2, workers=0, **kw) -> PseudoLabelStream:
    defaults = dict(train=True, batches_per_epoch=7, shuffle_buffer=8)
    defaults.update(kw)
    stream = PseudoLabelStream(units, LabelLookup(labels, ATTRIBUTES), 40, 32, 4, **defaults)
    stream.rank, stream.world_size, stream.num_workers = rank, world, workers
    return stream


def one_pass_keys(stream: PseudoLabelStream, rank: int, world: int, worker: int, workers: int) -> list[str]:
    plan = plan_reader(stream.units, rank, world, worker, workers, resampled=False)
    return [s["__key__"] for s, _ in stream._samples(plan, _Cursor(0, 0), 0, Counter())]


def test_worker_quotas_add_up():
    for total in (1, 7, 8, 1000):
        for workers in (1, 2, 3, 14):
            quotas = [worker_quota(total, w, workers) for w in range(workers)]
            assert sum(quotas) == total and max(quotas) - min(quotas) <= 1


@pytest.mark.parametrize("sizes", [[7, 3, 12, 5, 9], [5, 2, 6]], ids=["units>=readers", "units<readers"])
def test_one_pass_is_an_exact_partition_over_ranks_and_workers(tmp_path, sizes):
    """2 ranks x 2 workers: every sample is read by exactly one reader, whether units or samples are split."""
    units, labels = make_corpus(tmp_path, sizes)
    stream = stream_for(units, labels, train=False)
    per_reader = {(r, w): one_pass_keys(stream, r, 2, w, 2) for r in range(2) for w in range(2)}
    everything = [k for keys in per_reader.values() for k in keys]
    assert sorted(everything) == sorted(f"u{i}-{j}" for i, n in enumerate(sizes) for j in range(n))
    assert all(per_reader.values()), "a reader got nothing"
    if len(sizes) >= 4:  # unit split: no unit is opened by two readers
        owners = {unit_of(k): reader for reader, keys in per_reader.items() for k in keys}
        assert len({unit_of(k) for k in everything}) == len(owners)
        for reader, keys in per_reader.items():
            assert all(owners[unit_of(k)] == reader for k in keys)


@pytest.mark.integration
@pytest.mark.parametrize("sizes", [[7, 3, 12, 5, 9], [5, 2, 6]], ids=["uneven-units", "fewer-units-than-readers"])
def test_every_rank_yields_exactly_the_same_number_of_batches(tmp_path, sizes):
    units, labels = make_corpus(tmp_path, sizes)
    for rank in range(2):
        stream = stream_for(units, labels, rank=rank, world=2, workers=2, batches_per_epoch=7)
        loader = DataLoader(stream, batch_size=None, num_workers=2, persistent_workers=True)
        assert len(loader) == 7
        for epoch in range(2):
            batches = list(loader)
            assert len(batches) == 7, (rank, epoch)
            slots = Counter(b["stream"]["slot"] for b in batches)
            assert sorted(slots.values()) == [3, 4] and set(slots) == {2 * rank, 2 * rank + 1}
            assert all(b["images"].shape == (4, 3, 32, 32) and b["images"].dtype == torch.uint8 for b in batches)
            assert all(b["stream"]["epoch"] == epoch for b in batches)


def consume(stream, batches: int) -> list[list[str]]:
    """Iterate like the training loop: record each batch's position as it is consumed."""
    out = []
    iterator = iter(stream)
    for _ in range(batches):
        batch = next(iterator)
        stream.progress.record(batch.pop("stream"))
        out.append(batch["keys"])
    return out


def test_resume_continues_exactly_where_the_consumed_batches_stopped(tmp_path):
    units, labels = make_corpus(tmp_path, [9, 11, 6])
    kw = dict(world=1, batches_per_epoch=100, shuffle_buffer=0)
    first = stream_for(units, labels, **kw)
    consumed = consume(first, 3)
    state = first.state_dict()
    expected = consume(first, 3)  # what an uninterrupted run trains on next
    resumed = stream_for(units, labels, **kw)
    resumed.load_state_dict(state)
    assert consume(resumed, 3) == expected
    assert not {k for b in consumed for k in b} & {k for b in expected for k in b}


def test_resume_with_shuffle_buffer_never_replays_consumed_samples(tmp_path):
    units, labels = make_corpus(tmp_path, [20, 20, 20, 20])
    kw = dict(world=1, batches_per_epoch=100, shuffle_buffer=6)
    first = stream_for(units, labels, **kw)
    consumed = {k for b in consume(first, 4) for k in b}
    resumed = stream_for(units, labels, **kw)
    resumed.load_state_dict(first.state_dict())
    after = {k for b in consume(resumed, 8) for k in b}  # 16 + 32 + buffer < 80 samples: still the first pass
    assert not consumed & after
    # Without the saved state the stream would start over and replay the same first batches.
    fresh = stream_for(units, labels, **kw)
    assert {k for b in consume(fresh, 4) for k in b} == consumed


def test_epochs_continue_the_stream_and_a_resumed_epoch_runs_only_its_remaining_batches(tmp_path):
    units, labels = make_corpus(tmp_path, [30, 30])
    kw = dict(world=1, batches_per_epoch=5, shuffle_buffer=0)
    stream = stream_for(units, labels, **kw)
    epoch0 = [b["keys"] for b in stream]
    epoch1 = [b["keys"] for b in stream]
    assert len(epoch0) == len(epoch1) == 5
    assert not {k for b in epoch0 for k in b} & {k for b in epoch1 for k in b}  # continued, not restarted
    first = stream_for(units, labels, **kw)
    consume(first, 2)  # interrupted two batches into epoch 0
    resumed = stream_for(units, labels, **kw)
    resumed.load_state_dict(first.state_dict())
    assert len(list(resumed)) == 3 and len(list(resumed)) == 5


def test_changed_layout_restarts_in_a_fresh_order_and_says_so(tmp_path, caplog):
    units, labels = make_corpus(tmp_path, [9, 11])
    first = stream_for(units, labels, world=1, batches_per_epoch=50)
    consumed = consume(first, 2)
    other = stream_for(units, labels, world=1, batches_per_epoch=50, seed=5)
    with caplog.at_level(logging.WARNING):
        other.load_state_dict(first.state_dict())
    assert "layout changed" in caplog.text and "seed" in caplog.text
    assert consume(other, 2) != consumed


def test_corrupt_member_is_skipped_and_counted(tmp_path):
    units, labels = make_corpus(tmp_path, [6, 6], corrupt={"u0-2", "u1-4"})
    stream = stream_for(units, labels, world=1, train=False)
    batches = list(stream)
    keys = [k for b in batches for k in b["keys"]]
    assert len(keys) == 10 and "u0-2" not in keys and "u1-4" not in keys
    assert sum(b["skipped"].get("undecodable", 0) for b in batches) == 2


def test_units_without_labels_are_left_out_with_a_warning(tmp_path, caplog):
    units, labels = make_corpus(tmp_path, [4, 4, 4], unlabelled_units={1})
    with caplog.at_level(logging.WARNING):
        ready = labelled_units(units, str(labels), "train")
    assert [u.name for u in ready] == ["u0", "u2"]
    assert "1 train unit(s) have no labels" in caplog.text and "u1" in caplog.text
    with pytest.raises(UserError, match="none of the 1 train units has usable labels"):
        labelled_units([units[1]], str(labels), "train")


def test_label_set_with_another_attribute_list_is_refused_before_training(tmp_path):
    units, labels = make_corpus(tmp_path, [4], attributes=("sharpness", "noisiness"))
    module = PretrainDataModule({"train": str(units[0].source)}, str(labels), ATTRIBUTES, steps_per_epoch=2)
    with pytest.raises(UserError, match=r"have attributes \['sharpness', 'noisiness'\], but this run expects"):
        module.prepare()


def test_validation_batches_carry_ladder_metadata(tmp_path):
    units, labels = make_corpus(tmp_path, [6], meta=True)
    batch = next(iter(stream_for(units, labels, world=1, train=False)))
    assert batch["meta"][0] == {"reference": "r0", "crop": 0, "distortion": "gaussian_blur", "level": 0}
    assert "stream" not in batch
