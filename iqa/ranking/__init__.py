"""Rank groups of images (image generators, cameras, codecs, ...) by predicted quality, with stated uncertainty.

    import iqa
    results = iqa.rank({"model_a": "gen_a/", "model_b": "gen_b/"}, ckpt="best.ckpt", cache="score-cache")
    results.to_frame()        # one row per group: n, mean quality and attributes with 95% CIs, rank
    results.pairs_frame()     # one row per pair: win rate, mean difference [CI], p-value, Holm, verdict
    results.write("report/")  # ranking.md / .html / .csv / .json, pairs.csv, scores.csv, breakdown.csv, ranking.png

Inputs: one folder (or list of files) per group; a CSV with ``path``,
``group`` and optionally ``prompt`` (or ``pair``), ``mos`` (or ``dmos``) and
any category columns; or a MOS dataset in its official layout
(``dataset="agiqa3k", root=...``) whose records carry a group (the generator)
and a prompt id.

Statistics (:func:`analyse`, which needs no model and is what the tests check),
on *units*: the prompts where there are prompt ids (or the values of
``cluster_by``), else the images. A group's images of one unit are averaged
first; every interval resamples units, read at the expanded percentile level
(:func:`expanded_level`) so that few units give Student-t-wide intervals.

* per group: images, units, mean quality (``quality_norm``: 0..1, 1 best) and
  attribute means with CIs; the rank with its CI; the tier;
* per pair: mean difference and win rate with CIs, paired on the units both
  groups have (Wilcoxon signed-rank) or unpaired on unit means (Mann-Whitney
  U); Holm's correction; *distinguishable* when the adjusted p < ``alpha``;
* tiers: a group joins the current tier while it is not distinguishable from
  the tier's top group;
* a Bradley-Terry rating on the Elo scale from the per-prompt head-to-heads,
  with a CI over prompts, where groups share prompts;
* each attribute's shift against the reference group with its CI;
* breakdowns by category column (style, class, challenge);
* where the inputs carry a MOS: Spearman and Kendall agreement of the model's
  order with the order by mean MOS, with CIs.

The modules, each importing only those above it:

* :mod:`~iqa.ranking.stats`: unit means, bootstrap CIs, win rates, tests, Holm, Bradley-Terry, tiers (pure math);
* :mod:`~iqa.ranking.cache`: the per-image score cache (:class:`ScoreCache`);
* :mod:`~iqa.ranking.inputs`: the groups from folders, a CSV or a dataset;
* :mod:`~iqa.ranking.settings`: :class:`RankSettings`, the settings of ``iqa rank`` and their defaults;
* :mod:`~iqa.ranking.html`: the self-contained ranking.html (:func:`render_html`, :func:`write_html`);
* :mod:`~iqa.ranking.reports`: ranking.md / .csv / .json, pairs.csv, scores.csv, breakdown.csv, ranking.png, W&B, :func:`report`;
* :mod:`~iqa.ranking.results`: the typed results (:class:`RankingResults`, :class:`GroupRow`, :class:`PairRow`, ...);
* :mod:`~iqa.ranking.analysis`: :func:`analyse`;
* :mod:`~iqa.ranking.scoring`: :func:`score_paths` and :func:`rank`, the one call;
* :mod:`~iqa.ranking.command`: :func:`run_rank`, ``iqa rank`` without its argv;
* :mod:`~iqa.ranking.demo`: the offline demonstration (:func:`~iqa.ranking.demo.run_demo`, ``iqa rank --demo``).

Nothing here needs Hydra or Lightning (W&B reports build their logger when
asked), and nothing imports :mod:`iqa.cli`: :mod:`iqa.cli.rank` is the
``iqa rank`` command line around :func:`run_rank` and ``run_demo``.
"""

from iqa.ranking.analysis import FILENAME_UNIT, analyse
from iqa.ranking.cache import ScoreCache, file_key, model_identity
from iqa.ranking.command import run_rank
from iqa.ranking.html import render_html, write_html
from iqa.ranking.inputs import CATEGORY_COLUMNS, MOS_DIRECTIONS, PROMPT_COLUMNS, Inputs, collect_inputs
from iqa.ranking.reports import figure, group_rows, log_ranking, markdown, pair_rows, report, write_reports
from iqa.ranking.results import (
    Agreement,
    AttributeShift,
    BreakdownRow,
    Estimate,
    GroupRow,
    HumanRating,
    PairRow,
    RankingResults,
    UnreadableFile,
)
from iqa.ranking.scoring import rank, score_paths
from iqa.ranking.settings import RankSettings
from iqa.ranking.stats import (
    bootstrap_cell_means,
    bootstrap_means,
    bradley_terry,
    elo_scale,
    expanded_level,
    holm,
    percentile_ci,
    rank_intervals,
    tiers_from,
    unit_means,
    win_rate,
)

__all__ = [
    "CATEGORY_COLUMNS", "FILENAME_UNIT", "MOS_DIRECTIONS", "PROMPT_COLUMNS", "Agreement", "AttributeShift", "BreakdownRow", "Estimate",
    "GroupRow", "HumanRating", "Inputs", "PairRow", "RankSettings", "RankingResults", "ScoreCache", "UnreadableFile", "analyse",
    "bootstrap_cell_means", "bootstrap_means", "bradley_terry", "collect_inputs", "elo_scale", "expanded_level", "figure", "file_key",
    "group_rows", "holm", "log_ranking", "markdown", "model_identity", "pair_rows", "percentile_ci", "rank", "rank_intervals",
    "render_html", "report", "run_rank", "score_paths", "tiers_from", "unit_means", "win_rate", "write_html", "write_reports",
]
