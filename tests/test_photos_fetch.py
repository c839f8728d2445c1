"""The photo fetcher against fake packages built here (a .deb, a wheel, an npm tarball) served from file:// URLs."""

from __future__ import annotations

import hashlib
import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iqa.data import photo_sources as ps
from iqa.data import photos
from iqa.data.photos import Photo


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _jpeg(seed: int, size=(40, 30)) -> bytes:
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(out, "JPEG")
    return out.getvalue()


def _tar(files: dict[str, bytes], prefix: str = "./") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(prefix + path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _ar(members: dict[str, bytes]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in members.items():
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        out += data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def _deb(files: dict[str, bytes]) -> bytes:
    return _ar({"debian-binary": b"2.0\n", "control.tar.xz": lzma.compress(_tar({"control": b"Package: fake\n"})),
                "data.tar.xz": lzma.compress(_tar(files))})


def _rcc(files: dict[str, bytes], compress: set[str]) -> bytes:
    """A version-1 Qt resource bundle with one folder level (``dir/name``), written from the format's description."""
    folders: dict[str, list[str]] = {}
    for path in files:
        folder, _, name = path.partition("/")
        folders.setdefault(folder, []).append(name)
    names = bytearray()
    name_offset: dict[str, int] = {}

    def add_name(text: str) -> int:
        if text not in name_offset:
            name_offset[text] = len(names)
            encoded = text.encode("utf-16-be")
            names.extend(struct.pack(">HI", len(text), 0) + encoded)
        return name_offset[text]

    payload = bytearray()
    nodes: list[bytes] = [b""]  # the root, written last
    folder_list = sorted(folders)
    first_file = 1 + len(folder_list)
    file_nodes: list[bytes] = []
    folder_nodes: list[bytes] = []
    for folder in folder_list:
        folder_nodes.append(struct.pack(">IHII", add_name(folder), 2, len(folders[folder]), first_file + len(file_nodes)))
        for name in sorted(folders[folder]):
            data = files[f"{folder}/{name}"]
            flags = 0
            if f"{folder}/{name}" in compress:
                data, flags = struct.pack(">I", len(data)) + zlib.compress(data), 1
            file_nodes.append(struct.pack(">IHHHI", add_name(name), flags, 0, 0, len(payload)))
            payload.extend(struct.pack(">I", len(data)) + data)
    nodes[0] = struct.pack(">IHII", 0, 2, len(folder_list), 1)
    tree = b"".join(nodes + folder_nodes + file_nodes)
    header = 20
    offsets = struct.pack(">IIII", 1, header, header + len(tree), header + len(tree) + len(payload))
    return b"qres" + offsets + tree + bytes(payload) + bytes(names)


@pytest.fixture
def packages(tmp_path):
    """Three fake packages on disk and a registry of five photos in them."""
    a, b, c, r1, r2 = (_jpeg(i) for i in range(5))
    rcc = _rcc({"pics/r1.jpg": r1, "pics/r2.jpg": r2}, compress={"pics/r1.jpg"})
    deb = _deb({"usr/share/fake/a.jpg": a, "usr/share/fake/bundle.rcc": rcc, "usr/share/doc/fake/copyright": b"x"})
    arrays = io.BytesIO()
    np.savez(arrays, data=np.arange(48 * 40, dtype=np.uint8).reshape(48, 40))
    npz = arrays.getvalue()
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("fakepkg/data/b.jpg", b)
        zf.writestr("fakepkg/data/arr.npz", npz)
    npm = io.BytesIO()
    with tarfile.open(fileobj=npm, mode="w:gz") as tar:
        info = tarfile.TarInfo("package/img/c.jpg")
        info.size = len(c)
        tar.addfile(info, io.BytesIO(c))
    served = tmp_path / "served"
    (served / "pool").mkdir(parents=True)
    blobs = {"pool/fake_1.0_all.deb": deb, "fakepkg-1.0-py3-none-any.whl": wheel.getvalue(), "fake-npm-1.0.tgz": npm.getvalue()}
    for name, blob in blobs.items():
        (served / name).write_bytes(blob)
    deb_src = ps.Source("deb", "fake", "1.0", "pool/fake_1.0_all.deb", _sha(deb), len(deb))
    whl_src = ps.Source("wheel", "fakepkg", "1.0", "fakepkg-1.0-py3-none-any.whl", _sha(blobs["fakepkg-1.0-py3-none-any.whl"]),
                        len(blobs["fakepkg-1.0-py3-none-any.whl"]), url=(served / "fakepkg-1.0-py3-none-any.whl").as_uri())
    npm_src = ps.Source("npm", "fake-npm", "1.0", "fake-npm-1.0.tgz", _sha(blobs["fake-npm-1.0.tgz"]), len(blobs["fake-npm-1.0.tgz"]),
                        url=(served / "fake-npm-1.0.tgz").as_uri())
    reg = [
        Photo("p_a", deb_src, "usr/share/fake/a.jpg", _sha(a), "CC0 1.0", "t", "train", True),
        Photo("p_r1", deb_src, "usr/share/fake/bundle.rcc", _sha(r1), "CC0 1.0", "t", "tune", True, member="pics/r1.jpg"),
        Photo("p_r2", deb_src, "usr/share/fake/bundle.rcc", _sha(r2), "CC0 1.0", "t", "test", True, member="pics/r2.jpg"),
        Photo("p_b", whl_src, "fakepkg/data/b.jpg", _sha(b), "MIT", "t", "train", True),
        Photo("p_arr", whl_src, "fakepkg/data/arr.npz", _sha(npz), "MIT", "t", "test", False, member="data"),
        Photo("p_c", npm_src, "package/img/c.jpg", _sha(c), "MIT", "t", "test", True),
    ]
    return {"served": served, "photos": reg, "deb": deb_src, "wheel": whl_src, "npm": npm_src, "bytes": {"r1": r1, "r2": r2}}


@pytest.fixture
def mirror(packages, monkeypatch):
    monkeypatch.setenv(ps.DEBIAN_MIRROR_ENV, packages["served"].as_uri())
    return packages


@pytest.mark.unit
def test_rcc_reader_reads_plain_and_compressed_resources(packages):
    bundle = _rcc({"pics/r1.jpg": b"one" * 50, "pics/r2.jpg": b"two", "x/y.png": b"three"}, compress={"pics/r1.jpg"})
    assert ps.read_rcc(bundle) == {"pics/r1.jpg": b"one" * 50, "pics/r2.jpg": b"two", "x/y.png": b"three"}
    with pytest.raises(ValueError, match="qres"):
        ps.read_rcc(b"PK\x03\x04" + bytes(30))


@pytest.mark.unit
def test_fetch_extracts_every_registered_photo_and_checks_its_hash(mirror, tmp_path):
    cache = tmp_path / "cache"
    report = ps.fetch(mirror["photos"], cache, stream=None)
    assert sorted(report.fetched) == sorted(p.name for p in mirror["photos"]) and not report.present
    sources = {p.source for p in mirror["photos"]}
    assert len(report.packages) == 3 and report.downloaded_bytes == sum(source.size for source in sources)
    for p in mirror["photos"]:
        path = ps.cached_path(p, cache)
        assert path.is_file() and ps.sha256_file(path) == p.sha256
        assert ps.status(p, cache) == "cached"
    assert ps.cached_path(mirror["photos"][1], cache).read_bytes() == mirror["bytes"]["r1"]  # the compressed resource, inflated
    assert {f.name for f in cache.iterdir()} == {"p_a.jpg", "p_r1.jpg", "p_r2.jpg", "p_b.jpg", "p_arr.npz", "p_c.jpg", ".packages"}
    assert not any((cache / ".packages").iterdir()), "package files are deleted once their photos are out"
    again = ps.fetch(mirror["photos"], cache, stream=None)
    assert again.fetched == [] and len(again.present) == len(mirror["photos"]) and again.downloaded_bytes == 0


@pytest.mark.unit
def test_an_interrupted_fetch_resumes_without_fetching_twice(mirror, tmp_path):
    cache = tmp_path / "cache"
    calls: list[str] = []
    dropped: list[str] = []

    def flaky(url, part, size, progress):
        calls.append(url)
        if len(calls) == 2 and not dropped:
            dropped.append(url)
            part.write_bytes(Path(url.removeprefix("file://")).read_bytes()[:10])  # a few bytes, then the line drops
            raise OSError("connection reset")
        ps.http_download(url, part, size, progress)

    with pytest.raises(ps.FetchError, match=r"cannot fetch .* connection reset"):
        ps.fetch(mirror["photos"], cache, downloader=flaky, stream=None)
    first = [p for p in mirror["photos"] if ps.status(p, cache) == "cached"]
    assert first and len(first) < len(mirror["photos"])
    assert list((cache / ".packages").glob("*.part")), "the partial download is left for the next run"
    calls.clear()
    report = ps.fetch(mirror["photos"], cache, downloader=flaky, stream=None)
    assert len(calls) == 2 and sorted(report.present) == sorted(p.name for p in first)
    assert all(ps.status(p, cache) == "cached" for p in mirror["photos"])


@pytest.mark.unit
def test_a_kept_package_is_reused_and_not_downloaded_again(mirror, tmp_path):
    cache = tmp_path / "cache"
    ps.fetch(mirror["photos"], cache, stream=None, keep_packages=True)
    ps.cached_path(mirror["photos"][0], cache).unlink()
    calls = []
    report = ps.fetch(mirror["photos"], cache, stream=None, downloader=lambda *a: calls.append(a))
    assert report.fetched == ["p_a"] and calls == []


@pytest.mark.unit
def test_package_hash_mismatch_names_package_url_and_expected_hash(mirror, tmp_path):
    deb = mirror["deb"]
    wrong = ps.Source(deb.kind, deb.name, deb.version, deb.filename, "0" * 64, deb.size)
    photo = Photo("p_a", wrong, "usr/share/fake/a.jpg", mirror["photos"][0].sha256, "CC0 1.0", "t", "train", True)
    with pytest.raises(ps.FetchError) as exc:
        ps.fetch([photo], tmp_path / "cache", stream=None)
    message = str(exc.value)
    assert "\n" not in message
    assert "deb fake 1.0" in message and (mirror["served"] / deb.filename).as_uri() in message and "0" * 64 in message
    assert not list((tmp_path / "cache" / ".packages").iterdir()), "a download with the wrong hash is not kept"


@pytest.mark.unit
def test_photo_hash_mismatch_and_missing_file_and_missing_package(mirror, tmp_path):
    good = mirror["photos"][0]
    bad = Photo("p_bad", good.source, good.path, "f" * 64, "CC0 1.0", "t", "train", True)
    with pytest.raises(ps.FetchError, match=r"hash mismatch for photo p_bad .*expected f{64}"):
        ps.fetch([bad], tmp_path / "c1", stream=None)
    assert not ps.cached_path(bad, tmp_path / "c1").exists()
    absent = Photo("p_absent", good.source, "usr/share/fake/none.jpg", "f" * 64, "CC0 1.0", "t", "train", True)
    with pytest.raises(ps.FetchError, match=r"has no file usr/share/fake/none.jpg"):
        ps.fetch([absent], tmp_path / "c2", stream=None)
    gone = ps.Source("deb", "gone", "2.0", "pool/gone_2.0_all.deb", "0" * 64, 10)
    with pytest.raises(ps.FetchError, match=r"cannot fetch deb gone 2.0 from file://.*/pool/gone_2.0_all.deb"):
        ps.fetch([Photo("p_gone", gone, "x.jpg", "f" * 64, "CC0 1.0", "t", "train", True)], tmp_path / "c3", stream=None)


@pytest.mark.unit
def test_cache_location_follows_the_environment(monkeypatch, tmp_path, packages):
    monkeypatch.setenv(ps.CACHE_ENV, str(tmp_path / "env-cache"))
    assert ps.cache_dir() == tmp_path / "env-cache"
    assert ps.cache_dir(tmp_path / "given") == tmp_path / "given"
    monkeypatch.delenv(ps.CACHE_ENV)
    assert ps.cache_dir() == Path.home() / ".cache" / "attiqa" / "photos"
    monkeypatch.setenv(ps.DEBIAN_MIRROR_ENV, "https://mirror.example/debian/")
    assert packages["deb"].archive_url() == "https://mirror.example/debian/pool/fake_1.0_all.deb"


@pytest.mark.unit
def test_photo_path_fetches_lazily_and_load_photo_reads_npz_and_rcc(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv(ps.CACHE_ENV, str(tmp_path / "lazy"))
    monkeypatch.setattr(photos, "BY_NAME", {p.name: p for p in mirror["photos"]})
    with pytest.raises(photos.UserError, match="iqa photos fetch --split test"):
        photos.photo_path("p_arr")
    path = photos.photo_path("p_arr", fetch=True)
    assert path == tmp_path / "lazy" / "p_arr.npz"
    image = photos.load_photo("p_arr")
    assert image.shape == (48, 40, 3) and image[1, 0, 0] == 40 and (image[..., 0] == image[..., 2]).all()
    tune = photos.load_photo("p_r1", fetch=True)
    assert tune.shape == (30, 40, 3)
