"""``stage=enhance``: train an enhancer, unpaired, with a frozen attiqa checkpoint as its objective.

The module's ``net`` is the enhancer (``enhancer`` config group) and its ``loss`` the
:class:`~iqa.enhancement.objective.EnhancementObjective` (the attiqa loss plus faithfulness regularisers).
Only the enhancer learns: the quality network inside the objective is frozen, kept in eval mode, and left
out of the checkpoints (they record the quality checkpoint's path instead), so ``last.ckpt`` holds just
the enhancer and its training state.

Validation (held-out degraded photos with clean references, :mod:`iqa.enhancement.report`) logs
``val/psnr`` / ``val/ssim`` of the output beside ``val/psnr_input`` / ``val/ssim_input`` of the input,
the attiqa quality of both, and ``val/teacher_moved``: the share of images whose classical-teacher
attribute moved the way the degradation calls for. It writes the before/after grid
``<run dir>/enhance_grid.png`` (and logs it to W&B when that logger is on).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from iqa.enhancement import report
from iqa.modules.base import StageModule

log = logging.getLogger(__name__)


class EnhanceModule(StageModule):
    """Enhancer (``net``) trained against :class:`~iqa.enhancement.objective.EnhancementObjective` (``loss``)."""

    def __init__(self, *args: Any, grid_images: int = 8, quality_ckpt: str | None = None, torch_threads: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.torch_threads = int(torch_threads) if torch_threads else None
        self._threads_before: int | None = None
        self.save_hyperparameters(ignore=["net", "loss", "optimizer"])
        self.grid_images = int(grid_images)
        self.quality_ckpt = quality_ckpt
        self.grid_path: Path | None = None
        self.skipped_images = 0
        self.last_report: dict[str, Any] | None = None
        self.strict_loading = False  # checkpoints leave the frozen quality network out (see on_save_checkpoint)
        # The frozen quality network is in eval mode on purpose (see QualityLoss.train).
        warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start of training")
        self._val: list[dict[str, torch.Tensor]] = []

    # -- compute threads while fitting (stage.torch_threads), restored afterwards ---------------------
    def on_fit_start(self) -> None:
        if self.torch_threads:
            self._threads_before = torch.get_num_threads()
            torch.set_num_threads(self.torch_threads)

    def on_fit_end(self) -> None:
        if self._threads_before is not None:
            torch.set_num_threads(self._threads_before)
            self._threads_before = None

    # -- optimisation: the enhancer's parameters only ------------------------------------------
    def param_groups(self) -> list[dict[str, Any]]:
        return [{"params": [p for p in self.net.parameters() if p.requires_grad], "lr_mult": 1.0}]

    # -- training --------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        skipped = batch.get("skipped_items") or []
        if skipped:
            self.skipped_images += len(skipped)
            log.warning("skipped %d unreadable image(s), e.g. %s", len(skipped), skipped[0])
        if "images" not in batch:
            return None
        inputs = batch["images"].float()
        outputs, aux = self.net.enhance(inputs)
        total, parts = self.loss(inputs, outputs, aux)
        # A non-finite enhancer output makes the step count as non-finite even if the loss network squashed it.
        total = torch.where(torch.isfinite(outputs).all(), total, torch.full_like(total, float("nan")))
        total = self.guard_nonfinite(total, outputs)
        size = inputs.shape[0]
        self.log("train/loss", total, prog_bar=True, batch_size=size)
        for name, value in parts.items():
            self.log(f"train/{name}", value, batch_size=size)
        return total

    # -- validation ------------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._val = []

    @torch.no_grad()
    def run_pairs(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """The enhancer's output for ``inputs`` and the attiqa quality of both (CPU float tensors)."""
        outputs = self.net(inputs.float()).float().clamp(0, 1)
        quality_in = self.loss.attiqa.predict(inputs.float())["quality_norm"]
        quality_out = self.loss.attiqa.predict(outputs)["quality_norm"]
        return {"outputs": outputs.cpu(), "quality_input": quality_in.float().cpu(), "quality_output": quality_out.float().cpu()}

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        if "images" not in batch:
            return
        result = self.run_pairs(batch["images"])
        result.update(inputs=batch["images"].float().cpu(), reference=batch["reference"].float().cpu(), index=batch["index"].cpu())
        self._val.append(result)

    def on_validation_epoch_end(self) -> None:
        from iqa.distributed import gather_to_all

        # Every rank validated its share (the distributed sampler pads with repeats): gather all, one row per image.
        seen: set[int] = set()
        gathered = []
        for part in (p for rank in gather_to_all(self._val) for p in (rank or [])):
            keep = [i for i, index in enumerate(part["index"].tolist()) if index not in seen and not seen.add(index)]
            if keep:
                gathered.append({k: v[keep] for k, v in part.items()})
        self._val = gathered
        if not self._val:
            return
        dataset = self.trainer.datamodule.val_set if self.trainer and getattr(self.trainer, "datamodule", None) else None
        summary = self.summarise(self._val, dataset.meta if dataset is not None else None)
        overall = summary["all"]
        # The same numbers on every rank (computed from the gathered set): no further reduction.
        self.log("val/psnr", overall["psnr_output"], prog_bar=True, sync_dist=False)
        self.log("val/ssim", overall["ssim_output"], sync_dist=False)
        self.log("val/psnr_input", overall["psnr_input"], sync_dist=False)
        self.log("val/ssim_input", overall["ssim_input"], sync_dist=False)
        self.log("val/attiqa_quality", overall["attiqa_quality_output"], sync_dist=False)
        self.log("val/attiqa_quality_input", overall["attiqa_quality_input"], sync_dist=False)
        if "moved_intended_way" in overall:
            self.log("val/teacher_moved", overall["moved_intended_way"], sync_dist=False)
        self.last_report = summary
        if self.trainer.is_global_zero and not self.trainer.sanity_checking:
            self._write_grid(self._val, dataset.meta if dataset is not None else None)
        self._val = []

    def summarise(self, parts: list[dict[str, torch.Tensor]], meta: list[dict[str, Any]] | None) -> dict[str, Any]:
        cat = {k: torch.cat([p[k] for p in parts]) for k in ("inputs", "outputs", "reference", "quality_input", "quality_output", "index")}
        metrics = report.image_metrics(cat["inputs"], cat["outputs"], cat["reference"])
        order = cat["index"].tolist()
        items = [meta[i] for i in order] if meta is not None else [{"degradation": "unknown"} for _ in order]
        attiqa = {"input": cat["quality_input"].numpy().astype(np.float64), "output": cat["quality_output"].numpy().astype(np.float64)}
        return report.summarise(metrics, items, attiqa)

    def _write_grid(self, parts: list[dict[str, torch.Tensor]], meta: list[dict[str, Any]] | None) -> None:
        inputs = torch.cat([p["inputs"] for p in parts])
        outputs = torch.cat([p["outputs"] for p in parts])
        references = torch.cat([p["reference"] for p in parts])
        order = torch.cat([p["index"] for p in parts]).tolist()
        # Spread the rows over the degradations: the first image of each, then the next, ...
        picks = _spread(order, meta, self.grid_images)
        captions = [(meta[order[i]]["key"] if meta else str(order[i])) for i in picks]
        run_dir = Path(self.trainer.default_root_dir)
        self.grid_path = report.write_grid(run_dir / "enhance_grid.png", inputs[picks], outputs[picks], references[picks], captions,
                                           max_rows=self.grid_images)
        self._log_grid(self.grid_path)

    def _log_grid(self, path: Path) -> None:
        from pytorch_lightning.loggers import WandbLogger

        for logger in self.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key="val/before_after", images=[str(path)], caption=["input | output | reference"],
                                 step=int(self.global_step))

    # -- checkpoints -------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        hparams = checkpoint.setdefault("hyper_parameters", {})
        hparams["stage"] = "enhance"
        hparams["enhancer"] = dict(self.net.config)
        hparams["quality_ckpt"] = self.quality_ckpt
        hparams["objective"] = self.loss.describe()
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if not k.startswith("loss.")}
        checkpoint["nonfinite_batches"] = self.nonfinite_batches

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from iqa.errors import UserError

        stored = (checkpoint.get("hyper_parameters") or {}).get("enhancer")
        if stored is not None and dict(stored) != dict(self.net.config):
            raise UserError(f"the checkpoint holds enhancer {dict(stored)}, but this run builds {dict(self.net.config)}")
        self.nonfinite_batches = int(checkpoint.get("nonfinite_batches", 0))


