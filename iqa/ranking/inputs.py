"""The images to rank, read from one folder (or list of files) per group, a CSV, or a MOS dataset with groups."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iqa.errors import UserError

__all__ = ["CATEGORY_COLUMNS", "MOS_DIRECTIONS", "PROMPT_COLUMNS", "RESERVED_COLUMNS", "Inputs", "collect_inputs"]

#: Column names a CSV may use for the prompt / pairing id.
PROMPT_COLUMNS = ("prompt", "pair")
#: Categories of a prompt that a dataset's records (or a CSV) may carry, kept as columns of the scores to break rankings down by.
CATEGORY_COLUMNS = ("style", "class", "challenge")
#: CSV columns with a meaning of their own; every other column is kept as it is (a category, a content id, ...).
RESERVED_COLUMNS = ("path", "group", *PROMPT_COLUMNS, "mos", "dmos", "quality_norm", "error")
#: Directions of a MOS column.
MOS_DIRECTIONS = ("higher", "lower")


@dataclass
class Inputs:
    """The images to rank: one row per (group, image), plus the MOS scale where the inputs carry a MOS."""

    rows: list[dict[str, Any]]
    groups: list[str]
    mos_scale: dict[str, Any] | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)


def _group_name(folder: Path, taken: set[str]) -> str:
    name = folder.name or str(folder)
    if name in taken:
        name = f"{folder.parent.name}/{name}"
    return name


def _from_groups(groups: Any) -> Inputs:
    from iqa.inference import expand_paths

    if isinstance(groups, (str, os.PathLike)):
        groups = [groups]
    if isinstance(groups, Mapping):
        items = [(str(name), value) for name, value in groups.items()]
    else:
        items, taken = [], set()
        for value in groups:
            name = _group_name(Path(os.path.expanduser(str(value))).resolve(), taken)
            taken.add(name)
            items.append((name, value))
    rows: list[dict[str, Any]] = []
    names = []
    for name, value in items:
        values = [value] if isinstance(value, (str, os.PathLike)) else list(value)
        missing = [str(v) for v in values if not Path(os.path.expanduser(str(v))).exists()]
        if missing:
            raise UserError(f"group '{name}': not found: {', '.join(missing)}")
        paths = expand_paths(values)
        if not paths:
            raise UserError(f"group '{name}' is empty: no files in {', '.join(map(str, values))}")
        names.append(name)
        rows += [{"group": name, "path": p} for p in paths]
    return Inputs(rows, names, source="folders")


def _from_csv(path: str | os.PathLike, mos_direction: str | None = None) -> Inputs:
    from iqa.attributes import ATTRIBUTES

    path = Path(os.path.expanduser(str(path)))
    if not path.is_file():
        raise UserError(f"CSV not found: {path}")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or []]
        reader.fieldnames = columns
        absent = [c for c in ("path", "group") if c not in columns]
        if absent:
            raise UserError(f"{path}: missing column(s) {', '.join(absent)}; need path and group (optional prompt or pair, mos or dmos, "
                            f"style, class, any other column); columns are: {', '.join(columns) or 'none'}")
        if "mos" in columns and "dmos" in columns:
            raise UserError(f"{path}: both mos and dmos columns; keep one (mos: higher is better, dmos: lower is better)")
        prompt_column = next((c for c in PROMPT_COLUMNS if c in columns), None)
        score_column = "mos" if "mos" in columns else "dmos" if "dmos" in columns else None
        extra = [c for c in columns if c and c not in RESERVED_COLUMNS and c not in ATTRIBUTES]
        rows, names = [], []
        for line, row in enumerate(reader, start=2):
            relative, group = (row.get("path") or "").strip(), (row.get("group") or "").strip()
            if not relative and not group:
                continue
            if not relative or not group:
                raise UserError(f"{path}:{line}: empty {'path' if not relative else 'group'}")
            item: dict[str, Any] = {"group": group, "path": relative if os.path.isabs(relative) else str(path.parent / relative)}
            if prompt_column and (row.get(prompt_column) or "").strip():
                item["prompt"] = row[prompt_column].strip()
            for column in extra:
                if (row.get(column) or "").strip():
                    item[column] = row[column].strip()
            if score_column and (row.get(score_column) or "").strip():
                try:
                    item["mos"] = float(row[score_column])
                except ValueError:
                    raise UserError(f"{path}:{line}: {score_column} is not a number: {row[score_column]!r}") from None
            rows.append(item)
            if group not in names:
                names.append(group)
    if not rows:
        raise UserError(f"{path}: no rows")
    notes = []
    scale = None
    if any("mos" in r for r in rows):
        if mos_direction is not None:
            higher = mos_direction == "higher"
        elif score_column == "dmos":
            higher = False
        else:
            higher = True
            notes.append(f"{path.name}: the mos column is taken as higher-is-better; for a DMOS or any lower-is-better score, "
                         f"pass --mos-direction lower (or name the column dmos)")
        scale = {"range": None, "higher_is_better": higher, "dataset": str(path), "column": score_column}
    return Inputs(rows, names, mos_scale=scale, source=str(path), notes=notes)


def _from_dataset(name: str, root: Any, split: str | None, options: Mapping[str, Any], columns: Sequence[str] = (),
                  mos_direction: str | None = None) -> Inputs:
    from iqa.data.catalog import list_datasets, open_dataset

    records = open_dataset(name, root, split=split, **dict(options))
    declared = list_datasets().get(name, {})
    rows, names = [], []
    for record in records:
        group = record.meta.get("group")
        if group is None:
            raise UserError(f"dataset '{name}' gives its images no group (generator); rank folders or a CSV with a group column")
        item = {"group": str(group), "path": record.path, "mos": float(record.mos)}
        for column in dict.fromkeys(("prompt", *CATEGORY_COLUMNS, *columns)):
            if record.meta.get(column) not in (None, ""):
                item[column] = str(record.meta[column])
        rows.append(item)
        if str(group) not in names:
            names.append(str(group))
    mos_range = declared.get("mos_range") or options.get("mos_range")
    higher = declared.get("higher_is_better")
    if mos_direction is not None:
        higher = mos_direction == "higher"
    scale = {"range": list(mos_range) if mos_range else None, "higher_is_better": True if higher is None else bool(higher), "dataset": name}
    return Inputs(rows, names, mos_scale=scale, source=f"dataset {name} ({split or 'all'})")


def collect_inputs(groups: Any = None, *, csv: Any = None, dataset: str | None = None, root: Any = None, split: str | None = None,
                   dataset_options: Mapping[str, Any] | None = None, columns: Sequence[str] = (),
                   mos_direction: str | None = None) -> Inputs:
    """The (group, image) rows from exactly one kind of input; see :func:`rank`.

    ``columns``: record fields a dataset should carry into the rows besides the
    prompt and categories (a CSV keeps all its columns). ``mos_direction``:
    ``higher`` | ``lower``, overriding the CSV's (``mos`` higher, ``dmos``
    lower) or the dataset's declared direction.
    """
    if mos_direction is not None and mos_direction not in MOS_DIRECTIONS:
        raise UserError(f"mos direction must be one of {', '.join(MOS_DIRECTIONS)}, got {mos_direction!r}")
    given = [groups is not None and groups != [], csv is not None, dataset is not None]
    if sum(given) != 1:
        raise UserError("give exactly one input: folders (one per group), a CSV (path, group[, prompt][, mos]) or a dataset")
    if csv is not None:
        inputs = _from_csv(csv, mos_direction)
    elif dataset is not None:
        inputs = _from_dataset(dataset, root, split, dataset_options or {}, columns, mos_direction)
    else:
        inputs = _from_groups(groups)
    if len(inputs.groups) < 2:
        raise UserError(f"ranking needs at least 2 groups; got {len(inputs.groups)} ({', '.join(inputs.groups)})")
    return inputs
