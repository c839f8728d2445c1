"""Classical no-reference peers for the held-out ladders: BRISQUE and NIQE (the optional ``bench`` extra).

Each ``*_scorer()`` imports its package only when called and returns a function
``rgb uint8 array -> score`` with higher = better quality (both scores are
negated). Without the extra, the call raises a one-line
:class:`~iqa.errors.UserError` that names ``pip install 'attiqa[bench]'``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator

import numpy as np
from PIL import Image

from iqa.errors import UserError

INSTALL_PEERS = "pip install 'attiqa[bench]'   (from a clone: pip install -e '.[bench]')"


def _missing(peer: str, error: ImportError) -> UserError:
    reason = str(error).splitlines()[0] if str(error) else error.__class__.__name__
    return UserError(f"{peer} needs the bench extra ({reason}); install with: {INSTALL_PEERS}")


@contextlib.contextmanager
def numpy_compat_for_skvideo() -> Iterator[None]:
    """Aliases that scikit-video 1.1 still uses (``np.int``, ``np.float``, ``scipy.misc.imresize``), only while inside."""
    import scipy.misc

    def imresize(arr, size, interp="bicubic", mode=None):
        # The removed scipy.misc.imresize with a float factor, 'F' (float32) mode and bicubic PIL resampling.
        image = Image.fromarray(np.asarray(arr, dtype=np.float32))
        w, h = image.size
        return np.asarray(image.resize((int(w * size), int(h * size)), Image.BICUBIC))

    saved = {name: getattr(np, name, None) for name in ("int", "float")}
    saved_imresize = getattr(scipy.misc, "imresize", None)
    np.int, np.float = int, float  # type: ignore[attr-defined]
    scipy.misc.imresize = imresize
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                with contextlib.suppress(AttributeError):
                    delattr(np, name)
            else:
                setattr(np, name, value)
        if saved_imresize is None:
            del scipy.misc.imresize
        else:
            scipy.misc.imresize = saved_imresize


def _luma255(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def niqe_scorer() -> Callable[[np.ndarray], float]:
    """NIQE from scikit-video on the BT.601 luma (0..255); returns the *negated* NIQE (higher = better)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import skvideo.measure
    except ImportError as error:
        raise _missing("NIQE", error) from None

    def score(rgb: np.ndarray) -> float:
        with numpy_compat_for_skvideo(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return -float(skvideo.measure.niqe(_luma255(rgb))[0])

    return score


def brisque_scorer() -> Callable[[np.ndarray], float]:
    """BRISQUE from the ``brisque`` wheel (its bundled LIVE-trained SVM); returns the *negated* score (higher = better)."""
    try:
        from brisque import BRISQUE
    except ImportError as error:
        raise _missing("BRISQUE", error) from None

    class _Brisque(BRISQUE):
        # brisque 0.2 turns one-element feature arrays into floats with float(), which NumPy 2 refuses; same scaling.
        def scale_features(self, features):
            values = np.array([np.asarray(f, dtype=np.float64).reshape(-1)[0] for f in features])
            low = np.asarray(self.scale_params["min_"], dtype=np.float64)
            high = np.asarray(self.scale_params["max_"], dtype=np.float64)
            return -1 + 2.0 / (high - low) * (values - low)

    model = _Brisque(url=False)

    def score(rgb: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return -float(model.score(rgb))

    return score


#: label -> (cache tag, scorer factory): the peers of the held-out table.
PEERS: dict[str, tuple[str, Callable[[], Callable[[np.ndarray], float]]]] = {
    "BRISQUE (brisque wheel, SVM trained on LIVE)": ("brisque", brisque_scorer),
    "NIQE (scikit-video)": ("niqe", niqe_scorer),
}

__all__ = ["INSTALL_PEERS", "PEERS", "brisque_scorer", "niqe_scorer", "numpy_compat_for_skvideo"]
