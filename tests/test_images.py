"""Decoding: every odd image format becomes RGB or a SkipImage with a reason, never a crash."""

from __future__ import annotations

import io

import numpy as np
import pytest
import skimage.data
from PIL import Image

from iqa.data.images import MIN_SIDE, SkipImage, decode_rgb, load_square

pytestmark = pytest.mark.unit


def encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.fromarray(skimage.data.astronaut()).resize((128, 128))


def test_rgb_jpeg_and_png(photo):
    for fmt in ("JPEG", "PNG", "BMP", "WEBP", "TIFF"):
        out = decode_rgb(encode(photo, fmt))
        assert out.mode == "RGB" and out.size == (128, 128)


def test_grey_cmyk_palette_rgba(photo):
    assert np.asarray(decode_rgb(encode(photo.convert("L"), "PNG"))).shape == (128, 128, 3)
    cmyk = decode_rgb(encode(photo.convert("CMYK"), "JPEG"))
    assert cmyk.mode == "RGB"
    assert np.abs(np.asarray(cmyk, dtype=float).mean() - np.asarray(photo, dtype=float).mean()) < 20
    assert decode_rgb(encode(photo.convert("P"), "PNG")).mode == "RGB"
    rgba = photo.convert("RGBA")
    rgba.putalpha(0)  # fully transparent: composited on white
    assert np.asarray(decode_rgb(encode(rgba, "PNG"))).min() == 255


def test_sixteen_bit_png_keeps_its_range():
    ramp = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    out = np.asarray(decode_rgb(encode(Image.fromarray(ramp), "PNG")))
    assert out.dtype == np.uint8 and out[..., 0].min() == 0 and out[..., 0].max() == 255
    # A naive convert("RGB") would clip everything above 255 to white.
    assert 100 < out.mean() < 155


@pytest.mark.parametrize(
    "payload,reason",
    [
        (b"", "empty file"),
        (b"this is not an image at all", "not an image"),
        ("truncated", "unreadable"),
        ("tiny", "too small"),
    ],
)
def test_bad_inputs_raise_skip_with_reason(photo, payload, reason):
    if payload == "truncated":
        payload = encode(photo, "JPEG")[:300]
    elif payload == "tiny":
        payload = encode(photo.resize((MIN_SIDE - 1, 40)), "PNG")
    with pytest.raises(SkipImage, match=reason):
        decode_rgb(payload)


@pytest.mark.integration
def test_huge_jpeg_is_decoded_in_draft_mode():
    big = Image.new("RGB", (9000, 6000), (120, 60, 30))  # 54 megapixels
    data = encode(big, "JPEG", quality=70)
    tensor = load_square(data, 224)
    assert tuple(tensor.shape) == (3, 224, 224)
    assert abs(int(tensor[0].float().mean()) - 120) <= 3
