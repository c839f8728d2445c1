"""train.py: pretraining (stage=pretrain), fine-tuning (stage=finetune) and linear probing."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from iqa.attributes import ATTRIBUTES
from iqa.checkpoints import read_meta, stamp, stamp_run
from iqa.cli.common import build_logger, close_logger, prepare_data, setup_run, trainer_kwargs
from iqa.config import instantiate_node, to_plain
from iqa.errors import UserError
from iqa.io import atomic_write_json
from iqa.models import IQANet, net_from_checkpoint

log = logging.getLogger("iqa.train")

STAGES = ("pretrain", "finetune", "linear_probe")


def channels_last(value: Any) -> bool:
    return torch.cuda.is_available() if str(value) == "auto" else bool(value)


def build_net(cfg: DictConfig, init: str | None) -> IQANet:
    """The student. ``init``: ``imagenet`` | ``none`` | a checkpoint from any attiqa stage."""
    from iqa.backbones import check_backbone_name

    backbone = cfg.backbone
    check_backbone_name(backbone.name)
    common = {"backbone": backbone.name, "attributes": ATTRIBUTES, "drop_rate": backbone.get("drop_rate", 0.0),
              "channels_last": channels_last(backbone.get("channels_last", False))}
    if init in (None, "imagenet"):
        return IQANet(weights=backbone.weights, **common)
    if init == "none":
        return IQANet(weights="none", **common)
    if not Path(str(init)).is_file():
        raise UserError(f"init: expected 'imagenet', 'none' or a checkpoint file; not found: {init}")
    source, hparams = net_from_checkpoint(str(init))
    if source.backbone_name != backbone.name:
        raise UserError(
            f"init checkpoint {init} holds a '{source.backbone_name}' backbone, but backbone={backbone.name}; "
            f"pass backbone={source.backbone_name}"
        )
    net = IQANet(weights="none", **common)
    missing, unexpected = net.load_state_dict(source.state_dict(), strict=False)
    if unexpected or [k for k in missing if not k.startswith(("attribute_heads", "quality_head"))]:
        raise UserError(f"init checkpoint {init} does not fit this network (missing {missing[:3]}, unexpected {unexpected[:3]})")
    log.info("initialised from %s (stage %s)", init, hparams.get("stage", "?"))
    return net


def resume_path(cfg: DictConfig, run_dir: Path) -> str | None:
    choice = str(cfg.get("resume", "auto"))
    if choice in ("never", "false", "False", "none"):
        return None
    if choice == "auto":
        # last.ckpt, or a newer hpc_ckpt_<n>.ckpt that Lightning saved before a SLURM requeue.
        found = [p for p in [run_dir / "checkpoints" / "last.ckpt", *run_dir.glob("hpc_ckpt_*.ckpt")] if p.is_file()]
        return str(max(found, key=lambda p: p.stat().st_mtime)) if found else None
    if not Path(choice).is_file():
        raise UserError(f"resume: checkpoint not found: {choice}")
    return choice


def build_pretrain(cfg: DictConfig, net: IQANet):
    """(PretrainModule, PretrainDataModule): the student against teacher pseudo-labels."""
    from hydra.utils import instantiate

    from iqa.data.datamodules import PretrainDataModule

    stage = cfg.stage
    corpus = cfg.data.get("corpus")
    if not corpus:
        raise UserError(f"stage=pretrain needs an image corpus; data={cfg.data.name} has none")
    datamodule = PretrainDataModule(
        corpus=to_plain(corpus), labels_dir=str(cfg.labels), attributes=ATTRIBUTES, data_name=cfg.data.name,
        batch_size=stage.batch_size, num_workers=stage.num_workers, crop_size=stage.crop_size,
        steps_per_epoch=stage.get("steps_per_epoch", 1000), shuffle_buffer=stage.get("shuffle_buffer", 2000),
        resampled=stage.get("resampled", False), seed=cfg.seed, prefetch_factor=stage.get("prefetch_factor", 2),
    )
    datamodule.prepare()  # fail before the trainer starts: missing labels, wrong attributes, ...
    loss = instantiate_node(cfg.loss, attributes=ATTRIBUTES)
    module = instantiate(stage.module)(net=net, loss=loss, optimizer=instantiate(stage.optimizer))
    return module, datamodule


FINETUNE_HEADS = ("linear", "ridge")


def check_resume_matches(cfg: DictConfig, settings: dict[str, Any]) -> None:
    """Refuse to resume a run directory that holds another split, fraction, dataset or init.

    Runs that differ only in ``data.split_seed`` or ``data.train_fraction``
    share a default run name; resuming one from the other's ``last.ckpt``
    would silently mix two experiments.
    """
    if str(cfg.get("resume", "auto")) != "auto":
        return
    last = Path(str(cfg.run_dir)) / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return
    try:
        meta = read_meta(last)
    except UserError:  # resume_path reports unreadable checkpoints
        return
    previous = {"data": meta.data, "init": meta.init, "split": meta.split}
    current = {"data": cfg.data.name, "init": str(cfg.get("init", "imagenet")), "split": settings}
    differing = [k for k in previous if previous[k] is not None and previous[k] != current[k]]
    if differing:
        detail = "; ".join(f"{k}: {previous[k]} there, {current[k]} now" for k in differing)
        raise UserError(
            f"{cfg.run_dir} holds a run with other settings ({detail}); pass run_name=<new name>, "
            f"resume=never to overwrite it, or use -m (each sweep job gets its own directory)"
        )


def build_finetune(cfg: DictConfig, net: IQANet):
    """(FinetuneModule, IQADataModule): the quality head (and backbone) against MOS.

    ``stage.head=ridge`` (linear probe only) swaps in the closed-form
    :class:`~iqa.modules.finetune.RidgeProbeModule` and turns the run into one
    deterministic pass over the training split.
    """
    from hydra.utils import instantiate
    from omegaconf import open_dict

    from iqa.data.catalog import dataset_scale, split_settings
    from iqa.data.datamodules import IQADataModule

    stage = cfg.stage
    section = cfg.data.get("iqa")
    if not section:
        raise UserError(f"stage={stage.name} needs an IQA dataset with MOS; data={cfg.data.name} is an unlabelled corpus")
    head = str(stage.get("head", "linear"))
    if head not in FINETUNE_HEADS:
        raise UserError(f"unknown stage.head '{head}'; valid: {', '.join(FINETUNE_HEADS)}")
    ridge = head == "ridge"
    if ridge and stage.name != "linear_probe":
        raise UserError("stage.head=ridge needs a frozen backbone: use stage=linear_probe stage.head=ridge")
    data = to_plain(cfg.data)
    image_size = int((data.get("iqa") or {}).get("image_size", 384))
    if stage.crop_size and int(stage.crop_size) > image_size:
        raise UserError(f"stage.crop_size={stage.crop_size} exceeds data.iqa.image_size={image_size} (images are resized "
                        f"to that short side first); lower stage.crop_size or raise data.iqa.image_size")
    (low, high), higher_is_better = dataset_scale(data)
    settings = split_settings(data)
    check_resume_matches(cfg, settings)
    datamodule = IQADataModule(
        data=data, batch_size=stage.batch_size, num_workers=stage.num_workers, crop_size=stage.crop_size,
        seed=cfg.seed, train_augment=not ridge,
    )
    datamodule.setup("fit")
    sizes = {split: len(datamodule.records(split)) for split in ("train", "val")}
    if not sizes["train"]:
        raise UserError(f"data={cfg.data.name}: the training split is empty")
    log.info("data=%s split %s: %d train, %d val images", cfg.data.name, settings, sizes["train"], sizes["val"])
    loss = instantiate_node(cfg.loss, attributes=["quality"])
    if ridge:
        from iqa.modules.finetune import RidgeProbeModule

        alphas = stage.get("ridge_alpha", 1.0)
        alphas = list(alphas) if OmegaConf.is_list(alphas) else float(alphas)
        module = RidgeProbeModule(net=net, loss=loss, mos_range=[low, high], higher_is_better=higher_is_better, alphas=alphas)
        # One pass over the training split, then the fit; no gradient steps, so no step budget or clipping.
        with open_dict(cfg.trainer):
            cfg.trainer.max_steps = -1
            cfg.trainer.max_epochs = 1
            cfg.trainer.val_check_interval = 1.0
            cfg.trainer.check_val_every_n_epoch = 1
            cfg.trainer.gradient_clip_val = None
    else:
        module = instantiate(stage.module)(
            net=net, loss=loss, optimizer=instantiate(stage.optimizer), mos_range=[low, high], higher_is_better=higher_is_better,
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


def progress_bar(cfg: DictConfig, kwargs: dict[str, Any]):
    """A progress bar that refreshes every step on CPU but only every ``progress_refresh`` steps on GPU.

    Each refresh reads the logged tensors back to the host, which stalls a GPU
    that could otherwise run ahead of the Python loop.
    """
    from pytorch_lightning.callbacks import TQDMProgressBar

    choice = str(cfg.get("progress_refresh", "auto"))
    if choice == "auto":
        on_gpu = torch.cuda.is_available() and str(kwargs.get("accelerator", "auto")) in ("auto", "gpu", "cuda")
        rate = 25 if on_gpu else 1
    else:
        rate = max(1, int(choice))
    return TQDMProgressBar(refresh_rate=rate)


def run(cfg: DictConfig, callbacks: list | None = None) -> dict[str, Any]:
    """Train one stage; ``callbacks`` are added to the trainer's (benchmarks and tools hook in here)."""
    saved = {name: os.environ.get(name) for name in LAUNCH_VARIABLES}
    argv = list(sys.argv)  # setup_run may point it at this job (see iqa.cli.launch.pin_multirun_job)
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


