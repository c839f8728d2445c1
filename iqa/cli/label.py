"""label.py: pseudo-label a corpus with a teacher (classical or open_clip), resumably, across ranks.

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

import datetime as _dt
import functools
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig

from iqa import __version__
from iqa.cli.common import HARDWARE_KEYS, build_logger, close_logger, prepare_data, setup_run
from iqa.config import instantiate_node, select_keys
from iqa.data.corpus import Unit, split_for_rank
from iqa.data.datamodules import corpus_units
from iqa.data.labels import LABEL_CONFIG, MANIFEST, atomic_write_json, config_hash, unit_done, unit_paths
from iqa.errors import UserError
from iqa.teachers import build_teacher

log = logging.getLogger("iqa.label")

DECODE_CHOICES = ("auto", "cpu", "gpu")


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


def resolve_decode(choice: str, device_type: str) -> str:
    """``decode=auto|cpu|gpu`` -> the stream's decode path (``cpu`` or ``device``) for a teacher on ``device_type``.

    ``auto`` decodes JPEGs on the GPU when the teacher runs on one, else in the workers.
    """
    choice = str(choice).lower()
    if choice not in DECODE_CHOICES:
        raise UserError(f"decode={choice}: valid choices are {', '.join(DECODE_CHOICES)}")
    if choice == "gpu":
        if device_type != "cuda":
            raise UserError(f"decode=gpu needs the teacher on a CUDA GPU, but it runs on {device_type}; use decode=auto or decode=cpu")
        return "device"
    if choice == "auto" and device_type == "cuda":
        return "device"
    return "cpu"


def resolve_workers(value: Any, local_world_size: int = 1) -> int:
    """``num_workers=auto``: one worker per core this rank can have, keeping one core for the main process."""
    if str(value).lower() != "auto":
        workers = int(value)
        if workers < 0:
            raise UserError(f"num_workers={value}: must be >= 0 or auto")
        return workers
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(32, cores // max(1, local_world_size) - 1))


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
    siblings = _sibling_label_sets(out)
    for unit in mine:
        if unit.kind == "files":
            total += len(unit.files)
            continue
        known = _count_from_siblings(siblings, unit.name)
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


def _sibling_label_sets(out: Path, limit: int = 8) -> list[Path]:
    parent = out.parent
    try:
        found = [d for d in sorted(parent.iterdir()) if d != out and (d / LABEL_CONFIG).is_file()]
    except OSError:
        return []
    return found[:limit]


def _count_from_siblings(siblings: list[Path], unit: str) -> int | None:
    for sibling in siblings:
        _, done_path = unit_paths(sibling, unit)
        if done_path.is_file():
            try:
                with open(done_path) as handle:
                    done = json.load(handle)
                return int(done["labelled"]) + sum(1 for s in done["skipped"] if s.get("key"))
            except (OSError, ValueError, KeyError):
                continue
    return None


def write_manifest(
    out: Path, cfg: DictConfig, units: list[Unit], ident: dict[str, Any], digest: str, last_run: dict[str, Any] | None = None
) -> dict[str, Any]:
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
    if pending:
        raise UserError(f"{len(pending)} unit(s) were not finished (e.g. {pending[:3]}); rerun the same command to resume")
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
    if last_run:
        manifest["last_run"] = last_run
    atomic_write_json(out / MANIFEST, manifest)
    return manifest


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


def run(cfg: DictConfig) -> dict[str, Any]:
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
        manifest = write_manifest(out, cfg, units, ident, digest, last_run)
        log_histograms(cfg, out, manifest)
        counts = manifest["counts"]
        speed = ""
        if last_run:
            speed = f"; this run: {last_run['labelled']} in {last_run['seconds']:.1f} s, {last_run['images_per_second']:,.0f} img/s"
        print(f"labelled {counts['labelled']} images ({counts['skipped']} skipped) in {counts['units']} units{speed} -> {out / MANIFEST}")
    return manifest


class LabelDataModule(pl.LightningDataModule):
    """The label stream, built once the process knows its rank and device.

    ``predict_dataloader`` runs on every rank after the strategy has set up the
    process group, so the stream is dealt its units with a certain rank and world
    size (DataLoader workers then need not guess them), and ``decode=auto`` can see
    where the teacher lives.
    """

    def __init__(self, units: list[Unit], image_size: int, pending: list[str], decode: str = "auto", batch_size: int = 64,
                 num_workers: Any = "auto", device_max_pixels: int = 12_000_000) -> None:
        super().__init__()
        self.units, self.image_size, self.pending = units, int(image_size), pending
        self.decode, self.batch_size, self.num_workers = decode, int(batch_size), num_workers
        self.device_max_pixels = int(device_max_pixels)
        self.decode_path = "cpu"
        self.workers = 0

    def transfer_batch_to_device(self, batch: Any, device: Any, dataloader_idx: int) -> Any:
        """Move the pixels; JPEG bytes stay on the host, where the device decoder reads them from."""
        encoded = batch.pop("encoded", None)
        batch = super().transfer_batch_to_device(batch, device, dataloader_idx)
        batch["encoded"] = encoded
        return batch

    def predict_dataloader(self):
        from torch.utils.data import DataLoader

        from iqa.data.label_stream import LabelStream, collate_label_batch

        trainer = self.trainer
        device_type = trainer.strategy.root_device.type if trainer is not None else "cpu"
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        local_world = max(1, world // max(1, trainer.num_nodes)) if trainer is not None else 1
        self.decode_path = resolve_decode(self.decode, device_type)
        self.workers = resolve_workers(self.num_workers, local_world)
        stream = LabelStream(
            self.units, self.image_size, self.pending, decode=self.decode_path,
            device_max_pixels=self.device_max_pixels, rank=rank, world_size=world,
        )
        return DataLoader(
            stream, batch_size=self.batch_size, num_workers=self.workers, collate_fn=collate_label_batch,
            pin_memory=device_type == "cuda", prefetch_factor=4 if self.workers > 0 else None,
        )


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
        experiment.finish()  # this run, whatever wandb.run points at, so its files are complete on return
    else:
        logger.log_metrics({f"labels/mean_{a}": float(frame[a].mean()) for a in manifest["attributes"]} | manifest["counts"])
    close_logger(logger)


__all__ = ["DECODE_CHOICES", "LabelDataModule", "estimate_share", "label_units", "resolve_decode", "resolve_workers", "run"]
