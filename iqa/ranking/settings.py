"""The settings of ``iqa rank``: one dataclass, the one source of their defaults and help texts.

The command line (:mod:`iqa.cli.rank`) makes one flag per field
(``bootstrap`` -> ``--bootstrap``; ``progress`` -> ``--no-progress``);
library callers build :class:`RankSettings` directly. The output and cache
folders default to ``$ATTIQA_OUTPUT_DIR`` (else ``outputs``) ``/rank/...``,
read when the settings are made.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from iqa.errors import UserError
from iqa.ranking.inputs import MOS_DIRECTIONS

__all__ = ["LOGGERS", "RankSettings", "demo_out", "output_dir"]

#: The loggers a ranking can report to besides its files.
LOGGERS = ("none", "wandb")


def output_dir() -> str:
    """``$ATTIQA_OUTPUT_DIR``, else ``outputs``."""
    return os.environ.get("ATTIQA_OUTPUT_DIR", "outputs")


def default_out() -> str:
    return f"{output_dir()}/rank/latest"


def default_cache() -> str:
    return f"{output_dir()}/rank/cache"


def demo_out() -> str:
    """Where ``iqa rank --demo`` writes unless told otherwise."""
    return f"{output_dir()}/rank/demo"


def _optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "null", "") else int(text)


def _columns(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


def setting(default: Any = None, help: str = "", *, parse: Callable[[str], Any] = str, factory: Callable[[], Any] | None = None,
            metavar: str | None = None) -> Any:
    """A field of :class:`RankSettings`: its default (or a factory called when the settings are made), help and parser of a flag value."""
    metadata = {"help": help, "parse": parse, "metavar": metavar}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class RankSettings:
    """Every setting of ``iqa rank``, with its default."""

    ckpt: str | None = setting(None, "fine-tuned checkpoint or shipped model name (default: $ATTIQA_CKPT, else the shipped default model; "
                                  "--demo: else the demo's own checkpoint if `make demo` made it)", metavar="PATH")
    csv: str | None = setting(None, "CSV with columns path, group and optionally prompt (or pair) and mos", metavar="FILE")
    dataset: str | None = setting(None, "a MOS dataset whose images carry a group (agiqa3k, agiqa1k, aigciqa2023, ...)",
                                  metavar="NAME")
    root: str | None = setting(None, "the dataset's root (default: its data config's)", metavar="DIR")
    split: str | None = setting(None, "the dataset's split: train | val | test | all (default: all)")
    out: str = setting(help="output folder (default: $ATTIQA_OUTPUT_DIR or outputs, then /rank/latest; the demo: /rank/demo)",
                       factory=default_out, metavar="DIR")
    cache: str | None = setting(help="per-image score cache folder, one file per checkpoint and view "
                                     "(default: $ATTIQA_OUTPUT_DIR or outputs, then /rank/cache)", factory=default_cache, metavar="DIR")
    bootstrap: int = setting(2000, "bootstrap resamples per confidence interval (at least 100)", parse=int, metavar="N")
    seed: int = setting(0, "seeds every resample (keyed by group and pair: adding a group that brings no new prompt changes no other "
                           "CI)", parse=int)
    level: float = setting(0.95, "confidence level of the intervals", parse=float)
    alpha: float = setting(0.05, "a pair is distinguishable when its Holm-adjusted p-value is below this", parse=float)
    min_group: int = setting(10, "groups with fewer readable images get a warning (rough CIs)", parse=int, metavar="N")
    reference: str | None = setting(None, "group the attribute shifts are measured against (default: the top-ranked)",
                                    metavar="GROUP")
    cluster_by: str | None = setting(None, "column whose values are the independent units the statistics resample (default: the "
                                           "prompt when there is one, else each image); 'filename': the same file name in every group "
                                           "is one content", metavar="COLUMN")
    breakdown_by: tuple[str, ...] | None = setting(None, "category columns to break the ranking down by, comma-separated (default: "
                                                         "style, class and challenge where present)", parse=_columns,
                                                   metavar="COLUMNS")
    mos_direction: str | None = setting(None, "higher | lower: whether a higher MOS is better (default: the dataset's; for a CSV, "
                                              "mos higher, dmos lower)", metavar="DIR")
    max_pair_groups: int = setting(60, "with more groups than this, only adjacent pairs are tested (the pair table grows as n^2)",
                                   parse=int, metavar="N")
    batch_size: int = setting(32, "images per forward pass", parse=int, metavar="N")
    chunk_size: int = setting(2048, "images scored between two appends to the score cache", parse=int, metavar="N")
    num_workers: int | None = setting(None, "decoding processes (default: as iqa score, 0 on small CPUs)", parse=_optional_int,
                                      metavar="N")
    device: str = setting("auto", "auto | cpu | cuda | cuda:N")
    logger: str = setting("none", "none | wandb (a W&B table of the groups and pairs, and the figure; iqa/conf/logger/wandb.yaml)")
    progress: bool = setting(True, "show a progress bar while scoring")

    def __post_init__(self) -> None:
        if str(self.logger) not in LOGGERS:
            raise UserError(f"logger must be none or wandb, got {self.logger}")
        if int(self.bootstrap) < 100:
            raise UserError(f"bootstrap must be >= 100 resamples, got {self.bootstrap}")
        if self.mos_direction is not None and str(self.mos_direction) not in MOS_DIRECTIONS:
            raise UserError(f"mos_direction must be one of {', '.join(MOS_DIRECTIONS)}, got {self.mos_direction}")
        if int(self.max_pair_groups) < 2:
            raise UserError(f"max_pair_groups must be >= 2, got {self.max_pair_groups}")
        if isinstance(self.breakdown_by, str):
            self.breakdown_by = _columns(self.breakdown_by)
        if int(self.batch_size) < 1:
            raise UserError(f"batch_size must be >= 1, got {self.batch_size}")

    @property
    def torch_device(self) -> str | None:
        """The device to score on; None: the best available (``auto``)."""
        return None if str(self.device) == "auto" else str(self.device)
