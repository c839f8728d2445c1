"""Building ``train.py stage=enhance`` from its config, with every check done before training starts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from iqa.config import instantiate_node, to_plain
from iqa.errors import UserError

log = logging.getLogger("iqa.train")


def check_quality_ckpt(path: Any) -> str:
    """The quality checkpoint the objective loads: a file, or a shipped model's name for its weights file.

    ``None`` (or ``default``): the one every command uses when none is given, ``$ATTIQA_CKPT`` when set, else
    the shipped default model, said in one line. A missing file, a directory or an unknown name is a
    :class:`UserError` that names the setting and lists the shipped models.
    """
    from iqa.inference import resolve_checkpoint

    try:
        return resolve_checkpoint(None if not path or str(path) == "default" else str(path))
    except UserError as error:
        raise UserError(f"stage.quality_ckpt: {error}") from None


def check_resume(cfg: DictConfig, enhancer_config: dict[str, Any], quality_ckpt: str) -> None:
    """Refuse to resume a run directory whose ``last.ckpt`` holds another enhancer or another quality model."""
    if str(cfg.resume) in ("never", "false", "False", "none"):
        return
    last = Path(str(cfg.resume)) if str(cfg.resume) != "auto" else Path(str(cfg.run_dir)) / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return
    from iqa.checkpoints import read_checkpoint

    hparams = read_checkpoint(last).get("hyper_parameters") or {}
    stored = hparams.get("enhancer")
    if stored is not None:
        from iqa.enhancement.models import stored_config

        stored = stored_config(stored)
    if stored is None:
        raise UserError(f"resume: {last} is not an enhancer checkpoint (stage={hparams.get('stage', '?')}); "
                        f"pass run_name=<new name> or resume=never")
    if dict(stored) != enhancer_config:
        raise UserError(f"resume: {last} holds enhancer {dict(stored)}, but this run builds {enhancer_config}; "
                        f"pass run_name=<new name>, or resume=never to overwrite it")
    previous = hparams.get("quality_ckpt")
    if previous and Path(str(previous)).resolve() != Path(quality_ckpt).resolve():
        raise UserError(f"resume: {last} was trained against {previous}, not {quality_ckpt}; "
                        f"pass run_name=<new name>, or resume=never to overwrite it")


def build_enhance(cfg: DictConfig):
    """``(EnhanceModule, EnhanceDataModule)`` for ``stage=enhance``; bad input is a one-line :class:`UserError` here."""
    from iqa.enhancement.models import read_enhancer_checkpoint, stored_config

    stage = cfg.stage
    quality_ckpt = check_quality_ckpt(stage.quality_ckpt)
    with open_dict(cfg):  # the objective and the module read it through interpolation
        cfg.stage.quality_ckpt = quality_ckpt
    enhancer = instantiate_node(cfg.enhancer)
    objective = instantiate_node(stage.objective)  # loads the quality model: wrong stage, unknown attribute... fail here
    if stage.init:
        source, hparams = read_enhancer_checkpoint(str(stage.init))
        if stored_config(hparams["enhancer"]) != dict(enhancer.config):
            raise UserError(f"stage.init: {stage.init} holds enhancer {dict(hparams['enhancer'])}, but enhancer={cfg.enhancer.name} "
                            f"builds {dict(enhancer.config)}; choose the matching enhancer settings")
        enhancer.load_state_dict(source.state_dict())
        log.info("enhancer initialised from %s", stage.init)
    check_resume(cfg, dict(enhancer.config), quality_ckpt)
    datamodule = instantiate_node(stage.datamodule)
    datamodule.prepare()
    module = instantiate_node(stage.module, net=enhancer, loss=objective, optimizer=instantiate_node(stage.optimizer),
                              torch_threads=stage.get("torch_threads"))
    module.hparams["enhancer"] = dict(enhancer.config)
    module.hparams["data"] = to_plain(stage.data)
    val = len(datamodule.val_set) if datamodule.val_set is not None else 0
    log.info("enhance: %s enhancer (%d parameters) against %s; objective: %s; %d held-out validation images",
             enhancer.config["arch"], sum(p.numel() for p in enhancer.parameters()), quality_ckpt,
             " | ".join(objective.describe()), val)
    return module, datamodule
