"""The streaming pretraining pipeline: image units joined with their pseudo-labels.

Read as a list of stages (WebDataset style)::

    units -> split by node -> split by worker -> unit order (pass / resampled)
          -> expand to samples -> join labels -> shuffle buffer
          -> decode + crop/flip -> batch -> fixed number of batches per epoch

* **Splitting.** Units are dealt explicitly, first to ranks (``trainer.devices
  x trainer.num_nodes``; the rank comes from the trainer, not from whatever the
  environment says inside a worker) and then to DataLoader workers, so no two
  readers open the same unit. When there are fewer units than readers, every
  reader walks all units in one shared order and keeps sample ``i`` of the
  ``n``-th unit read when ``(i + n) % readers == slot``: still an exact
  partition of the samples, and no reader starves. In ``resampled`` mode each
  reader draws units with replacement from the whole list (own seed), the
  usual choice for corpora far larger than one run reads.
* **Epoch length.** The training stream of each reader is endless (units cycle
  in a fresh order every pass, or are drawn with replacement) and each epoch
  takes exactly ``batches_per_epoch`` batches per rank, dealt evenly over the
  workers. Every rank therefore runs the same number of steps and DDP never
  waits on a rank that ran dry. The stream is not restarted between epochs:
  the next epoch continues where the previous one stopped, shuffle buffer
  included.
* **Resumption.** Each batch carries its reader's position (unit ``n``,
  sample ``s``: how far the reader has read). :class:`StreamProgress` keeps
  the position of the last batch the training loop actually consumed, the
  loader saves it in the checkpoint (Lightning's stateful-dataloader hook),
  and a resumed run restarts every reader exactly there: nothing the first run
  trained on is read again in that pass. The samples that sat in the shuffle
  buffer at that moment (at most ``shuffle_buffer`` per reader) are the only
  ones this pass does not revisit. If the reader layout changed (other world
  size, workers, units or seed), the stream restarts in a fresh order instead
  and says so.
* **Labels and crops.** Pseudo-labels describe the whole image as the teacher
  saw it: short side resized to the teacher's input size (then centre-cropped
  to a square). The student sees the image resized the same way, then a random
  crop and a random horizontal flip. Crops and flips keep scale and pixel
  statistics, so the global attributes (sharpness, noise, brightness,
  contrast, colourfulness) carry over to the crop; blur, colour jitter,
  rescaling and other photometric augmentations would change the very
  attributes the labels describe and are never applied. Validation uses the
  centre crop.
* **Bad data.** Unreadable members, samples without labels and shard errors
  are skipped, counted per reason, and reported with the next batch
  (``batch["skipped"]``) so the training loop can log them.

Why not ``wds.DataPipeline`` with ``wds.split_by_node`` / ``split_by_worker``
/ ``ResampledShards`` / ``.with_epoch``? Tar reading (``wds.tarfile_samples``)
and the shuffle buffer (``wds.shuffle``) are WebDataset's; the rest is not,
for reasons that matter here: units include folder chunks, which are not
URLs (``ResampledShards`` takes URL strings only); ``split_by_node`` and
``split_by_worker`` read the rank from the environment inside the worker and
cannot fall back to a sample-level split, so with fewer shards than readers
some readers get nothing and the ranks' batch counts differ; ``with_epoch``
restarts the whole pipeline every epoch, so it can neither continue the
shuffle buffer across epochs nor resume at a saved position; and per-reason
skip counts and reader positions must travel with the batches, which
WebDataset's exception handlers cannot do.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import IterableDataset

from iqa.data.corpus import Unit, image_member, iter_unit_samples
from iqa.data.images import SkipImage, decode_rgb, resize_short_side, to_uint8_tensor
from iqa.data.label_sets import LabelLookup
from iqa.distributed import dist_info, gather_to_all, worker_info

log = logging.getLogger(__name__)

STATE_VERSION = 1
#: Per-sample JSON fields kept for validation (the distortion-ladder proxy, ``iqa.ladder``).
META_FIELDS = ("reference", "crop", "distortion", "level")


def stable_seed(*parts: Any) -> int:
    """A 63-bit seed from ``parts`` that is the same in every process (``hash()`` of str is not)."""
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "little") >> 1


def split_by_node(units: Sequence[Unit], rank: int, world_size: int) -> list[Unit]:
    """Units of one rank: every ``world_size``-th, starting at ``rank``."""
    return list(units[rank::world_size])


def split_by_worker(units: Sequence[Unit], worker: int, num_workers: int) -> list[Unit]:
    """Units of one DataLoader worker within its rank's share."""
    return list(units[worker::num_workers])


