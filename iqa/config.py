"""Config helpers shared by the entry points and tests.

Importing this module registers the OmegaConf resolvers the YAML files use:

* ``${iqa_resource:NAME}`` -- absolute path of a file shipped in ``iqa/resources``;
* ``${iqa_if:CONDITION,THEN,OTHERWISE}`` -- ``THEN`` when ``CONDITION`` is set (not null,
  false, 0 or empty), else ``OTHERWISE``; lets a callback node depend on a logger or a monitor;
* ``${iqa_progress_refresh:CHOICE,ACCELERATOR}`` -- the progress bar's refresh rate;
* ``${iqa_rank_zero_only:X}`` -- ``X`` on rank 0, null on other ranks (so only
  rank 0 writes Hydra's ``.hydra/`` folder under torchrun or SLURM);
* ``${iqa_rank_suffix:}`` -- ``""`` on rank 0, ``-rank<r>`` elsewhere (per-rank log files);
* ``${iqa_job_dirname:TASK_OVERRIDES,OVERRIDE_DIRNAME}`` -- a sweep job's folder name;
* ``${iqa_slurm_devices:N}`` -- ``trainer.devices`` as a positive count for SLURM.

It also holds the launch plumbing those resolvers serve: ranks before
torch.distributed exists, Hydra multirun combined with DDP, SLURM
(:func:`pin_multirun_job`, :func:`check_multirun_launch`).

It stays cheap to import (no torch, no Lightning): every entry point imports it before
it knows whether the job runs at all (``--help``).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

CONFIG_DIR = str(Path(__file__).resolve().parent / "conf")
RESOURCES = Path(__file__).resolve().parent / "resources"

#: Keys in a config node that describe it rather than being constructor arguments.
META_KEYS = ("name", "label_set")

#: Progress-bar refreshes between which a GPU may run ahead (``progress_refresh: auto``).
GPU_REFRESH_STEPS = 25


def _resource(name: str) -> str:
    return str(RESOURCES / name)


def _if(condition: Any, then: Any, otherwise: Any) -> Any:
    return then if condition not in (None, False, 0, "", "none", "None", "null") else otherwise


def progress_refresh(choice: Any, accelerator: Any = "auto") -> int:
    """Steps between progress-bar refreshes: every step on CPU, every ``GPU_REFRESH_STEPS`` on GPU.

    Each refresh reads the logged tensors back to the host, which stalls a GPU
    that could otherwise run ahead of the Python loop. An integer is used as given.
    """
    if str(choice) != "auto":
        return max(1, int(choice))
    import torch

    on_gpu = torch.cuda.is_available() and str(accelerator) in ("auto", "gpu", "cuda")
    return GPU_REFRESH_STEPS if on_gpu else 1


# The user config directory on Hydra's search path (ATTIQA_USER_CONF, default ./user_conf) is
# optional: most users never create it, and Hydra would warn about it on every run.
warnings.filterwarnings("ignore", message=r"provider=hydra\.searchpath in main, path=.* is not available")

for _name, _resolver in (("iqa_resource", _resource), ("iqa_if", _if), ("iqa_progress_refresh", progress_refresh)):
    if not OmegaConf.has_resolver(_name):
        OmegaConf.register_new_resolver(_name, _resolver)


def config_dir() -> str:
    """The ``iqa/conf/`` directory (``ATTIQA_CONFIG_DIR`` overrides it)."""
    return os.environ.get("ATTIQA_CONFIG_DIR", CONFIG_DIR)


def user_config_dir() -> Path:
    """The user's config groups (``$ATTIQA_USER_CONF``, default ``./user_conf``), on every entry point's search path."""
    return Path(os.environ.get("ATTIQA_USER_CONF", "user_conf"))


def group_choices(group: str) -> dict[str, Path]:
    """Choices of a config group: name -> its YAML file, from the shipped groups and the user's.

    As on Hydra's search path, a shipped file shadows a user file of the same name.
    """
    found: dict[str, Path] = {}
    for root in (user_config_dir(), Path(config_dir())):
        folder = root / group
        if folder.is_dir():
            found.update({path.stem: path for path in sorted(folder.glob("*.yaml"))})
    return dict(sorted(found.items()))


def load_group(group: str, name: str) -> DictConfig:
    """One config file, ``<group>/<name>.yaml`` (``group=""`` for a top-level file), without Hydra.

    The one reader of config files outside Hydra's composition: an unknown name
    is a :class:`~iqa.errors.UserError` that lists the valid choices.
    """
    from iqa.errors import UserError, suggest

    if not group:
        path = Path(config_dir(), f"{name}.yaml")
        if not path.is_file():
            raise UserError(f"no config file {name}.yaml in {config_dir()}")
        return OmegaConf.load(path)
    choices = group_choices(group)
    if name not in choices:
        noun = "dataset" if group == "data" else group
        raise UserError(f"unknown {noun} '{name}'{suggest(name, choices)}; valid: {', '.join(choices)}")
    return OmegaConf.load(choices[name])


def instantiate_node(node: Any, drop: tuple[str, ...] = META_KEYS, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` without the descriptive keys (``name``, ``label_set``).

    A node whose ``_target_`` is null builds nothing (``logger=none``). A
    :class:`~iqa.errors.UserError` raised by the target stays one: Hydra would
    otherwise wrap it in an ``InstantiationException`` and the entry points
    would print a traceback instead of one line.
    """
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    from iqa.errors import UserError

    if node is None:
        return None
    container = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node)
    if container.get("_target_") is None:
        return None
    for key in drop:
        container.pop(key, None)
    try:
        return instantiate(container, **kwargs)
    except InstantiationException as exc:
        cause = exc.__cause__
        while cause is not None and not isinstance(cause, UserError):
            cause = cause.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        raise


