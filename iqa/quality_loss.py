"""attiqa as a differentiable objective: :class:`QualityLoss`, lower is better.

``iqa.QualityLoss(ckpt, quality=1.0, attributes={"brightness": "raise"})`` or
``iqa.load(ckpt).as_loss(...)`` wraps a trained checkpoint as a
``torch.nn.Module`` whose value an image-to-image model (an enhancer, a
restorer) can minimise:

* **Direction is explicit.** Every term is a loss (lower is better). The
  quality term is ``1 - quality_norm`` (``quality_norm`` is the 0..1 quality
  ``score()`` reports, 1 best); an attribute term says which way it wants the
  attribute to move (``raise``, ``lower``) or which percentile it aims at.
* **The IQA network is frozen.** Its parameters never require a gradient and
  it stays in eval mode whatever ``.train()`` is called with (batch-norm
  statistics never drift), so gradients reach only the input image (and
  through it, whatever produced the image).
* **Preprocessing is differentiable and matches** :meth:`QualityModel.score`
  on files: the short side is resized to the checkpoint's ``image_size``
  (PIL's bicubic weights, the long side capped at ``max_side``), then
  centre-cropped or tiled as the :class:`~iqa.data.records.View` says, and
  normalised by the network itself. Pass ``resize=False`` to use tensors as
  given, as ``score()`` does for tensors.

Terms (each with a weight; weights of 0 are dropped):

============================  ================================================================
term                          value per image (lower is better)
============================  ================================================================
``quality``                   ``1 - quality_norm``
attribute ``raise``           ``1 - min(percentile, 100) / 100`` with a calibrated checkpoint, else ``-raw``
attribute ``lower``           ``max(percentile, 0) / 100`` with a calibrated checkpoint, else ``+raw``
attribute ``target: P``       ``((percentile - P) / 100) ** 2`` (needs a calibration)
============================  ================================================================

``percentile`` is the attribute's position among the checkpoint's
calibration images (the ``<attribute>_percentile`` column of ``score()``),
made differentiable by linear interpolation between its quantiles and
extended linearly beyond the 0th and 100th percentiles, so that the gradient
never vanishes on images outside the reference range (``score()`` clips the
reported value to 0..100 instead). ``raise`` and ``lower`` stop paying at the
end they ask for (beyond the 100th or below the 0th percentile), so that no
optimiser is rewarded for pushing an attribute past everything the model was
calibrated on; from the other side the gradient stays. Raw attribute scores are relative and
unbounded; the percentile form gives every attribute the same scale.

The total is the weighted sum of the terms, averaged over the batch.

Inside an outside training loop:

* inputs are float16 / bfloat16 / float32 / float64 in 0..1, or uint8 (no gradient); other dtypes
  are refused. Finite values outside 0..1 (beyond :data:`RANGE_TOLERANCE`) are refused too (NaN / inf
  pass through, for the training loop's own non-finite handling): on the CPU with
  a :class:`UserError` (the values are at hand, no sync involved), on accelerators and under
  ``torch.compile`` with ``torch._assert_async`` (no host sync per call; a violation stops the run at
  its next sync). ``check_range=False`` skips the check;
* the resize runs with autocast off, in float32 (float64 kept), with PIL's weights cached per
  (device, dtype, sizes); ``.to()`` empties the cache;
* no Python branch depends on tensor values, so ``torch.compile(loss, fullgraph=True)`` traces one graph;
* scoring an input smaller than the view (upsampling it) warns once;
* the frozen network is held outside the module tree: it is in neither ``parameters()`` nor the
  ``state_dict()`` of a module that owns the loss (older state dicts holding it load, the keys ignored).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from iqa.data.records import View
from iqa.errors import UserError, suggest
from iqa.metrics import MOSScale
from iqa.models import load_net

#: The directions an attribute term can ask for.
DIRECTIONS = ("raise", "lower")


@dataclass(frozen=True)
class AttributeTerm:
    """One attribute's part of the loss: ``direction`` (raise | lower) or a ``target`` percentile, and a weight."""

    name: str
    weight: float = 1.0
    direction: str | None = None
    target: float | None = None

    def describe(self) -> str:
        goal = self.direction if self.target is None else f"toward percentile {self.target:g}"
        return f"{self.name} {goal} (weight {self.weight:g})"


