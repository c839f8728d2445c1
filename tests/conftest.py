"""Shared fixtures: offline environment, config composition, a tiny demo corpus and its labels.

Tests reach these through fixtures (``repo_root``, ``tiny_stage``, ``tiny_crops``, ``compose``, ``tiny_overrides``,
``run_script``), never through ``from conftest import``: pytest may load conftest under a different module name than a
plain import does, so an import can give a second copy of this module. The module-level names stay for scripts run
outside pytest (tests/fixtures/legacy_checkpoints/make.py).

Every test carries exactly one tier marker (unit, integration or slow); ``pytest_collection_modifyitems`` enforces it.
"""

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
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    import iqa.config  # noqa: F401  (resolvers)

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
    from iqa.teachers.labelling import label as run

    data_dir, output_dir = tiny_dirs
    cfg = compose("label", ["experiment=demo", *tiny_overrides(data_dir, output_dir), "num_workers=0", "trainer.accelerator=cpu"])
    run(cfg)
    return Path(cfg.out)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (where the entry-point scripts and iqa/ live)."""
    return ROOT


@pytest.fixture
def tiny_stage() -> list[str]:
    """Overrides for a few-step CPU training stage; a fresh list per test, so edits cannot leak."""
    return list(TINY_STAGE)


@pytest.fixture(scope="session")
def tiny_crops() -> str:
    """The ``data.prepare.crops`` override value: one crop per photo in every split."""
    return TINY_CROPS


@pytest.fixture(name="compose", scope="session")
def compose_fixture():
    """``compose(config_name, overrides)``: compose a real config from iqa/conf as the entry points do."""
    return compose


@pytest.fixture(name="tiny_overrides", scope="session")
def tiny_overrides_fixture():
    """``tiny_overrides(data_dir, output_dir)``: the demo at a tiny size."""
    return tiny_overrides


@pytest.fixture(name="run_script", scope="session")
def run_script_fixture():
    """``run_script(script, *args, timeout=, env=)``: run an entry point in a subprocess, as a user would."""
    return run_script


# --- tooling: tiers and imports -------------------------------------------------------------------------------------

TIERS = ("unit", "integration", "slow")
FORBIDDEN_IMPORT = "from conftest import"


def _tier(item: pytest.Item) -> str:
    """The item's tier: the marker closest to the test wins (a test's own marker overrides its module's ``pytestmark``).

    Two different tiers on the same node (e.g. ``pytestmark = [slow, integration]``) or none at all is an error, so
    ``-m unit`` / ``-m integration`` / ``-m slow`` split the suite into disjoint parts that together run every test.
    """
    for node in reversed(item.listchain()):
        here = {mark.name for mark in node.own_markers if mark.name in TIERS}
        if len(here) > 1:
            raise pytest.UsageError(f"{node.nodeid or node.name}: more than one tier marker ({', '.join(sorted(here))}); "
                                    f"use exactly one of {', '.join(TIERS)}")
        if here:
            return here.pop()
    raise pytest.UsageError(f"{item.nodeid}: no tier marker; mark it (or its module's pytestmark) with exactly one of "
                            f"{', '.join(TIERS)}")


def _check_no_conftest_imports(tests_dir: Path) -> None:
    """Fail if a test module imports from conftest instead of asking for a fixture."""
    offenders = [path.name for path in sorted(tests_dir.glob("*.py"))
                 if path.name != "conftest.py" and FORBIDDEN_IMPORT in path.read_text()]
    if offenders:
        raise pytest.UsageError(f"{', '.join(offenders)}: '{FORBIDDEN_IMPORT} ...' is not allowed; "
                                "take the conftest fixture (repo_root, tiny_stage, compose, ...) as a test parameter")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Enforce one tier per test and resolve overrides before ``-m`` selects.

    Runs before pytest's own ``-m`` deselection. Each test gets its resolved tier as its own marker and the module-level
    tier markers are dropped, so a test overriding its module's tier matches only its own tier under ``-m``.
    """
    _check_no_conftest_imports(Path(__file__).resolve().parent)
    resolved = [(item, _tier(item)) for item in items]
    for item, tier in resolved:
        if not any(mark.name == tier for mark in item.own_markers):
            item.add_marker(tier)
    for item, _ in resolved:
        for node in item.listchain()[:-1]:
            node.own_markers[:] = [mark for mark in node.own_markers if mark.name not in TIERS]
    # The longest tier first: with `-n` (pytest-xdist), the workers start on the end-to-end tests and fill in with
    # the short ones, instead of one worker finishing a long test alone at the end. The order within a tier is kept.
    rank = {"slow": 0, "integration": 1, "unit": 2}
    items[:] = [item for item, _ in sorted(resolved, key=lambda pair: rank[pair[1]])]
