"""Scoring the images of a ranking through the batched path of ``iqa score``, with the score cache, and :func:`rank`, the one call.

Scoring goes through :func:`iqa.inference.predict_items` in chunks; each
chunk's scores are appended to the per-checkpoint cache file and flushed to
disk before the next chunk starts, so an interrupted run loses nothing already
scored, and a rerun or one more group scores only the images not seen before.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from iqa.errors import UserError
from iqa.ranking.analysis import analyse
from iqa.ranking.cache import ScoreCache, file_key, model_identity
from iqa.ranking.inputs import collect_inputs
from iqa.ranking.results import RankingResults

__all__ = ["rank", "score_paths"]


def score_paths(
    model: Any, paths: Sequence[str], *, cache: ScoreCache | None = None, batch_size: int = 32, num_workers: int = 0,
    device: Any = None, chunk_size: int = 2048, progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, list[str], dict[str, int]]:
    """``(quality_norm [N], attributes [N, A], errors [N], counts)`` for ``paths`` through the batched path, cached.

    Images already in ``cache`` are not scored again; the others are scored in
    chunks of ``chunk_size``, each appended to the cache before the next.
    """
    from iqa.inference import predict_items

    n_attr = len(model.attributes)
    quality = np.full(len(paths), np.nan)
    attributes = np.full((len(paths), n_attr), np.nan)
    errors = [""] * len(paths)
    keys = [file_key(p) for p in paths]
    todo = []
    for i, key in enumerate(keys):
        hit = cache.get(key) if cache is not None else None
        if hit is not None and len(hit[1]) == n_attr:
            quality[i], attributes[i], errors[i] = hit[0], hit[1], hit[2]
        elif key is None:
            errors[i] = "not found"
        else:
            todo.append(i)
    dev = device if device is not None else model.device
    size = max(1, int(chunk_size))
    chunks = (len(todo) + size - 1) // size
    for number, start in enumerate(range(0, len(todo), size), start=1):
        chunk = todo[start : start + size]
        label = (f"scoring {len(todo)} new images" + (f", chunk {number}/{chunks}" if chunks > 1 else "")) if progress else None
        q, a, errs = predict_items(model.net, [paths[i] for i in chunk], model.view, batch_size=batch_size, num_workers=num_workers,
                                   device=dev, progress=label)
        rows = []
        for j, i in enumerate(chunk):
            quality[i], attributes[i], errors[i] = q[j], a[j], errs.get(j, "")
            rows.append((keys[i], float(q[j]), a[j].tolist(), errs.get(j, "")))
        if cache is not None:
            cache.add(rows)
    counts = {"images": len(paths), "scored": len(todo), "cached": len(paths) - len(todo) - sum(1 for k in keys if k is None)}
    return quality, attributes, errors, counts


def rank(
    groups: Any = None,
    *,
    ckpt: str | os.PathLike | None = None,
    csv: str | os.PathLike | None = None,
    dataset: str | None = None,
    root: str | os.PathLike | None = None,
    split: str | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    cache: str | os.PathLike | None = None,
    batch_size: int = 32,
    num_workers: int = 0,
    device: str | None = None,
    chunk_size: int = 2048,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    alpha: float = 0.05,
    min_group: int = 10,
    reference: str | None = None,
    image_size: int | None = None,
    progress: bool = False,
    cluster_by: str | None = None,
    breakdown_by: Sequence[str] | None = None,
    mos_direction: str | None = None,
    max_pair_groups: int = 60,
) -> RankingResults:
    """Score the groups' images with ``ckpt`` and rank the groups; returns :class:`RankingResults`.

    ``ckpt``: a checkpoint file or a shipped model's name; None: ``$ATTIQA_CKPT``, else the shipped default model.

    Exactly one input: ``groups`` (a mapping ``{name: folder, file or list}``,
    or a list of folders named after themselves), ``csv`` (columns ``path``,
    ``group``, optional ``prompt`` or ``pair`` and ``mos``; relative paths are
    relative to the CSV) or ``dataset`` (a ``data`` choice whose records carry a
    group, e.g. ``agiqa3k``, with ``root``/``split``/``dataset_options``).
    ``cache``: a folder for the per-image score cache (None: no cache).
    ``cluster_by``, ``breakdown_by``, ``max_pair_groups``: as for :func:`analyse`;
    ``mos_direction``: ``higher`` | ``lower``, the direction of the inputs' MOS
    (default: the dataset's; for a CSV, ``mos`` higher and ``dmos`` lower).
    """
    import pandas as pd

    from iqa.inference import load, resolve_checkpoint

    wanted = [c for c in (cluster_by, *(breakdown_by or ())) if c]
    inputs = collect_inputs(groups, csv=csv, dataset=dataset, root=root, split=split, dataset_options=dataset_options, columns=wanted,
                            mos_direction=mos_direction)
    ckpt = resolve_checkpoint(ckpt)
    model = load(ckpt, image_size=image_size, device=device)
    if not model.quality_trained:
        raise UserError(f"{ckpt} has no trained quality head (a pretraining checkpoint): rank with a fine-tuned checkpoint")
    identity = model_identity(ckpt, model)
    store = ScoreCache(cache, identity) if cache is not None else None
    unique = list(dict.fromkeys(r["path"] for r in inputs.rows))
    quality, attrs, errors, counts = score_paths(model, unique, cache=store, batch_size=batch_size, num_workers=num_workers,
                                                 device=device, chunk_size=chunk_size, progress=progress)
    where = {p: i for i, p in enumerate(unique)}
    frame = pd.DataFrame(inputs.rows)
    index = frame["path"].map(where).to_numpy()
    frame["quality_norm"] = quality[index]
    names = list(model.scored_attributes)
    for j, name in enumerate(model.attributes):
        if name in names:
            frame[name] = attrs[index, j]
    frame["error"] = [errors[i] for i in index]
    settings = {"checkpoint": str(ckpt), "model_identity": identity, "trained_on": model.meta.data,
                "view": {"policy": model.view.policy, "image_size": model.view.image_size, "crop_size": model.view.crop_size,
                         "upscale": model.view.upscale}, "inputs": inputs.source,
                "cache": str(store.path) if store else None, "images": counts["images"], "newly_scored": counts["scored"],
                "from_cache": counts["cached"], "attributes_trained": model.attributes_trained}
    results = analyse(frame, attributes=names, n_boot=n_boot, seed=seed, level=level, alpha=alpha, min_group=min_group,
                      reference=reference, quality_scale=model.quality_scale, mos_scale=inputs.mos_scale, group_order=inputs.groups,
                      settings=settings, cluster_by=cluster_by, breakdown_by=breakdown_by, max_pair_groups=max_pair_groups)
    results.warnings[:0] = inputs.notes
    if not model.attributes_trained:
        results.warnings.append(f"{ckpt} starts from init={model.meta.init}: its attribute heads never saw an attribute label, "
                                f"so the attribute columns and the attribute panel are left out")
    return results