def fit(cfg: DictConfig, extra_callbacks: list) -> dict[str, Any]:
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint

    from iqa.callbacks import ReplicaDigest, ThroughputCallback

    if cfg.stage.name not in STAGES:
        raise UserError(f"unknown stage '{cfg.stage.name}'; valid: {', '.join(STAGES)}")
    run_dir = setup_run(cfg)
    prepare_data(cfg.data)
    init = None if cfg.stage.name == "pretrain" else str(cfg.get("init", "imagenet"))
    net = build_net(cfg, init)
    module, datamodule = (build_pretrain if cfg.stage.name == "pretrain" else build_finetune)(cfg, net)
    # Scoring a pretrain checkpoint resizes images as its teacher (and so its training crops) saw them.
    image_size = datamodule.manifest["teacher"]["image_size"] if cfg.stage.name == "pretrain" else cfg.data.iqa.get("image_size", 384)
    stamp_run(module.hparams, stage=cfg.stage.name, init=init, data=cfg.data.name, image_size=image_size)

    has_val = bool(datamodule.val_dataloader()) if cfg.stage.name != "pretrain" else datamodule.val_stream is not None
    monitor = cfg.stage.get("monitor") if has_val else None
    checkpoints = ModelCheckpoint(
        dirpath=run_dir / "checkpoints", filename="best", monitor=monitor, mode="max",
        save_top_k=1 if monitor else 0, save_last=True, auto_insert_metric_name=False,
    )
    logger = build_logger(cfg)
    callbacks = [checkpoints, ThroughputCallback(), *extra_callbacks]
    if cfg.stage.get("digest", False):
        callbacks.append(ReplicaDigest(run_dir / "digest"))
    if logger:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    kwargs = trainer_kwargs(cfg)
    if kwargs.get("enable_progress_bar", True):
        callbacks.append(progress_bar(cfg, kwargs))
    if not has_val:
        kwargs.update(limit_val_batches=0, val_check_interval=None)
    trainer = pl.Trainer(**kwargs, logger=logger, callbacks=callbacks, default_root_dir=str(run_dir))
    if logger and trainer.is_global_zero:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    ckpt_path = resume_path(cfg, run_dir)
    if ckpt_path and trainer.is_global_zero:
        log.info("resuming from %s", ckpt_path)
    started = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    save_last(trainer, run_dir / "checkpoints" / "last.ckpt")
    summary = {
        "stage": cfg.stage.name,
        "init": init,
        "run_dir": str(run_dir),
        "global_step": int(trainer.global_step),
        "start_step": int(getattr(module, "start_step", 0)),
        "resumed_from": ckpt_path,
        "best_checkpoint": checkpoints.best_model_path or None,
        "last_checkpoint": str(run_dir / "checkpoints" / "last.ckpt"),
        "metrics": {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1},
        "nonfinite_batches": int(getattr(module, "nonfinite_batches", 0)),
        "skipped": skipped_all_ranks(module),
        "world_size": int(trainer.world_size),
        "seconds": round(time.perf_counter() - started, 1),
    }
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
