"""The labelling input stream: every sample of every pending unit, exactly once.

Units are dealt round-robin to ranks, then to DataLoader workers, so each
image is decoded by exactly one process. Each worker walks whole units in
order and emits, after a unit's last sample, an end-of-unit record carrying
the number of samples it saw; the writer commits a unit only when that record
arrives, with ``labelled + skipped == seen``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import IterableDataset

from iqa.data.corpus import Unit, dist_info, image_member, iter_unit_samples, sample_source, split_for_rank, worker_info
from iqa.data.images import SkipImage, load_square


class LabelStream(IterableDataset):
    def __init__(self, units: Sequence[Unit], image_size: int, pending: Sequence[str] | None = None) -> None:
        super().__init__()
        self.units = list(units)
        self.image_size = int(image_size)
        # Ranks are dealt units from the full, fixed list so that the split does not
        # depend on which units other ranks already finished; finished ones are skipped.
        self.pending = set(pending) if pending is not None else {u.name for u in self.units}

    def my_units(self) -> list[Unit]:
        rank, world = dist_info()
        worker, workers = worker_info()
        mine = split_for_rank(self.units, rank, world)
        return [u for u in split_for_rank(mine, worker, workers) if u.name in self.pending]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for unit in self.my_units():
            seen = 0
            errors: list[str] = []
            for sample in iter_unit_samples(unit, on_error=lambda exc: errors.append(_reason(exc))):
                seen += 1
                key, source = sample["__key__"], sample_source(sample)
                member = image_member(sample)
                if member is None:
                    others = sorted(k for k in sample if not k.startswith("__"))
                    reason = f"not an image: {others[0]}" if unit.kind == "files" and others else f"no image member (has: {', '.join(others) or 'nothing'})"
                    yield {"kind": "skip", "unit": unit.name, "key": key, "source": source, "reason": reason}
                    continue
                try:
                    image = load_square(member[1], self.image_size)
                except SkipImage as exc:
                    yield {"kind": "skip", "unit": unit.name, "key": key, "source": source, "reason": str(exc)}
                    continue
                yield {"kind": "image", "unit": unit.name, "key": key, "source": source, "image": image}
            for reason in errors:
                # A broken shard: what was read is kept; the unreadable rest is one skip entry.
                yield {"kind": "skip", "unit": unit.name, "key": "", "source": unit.source, "reason": reason, "counted": False}
            yield {"kind": "end", "unit": unit.name, "source": unit.source, "seen": seen}


def _reason(exc: Exception) -> str:
    text = str(exc.args[0]) if getattr(exc, "args", None) else type(exc).__name__
    return f"shard error after the samples read so far: {type(exc).__name__}: {text.split(' @ ')[0][:200]}"


def collate_label_batch(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack the decodable images; pass skips and end-of-unit records through."""
    images = [item for item in items if item["kind"] == "image"]
    return {
        "images": torch.stack([item["image"] for item in images]) if images else None,
        "keys": [item["key"] for item in images],
        "units": [item["unit"] for item in images],
        "sources": [item["source"] for item in images],
        "records": [{k: v for k, v in item.items() if k != "image"} for item in items if item["kind"] != "image"],
    }
