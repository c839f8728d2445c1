"""Loggers: building and closing the ``logger`` config's choice, and a CSV logger that survives a resume.

:func:`build_logger` instantiates the ``logger`` node of a run's config (none, csv,
wandb, tensorboard; W&B writes under the run's own folder) and :func:`close_logger`
flushes it, so that every job (training, labelling, evaluation, ranking) logs alike.

A CSV logger that survives a resume:

Lightning's ``CSVLogger`` deletes ``metrics.csv`` when its directory already
holds files, so resuming a run from ``last.ckpt`` throws away every metric
logged before the interruption. :class:`ResumableCSVLogger` keeps that file
and appends to it. Rows that the interrupted run logged *after* the checkpoint
it is resumed from are logged again by the resumed run; they are dropped when
the resumed run first writes, so each step appears once: any existing row whose
step is at or after the first step the new run logs is replaced by the new
run's rows.
"""

from __future__ import annotations

import csv
import io
import os
from typing import Any

from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter

from iqa.config import instantiate_node
from iqa.io import atomic_write_text


def _step(row: dict[str, str]) -> float | None:
    """A row's step, or ``None`` where it has none (such rows are always kept)."""
    try:
        return float(row["step"]) if row.get("step") else None
    except ValueError:
        return None


class _AppendingWriter(ExperimentWriter):
    """An ``ExperimentWriter`` that keeps an existing ``metrics.csv`` instead of deleting it."""

    def _check_log_dir_exists(self) -> None:
        self._trim_pending = os.path.isfile(self.metrics_file_path)
        if not self._trim_pending:
            return
        with open(self.metrics_file_path, newline="") as file:
            header = next(csv.reader(file), [])
        # Known columns, so that new keys extend the header instead of rewriting it without the old ones.
        self.metrics_keys = sorted(set(header))

    def save(self) -> None:
        if self.metrics and self._trim_pending:
            self._trim_pending = False
            steps = [m["step"] for m in self.metrics if m.get("step") is not None]
            if steps:
                self._drop_rows_from(min(steps))
        super().save()

    def _drop_rows_from(self, first_step: float) -> None:
        """Drop rows at or after ``first_step``: the interrupted run logged them past its last checkpoint."""
        with open(self.metrics_file_path, newline="") as file:
            reader = csv.DictReader(file)
            fieldnames = list(reader.fieldnames or [])
            rows = list(reader)
        kept = [row for row in rows if (step := _step(row)) is None or step < first_step]
        if len(kept) == len(rows):
            return
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(kept)
        atomic_write_text(self.metrics_file_path, buffer.getvalue())


class ResumableCSVLogger(CSVLogger):
    """``CSVLogger`` whose ``metrics.csv`` carries over a resume (see the module docstring)."""

    @property
    def experiment(self) -> Any:
        if self._experiment is not None:
            return self._experiment
        from pytorch_lightning.utilities.rank_zero import rank_zero_only

        if rank_zero_only.rank != 0:  # as Lightning's: other ranks write nothing
            return super().experiment
        self._fs.makedirs(self.root_dir, exist_ok=True)
        self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


#: The WANDB_DIR this process set for its previous run; a value the user set is never overridden.
_OWN_WANDB_DIR: list[str] = []


def build_logger(cfg: Any):
    """The run's ``logger`` node built (False for ``logger=none``); W&B writes under ``cfg.run_dir``."""
    logger_cfg = cfg.get("logger")
    if logger_cfg is None or logger_cfg.get("_target_") is None:
        return False
    if "wandb" in str(logger_cfg._target_).lower():
        # W&B writes under the run directory of *this* run, also when one process runs several
        # (a multirun sweep, a notebook): the value set for an earlier run is replaced.
        if os.environ.get("WANDB_DIR") is None or os.environ.get("WANDB_DIR") in _OWN_WANDB_DIR:
            os.environ["WANDB_DIR"] = str(cfg.run_dir)
            _OWN_WANDB_DIR.append(str(cfg.run_dir))
        if os.environ.get("WANDB_MODE") == "offline":
            os.environ.setdefault("WANDB_SILENT", "true")
    return instantiate_node(logger_cfg, drop=())


def close_logger(logger) -> None:
    """Flush and close a logger; W&B runs must be finished or their summary is never written."""
    if not logger:
        return
    if "wandb" in type(logger).__name__.lower():
        import wandb

        if wandb.run is not None:
            wandb.finish()
    else:
        logger.finalize("success")
