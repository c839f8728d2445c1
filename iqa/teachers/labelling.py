"""Pseudo-labelling: ``label(cfg)``, the job of ``label.py`` and ``iqa label``.

A corpus is labelled by a teacher (classical or open_clip), resumably, across ranks.

The run, in order:

1. list the corpus units (shards, or chunks of a folder) and build the teacher, whose
   text embeddings are computed once, here;
2. claim the output directory: ``label_config.json`` records what produces these labels,
   and a directory holding labels of another teacher or prompt set is refused;
3. label the units that have no ``.done.json`` yet with a Lightning prediction loop (units
   dealt to ranks, then to DataLoader workers; each rank commits its own sidecars);
4. rank 0 writes ``manifest.json`` from the committed units, and logs label histograms.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig

from iqa.config import instantiate_node, select_keys
from iqa.data.corpus import Unit, split_for_rank
from iqa.data.datamodules import DECODE_CHOICES, LabelDataModule, corpus_units, resolve_decode, resolve_workers
from iqa.data.label_sets import MANIFEST, claim_directory, sample_count, sibling_label_sets, unit_done, unit_paths, write_manifest
from iqa.errors import UserError
from iqa.loggers import build_logger, close_logger
from iqa.teachers import build_teacher
from iqa.training import prepare_data, setup_run

log = logging.getLogger("iqa.label")

#: Trainer arguments that make sense for a prediction loop (the hardware; no budget, clipping or validation).
HARDWARE_KEYS = ("accelerator", "devices", "num_nodes", "strategy", "precision")


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


def estimate_share(
    units: list[Unit], pending: set[str], out: Path, rank: int, world_size: int, max_scan: int = 16
) -> tuple[int | None, int]:
    """(samples, units) pending on ``rank``: the progress bar's total.

    Folder units are exact. A shard's count comes from another label set of the same
    corpus when one finished it (sibling directories of ``out``), else from reading
    the member headers of up to ``max_scan`` shards and extrapolating by file size.
    """
    mine = [u for u in split_for_rank(units, rank, world_size) if u.name in pending]
    total, unknown = 0, []
    siblings = sibling_label_sets(out)
    for unit in mine:
        if unit.kind == "files":
            total += len(unit.files)
            continue
        known = next((n for n in (sample_count(d, unit.name) for d in siblings) if n is not None), None)
        if known is None:
            unknown.append(unit)
        else:
            total += known
    if unknown:
        from iqa.data.label_stream import count_tar_samples

        scanned_samples = scanned_bytes = 0
        for unit in unknown[:max_scan]:
            try:
                scanned_samples += count_tar_samples(unit.source)
                scanned_bytes += os.path.getsize(unit.source)
            except Exception:  # noqa: BLE001 - a broken shard only makes the estimate rougher
                continue
        if scanned_bytes == 0:
            return None, len(mine)
        per_byte = scanned_samples / scanned_bytes
        total += scanned_samples + round(sum(_size(u.source) for u in unknown[max_scan:]) * per_byte)
    return total, len(mine)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def build_trainer(cfg: DictConfig, callbacks: list[Any]) -> pl.Trainer:
    """The ``trainer`` node's hardware keys only: a prediction loop has no budget, clipping or validation."""
    return instantiate_node(
        select_keys(cfg.trainer, HARDWARE_KEYS), drop=(), logger=False, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False, inference_mode=True, callbacks=callbacks,
    )


def describe_job(cfg: DictConfig, ident: dict[str, Any], units: list[Unit], pending: list[str], out: Path) -> str:
    """The start line: which corpus, which label set (teacher and, for CLIP, prompts), where the labels go."""
    corpus = cfg.data.corpus
    sources = ", ".join(f"{split}: {corpus[split]}" for split in cfg.splits if corpus.get(split))
    teacher = f"teacher {cfg.teacher.name}" + (f", prompts {cfg.prompts.name}" if ident["prompts"] else "")
    return (f"labelling corpus data={cfg.data.name} ({sources}) with label set {cfg.teacher.label_set} ({teacher}): "
            f"{len(units)} unit(s), {len(pending)} pending -> {out}")


