"""Cross-dataset evaluation as a library call: checkpoints x test sets -> SRCC / PLCC / KRCC.

    import iqa
    results = iqa.evaluate({"attiqa": "runs/*/checkpoints/best.ckpt", "imagenet": "b.ckpt"},
                           ["koniq10k", "spaq"], data_dir="/datasets")
    results.to_frame()            # one row per (variant, test set)
    results.matrix["attiqa"]["spaq"]["srcc"]

Rows are *variants*: a checkpoint, or several checkpoints of one recipe
trained on different random splits (a list or a glob); columns are test sets.
A test set that is the variant's own training dataset is scored on ``split``
(default ``test``) rebuilt with the exact split recipe recorded in the
checkpoint, so no training or validation image is ever scored; any other test
set is scored on ``cross_split`` (default ``all`` of its images). Several
checkpoints per variant report the median of each metric over them, with every
per-checkpoint value kept.

This module computes; :mod:`iqa.evaluation.reports` writes the tables and
plots, :mod:`iqa.evaluation.job` turns an ``evaluate`` config into these
arguments, and ``evaluate.py`` (``iqa evaluate``) is the Hydra command line.
"""

from __future__ import annotations

import glob
import json
import os
import statistics
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from iqa.data.catalog import data_config
from iqa.errors import UserError

METRICS = ("srcc", "plcc", "krcc", "plcc_logistic")
METRIC_NAMES = {"srcc": "SRCC", "plcc": "PLCC", "krcc": "KRCC", "plcc_logistic": "PLCC (4-param logistic)"}


# -- inputs ------------------------------------------------------------------------------------


def _expand(value: Any, what: str) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else [value]
    paths: list[str] = []
    for item in items:
        item = str(item)
        if glob.has_magic(item):
            matches = sorted(glob.glob(item))
            if not matches:
                raise UserError(f"checkpoint pattern for '{what}' matches nothing: {item}")
            paths.extend(matches)
        else:
            if not Path(item).is_file():
                raise UserError(f"checkpoint for '{what}' not found: {item}")
            paths.append(item)
    return list(dict.fromkeys(paths))


def _variant_name(path: str, index: int) -> str:
    parent = Path(path).parent
    name = parent.parent.name if parent.name == "checkpoints" else parent.name
    return name or f"model{index}"


def _common_name(paths: Sequence[str]) -> str:
    """The run name the paths share (sweep jobs differ in their folder: then the sweep's name)."""
    names = {_variant_name(p, i) for i, p in enumerate(paths)}
    if len(names) == 1:
        return names.pop()
    runs = {Path(p).parent.parent if Path(p).parent.name == "checkpoints" else Path(p).parent for p in paths}
    parents = {r.parent.name for r in runs}
    return parents.pop() if len(parents) == 1 and next(iter(parents)) else "model"


def expand_checkpoints(value: Any) -> dict[str, list[str]]:
    """Checkpoints as variant -> paths.

    A path or glob: one variant (a glob matching several checkpoints is one
    variant over several splits), named after its run directory. A list: one
    variant per entry. A mapping: variant -> path, glob or list.
    """
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if value in (None, "", "???") or (isinstance(value, (list, tuple, Mapping)) and not value):
        raise UserError("pass a checkpoint: a path, a list, or a mapping {variant: checkpoint or glob}")
    if isinstance(value, str):
        paths = _expand(value, value)
        return {_common_name(paths): paths}
    if isinstance(value, (list, tuple)):
        out: dict[str, list[str]] = {}
        for index, item in enumerate(value):
            paths = _expand(item, str(item))
            name = _variant_name(paths[0], index)
            while name in out:
                name = f"{name}-{index}"
            out[name] = paths
        return out
    return {str(name): _expand(os.fspath(item) if isinstance(item, os.PathLike) else item, str(name)) for name, item in value.items()}


