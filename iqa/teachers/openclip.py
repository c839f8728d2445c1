"""The open_clip teacher: antonym-prompt pseudo-labels from any open_clip model.

For image ``x`` and attribute ``a`` with expanded prompt pairs
``(t+_k, t-_k), k = 1..K`` and logit scale ``s``:

    score_a(x) = 1/K * sum_k softmax(s * [cos(f(x), t+_k), cos(f(x), t-_k)])[0]

``f`` is the image encoder; ``t±`` are text embeddings, L2-normalised like
``f(x)``. Scores lie in (0, 1); higher means more of the positive word.

Weights: ``pretrained`` is a local checkpoint file (how offline users plug in
weights) or an open_clip hub tag. A hub tag is used only if it is already in
the local cache, or if ``allow_download=true``; it never triggers a silent
download, and offline it fails at once with a message naming the fix.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from iqa.attributes import ATTRIBUTES
from iqa.errors import UserError, suggest
from iqa.teachers.base import Teacher, to_float01
from iqa.teachers.prompts import expand_prompts

log = logging.getLogger(__name__)

RANDOM_WEIGHTS = ("", "none", "random")


def antonym_scores(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    pair_to_attribute: torch.Tensor,
    logit_scale: float,
    num_attributes: int,
) -> torch.Tensor:
    """The teacher formula, vectorised over all prompt pairs.

    Args:
        image_features: ``[B, D]``, L2-normalised.
        text_features: ``[N, 2, D]``, L2-normalised; ``[:, 0]`` positive, ``[:, 1]`` negative.
        pair_to_attribute: ``[N]`` long, the attribute index of each pair.
        logit_scale: CLIP's ``s`` (about 100 for trained models).
        num_attributes: ``A``.

    Returns:
        ``[B, A]`` mean positive-class probability per attribute.
    """
    logits = logit_scale * torch.einsum("bd,nkd->bnk", image_features.float(), text_features.float())
    positive = logits.softmax(dim=-1)[..., 0]  # [B, N]
    counts = torch.bincount(pair_to_attribute, minlength=num_attributes).clamp_min(1).to(positive.dtype)
    averaging = F.one_hot(pair_to_attribute, num_attributes).to(positive.dtype) / counts  # [N, A]
    return positive @ averaging


def _cached_hub_file(pretrained_cfg: Mapping[str, Any]) -> str | None:
    """The local path of a hub tag's weights if they are already in the HF cache."""
    hub = pretrained_cfg.get("hf_hub") or ""
    if not hub:
        return None
    from huggingface_hub import try_to_load_from_cache

    # ``hf_hub`` is either "org/repo/" (default file names) or "org/repo/file.bin".
    repo_id, candidates = hub.rstrip("/"), ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
    head, _, tail = repo_id.rpartition("/")
    if not hub.endswith("/") and "." in tail and head.count("/") == 1:
        repo_id, candidates = head, [tail]
    for name in candidates:
        path = try_to_load_from_cache(repo_id=repo_id, filename=name)
        if isinstance(path, str) and os.path.isfile(path):
            return path
    return None


def resolve_pretrained(model: str, pretrained: str | None, allow_download: bool) -> str | None:
    """Turn ``teacher.pretrained`` into something ``open_clip.create_model`` may load without surprises."""
    import open_clip

    if pretrained is None or str(pretrained).strip().lower() in RANDOM_WEIGHTS:
        log.warning(
            "open_clip model %s has RANDOM weights: its pseudo-labels carry no quality information. "
            "Pass teacher.pretrained=/path/to/weights for real labels.",
            model,
        )
        return None
    pretrained = str(pretrained)
    local = Path(pretrained).expanduser()
    if local.is_file():
        return str(local)
    looks_like_path = os.sep in pretrained or local.suffix in {".pt", ".pth", ".bin", ".safetensors", ".ckpt"}
    if looks_like_path:
        raise UserError(f"teacher.pretrained: checkpoint file not found: {pretrained}")
    tags = open_clip.list_pretrained_tags_by_model(model)
    if pretrained not in tags:
        valid = ", ".join(tags) if tags else "none are published for this model; pass a local file"
        raise UserError(
            f"teacher.pretrained='{pretrained}' is neither a file nor a known tag for {model}"
            f"{suggest(pretrained, tags)}; valid tags: {valid}"
        )
    cached = _cached_hub_file(open_clip.get_pretrained_cfg(model, pretrained))
    if cached:
        return cached
    if not allow_download:
        raise UserError(
            f"open_clip weights {model}/{pretrained} are not in the local cache and downloads are off. "
            f"Pass a local file with teacher.pretrained=/path/to/open_clip_pytorch_model.bin, "
            f"or allow a one-time download with teacher.allow_download=true"
        )
    log.warning("downloading open_clip weights %s/%s (teacher.allow_download=true)", model, pretrained)
    return pretrained