def parse_attribute_terms(spec: Mapping[str, Any] | None, known: tuple[str, ...]) -> list[AttributeTerm]:
    """Attribute terms from config: ``{name: raise | lower | <percentile> | {direction|target, weight}}``.

    An unknown attribute, direction or key is a one-line :class:`UserError`.
    """
    terms: list[AttributeTerm] = []
    for name, value in dict(spec or {}).items():
        name = str(name)
        if name not in known:
            raise UserError(f"unknown attribute '{name}' in the quality loss{suggest(name, known)}; "
                            f"this checkpoint has: {', '.join(known)}")
        if value is None:
            continue
        if isinstance(value, Mapping):
            extra = sorted(set(value) - {"direction", "target", "weight"})
            if extra:
                raise UserError(f"quality loss attribute '{name}': unknown key(s) {extra}; valid: direction, target, weight")
            direction, target, weight = value.get("direction"), value.get("target"), value.get("weight", 1.0)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            direction, target, weight = None, value, 1.0
        else:
            direction, target, weight = value, None, 1.0
        if (direction is None) == (target is None):
            raise UserError(f"quality loss attribute '{name}': give either a direction ({' | '.join(DIRECTIONS)}) "
                            f"or a target percentile (0..100), got {value!r}")
        if direction is not None and str(direction) not in DIRECTIONS:
            raise UserError(f"quality loss attribute '{name}': unknown direction '{direction}'{suggest(str(direction), DIRECTIONS)}; "
                            f"valid: {', '.join(DIRECTIONS)} or a target percentile")
        if target is not None:
            try:
                target = float(target)
            except (TypeError, ValueError):
                raise UserError(f"quality loss attribute '{name}': target must be a percentile (0..100), got {target!r}") from None
            if not 0.0 <= target <= 100.0:
                raise UserError(f"quality loss attribute '{name}': target percentile must lie in 0..100, got {target:g}")
        try:
            weight = float(weight)
        except (TypeError, ValueError):
            raise UserError(f"quality loss attribute '{name}': weight must be a number, got {weight!r}") from None
        if weight < 0:
            raise UserError(f"quality loss attribute '{name}': weight must be >= 0 (the direction says which way), got {weight:g}")
        if weight > 0:
            terms.append(AttributeTerm(name, weight, None if direction is None else str(direction), target))
    return terms


def _bicubic(x: torch.Tensor) -> torch.Tensor:
    """PIL's bicubic kernel (Keys, a = -0.5)."""
    a = -0.5
    x = x.abs()
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return torch.where(x < 1, near, torch.where(x < 2, far, torch.zeros_like(x)))


def _resample_weights(in_size: int, out_size: int) -> torch.Tensor:
    """``[out, in]`` float64 weights of PIL's bicubic resampling along one axis (its coefficient rule, antialiased).

    As PIL computes them: the kernel is stretched by the scale when shrinking, each output sample
    takes the input samples within ``2 * scale`` of its centre, and each row is normalised to sum to 1.
    Built with tensor operations only (no branch on values), so it can run inside a compiled graph.
    """
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    centre = (torch.arange(out_size, dtype=torch.float64) + 0.5) * scale
    lo = torch.floor(centre - support + 0.5).clamp(min=0.0)  # PIL: max(0, int(centre - support + 0.5))
    hi = torch.floor(centre + support + 0.5).clamp(max=float(in_size))
    taps = torch.arange(in_size, dtype=torch.float64)
    inside = (taps[None, :] >= lo[:, None]) & (taps[None, :] < hi[:, None])
    weights = torch.where(inside, _bicubic((taps[None, :] - centre[:, None] + 0.5) / filterscale), 0.0)
    total = weights.sum(dim=1, keepdim=True)
    return torch.where(total != 0, weights / torch.where(total != 0, total, 1.0), weights)


