"""Robust image decoding shared by labelling, training, evaluation and scoring.

Every path that turns bytes into pixels goes through :func:`decode_rgb`, so
that grey, CMYK, palette, RGBA and 16-bit images are handled the same way
everywhere, and so that a bad file becomes a :class:`SkipImage` with a reason
instead of a crash in the middle of a run.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import torch
from PIL import Image, ImageFile

# Images larger than this are skipped with a reason rather than risking memory.
# 50-megapixel photos are well inside it; decompression bombs are not.
MAX_PIXELS = 400_000_000
MIN_SIDE = 32
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".jfif")



def folder_files(root: str | os.PathLike) -> list[str]:
    """Every non-hidden file below ``root``: the inputs a folder holds, for labelling and scoring alike.

    The one rule for both: a file is judged by its content, not its name.
    Every file is tried, so a PNG saved without an extension is still used,
    and a file that is not an image (a ``labels.csv``, say) is reported with
    the reason ``not an image``: in the label manifest's skip list, or in the
    score CSV's ``error`` column. Nothing in the folder goes unaccounted for.
    Folders are walked in sorted order, files sorted within each folder, and
    hidden files and folders are skipped.
    """
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(os.path.join(dirpath, name) for name in sorted(filenames) if not name.startswith("."))
    return found


Image.MAX_IMAGE_PIXELS = None  # the explicit MAX_PIXELS check below replaces PIL's warning-then-error
ImageFile.LOAD_TRUNCATED_IMAGES = False  # truncated files are reported, not silently padded with grey


class SkipImage(Exception):
    """Raised for an input that cannot be used; ``str(exc)`` is the reason recorded in manifests."""


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I", "I;16N"):
        # 16-bit (or 32-bit int) grey: scale by the type's range; PIL's convert("L") would clip at 255.
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
        grey = np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "F":
        array = np.asarray(image, dtype=np.float64)
        grey = np.clip(array * (255.0 if array.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        # Transparent pixels are composited on white, which is how viewers show them.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def decode_rgb(data: bytes, draft_size: int | None = None) -> Image.Image:
    """Decode image bytes to an RGB PIL image or raise :class:`SkipImage`.

    ``draft_size``: for JPEG, let libjpeg decode at the smallest power-of-two
    reduction whose short side is still >= ``draft_size``; a 4000x3000 photo
    bound for 224 px then decodes about 8x faster.
    """
    return _to_rgb(open_image(data, draft_size))


def open_image(data: bytes, draft_size: int | None = None, min_side: int = MIN_SIDE) -> Image.Image:
    """Decode image bytes to a loaded PIL image in its own mode (first frame), or raise :class:`SkipImage`.

    The checks and reasons of :func:`decode_rgb` (which is this plus the conversion to 8-bit RGB);
    ``min_side``: the shortest side accepted (1 accepts any size).
    """
    if not data:
        raise SkipImage("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise SkipImage(f"too large: {width}x{height} exceeds {MAX_PIXELS} pixels")
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)  # animated GIF / multipage TIFF: first frame
            if draft_size and image.format == "JPEG":
                scale = min(width, height) / draft_size
                if scale >= 2:
                    image.draft("RGB", (max(1, int(width / scale)), max(1, int(height / scale))))
            image.load()
    except SkipImage:
        raise
    except Image.DecompressionBombError as exc:
        raise SkipImage(f"too large: {exc}") from None
    except (OSError, ValueError, SyntaxError, Image.UnidentifiedImageError, EOFError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, Image.UnidentifiedImageError):
            message = "not an image"
        elif "truncated" in message.lower():
            message = f"truncated: {message}"
        raise SkipImage(f"unreadable: {message}") from None
    if min(image.size) < min_side:
        raise SkipImage(f"too small: {image.size[0]}x{image.size[1]} (min side {min_side} px)")
    return image


def bit_depth(image: Image.Image) -> int:
    """Bits per sample of a decoded image: 16 for 16-bit grey (``I;16*``, or ``I`` holding values above 255), else 8.

    Pillow decodes 16-bit greyscale PNG and TIFF to ``I;16``; 16-bit RGB(A) files it reduces to 8 bits
    per channel when it opens them, so they count as 8-bit here.
    """
    if image.mode.startswith("I;16"):
        return 16
    if image.mode == "I":
        return 16 if image.getextrema()[1] > 255 else 8
    return 8


def rgb_float(image: Image.Image, composite: bool = True) -> np.ndarray:
    """A decoded image as ``float32 [H, W, 3]`` in 0..1 at its full precision (16-bit grey is not rounded to 8 bits).

    Modes convert as in :func:`decode_rgb`, except that 16-bit samples are divided by 65535 instead of
    being quantised to 256 levels. ``composite=False``: the colour channels of an image with alpha as
    they are stored, without compositing on white (for a caller that carries the alpha channel over).
    """
    mode = image.mode
    if mode.startswith("I"):
        grey = np.asarray(image, dtype=np.float64) / (65535.0 if bit_depth(image) == 16 else 255.0)
        return np.repeat(np.clip(grey, 0.0, 1.0)[..., None], 3, axis=2).astype(np.float32)
    if not composite and (mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info)):
        image = image.convert("RGBA").convert("RGB")
    else:
        image = _to_rgb(image)
    return np.asarray(image, dtype=np.float32) / 255.0


def resize_short_side(image: Image.Image, size: int) -> Image.Image:
    """Resize so that the short side is ``size`` (bicubic, antialiased); no-op when it already is."""
    width, height = image.size
    if min(width, height) == size:
        return image
    scale = size / min(width, height)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    return image.resize(new, Image.BICUBIC, reducing_gap=3.0)


def center_crop(image: Image.Image, size: int) -> Image.Image:
    width, height = image.size
    left, top = (width - size) // 2, (height - size) // 2
    return image.crop((left, top, left + size, top + size))


def to_uint8_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> ``uint8 [3, H, W]``; normalisation happens later, on the device."""
    array = np.asarray(image, dtype=np.uint8)
    # Transposed by numpy, not torch: a torch copy runs on the intra-op thread pool, and on a
    # busy machine waiting for those threads cost a decoding process up to 17x its speed.
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def load_square(data: bytes, size: int) -> torch.Tensor:
    """Decode, resize the short side to ``size`` and centre-crop: the teacher's input."""
    image = decode_rgb(data, draft_size=size)
    return to_uint8_tensor(center_crop(resize_short_side(image, size), size))


