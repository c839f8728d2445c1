"""Evaluation: the cross-dataset matrix, its reports, and the held-out distortion ladders.

* :mod:`iqa.evaluation.crossdataset`: :func:`evaluate` (``iqa.evaluate``),
  checkpoints x test sets -> SRCC / PLCC / KRCC, as :class:`EvaluationResults`;
* :mod:`iqa.evaluation.reports`: the tables, plots and logger output of such
  results (:func:`write_reports`, :func:`log_results`);
* :mod:`iqa.evaluation.job`: an ``evaluate`` config (Hydra) -> the arguments of
  :func:`evaluate` (``evaluate.py`` / ``iqa evaluate`` around it);
* :mod:`iqa.evaluation.heldout`: distortion ladders built from held-out photos
  (or a folder of your own), checkpoints and classical methods scored on them
  (``iqa heldout``);
* :mod:`iqa.evaluation.peers`: the classical peers BRISQUE and NIQE, from the
  optional ``bench`` extra.

The names of :mod:`~iqa.evaluation.crossdataset` and
:mod:`~iqa.evaluation.reports` are importable from here; ``job``, ``heldout``
and ``peers`` are imported only when asked for, so ``import iqa.evaluation``
loads neither Hydra nor the peers.
"""

from iqa.evaluation.crossdataset import (
    METRIC_NAMES,
    METRICS,
    CellResult,
    EvaluationResults,
    Prediction,
    data_config,
    evaluate,
    expand_checkpoints,
    median,
    view_for_test_set,
)
from iqa.evaluation.reports import log_results, matrix_csv, plot, predictions_csv, table, write_reports

__all__ = [
    "METRICS",
    "METRIC_NAMES",
    "CellResult",
    "EvaluationResults",
    "Prediction",
    "data_config",
    "evaluate",
    "expand_checkpoints",
    "log_results",
    "matrix_csv",
    "median",
    "plot",
    "predictions_csv",
    "table",
    "view_for_test_set",
    "write_reports",
]