@functools.lru_cache(maxsize=32)
def resample_matrix(in_size: int, out_size: int) -> torch.Tensor:
    """``[out, in]`` float64 CPU weights of PIL's bicubic resampling along one axis (cached; see :func:`_resample_weights`)."""
    return _resample_weights(in_size, out_size)


def quantise_8bit(x: torch.Tensor) -> torch.Tensor:
    """Round 0..1 values to the 8-bit grid in the forward pass; the gradient passes straight through."""
    return x + ((x * 255.0).round() / 255.0 - x).detach()


def resize_like_pil(x: torch.Tensor, height: int, width: int, quantise: bool = False,
                    matrix: Callable[[int, int, torch.device, torch.dtype], torch.Tensor] | None = None) -> torch.Tensor:
    """Differentiable bicubic resize of ``[B, C, H, W]`` (0..1) as PIL does it for an 8-bit image: a horizontal
    pass, then a vertical one, each with PIL's weights and clipped to 0..1 (with ``quantise``, also rounded
    to 8 bits, straight-through: then the pixels are exactly PIL's). ``matrix(in, out, device, dtype)``
    supplies the weights (a cache); by default they are built for the call."""
    for axis, size in ((-1, width), (-2, height)):
        if x.shape[axis] == size:
            continue
        weights = (matrix(x.shape[axis], size, x.device, x.dtype) if matrix is not None
                   else _resample_weights(x.shape[axis], size).to(x.device, x.dtype))
        x = torch.einsum("bchw,vw->bchv" if axis == -1 else "bchw,vh->bcvw", x, weights).clamp(0.0, 1.0)
        if quantise:
            x = quantise_8bit(x)
    return x


def differentiable_view(images: torch.Tensor, view: View, quantise: bool = False,
                        matrix: Callable[[int, int, torch.device, torch.dtype], torch.Tensor] | None = None) -> torch.Tensor:
    """``images`` (float ``[B, 3, H, W]`` in 0..1) as the network sees them under ``view``, differentiably.

    Returns ``[B, 3, h, w]`` (resize, optionally centre-cropped) or ``[B * T, 3, S, S]`` (tiles, image-major).
    The arithmetic mirrors :meth:`View.__call__` (which resizes decoded files with PIL): same target size,
    same crop offsets and tile grid, and PIL's bicubic weights (:func:`resample_matrix`), clipped to 0..1 after
    each pass as an 8-bit image is, and with ``quantise`` rounded to 8 bits after each pass: the network then
    sees exactly the pixels PIL produces. What it cannot mirror: PIL shrinks by an integer box filter first
    when the scale exceeds 6 (``reducing_gap=3``), and large JPEG files are decoded at reduced size; there
    the predictions differ slightly.
    """
    height, width = images.shape[-2:]
    w, h = view.target_size(width, height)
    x = images
    if (w, h) != (width, height):
        x = resize_like_pil(x, h, w, quantise, matrix)
    if view.policy == "tiles":
        side = min(view.tile, w, h)
        tiles = [x[:, :, y : y + side, s : s + side] for y in View._starts(h, side) for s in View._starts(w, side)]
        return torch.stack(tiles, dim=1).flatten(0, 1)
    if view.crop_size:
        side = min(int(view.crop_size), w, h)
        left, top = (w - side) // 2, (h - side) // 2
        x = x[:, :, top : top + side, left : left + side]
    return x


