"""Training orchestration: ``train(cfg)``, the job of ``train.py`` and ``iqa train``.

Stages: pretraining (``stage=pretrain``), fine-tuning (``stage=finetune``),
linear and ridge probing, enhancement (``stage=enhance``). Every object of a
run is built from its config node: the student from ``net``
(:func:`iqa.models.build_student`), ``stage.datamodule``, ``loss``,
``stage.module`` (given the net, loss and ``stage.optimizer``), ``logger``, the
``callbacks`` group and ``trainer``. What is left here is what only the run
knows: the builder the stage calls for, the dataset's MOS scale, whether a
validation split exists, resuming (``resume=auto``: ``last.ckpt`` or a newer
SLURM requeue checkpoint), saving the true last state, and the metadata a
checkpoint records. :func:`setup_run` and :func:`prepare_data` serve every job
(labelling and evaluation too).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from iqa.attributes import ATTRIBUTES
from iqa.checkpoints import FRESH_INITS, read_meta, stamp, stamp_run
from iqa.config import instantiate_list, instantiate_node, load_group, pin_multirun_job, to_plain
from iqa.data.records import scoring_view
from iqa.data.splits import canonical_recipe
from iqa.errors import UserError
from iqa.io import atomic_write_json
from iqa.loggers import build_logger, close_logger
from iqa.models import IQANet

log = logging.getLogger("iqa.train")



def apply_stage_alias(cfg: DictConfig) -> None:
    """``stage=linear_probe stage.head=ridge`` (the spelling before ``stage=ridge_probe``): apply that stage file.

    Its body (module, datamodule view, trainer keys) is merged over the composed
    config: keys the user set elsewhere (``stage.ridge_alpha``...) stay, and its
    trainer keys win over ``trainer.*`` overrides, as they did before the file existed.
    """
    stage = cfg.stage
    if stage.name != "linear_probe" or stage.head != "ridge" or stage.module._target_ == RIDGE_MODULE:
        return
    body = load_group("stage", "ridge_probe")
    body.pop("defaults", None)
    with open_dict(cfg):
        cfg.merge_with(body)


def readable_checkpoint(path: Path) -> bool:
    """Whether ``path`` loads as a checkpoint with a global step (a file cut short by ``kill -9`` does not)."""
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # truncated zip, pickle errors, ...: any failure means it cannot be resumed from
        return False
    return isinstance(checkpoint, dict) and "global_step" in checkpoint


def resume_path(cfg: DictConfig, run_dir: Path) -> str | None:
    choice = str(cfg.resume)
    if choice in ("never", "false", "False", "none"):
        return None
    if choice == "auto":
        # last.ckpt, or a newer hpc_ckpt_<n>.ckpt that Lightning saved before a SLURM requeue.
        found = [p for p in [run_dir / "checkpoints" / "last.ckpt", *run_dir.glob("hpc_ckpt_*.ckpt")] if p.is_file()]
        for path in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True):
            if readable_checkpoint(path):
                return str(path)
            log.warning("resume: %s is unreadable (cut short by a kill or a full disk?); skipping it", path)
        if found:
            log.warning("resume: no readable checkpoint in %s; starting this run afresh", run_dir)
        return None
    if not Path(choice).is_file():
        raise UserError(f"resume: checkpoint not found: {choice}")
    return choice


def resume_load_options(trainer: Any, ckpt_path: str | None) -> dict[str, Any]:
    """``trainer.fit`` options to resume from ``ckpt_path``: a full (not weights-only) load.

    The checkpoint is the run's own (``resume=auto``) or one named by ``resume=``, trusted as
    :func:`iqa.checkpoints.read_meta` trusts it. Fine-tunes written by earlier versions keep
    OmegaConf containers among their hyperparameters, which torch's weights-only default refuses.
    A Lightning without the option gets nothing extra.
    """
    if ckpt_path and "weights_only" in inspect.signature(trainer.fit).parameters:
        return {"weights_only": False}
    return {}


def build_pretrain(cfg: DictConfig, net: IQANet):
    """(PretrainModule, PretrainDataModule): the student against teacher pseudo-labels."""
    stage = cfg.stage
    if not cfg.data.corpus:
        raise UserError(f"stage=pretrain needs an image corpus; data={cfg.data.name} has none")
    datamodule = instantiate_node(stage.datamodule, attributes=ATTRIBUTES)
    datamodule.prepare()  # fail before the trainer starts: missing labels, wrong attributes, ...
    loss = instantiate_node(cfg.loss, attributes=ATTRIBUTES)
    module = instantiate_node(stage.module, net=net, loss=loss, optimizer=instantiate_node(stage.optimizer))
    return module, datamodule


FINETUNE_HEADS = ("linear", "grounded", "ridge")
RIDGE_MODULE = "iqa.modules.finetune.RidgeProbeModule"


def check_resume_matches(cfg: DictConfig, settings: dict[str, Any]) -> None:
    """Refuse to resume a run directory that holds another split, fraction, dataset, data build, init, loss, head or anchor.

    Runs that differ only in ``data.split_seed`` or ``data.train_fraction``
    share a default run name; resuming one from the other's ``last.ckpt``
    would silently mix two experiments.
    """
    if str(cfg.resume) != "auto":
        return
    last = Path(str(cfg.run_dir)) / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return
    try:
        meta = read_meta(last)
    except UserError:  # resume_path reports unreadable checkpoints
        return
    previous = {"data": meta.data, "init": meta.init, "split": canonical_recipe(meta.split) if meta.split else None,
                "loss": getattr(meta, "loss_name", None)}
    current = {"data": cfg.data.name, "init": str(cfg.net.init), "split": canonical_recipe(settings),
               "loss": OmegaConf.select(cfg, "loss.name")}
    head = OmegaConf.select(cfg, "stage.head", default=None)
    if head is not None:  # the quality head's kind (linear, grounded, ridge): their weights do not load into each other
        previous["head"], current["head"] = getattr(meta, "head", None), str(head)
    anchor = OmegaConf.select(cfg, "stage.module.attribute_anchor", default=None)
    if anchor is not None:  # fine-tuning; a checkpoint from before the setting was fine-tuned without it
        previous["attribute_anchor"] = float((getattr(meta, "extra", None) or {}).get("attribute_anchor", 0.0))
        current["attribute_anchor"] = float(anchor)
    differing = {k: (previous[k], current[k]) for k in previous if previous[k] is not None and previous[k] != current[k]}
    # recorded build options are compared even where None (e.g. photos: null, every photo)
    differing.update({f"data.prepare.{k}": v for k, v in build_differences(getattr(meta, "data_config", None), cfg).items()})
    if differing:
        detail = "; ".join(f"{k}: {there} there, {now} now" for k, (there, now) in differing.items())
        raise UserError(
            f"{cfg.run_dir} holds a run with other settings ({detail}); pass run_name=<new name>, "
            f"resume=never to overwrite it, or use -m (each sweep job gets its own directory)"
        )


def builder_declarations(target: str | None) -> tuple[dict[str, Any], tuple[str, ...]]:
    """What the data builder ``target`` (a ``data.prepare._target_``) declares about its options.

    ``(options added later, with the value older builds had; options that leave its unlabelled corpus unchanged)``,
    read from its module's ``OPTIONS_ADDED`` and ``MOS_ONLY_OPTIONS`` (empty where it declares none or does not import).
    """
    module_name = str(target or "").rpartition(".")[0]
    try:
        module = importlib.import_module(module_name) if module_name else None
    except ImportError:
        module = None
    return dict(getattr(module, "OPTIONS_ADDED", {})), tuple(getattr(module, "MOS_ONLY_OPTIONS", ()))


def build_differences(recorded: dict[str, Any] | None, cfg: DictConfig) -> dict[str, tuple[Any, Any]]:
    """``{option: (recorded, now)}`` for the data build options (``data.prepare``) a run's checkpoint and ``cfg`` disagree on.

    A rebuilt corpus keeps its folder, so a finished run in a folder whose data was rebuilt with other
    options would otherwise be resumed or reused as if nothing had changed. Where the data lives
    (``root``) does not count, nor do options that the builder declares leave the stage's data unchanged.
    """
    prepare = OmegaConf.select(cfg, "data.prepare", default=None)
    old = recorded.get("prepare") if isinstance(recorded, dict) else None
    if not isinstance(old, dict) or not isinstance(prepare, DictConfig):
        return {}
    new = OmegaConf.to_container(prepare, resolve=True)
    added, mos_only = builder_declarations(new.get("_target_"))
    skip = {"_target_", "root", *(mos_only if OmegaConf.select(cfg, "stage.name") == "pretrain" else ())}
    old, new = ({**added, **side} for side in (old, new))
    return {k: (old.get(k), new.get(k)) for k in sorted((set(old) | set(new)) - skip) if old.get(k) != new.get(k)}


def build_finetune(cfg: DictConfig, net: IQANet):
    """(FinetuneModule, IQADataModule): the quality head (and backbone) against MOS.

    ``stage=ridge_probe`` builds the closed-form
    :class:`~iqa.modules.finetune.RidgeProbeModule`; its stage file makes the
    run one deterministic pass over the training split.
    """
    from iqa.data.catalog import dataset_scale, split_settings

    stage = cfg.stage
    if not cfg.data.iqa:
        raise UserError(f"stage={stage.name} needs an IQA dataset with MOS; data={cfg.data.name} is an unlabelled corpus")
    head = str(stage.head)
    if head not in FINETUNE_HEADS:
        raise UserError(f"unknown stage.head '{head}'; valid: {', '.join(FINETUNE_HEADS)}")
    ridge = stage.module._target_ == RIDGE_MODULE
    if head == "ridge" and not ridge:
        raise UserError("stage.head=ridge needs a frozen backbone: use stage=ridge_probe (or stage=linear_probe stage.head=ridge)")
    if ridge and head != "ridge":
        raise UserError(f"stage.head={head} with stage=ridge_probe: use stage=linear_probe for a head learnt by gradient descent")
    from iqa.modules.finetune import anchor_weight

    anchor = anchor_weight(OmegaConf.select(stage, "module.attribute_anchor", default=0.0))
    if anchor > 0 and run_init(cfg) in (None, *FRESH_INITS):
        raise UserError(f"stage.module.attribute_anchor={anchor} holds the attribute heads to what pretraining taught them, "
                        f"but init={run_init(cfg)} has untrained heads: start from a pretrain checkpoint "
                        f"(init=<run>/checkpoints/last.ckpt) or leave attribute_anchor at 0")
    data = to_plain(cfg.data)
    image_size = int(cfg.data.iqa.image_size)
    if stage.crop_size and int(stage.crop_size) > image_size:
        raise UserError(f"stage.crop_size={stage.crop_size} exceeds data.iqa.image_size={image_size} (images are resized "
                        f"to that short side first); lower stage.crop_size or raise data.iqa.image_size")
    (low, high), higher_is_better = dataset_scale(data)
    settings = split_settings(data)
    check_resume_matches(cfg, settings)
    datamodule = instantiate_node(stage.datamodule)
    datamodule.setup("fit")
    sizes = {split: len(datamodule.records(split)) for split in ("train", "val")}
    if not sizes["train"]:
        raise UserError(f"data={cfg.data.name}: the training split is empty")
    log.info("data=%s split %s: %d train, %d val images", cfg.data.name, settings, sizes["train"], sizes["val"])
    loss = instantiate_node(cfg.loss, attributes=["quality"])
    module = instantiate_node(
        stage.module, net=net, loss=loss, optimizer=instantiate_node(stage.optimizer), mos_range=[low, high],
        higher_is_better=higher_is_better,
    )
    # What evaluate.py needs to rebuild this run's exact test split (and report which data it saw).
    stamp(module.hparams, split=settings, data_config=data, train_images=sizes["train"], head=head)
    return module, datamodule


def save_last(trainer, path: Path) -> None:
    """Save the final state as ``last.ckpt`` (tmp file + rename: a kill never leaves half a checkpoint).

    Lightning's own ``save_last`` only fires with a validation or epoch end,
    which a step budget can cut off; resuming must start from the true end.
    """
    if trainer.interrupted or getattr(trainer, "fast_dev_run", False):
        return
    tmp = path.with_name(f".{path.name}.tmp")
    trainer.save_checkpoint(tmp)
    if trainer.is_global_zero:
        os.replace(tmp, path)
    trainer.strategy.barrier()


def skipped_all_ranks(module) -> dict[str, int]:
    """Data-pipeline skip counts summed over ranks (every rank must call this)."""
    from iqa.distributed import gather_to_all

    totals: dict[str, int] = {}
    for part in gather_to_all(dict(getattr(module, "skipped_totals", {}))):
        for reason, count in part.items():
            totals[reason] = totals.get(reason, 0) + int(count)
    return totals


#: Variables Lightning's DDP launcher sets in this process; left behind, they would make the next job
#: of a multirun sweep think its ranks were started externally (and wait for ranks that never come).
LAUNCH_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE", "PL_GLOBAL_SEED")


def train(cfg: DictConfig, callbacks: list | None = None) -> dict[str, Any]:
    """Train one stage (the job of ``train.py`` / ``iqa train``).

    ``callbacks`` are added to the trainer's (benchmarks and tools hook in here).

    Returns the run's summary, also written to ``<run_dir>/summary.json``.
    """
    saved = {name: os.environ.get(name) for name in LAUNCH_VARIABLES}
    argv = list(sys.argv)  # setup_run may point it at this job (see iqa.config.pin_multirun_job)
    try:
        return fit(cfg, callbacks or [])
    finally:
        sys.argv = argv
        release_process_group()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def student_stage(cfg: DictConfig):
    """The builder of the student's stages (``stage.builder`` of pretrain, finetune, linear_probe, ridge_probe).

    Checks the scoring view, prepares the data, builds the net from ``net`` and hands it
    to :func:`build_pretrain` or :func:`build_finetune`, then stamps what a checkpoint
    records about the run.
    """
    pretrain = cfg.stage.name == "pretrain"
    # A bad scoring view fails before any data is built.
    section = None if pretrain else cfg.data.get("iqa")  # no section: build_finetune says why
    view = scoring_view(section.get("view"), section.get("image_size", 384)) if section else None
    prepare_data(cfg.data)
    net = instantiate_node(cfg.net)
    module, datamodule = (build_pretrain if pretrain else build_finetune)(cfg, net)
    # Scoring a pretrain checkpoint resizes images as its teacher (and so its training crops) saw them.
    image_size = datamodule.manifest["teacher"]["image_size"] if pretrain else cfg.data.iqa.image_size
    stamp_run(module.hparams, stage=cfg.stage.name, init=run_init(cfg), data=cfg.data.name, image_size=image_size, view=view,
              loss_name=OmegaConf.select(cfg, "loss.name"))
    return module, datamodule


def run_init(cfg: DictConfig) -> str | None:
    """Where the trained network started: ``stage.init`` where the stage has one (enhance), else ``net.init``."""
    init = cfg.stage.init if "init" in cfg.stage else cfg.net.get("init")
    return None if init is None else str(init)


def stage_builder(cfg: DictConfig):
    """The stage's ``builder``: ``module:function`` or ``module.function``, called with the config, giving (module, datamodule)."""
    import importlib

    from iqa.config import group_choices

    target = cfg.stage.get("builder")
    if not target:
        raise UserError(f"stage={cfg.stage.name} names no builder (stage.builder: <module>.<function> returning "
                        f"(LightningModule, LightningDataModule)); the shipped stages: {', '.join(group_choices('stage'))}")
    module, _, name = str(target).replace(":", ".").rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        raise UserError(f"stage.builder: cannot import {target}") from None