def _resolve_datasets(datasets: Any, variants: Mapping[str, list[str]], data_dir: Any,
                      roots: Mapping[str, Any], overrides: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Test-set configs: names resolved by :func:`data_config`, configs used as given; None: the variants' own."""
    from iqa.checkpoints import read_meta
    from iqa.config import to_plain

    if datasets is None:
        # No test set named: each variant's training set, from the data config its checkpoints recorded.
        found: dict[str, Any] = {}
        for paths in variants.values():
            for path in paths:
                meta = read_meta(path)
                if not meta.data_config:
                    raise UserError(f"{path} records no data config (an exported checkpoint?); name the test sets")
                found.setdefault(str(meta.data_config.get("name")), meta.data_config)
        datasets = list(found.values())
    elif isinstance(datasets, (str, Mapping)) or hasattr(datasets, "keys"):
        datasets = [datasets]
    if not datasets:
        raise UserError("no test set: name at least one dataset")
    configs = []
    for item in datasets:
        if isinstance(item, (str, os.PathLike)):
            name = str(item)
            configs.append(data_config(name, data_dir=data_dir, root=roots.get(name), overrides=overrides.get(name)))
        else:
            config = to_plain(item)
            if str(config.get("name")) in {*roots, *overrides}:
                # A resolved config has its root substituted everywhere already; a change here would be half-applied.
                raise UserError(f"roots / dataset_overrides apply to test sets given by name; change the config of "
                                f"'{config.get('name')}' itself")
            configs.append(config)
    names = [str(c.get("name")) for c in configs]
    if len(set(names)) != len(names):
        raise UserError(f"datasets lists a test set twice: {names}")
    for what, given in (("roots", roots), ("dataset_overrides", overrides)):
        unknown = set(given) - set(names)
        if unknown:
            raise UserError(f"{what} names dataset(s) not under test: {', '.join(sorted(unknown))}")
    for config, name in zip(configs, names):
        if not config.get("iqa"):
            raise UserError(f"data={name} is an unlabelled corpus; evaluation needs an IQA dataset with MOS")
    return configs


def view_for_test_set(view: Mapping[str, Any], crop_size: int | None, data: Mapping[str, Any]):
    """The :class:`~iqa.data.records.View` a test set is scored with.

    It starts from the test set's own scoring view (``data.iqa.view``, the
    view a checkpoint trained on it records; else resizing to
    ``data.iqa.image_size``); each setting of ``view`` and ``crop_size`` that
    is not None replaces the matching one.
    """
    from iqa.data.records import View, check_view_keys, scoring_view

    check_view_keys(view, "view")
    section = data.get("iqa") or {}
    size = int(section.get("image_size", 384))
    base = scoring_view(section.get("view"), size) or {"image_size": size}
    given = {k: v for k, v in {**view, "crop_size": crop_size}.items() if v is not None}
    return View(**{**base, **given})


# -- results -----------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    """Median of the finite values (NaN if none): a seed whose correlation is undefined does not poison it."""
    finite = [v for v in values if np.isfinite(v)]
    return float(statistics.median(finite)) if finite else float("nan")


@dataclass
class Prediction:
    """One scored image: ``prediction`` is on the test set's native MOS scale (NaN if unreadable)."""

    checkpoint: str
    source: str
    mos: float
    prediction: float
    error: str = ""


@dataclass
class CellResult:
    """One variant on one test set: the median metrics over its checkpoints and everything behind them."""

    variant: str
    test: str
    metrics: dict[str, float]
    n: int
    seeds: int
    split: str | list[str]
    per_checkpoint: list[dict[str, Any]]
    mos_range: list[float]
    higher_is_better: bool
    view: dict[str, Any]
    predictions: list[Prediction] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The matrix cell: metrics, ``n`` (median over checkpoints), ``seeds`` and ``split``."""
        return {**self.metrics, "n": self.n, "seeds": self.seeds, "split": self.split}

    def detail(self) -> dict[str, Any]:
        """The cell with its per-checkpoint values, MOS scale and view (``results.json`` details)."""
        return {
            **self.summary(),
            "aggregate": "median over checkpoints" if len(self.per_checkpoint) > 1 else "single checkpoint",
            "per_checkpoint": self.per_checkpoint,
            "mos_range": list(self.mos_range),
            "higher_is_better": self.higher_is_better,
            "view": dict(self.view),
        }

    def scored(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mos, prediction)`` of every readable image, pooled over checkpoints (for scatter plots)."""
        kept = [p for p in self.predictions if np.isfinite(p.prediction)]
        return (np.array([p.mos for p in kept], dtype=np.float64), np.array([p.prediction for p in kept], dtype=np.float64))


@dataclass
class EvaluationResults:
    """What :func:`evaluate` found: ``cells[variant][test]`` plus the variants' provenance."""

    tests: list[str]
    variants: dict[str, dict[str, Any]]
    cells: dict[str, dict[str, CellResult]]
    split: str = "test"
    cross_split: str = "all"

    @property
    def matrix(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``matrix[variant][test]``: median metrics, ``n``, ``seeds``, ``split``."""
        return {v: {t: cell.summary() for t, cell in per.items()} for v, per in self.cells.items()}

    @property
    def details(self) -> dict[str, dict[str, dict[str, Any]]]:
        return {v: {t: cell.detail() for t, cell in per.items()} for v, per in self.cells.items()}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: what ``results.json`` holds."""
        return {"split": self.split, "cross_split": self.cross_split, "tests": list(self.tests), "variants": self.variants,
                "results": self.matrix, "details": self.details}

    def to_frame(self):
        """A :class:`pandas.DataFrame`, one row per (variant, test set): the median metrics, ``n``, ``seeds``, ``split``."""
        import pandas as pd

        rows = [{"variant": v, "trained_on": self.variants[v]["trained_on"], "test_set": t, **cell.summary()}
                for v, per in self.cells.items() for t, cell in per.items()]
        return pd.DataFrame(rows, columns=["variant", "trained_on", "test_set", *METRICS, "n", "seeds", "split"])

    def per_checkpoint_frame(self):
        """One row per (variant, test set, checkpoint): the values the medians are taken over."""
        import pandas as pd

        rows = [{"variant": v, "test_set": t, **{k: c[k] for k in ("checkpoint", "split", *METRICS, "n")}}
                for v, per in self.cells.items() for t, cell in per.items() for c in cell.per_checkpoint]
        return pd.DataFrame(rows, columns=["variant", "test_set", "checkpoint", "split", *METRICS, "n"])

    def predictions(self, variant: str, test: str):
        """The per-image predictions of one cell (every checkpoint of the variant) as a DataFrame."""
        import pandas as pd

        try:
            cell = self.cells[variant][test]
        except KeyError:
            raise UserError(f"no result for variant '{variant}' on '{test}'") from None
        return pd.DataFrame([vars(p) for p in cell.predictions], columns=["checkpoint", "source", "mos", "prediction", "error"])


# -- evaluation --------------------------------------------------------------------------------


def evaluate(
    checkpoints: Any,
    datasets: Any = None,
    *,
    split: str = "test",
    cross_split: str = "all",
    view: Mapping[str, Any] | None = None,
    crop_size: int | None = None,
    batch_size: int = 32,
    num_workers: int = 0,
    device: str | None = None,
    data_dir: str | os.PathLike | None = None,
    roots: Mapping[str, Any] | None = None,
    dataset_overrides: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> EvaluationResults:
    """Score every variant's checkpoints on every test set; returns :class:`EvaluationResults`.

    ``checkpoints``: a path or glob, a list (one variant each), or a mapping
    ``{variant: path, glob or list}``. ``datasets``: names of ``data`` configs
    (``"koniq10k"``; resolved by :func:`data_config` with ``data_dir``,
    ``roots[name]`` and ``dataset_overrides[name]``), resolved data-config
    mappings, or a mix; None: each variant's own training set, from the data
    config its checkpoints recorded. ``view``: settings of
    :class:`~iqa.data.records.View` (``policy``, ``image_size``, ``max_side``,
    ``upscale``) that replace the test set's own scoring view (see
    :func:`view_for_test_set`); ``crop_size``: the centre crop or tile side. ``device``:
    None picks CUDA when present.
    """
    from iqa.config import instantiate_node
    from iqa.data.catalog import dataset_from_config, dataset_scale, split_records, split_settings
    from iqa.inference import predict_items
    from iqa.metrics import MOSScale, compute_all
    from iqa.models import load_net

    variants = expand_checkpoints(checkpoints)
    configs = _resolve_datasets(datasets, variants, data_dir, dict(roots or {}), dict(dataset_overrides or {}))
    tests = []
    for data in configs:
        if data.get("prepare"):
            instantiate_node(data["prepare"], drop=())  # e.g. build the demo corpus once
        (low, high), higher = dataset_scale(data)
        dataset_from_config(data).records()  # a missing or incomplete root fails here, before any scoring
        tests.append({"name": data["name"], "data": data, "scale": MOSScale(low, high, higher),
                      "view": view_for_test_set(view or {}, crop_size, data)})
    records_cache: dict[str, list] = {}
    cells: dict[str, dict[str, CellResult]] = {}
    about: dict[str, dict[str, Any]] = {}
    for variant, paths in variants.items():
        cells[variant] = {}
        runs = [(path, *load_net(path)) for path in paths]  # one variant's nets in memory at a time
        trained_on = sorted({str(meta.data) for _, _, meta in runs})
        about[variant] = {"checkpoints": [path for path, _, _ in runs],
                          "trained_on": trained_on[0] if len(trained_on) == 1 else trained_on,
                          "init": sorted({str(meta.init) for _, _, meta in runs})}
        for test in tests:
            per_checkpoint: list[dict[str, Any]] = []
            predictions: list[Prediction] = []
            for number, (path, net, meta) in enumerate(runs):
                own = meta.data == test["name"]
                chosen = str(split) if own else str(cross_split)
                settings = meta.split if own and meta.split else split_settings(test["data"])
                key = json.dumps([test["name"], chosen, settings], sort_keys=True)
                if key not in records_cache:
                    records_cache[key] = split_records(test["data"], chosen, settings)
                records = records_cache[key]
                if not records:
                    raise UserError(f"{test['name']}: split '{chosen}' is empty")
                label = f"{variant} on {test['name']}" + (f" [{number + 1}/{len(runs)}]" if len(runs) > 1 else "")
                normalised, _, errors = predict_items(net, records, test["view"], batch_size=int(batch_size), num_workers=int(num_workers),
                                                device=device, progress=label if progress else None)
                keep = np.isfinite(normalised)
                mos = np.array([r.mos for r in records], dtype=np.float64)
                # Unit-scale quality (1 = best) mapped onto this test set's native scale:
                # correlations are then positive for a good model whatever the direction.
                pred = np.asarray(test["scale"].denormalise(normalised), dtype=np.float64)
                if keep.sum() < 2:
                    raise UserError(f"{variant} on {test['name']}: fewer than 2 readable images ({len(errors)} unreadable)")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    metrics = compute_all(pred[keep], mos[keep])
                per_checkpoint.append({
                    **{k: float(metrics[k]) for k in METRICS}, "n": int(keep.sum()), "checkpoint": str(path),
                    "split": chosen, "split_recipe": settings if chosen != "all" else None,
                    "skipped": [{"source": records[i].source, "reason": r} for i, r in sorted(errors.items())],
                })
                predictions += [Prediction(str(path), r.source, r.mos, float(v), errors.get(i, ""))
                                for i, (r, v) in enumerate(zip(records, pred))]
            splits = sorted({c["split"] for c in per_checkpoint})
            v = test["view"]
            cells[variant][test["name"]] = CellResult(
                variant=variant, test=test["name"], metrics={k: median([c[k] for c in per_checkpoint]) for k in METRICS},
                n=int(statistics.median([c["n"] for c in per_checkpoint])), seeds=len(per_checkpoint),
                split=splits[0] if len(splits) == 1 else splits, per_checkpoint=per_checkpoint,
                mos_range=[test["scale"].low, test["scale"].high], higher_is_better=test["scale"].higher_is_better,
                view=asdict(v),
                predictions=predictions,
            )
    return EvaluationResults(tests=[t["name"] for t in tests], variants=about, cells=cells, split=split, cross_split=cross_split)


__all__ = ["METRICS", "METRIC_NAMES", "CellResult", "EvaluationResults", "Prediction", "data_config", "evaluate",
           "expand_checkpoints", "median", "view_for_test_set"]
