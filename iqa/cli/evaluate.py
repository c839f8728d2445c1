"""evaluate.py: the cross-dataset matrix (training set x test set) of SRCC / PLCC / KRCC.

    python evaluate.py ckpt=<path> data=[koniq10k,spaq,livec]
    python evaluate.py 'ckpt={attiqa: a.ckpt, imagenet: b.ckpt}' data=[koniq10k,spaq]
    python evaluate.py 'ckpt={attiqa: "outputs/multirun/train/<stamp>/*/checkpoints/best.ckpt"}' data=[livec]

Rows are variants (a checkpoint, or several checkpoints of one recipe trained
on different random splits: a list or glob), columns are test sets. A test
set that is the variant's own training dataset is evaluated on ``split``
(default ``test``) rebuilt with the exact split recipe recorded in the
checkpoint (scheme, ``split_seed``, fractions), so no training or validation
image is ever scored; any other test set is evaluated on ``cross_split``
(default ``all`` of its images). Several checkpoints per variant report the
median of each metric over them, with every per-checkpoint value kept in
``results.json``.

Outputs, in ``results_dir`` (default: the run directory):
``results.json`` (matrix + details), ``results.md``, ``results.csv`` (long
form), ``matrix.csv`` (wide), ``scatter-<test set>.png`` (one panel per
variant), ``scatter.png`` (every panel), ``predictions-<variant>-<test set>.csv``;
with ``logger=wandb`` also a W&B table and the scatter images.

Hydra merges ``data=[a,b]`` (a list of choices of one group) into a single
``data`` node, which is not what a list of test sets means; :func:`main`
therefore rewrites ``data=[a,b,c]`` into ``datasets=[a,b,c] data=a`` before
Hydra sees the command line (``datasets=[...]`` works directly too).
"""

from __future__ import annotations

import csv
import glob
import io
import json
import logging
import re
import statistics
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf, open_dict

from iqa.cli.common import build_logger, close_logger, prepare_data, setup_run
from iqa.errors import UserError, suggest
from iqa.io import atomic_write_bytes, atomic_write_json, atomic_write_text

log = logging.getLogger("iqa.evaluate")

METRICS = ("srcc", "plcc", "krcc", "plcc_logistic")
METRIC_NAMES = {"srcc": "SRCC", "plcc": "PLCC", "krcc": "KRCC", "plcc_logistic": "PLCC (4-param logistic)"}
_LIST_OVERRIDE = re.compile(r"^data=\[(.*)\]$")


# -- command line ------------------------------------------------------------------------------


def rewrite_dataset_list(argv: Sequence[str]) -> list[str]:
    """``data=[a,b,c]`` -> ``datasets=[a,b,c] data=a`` (+ ``run_name=a-b-c`` unless one is given)."""
    out: list[str] = []
    names: list[str] | None = None
    for arg in argv:
        match = _LIST_OVERRIDE.match(arg)
        if match:
            names = [n.strip().strip("'\"") for n in match.group(1).split(",") if n.strip()]
            continue
        out.append(arg)
    if names is None:
        return list(argv)
    if not names:
        raise SystemExit("error: data=[] names no dataset")
    out += [f"datasets=[{','.join(names)}]", f"data={names[0]}"]
    if not any(a.startswith("run_name=") for a in out):
        out.append(f"run_name={'-'.join(names)}")
    return out


def main() -> None:
    from iqa.cli.common import hydra_entry

    sys.argv = [sys.argv[0], *rewrite_dataset_list(sys.argv[1:])]
    hydra_entry("evaluate", run)


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


def checkpoints(cfg: DictConfig) -> dict[str, list[str]]:
    """``ckpt`` as variant -> checkpoint paths.

    A path or glob: one variant (a glob matching several checkpoints is one
    variant over several splits). A list: one variant per entry. A mapping:
    variant -> path, glob or list.
    """
    value = OmegaConf.to_container(cfg.ckpt, resolve=True) if OmegaConf.is_config(cfg.ckpt) else cfg.ckpt
    if value in (None, "", "???"):
        raise UserError("pass ckpt=<checkpoint>, a list, or a mapping {variant: checkpoint or glob}")
    if isinstance(value, str):
        paths = _expand(value, value)
        return {_common_name(paths): paths}
    if isinstance(value, list):
        out: dict[str, list[str]] = {}
        for index, item in enumerate(value):
            paths = _expand(item, str(item))
            name = _variant_name(paths[0], index)
            while name in out:
                name = f"{name}-{index}"
            out[name] = paths
        return out
    return {str(name): _expand(item, str(name)) for name, item in value.items()}