def fit(cfg: DictConfig, extra_callbacks: list) -> dict[str, Any]:
    apply_stage_alias(cfg)
    builder = stage_builder(cfg)
    run_dir = setup_run(cfg)
    module, datamodule = builder(cfg)
    init = run_init(cfg)
    enhance = cfg.stage.name == "enhance"

    # A streamed corpus has a validation stream or none; a dataset split has a validation loader or an empty one.
    has_val = datamodule.val_stream is not None if hasattr(datamodule, "val_stream") else bool(datamodule.val_dataloader())
    no_val = {}
    if not has_val:  # nothing to rank checkpoints by (callbacks.model_checkpoint then keeps no best.ckpt)
        cfg.stage.monitor = None
        no_val = {"limit_val_batches": 0, "val_check_interval": None}
    logger = build_logger(cfg)
    callbacks = [*instantiate_list(cfg.callbacks), *extra_callbacks]
    trainer = instantiate_node(cfg.trainer, drop=(), logger=logger, callbacks=callbacks, **no_val)
    if logger and trainer.is_global_zero:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    ckpt_path = resume_path(cfg, run_dir)
    if ckpt_path and trainer.is_global_zero:
        log.info("resuming from %s", ckpt_path)
    started = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, **resume_load_options(trainer, ckpt_path))
    save_last(trainer, run_dir / "checkpoints" / "last.ckpt")
    summary = {
        "stage": cfg.stage.name,
        "init": init,
        "run_dir": str(run_dir),
        "global_step": int(trainer.global_step),
        "start_step": int(getattr(module, "start_step", 0)),
        "resumed_from": ckpt_path,
        "best_checkpoint": (trainer.checkpoint_callback.best_model_path or None) if trainer.checkpoint_callback else None,
        "last_checkpoint": str(run_dir / "checkpoints" / "last.ckpt"),
        "metrics": {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1},
        "nonfinite_batches": int(getattr(module, "nonfinite_batches", 0)),
        "skipped": skipped_all_ranks(module),
        "world_size": int(trainer.world_size),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if enhance and trainer.is_global_zero:
        from iqa.modules.enhance import final_report

        summary["validation"] = final_report(module, datamodule, run_dir)
        summary["skipped"] = {"unreadable": int(module.skipped_images)} if module.skipped_images else {}
    close_logger(logger)
    if trainer.is_global_zero:
        atomic_write_json(run_dir / "summary.json", summary)
        print(f"{cfg.stage.name} done: step {summary['global_step']}, checkpoints in {run_dir / 'checkpoints'}")
    return summary


def release_process_group() -> None:
    """End this job's process group: the next job of a multirun sweep in this process starts its own."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# -- shared by every job ----------------------------------------------------------------------


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


#: The name earlier versions gave :func:`train` (``iqa.cli.train.run``).
run = train

__all__ = ["prepare_data", "resume_path", "save_last", "setup_run", "train"]
