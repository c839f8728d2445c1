"""Checkpoint metadata: what a checkpoint says about how it was made, in one typed place.

Every attiqa checkpoint (a Lightning ``.ckpt`` or one written by
:func:`iqa.inference.export_checkpoint`) stores its metadata as
``hyper_parameters``. :class:`CheckpointMeta` names each key, its type and its
meaning; :func:`stamp` is the one way to write them and :func:`read_meta` (or
:func:`iqa.models.load_net`, with the weights) the one way to read them, so that training, scoring,
evaluation and resuming agree on what a key means.

Checkpoints written before a key existed still load: :func:`read_meta` fills
missing keys with what older code implied (e.g. a checkpoint without
``attributes_trained`` is attribute-trained if it is a pretraining checkpoint
or was initialised from another checkpoint, see :func:`_attributes_trained`).
Keys it does not name (the optimisation settings Lightning records from the
module's constructor, ``ridge_alpha``, ...) are kept in ``extra``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from iqa.errors import UserError

#: ``init`` values that do not name a checkpoint: the backbone starts from ImageNet or random weights.
FRESH_INITS = ("imagenet", "none")


@dataclass(frozen=True)
class CheckpointMeta:
    """The metadata of one checkpoint (``hyper_parameters``), typed.

    Written by training (:func:`stamp` on the Lightning module's ``hparams``,
    plus the module's own ``on_save_checkpoint``) and by ``export_checkpoint``.
    """

    #: Architecture to rebuild the net: ``{"backbone", "attributes", "drop_rate"}`` (see ``IQANet.config``).
    net_config: dict[str, Any]
    #: ``pretrain`` | ``finetune`` | ``linear_probe``. Only pretraining leaves the quality head untrained.
    stage: str = "finetune"
    #: Where the backbone started: ``imagenet``, ``none`` or the path of the checkpoint it was initialised from.
    init: str | None = None
    #: Whether the attribute heads were trained on attribute labels (in this run or a run it was initialised
    #: from). False: the heads are random or untouched, and their scores mean nothing.
    attributes_trained: bool = False
    #: Name of the dataset the run trained on (a ``data`` choice or ``data.name``).
    data: str | None = None
    #: Short side (px) the run's images were resized to; scoring uses it by default.
    image_size: int | None = None
    #: The scoring view the run chose (``data.iqa.view``: image_size, policy, crop_size, upscale); None: resize to image_size.
    view: dict[str, Any] | None = None
    #: The MOS range and direction of ``data``; ``quality`` is reported on it.
    mos_range: tuple[float, float] = (0.0, 1.0)
    higher_is_better: bool = True
    #: The resolved split recipe (``iqa.data.catalog.split_settings``) to rebuild the run's exact test split.
    split: dict[str, Any] | None = None
    #: The run's resolved ``data`` config: evaluation rebuilds the training set's test split from it when no
    #: test set is named.
    data_config: dict[str, Any] | None = None
    #: Number of images in the training split (after ``train_fraction``).
    train_images: int | None = None
    #: Quality head of a fine-tuning run: ``linear`` (gradient descent) or ``ridge`` (closed form).
    head: str | None = None
    #: The training loss's name (the ``loss`` config group's ``name``: ranking, regression, ...); None in older files.
    loss_name: str | None = None
    #: Per-attribute quantiles over the fine-tuning validation images: ``{"attributes", "quantiles", "count",
    #: "reference"}``; scoring reports attribute percentiles from it.
    attribute_calibration: dict[str, Any] | None = None
    #: Every other stored key, unchanged (optimiser settings, ridge fit details, ...).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def quality_trained(self) -> bool:
        """False for a pretraining checkpoint, whose quality head never saw a MOS."""
        return self.stage != "pretrain"

    @property
    def init_checkpoint(self) -> str | None:
        """The checkpoint this run was initialised from, if any."""
        return None if self.init in (None, *FRESH_INITS) else str(self.init)

    def calibration_for(self, attributes: tuple[str, ...] | list[str]) -> dict[str, Any] | None:
        """The attribute calibration, when the heads are trained and it covers exactly ``attributes``; else None."""
        calibration = self.attribute_calibration
        if calibration and self.attributes_trained and list(calibration.get("attributes", [])) == list(attributes):
            return calibration
        return None

    def scoring_view(self, **given: Any) -> dict[str, Any]:
        """The settings of the scoring view: the recorded view, with each non-None part of ``given`` replacing its own.

        A recorded tile size does not carry over when ``given`` changes the policy; the
        image size falls back to the run's training size (then 384).
        """
        recorded = dict(self.view or {})
        settings = {**recorded, **{k: v for k, v in given.items() if v is not None}}
        if given.get("policy") is not None and given["policy"] != recorded.get("policy") and given.get("crop_size") is None:
            settings.pop("crop_size", None)
        settings["image_size"] = int(settings.get("image_size") or self.image_size or 384)
        return settings

    def hparams(self) -> dict[str, Any]:
        """The plain ``hyper_parameters`` mapping (named keys, then ``extra``)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        out["mos_range"] = list(self.mos_range)
        return {**out, **self.extra}


#: Keys :class:`CheckpointMeta` names (the ones :func:`stamp` accepts).
KEYS = tuple(f.name for f in dataclasses.fields(CheckpointMeta) if f.name != "extra")


def _plain(value: Any) -> Any:
    """Plain Python containers (an OmegaConf node or tuple would not round-trip through ``torch.load``)."""
    try:
        from omegaconf import OmegaConf

        if OmegaConf.is_config(value):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def stamp(hparams: MutableMapping[str, Any], **fields: Any) -> None:
    """The one writer: set metadata ``fields`` (names of :class:`CheckpointMeta`) on ``hparams``.

    ``hparams`` is a Lightning module's ``hparams`` (saved with every
    checkpoint) or the ``hyper_parameters`` of a checkpoint being written.
    A name that is not a metadata key is a programming error, not data.
    """
    unknown = sorted(set(fields) - set(KEYS))
    if unknown:
        raise TypeError(f"unknown checkpoint metadata key(s) {unknown}; known: {', '.join(KEYS)}")
    for name, value in fields.items():
        hparams[name] = _plain(value)


def stamp_run(hparams: MutableMapping[str, Any], *, stage: str, init: str | None, data: str, image_size: int,
              view: Mapping[str, Any] | None = None, loss_name: str | None = None) -> None:
    """Stamp what every training run records, including whether its attribute heads are trained.

    Pretraining trains them; a run initialised from a checkpoint inherits that
    checkpoint's answer; ``imagenet`` or ``none`` leaves them untrained.
    """
    if stage == "pretrain":
        trained = True
    elif init in (None, *FRESH_INITS):
        trained = False
    else:
        trained = read_meta(str(init)).attributes_trained
    stamp(hparams, stage=stage, init=init, data=data, image_size=int(image_size), attributes_trained=trained)
    if view:
        stamp(hparams, view=dict(view))
    if loss_name:
        stamp(hparams, loss_name=str(loss_name))


def _attributes_trained(hparams: Mapping[str, Any]) -> bool:
    """For checkpoints written before ``attributes_trained`` existed: what their other keys imply.

    Pretraining trains the heads; ``init=imagenet``/``none`` (or no ``init``
    at all) means the heads never saw an attribute label; ``init=<checkpoint>``
    is taken as initialised from a pretraining checkpoint, the documented
    chain (those files cannot tell a chain through an ImageNet-only run apart).
    """
    if hparams.get("stage") == "pretrain":
        return True
    init = hparams.get("init")
    return init is not None and str(init) not in FRESH_INITS


def meta_from_hparams(hparams: Mapping[str, Any], source: str = "checkpoint") -> CheckpointMeta:
    """The one reader: :class:`CheckpointMeta` from a ``hyper_parameters`` mapping, old or new."""
    hparams = dict(hparams or {})
    config = hparams.get("net_config")
    if not config:
        if hparams.get("enhancer"):
            raise UserError(f"{source} is an enhancer checkpoint (stage=enhance), not a quality model; "
                            f"apply it with `iqa enhance`, or pass a fine-tuned checkpoint")
        raise UserError(f"{source} is not an attiqa checkpoint (no net_config / state_dict)")
    low, high = hparams.get("mos_range") or (0.0, 1.0)
    size = hparams.get("image_size")
    trained = hparams.get("attributes_trained")
    return CheckpointMeta(
        net_config=dict(config),
        stage=str(hparams.get("stage") or "finetune"),
        init=None if hparams.get("init") is None else str(hparams["init"]),
        attributes_trained=_attributes_trained(hparams) if trained is None else bool(trained),
        data=None if hparams.get("data") is None else str(hparams["data"]),
        image_size=None if size is None else int(size),
        view=dict(hparams["view"]) if hparams.get("view") else None,
        mos_range=(float(low), float(high)),
        higher_is_better=bool(hparams.get("higher_is_better", True)),
        split=hparams.get("split"),
        data_config=hparams.get("data_config"),
        train_images=hparams.get("train_images"),
        head=hparams.get("head"),
        loss_name=None if hparams.get("loss_name") is None else str(hparams["loss_name"]),
        attribute_calibration=hparams.get("attribute_calibration"),
        extra={k: v for k, v in hparams.items() if k not in KEYS},
    )


def read_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    import torch

    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except FileNotFoundError:
        raise UserError(f"checkpoint not found: {path}") from None
    except IsADirectoryError:
        raise UserError(f"checkpoint is a directory, not a file: {path}") from None
    except Exception as exc:  # torch.load fails in many ways on a file that is not a checkpoint
        raise UserError(f"not a readable checkpoint: {path} ({type(exc).__name__})") from exc
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise UserError(f"{path} is not an attiqa checkpoint (no net_config / state_dict)")
    return ckpt


def read_meta(path: str | os.PathLike) -> CheckpointMeta:
    """The metadata of the checkpoint at ``path`` (one-line :class:`UserError` if it is not one)."""
    return meta_from_hparams(read_checkpoint(path).get("hyper_parameters") or {}, str(path))


__all__ = ["KEYS", "CheckpointMeta", "meta_from_hparams", "read_checkpoint", "read_meta", "stamp", "stamp_run"]