def _common_name(paths: Sequence[str]) -> str:
    """The run name the paths share (sweep jobs differ in their folder: then the sweep's name)."""
    names = {_variant_name(p, i) for i, p in enumerate(paths)}
    if len(names) == 1:
        return names.pop()
    runs = {Path(p).parent.parent if Path(p).parent.name == "checkpoints" else Path(p).parent for p in paths}
    parents = {r.parent.name for r in runs}
    return parents.pop() if len(parents) == 1 and next(iter(parents)) else "model"


def _data_choices() -> list[str]:
    from iqa.config import config_dir

    return sorted(p.stem for p in Path(config_dir(), "data").glob("*.yaml"))


def _data_choice() -> str | None:
    """The ``data`` group choice of the running Hydra app (None outside one)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return HydraConfig.get().runtime.choices.get("data") if HydraConfig.initialized() else None
    except (ImportError, ValueError):
        return None


def datasets(cfg: DictConfig) -> list[DictConfig]:
    """The test sets: ``datasets`` (names of ``data`` choices), or ``[data]``.

    Each named config is placed at ``data`` in a copy of this config, so its
    interpolations (``${paths.data_dir}``, ...) resolve against the same
    ``paths`` overrides; ``roots: {name: dir}`` moves a dataset's root and
    ``dataset_overrides: {name: {key: value}}`` changes any other setting.
    """
    from iqa.config import config_dir

    names = list(cfg.get("datasets") or [])
    roots = OmegaConf.to_container(cfg.roots, resolve=True) if cfg.get("roots") else {}
    changes = OmegaConf.to_container(cfg.dataset_overrides, resolve=False) if cfg.get("dataset_overrides") else {}
    # The composed `data` node serves the entry naming it, by its name (data.name=agiqa3k) or by its choice
    # (data=csv), so that everything overridden on the command line for it applies.
    primary = {str(cfg.data.name), _data_choice()}
    if not names:
        names = [cfg.data.name]
    if len(set(names)) != len(names):
        raise UserError(f"datasets lists a test set twice: {names}")
    choices = _data_choices()
    for name in names:
        if name not in choices and name not in primary:
            raise UserError(f"unknown dataset '{name}'{suggest(name, choices)}; valid: {', '.join(choices)}")
    for what, given in (("roots", roots), ("dataset_overrides", changes)):
        unknown = set(given) - set(names)
        if unknown:
            raise UserError(f"{what} names dataset(s) not under test: {', '.join(sorted(unknown))}")
    loaded = []
    for name in names:
        if name in primary:
            node = cfg
        else:
            path = Path(config_dir(), "data", f"{name}.yaml")
            node = cfg.copy()
            with open_dict(node):
                node.data = OmegaConf.load(path)
        if name in roots or name in changes:
            with open_dict(node):
                if name in changes:
                    node.data = OmegaConf.merge(node.data, changes[name])
                if name in roots:
                    node.data.root = roots[name]
        if not node.data.get("iqa"):
            raise UserError(f"data={name} is an unlabelled corpus; evaluation needs an IQA dataset with MOS")
        loaded.append(node.data)
    return loaded


# -- evaluation --------------------------------------------------------------------------------


def _median(values: Sequence[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(statistics.median(finite)) if finite else float("nan")


def _view(cfg: DictConfig, data_cfg: Mapping[str, Any]):
    from iqa.data.records import View

    view = cfg.get("view") or {}
    size = view.get("image_size") or (data_cfg.get("iqa") or {}).get("image_size", 384)
    return View(image_size=int(size), policy=str(view.get("policy", "resize")), crop_size=cfg.get("crop_size"),
                max_side=view.get("max_side"))


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    from iqa.config import to_plain
    from iqa.data.catalog import dataset_from_config, dataset_scale, split_records, split_settings
    from iqa.inference import predict_items
    from iqa.metrics import MOSScale, compute_all
    from iqa.models import net_from_checkpoint

    results_dir = Path(cfg.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    device = None if str(cfg.get("device", "auto")) == "auto" else str(cfg.device)
    variants = checkpoints(cfg)
    tests = []
    for node in datasets(cfg):
        prepare_data(node)
        data = to_plain(node)
        (low, high), higher = dataset_scale(data)
        dataset_from_config(data).records()  # a missing or incomplete root fails here, before any scoring
        tests.append({"name": data["name"], "data": data, "scale": MOSScale(low, high, higher), "view": _view(cfg, data)})
    records_cache: dict[str, list] = {}
    matrix: dict[str, dict[str, Any]] = {}
    details: dict[str, dict[str, Any]] = {}
    about: dict[str, dict[str, Any]] = {}
    scatter: list[dict[str, Any]] = []
    for variant, paths in variants.items():
        matrix[variant], details[variant] = {}, {}
        runs = []
        for path in paths:
            net, hparams = net_from_checkpoint(path)
            runs.append((path, net, hparams))
        trained_on = sorted({str(h.get("data")) for _, _, h in runs})
        about[variant] = {"checkpoints": list(paths), "trained_on": trained_on[0] if len(trained_on) == 1 else trained_on,
                          "init": sorted({str(h.get("init")) for _, _, h in runs})}
        for test in tests:
            per_checkpoint = []
            pooled_mos, pooled_pred = [], []
            rows = []
            for number, (path, net, hparams) in enumerate(runs):
                own = hparams.get("data") == test["name"]
                split = str(cfg.split) if own else str(cfg.cross_split)
                settings = hparams.get("split") if own and hparams.get("split") else split_settings(test["data"])
                key = json.dumps([test["name"], split, settings], sort_keys=True)
                if key not in records_cache:
                    records_cache[key] = split_records(test["data"], split, settings)
                records = records_cache[key]
                if not records:
                    raise UserError(f"{test['name']}: split '{split}' is empty")
                unit, _, errors = predict_items(
                    net, records, test["view"], batch_size=int(cfg.batch_size), num_workers=int(cfg.num_workers),
                    device=device, progress=f"{variant} on {test['name']}" + (f" [{number + 1}/{len(runs)}]" if len(runs) > 1 else ""),
                )
                keep = np.isfinite(unit)
                mos = np.array([r.mos for r in records], dtype=np.float64)
                # Unit-scale quality (1 = best) mapped onto this test set's native scale:
                # correlations are then positive for a good model whatever the direction.
                pred = np.asarray(test["scale"].from_unit(unit), dtype=np.float64)
                if keep.sum() < 2:
                    raise UserError(f"{variant} on {test['name']}: fewer than 2 readable images ({len(errors)} unreadable)")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    metrics = compute_all(pred[keep], mos[keep])
                per_checkpoint.append({
                    **{k: float(metrics[k]) for k in METRICS}, "n": int(keep.sum()), "checkpoint": str(path),
                    "split": split, "split_recipe": settings if split != "all" else None,
                    "skipped": [{"source": records[i].source, "reason": r} for i, r in sorted(errors.items())],
                })
                pooled_mos.append(mos[keep])
                pooled_pred.append(pred[keep])
                rows += [[str(path), r.source, r.mos, "" if not np.isfinite(v) else f"{v:.6f}", errors.get(i, "")]
                         for i, (r, v) in enumerate(zip(records, pred))]
            splits = sorted({c["split"] for c in per_checkpoint})
            summary = {k: _median([c[k] for c in per_checkpoint]) for k in METRICS}
            summary.update({"n": int(statistics.median([c["n"] for c in per_checkpoint])), "seeds": len(per_checkpoint),
                            "split": splits[0] if len(splits) == 1 else splits})
            matrix[variant][test["name"]] = summary
            details[variant][test["name"]] = {
                **summary,
                "aggregate": "median over checkpoints" if len(per_checkpoint) > 1 else "single checkpoint",
                "per_checkpoint": per_checkpoint,
                "mos_range": [test["scale"].low, test["scale"].high],
                "higher_is_better": test["scale"].higher_is_better,
                "view": {"policy": test["view"].policy, "image_size": test["view"].image_size,
                         "crop_size": test["view"].crop_size, "max_side": test["view"].max_side},
            }
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["checkpoint", "source", "mos", "prediction", "error"])
            writer.writerows(rows)
            atomic_write_text(results_dir / f"predictions-{variant}-{test['name']}.csv", buffer.getvalue())
            scatter.append({"variant": variant, "test": test["name"], "mos": np.concatenate(pooled_mos),
                            "pred": np.concatenate(pooled_pred), "metrics": details[variant][test["name"]]})
    return {"matrix": matrix, "details": details, "variants": about, "scatter": scatter, "tests": [t["name"] for t in tests]}


# -- reports -----------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return "nan" if not np.isfinite(value) else f"{value:.4f}"


def _row_label(variant: str, about: Mapping[str, Any]) -> str:
    return f"{variant} (trained on {about.get('trained_on')})"


def table(results: Mapping[str, Mapping[str, Mapping[str, Any]]], variants: Mapping[str, Any] | None = None,
          tests: Sequence[str] | None = None) -> tuple[str, str]:
    """Markdown (matrices per metric, then the long table) and the long-form CSV."""
    variants = variants or {v: {} for v in results}
    tests = list(tests or dict.fromkeys(d for per in results.values() for d in per))
    md: list[str] = []
    for metric in ("srcc", "plcc"):
        md.append(f"**{METRIC_NAMES[metric]}** (rows: trained on; columns: tested on)\n")
        split_of = {t: next((per[t]["split"] for per in results.values() if t in per), "") for t in tests}
        md.append("| variant | " + " | ".join(f"{t} ({split_of[t]})" for t in tests) + " |")
        md.append("|---|" + "---|" * len(tests))
        for variant, per in results.items():
            cells = [_fmt(per[t][metric]) + (f" (median of {per[t]['seeds']})" if per[t].get("seeds", 1) > 1 else "") if t in per else ""
                     for t in tests]
            md.append(f"| {_row_label(variant, variants.get(variant, {}))} | " + " | ".join(cells) + " |")
        md.append("")
    md.append("| variant | test set | split | seeds | SRCC | PLCC | KRCC | PLCC (4-param logistic) | n |")
    md.append("|---|---|---|---|---|---|---|---|---|")
    rows = [(v, d, m) for v, per in results.items() for d, m in per.items()]
    md += [f"| {v} | {d} | {m.get('split', '')} | {m.get('seeds', 1)} | {_fmt(m['srcc'])} | {_fmt(m['plcc'])} | {_fmt(m['krcc'])} | "
           f"{_fmt(m['plcc_logistic'])} | {m['n']} |" for v, d, m in rows]
    md.append("\nAll correlations: higher is better (1 = perfect agreement with MOS), computed on each test set's native "
              "MOS scale. A variant's own training set is scored on its held-out test split; other sets on the split shown. "
              "Several checkpoints per variant (random splits): the median.")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["variant", "trained_on", "test_set", "split", "seeds", *METRICS, "n"])
    writer.writerows([v, variants.get(v, {}).get("trained_on", ""), d, m.get("split", ""), m.get("seeds", 1),
                      *(f"{m[k]:.6f}" for k in METRICS), m["n"]] for v, d, m in rows)
    return "\n".join(md) + "\n", buffer.getvalue()


def matrix_csv(results: Mapping[str, Mapping[str, Mapping[str, Any]]], variants: Mapping[str, Any], tests: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["variant", "trained_on", *(f"{t}/{m}" for t in tests for m in METRICS)])
    for variant, per in results.items():
        writer.writerow([variant, variants.get(variant, {}).get("trained_on", ""),
                         *(f"{per[t][m]:.6f}" if t in per else "" for t in tests for m in METRICS)])
    return buffer.getvalue()


def _figure(panels: list[dict[str, Any]], columns: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = (len(panels) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 4.0 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, panel in zip(axes.flat, panels):
        metrics = panel["metrics"]
        ax.scatter(panel["mos"], panel["pred"], s=8, alpha=0.5)
        low, high = metrics["mos_range"]
        ax.plot([low, high], [low, high], color="grey", lw=0.8, ls="--")
        seeds = f" (median of {metrics['seeds']})" if metrics.get("seeds", 1) > 1 else ""
        ax.set_title(f"{panel['variant']} on {panel['test']} ({metrics['split']})\n"
                     f"SRCC {metrics['srcc']:.3f}  PLCC {metrics['plcc']:.3f}{seeds}", fontsize=9)
        ax.set_xlabel("MOS" + (" (higher is better)" if metrics["higher_is_better"] else " (lower is better)"))
        ax.set_ylabel("prediction")
    fig.tight_layout()
    buffer = io.BytesIO()
    # No timestamp or software metadata: the same results give the same bytes.
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def plot(scatter: list[dict[str, Any]], results_dir: Path) -> list[Path]:
    """``scatter-<test set>.png`` per test set (a panel per variant) and ``scatter.png`` with every panel."""
    written = []
    tests = list(dict.fromkeys(s["test"] for s in scatter))
    variants = list(dict.fromkeys(s["variant"] for s in scatter))
    for test in tests:
        panels = [s for s in scatter if s["test"] == test]
        path = results_dir / f"scatter-{test}.png"
        atomic_write_bytes(path, _figure(panels, min(4, len(panels))))
        written.append(path)
    ordered = [next(s for s in scatter if s["variant"] == v and s["test"] == t) for v in variants for t in tests]
    atomic_write_bytes(results_dir / "scatter.png", _figure(ordered, len(tests)))
    return written


def log_results(cfg: DictConfig, payload: Mapping[str, Any], images: list[Path]) -> None:
    """Send the matrix to the configured logger: a W&B table and images, or scalars for other loggers."""
    logger = build_logger(cfg)
    if not logger:
        return
    matrix, variants = payload["results"], payload["variants"]
    scalars = {f"{v}/{d}/{k}": m[k] for v, per in matrix.items() for d, m in per.items() for k in METRICS if np.isfinite(m[k])}
    if "wandb" in type(logger).__name__.lower():
        columns = ["variant", "trained_on", "test_set", "split", "seeds", *METRICS, "n"]
        data = [[v, str(variants[v]["trained_on"]), d, str(m["split"]), m["seeds"], *(m[k] for k in METRICS), m["n"]]
                for v, per in matrix.items() for d, m in per.items()]
        logger.log_table(key="cross_dataset", columns=columns, data=data)
        tests = payload["tests"]
        wide = [[v, str(variants[v]["trained_on"]), *(per[t]["srcc"] if t in per else None for t in tests)] for v, per in matrix.items()]
        logger.log_table(key="cross_dataset_srcc", columns=["variant", "trained_on", *tests], data=wide)
        for path in images:
            logger.log_image(key=f"scatter/{path.stem.removeprefix('scatter-')}", images=[str(path)])
        logger.experiment.summary.update(scalars)
    else:
        logger.log_metrics(scalars, step=0)
    close_logger(logger)


def run(cfg: DictConfig) -> dict[str, Any]:
    setup_run(cfg)
    results_dir = Path(cfg.results_dir)
    out = evaluate(cfg)
    results, variants, tests = out["matrix"], out["variants"], out["tests"]
    markdown, csv_text = table(results, variants, tests)
    payload = {
        "split": cfg.split,
        "cross_split": cfg.cross_split,
        "tests": tests,
        "variants": variants,
        "results": results,
        "details": out["details"],
    }
    atomic_write_json(results_dir / "results.json", payload)
    atomic_write_text(results_dir / "results.md", markdown)
    atomic_write_text(results_dir / "results.csv", csv_text)
    atomic_write_text(results_dir / "matrix.csv", matrix_csv(results, variants, tests))
    images = plot(out["scatter"], results_dir)
    log_results(cfg, payload, images)
    print()
    print(markdown)
    print(f"outputs: {results_dir}/results.json, results.md, results.csv, matrix.csv, scatter-*.png, predictions-*.csv")
    return payload
