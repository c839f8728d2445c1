"""evaluate.py: the cross-dataset matrix (training set x test set) of SRCC / PLCC / KRCC.

    python evaluate.py ckpt=<path> data=[koniq10k,spaq,livec]
    python evaluate.py 'ckpt={attiqa: a.ckpt, imagenet: b.ckpt}' data=[koniq10k,spaq]
    python evaluate.py 'ckpt={attiqa: "outputs/multirun/train/<stamp>/*/checkpoints/best.ckpt"}' data=[livec]

Rows are variants (a checkpoint, or several checkpoints of one recipe trained
on different random splits: a list or glob), columns are test sets. A test
set that is the variant's own training dataset is evaluated on ``split``
(default ``test``) rebuilt with the exact split recipe recorded in the
checkpoint (scheme, ``split_seed``, fractions), so no training or validation
image is ever scored; any other test set is evaluated on ``cross_split``
(default ``all`` of its images). Several checkpoints per variant report the
median of each metric over them, with every per-checkpoint value kept in
``results.json``.

Outputs, in ``results_dir`` (default: the run directory):
``results.json`` (matrix + details), ``results.md``, ``results.csv`` (long
form), ``matrix.csv`` (wide), ``scatter-<test set>.png`` (one panel per
variant), ``scatter.png`` (every panel), ``predictions-<variant>-<test set>.csv``;
with ``logger=wandb`` also a W&B table and the scatter images.

The evaluation itself is :func:`iqa.evaluation.evaluate` (``iqa.evaluate`` from
Python, no Hydra needed) and the files are written by :mod:`iqa.reports`; this
module turns the command line into their arguments.

Hydra merges ``data=[a,b]`` (a list of choices of one group) into a single
``data`` node, which is not what a list of test sets means; :func:`main`
therefore rewrites ``data=[a,b,c]`` into ``datasets=[a,b,c] data=a`` before
Hydra sees the command line (``datasets=[...]`` works directly too).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from iqa.cli.common import build_logger, close_logger, setup_run
from iqa.errors import UserError, suggest
from iqa.evaluation import EvaluationResults, evaluate, expand_checkpoints
from iqa.reports import log_results, write_reports

_LIST_OVERRIDE = re.compile(r"^data=\[(.*)\]$")


# -- command line ------------------------------------------------------------------------------


def rewrite_dataset_list(argv: Sequence[str]) -> list[str]:
    """``data=[a,b,c]`` -> ``datasets=[a,b,c] data=a`` (+ ``run_name=a-b-c`` unless one is given)."""
    out: list[str] = []
    names: list[str] | None = None
    for arg in argv:
        match = _LIST_OVERRIDE.match(arg)
        if match:
            names = [n.strip().strip("'\"") for n in match.group(1).split(",") if n.strip()]
            continue
        out.append(arg)
    if names is None:
        return list(argv)
    if not names:
        raise SystemExit("error: data=[] names no dataset")
    out += [f"datasets=[{','.join(names)}]", f"data={names[0]}"]
    if not any(a.startswith("run_name=") for a in out):
        out.append(f"run_name={'-'.join(names)}")
    return out


def main() -> None:
    from iqa.cli.common import hydra_entry

    sys.argv = [sys.argv[0], *rewrite_dataset_list(sys.argv[1:])]
    hydra_entry("evaluate", run)


# -- Hydra config -> library arguments ---------------------------------------------------------


def checkpoints(cfg: DictConfig) -> dict[str, list[str]]:
    """``ckpt`` as variant -> checkpoint paths (see :func:`iqa.evaluation.expand_checkpoints`)."""
    value = OmegaConf.to_container(cfg.ckpt, resolve=True) if OmegaConf.is_config(cfg.ckpt) else cfg.ckpt
    if value in (None, "", "???"):
        raise UserError("pass ckpt=<checkpoint>, a list, or a mapping {variant: checkpoint or glob}")
    return expand_checkpoints(value)


def _data_choices() -> list[str]:
    from iqa.config import group_choices

    return list(group_choices("data"))


def _data_choice() -> str | None:
    """The ``data`` group choice of the running Hydra app (None outside one)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return HydraConfig.get().runtime.choices.get("data") if HydraConfig.initialized() else None
    except (ImportError, ValueError):
        return None


def datasets(cfg: DictConfig) -> list[DictConfig]:
    """The test sets: ``datasets`` (names of ``data`` choices), or ``[data]``.

    Each named config is placed at ``data`` in a copy of this config, so its
    interpolations (``${paths.data_dir}``, ...) resolve against the same
    ``paths`` overrides; ``roots: {name: dir}`` moves a dataset's root and
    ``dataset_overrides: {name: {key: value}}`` changes any other setting.
    """
    from iqa.config import load_group

    names = list(cfg.get("datasets") or [])
    roots = OmegaConf.to_container(cfg.roots, resolve=True) if cfg.get("roots") else {}
    changes = OmegaConf.to_container(cfg.dataset_overrides, resolve=False) if cfg.get("dataset_overrides") else {}
    # The composed `data` node serves the entry naming it, by its name (data.name=agiqa3k) or by its choice
    # (data=csv), so that everything overridden on the command line for it applies.
    primary = {str(cfg.data.name), _data_choice()}
    if not names:
        names = [cfg.data.name]
    if len(set(names)) != len(names):
        raise UserError(f"datasets lists a test set twice: {names}")
    choices = _data_choices()
    for name in names:
        if name not in choices and name not in primary:
            raise UserError(f"unknown dataset '{name}'{suggest(name, choices)}; valid: {', '.join(choices)}")
    for what, given in (("roots", roots), ("dataset_overrides", changes)):
        unknown = set(given) - set(names)
        if unknown:
            raise UserError(f"{what} names dataset(s) not under test: {', '.join(sorted(unknown))}")
    loaded = []
    for name in names:
        if name in primary:
            node = cfg
        else:
            node = cfg.copy()
            with open_dict(node):
                node.data = load_group("data", name)
        if name in roots or name in changes:
            with open_dict(node):
                if name in changes:
                    node.data = OmegaConf.merge(node.data, changes[name])
                if name in roots:
                    node.data.root = roots[name]
        if not node.data.get("iqa"):
            raise UserError(f"data={name} is an unlabelled corpus; evaluation needs an IQA dataset with MOS")
        loaded.append(node.data)
    return loaded


def evaluate_cfg(cfg: DictConfig) -> EvaluationResults:
    """:func:`iqa.evaluation.evaluate` with the arguments an ``evaluate`` config holds."""
    variants = checkpoints(cfg)
    view = OmegaConf.to_container(cfg.view, resolve=True) if cfg.get("view") else {}
    return evaluate(
        variants, datasets(cfg), split=str(cfg.split), cross_split=str(cfg.cross_split), view=view,
        crop_size=cfg.get("crop_size"), batch_size=int(cfg.batch_size), num_workers=int(cfg.num_workers),
        device=None if str(cfg.get("device", "auto")) == "auto" else str(cfg.device),
    )


def run(cfg: DictConfig) -> dict[str, Any]:
    setup_run(cfg)
    results_dir = Path(cfg.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    results = evaluate_cfg(cfg)
    written = write_reports(results, results_dir)
    logger = build_logger(cfg)
    if logger:
        log_results(logger, results, written["images"])
        close_logger(logger)
    print()
    print(written["markdown"])
    print(f"outputs: {results_dir}/results.json, results.md, results.csv, matrix.csv, scatter-*.png, predictions-*.csv")
    return results.to_dict()
