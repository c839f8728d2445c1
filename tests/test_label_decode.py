"""The decode paths: choosing one, the header check that routes JPEGs, and the device decode with its CPU fallback.

On a machine without CUDA the device path runs on the CPU (torchvision's decoder
accepts any device), so everything but nvjpeg itself is exercised here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _label_helpers import encode, photo, photo_crops, write_shard
from PIL import Image

from iqa.config import resolve_precision
from iqa.data import datamodules
from iqa.data.images import SkipImage, device_decodable_jpeg, load_square, square_crop_resize
from iqa.data.label_sets import read_labels
from iqa.errors import UserError
from iqa.modules import label as label_module
from iqa.modules.label import LabelModule, squares_by_size
from iqa.teachers import labelling as label_cli
from iqa.teachers.classical import ClassicalTeacher

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "choice,device,expected",
    [("auto", "cuda", "device"), ("auto", "cpu", "cpu"), ("cpu", "cuda", "cpu"), ("gpu", "cuda", "device"), ("GPU", "cuda", "device")],
)
def test_decode_choice(choice, device, expected):
    assert label_cli.resolve_decode(choice, device) == expected


def test_decode_choice_errors():
    with pytest.raises(UserError, match="decode=gpu needs the teacher on a CUDA GPU.*decode=auto or decode=cpu"):
        label_cli.resolve_decode("gpu", "cpu")
    with pytest.raises(UserError, match="valid choices are auto, cpu, gpu"):
        label_cli.resolve_decode("nvjpeg", "cuda")


def test_gpu_decode_without_cuda_fails_before_any_work(compose, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = compose("label", ["data=folder", f"data.root={tmp_path}/nope", f"out={tmp_path}/labels", "decode=gpu"])
    with pytest.raises(UserError, match="decode=gpu needs"):
        label_cli.run(cfg)


@pytest.mark.integration
def test_precision_auto_is_bf16_on_a_bf16_gpu(compose, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("auto") == "bf16-mixed"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_precision("auto") == "32-true"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_precision("auto") == "32-true"
    assert resolve_precision("16-mixed") == "16-mixed"
    # label.py builds its trainer through this resolution (default: auto), from the hardware keys only.
    assert compose("label").trainer.precision == "auto"
    trainer = label_cli.build_trainer(compose("label", ["trainer.gradient_clip_val=5.0"]), [])
    assert trainer.precision == "32-true" and trainer.gradient_clip_val is None


def test_header_check_routes_only_complete_rgb_or_grey_jpegs():
    base = photo(96)
    jpeg = encode(base)
    sos = jpeg.index(b"\xff\xda")
    assert device_decodable_jpeg(jpeg)
    assert device_decodable_jpeg(encode(base.convert("L")))
    assert device_decodable_jpeg(jpeg + b"\x00" * 7)  # zero padding after the end marker is common
    assert not device_decodable_jpeg(encode(base.convert("CMYK")))  # the device decoder takes RGB / grey only
    assert not device_decodable_jpeg(encode(base, "PNG"))
    assert not device_decodable_jpeg(jpeg[: len(jpeg) // 2])  # truncated: no end marker
    assert not device_decodable_jpeg(encode(base.resize((20, 40))))  # under the minimum side
    assert not device_decodable_jpeg(jpeg, max_pixels=96 * 96 - 1)  # big ones are decoded in draft mode on the CPU
    assert not device_decodable_jpeg(b"\xff\xd8" + b"garbage" * 10 + b"\xff\xd9")
    assert not device_decodable_jpeg(b"")
    # A file with a valid header but no scan is routed by whatever Pillow's header parser makes of it
    # (versions differ); either way it must end as a skip, which the pipeline test checks.
    assert isinstance(device_decodable_jpeg(jpeg[:sos] + b"\xff\xd9"), bool)


def test_tensor_resize_matches_the_cpu_path():
    data = encode(photo(96, "coffee"), quality=95)
    from torchvision.io import ImageReadMode, decode_jpeg

    decoded = decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
    ours = square_crop_resize(decoded[None], 64)[0].float()
    reference = load_square(data, 64).float()
    assert ours.shape == reference.shape == (3, 64, 64)
    assert (ours - reference).abs().mean() < 1.0  # bicubic kernels differ slightly (PIL a=-0.5, torch a=-0.75)
    # Mixed sizes: each image resized on its own, whatever the batch holds.
    images = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8) for h, w in ((80, 120), (100, 80), (80, 80), (64, 64))]
    batch = squares_by_size(images, 64)
    for image, out in zip(images, batch):
        torch.testing.assert_close(out, square_crop_resize(image[None], 64)[0])
    assert torch.equal(batch[3], images[3])  # already the right size: untouched


def test_device_decode_falls_back_to_cpu_then_skips(monkeypatch):
    module = LabelModule(ClassicalTeacher(64))
    good = encode(photo(96))
    jpeg = encode(photo(80, "chelsea"))
    broken = jpeg[: jpeg.index(b"\xff\xda")] + b"\xff\xd9"  # passes the header check; neither decoder can decode it
    chunks = [good, jpeg, broken]
    blob = np.frombuffer(bytearray(b"".join(chunks)), dtype=np.uint8)
    real = label_module.decode_jpeg_batch
    # The device decoder rejects the second image too (as nvjpeg might): the CPU decoder must take over.
    monkeypatch.setattr(label_module, "decode_jpeg_batch", lambda c, d: [real(c[:1], d)[0], None, None])
    images, kept, skips = module.decode_encoded(blob, [len(c) for c in chunks], ["a", "b", "c"], ["u"] * 3, ["sa", "sb", "sc"])
    assert kept == [0, 1] and images.shape == (2, 3, 64, 64)
    torch.testing.assert_close(images[1], load_square(jpeg, 64))  # the fallback is the CPU path itself
    assert [(s["key"], s["source"]) for s in skips] == [("c", "sc")] and "unreadable" in skips[0]["reason"]
    with pytest.raises(SkipImage):
        load_square(broken, 64)


def test_real_decoder_batch_survives_one_bad_image():
    good = torch.frombuffer(bytearray(encode(photo(96))), dtype=torch.uint8)
    bad = torch.frombuffer(bytearray(b"\xff\xd8" + b"\x00" * 50 + b"\xff\xd9"), dtype=torch.uint8)
    out = label_module.decode_jpeg_batch([good, bad, good], torch.device("cpu"))
    assert out[1] is None and out[0].shape == out[2].shape == (3, 96, 96)


@pytest.mark.integration
def test_pipeline_with_device_decode_labels_like_the_cpu_path(compose, tmp_path, monkeypatch):
    crops = photo_crops(8, size=96)
    members = [(f"p{i}.jpg", encode(c, quality=95)) for i, c in enumerate(crops)]
    members += [
        ("grey.jpg", encode(crops[0].convert("L"), quality=95)),  # device path, converted to RGB there
        ("cmyk.jpg", encode(crops[1].convert("CMYK"))),  # CPU path in the worker
        ("lossless.png", encode(crops[2], "PNG")),  # CPU path in the worker
        ("noscan.jpg", members[0][1][: members[0][1].index(b"\xff\xda")] + b"\xff\xd9"),  # both decoders fail
    ]
    shard = write_shard(tmp_path / "s-000000.tar", members)
    common = ["data=shards", f"data.train={shard}", "trainer.accelerator=cpu", "teacher.image_size=64", "batch_size=5",
              "num_workers=1", "progress=false"]
    cpu = label_cli.run(compose("label", [*common, f"out={tmp_path}/cpu", "decode=cpu"]))
    calls = []
    real = label_module.decode_jpeg_batch
    monkeypatch.setattr(label_module, "decode_jpeg_batch", lambda c, d: calls.append(len(c)) or real(c, d))
    monkeypatch.setattr(datamodules, "resolve_decode", lambda choice, device: "device")  # what LabelDataModule asks
    device = label_cli.run(compose("label", [*common, f"out={tmp_path}/device"]))
    assert device["last_run"]["decode"] == "device" and cpu["last_run"]["decode"] == "cpu"
    # The 8 RGB JPEGs and the grey one go to the batched decoder, plus the scan-less one if the
    # installed Pillow's header check lets it through.
    assert sum(calls) == 9 + int(device_decodable_jpeg(members[-1][1]))
    for manifest in (cpu, device):
        assert manifest["counts"] == {"labelled": 11, "skipped": 1, "units": 1}
        assert [s["source"].rsplit(":", 1)[1] for s in manifest["skipped"]] == ["noscan.jpg"]
    a = read_labels(tmp_path / "cpu").set_index("key").sort_index()
    b = read_labels(tmp_path / "device").set_index("key").sort_index()
    assert list(a.index) == list(b.index)
    difference = (a[list(cpu["attributes"])] - b[list(cpu["attributes"])]).abs()
    assert difference.to_numpy().max() < 0.03, difference


def test_device_decode_pixels_match_for_grey_jpeg():
    grey = Image.fromarray(np.asarray(photo(96).convert("L")))
    data = encode(grey, quality=95)
    module = LabelModule(ClassicalTeacher(64))
    images, kept, skips = module.decode_encoded(np.frombuffer(bytearray(data), np.uint8), [len(data)], ["k"], ["u"], ["s"])
    assert kept == [0] and not skips
    out = images[0].float()
    assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])  # grey became three equal channels
    assert (out - load_square(data, 64).float()).abs().mean() < 1.0