def _percentile_table(quantiles: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Unique quantile values and the mean percentile level of each (ties averaged, as ``score()`` does)."""
    q = torch.tensor(quantiles, dtype=torch.float64)
    levels = torch.linspace(0.0, 100.0, len(q), dtype=torch.float64)
    unique, inverse = torch.unique(q, return_inverse=True)
    sums = torch.zeros(len(unique), dtype=torch.float64).index_add_(0, inverse, levels)
    counts = torch.zeros(len(unique), dtype=torch.float64).index_add_(0, inverse, torch.ones_like(levels))
    return unique, sums / counts


def soft_percentile(values: torch.Tensor, knots: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Percentile of ``values`` by linear interpolation over ``(knots, levels)``, extended linearly outside.

    Inside the knots it equals the percentile ``score()`` reports; outside it keeps the mean slope of the
    whole table, so the gradient never vanishes.
    """
    knots = knots.to(values.device, values.dtype)
    levels = levels.to(values.device, values.dtype)
    if knots.numel() == 1:
        return levels[0] + (values - knots[0])
    slope = (levels[-1] - levels[0]) / (knots[-1] - knots[0])
    index = torch.searchsorted(knots, values.detach().contiguous()).clamp(1, knots.numel() - 1)
    lo_k, hi_k = knots[index - 1], knots[index]
    lo_l, hi_l = levels[index - 1], levels[index]
    inside = lo_l + (values - lo_k) * (hi_l - lo_l) / (hi_k - lo_k)
    below = levels[0] + (values - knots[0]) * slope
    above = levels[-1] + (values - knots[-1]) * slope
    return torch.where(values < knots[0], below, torch.where(values > knots[-1], above, inside))


#: Input dtypes :class:`QualityLoss` accepts (floats in 0..1; uint8 in 0..255, scored without a gradient).
INPUT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.uint8)
#: How far outside 0..1 a float input may stray (about a quarter of an 8-bit level) before the range check objects.
RANGE_TOLERANCE = 1e-3


