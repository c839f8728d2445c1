"""``iqa rank`` as a library call: resolve the checkpoint, dataset root and threads, rank, write the reports."""

from __future__ import annotations

import time
from collections.abc import Sequence

from iqa.errors import UserError
from iqa.ranking.reports import report
from iqa.ranking.scoring import rank
from iqa.ranking.settings import RankSettings

__all__ = ["run_rank"]


def run_rank(settings: RankSettings, groups: Sequence[str] = ()) -> int:
    """Rank one folder (or file) per group, or ``settings.csv`` / ``settings.dataset``; write and print the reports; returns 0."""
    import torch

    from iqa.inference import default_device, plan_threads, resolve_checkpoint

    s = settings
    if not groups and not s.csv and not s.dataset:
        raise UserError("nothing to rank: give one folder per group, --csv FILE or --dataset NAME (or --demo)")
    if s.root and not s.dataset:
        raise UserError("--root is the root of a --dataset")
    root = s.root
    if s.dataset and root is None:
        from iqa.data.catalog import data_config

        root = data_config(s.dataset).get("root")  # the config's default: $ATTIQA_DATA_DIR (or data/) / <name>
    ckpt = resolve_checkpoint(s.ckpt)
    dev = torch.device(s.torch_device) if s.torch_device else default_device()
    workers, threads = plan_threads(s.num_workers, dev.type)
    if dev.type == "cpu":
        torch.set_num_threads(threads)
    started = time.perf_counter()
    results = rank(list(groups) or None, ckpt=ckpt, csv=s.csv, dataset=s.dataset, root=root, split=s.split, cache=s.cache,
                   batch_size=int(s.batch_size), num_workers=workers, device=s.torch_device, chunk_size=int(s.chunk_size),
                   n_boot=int(s.bootstrap), seed=int(s.seed), level=float(s.level), alpha=float(s.alpha), min_group=int(s.min_group),
                   reference=s.reference, progress=s.progress, cluster_by=s.cluster_by, breakdown_by=s.breakdown_by,
                   mos_direction=s.mos_direction, max_pair_groups=int(s.max_pair_groups))
    report(results, s.out, logger=s.logger, seconds=time.perf_counter() - started)
    return 0
