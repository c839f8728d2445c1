"""Shared fixtures: offline environment, config composition, a tiny demo corpus and its labels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Nothing in the tests may try the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent

TINY_CROPS = "{pretrain:1,pretrain_val:1,finetune:1,finetune_val:1,test:1}"


def tiny_overrides(data_dir: Path, output_dir: Path) -> list[str]:
    """The demo at a tiny size: 64 px crops, one crop per reference photo, a few steps."""
    return [
        f"paths.data_dir={data_dir}",
        f"paths.output_dir={output_dir}",
        f"paths.labels_dir={output_dir}/labels",
        "data.prepare.size=64",
        f"data.prepare.crops={TINY_CROPS}",
    ]


TINY_STAGE = [
    "stage.crop_size=48",
    "stage.batch_size=8",
    "stage.num_workers=0",
    "stage.max_steps=4",
    "stage.val_every_steps=2",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1",
    "logger=csv",
]


def compose(config_name: str, overrides: list[str] | None = None):
    """Compose one of the real configs in conf/ (as the entry points would)."""
    import iqa.config  # noqa: F401  (resolvers)
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "iqa" / "conf"), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides or []))


def run_script(script: str, *args: str, timeout: int = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run an entry point as a user would, capturing output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=full_env
    )


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory) -> tuple[Path, Path]:
    """(data_dir, output_dir) with the tiny demo corpus built once per session."""
    from iqa.data.synthetic import ensure_demo_corpus

    base = tmp_path_factory.mktemp("tiny")
    data_dir, output_dir = base / "data", base / "outputs"
    crops = {"pretrain": 1, "pretrain_val": 1, "finetune": 1, "finetune_val": 1, "test": 1}
    ensure_demo_corpus(data_dir / "demo", size=64, crops=crops)
    return data_dir, output_dir


@pytest.fixture(scope="session")
def tiny_labels(tiny_dirs) -> Path:
    """The tiny demo corpus pseudo-labelled by the classical teacher."""
    from iqa.cli.label import run

    data_dir, output_dir = tiny_dirs
    cfg = compose("label", ["experiment=demo", *tiny_overrides(data_dir, output_dir), "num_workers=0", "trainer.accelerator=cpu"])
    run(cfg)
    return Path(cfg.out)
