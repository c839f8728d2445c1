"""Reports of an evaluation (:class:`~iqa.evaluation.crossdataset.EvaluationResults`): tables, plots, logger output.

:func:`write_reports` writes, in one directory:

* ``results.json``: the matrix, every per-checkpoint value, MOS scales, views;
* ``results.md``: a matrix per metric (SRCC, PLCC), then the long table;
* ``results.csv`` (long form, a row per variant and test set) and ``matrix.csv``
  (wide, a row per variant);
* ``predictions-<variant>-<test set>.csv``: every scored image;
* ``scatter-<test set>.png`` (a panel per variant) and ``scatter.png`` (all).

Every file is written atomically and carries no timestamp, so the same results
give the same bytes. :func:`log_results` sends the matrix to a Lightning
logger (a W&B table and the scatter images, or scalars for other loggers).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from iqa.evaluation.crossdataset import METRIC_NAMES, METRICS, EvaluationResults
from iqa.io import atomic_write_bytes, atomic_write_json, atomic_write_text

Matrix = Mapping[str, Mapping[str, Mapping[str, Any]]]


def _fmt(value: float) -> str:
    return "nan" if not np.isfinite(value) else f"{value:.4f}"


def _row_label(variant: str, about: Mapping[str, Any]) -> str:
    return f"{variant} (trained on {about.get('trained_on')})"


def table(results: Matrix, variants: Mapping[str, Any] | None = None, tests: Sequence[str] | None = None) -> tuple[str, str]:
    """Markdown (matrices per metric, then the long table) and the long-form CSV of a matrix."""
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


def matrix_csv(results: Matrix, variants: Mapping[str, Any], tests: Sequence[str]) -> str:
    """The wide CSV: a row per variant, a ``<test set>/<metric>`` column per cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["variant", "trained_on", *(f"{t}/{m}" for t in tests for m in METRICS)])
    for variant, per in results.items():
        writer.writerow([variant, variants.get(variant, {}).get("trained_on", ""),
                         *(f"{per[t][m]:.6f}" if t in per else "" for t in tests for m in METRICS)])
    return buffer.getvalue()


def predictions_csv(results: EvaluationResults, variant: str, test: str) -> str:
    """Every image one variant scored on one test set (all its checkpoints), in scoring order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["checkpoint", "source", "mos", "prediction", "error"])
    writer.writerows([p.checkpoint, p.source, p.mos, "" if not np.isfinite(p.prediction) else f"{p.prediction:.6f}", p.error]
                     for p in results.cells[variant][test].predictions)
    return buffer.getvalue()


def _figure(panels: list[dict[str, Any]], columns: int) -> bytes:
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


def _panels(results: EvaluationResults) -> list[dict[str, Any]]:
    panels = []
    for variant, per in results.cells.items():
        for test, cell in per.items():
            mos, pred = cell.scored()
            panels.append({"variant": variant, "test": test, "mos": mos, "pred": pred, "metrics": cell.detail()})
    return panels


def plot(results: EvaluationResults, results_dir: str | Path) -> list[Path]:
    """``scatter-<test set>.png`` per test set (a panel per variant) and ``scatter.png`` with every panel.

    Returns the per-test-set images (what :func:`log_results` sends to W&B).
    """
    results_dir = Path(results_dir)
    scatter = _panels(results)
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


def write_reports(results: EvaluationResults, results_dir: str | Path) -> dict[str, Any]:
    """Write every report file (see the module docstring) into ``results_dir``.

    Returns ``{"markdown": <results.md text>, "images": [per-test-set scatter paths]}``.
    """
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    matrix = results.matrix
    for variant, per in results.cells.items():
        for test in per:
            atomic_write_text(results_dir / f"predictions-{variant}-{test}.csv", predictions_csv(results, variant, test))
    markdown, csv_text = table(matrix, results.variants, results.tests)
    atomic_write_json(results_dir / "results.json", results.to_dict())
    atomic_write_text(results_dir / "results.md", markdown)
    atomic_write_text(results_dir / "results.csv", csv_text)
    atomic_write_text(results_dir / "matrix.csv", matrix_csv(matrix, results.variants, results.tests))
    images = plot(results, results_dir)
    return {"markdown": markdown, "images": images}


def log_results(logger: Any, results: EvaluationResults, images: Sequence[Path] = ()) -> None:
    """Send the matrix to a Lightning logger: W&B tables and scatter images, or scalars for other loggers."""
    if not logger:
        return
    matrix, variants = results.matrix, results.variants
    scalars = {f"{v}/{d}/{k}": m[k] for v, per in matrix.items() for d, m in per.items() for k in METRICS if np.isfinite(m[k])}
    if "wandb" in type(logger).__name__.lower():
        columns = ["variant", "trained_on", "test_set", "split", "seeds", *METRICS, "n"]
        data = [[v, str(variants[v]["trained_on"]), d, str(m["split"]), m["seeds"], *(m[k] for k in METRICS), m["n"]]
                for v, per in matrix.items() for d, m in per.items()]
        logger.log_table(key="cross_dataset", columns=columns, data=data)
        tests = results.tests
        wide = [[v, str(variants[v]["trained_on"]), *(per[t]["srcc"] if t in per else None for t in tests)] for v, per in matrix.items()]
        logger.log_table(key="cross_dataset_srcc", columns=["variant", "trained_on", *tests], data=wide)
        for path in images:
            logger.log_image(key=f"scatter/{path.stem.removeprefix('scatter-')}", images=[str(path)])
        logger.experiment.summary.update(scalars)
    else:
        logger.log_metrics(scalars, step=0)


__all__ = ["log_results", "matrix_csv", "plot", "predictions_csv", "table", "write_reports"]