# ---------------------------------------------------------------- batched decode on the device
#: JPEGs above this many pixels are decoded on the CPU in draft mode instead: libjpeg's
#: DCT-domain downscaling makes a 12-megapixel photo cheap there, while the device would
#: decode it at full size (36 MB per image, times the batch).
DEVICE_DECODE_MAX_PIXELS = 12_000_000

_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"


def device_decodable_jpeg(data: bytes, max_pixels: int = DEVICE_DECODE_MAX_PIXELS) -> bool:
    """Whether ``data`` can go to the batched device decoder as is; reads the header only.

    True only for complete-looking baseline/progressive JPEGs in RGB or grey with a
    usable size. Everything else (CMYK JPEG, truncated files, other formats, tiny or huge
    images) takes the CPU path, which also produces the skip reasons.
    """
    if len(data) < 4 or not data.startswith(_JPEG_SOI) or not data.rstrip(b"\x00").endswith(_JPEG_EOI):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data))  # parses markers up to the scan; no pixel decoding
            width, height = image.size
            mode, fmt = image.mode, image.format
    except Exception:  # noqa: BLE001 - any header problem: let the CPU path decide and explain
        return False
    return fmt == "JPEG" and mode in ("RGB", "L") and min(width, height) >= MIN_SIDE and width * height <= max_pixels


def square_crop_resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Centre square of ``uint8 [N,3,H,W]`` resized to ``size`` (bicubic, antialiased) -> ``uint8 [N,3,size,size]``.

    The tensor twin of ``center_crop(resize_short_side(...))``: cropping the centre
    square first and resizing only that gives the same framing while computing
    fewer pixels. It runs on whatever device ``images`` lives on.
    """
    height, width = images.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = images[..., top : top + side, left : left + side]
    if side == size:
        return square.contiguous()
    resized = torch.nn.functional.interpolate(
        square.float(), size=(size, size), mode="bicubic", antialias=True, align_corners=False
    )
    return resized.round_().clamp_(0, 255).to(torch.uint8)
