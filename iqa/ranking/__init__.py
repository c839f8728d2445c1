"""Rank groups of images (image generators, cameras, codecs, ...) by predicted quality, with stated uncertainty.

    import iqa
    results = iqa.rank({"model_a": "gen_a/", "model_b": "gen_b/"}, ckpt="best.ckpt", cache="score-cache")
    results.to_frame()        # one row per group: n, mean quality and attributes with 95% CIs, rank
    results.pairs_frame()     # one row per pair: win rate, mean difference [CI], p-value, Holm, verdict
    results.write("report/")  # ranking.md / .csv / .json, pairs.csv, scores.csv, ranking.png

Inputs: one folder (or list of files) per group; a CSV with ``path``, ``group``
and optionally ``prompt`` (or ``pair``) and ``mos``; or a MOS dataset in its
official layout (``dataset="agiqa3k", root=...``) whose records carry a group
(the generator, from the file name) and a prompt id.

Statistics (:func:`analyse`, which needs no model and is what the tests check):

* per group: images scored, mean quality (``quality_norm``: 0..1, 1 best) and
  the mean of each attribute score, each with a seeded percentile-bootstrap
  CI (:func:`bootstrap_means`); the rank by mean quality;
* per pair of groups: the win rate P(a random image of A scores above one of
  B), ties counting one half; the mean difference with a bootstrap CI; a
  p-value: Wilcoxon signed-rank on the per-prompt differences when prompt ids
  are given (paired, on the prompts both groups share), else Mann-Whitney U
  (whose statistic is the win rate); Holm's correction over all pairs; a pair
  is *distinguishable* when its Holm-adjusted p-value is below ``alpha``;
* per group, the attribute that moves most against the reference group (the
  top-ranked one unless named), in units of that attribute's standard
  deviation over all images: what drives the difference;
* where the inputs carry a MOS: the groups ranked by mean MOS beside the
  model's ranking, and their Spearman and Kendall agreement.

The modules, each importing only those above it:

* :mod:`~iqa.ranking.stats`: bootstrap CIs, win rates, paired and unpaired tests, Holm (pure math);
* :mod:`~iqa.ranking.cache`: the per-image score cache (:class:`ScoreCache`);
* :mod:`~iqa.ranking.inputs`: the groups from folders, a CSV or a dataset;
* :mod:`~iqa.ranking.settings`: :class:`RankSettings`, the settings of ``iqa rank`` and their defaults;
* :mod:`~iqa.ranking.reports`: ranking.md / .csv / .json, pairs.csv, scores.csv, ranking.png, W&B, :func:`report`;
* :mod:`~iqa.ranking.results`: the typed results (:class:`RankingResults`, :class:`GroupRow`, :class:`PairRow`, ...);
* :mod:`~iqa.ranking.analysis`: :func:`analyse`;
* :mod:`~iqa.ranking.scoring`: :func:`score_paths` and :func:`rank`, the one call;
* :mod:`~iqa.ranking.command`: :func:`run_rank`, ``iqa rank`` without its argv;
* :mod:`~iqa.ranking.demo`: the offline demonstration (:func:`~iqa.ranking.demo.run_demo`, ``iqa rank --demo``).

Nothing here needs Hydra or Lightning (W&B reports build their logger when
asked), and nothing imports :mod:`iqa.cli`: :mod:`iqa.cli.rank` is the
``iqa rank`` command line around :func:`run_rank` and ``run_demo``.
"""

from iqa.ranking.analysis import analyse
from iqa.ranking.cache import ScoreCache, file_key, model_identity
from iqa.ranking.command import run_rank
from iqa.ranking.inputs import PROMPT_COLUMNS, Inputs, collect_inputs
from iqa.ranking.reports import figure, group_rows, log_ranking, markdown, pair_rows, report, write_reports
from iqa.ranking.results import (
    Agreement,
    AttributeShift,
    Estimate,
    GroupRow,
    HumanRating,
    PairRow,
    RankingResults,
    UnreadableFile,
)
from iqa.ranking.scoring import rank, score_paths
from iqa.ranking.settings import RankSettings
from iqa.ranking.stats import bootstrap_means, holm, percentile_ci, win_rate

__all__ = [
    "PROMPT_COLUMNS", "Agreement", "AttributeShift", "Estimate", "GroupRow", "HumanRating", "Inputs", "PairRow", "RankSettings",
    "RankingResults", "ScoreCache", "UnreadableFile", "analyse", "bootstrap_means", "collect_inputs", "figure", "file_key",
    "group_rows", "holm", "log_ranking", "markdown", "model_identity", "pair_rows", "percentile_ci", "rank", "report", "run_rank",
    "score_paths", "win_rate", "write_reports",
]