def label(cfg: DictConfig) -> dict[str, Any]:
    """Label every pending unit of ``cfg.data``'s corpus into ``cfg.out``; returns the manifest (rank 0)."""
    import torch

    from iqa.modules.label import LabelModule, LabelWriter

    setup_run(cfg)
    out = Path(cfg.out)
    decode = str(cfg.decode).lower()
    resolve_decode(decode, "cuda" if torch.cuda.is_available() else "cpu")  # fail fast on a bad choice
    prepare_data(cfg.data)
    units = label_units(cfg)
    teacher = build_teacher(cfg.teacher)
    ident = identity(teacher)
    writer = LabelWriter(str(out), teacher.attributes, progress=bool(cfg.progress))
    trainer = build_trainer(cfg, [writer])
    if decode == "gpu" and trainer.strategy.root_device.type != "cuda":
        resolve_decode(decode, trainer.strategy.root_device.type)
    digest = claim_directory(out, ident, trainer.is_global_zero)
    pending = [u.name for u in units if not unit_done(out, u.name)]
    if trainer.is_global_zero:
        log.info("%s", describe_job(cfg, ident, units, pending, out))
    last_run = None
    if pending:
        writer.total_units = len(pending)
        writer.estimate_total = functools.partial(estimate_share, units, set(pending), out)
        data = instantiate_node(cfg.datamodule, units=units, image_size=teacher.image_size, pending=pending)
        trainer.predict(LabelModule(teacher), datamodule=data, return_predictions=False)
        trainer.strategy.barrier()
        seconds = writer.finished - writer.started
        if trainer.is_global_zero:
            done_now = [json.loads(unit_paths(out, name)[1].read_text()) for name in pending if unit_done(out, name)]
            images = sum(d["labelled"] for d in done_now)
            last_run = {
                "world_size": trainer.world_size, "decode": data.decode_path, "num_workers": data.workers,
                "units": len(done_now), "labelled": images, "seconds": round(seconds, 3),
                "images_per_second": round(images / max(seconds, 1e-9), 1),
            }
            if trainer.world_size == 1 and writer.steady_images_per_second:
                last_run["steady_images_per_second"] = round(writer.steady_images_per_second, 1)
    manifest: dict[str, Any] = {}
    if trainer.is_global_zero:
        manifest = write_manifest(out, units, ident, digest, cfg.data.name, cfg.teacher.label_set, last_run)
        log_histograms(cfg, out, manifest)
        counts = manifest["counts"]
        speed = ""
        if last_run:
            speed = f"; this run: {last_run['labelled']} in {last_run['seconds']:.1f} s, {last_run['images_per_second']:,.0f} img/s"
        print(f"labelled {counts['labelled']} images ({counts['skipped']} skipped) in {counts['units']} units{speed} -> {out / MANIFEST}")
    return manifest


def log_histograms(cfg: DictConfig, out: Path, manifest: dict[str, Any]) -> None:
    """With a logger configured, log per-attribute label histograms and counts."""
    logger = build_logger(cfg)
    if not logger:
        return
    from iqa.data.label_sets import read_labels

    frame = read_labels(out)
    experiment = getattr(logger, "experiment", None)
    if experiment is not None and hasattr(experiment, "log") and "wandb" in type(logger).__name__.lower():
        import wandb

        payload = {f"labels/{a}": wandb.Histogram(frame[a].to_numpy()) for a in manifest["attributes"]}
        payload |= {f"labels/count_{k}": v for k, v in manifest["counts"].items()}
        experiment.log(payload)
        experiment.finish()  # this run, whatever wandb.run points at, so its files are complete on return
    else:
        logger.log_metrics({f"labels/mean_{a}": float(frame[a].mean()) for a in manifest["attributes"]} | manifest["counts"])
    close_logger(logger)


#: The name earlier versions gave :func:`label` (``iqa.cli.label.run``).
run = label

__all__ = ["DECODE_CHOICES", "LabelDataModule", "estimate_share", "label", "label_units", "resolve_decode", "resolve_workers"]
