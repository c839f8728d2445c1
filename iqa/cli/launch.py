"""Launch plumbing: ranks before torch.distributed exists, Hydra multirun combined with DDP, SLURM.

Resolvers used by ``iqa/conf/train.yaml`` and ``iqa/conf/hydra/launcher/slurm.yaml``
(registered on import):

* ``${iqa_rank_zero_only:X}`` -- ``X`` on rank 0, null on other ranks (so only
  rank 0 writes Hydra's ``.hydra/`` folder under torchrun or SLURM);
* ``${iqa_rank_suffix:}`` -- ``""`` on rank 0, ``-rank<r>`` elsewhere (per-rank log files);
* ``${iqa_job_dirname:TASK_OVERRIDES,OVERRIDE_DIRNAME}`` -- a sweep job's folder name;
* ``${iqa_slurm_devices:N}`` -- ``trainer.devices`` as a positive count for SLURM.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from omegaconf import OmegaConf

from iqa.errors import UserError

#: The command line as launched; ``pin_multirun_job`` rewrites ``sys.argv`` for each sweep job.
LAUNCH_ARGV: list[str] = list(sys.argv)

#: Where launchers put a process's rank before torch.distributed exists (torchrun, SLURM, LSF,
#: Lightning's own DDP children: LOCAL_RANK / NODE_RANK).
RANK_VARIABLES = ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK", "LOCAL_RANK", "NODE_RANK")


def launched_rank_zero() -> bool:
    """True unless a launcher marked this process as a non-zero rank."""
    return all(int(os.environ.get(name, "0") or 0) == 0 for name in RANK_VARIABLES)


def _rank_suffix() -> str:
    for name in ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if int(os.environ.get(name, "0") or 0) > 0:
            return f"-rank{os.environ[name]}"
    return "" if launched_rank_zero() else f"-node{os.environ.get('NODE_RANK', 0)}-local{os.environ.get('LOCAL_RANK', 0)}"


# Used in conf/train.yaml's hydra section: under torchrun or SLURM every rank runs Hydra with the
# same run directory; only rank 0 may write .hydra/, and each other rank logs to its own file.
if not OmegaConf.has_resolver("iqa_rank_zero_only"):
    OmegaConf.register_new_resolver("iqa_rank_zero_only", lambda value: value if launched_rank_zero() else None)
if not OmegaConf.has_resolver("iqa_rank_suffix"):
    OmegaConf.register_new_resolver("iqa_rank_suffix", _rank_suffix)


def _swept_keys(argv: Sequence[str]) -> set[str]:
    """Keys given as sweeps (``a=1,2``, ``range(...)``, ``choice(...)``) on this command line."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    keys = set()
    parser = OverridesParser.create()
    for arg in argv:
        if "=" not in arg or arg.startswith("-"):
            continue
        try:
            override = parser.parse_override(arg)
        except Exception:  # noqa: BLE001  (Hydra reports bad overrides itself)
            continue
        if override.is_sweep_override():
            keys.add(override.get_key_element().lstrip("+~"))
    return keys


def _job_dirname(task_overrides: Any, override_dirname: Any, limit: int = 120) -> str:
    """A sweep job's folder name: the swept ``key=value`` pairs (all overrides if none are known).

    No path separators, and at most ``limit`` characters plus a short hash, so
    that long fixed overrides can neither hide the swept values nor exceed
    the file system's name limit.
    """
    import hashlib

    # Cluster launchers run the job in another process, whose command line is the launcher's:
    # hydra_entry passes the swept keys on through the environment.
    given = os.environ.get("ATTIQA_SWEPT_KEYS")
    swept = set(given.split(",")) - {""} if given is not None else _swept_keys(LAUNCH_ARGV[1:])
    items = [str(o) for o in (task_overrides or []) if str(o).split("=", 1)[0].lstrip("+~") in swept]
    text = ",".join(sorted(items)) if items else str(override_dirname)
    text = text.replace("/", "_").replace(os.sep, "_")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


if not OmegaConf.has_resolver("iqa_job_dirname"):
    OmegaConf.register_new_resolver("iqa_job_dirname", _job_dirname)


def _slurm_devices(devices: Any) -> int:
    """``trainer.devices`` as SLURM's GPUs and tasks per node: a positive count."""
    try:
        count = int(devices)
    except (TypeError, ValueError):
        count = 0
    if count < 1:
        raise UserError(f"hydra/launcher=slurm needs trainer.devices=<GPUs per node> (a count, got {devices!r})")
    return count


if not OmegaConf.has_resolver("iqa_slurm_devices"):
    OmegaConf.register_new_resolver("iqa_slurm_devices", _slurm_devices)


_VALUE_FLAGS = ("--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd")
_SWEEP_ONLY = ("hydra.sweep.", "hydra.sweeper.", "hydra.launcher.", "hydra/sweeper=", "hydra/launcher=", "hydra.mode=")


def pin_multirun_job() -> None:
    """Under ``-m``, make Lightning's DDP child processes rerun this one job, not the whole sweep.

    Lightning starts each extra local rank as ``python <script> <sys.argv[1:]>
    hydra.run.dir=<HydraConfig run.dir> hydra.output_subdir=null``. In a
    multirun job ``sys.argv`` still holds ``-m`` and the sweep lists, and
    ``run.dir`` is not the job's folder, so each child would rerun the sweep
    into new folders. Here, in the job's own process and before the trainer
    starts its children, ``sys.argv`` becomes this job's overrides without
    ``-m``, and ``run.dir`` the job's output folder: every child then joins
    exactly this job, in this job's folder. Only for launchers that run jobs in
    this process (the basic launcher); cluster launchers start one process per
    rank themselves.
    """
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode
    except ImportError:  # pragma: no cover
        return
    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN or "BasicLauncher" not in str(hydra_cfg.launcher.get("_target_", "")):
        return
    flags: list[str] = []
    args = iter(LAUNCH_ARGV[1:])
    for arg in args:
        if arg in ("-m", "--multirun"):
            continue
        if arg in _VALUE_FLAGS:
            flags += [arg, next(args, "")]
        elif arg.startswith("-"):
            flags.append(arg)
    hydra_overrides = [o for o in hydra_cfg.overrides.hydra if not o.lstrip("+~").startswith(_SWEEP_ONLY)]
    sys.argv = [LAUNCH_ARGV[0], *flags, *hydra_cfg.overrides.task, *hydra_overrides]
    from omegaconf import read_write

    with read_write(hydra_cfg.run):
        hydra_cfg.run.dir = hydra_cfg.runtime.output_dir


def check_multirun_launch(argv: Sequence[str]) -> None:
    """Before Hydra starts: pass the swept keys on to job processes, and refuse a sweep ranks cannot share."""
    if not any(a in ("-m", "--multirun") for a in argv):
        return
    os.environ["ATTIQA_SWEPT_KEYS"] = ",".join(sorted(_swept_keys(argv)))
    external = "RANK" in os.environ or int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1
    if external and not any(a.startswith("hydra.sweep.dir=") for a in argv):
        # Every rank runs the sweep itself; its folder name holds a timestamp that ranks started
        # at different seconds would not share.
        print("error: -m under torchrun/srun needs a fixed hydra.sweep.dir=<folder> so that all ranks share it", file=sys.stderr)
        sys.exit(2)
