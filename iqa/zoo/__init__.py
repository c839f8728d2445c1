"""Shipped models: the quality models that come inside the package, and the default one.

Each shipped model is a folder under ``iqa/resources/models/<name>/`` holding

* the network weights in float16 with the checkpoint metadata the loader needs
  (a minimal attiqa checkpoint: no optimiser or trainer state), read by
  :func:`iqa.models.load_net` like any other checkpoint;
* ``manifest.json``: name, version, one-line summary, the weights file's name,
  sha256 and size, the model card's file name, the source commit, and the
  scores the model gives on a small fixed set of images (see
  :mod:`iqa.zoo.export`);
* the model card (Markdown).

``registry.json`` beside the folders names the default model. ``iqa score``,
``iqa rank`` and ``iqa.load()`` use it when no checkpoint is given (and
``$ATTIQA_CKPT`` is not set). This module only reads: writing a shipped model
is :func:`iqa.zoo.export.export_model` (``iqa models export``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from iqa.errors import UserError, suggest

#: Where the shipped models live: package data, found through importlib.resources.
ROOT = Path(str(files("iqa").joinpath("resources", "models")))
#: The file in :data:`ROOT` naming the default model.
REGISTRY = "registry.json"
MANIFEST = "manifest.json"

#: Weights files whose hash was checked in this process: (path, size, mtime).
_verified: set[tuple[str, int, int]] = set()


@dataclass(frozen=True)
class ShippedModel:
    """One shipped model, as its manifest describes it."""

    name: str
    directory: Path
    manifest: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", "0"))

    @property
    def summary(self) -> str:
        return str(self.manifest.get("summary", ""))

    @property
    def weights(self) -> Path:
        """The weights file (not checked; :func:`path` checks its hash)."""
        return self.directory / self.manifest["weights"]["file"]

    @property
    def sha256(self) -> str:
        return str(self.manifest["weights"]["sha256"])

    @property
    def size(self) -> int:
        """Size of the weights file in bytes, as recorded."""
        return int(self.manifest["weights"]["bytes"])

    @property
    def card(self) -> Path:
        return self.directory / self.manifest["card"]

    @property
    def is_default(self) -> bool:
        return self.name == default_name(self.directory.parent)

    def notice(self) -> str:
        """The line scoring prints when it falls back to this model."""
        return f"using the shipped model {self.name} v{self.version} (iqa models show {self.name})"


def read_manifest(directory: Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{directory} is not a shipped model (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is damaged ({type(exc).__name__}); reinstall attiqa") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("weights"), dict) or "file" not in manifest["weights"]:
        raise UserError(f"{path} is damaged (no weights entry); reinstall attiqa")
    return manifest


def available(root: Path | None = None) -> list[ShippedModel]:
    """The shipped models, sorted by name (each folder of ``root`` with a manifest)."""
    root = Path(root or ROOT)
    if not root.is_dir():
        return []
    return [ShippedModel(d.name, d, read_manifest(d)) for d in sorted(root.iterdir()) if (d / MANIFEST).is_file()]


def names(root: Path | None = None) -> list[str]:
    return [m.name for m in available(root)]


def default_name(root: Path | None = None) -> str:
    """The name ``registry.json`` gives as the default (no check that it is shipped)."""
    path = Path(root or ROOT) / REGISTRY
    try:
        return str(json.loads(path.read_text())["default"])
    except FileNotFoundError:
        raise UserError(f"no shipped models: {path} is missing; reinstall attiqa") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path} is damaged ({type(exc).__name__}); reinstall attiqa") from exc


def get(name: str | None = None, root: Path | None = None) -> ShippedModel:
    """The shipped model ``name`` (None: the default); an unknown name is a one-line error listing the shipped ones."""
    root = Path(root or ROOT)
    wanted = default_name(root) if name is None else str(name)
    models = {m.name: m for m in available(root)}
    if wanted not in models:
        shipped = ", ".join(models) or "none"
        what = "the default shipped model" if name is None else "shipped model"
        raise UserError(f"unknown {what} '{wanted}'{suggest(wanted, models)}; shipped: {shipped}")
    return models[wanted]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check(model: ShippedModel) -> Path:
    """The model's weights file after checking its size and sha256 against the manifest (once per process and file)."""
    weights = model.weights
    try:
        stat = weights.stat()
    except FileNotFoundError:
        raise UserError(f"the shipped model file is missing: {weights}; reinstall attiqa") from None
    key = (str(weights), stat.st_size, stat.st_mtime_ns)
    if key in _verified:
        return weights
    if stat.st_size != model.size or sha256(weights) != model.sha256:
        raise UserError(f"the shipped model file is damaged: {weights} does not match the sha256 in its manifest; reinstall attiqa")
    _verified.add(key)
    return weights


def path(name: str | None = None, root: Path | None = None) -> Path:
    """The weights file of the shipped model ``name`` (None: the default), its hash checked on first use."""
    return check(get(name, root))


def card(name: str | None = None, root: Path | None = None) -> str:
    """The model card of ``name`` (None: the default), as Markdown."""
    model = get(name, root)
    try:
        return model.card.read_text()
    except FileNotFoundError:
        raise UserError(f"the model card of {model.name} is missing: {model.card}; reinstall attiqa") from None


#: Read when no checkpoint is given: a checkpoint file or a shipped model's name.
CKPT_ENV = "ATTIQA_CKPT"


def resolve_checkpoint(ckpt: str | os.PathLike | None = None) -> str:
    """The checkpoint file to load: ``ckpt`` as a file, else as a shipped model's name; None: :func:`default_checkpoint`."""
    if ckpt is None or str(ckpt) == "":
        return default_checkpoint()
    if Path(ckpt).expanduser().is_file():
        return str(Path(ckpt).expanduser())
    shipped = names()
    if str(ckpt) in shipped:
        return str(path(str(ckpt)))
    if Path(ckpt).is_dir():
        raise UserError(f"checkpoint is a directory, not a file: {ckpt}")
    raise UserError(f"checkpoint not found: {ckpt} (neither a file nor a shipped model; shipped: {', '.join(shipped) or 'none'})")


def default_checkpoint() -> str:
    """The checkpoint used when none is given: ``$ATTIQA_CKPT`` (a file or a shipped name), else the shipped default model.

    Falling back to the shipped model says so in one line on stderr.
    """
    if os.environ.get(CKPT_ENV):
        return resolve_checkpoint(os.environ[CKPT_ENV])
    model = get()
    weights = check(model)
    print(model.notice(), file=sys.stderr, flush=True)
    return str(weights)


__all__ = ["CKPT_ENV", "MANIFEST", "REGISTRY", "ROOT", "ShippedModel", "available", "card", "check", "default_checkpoint",
           "default_name", "get", "names", "path", "read_manifest", "resolve_checkpoint", "sha256"]
