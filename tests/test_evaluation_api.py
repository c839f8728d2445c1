"""``iqa.evaluate``: the cross-dataset evaluation from plain Python (no Hydra), checked against scipy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _evaluation_helpers import make_csv, make_koniq
from scipy import stats

from iqa.errors import UserError

pytestmark = pytest.mark.integration


def _export(path: Path, seed: int, **meta) -> str:
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    torch.manual_seed(seed)
    return str(export_checkpoint(IQANet(backbone="test_efficientnet", weights="none"), path, stage="finetune", init="none",
                                 image_size=64, **meta))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A KonIQ-layout set, a CSV set (given as a resolved data config), and checkpoints trained on each."""
    from iqa.data.catalog import split_settings
    from iqa.evaluation import data_config

    base = tmp_path_factory.mktemp("api")
    make_koniq(base / "koniq", n=12)
    labels = make_csv(base / "mine", n=8, split=True)
    mine = data_config("csv", overrides={"csv": str(labels), "name": "mine", "mos_range": [0, 5], "higher_is_better": True,
                                         "iqa": {"image_size": 64}})
    koniq = data_config("koniq10k", root=base / "koniq", overrides={"iqa": {"image_size": 64}})
    ckpts = {
        "on_koniq": [_export(base / f"k{s}.ckpt", s, data="koniq10k", mos_range=[1.0, 5.0], higher_is_better=True,
                             split={**split_settings(koniq), "seed": s}) for s in (0, 1)],
        "on_mine": _export(base / "m.ckpt", 5, data="mine", mos_range=[0.0, 5.0], higher_is_better=True,
                           split=split_settings(mine), data_config=mine),
    }
    return {"base": base, "mine": mine, "koniq_root": base / "koniq", "ckpts": ckpts}


def test_library_call_matches_an_independent_computation(setup):
    import iqa
    from iqa.data.catalog import split_records

    results = iqa.evaluate(setup["ckpts"], ["koniq10k", setup["mine"]], roots={"koniq10k": setup["koniq_root"]},
                           dataset_overrides={"koniq10k": {"iqa": {"image_size": 64}}}, device="cpu", progress=False)
    assert results.tests == ["koniq10k", "mine"] and list(results.cells) == ["on_koniq", "on_mine"]
    assert results.variants["on_koniq"]["trained_on"] == "koniq10k" and len(results.variants["on_koniq"]["checkpoints"]) == 2

    # Own training set: the official test split (2 of 12 images); the other set: all 8 images.
    own, other = results.cells["on_mine"]["mine"], results.cells["on_mine"]["koniq10k"]
    assert (own.split, own.n, other.split, other.n) == ("test", 2, "all", 12)
    # Every prediction is what iqa.load(...).score gives for the same image, mapped onto the test set's MOS scale
    # (KonIQ: 1..5; the CSV set: 0..5); the correlations are scipy's over those predictions.
    model = iqa.load(setup["ckpts"]["on_mine"], device="cpu")
    frame = results.predictions("on_mine", "koniq10k")
    assert len(frame) == 12 and (frame["error"] == "").all()
    scored = model.score(list(frame["source"]))  # file paths, in the order they were scored
    np.testing.assert_allclose(frame["prediction"], 1.0 + 4.0 * scored["quality_norm"].to_numpy(), rtol=1e-5, atol=1e-5)
    assert other.metrics["srcc"] == pytest.approx(stats.spearmanr(frame["prediction"], frame["mos"])[0], abs=1e-9)
    assert other.metrics["plcc"] == pytest.approx(stats.pearsonr(frame["prediction"], frame["mos"])[0], abs=1e-9)
    assert other.metrics["krcc"] == pytest.approx(stats.kendalltau(frame["prediction"], frame["mos"])[0], abs=1e-6)  # float32 inside
    # Own split: exactly the CSV's test rows.
    own_frame = results.predictions("on_mine", "mine")
    test_rows = split_records(setup["mine"], "test")
    assert sorted(own_frame["source"]) == sorted(r.source for r in test_rows)
    unit = model.score([r.path for r in test_rows])["quality_norm"].to_numpy()
    by_source = dict(zip([r.source for r in test_rows], 5.0 * unit))
    np.testing.assert_allclose(own_frame["prediction"], [by_source[s] for s in own_frame["source"]], rtol=1e-5, atol=1e-5)

    # Two seeds: the median of the per-checkpoint values, each checkpoint on its own recorded split.
    seeds = results.cells["on_koniq"]["koniq10k"]
    assert seeds.seeds == 2 and len(seeds.per_checkpoint) == 2
    assert seeds.metrics["plcc"] == pytest.approx(np.median([c["plcc"] for c in seeds.per_checkpoint]))
    table = results.to_frame()
    assert list(table[["variant", "test_set"]].itertuples(index=False, name=None)) == [
        ("on_koniq", "koniq10k"), ("on_koniq", "mine"), ("on_mine", "koniq10k"), ("on_mine", "mine")]
    assert table.loc[2, "srcc"] == pytest.approx(other.metrics["srcc"])
    assert len(results.per_checkpoint_frame()) == 2 + 2 + 1 + 1
    assert json.loads(json.dumps(results.to_dict()))["results"]["on_mine"]["mine"]["n"] == 2
    with pytest.raises(UserError, match="no result for variant 'nope'"):
        results.predictions("nope", "mine")