def create_clip(model: str, pretrained: str | None, allow_download: bool = False, model_config: str | None = None):
    """Build an open_clip model with clear errors for unknown names and unloadable weights."""
    import open_clip

    if model_config:
        path = Path(model_config).expanduser()
        if not path.exists():
            raise UserError(f"teacher.model_config: file not found: {model_config}")
        open_clip.add_model_config(str(path))
    known = open_clip.list_models()
    if model not in known and not model.startswith(("hf-hub:", "local-dir:")):
        raise UserError(
            f"unknown open_clip model '{model}'{suggest(model, known)}; "
            f"valid names include ViT-B-32, ViT-L-14, RN50 (full list: open_clip.list_models())"
        )
    weights = resolve_pretrained(model, pretrained, allow_download)
    try:
        return open_clip.create_model(model, pretrained=weights), weights
    except Exception as exc:  # noqa: BLE001 - library errors become one clear line
        if weights is None:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"could not load CLIP weights '{weights}' into {model}: {first[:300]}") from exc


class OpenCLIPTeacher(Teacher):
    """Pseudo-labels from an open_clip model and an antonym prompt set."""

    def __init__(
        self,
        model: str = "ViT-B-32",
        pretrained: str | None = "openai",
        prompts: Mapping[str, Any] | None = None,
        logit_scale: float | None = None,
        allow_download: bool = False,
        model_config: str | None = None,
        name: str | None = None,
        label_set: str | None = None,
        attributes: tuple[str, ...] = ATTRIBUTES,
    ) -> None:
        super().__init__()
        if prompts is None:
            raise UserError("the open_clip teacher needs a prompt set (prompts=<name>)")
        import open_clip

        self.name = name or f"openclip-{model}"
        self.label_set = label_set or self.name
        self.attributes = tuple(attributes)
        self.model_name = model
        self.clip, self.weights = create_clip(model, pretrained, allow_download, model_config)
        self.pretrained = pretrained
        self.clip.eval().requires_grad_(False)
        size = self.clip.visual.image_size
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        pre = getattr(self.clip.visual, "preprocess_cfg", None) or {}
        mean = pre.get("mean", getattr(self.clip.visual, "image_mean", None) or (0.48145466, 0.4578275, 0.40821073))
        std = pre.get("std", getattr(self.clip.visual, "image_std", None) or (0.26862954, 0.26130258, 0.27577711))
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.logit_scale = float(logit_scale) if logit_scale is not None else float(self.clip.logit_scale.exp().item())

        self.prompt_set_name = str(prompts.get("name", "unnamed"))
        self.prompts = expand_prompts(prompts, self.attributes)
        texts, owners = [], []
        for index, attr in enumerate(self.attributes):
            for pos, neg in self.prompts[attr]:
                texts += [pos, neg]
                owners.append(index)
        tokenizer = open_clip.get_tokenizer(model)
        # Text embeddings depend only on the prompts: computed once here, never per batch.
        with torch.no_grad():
            text = self.clip.encode_text(tokenizer(texts), normalize=True).float()
        self.register_buffer("text_features", text.view(len(owners), 2, -1), persistent=False)
        self.register_buffer("pair_to_attribute", torch.tensor(owners, dtype=torch.long), persistent=False)

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        x = (to_float01(images) - self.mean) / self.std
        return F.normalize(self.clip.encode_image(x).float(), dim=-1)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.encode_images(images)  # bf16 under autocast on GPU: the expensive part
        # The formula runs in float32 whatever the autocast: cosines differ between the two
        # prompts of a pair by ~0.01 and are then multiplied by s ~ 100, so bf16's ~0.4 %
        # rounding of each cosine would move the probabilities by several percent.
        with torch.autocast(features.device.type, enabled=False):
            return antonym_scores(features, self.text_features, self.pair_to_attribute, self.logit_scale, len(self.attributes))

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(
            model=self.model_name,
            pretrained=self.pretrained,
            weights_file=self.weights,
            logit_scale=self.logit_scale,
            prompt_set=self.prompt_set_name,
            mean=self.mean.flatten().tolist(),
            std=self.std.flatten().tolist(),
        )
        return info
