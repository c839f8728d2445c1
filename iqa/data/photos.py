"""The real photos that ship inside Python wheels, with their licence and their role.

This registry is the single place that says which photos may be used for
training and which are held out. Every photo is a file inside an installed
package (never a system/Debian package, never downloaded); its licence is
taken from the package's own notes (scikit-image's ``skimage.data``
docstrings, scikit-learn's ``datasets/images/README.txt``).

Roles:

``train``
    May be used by any training split (pretraining, fine-tuning, validation,
    the demo's test split). The demo corpus (:data:`iqa.data.synthetic.ROLES`)
    uses only these.
``heldout``
    Reserved for the held-out benchmark (``iqa heldout``, :mod:`iqa.evaluation.heldout`):
    no crop, scale or distorted variant of these photos may ever enter a
    training split. :func:`trainable` refuses them.
``excluded``
    Not used at all: not a photograph (drawings, phantoms, logos), too small
    for a crop, or a near-duplicate of a photo in another role (the right view
    of the stereo pair whose left view the demo uses).

Held-out photos: matplotlib's ``grace_hopper.jpg`` (ships with matplotlib, a
runtime dependency) and scikit-learn's ``china.jpg`` and ``flower.jpg``
(``pip install scikit-learn``, part of the ``bench`` extra). None of them is in
the demo, which uses only scikit-image photos.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROLES = ("train", "heldout", "excluded")

CC0 = "CC0 1.0"
PD = "public domain"
CC_BY_2 = "CC BY 2.0"


@dataclass(frozen=True)
class Photo:
    """One photo shipped in a wheel.

    ``package`` is the import package that holds it, ``distribution`` the pip
    name that installs it, ``path`` the file relative to the import package's
    folder. ``demo_name`` is the name :mod:`iqa.data.synthetic` uses for it
    (``None`` when the demo does not use it).
    """

    name: str
    package: str
    distribution: str
    path: str
    licence: str
    credit: str
    role: str
    colour: bool
    demo_name: str | None = None


def _sk(name: str, file: str, licence: str, credit: str, role: str, colour: bool, demo: str | None = None) -> Photo:
    return Photo(name, "skimage", "scikit-image", f"data/{file}", licence, credit, role, colour, demo)


PHOTOS: tuple[Photo, ...] = (
    # scikit-image (a runtime dependency); licences as stated in the skimage.data docstrings.
    _sk("astronaut", "astronaut.png", PD, "NASA (Eileen Collins)", "train", True, "astronaut"),
    _sk("brick", "brick.png", CC0, "CC0Textures", "train", False, "brick"),
    _sk("camera", "camera.png", CC0, "Lav Varshney", "train", False, "camera"),
    _sk("cell", "cell.png", CC0, "scikit-image (microscopy)", "train", False, "cell"),
    _sk("chelsea", "chelsea.png", CC0, "Stefan van der Walt", "train", True, "chelsea"),
    _sk("clock", "clock_motion.png", PD, "Stefan van der Walt", "train", False, "clock"),
    _sk("coffee", "coffee.png", CC0, "Rachel Michetti", "train", True, "coffee"),
    _sk("coins", "coins.png", "no known copyright restrictions", "Brooklyn Museum collection", "train", False, "coins"),
    _sk("grass", "grass.png", CC0, "CC0Textures", "train", False, "grass"),
    _sk("gravel", "gravel.png", CC0, "CC0Textures", "train", False, "gravel"),
    _sk("hubble_deep_field", "hubble_deep_field.jpg", PD, "NASA", "train", True, "hubble_deep_field"),
    _sk("immunohistochemistry", "ihc.png", "no known copyright restrictions", "scikit-image", "train", True, "immunohistochemistry"),
    _sk("moon", "moon.png", "as shipped with scikit-image (BSD-3-Clause package)", "scikit-image", "train", False, "moon"),
    _sk("motorcycle", "motorcycle_left.png", "as shipped with scikit-image (Middlebury stereo data)", "Middlebury Stereo", "train", True,
        "motorcycle"),
    _sk("retina", "retina.jpg", CC0, "Mikael Häggström", "train", True, "retina"),
    _sk("rocket", "rocket.jpg", PD, "SpaceX", "train", True, "rocket"),
    _sk("motorcycle_right", "motorcycle_right.png", "as shipped with scikit-image (Middlebury stereo data)", "Middlebury Stereo",
        "excluded", True),
    _sk("text", "text.png", PD, "scikit-image", "excluded", False),
    _sk("page", "page.png", "as shipped with scikit-image (BSD-3-Clause package)", "scikit-image", "excluded", False),
    _sk("microaneurysms", "microaneurysms.png", CC0, "Andreas Maier", "excluded", False),
    _sk("horse", "horse.png", CC0, "Andreas Preuss", "excluded", False),
    _sk("color", "color.png", "as shipped with scikit-image (BSD-3-Clause package)", "scikit-image", "excluded", True),
    _sk("phantom", "phantom.png", PD, "Shepp-Logan phantom (synthetic)", "excluded", False),
    _sk("logo", "logo.png", "as shipped with scikit-image (BSD-3-Clause package)", "scikit-image", "excluded", True),
    # matplotlib (a runtime dependency).
    Photo("grace_hopper", "matplotlib", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg", PD,
          "official U.S. Navy portrait of Grace Hopper (a work of the U.S. federal government)", "heldout", True),
    Photo("minduka_present", "matplotlib", "matplotlib", "mpl-data/sample_data/Minduka_Present_Blue_Pack.png",
          "as shipped with matplotlib", "matplotlib sample data", "excluded", True),
    # scikit-learn (bench extra); licence and credit from sklearn/datasets/images/README.txt.
    Photo("china", "sklearn", "scikit-learn", "datasets/images/china.jpg", CC_BY_2, "danielbuechele (Flickr), retrieved by Robert Layton",
          "heldout", True),
    Photo("flower", "sklearn", "scikit-learn", "datasets/images/flower.jpg", CC_BY_2,
          "Flickr user vultilion, retrieved by Robert Layton (credited as danielbuechele in the package notes)", "heldout", True),
)

BY_NAME: dict[str, Photo] = {photo.name: photo for photo in PHOTOS}


class HeldOutPhotoError(ValueError):
    """A held-out (or excluded) photo was asked for as training data."""


def photos(role: str) -> tuple[Photo, ...]:
    """The photos of one role, in registry order."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    return tuple(photo for photo in PHOTOS if photo.role == role)


