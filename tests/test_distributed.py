"""Multi-process runs on CPU (gloo), launched exactly as users launch them."""

from __future__ import annotations

import json

import pytest

from conftest import TINY_STAGE, run_script, tiny_overrides


@pytest.mark.slow
def test_pretrain_under_two_process_cpu_ddp(tiny_dirs, tiny_labels, tmp_path):
    run_dir = tmp_path / "ddp"
    result = run_script(
        "train.py", "experiment=demo", *tiny_overrides(*tiny_dirs), *TINY_STAGE,
        "stage=pretrain", "trainer=ddp_cpu", "trainer.devices=2", f"run_dir={run_dir}", timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["world_size"] == 2
    assert summary["global_step"] == 4
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert "val/srcc_mean" in summary["metrics"]