def worker_quota(total: int, worker: int, num_workers: int) -> int:
    """Worker ``worker``'s share of ``total`` batches; the shares add up to ``total`` exactly."""
    base, extra = divmod(int(total), max(1, num_workers))
    return base + int(worker < extra)


def units_digest(units: Sequence[Unit]) -> str:
    return hashlib.sha256("\n".join(u.name for u in units).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ReaderPlan:
    """What one reader (a rank's DataLoader worker) reads.

    ``sample_split``: all readers walk the same units in the same order and
    reader ``slot`` keeps sample ``i`` of the ``n``-th unit iff
    ``(i + n) % readers == slot``. ``order_key`` seeds the unit order: the
    slot when readers own their units, shared (-1) for the sample split.
    """

    slot: int
    readers: int
    units: tuple[Unit, ...]
    sample_split: bool
    order_key: int


def plan_reader(units: Sequence[Unit], rank: int, world_size: int, worker: int, num_workers: int, resampled: bool) -> ReaderPlan:
    readers = world_size * num_workers
    slot = rank * num_workers + worker
    if resampled:
        return ReaderPlan(slot, readers, tuple(units), sample_split=False, order_key=slot)
    if len(units) >= readers:
        mine = split_by_worker(split_by_node(units, rank, world_size), worker, num_workers)
        return ReaderPlan(slot, readers, tuple(mine), sample_split=False, order_key=slot)
    return ReaderPlan(slot, readers, tuple(units), sample_split=True, order_key=-1)


class StreamProgress:
    """Positions of the batches the training loop consumed, per reader slot (main process).

    Kept by the data module from each consumed batch's ``stream`` entry, saved
    in checkpoints by :class:`StreamLoader`, restored into the stream on resume.
    """

    def __init__(self) -> None:
        self.readers: dict[int, dict[str, int]] = {}

    def record(self, info: Mapping[str, Any]) -> None:
        slot = int(info["slot"])
        self.readers[slot] = {k: int(info[k]) for k in ("epoch", "batch", "unit", "sample")}

    def local_state(self) -> dict[int, dict[str, int]]:
        return {slot: dict(pos) for slot, pos in self.readers.items()}


class PseudoLabelStream(IterableDataset):
    """Batches of ``images`` (uint8 ``[B,3,H,W]``) and ``targets`` (float ``[B, A]``) from labelled units.

    Each batch is a dict with ``images``, ``targets``, ``keys`` (sample keys),
    ``skipped`` (per-reason counts since the previous batch of this reader),
    and for training ``stream`` (the reader's position) or, for validation,
    ``meta`` (the sample's ladder metadata, see :data:`META_FIELDS`, or None).
    """

    def __init__(
        self,
        units: Sequence[Unit],
        labels: LabelLookup,
        image_size: int,
        crop_size: int,
        batch_size: int,
        train: bool = True,
        batches_per_epoch: int | None = None,
        shuffle_buffer: int = 1000,
        resampled: bool = False,
        seed: int = 0,
        with_meta: bool | None = None,
    ) -> None:
        super().__init__()
        if not units:
            raise ValueError("PseudoLabelStream needs at least one unit")
        if train and (batches_per_epoch is None or int(batches_per_epoch) < 1):
            raise ValueError("a training stream needs batches_per_epoch >= 1 (it is endless otherwise)")
        self.units = list(units)
        self.labels = labels
        self.image_size = int(image_size)
        self.crop_size = int(crop_size)
        self.batch_size = int(batch_size)
        self.train = bool(train)
        self.batches_per_epoch = int(batches_per_epoch) if batches_per_epoch is not None else None
        self.shuffle_buffer = int(shuffle_buffer) if train else 0
        self.resampled = bool(resampled) and self.train
        self.seed = int(seed)
        self.with_meta = (not self.train) if with_meta is None else bool(with_meta)
        # Set by the data module from the trainer before the loader starts its workers, so that
        # every worker knows its rank however the processes were launched; None: ask torch.distributed.
        self.rank: int | None = None
        self.world_size: int | None = None
        self.num_workers = 0
        self.progress = StreamProgress()
        self._resume: dict[str, Any] | None = None
        self._live: _LiveReader | None = None

    # -- reader layout -----------------------------------------------------------------
    def rank_world(self) -> tuple[int, int]:
        if self.rank is not None and self.world_size is not None:
            return self.rank, self.world_size
        return dist_info()

    def layout(self) -> dict[str, Any]:
        """What the saved reader positions are only valid for."""
        _, world = self.rank_world()
        return {
            "world_size": world, "num_workers": max(1, self.num_workers), "units": units_digest(self.units),
            "seed": self.seed, "resampled": self.resampled,
        }

    # -- checkpoint state ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Consumed positions of every reader on every rank (a collective under DDP: call on all ranks)."""
        readers = {slot: pos for part in gather_to_all(self.progress.local_state()) for slot, pos in (part or {}).items()}
        generation = int((self._resume or {}).get("generation", 0))
        return {"version": STATE_VERSION, "layout": self.layout(), "generation": generation,
                "readers": {str(k): v for k, v in sorted(readers.items())}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume the readers at saved positions (or in a fresh order if the layout changed)."""
        state = dict(state or {})
        if state.get("version") != STATE_VERSION:
            log.warning("stream state of an unknown version; the data stream starts afresh")
            state = {"generation": 1, "readers": {}}
        elif state.get("layout") != self.layout():
            old, new = state.get("layout", {}), self.layout()
            changed = sorted(k for k in new if old.get(k) != new[k])
            log.warning(
                "the data stream's layout changed since the checkpoint (%s); it restarts in a fresh order instead of "
                "continuing where the checkpoint stopped", ", ".join(changed),
            )
            state = {"generation": int(state.get("generation", 0)) + 1, "readers": {}}
        readers = {int(k): {kk: int(vv) for kk, vv in v.items()} for k, v in state.get("readers", {}).items()}
        self._resume = {"generation": int(state.get("generation", 0)), "readers": readers}
        self.progress.readers = {k: dict(v) for k, v in readers.items()}
        self._live = None

    # -- stages --------------------------------------------------------------------------
    def _unit_at(self, plan: ReaderPlan, n: int, generation: int, cache: dict[int, list[int]]) -> Unit:
        """The ``n``-th unit this reader reads: pass ``n // len`` in a fresh order, or a resampled draw."""
        count = len(plan.units)
        if not self.train:
            return plan.units[n]
        if self.resampled:
            return plan.units[random.Random(stable_seed(self.seed, generation, "draw", plan.order_key, n)).randrange(count)]
        epoch_pass, index = divmod(n, count)
        if epoch_pass not in cache:
            order = list(range(count))
            random.Random(stable_seed(self.seed, generation, "pass", plan.order_key, epoch_pass)).shuffle(order)
            cache.clear()
            cache[epoch_pass] = order
        return plan.units[cache[epoch_pass][index]]

    def _samples(self, plan: ReaderPlan, cursor: _Cursor, generation: int, skipped: Counter) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
        """Labelled samples from ``cursor`` on; advances ``cursor`` as it reads (the resume point)."""
        barren = 0  # consecutive units that gave this reader nothing; an endless stream must not spin on them
        order_cache: dict[int, list[int]] = {}
        while self.train or cursor.unit < len(plan.units):
            n = cursor.unit
            unit = self._unit_at(plan, n, generation, order_cache)
            errors: list[Exception] = []
            found = 0
            for index, sample in enumerate(iter_unit_samples(unit, on_error=errors.append)):
                if index < cursor.sample:
                    continue  # read before the saved position
                cursor.sample = index + 1
                if plan.sample_split and (index + n) % plan.readers != plan.slot:
                    continue
                target = self.labels.get(unit.name, sample["__key__"])
                if target is None:
                    skipped["unlabelled"] += 1
                    continue
                found += 1
                yield sample, target
            if errors and (not plan.sample_split or n % plan.readers == plan.slot):
                skipped["shard_errors"] += len(errors)  # counted by one reader only when all read the unit
            cursor.unit, cursor.sample = n + 1, 0
            barren = 0 if found else barren + 1
            if self.train and barren > 2 * len(plan.units) + plan.readers:
                raise RuntimeError(
                    f"reader {plan.slot} found no labelled, readable samples in {barren} units in a row "
                    f"(of {len(plan.units)}); check the corpus and its labels"
                )

    def _decode(self, sample: dict[str, Any], rng: random.Random) -> torch.Tensor:
        member = image_member(sample)
        if member is None:
            raise SkipImage("no image member")
        image = resize_short_side(decode_rgb(member[1], draft_size=self.image_size), self.image_size)
        width, height = image.size
        size = min(self.crop_size, width, height)
        if self.train:
            left, top = rng.randint(0, width - size), rng.randint(0, height - size)
        else:
            left, top = (width - size) // 2, (height - size) // 2
        image = image.crop((left, top, left + size, top + size))
        if size != self.crop_size:
            image = image.resize((self.crop_size, self.crop_size), Image.BICUBIC)
        if self.train and rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        return to_uint8_tensor(image)

    @staticmethod
    def _meta(sample: dict[str, Any]) -> dict[str, Any] | None:
        raw = sample.get("json")
        if raw is None:
            return None
        try:
            meta = json.loads(raw) if isinstance(raw, (bytes, str)) else raw
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(meta, dict) or not all(k in meta for k in META_FIELDS):
            return None
        return {k: meta[k] for k in META_FIELDS}

    def _batches(self, plan: ReaderPlan, cursor: _Cursor, generation: int) -> Iterator[dict[str, Any]]:
        """Batches from ``cursor`` on: endless for training, one pass (last batch partial) for validation."""
        import webdataset as wds

        rng = random.Random(stable_seed(self.seed, generation, "reader", plan.slot, cursor.unit, cursor.sample))
        skipped: Counter = Counter()
        items: Iterator[Any] = self._samples(plan, cursor, generation, skipped)
        if self.shuffle_buffer > 1:
            items = wds.shuffle(self.shuffle_buffer, self.shuffle_buffer, rng=rng)(items)
        images: list[torch.Tensor] = []
        targets: list[np.ndarray] = []
        keys: list[str] = []
        metas: list[dict[str, Any] | None] = []
        for sample, target in items:
            try:
                image = self._decode(sample, rng)
            except SkipImage:
                skipped["undecodable"] += 1
                continue
            images.append(image)
            targets.append(target)
            keys.append(sample["__key__"])
            if self.with_meta:
                metas.append(self._meta(sample))
            if len(images) == self.batch_size:
                yield self._batch(images, targets, keys, metas, skipped, plan, cursor)
                images, targets, keys, metas = [], [], [], []
        if images and not self.train:
            yield self._batch(images, targets, keys, metas, skipped, plan, cursor)

    def _batch(self, images, targets, keys, metas, skipped: Counter, plan: ReaderPlan, cursor: _Cursor) -> dict[str, Any]:
        batch: dict[str, Any] = {
            "images": torch.stack(images),
            "targets": torch.from_numpy(np.stack(targets)),
            "keys": list(keys),
            "skipped": dict(skipped),
        }
        if self.with_meta:
            batch["meta"] = list(metas)
        if self.train:
            batch["stream"] = {"slot": plan.slot, "unit": cursor.unit, "sample": cursor.sample}
        skipped.clear()
        return batch

    # -- iteration -----------------------------------------------------------------------
    def _plan(self) -> tuple[ReaderPlan, int, int]:
        rank, world = self.rank_world()
        worker, workers = worker_info()
        return plan_reader(self.units, rank, world, worker, workers, self.resampled), worker, workers

    def __iter__(self) -> Iterator[dict[str, Any]]:
        plan, worker, workers = self._plan()
        if not self.train:
            yield from self._batches(plan, _Cursor(0, 0), generation=0)
            return
        live = self._live
        if live is None or live.plan != plan:
            live = self._live = _LiveReader.start(self, plan, worker, workers)
        for batch in live.epoch():
            yield batch

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_live"] = None  # a running generator stays in its process; workers start their own
        return state

    def __len__(self) -> int:
        if self.batches_per_epoch is None:
            raise TypeError("validation streams have no fixed length")
        return self.batches_per_epoch


@dataclass
class _Cursor:
    """How far a reader has read: the ``unit``-th unit of its sequence, ``sample`` samples into it."""

    unit: int
    sample: int


class _LiveReader:
    """A reader's training stream, kept alive across epochs (in its worker, or in-process)."""

    def __init__(self, stream: PseudoLabelStream, plan: ReaderPlan, worker: int, workers: int,
                 cursor: _Cursor, generation: int, epoch: int, first_quota: int | None) -> None:
        self.stream = stream
        self.plan = plan
        self.cursor = cursor
        self.epoch_index = epoch
        self.quota = worker_quota(stream.batches_per_epoch or 0, worker, workers)
        self.first_quota = first_quota
        self.batches = stream._batches(plan, cursor, generation)

    @classmethod
    def start(cls, stream: PseudoLabelStream, plan: ReaderPlan, worker: int, workers: int) -> _LiveReader:
        resume = stream._resume or {"generation": 0, "readers": {}}
        generation = int(resume.get("generation", 0))
        readers: dict[int, dict[str, int]] = resume.get("readers", {})
        mine = readers.get(plan.slot)
        cursor = _Cursor(mine["unit"], mine["sample"]) if mine else _Cursor(0, 0)
        # Was this rank's last epoch cut short? Then the first epoch after resuming runs
        # only its remaining batches, as Lightning's loop expects.
        first = plan.slot - worker
        rank_slots = {s: readers[s] for s in range(first, first + workers) if s in readers}
        epoch, first_quota = 0, None
        if rank_slots:
            last = max(pos["epoch"] for pos in rank_slots.values())
            done = {s: pos["batch"] for s, pos in rank_slots.items() if pos["epoch"] == last}
            total = stream.batches_per_epoch or 0
            if sum(done.values()) < total:
                epoch = last
                first_quota = max(0, worker_quota(total, worker, workers) - done.get(plan.slot, 0))
            else:
                epoch = last + 1
        return cls(stream, plan, worker, workers, cursor, generation, epoch, first_quota)

    def epoch(self) -> Iterator[dict[str, Any]]:
        quota = self.quota if self.first_quota is None else self.first_quota
        done = self.quota - quota
        epoch_index = self.epoch_index
        self.first_quota = None
        self.epoch_index += 1
        for _ in range(quota):
            batch = next(self.batches)
            done += 1
            batch["stream"].update(epoch=epoch_index, batch=done)
            yield batch
