"""Apply a trained enhancer to image files: :func:`enhance` for files and folders, :class:`Enhancer` for one model.

Files and folders (searched recursively) are enhanced in batches of images of the same size, at their
full size, and written under the output folder with their relative paths, in their original format
(JPEG stays JPEG, PNG stays PNG, ...), size and mode (greyscale stays greyscale; an alpha channel is
carried over unchanged). Every input is decoded by the library's reader (:mod:`iqa.data.images`) and
enhanced in float: a 16-bit greyscale PNG, TIFF or PGM comes out with 16 bits, its precision kept; other
inputs come out with 8 bits per channel. Files that cannot be read are skipped with their reason (and
listed in ``enhance_errors.csv`` in the output folder); they never stop the run. Every output is written
atomically, so an interrupted run leaves no half-written image.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from iqa.data.images import SkipImage, bit_depth, folder_files, open_image, rgb_float
from iqa.errors import UserError

#: Save options per format, so that re-encoding loses as little as it can.
SAVE_OPTIONS = {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"quality": 95}, "PNG": {"compress_level": 6}}
#: Formats a 16-bit input is written back to with 16 bits per sample (other formats get 8).
SIXTEEN_BIT_FORMATS = ("PNG", "TIFF", "PPM")
#: The list of skipped inputs and their reasons, written in the output folder when there are any.
ERRORS_CSV = "enhance_errors.csv"
NON_FINITE = "the enhancer produced non-finite values"


@dataclass
class EnhanceReport:
    """What :func:`enhance` did: ``written`` outputs, ``skipped`` inputs with their reasons, and how long it took."""

    out: Path
    written: list[Path] = field(default_factory=list)
    #: input file -> reason (unreadable, not an image, non-finite output, output not writable, ...)
    skipped: dict[str, str] = field(default_factory=dict)
    #: outputs that already existed and were left alone (``overwrite=False``)
    existing: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    #: ``out/enhance_errors.csv`` when inputs were skipped, else None
    errors_csv: Path | None = None

    @property
    def ok(self) -> bool:
        """Something was written, or nothing failed."""
        return bool(self.written) or not self.skipped


def plan(paths: Sequence[str | os.PathLike]) -> list[tuple[str, Path]]:
    """``(input file, relative output path)`` for every file the paths name (folders recursively)."""
    found: list[tuple[str, Path]] = []
    for item in paths:
        root = Path(os.path.expanduser(item))
        if root.is_dir():
            found += [(f, Path(f).relative_to(root)) for f in folder_files(root)]
        else:
            found.append((str(root), Path(root.name)))
    seen: dict[Path, str] = {}
    for source, rel in found:
        if rel in seen and seen[rel] != source:
            raise UserError(f"two inputs would be written to the same file {rel}: {seen[rel]} and {source}; enhance them separately")
        seen[rel] = source
    return list(dict.fromkeys(found))


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, Image.Image]:
    """``(float32 [H, W, 3] in 0..1, decoded PIL image)`` of a file, or raises :class:`SkipImage` with the reason.

    Any size is accepted; 16-bit greyscale keeps its 16-bit precision; the colours of an image with alpha
    are taken as stored (the alpha channel is carried over by :func:`encode_image`).
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise SkipImage("not found") from None
    except OSError as exc:
        raise SkipImage(f"unreadable: {exc.strerror or exc}") from None
    image = open_image(data, min_side=1)
    return rgb_float(image, composite=False), image


def encode_image(pixels: np.ndarray, original: Image.Image, suffix: str = ".png") -> bytes:
    """Enhanced ``float [H, W, 3]`` (0..1) encoded like ``original``: its format, mode, alpha, ICC profile, EXIF and dpi."""
    pixels = np.clip(np.nan_to_num(np.asarray(pixels, dtype=np.float64)), 0.0, 1.0)
    mode = original.mode
    fmt = original.format or Image.registered_extensions().get(suffix.lower(), "PNG")
    if bit_depth(original) == 16 and fmt in SIXTEEN_BIT_FORMATS:
        luma = pixels @ np.array([0.299, 0.587, 0.114])  # the weights of Pillow's convert("L"), in float
        out = Image.fromarray(np.ascontiguousarray(np.round(luma * 65535.0).astype("<u2")))  # mode I;16
    else:
        out = Image.fromarray(np.ascontiguousarray(np.round(pixels * 255.0).astype(np.uint8)), "RGB")
        if mode.startswith("I") or mode in ("L", "F", "1"):
            out = out.convert("L")
        elif mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in original.info):
            alpha = original.convert("RGBA").getchannel("A")
            out = out.convert("LA" if mode == "LA" else "RGBA")
            out.putalpha(alpha)
        if fmt == "JPEG" and out.mode not in ("RGB", "L"):
            out = out.convert("RGB")
    options = dict(SAVE_OPTIONS.get(fmt, {}))
    for key in ("icc_profile", "exif", "dpi"):
        if original.info.get(key) is not None:
            options[key] = original.info[key]
    buffer = io.BytesIO()
    try:
        out.save(buffer, format=fmt, **options)
    except (OSError, ValueError, KeyError):  # a format Pillow reads but cannot write: keep the pixels as PNG
        buffer = io.BytesIO()
        out.save(buffer, format="PNG")
    return buffer.getvalue()


