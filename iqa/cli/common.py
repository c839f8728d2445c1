"""Plumbing shared by label.py, train.py and evaluate.py."""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from iqa.cli.launch import check_multirun_launch, pin_multirun_job  # also registers the launch resolvers
from iqa.config import config_dir, instantiate_node, resolve_precision  # noqa: F401  (resolve_precision: re-exported)
from iqa.errors import UserError, one_line_errors, suggest

log = logging.getLogger("iqa")

#: Trainer arguments that make sense for every task (labelling uses only these).
HARDWARE_KEYS = ("accelerator", "devices", "num_nodes", "strategy", "precision")

def quiet_libraries() -> None:
    """Silence chatter that would bury attiqa's own progress output."""
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*Your `IterableDataset` has `__len__` defined.*")
    warnings.filterwarnings("ignore", message=".*The number of training batches.*")
    warnings.filterwarnings("ignore", message=".*infer the batch indices.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*TreeSpec.*")
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("pytorch_lightning.accelerators.cuda").setLevel(logging.WARNING)
    logging.getLogger("root").setLevel(logging.ERROR)  # open_clip's "No pretrained weights loaded"
    logging.getLogger("iqa").setLevel(logging.INFO)  # ...but attiqa's own warnings (skips, left-out units) must show


def setup_run(cfg: DictConfig) -> Path:
    """Seed, quiet libraries, and pin ``cfg.run_dir`` to the directory Hydra made for this job."""
    import pytorch_lightning as pl
    import torch

    quiet_libraries()
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            cfg.run_dir = HydraConfig.get().runtime.output_dir
    except ImportError:  # pragma: no cover
        pass
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    pin_multirun_job()
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")
    return run_dir


def prepare_data(data: DictConfig) -> None:
    """Run the data config's ``prepare`` hook (e.g. build the demo corpus once)."""
    if data.get("prepare"):
        instantiate_node(data.prepare, drop=())


#: The WANDB_DIR this process set for its previous run; a value the user set is never overridden.
_OWN_WANDB_DIR: list[str] = []


def build_logger(cfg: DictConfig):
    logger_cfg = cfg.get("logger")
    if logger_cfg is None or logger_cfg.get("_target_") is None:
        return False
    if "wandb" in str(logger_cfg._target_).lower():
        # W&B writes under the run directory of *this* run, also when one process runs several
        # (a multirun sweep, a notebook): the value set for an earlier run is replaced.
        if os.environ.get("WANDB_DIR") is None or os.environ.get("WANDB_DIR") in _OWN_WANDB_DIR:
            os.environ["WANDB_DIR"] = str(cfg.run_dir)
            _OWN_WANDB_DIR.append(str(cfg.run_dir))
        if os.environ.get("WANDB_MODE") == "offline":
            os.environ.setdefault("WANDB_SILENT", "true")
    return instantiate_node(logger_cfg, drop=())


def close_logger(logger) -> None:
    """Flush and close a logger; W&B runs must be finished or their summary is never written."""
    if not logger:
        return
    if "wandb" in type(logger).__name__.lower():
        import wandb

        if wandb.run is not None:
            wandb.finish()
    else:
        logger.finalize("success")


def check_overrides(config_name: str, argv: Sequence[str]) -> None:
    """Compose once before Hydra does, to turn a mistyped key into a helpful one-line error.

    Hydra already names the valid choices for an unknown group option; for an
    unknown key it only says the key is "not in struct". This lists the keys
    that do exist at that level, with the closest matches first.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import ConfigCompositionException, OverrideParseException

    candidates = [a for a in argv if "=" in a and not a.startswith(("-", "hydra.", "hydra/", "+", "~"))]
    if not candidates:
        return
    try:
        parsed = OverridesParser.create().parse_overrides(candidates)
    except OverrideParseException:
        return  # Hydra reports syntax errors itself
    overrides = []
    for override in parsed:
        if override.is_sweep_override():
            first = next(iter(override.sweep_string_iterator()), None)
            if first is None:
                continue
            overrides.append(f"{override.get_key_element()}={first}")
        else:
            overrides.append(override.input_line)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            compose(config_name=config_name, overrides=overrides)
    except ConfigCompositionException as exc:
        cause = exc.__cause__
        message = str(cause or exc)
        key = getattr(cause, "full_key", None) or ""
        if "not in struct" in message and key:
            parent, _, leaf = key.rpartition(".")
            with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
                base = compose(config_name=config_name, overrides=[o for o in overrides if not o.startswith(key + "=")])
            node = OmegaConf.select(base, parent) if parent else base
            valid = sorted(node.keys()) if isinstance(node, DictConfig) else []
            print(
                f"error: unknown config key '{key}'{suggest(leaf, valid)}; "
                f"valid keys{' under ' + parent if parent else ''}: {', '.join(valid)} "
                f"(prefix with + to add a new key)",
                file=sys.stderr,
            )
            sys.exit(2)
        # Unknown group choices and the like: Hydra's own message already lists the options.
    finally:
        GlobalHydra.instance().clear()


_BRACE_PATTERN = re.compile(r"\{[^{}:'\"]*(\.\.|,)[^{}:'\"]*\}")


def quote_brace_patterns(argv: Sequence[str]) -> list[str]:
    """Quote override values holding shard brace patterns (``shard-{000000..000099}.tar``).

    Hydra's grammar reads ``{`` as the start of a dictionary, so the pattern as users
    type it (and as the shell passes it on) would be a parse error.
    """
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and not arg.startswith("-") and value[:1] not in ("'", '"', "[", "{") and _BRACE_PATTERN.search(value):
            arg = f"{key}='{value}'"
        out.append(arg)
    return out


def load_job(target: str | Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    """A job function, or ``"package.module:function"`` imported now (so ``--help`` never imports torch)."""
    if callable(target):
        return target
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def hydra_entry(config_name: str, run: str | Callable[[DictConfig], Any]) -> None:
    """Run ``run(cfg)`` as a Hydra app with attiqa's error handling.

    ``run`` may be ``"module:function"``: it is imported only when a job runs,
    so ``--help``, ``--cfg`` and composition errors answer without loading
    torch and Lightning.
    """
    import hydra

    sys.argv[1:] = quote_brace_patterns(sys.argv[1:])
    os.environ.setdefault("HYDRA_FULL_ERROR", "0")
    check_multirun_launch(sys.argv[1:])
    if not any(a in ("--help", "-h", "--hydra-help", "--info") or a.startswith("--cfg") for a in sys.argv[1:]):
        if os.environ.get("LOCAL_RANK", "0") == "0" and not os.environ.get("ATTIQA_SKIP_PRECHECK"):
            check_overrides(config_name, sys.argv[1:])

    def job(cfg: DictConfig) -> Any:
        return load_job(run)(cfg)

    hydra.main(version_base="1.3", config_path=config_dir(), config_name=config_name)(one_line_errors(job))()


def fail(message: str) -> None:
    raise UserError(message)
