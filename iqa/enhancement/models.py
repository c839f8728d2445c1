"""Enhancers: image-to-image networks that map a degraded float image (0..1) to an enhanced one.

Every enhancer has ``enhance(x) -> (image, aux)``: the output in 0..1 and an auxiliary tensor the
illumination-smoothness regulariser acts on (the curve maps of :class:`CurveEstimator`, the residual of
:class:`SmallUNet`); ``forward(x)`` returns the image alone. Both are fully convolutional and take any size.

:class:`CurveEstimator` follows the idea of Zero-DCE (Guo et al., CVPR 2020): a small network predicts,
per pixel and channel, the parameters ``a`` of a quadratic light-enhancement curve
``LE(x) = x + a x (1 - x)`` (``a`` in -1..1), applied ``iterations`` times. The curve is monotone and keeps
0 and 1 fixed, so the output can only re-tone the input: it cannot invent texture, which makes it hard to
fool a quality model with artefacts. ``curve="power"`` applies ``x ** gamma`` per pixel instead, with
``log2 gamma = -(a_1 + ... + a_iterations)``: also monotone with 0 and 1 fixed, and, unlike the quadratic
curve, it brightens without raising colourfulness (at a matched mean luma the quadratic curve leaves a
power-darkened photo about 1.2x as colourful as it was). ``downscale > 1`` estimates the curves on a smaller copy and
upsamples them (cheap on large photos; the curves are smooth anyway). By default one curve per pixel
is shared by R, G and B, which re-tones without shifting hue; ``per_channel=True`` predicts one per
channel as Zero-DCE does, which can correct a colour cast but also create one (green raises luma
fastest, so a brightness objective drifts toward green in the shadows).
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from iqa.errors import UserError, suggest

#: Curve families of :class:`CurveEstimator`: Zero-DCE's quadratic ``x + a x (1 - x)``, or a power ``x ** gamma``.
CURVES = ("quadratic", "power")


class CurveEstimator(nn.Module):
    """Zero-DCE-style deep curve estimation: seven 3x3 convolutions with symmetric skip concatenations."""

    def __init__(self, width: int = 32, iterations: int = 8, downscale: int = 1, per_channel: bool = False,
                 curve: str = "quadratic") -> None:
        super().__init__()
        if int(width) < 1 or int(iterations) < 1 or int(downscale) < 1:
            raise UserError(f"enhancer: width, iterations and downscale must be >= 1, got {width}, {iterations}, {downscale}")
        if curve not in CURVES:
            raise UserError(f"enhancer: unknown curve '{curve}'{suggest(str(curve), CURVES)}; valid: {', '.join(CURVES)}")
        self.curve = str(curve)
        self.width, self.iterations, self.downscale = int(width), int(iterations), int(downscale)
        self.per_channel = bool(per_channel)
        self.groups = 3 if self.per_channel else 1
        #: Applying, not training: estimate the curves on a copy of at most this many pixels (None: no cap).
        self.max_curve_pixels: int | None = None
        w = self.width

        def conv(cin: int, cout: int) -> nn.Conv2d:
            return nn.Conv2d(cin, cout, 3, padding=1, padding_mode="replicate")

        self.c1, self.c2, self.c3, self.c4 = conv(3, w), conv(w, w), conv(w, w), conv(w, w)
        self.c5, self.c6 = conv(2 * w, w), conv(2 * w, w)
        self.c7 = conv(2 * w, self.groups * self.iterations)
        # Start at the identity (a = 0 everywhere): training begins from "change nothing".
        nn.init.zeros_(self.c7.weight)
        nn.init.zeros_(self.c7.bias)

    def curves(self, x: torch.Tensor) -> torch.Tensor:
        """Curve parameters ``[B, groups * iterations, H, W]`` in -1..1 (groups: 3 per channel, else 1)."""
        height, width = x.shape[-2:]
        factor = float(self.downscale)
        if self.max_curve_pixels and height * width / factor**2 > self.max_curve_pixels:
            factor = (height * width / self.max_curve_pixels) ** 0.5
        size = (max(1, round(height / factor)), max(1, round(width / factor)))
        small = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True) if size != (height, width) else x
        x1 = F.relu(self.c1(small))
        x2 = F.relu(self.c2(x1))
        x3 = F.relu(self.c3(x2))
        x4 = F.relu(self.c4(x3))
        x5 = F.relu(self.c5(torch.cat([x3, x4], 1)))
        x6 = F.relu(self.c6(torch.cat([x2, x5], 1)))
        maps = torch.tanh(self.c7(torch.cat([x1, x6], 1)))
        if size != (height, width):
            maps = F.interpolate(maps, size=(height, width), mode="bilinear", align_corners=False)
        return maps

    def enhance(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps = self.curves(x)
        if self.curve == "power":
            # x ** gamma with log2(gamma) = -(sum of the maps): each map halves or doubles the exponent at most.
            exponent = torch.exp2(-maps.view(maps.shape[0], self.iterations, self.groups, *maps.shape[-2:]).sum(1))
            safe = x.clamp_min(1e-6)  # 0 stays 0 (and its gradient finite)
            return torch.exp(exponent * torch.log(safe)) * (x > 0).to(x.dtype), maps
        y = x
        for a in maps.split(self.groups, dim=1):  # one shared curve broadcasts over R, G and B
            y = y + a * y * (1 - y)
        return y, maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.enhance(x)[0]


class SmallUNet(nn.Module):
    """A small residual U-Net: ``depth`` down/up levels of two 3x3 convolutions, output ``clamp(x + r, 0, 1)``.

    Unlike the curve estimator it can change local structure (e.g. suppress noise), and so needs the
    fidelity and spatial-consistency regularisers more. Inputs are padded (reflect) to a multiple of
    ``2 ** depth`` and the output is cropped back.
    """

    def __init__(self, width: int = 16, depth: int = 2) -> None:
        super().__init__()
        if int(width) < 1 or int(depth) < 1:
            raise UserError(f"enhancer: width and depth must be >= 1, got {width}, {depth}")
        self.width, self.depth = int(width), int(depth)

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.1), nn.Conv2d(cout, cout, 3, padding=1),
                                 nn.LeakyReLU(0.1))

        widths = [self.width * 2**i for i in range(self.depth + 1)]
        self.down = nn.ModuleList([block(3, widths[0])] + [block(widths[i], widths[i + 1]) for i in range(self.depth)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(self.depth))])
        self.merge = nn.ModuleList([block(2 * widths[i], widths[i]) for i in reversed(range(self.depth))])
        self.out = nn.Conv2d(widths[0], 3, 1)
        nn.init.zeros_(self.out.weight)  # starts at the identity
        nn.init.zeros_(self.out.bias)

    def enhance(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        height, width = x.shape[-2:]
        m = 2**self.depth
        pad_h, pad_w = (-height) % m, (-width) % m
        padded = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect" if min(height, width) > max(pad_h, pad_w) else "replicate")
        skips, h = [], padded
        for i, level in enumerate(self.down):
            h = level(h if i == 0 else F.max_pool2d(h, 2))
            skips.append(h)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            h = merge(torch.cat([up(h), skip], 1))
        residual = torch.tanh(self.out(h))[..., :height, :width]
        return (x + residual).clamp(0.0, 1.0), residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.enhance(x)[0]


#: ``enhancer.arch`` -> class.
ARCHITECTURES: dict[str, type[nn.Module]] = {"zero_dce": CurveEstimator, "unet": SmallUNet}


def build_enhancer(arch: str = "zero_dce", **kwargs: Any) -> nn.Module:
    """The enhancer ``arch`` (``zero_dce`` | ``unet``) with its keyword arguments (the ``enhancer`` config node)."""
    if arch not in ARCHITECTURES:
        raise UserError(f"unknown enhancer arch '{arch}'{suggest(str(arch), ARCHITECTURES)}; valid: {', '.join(ARCHITECTURES)}")
    import inspect

    params = inspect.signature(ARCHITECTURES[arch]).parameters
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise UserError(f"enhancer {arch}: unknown setting(s) {unknown}; valid: {', '.join(params)}")
    model = ARCHITECTURES[arch](**kwargs)
    model.config = {"arch": arch, **{k: getattr(model, k) for k in params}}
    return model


def stored_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """An enhancer config as stored in a checkpoint, with the settings added since filled in at their old values."""
    config = dict(config)
    if config.get("arch") == "zero_dce":
        config.setdefault("curve", "quadratic")
    return config


def enhancer_from_state(config: Mapping[str, Any], state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> nn.Module:
    """Rebuild an enhancer from its stored config and weights; a mismatch is a one-line :class:`UserError`."""
    config = stored_config(config)
    model = build_enhancer(**config)
    try:
        model.load_state_dict(dict(state))
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise UserError(f"{source}: the weights do not fit enhancer {config} ({first})") from None
    return model


def read_enhancer_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """``(enhancer in eval mode, hyper_parameters)`` from a ``stage=enhance`` checkpoint (or :func:`write_enhancer`)."""
    from iqa.checkpoints import read_checkpoint

    ckpt = read_checkpoint(path, map_location)
    hparams = dict(ckpt.get("hyper_parameters") or {})
    if not hparams.get("enhancer"):
        if hparams.get("net_config"):
            raise UserError(f"{path} is a quality-model checkpoint (stage={hparams.get('stage', 'finetune')}), not an enhancer; "
                            f"pass the checkpoint train.py stage=enhance wrote (<run dir>/checkpoints/last.ckpt)")
        raise UserError(f"{path} is not an enhancer checkpoint (no enhancer config)")
    state = {k[len("net.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    return enhancer_from_state(hparams["enhancer"], state, str(path)).eval(), hparams


def write_enhancer(model: nn.Module, path: str | os.PathLike, **hparams: Any):
    """A minimal enhancer checkpoint (weights and config) that ``iqa enhance`` and ``stage.init`` accept."""
    from pathlib import Path

    from iqa.io import atomic_write_bytes

    buffer = io.BytesIO()
    state = {f"net.{k}": v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": {"stage": "enhance", "enhancer": dict(model.config), **hparams}}, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


__all__ = ["ARCHITECTURES", "CURVES", "CurveEstimator", "SmallUNet", "build_enhancer", "enhancer_from_state", "read_enhancer_checkpoint",
           "stored_config", "write_enhancer"]
