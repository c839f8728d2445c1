"""The CSV logger keeps metrics across a resume and logs each step once."""

from __future__ import annotations

import pandas as pd
import pytest

from iqa.loggers import ResumableCSVLogger

pytestmark = pytest.mark.unit


def log_steps(run_dir, steps, value, extra: str | None = None) -> None:
    logger = ResumableCSVLogger(save_dir=str(run_dir), name="", version="")
    for step in steps:
        metrics = {"train/loss": value + step}
        if extra:
            metrics[extra] = -step
        logger.log_metrics(metrics, step=step)
    logger.save()


def test_resume_appends_and_replaces_rows_logged_after_the_checkpoint(tmp_path):
    # The first run logs steps 0..5, but its last checkpoint was at step 4: steps 4 and 5 are logged again on resume.
    log_steps(tmp_path, range(6), 100.0)
    log_steps(tmp_path, range(4, 8), 200.0, extra="val/srcc")

    frame = pd.read_csv(tmp_path / "metrics.csv")
    assert frame["step"].tolist() == list(range(8))
    assert frame["train/loss"].tolist() == [100.0 + s for s in range(4)] + [200.0 + s for s in range(4, 8)]
    # A column that only the resumed run logs extends the header; the earlier rows keep theirs, left empty.
    assert frame["val/srcc"].isna().tolist() == [True] * 4 + [False] * 4


def test_a_fresh_run_in_the_same_directory_starts_a_fresh_file(tmp_path):
    log_steps(tmp_path, range(5), 100.0)
    log_steps(tmp_path, range(3), 300.0)
    frame = pd.read_csv(tmp_path / "metrics.csv")
    assert frame["step"].tolist() == [0, 1, 2] and frame["train/loss"].tolist() == [300.0, 301.0, 302.0]


def test_later_saves_of_the_same_run_only_append(tmp_path):
    logger = ResumableCSVLogger(save_dir=str(tmp_path), name="", version="")
    for chunk in ([0, 1], [2, 3]):
        for step in chunk:
            logger.log_metrics({"train/loss": float(step)}, step=step)
        logger.save()
    assert pd.read_csv(tmp_path / "metrics.csv")["step"].tolist() == [0, 1, 2, 3]