def test_without_datasets_each_variant_is_scored_on_its_recorded_training_set(setup):
    from iqa.evaluation import evaluate

    results = evaluate({"mine": setup["ckpts"]["on_mine"]}, device="cpu", progress=False)
    assert results.tests == ["mine"] and results.matrix["mine"]["mine"]["split"] == "test"
    # Checkpoints that do not record their data config need the test sets named.
    with pytest.raises(UserError, match="records no data config"):
        evaluate(setup["ckpts"]["on_koniq"][0], device="cpu", progress=False)


@pytest.mark.unit
def test_bad_inputs_are_one_line_errors(setup, tmp_path):
    from iqa.evaluation import data_config, evaluate

    with pytest.raises(UserError, match="unknown dataset 'koniq'.*did you mean: koniq10k"):
        data_config("koniq")
    with pytest.raises(UserError, match="data=csv: csv has no value; pass it in overrides"):
        data_config("csv")
    with pytest.raises(UserError, match="matches nothing"):
        evaluate(str(tmp_path / "*.ckpt"), ["koniq10k"])
    with pytest.raises(UserError, match="pass a checkpoint"):
        evaluate([], ["koniq10k"])
    with pytest.raises(UserError, match="twice"):
        evaluate(setup["ckpts"]["on_mine"], [setup["mine"], setup["mine"]])
    with pytest.raises(UserError, match="roots names dataset.s. not under test: spaq"):
        evaluate(setup["ckpts"]["on_mine"], [setup["mine"]], roots={"spaq": tmp_path})
    with pytest.raises(UserError, match="apply to test sets given by name"):
        evaluate(setup["ckpts"]["on_mine"], [setup["mine"]], roots={"mine": tmp_path})
    with pytest.raises(UserError, match="unlabelled corpus"):
        evaluate(setup["ckpts"]["on_mine"], ["folder"], roots={"folder": tmp_path})


def test_the_library_needs_no_hydra(repo_root, setup, tmp_path):
    """In a fresh interpreter: evaluate and write every report without Hydra ever being imported."""
    code = f"""
import sys, iqa
from iqa.evaluation.reports import write_reports
results = iqa.evaluate({{"m": {setup['ckpts']['on_mine']!r}}}, device="cpu", progress=False)
write_reports(results, {str(tmp_path)!r})
assert not any(name == "hydra" or name.startswith("hydra.") for name in sys.modules), "hydra was imported"
print(results.matrix["m"]["mine"]["n"])
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, "PYTHONPATH": str(repo_root)})
    assert result.returncode == 0 and result.stdout.strip() == "2", result.stderr[-2000:]
    assert {p.name for p in tmp_path.iterdir()} >= {"results.json", "results.md", "results.csv", "matrix.csv", "scatter.png",
                                                     "scatter-mine.png", "predictions-m-mine.csv"}


@pytest.mark.unit
def test_the_evaluation_package_has_no_import_cycle_and_no_command_line(repo_root):
    """Inside iqa.evaluation: no cycle, not even through imports inside functions, and nothing from iqa.cli."""
    import ast

    graph: dict[str, set[str]] = {}
    for path in sorted((repo_root / "iqa" / "evaluation").glob("*.py")):
        module = ".".join(path.relative_to(repo_root).with_suffix("").parts).removesuffix(".__init__")
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        graph[module] = names - {module}
    assert not [(m, n) for m, names in graph.items() for n in names if n == "iqa.cli" or n.startswith("iqa.cli.")]

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for dep in graph[start] & set(graph):
            if dep == target or (dep not in seen and reaches(dep, target, seen | {dep})):
                return True
        return False

    assert {"iqa.evaluation", "iqa.evaluation.crossdataset", "iqa.evaluation.reports", "iqa.evaluation.job",
            "iqa.evaluation.heldout", "iqa.evaluation.peers"} <= set(graph)
    assert [m for m in graph if reaches(m, m, {m})] == []


@pytest.mark.unit
def test_the_old_import_paths_of_the_evaluation_api_still_work():
    import iqa
    from iqa.evaluation import (
        METRICS,
        EvaluationResults,
        crossdataset,
        evaluate,
        expand_checkpoints,
        reports,
        view_for_test_set,
        write_reports,
    )

    assert iqa.evaluate is evaluate is crossdataset.evaluate and write_reports is reports.write_reports
    assert EvaluationResults is crossdataset.EvaluationResults and METRICS == ("srcc", "plcc", "krcc", "plcc_logistic")
    assert expand_checkpoints is crossdataset.expand_checkpoints and view_for_test_set is crossdataset.view_for_test_set
