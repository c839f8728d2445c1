"""label.py: pseudo-label a corpus with a teacher (classical or open_clip), resumably, across ranks."""

from __future__ import annotations

import datetime as _dt
import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from iqa import __version__
from iqa.cli.common import HARDWARE_KEYS, build_logger, close_logger, prepare_data, setup_run, trainer_kwargs
from iqa.config import instantiate_node
from iqa.data.corpus import Unit
from iqa.data.datamodules import corpus_units
from iqa.data.labels import LABEL_CONFIG, MANIFEST, atomic_write_json, config_hash, unit_done, unit_paths
from iqa.errors import UserError

log = logging.getLogger("iqa.label")


def label_units(cfg: DictConfig) -> list[Unit]:
    corpus = cfg.data.get("corpus")
    if not corpus:
        raise UserError(f"data={cfg.data.name} has no image corpus to label")
    units: list[Unit] = []
    for split in cfg.splits:
        units += corpus_units(corpus, split, cfg.data.name)
    if not units:
        raise UserError(f"data={cfg.data.name}: no units in splits {list(cfg.splits)}")
    names = [u.name for u in units]
    if len(set(names)) != len(names):
        raise UserError(f"data={cfg.data.name}: the splits {list(cfg.splits)} share units; give them distinct sources")
    return units


def identity(teacher: Any) -> dict[str, Any]:
    """What the labels depend on: the teacher and, for CLIP, the exact prompt texts."""
    prompts = getattr(teacher, "prompts", None)
    return {"teacher": teacher.describe(), "prompts": {a: [list(p) for p in v] for a, v in prompts.items()} if prompts else None}


def claim_directory(out: Path, ident: dict[str, Any], is_zero: bool) -> str:
    """Record what these labels are, or refuse to mix them with different ones."""
    digest = config_hash(ident)
    record = out / LABEL_CONFIG
    if record.is_file():
        with open(record) as handle:
            found = json.load(handle).get("config_hash")
        if found != digest:
            raise UserError(
                f"{out} already holds labels from a different teacher/prompt config (hash {found}, this run {digest}); "
                f"choose another out=... or delete that directory"
            )
    elif is_zero:
        atomic_write_json(record, {"config_hash": digest, **ident})
    return digest


def write_manifest(out: Path, cfg: DictConfig, units: list[Unit], ident: dict[str, Any], digest: str) -> dict[str, Any]:
    entries, skipped, pending = [], [], []
    labelled = counted_skips = 0
    for unit in units:
        _, done_path = unit_paths(out, unit.name)
        if not done_path.is_file():
            pending.append(unit.name)
            continue
        with open(done_path) as handle:
            done = json.load(handle)
        unit_skips = done["skipped"]
        labelled += done["labelled"]
        counted_skips += sum(1 for s in unit_skips if s.get("key"))
        skipped += [{"source": s["source"], "reason": s["reason"]} for s in unit_skips]
        entries.append({**unit.describe(), "labelled": done["labelled"], "skipped": len(unit_skips)})
    teacher = ident["teacher"]
    manifest = {
        "attiqa_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "data": cfg.data.name,
        "teacher": {**teacher, "label_set": cfg.teacher.get("label_set", teacher.get("name"))},
        "attributes": teacher["attributes"],
        "prompts": ident["prompts"],
        "counts": {"labelled": labelled, "skipped": counted_skips, "units": len(entries)},
        "skipped": skipped,
        "units": entries,
        "config_hash": digest,
    }
    if pending:
        raise UserError(f"{len(pending)} unit(s) were not finished (e.g. {pending[:3]}); rerun the same command to resume")
    atomic_write_json(out / MANIFEST, manifest)
    return manifest


def run(cfg: DictConfig) -> dict[str, Any]:
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader

    from iqa.data.label_stream import LabelStream, collate_label_batch
    from iqa.modules.label import LabelModule, LabelWriter

    setup_run(cfg)
    out = Path(cfg.out)
    prepare_data(cfg.data)
    units = label_units(cfg)
    teacher = instantiate_node(cfg.teacher)
    ident = identity(teacher)
    hardware = trainer_kwargs(cfg, HARDWARE_KEYS)
    trainer = pl.Trainer(
        **hardware, logger=False, enable_progress_bar=False, enable_model_summary=False,
        enable_checkpointing=False, inference_mode=True, callbacks=[],
    )
    digest = claim_directory(out, ident, trainer.is_global_zero)
    pending = [u.name for u in units if not unit_done(out, u.name)]
    if trainer.is_global_zero:
        log.info("labelling %s: %d unit(s), %d pending -> %s", cfg.data.name, len(units), len(pending), out)
    if pending:
        total = sum(len(u.files) for u in units if u.kind == "files" and u.name in pending) or None
        writer = LabelWriter(str(out), teacher.attributes, total_images=total, total_units=len(pending))
        trainer.callbacks.append(writer)
        loader = DataLoader(
            LabelStream(units, teacher.image_size, pending), batch_size=int(cfg.batch_size),
            num_workers=int(cfg.num_workers), collate_fn=collate_label_batch,
            prefetch_factor=4 if int(cfg.num_workers) > 0 else None,
        )
        trainer.predict(LabelModule(teacher), dataloaders=loader, return_predictions=False)
        trainer.strategy.barrier()
    manifest: dict[str, Any] = {}
    if trainer.is_global_zero:
        manifest = write_manifest(out, cfg, units, ident, digest)
        log_histograms(cfg, out, manifest)
        counts = manifest["counts"]
        print(f"labelled {counts['labelled']} images ({counts['skipped']} skipped) in {counts['units']} units -> {out / MANIFEST}")
    return manifest


def log_histograms(cfg: DictConfig, out: Path, manifest: dict[str, Any]) -> None:
    """With a logger configured, log per-attribute label histograms and counts."""
    logger = build_logger(cfg)
    if not logger:
        return
    from iqa.data.labels import read_labels

    frame = read_labels(out)
    experiment = getattr(logger, "experiment", None)
    if experiment is not None and hasattr(experiment, "log") and "wandb" in type(logger).__name__.lower():
        import wandb

        payload = {f"labels/{a}": wandb.Histogram(frame[a].to_numpy()) for a in manifest["attributes"]}
        payload |= {f"labels/count_{k}": v for k, v in manifest["counts"].items()}
        experiment.log(payload)
    else:
        logger.log_metrics({f"labels/mean_{a}": float(frame[a].mean()) for a in manifest["attributes"]} | manifest["counts"])
    close_logger(logger)