def heldout_names() -> tuple[str, ...]:
    """Names of the held-out photos: what no training split may ever see."""
    return tuple(photo.name for photo in photos("heldout"))


def demo_photo(demo_name: str) -> Photo:
    """The registry entry of a photo named as :mod:`iqa.data.synthetic` names it."""
    for photo in PHOTOS:
        if photo.demo_name == demo_name:
            return photo
    raise KeyError(f"{demo_name!r} is not a registered photo")


def trainable(name: str) -> Photo:
    """The entry of a photo a training split wants to use; held-out and excluded photos raise."""
    photo = BY_NAME.get(name)
    if photo is None:
        raise KeyError(f"{name!r} is not a registered photo")
    if photo.role != "train":
        raise HeldOutPhotoError(f"photo {name!r} has role {photo.role!r}: it must never be used for training")
    return photo


def locate(photo: Photo) -> Path | None:
    """Where the photo's file is installed, without importing its package; ``None`` if the package is missing."""
    spec = importlib.util.find_spec(photo.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / photo.path
    return path if path.is_file() else None


def available(photo: Photo) -> bool:
    return locate(photo) is not None


def load_photo(name: str) -> np.ndarray:
    """A registered photo as uint8 RGB ``H x W x 3`` (grey photos repeated over 3 channels, alpha dropped)."""
    from PIL import Image

    photo = BY_NAME[name]
    path = locate(photo)
    if path is None:
        raise FileNotFoundError(f"photo {name!r} ships with {photo.distribution}, which is not installed: pip install {photo.distribution}")
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


__all__ = ["BY_NAME", "PHOTOS", "ROLES", "HeldOutPhotoError", "Photo", "available", "demo_photo", "heldout_names", "load_photo",
           "locate", "photos", "trainable"]
