"""Shared LightningModule plumbing: optimiser, schedule, non-finite loss guard."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from iqa.distributed import all_reduce_max_
from iqa.models import IQANet

log = logging.getLogger(__name__)


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, min_ratio: float = 0.0) -> float:
    """Learning-rate multiplier: linear warm-up, then cosine decay to ``min_ratio``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if total_steps <= warmup_steps:
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class StageModule(pl.LightningModule):
    """Base of the pretrain / finetune modules.

    ``net`` and ``loss`` are injected objects; ``optimizer`` is a partial
    (``_partial_: true`` in config) that receives the parameter groups.
    """

    def __init__(
        self,
        net: IQANet,
        loss: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        warmup_steps: int = 0,
        schedule: str = "cosine",
        min_lr_ratio: float = 0.0,
        head_lr_mult: float = 1.0,
        freeze_backbone: bool = False,
    ) -> None:
        super().__init__()
        self.net = net
        self.loss = loss
        self.optimizer_factory = optimizer or (lambda params: torch.optim.AdamW(params, lr=1e-4))
        self.warmup_steps = int(warmup_steps)
        self.schedule = schedule
        self.min_lr_ratio = float(min_lr_ratio)
        self.head_lr_mult = float(head_lr_mult)
        self.freeze_backbone = bool(freeze_backbone)
        if self.freeze_backbone:
            self.net.backbone.requires_grad_(False)
        self._nonfinite_host = 0
        self._nonfinite_device: torch.Tensor | None = None  # skips counted on the GPU, read only when reported
        self.start_step = 0
        self._nonfinite: torch.Tensor | None = None

    # -- optimisation ----------------------------------------------------------------
    def param_groups(self) -> list[dict[str, Any]]:
        """What the optimiser trains: parameter groups, each with an ``lr_mult`` on the configured rate.

        The heads learn at ``head_lr_mult`` times the backbone's rate; frozen parameters are left out.
        """
        head_params = [p for n, p in self.net.named_parameters() if not n.startswith("backbone.") and p.requires_grad]
        backbone_params = [p for p in self.net.backbone.parameters() if p.requires_grad]
        groups = [{"params": head_params, "lr_mult": self.head_lr_mult}]
        if backbone_params:
            groups.append({"params": backbone_params, "lr_mult": 1.0})
        return groups

    def configure_optimizers(self):
        groups = self.param_groups()
        kwargs = self._fused_kwargs()
        chosen = getattr(self.optimizer_factory, "keywords", {}) or {}
        if chosen.get("fused") and chosen.get("foreach"):
            kwargs["foreach"] = False  # the fused kernels replace the foreach loop, and torch refuses both
        optimizer = self.optimizer_factory(groups, **kwargs)
        for group in optimizer.param_groups:
            group["lr"] = group["lr"] * group.pop("lr_mult", 1.0)
        if self.schedule == "constant":
            return optimizer
        if self.schedule != "cosine":
            raise ValueError(f"unknown schedule '{self.schedule}'; valid: cosine, constant")
        total = int(self.trainer.max_steps) if self.trainer and self.trainer.max_steps and self.trainer.max_steps > 0 else 10_000
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, self.warmup_steps, total, self.min_lr_ratio)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def _fused_kwargs(self) -> dict[str, Any]:
        """``fused=True`` for Adam-family optimisers on CUDA (unless the config chose ``fused`` or ``foreach``).

        The fused kernels are faster, and they accept a device-side ``found_inf``
        flag, which lets a non-finite step be skipped without a host sync.
        """
        factory = self.optimizer_factory
        target = getattr(factory, "func", factory)
        chosen = getattr(factory, "keywords", {}) or {}
        if self.device.type != "cuda" or "fused" in chosen or chosen.get("foreach") or self._grad_scaler() is not None:
            return {}  # with fp16's GradScaler, Lightning unscales before clipping: keep the plain kernels
        try:
            import inspect

            accepts = "fused" in inspect.signature(target).parameters
        except (TypeError, ValueError):
            accepts = False
        return {"fused": True} if accepts and target in (torch.optim.Adam, torch.optim.AdamW) else {}

    # -- non-finite guard --------------------------------------------------------------
    def guard_nonfinite(self, total: torch.Tensor, outputs: torch.Tensor | None = None) -> torch.Tensor:
        """Flag a NaN/inf loss so that :meth:`optimizer_step` skips this step on every rank.

        The flag stays on the device (no host sync in the forward pass) and is
        max-reduced over ranks: all ranks must skip together, or the replicas
        would drift apart. Backward still runs, so DDP's gradient all-reduce
        sees the same calls on every rank; the (non-finite) gradients are then
        dropped instead of applied. ``outputs`` is accepted for compatibility.
        """
        self._nonfinite = all_reduce_max_((~torch.isfinite(total.detach())).to(torch.float32).reshape(1))
        return total

    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None):
        if getattr(self.trainer.precision_plugin, "scaler", None) is not None:
            # fp16 with a GradScaler: it runs the closure and skips steps with non-finite gradients itself.
            optimizer.step(closure=optimizer_closure)
            self._count_nonfinite()
            return
        if optimizer_closure is not None:
            optimizer_closure()
        inner = getattr(optimizer, "optimizer", optimizer)
        flag = self._nonfinite
        if flag is not None and inner.defaults.get("fused") and getattr(inner, "_step_supports_amp_scaling", False):
            # The fused Adam kernels skip the whole update (weights, moments, step count) where
            # found_inf != 0, on the device: no host sync, so the CPU keeps queueing ahead.
            self._nonfinite = None
            self._nonfinite_device = flag if self._nonfinite_device is None else self._nonfinite_device + flag
            inner.found_inf, inner.grad_scale = flag.reshape(()), None  # the kernels take a 0-dim flag
            try:
                optimizer.step()  # runs gradient clipping, then the (possibly skipped) update
            finally:
                del inner.found_inf, inner.grad_scale
            return
        if self._count_nonfinite():
            optimizer.zero_grad(set_to_none=True)
            return
        optimizer.step()  # runs gradient clipping, then the update

    def _grad_scaler(self):
        trainer = self._trainer
        return getattr(trainer.precision_plugin, "scaler", None) if trainer is not None else None

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        """Clip directly for fused optimisers when no GradScaler is involved.

        Lightning refuses to clip for optimisers that may unscale gradients inside
        their step (fused Adam), because under fp16 the gradients would still be
        scaled at this point. Without a scaler (bf16, fp32) they are not, and
        clipping them here is exactly what the plain path does.
        """
        inner = getattr(optimizer, "optimizer", optimizer)
        if gradient_clip_val and inner.defaults.get("fused") and self._grad_scaler() is None:
            params = [p for group in inner.param_groups for p in group["params"] if p.grad is not None]
            if gradient_clip_algorithm in (None, "norm"):
                torch.nn.utils.clip_grad_norm_(params, float(gradient_clip_val))
            else:
                torch.nn.utils.clip_grad_value_(params, float(gradient_clip_val))
            return
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    @property
    def nonfinite_batches(self) -> int:
        """Steps skipped for a non-finite loss (reading it syncs with the GPU: report-time only)."""
        extra = int(self._nonfinite_device.sum().item()) if self._nonfinite_device is not None else 0
        return self._nonfinite_host + extra

    @nonfinite_batches.setter
    def nonfinite_batches(self, value: int) -> None:
        self._nonfinite_host, self._nonfinite_device = int(value), None

    def _count_nonfinite(self) -> bool:
        flag, self._nonfinite = self._nonfinite, None
        if flag is None or not bool(flag.item()):  # the one host sync per step, after backward
            return False
        self._nonfinite_host += 1
        log.warning("non-finite loss at step %d: batch skipped (%d so far)", self.global_step, self.nonfinite_batches)
        return True

    def on_train_start(self) -> None:
        self.start_step = int(self.global_step)  # > 0 when resumed from a checkpoint

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # Logged as a tensor where it lives on the GPU: Lightning reads it at the logging interval only.
        count = self._nonfinite_device.sum() + self._nonfinite_host if self._nonfinite_device is not None else float(self._nonfinite_host)
        self.log("train/nonfinite_batches", count, on_step=True, on_epoch=False)

    # -- checkpoint metadata -----------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from iqa.checkpoints import stamp

        stamp(checkpoint.setdefault("hyper_parameters", {}), net_config=self.net.config)
        checkpoint["nonfinite_batches"] = self.nonfinite_batches

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.nonfinite_batches = int(checkpoint.get("nonfinite_batches", 0))
