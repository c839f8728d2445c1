"""``iqa enhance PATH... --ckpt enhancer.ckpt --out OUTDIR``: apply a trained enhancer to images.

Files and folders (searched recursively) are enhanced in batches of images of the same size, at their
full size, and written under ``OUTDIR`` with their relative paths, in their original format (JPEG stays
JPEG, PNG stays PNG, ...), size and mode (greyscale stays greyscale; an alpha channel is carried over
unchanged). Files that cannot be read are listed at the end and in ``OUTDIR/enhance_errors.csv``; they
never stop the run. The checkpoint is one ``train.py stage=enhance`` wrote.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from iqa.errors import UserError

#: Save options per format, so that re-encoding loses as little as it can.
SAVE_OPTIONS = {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"quality": 95}, "PNG": {"compress_level": 6}}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="iqa enhance", description="Enhance images (files or folders, recursive) with a trained "
                                "enhancer (train.py stage=enhance); writes them in their original size and format.")
    p.add_argument("paths", nargs="+", help="image files and/or folders (searched recursively)")
    p.add_argument("--ckpt", required=True, help="enhancer checkpoint (<run dir>/checkpoints/last.ckpt or best.ckpt of stage=enhance)")
    p.add_argument("--out", required=True, help="output folder (relative paths below the input folders are kept)")
    p.add_argument("--batch-size", type=int, default=8, help="images of the same size per forward pass (default: 8)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    p.add_argument("--max-pixels", type=int, default=16_000_000,
                   help="pixels per forward pass: fewer images go together when they are large (default: 16000000)")
    p.add_argument("--curve-pixels", type=int, default=1_000_000,
                   help="zero_dce: estimate the curves on a copy of at most this many pixels and upsample them "
                        "(the curves are smooth; 0: at full size; default: 1000000)")
    p.add_argument("--overwrite", action="store_true", help="replace files that already exist in --out")
    return p


def plan(paths: Sequence[str]) -> list[tuple[str, Path]]:
    """``(input file, relative output path)`` for every file the paths name (folders recursively)."""
    from iqa.data.images import folder_files

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


def _read(path: str):
    """``(RGB float tensor [3, H, W], PIL image)`` or raises OSError / SkipImage with the reason."""
    import numpy as np
    import torch
    from PIL import Image

    from iqa.data.images import SkipImage

    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError:
        raise SkipImage("not found") from None
    except (OSError, Image.DecompressionBombError, ValueError) as exc:
        raise SkipImage("not an image" if "cannot identify" in str(exc) else f"unreadable: {exc}") from None
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(rgb.transpose(2, 0, 1).copy()), image


def _save(tensor, original, target: Path) -> None:
    import numpy as np
    from PIL import Image

    from iqa.io import atomic_write_bytes

    array = (tensor.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy())
    out = Image.fromarray(np.ascontiguousarray(array), "RGB")
    mode = original.mode
    if mode in ("L", "I", "I;16", "F", "1"):
        out = out.convert("L")
    elif mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in original.info):
        alpha = original.convert("RGBA").getchannel("A")
        out = out.convert("LA" if mode == "LA" else "RGBA")
        out.putalpha(alpha)
    fmt = original.format or Image.registered_extensions().get(target.suffix.lower(), "PNG")
    if fmt == "JPEG" and out.mode not in ("RGB", "L"):
        out = out.convert("RGB")
    options = dict(SAVE_OPTIONS.get(fmt, {}))
    for key in ("icc_profile", "exif", "dpi"):
        if original.info.get(key) is not None:
            options[key] = original.info[key]
    buffer = io.BytesIO()
    try:
        out.save(buffer, format=fmt, **options)
    except (OSError, ValueError, KeyError):  # a format PIL reads but cannot write: keep the pixels as PNG
        buffer = io.BytesIO()
        out.save(buffer, format="PNG")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, buffer.getvalue())
    os.chmod(target, 0o666 & ~_umask())  # the temporary file was private; a written image is an ordinary file


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def run(args: argparse.Namespace) -> int:
    import torch

    from iqa.data.images import SkipImage
    from iqa.data.records import probe_size
    from iqa.enhancement.models import read_enhancer_checkpoint
    from iqa.inference import default_device

    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    if not Path(args.ckpt).is_file():
        raise UserError(f"checkpoint not found: {args.ckpt}")
    missing = [p for p in args.paths if not Path(os.path.expanduser(p)).exists()]
    if missing:
        raise UserError(f"input path{'s' if len(missing) > 1 else ''} not found: {', '.join(missing)}")
    out_dir = Path(args.out)
    for item in args.paths:
        if Path(item).is_dir() and out_dir.resolve() == Path(item).resolve():
            raise UserError(f"--out {args.out} is an input folder: the originals would be overwritten; choose another folder")
    enhancer, hparams = read_enhancer_checkpoint(args.ckpt)
    if hasattr(enhancer, "max_curve_pixels"):
        enhancer.max_curve_pixels = max(0, int(args.curve_pixels)) or None
    device = torch.device(args.device) if args.device != "auto" else default_device()
    enhancer = enhancer.to(device)
    jobs = plan(args.paths)
    if not jobs:
        raise UserError(f"no files found in {' '.join(args.paths)}")
    errors: dict[str, str] = {}
    skipped_existing = 0
    groups: dict[tuple[int, int] | None, list[tuple[str, Path]]] = {}
    for source, rel in jobs:
        target = out_dir / rel
        if target.exists() and not args.overwrite:
            skipped_existing += 1
            continue
        groups.setdefault(probe_size(source), []).append((source, target))
    print(f"enhancing {sum(len(g) for g in groups.values())} files with {args.ckpt} ({hparams['enhancer']['arch']}) on {device}",
          file=sys.stderr, flush=True)
    started, done = time.perf_counter(), 0
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    for size, members in groups.items():
        step = max(1, min(args.batch_size, args.max_pixels // (size[0] * size[1]))) if size else 1
        for start in range(0, len(members), step):
            batch, originals, targets = [], [], []
            for source, target in members[start : start + step]:
                try:
                    tensor, original = _read(source)
                except SkipImage as exc:
                    errors[source] = str(exc)
                    continue
                except OSError as exc:
                    errors[source] = f"unreadable: {exc.strerror or exc}"
                    continue
                if batch and tensor.shape != batch[0].shape:  # a header that lied about the size: run it alone
                    with torch.no_grad(), autocast:
                        _save(enhancer(tensor[None].to(device)).float()[0], original, target)
                    done += 1
                    continue
                batch.append(tensor)
                originals.append(original)
                targets.append(target)
            if not batch:
                continue
            with torch.no_grad(), autocast:
                outputs = enhancer(torch.stack(batch).to(device)).float()
            if not torch.isfinite(outputs).all():
                for target in targets:
                    errors[str(target)] = "the enhancer produced non-finite values"
                continue
            for output, original, target in zip(outputs, originals, targets):
                _save(output, original, target)
                done += 1
    seconds = time.perf_counter() - started
    if errors:
        out_dir.mkdir(parents=True, exist_ok=True)
        with open(out_dir / "enhance_errors.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "error"])
            writer.writerows(sorted(errors.items()))
        for path, reason in sorted(errors.items()):
            print(f"  unreadable: {path}: {reason}", file=sys.stderr)
    note = f", {skipped_existing} already in {out_dir} (--overwrite replaces them)" if skipped_existing else ""
    print(f"enhanced {done} images in {seconds:.1f}s -> {out_dir} ({len(errors)} unreadable"
          f"{', listed in ' + str(out_dir / 'enhance_errors.csv') if errors else ''}{note})")
    return 0 if done or not errors else 1


def main(argv: Sequence[str] | None = None) -> int:
    from iqa.errors import one_line_errors

    args = parser().parse_args(argv)
    return one_line_errors(run)(args)


if __name__ == "__main__":
    sys.exit(main())