def write_image(pixels: np.ndarray, original: Image.Image, target: str | os.PathLike) -> Path:
    """:func:`encode_image` written atomically to ``target`` (folders created), as an ordinary file."""
    from iqa.io import atomic_write_bytes

    target = Path(target)
    atomic_write_bytes(target, encode_image(pixels, original, target.suffix))
    os.chmod(target, 0o666 & ~_umask())  # the temporary file was private; a written image is an ordinary file
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Enhancer:
    """An enhancer loaded once, on a device: enhance tensors, arrays, files or lists of files.

    ``curve_pixels`` (zero_dce): estimate the curves on a copy of at most this many pixels and upsample
    them (the curves are smooth; 0 or None: at full size).
    """

    def __init__(self, model: torch.nn.Module, *, device: str | torch.device | None = None,
                 curve_pixels: int | None = 1_000_000, name: str = "enhancer") -> None:
        if device is None or str(device) == "auto":
            from iqa.inference import default_device

            device = default_device()
        self.device = torch.device(device)
        if hasattr(model, "max_curve_pixels"):
            model.max_curve_pixels = max(0, int(curve_pixels or 0)) or None
        self.model = model.to(self.device).eval()
        self.arch = str(getattr(model, "config", {}).get("arch", type(model).__name__))
        self.name = name

    @classmethod
    def from_checkpoint(cls, ckpt: str | os.PathLike, *, device: str | torch.device | None = None,
                        curve_pixels: int | None = 1_000_000) -> Enhancer:
        """The enhancer a ``train.py stage=enhance`` checkpoint holds."""
        from iqa.enhancement.models import read_enhancer_checkpoint

        if not Path(ckpt).is_file():
            raise UserError(f"checkpoint not found: {ckpt}")
        model, _ = read_enhancer_checkpoint(ckpt)
        return cls(model, device=device, curve_pixels=curve_pixels, name=str(ckpt))

    @torch.no_grad()
    def enhance_tensor(self, images: torch.Tensor) -> torch.Tensor:
        """``float [B, 3, H, W]`` in 0..1 -> enhanced ``float32 [B, 3, H, W]`` on the CPU."""
        autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda"
                    else torch.autocast("cpu", enabled=False))
        with autocast:
            return self.model(images.float().to(self.device)).float().cpu()

    def enhance_array(self, pixels: np.ndarray) -> np.ndarray:
        """``[H, W, 3]`` or ``[H, W]`` (uint8, uint16, or float in 0..1) -> enhanced ``float32 [H, W, 3]`` in 0..1."""
        array = np.asarray(pixels)
        scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(array.dtype, 1.0)
        array = array.astype(np.float32) / np.float32(scale)
        if array.ndim == 2:
            array = np.repeat(array[..., None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"expected an [H, W, 3] or [H, W] image, got shape {tuple(np.shape(pixels))}")
        tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]
        return self.enhance_tensor(tensor)[0].permute(1, 2, 0).numpy()

    def enhance_file(self, source: str | os.PathLike, target: str | os.PathLike) -> Path:
        """Enhance one file into ``target`` (same format, mode and bit depth); raises :class:`SkipImage` if unreadable."""
        pixels, original = read_image(source)
        output = self.enhance_array(pixels)
        if not np.isfinite(output).all():
            raise SkipImage(NON_FINITE)
        return write_image(output, original, target)

    def enhance_files(self, jobs: Iterable[tuple[str, str | os.PathLike]], *, batch_size: int = 8,
                      max_pixels: int = 16_000_000, progress: bool = False) -> tuple[list[Path], dict[str, str]]:
        """Enhance ``(input, output)`` pairs in batches of images of the same size.

        A batch holds at most ``batch_size`` images and (when they are large, fewer) ``max_pixels`` pixels.
        Returns ``(written outputs, {input: reason} of the skipped ones)``: an input that cannot be read,
        or whose output cannot be written (a full disk, a folder in the way), is skipped, never raised.
        """
        from tqdm.auto import tqdm

        from iqa.data.records import probe_size

        if int(batch_size) < 1:
            raise UserError(f"batch_size must be >= 1, got {batch_size}")
        groups: dict[tuple[int, int] | None, list[tuple[str, Path]]] = {}
        total = 0
        for source, target in jobs:
            groups.setdefault(probe_size(str(source)), []).append((str(source), Path(target)))
            total += 1
        written: list[Path] = []
        skipped: dict[str, str] = {}
        with tqdm(total=total, unit="img", desc="enhancing", disable=not progress, dynamic_ncols=True, file=sys.stderr) as bar:
            for size, members in groups.items():
                step = max(1, min(int(batch_size), int(max_pixels) // (size[0] * size[1]))) if size else 1
                for start in range(0, len(members), step):
                    decoded: dict[tuple[int, ...], list[tuple[str, Path, np.ndarray, Image.Image]]] = {}
                    for source, target in members[start : start + step]:
                        try:
                            pixels, original = read_image(source)
                        except SkipImage as exc:
                            skipped[source] = str(exc)
                            continue
                        # keyed by the decoded shape: a header that lied about the size runs apart
                        decoded.setdefault(pixels.shape, []).append((source, target, pixels, original))
                    for batch in decoded.values():
                        stacked = np.stack([pixels.transpose(2, 0, 1) for _, _, pixels, _ in batch])
                        outputs = self.enhance_tensor(torch.from_numpy(np.ascontiguousarray(stacked)))
                        for (source, target, _, original), output in zip(batch, outputs):
                            if not torch.isfinite(output).all():
                                skipped[source] = NON_FINITE
                                continue
                            try:
                                written.append(write_image(output.permute(1, 2, 0).numpy(), original, target))
                            except OSError as exc:  # atomic: nothing is left under the target's name
                                skipped[source] = f"not written to {target}: {exc.strerror or exc}"
                    bar.update(len(members[start : start + step]))
        return written, skipped


def enhance(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    ckpt: str | os.PathLike | Enhancer,
    out: str | os.PathLike,
    *,
    device: str | torch.device | None = None,
    batch_size: int = 8,
    max_pixels: int = 16_000_000,
    curve_pixels: int | None = 1_000_000,
    overwrite: bool = False,
    progress: bool = True,
) -> EnhanceReport:
    """Enhance image files and folders (recursively) with a trained enhancer, into ``out`` with their relative paths.

    ``ckpt``: a ``train.py stage=enhance`` checkpoint, or an :class:`Enhancer` already loaded (then
    ``device`` and ``curve_pixels`` are its own). ``device``: None or ``"auto"`` picks CUDA when there is
    one. Outputs already in ``out`` are left alone unless ``overwrite``. ``progress``: a line and a
    progress bar on stderr. Unreadable inputs are skipped with their reasons (in the report and in
    ``out/enhance_errors.csv``); a wrong checkpoint or path raises :class:`~iqa.errors.UserError`.
    """
    from iqa.io import atomic_write_text

    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if int(batch_size) < 1:
        raise UserError(f"--batch-size must be >= 1, got {batch_size}")
    if not isinstance(ckpt, Enhancer) and not Path(ckpt).is_file():
        raise UserError(f"checkpoint not found: {ckpt}")
    missing = [str(p) for p in paths if not Path(os.path.expanduser(p)).exists()]
    if missing:
        raise UserError(f"input path{'s' if len(missing) > 1 else ''} not found: {', '.join(missing)}")
    out_dir = Path(out)
    for item in paths:
        if Path(item).is_dir() and out_dir.resolve() == Path(item).resolve():
            raise UserError(f"--out {out} is an input folder: the originals would be overwritten; choose another folder")
    jobs = plan(paths)
    if not jobs:
        raise UserError(f"no files found in {' '.join(str(p) for p in paths)}")
    enhancer = ckpt if isinstance(ckpt, Enhancer) else Enhancer.from_checkpoint(ckpt, device=device, curve_pixels=curve_pixels)
    report = EnhanceReport(out=out_dir)
    todo: list[tuple[str, Path]] = []
    for source, rel in jobs:
        target = out_dir / rel
        if target.exists() and not overwrite:
            report.existing.append(target)
        else:
            todo.append((source, target))
    if progress:
        print(f"enhancing {len(todo)} files with {enhancer.name} ({enhancer.arch}) on {enhancer.device}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    report.written, report.skipped = enhancer.enhance_files(todo, batch_size=batch_size, max_pixels=max_pixels, progress=progress)
    report.seconds = time.perf_counter() - started
    if report.skipped:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["path", "error"])
        writer.writerows(sorted(report.skipped.items()))
        report.errors_csv = out_dir / ERRORS_CSV
        atomic_write_text(report.errors_csv, buffer.getvalue())
    return report


__all__ = ["ERRORS_CSV", "EnhanceReport", "Enhancer", "encode_image", "enhance", "plan", "read_image", "write_image"]