def _spread(order: list[int], meta: list[dict[str, Any]] | None, count: int) -> list[int]:
    """Up to ``count`` positions, taking one image per degradation in turn."""
    if not meta:
        return list(range(min(count, len(order))))
    groups: dict[str, list[int]] = {}
    for position, index in enumerate(order):
        groups.setdefault(str(meta[index]["degradation"]), []).append(position)
    picks: list[int] = []
    depth = 0
    while len(picks) < min(count, len(order)):
        for members in groups.values():
            if depth < len(members) and len(picks) < count:
                picks.append(members[depth])
        depth += 1
    return picks


@torch.no_grad()
def final_report(module: EnhanceModule, datamodule, run_dir: str | Path, print_table: bool = True) -> dict[str, Any]:
    """Evaluate the trained enhancer on the held-out pairs; write ``results.json``, ``results.md`` and the grid.

    Returns the per-degradation summary (``report.summarise``); prints the Markdown table.
    """
    from iqa.io import atomic_write_json, atomic_write_text

    datamodule.prepare()
    dataset = datamodule.val_set
    if dataset is None or not len(dataset):
        return {}
    was_training = module.training
    module.eval()
    parts = []
    device = next(module.net.parameters()).device
    for batch in datamodule.val_dataloader():
        result = module.run_pairs(batch["images"].to(device))
        result.update(inputs=batch["images"].float(), reference=batch["reference"].float(), index=batch["index"])
        parts.append(result)
    module.train(was_training)
    summary = module.summarise(parts, dataset.meta)
    run_dir = Path(run_dir)
    inputs = torch.cat([p["inputs"] for p in parts])
    outputs = torch.cat([p["outputs"] for p in parts])
    references = torch.cat([p["reference"] for p in parts])
    order = torch.cat([p["index"] for p in parts]).tolist()
    picks = _spread(order, dataset.meta, module.grid_images)
    grid = report.write_grid(run_dir / "enhance_grid.png", inputs[picks], outputs[picks], references[picks],
                             [dataset.meta[order[i]]["key"] for i in picks], max_rows=module.grid_images)
    table = report.format_table(summary)
    atomic_write_json(run_dir / "results.json", {"validation": summary, "grid": str(grid), "objective": module.loss.describe(),
                                                 "quality_ckpt": module.quality_ckpt, "enhancer": dict(module.net.config)})
    atomic_write_text(run_dir / "results.md", f"# Enhancement on held-out photos\n\n{table}\n")
    if print_table:
        print(f"\nheld-out photos ({len(dataset)} degraded images, enhancer {module.net.config['arch']}):\n{table}\n"
              f"grid: {grid}", flush=True)
    return summary
