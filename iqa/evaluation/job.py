"""The job of ``evaluate.py`` / ``iqa evaluate`` (:func:`run`): an ``evaluate`` config as the arguments of
:func:`~iqa.evaluation.crossdataset.evaluate`, then the reports.

:func:`evaluate_cfg` is what the job computes;
:func:`datasets` resolves the test sets (``datasets=[...]`` or ``data``) against
the same ``paths`` overrides, with ``roots`` and ``dataset_overrides`` applied,
and :func:`checkpoints` reads ``ckpt``; :func:`run` sets the run up, writes the
reports (:mod:`iqa.evaluation.reports`) and logs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from iqa.config import group_choices, load_group
from iqa.errors import UserError, suggest
from iqa.evaluation.crossdataset import EvaluationResults, evaluate, expand_checkpoints


def checkpoints(cfg: DictConfig) -> dict[str, list[str]]:
    """``ckpt`` as variant -> checkpoint paths (see :func:`~iqa.evaluation.crossdataset.expand_checkpoints`)."""
    value = OmegaConf.to_container(cfg.ckpt, resolve=True) if OmegaConf.is_config(cfg.ckpt) else cfg.ckpt
    if value in (None, "", "???"):
        raise UserError("pass ckpt=<checkpoint>, a list, or a mapping {variant: checkpoint or glob}")
    return expand_checkpoints(value)


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
    choices = list(group_choices("data"))
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
    """:func:`~iqa.evaluation.crossdataset.evaluate` with the arguments an ``evaluate`` config holds."""
    variants = checkpoints(cfg)
    view = OmegaConf.to_container(cfg.view, resolve=True) if cfg.get("view") else {}
    return evaluate(
        variants, datasets(cfg), split=str(cfg.split), cross_split=str(cfg.cross_split), view=view,
        crop_size=cfg.get("crop_size"), batch_size=int(cfg.batch_size), num_workers=int(cfg.num_workers),
        device=None if str(cfg.get("device", "auto")) == "auto" else str(cfg.device),
    )


__all__ = ["checkpoints", "datasets", "evaluate_cfg"]


def run(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate, write every report into ``results_dir``, log them, print the matrix; returns the results as a dict."""
    from iqa.evaluation.reports import log_results, write_reports
    from iqa.loggers import build_logger, close_logger
    from iqa.training import setup_run

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
