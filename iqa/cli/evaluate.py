"""evaluate.py: SRCC / PLCC / KRCC of checkpoints on the test split of IQA datasets.

Outputs (for the demo, in ``outputs/demo``):
``results.json`` (variant -> dataset -> metrics), ``results.csv``, ``results.md``,
written to ``results_dir`` (default: the run directory),
``predictions-<variant>-<dataset>.csv`` and ``scatter.png``.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from iqa.cli.common import prepare_data, setup_run
from iqa.data.labels import atomic_write_bytes, atomic_write_json, atomic_write_text
from iqa.data.records import load_split
from iqa.errors import UserError
from iqa.inference import predict_items
from iqa.metrics import MOSScale, compute_all
from iqa.models import net_from_checkpoint

log = logging.getLogger("iqa.evaluate")

METRICS = ("srcc", "plcc", "krcc", "plcc_logistic")


def checkpoints(cfg: DictConfig) -> dict[str, str]:
    """``ckpt`` as a mapping variant -> path (a single path or a list also work)."""
    value = OmegaConf.to_container(cfg.ckpt, resolve=True) if OmegaConf.is_config(cfg.ckpt) else cfg.ckpt
    if isinstance(value, str):
        value = {Path(value).parent.parent.name or "model": value}
    elif isinstance(value, list):
        value = {f"{Path(p).parent.parent.name}" or f"model{i}": p for i, p in enumerate(value)}
    missing = {k: v for k, v in value.items() if not Path(v).is_file()}
    if missing:
        name, path = next(iter(missing.items()))
        raise UserError(f"checkpoint for '{name}' not found: {path}")
    return dict(value)


def datasets(cfg: DictConfig) -> list[DictConfig]:
    names = cfg.get("datasets")
    if not names:
        return [cfg.data]
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from iqa.config import config_dir

    loaded = []
    for name in names:
        if name == cfg.data.name:
            loaded.append(cfg.data)
            continue
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            loaded.append(compose(config_name="evaluate", overrides=[f"data={name}", "ckpt=unused"]).data)
    return loaded


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    results: dict[str, dict[str, Any]] = {}
    scatter: list[tuple[str, str, np.ndarray, np.ndarray, Mapping[str, float]]] = []
    run_dir = Path(cfg.results_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for variant, path in checkpoints(cfg).items():
        net, hparams = net_from_checkpoint(path)
        results[variant] = {}
        for data in datasets(cfg):
            prepare_data(data)
            records = load_split(data, cfg.split)
            section = data.iqa
            test_scale = MOSScale(float(section.mos_range[0]), float(section.mos_range[1]), bool(section.higher_is_better))
            unit, _, errors = predict_items(
                net, records, int(section.get("image_size", 384)), cfg.get("crop_size"), int(cfg.batch_size),
                num_workers=int(cfg.num_workers), progress=f"{variant} on {data.name}",
            )
            keep = np.isfinite(unit)
            mos = np.array([r.mos for r in records], dtype=np.float64)
            # Unit-scale quality (1 = best) mapped onto this test set's native scale:
            # correlations are then positive for a good model whatever the direction.
            pred = np.asarray(test_scale.from_unit(unit), dtype=np.float64)
            metrics = compute_all(pred[keep], mos[keep])
            results[variant][data.name] = {
                **{k: float(metrics[k]) for k in METRICS},
                "n": int(keep.sum()),
                "skipped": [{"source": records[i].source, "reason": r} for i, r in sorted(errors.items())],
                "checkpoint": str(path),
                "trained_on": hparams.get("data"),
                "mos_range": list(section.mos_range),
                "higher_is_better": bool(section.higher_is_better),
            }
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["source", "mos", "prediction"])
            for record, value in zip(records, pred):
                writer.writerow([record.source, record.mos, "" if not np.isfinite(value) else f"{value:.6f}"])
            atomic_write_text(run_dir / f"predictions-{variant}-{data.name}.csv", buffer.getvalue())
            scatter.append((variant, data.name, mos[keep], pred[keep], results[variant][data.name]))
    return {"results": results, "scatter": scatter}


def table(results: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> tuple[str, str]:
    """Markdown and CSV tables of the results."""
    rows = [(v, d, m) for v, per in results.items() for d, m in per.items()]
    md = ["| variant | test set | SRCC | PLCC | KRCC | PLCC (4-param logistic) | n |", "|---|---|---|---|---|---|---|"]
    md += [f"| {v} | {d} | {m['srcc']:.4f} | {m['plcc']:.4f} | {m['krcc']:.4f} | {m['plcc_logistic']:.4f} | {m['n']} |" for v, d, m in rows]
    md.append("\nAll correlations: higher is better (1 = perfect agreement with MOS).")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["variant", "test_set", *METRICS, "n"])
    writer.writerows([v, d, *(f"{m[k]:.6f}" for k in METRICS), m["n"]] for v, d, m in rows)
    return "\n".join(md) + "\n", buffer.getvalue()


def plot(scatter: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = len({s[1] for s in scatter})
    rows = len({s[0] for s in scatter})
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.0 * rows), squeeze=False)
    variants = list(dict.fromkeys(s[0] for s in scatter))
    names = list(dict.fromkeys(s[1] for s in scatter))
    for variant, name, mos, pred, metrics in scatter:
        ax = axes[variants.index(variant)][names.index(name)]
        ax.scatter(mos, pred, s=8, alpha=0.5)
        low, high = metrics["mos_range"]
        ax.plot([low, high], [low, high], color="grey", lw=0.8, ls="--")
        ax.set_title(f"{variant} on {name}\nSRCC {metrics['srcc']:.3f}  PLCC {metrics['plcc']:.3f}", fontsize=9)
        ax.set_xlabel("MOS")
        ax.set_ylabel("prediction")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def run(cfg: DictConfig) -> dict[str, Any]:
    setup_run(cfg)
    run_dir = Path(cfg.results_dir)
    out = evaluate(cfg)
    results = out["results"]
    markdown, csv_text = table(results)
    payload = {"split": cfg.split, "results": {v: {d: {k: m[k] for k in (*METRICS, "n")} for d, m in per.items()} for v, per in results.items()},
               "details": results}
    atomic_write_json(run_dir / "results.json", payload)
    atomic_write_text(run_dir / "results.md", markdown)
    atomic_write_text(run_dir / "results.csv", csv_text)
    plot(out["scatter"], run_dir / "scatter.png")
    print()
    print(markdown)
    print(f"outputs: {run_dir}/results.json, results.md, results.csv, scatter.png, predictions-*.csv")
    return payload