def instantiate_list(group: Any) -> list[Any]:
    """Instantiate every node of a group such as ``callbacks`` (name -> node), in order.

    A node with ``enabled: false`` or a null ``_target_`` is left out: the YAML
    states the condition (``enabled: ${...}``) instead of code special-casing it.
    """
    built = []
    for name, node in (group or {}).items():
        if not isinstance(node, (DictConfig, Mapping)) or node.get("_target_") is None:
            continue
        if not node.get("enabled", True):
            continue
        obj = instantiate_node(node, drop=("enabled",))
        if obj is None:
            raise ValueError(f"callbacks.{name} built nothing")
        built.append(obj)
    return built


def resolve_precision(value: Any) -> Any:
    """``precision: auto``: bf16-mixed on a GPU that supports it, else 32-true; anything else as given."""
    if str(value) != "auto":
        return value
    import torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def lightning_trainer(precision: Any = "auto", **kwargs: Any):
    """``pytorch_lightning.Trainer`` with ``precision: auto`` resolved (the ``trainer`` group's ``_target_``)."""
    import pytorch_lightning as pl

    return pl.Trainer(precision=resolve_precision(precision), **kwargs)


def select_keys(node: Any, keys: Iterable[str]) -> dict[str, Any]:
    """``node`` resolved, with only its ``_``-keys (``_target_``...) and ``keys`` (label.py: the trainer's hardware)."""
    wanted = set(keys)
    chosen = [k for k in node.keys() if str(k).startswith("_") or k in wanted]  # resolve these only:
    return {k: to_plain(node[k]) for k in chosen}  # the others may refer to keys this entry point lacks (stage.*)


def to_plain(node: Any) -> Any:
    """A resolved plain-Python copy of a config node (dicts, lists, scalars)."""
    if isinstance(node, (DictConfig,)) or OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True)
    if isinstance(node, Mapping):
        return dict(node)
    return node


# -- launching: ranks, Hydra multirun with DDP, SLURM -------------------------------------------

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
        from iqa.errors import UserError

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