def _drop_stored_network(module: QualityLoss, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """Load hook: weights of the frozen network stored by older checkpoints are ignored (it loads from its own checkpoint)."""
    stored = [key for key in state_dict if key.startswith(prefix + "net.")]
    for key in stored:
        del state_dict[key]
    if stored and not module._ignored_keys_noted:
        module._ignored_keys_noted = True
        warnings.warn(f"quality loss: ignored {len(stored)} stored weights of the frozen quality network "
                      f"({prefix}net.*); it keeps the weights of {module.source or 'the model it was built from'}",
                      UserWarning, stacklevel=2)


def _at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """bf16/fp16 outputs (autocast) as float32; float64 kept (gradient checks)."""
    return x if x.dtype == torch.float64 else x.float()


class QualityLoss(nn.Module):
    """A frozen attiqa checkpoint as a loss (lower is better); see the module docstring.

    ``model``: a checkpoint file, the name of a shipped model (``iqa models``), or a loaded
    :class:`~iqa.inference.QualityModel`; None: the default of :func:`iqa.load` (``$ATTIQA_CKPT``, else the
    shipped default model, said in one line).
    ``quality``: weight of the quality term (0 leaves it out). ``attributes``:
    ``{name: "raise" | "lower" | <target percentile> | {"direction"/"target", "weight"}}``.
    ``resize``: match ``score()`` on files (resize to the checkpoint's view; default) or use
    tensors as given (``False``, as ``score()`` does for tensors). ``image_size``: override the view's size.
    ``channels_last``: run the network in channels-last memory layout (faster; the numbers are the same).
    ``quantise``: round the input, and each resampling pass, to 8 bits as a saved and scored image is
    (straight-through: the gradient is that of the unrounded function); the value then equals ``score()``
    on the saved image to float precision. Off by default: the unrounded function is what an optimiser
    should follow (its exact gradient; the values differ from ``score()`` by the 8-bit rounding only).

    Inputs are float ``[B, 3, H, W]`` in 0..1 (uint8 is accepted, without a gradient).
    """

    def __init__(
        self,
        model: Any = None,
        quality: float = 1.0,
        attributes: Mapping[str, Any] | None = None,
        resize: bool = True,
        image_size: int | None = None,
        channels_last: bool = True,
        quantise: bool = False,
        check_range: bool = True,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__()
        #: The checkpoint file this loss was built from (empty when given a loaded model).
        self.source = ""
        if model is None or isinstance(model, (str, os.PathLike)):
            from iqa.zoo import resolve_checkpoint

            self.source = resolve_checkpoint(model)
            net, meta = load_net(self.source)
            view = View(**meta.scoring_view(image_size=image_size))
            scale = MOSScale(*meta.mos_range, meta.higher_is_better)
        else:  # a loaded QualityModel (``iqa.load(ckpt).as_loss()``), left as it is
            net, meta, scale = model.net, model.meta, model.scale
            view = model.view if image_size is None else dataclasses.replace(model.view, image_size=int(image_size))
            device = device if device is not None else getattr(model, "device", None)
        self.view: View = view
        self.resize = bool(resize)
        self.quantise = bool(quantise)
        self.check_range = bool(check_range)
        self.scale = scale
        #: Resampling matrices per (device, dtype, input size, output size), built on first use.
        self._resample_cache: dict[tuple[str, torch.dtype, int, int], torch.Tensor] = {}
        self._warned_upsample = False
        self._ignored_keys_noted = False
        self.attributes = tuple(net.attributes)
        try:
            self.quality_weight = float(quality or 0.0)
        except (TypeError, ValueError):
            raise UserError(f"quality loss: the quality weight must be a number, got {quality!r}") from None
        if self.quality_weight < 0:
            raise UserError(f"quality loss: the quality weight must be >= 0 (the term is already lower-is-better), got {quality}")
        self.terms_config = parse_attribute_terms(attributes, self.attributes)
        if self.quality_weight > 0 and not meta.quality_trained:
            raise UserError(
                f"quality loss: the checkpoint is from stage={meta.stage}, whose quality head never saw a MOS; "
                f"use a fine-tuned checkpoint (stage=finetune / linear_probe) or set the quality weight to 0"
            )
        if self.terms_config and not meta.attributes_trained:
            raise UserError(
                f"quality loss: attribute terms ({', '.join(t.name for t in self.terms_config)}) need trained attribute "
                f"heads, but this checkpoint started from init={meta.init} and its heads never saw an attribute label"
            )
        if not self.quality_weight and not self.terms_config:
            raise UserError("quality loss: no terms; give the quality term a weight > 0 or name at least one attribute")
        calibration = meta.calibration_for(self.attributes)
        targets = [t.name for t in self.terms_config if t.target is not None]
        if targets and not calibration:
            raise UserError(f"quality loss: target percentiles ({', '.join(targets)}) need a calibrated checkpoint "
                            f"(one written by stage=finetune); use raise / lower instead")
        self.calibrated = bool(calibration)
        for index, name in enumerate(self.attributes):
            knots, levels = _percentile_table(calibration["quantiles"][index]) if calibration else (torch.zeros(1), torch.zeros(1))
            self.register_buffer(f"_knots_{name}", knots.float(), persistent=False)
            self.register_buffer(f"_levels_{name}", levels.float(), persistent=False)
        # The frozen network is held outside the module tree (not a registered submodule): its weights
        # stay out of ``parameters()`` and out of the ``state_dict()`` of any module that holds this loss,
        # so an owner's checkpoint carries only its own weights. ``.to()`` / ``.cuda()`` / ``.half()``
        # still reach it (see ``_apply``).
        net.requires_grad_(False)
        net.eval()
        self.__dict__["_frozen"] = (net,)
        if channels_last and not net.channels_last:
            # Depthwise convolutions (EfficientNet) run about twice as fast in this layout, on CPUs too.
            net.to(memory_format=torch.channels_last)
            net.channels_last = True
        self.register_load_state_dict_pre_hook(_drop_stored_network)
        if device is not None:
            self.to(torch.device(device))

    @property
    def net(self) -> nn.Module:
        """The frozen IQA network (eval mode, no gradients; not part of this module's ``state_dict``)."""
        return self.__dict__["_frozen"][0]

    @property
    def device(self) -> torch.device:
        """Where the network's weights are."""
        return next(self.net.parameters()).device

    def _apply(self, fn: Any, recurse: bool = True) -> QualityLoss:
        # .to() / .cuda() / .half() / channels-last: the buffers here, the frozen network, and a fresh cache
        super()._apply(fn, recurse)
        self.net._apply(fn)
        self._resample_cache.clear()
        return self

    # The network stays in eval mode: a trainer calling .train() on the module that owns this loss
    # must not switch batch norm to batch statistics (or let its running averages drift).
    def train(self, mode: bool = True) -> QualityLoss:
        super().train(mode)
        self.net.eval()
        return self

    def describe(self) -> list[str]:
        """The active terms, one line each (lower is better for every one)."""
        lines = [f"quality: 1 - quality_norm (weight {self.quality_weight:g})"] if self.quality_weight else []
        return lines + [t.describe() for t in self.terms_config]

    def resample_weights(self, in_size: int, out_size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """PIL's bicubic weights ``[out, in]`` on ``device`` in ``dtype``, built once per (device, dtype, sizes)."""
        key = (str(device), dtype, int(in_size), int(out_size))
        weights = self._resample_cache.get(key)
        if weights is None:
            weights = _resample_weights(in_size, out_size).to(device, dtype)
            self._resample_cache[key] = weights
        return weights

    def _check_range(self, x: torch.Tensor) -> None:
        """Finite inputs must lie in 0..1 (within :data:`RANGE_TOLERANCE`); see the ``check_range`` argument.

        NaN and inf pass through (the loss is then non-finite): a training loop's own non-finite handling,
        such as skipping the step, deals with them rather than an error in the middle of a run.
        """
        x = x.detach()
        outside = torch.isfinite(x) & ((x < -RANGE_TOLERANCE) | (x > 1.0 + RANGE_TOLERANCE))
        if torch.compiler.is_compiling() or x.device.type != "cpu":
            # No host sync: the check runs on the device and a violation stops the run at its next sync.
            torch._assert_async(~outside.any(), "quality loss: images must lie in 0..1 (float) or be uint8; got values "
                                                "outside 0..1; pass check_range=False to skip this check")
        elif bool(outside.any()):  # on the CPU the values are at hand: a plain check, with the range found
            finite = x[torch.isfinite(x)]
            raise UserError(f"quality loss: images must lie in 0..1 (float) or be uint8 (0..255); got values in "
                            f"{float(finite.min()):.4g}..{float(finite.max()):.4g}; clamp or rescale them "
                            f"(check_range=False skips this check)")

    def _prepare(self, images: torch.Tensor) -> tuple[torch.Tensor, int]:
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[1] != 3:
            raise UserError(f"quality loss: images must be [B, 3, H, W] (float 0..1), got {tuple(images.shape)}")
        if images.dtype not in INPUT_DTYPES:
            raise UserError(f"quality loss: images of dtype {images.dtype} are not accepted; "
                            f"valid: {', '.join(str(d).removeprefix('torch.') for d in INPUT_DTYPES)} "
                            f"(floats in 0..1; uint8 in 0..255, without a gradient)")
        if images.dtype == torch.uint8:
            x = images.float().div(255.0)
        else:
            if self.check_range:
                self._check_range(images)
            # float16 / bfloat16 (an enhancer's output under autocast) resample in float32; float64 stays (gradient checks)
            x = images if images.dtype == torch.float64 else images.float()
        if self.resize and not self._warned_upsample and not torch.compiler.is_compiling():
            height, width = x.shape[-2:]
            w, h = self.view.target_size(width, height)
            if w > width or h > height:
                self._warned_upsample = True
                warnings.warn(f"quality loss: {width}x{height} inputs are enlarged to {w}x{h} for scoring (the checkpoint "
                              f"scores at short side {self.view.image_size}); the network sees upsampled pixels, which "
                              f"look blurrier than the images themselves. Pass larger images, or image_size= / resize=False",
                              UserWarning, stacklevel=4)
        # The resampling runs in float32 (float64 kept) whatever autocast the caller runs under.
        with torch.autocast(x.device.type, enabled=False):
            if self.quantise:  # as the image would be saved (8 bits a channel) and scored
                x = quantise_8bit(x)
            if not self.resize:
                return x, 1
            x = differentiable_view(x, self.view, self.quantise, self.resample_weights)
        tiles = x.shape[0] // images.shape[0]
        return x, tiles

    def _to_net_dtype(self, x: torch.Tensor) -> torch.Tensor:
        """Float64 inputs resample in float64; the network then gets its own dtype (float32 unless made double)."""
        dtype = next(self.net.parameters()).dtype
        return x if x.dtype == dtype else x.to(dtype)

    def predict(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Differentiable predictions: ``quality_norm [B]`` (1 best) and raw ``attributes [B, A]``, in float32."""
        x, tiles = self._prepare(images)
        out = self.net(self._to_net_dtype(x))
        batch = x.shape[0] // tiles
        quality = _at_least_float32(out["quality"]).view(batch, tiles).mean(1)
        attributes = _at_least_float32(out["attributes"]).view(batch, tiles, -1).mean(1)
        return {"quality_norm": quality, "attributes": attributes}

    def percentile(self, name: str, raw: torch.Tensor) -> torch.Tensor:
        """Differentiable calibrated percentile of raw ``name`` scores (extended linearly beyond 0..100)."""
        if not self.calibrated:
            raise UserError("quality loss: this checkpoint carries no attribute calibration (no percentiles)")
        return soft_percentile(raw, getattr(self, f"_knots_{name}"), getattr(self, f"_levels_{name}"))

    def terms(self, images: torch.Tensor, predictions: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Each weighted term per image (``[B]``, lower is better): ``quality`` and ``<attribute>``."""
        pred = predictions if predictions is not None else self.predict(images)
        out: dict[str, torch.Tensor] = {}
        if self.quality_weight:
            out["quality"] = self.quality_weight * (1.0 - pred["quality_norm"])
        for term in self.terms_config:
            raw = pred["attributes"][:, self.attributes.index(term.name)]
            if self.calibrated:
                value = self.percentile(term.name, raw) / 100.0
                if term.target is not None:
                    value = (value - term.target / 100.0).square()
                elif term.direction == "raise":
                    # Capped at the calibration's top: past the 100th percentile "more" earns nothing, so the
                    # optimiser has no reason to push an attribute beyond anything the model was calibrated on.
                    value = 1.0 - value.clamp(max=1.0)
                else:
                    value = value.clamp(min=0.0)
            else:
                value = -raw if term.direction == "raise" else raw
            out[term.name] = term.weight * value
        return out

    def forward(self, images: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """The loss: weighted sum of the terms, averaged over the batch (``reduction="none"``: ``[B]``)."""
        per_image = torch.stack(list(self.terms(images).values()), dim=0).sum(0)
        if reduction == "none":
            return per_image
        if reduction == "sum":
            return per_image.sum()
        return per_image.mean()


__all__ = ["DIRECTIONS", "INPUT_DTYPES", "RANGE_TOLERANCE", "AttributeTerm", "QualityLoss", "differentiable_view",
           "parse_attribute_terms", "quantise_8bit", "resample_matrix", "resize_like_pil", "soft_percentile"]
