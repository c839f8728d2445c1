"""evaluate.py: the cross-dataset matrix, medians over split seeds, exact reproducibility, data=[a,b], W&B, any resolution."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from iqa.errors import UserError

pytestmark = pytest.mark.integration

# The second synthetic set at test size: 2 photos x 2 references x 40 distorted images = 160.
TINY_KADID = ["data.prepare.size=48", "data.prepare.crops=2", "data.prepare.photos=[rocket,chelsea]"]


def _kadid_overrides(data_dir: Path) -> list[str]:
    return [f"paths.data_dir={data_dir}", *TINY_KADID]


def export(path: Path, data_cfg, seed: int) -> str:
    """A checkpoint carrying what fine-tuning records (data name, scale, split recipe), with a random network."""
    from iqa.data.catalog import dataset_scale, split_settings
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    torch.manual_seed(seed)
    (low, high), higher = dataset_scale(data_cfg)
    export_checkpoint(IQANet(weights="none"), path, stage="finetune", data=data_cfg.name, init="none", mos_range=[low, high],
                      higher_is_better=higher, image_size=int(data_cfg.iqa.image_size), split=split_settings(data_cfg))
    return str(path)


@pytest.fixture(scope="module")
def probes(compose, tiny_overrides, tiny_dirs, tmp_path_factory):
    """Checkpoints as fine-tuning writes them: one on the demo, two on demo_kadid with split seeds 0 and 1."""
    from iqa.config import to_plain

    data_dir, output_dir = tiny_dirs
    base = tmp_path_factory.mktemp("probes")
    demo = compose("train", ["experiment=demo", *tiny_overrides(data_dir, output_dir), "stage=finetune"]).data
    kadid = [compose("train", [*_kadid_overrides(data_dir), "data=demo_kadid", f"data.split_seed={seed}"]).data for seed in (0, 1)]
    from iqa.training import prepare_data

    prepare_data(kadid[0])
    assert to_plain(kadid[1])["split_seed"] == 1
    return {"demo": export(base / "on-demo" / "checkpoints" / "last.ckpt", demo, 0),
            "kadid": [export(base / "sweep" / f"s{s}" / "checkpoints" / "last.ckpt", kadid[s], 10 + s) for s in (0, 1)],
            "glob": f"{base}/sweep/*/checkpoints/last.ckpt", "data_dir": data_dir, "output_dir": output_dir}


@pytest.fixture
def eval_cfg(compose, tiny_overrides):
    def build(probes, results_dir: Path, *extra: str):
        ckpt = f"ckpt={{on_demo: {probes['demo']}, on_kadid: '{probes['glob']}'}}"
        tiny = "dataset_overrides={demo_kadid: {prepare: {size: 48, crops: 2, photos: [rocket, chelsea]}}}"
        return compose("evaluate", [*tiny_overrides(probes["data_dir"], probes["output_dir"]), tiny, ckpt,
                                    "datasets=[demo,demo_kadid]", "num_workers=0", "device=cpu", f"run_dir={results_dir}", *extra])

    return build


def read_predictions(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_cross_dataset_matrix_medians_and_held_out_splits(compose, eval_cfg, probes, tmp_path):
    from iqa.data.catalog import split_records
    from iqa.evaluation.job import run

    cfg = eval_cfg(probes, tmp_path / "a")
    payload = run(cfg)
    matrix = payload["results"]
    assert payload["tests"] == ["demo", "demo_kadid"] and set(matrix) == {"on_demo", "on_kadid"}
    assert payload["variants"]["on_kadid"]["trained_on"] == "demo_kadid" and payload["variants"]["on_demo"]["trained_on"] == "demo"
    # Own training set: its held-out test split; the other set: all of it.
    assert matrix["on_demo"]["demo"]["split"] == "test" and matrix["on_demo"]["demo"]["n"] == 82
    assert matrix["on_demo"]["demo_kadid"]["split"] == "all" and matrix["on_demo"]["demo_kadid"]["n"] == 160
    assert matrix["on_kadid"]["demo"]["split"] == "all" and matrix["on_kadid"]["demo"]["n"] == 82 + 41 + 82
    own = payload["details"]["on_kadid"]["demo_kadid"]
    assert own["seeds"] == 2 and own["split"] == "test"
    for metric in ("srcc", "plcc", "krcc", "plcc_logistic"):
        assert own[metric] == pytest.approx(statistics.median([c[metric] for c in own["per_checkpoint"]]))
        assert -1 <= matrix["on_demo"]["demo"][metric] <= 1

    # Each seed's checkpoint was scored on exactly the test side of its own split, never on its training side.
    kadid_cfg = compose("train", [*_kadid_overrides(probes["data_dir"]), "data=demo_kadid"]).data
    rows = read_predictions(tmp_path / "a" / "predictions-on_kadid-demo_kadid.csv")
    for seed, ckpt in enumerate(probes["kadid"]):
        scored = {r["source"] for r in rows if r["checkpoint"] == ckpt}
        recipe = torch.load(ckpt, weights_only=False)["hyper_parameters"]["split"]
        assert recipe["seed"] == seed
        assert scored == {r.source for r in split_records(kadid_cfg, "test", recipe)}
        seen = {r.source for s in ("train", "val") for r in split_records(kadid_cfg, s, recipe)}
        assert scored and not scored & seen
    assert ({r["source"] for r in rows if r["checkpoint"] == probes["kadid"][0]}
            != {r["source"] for r in rows if r["checkpoint"] == probes["kadid"][1]})

    markdown = (tmp_path / "a" / "results.md").read_text()
    assert "| variant | demo (test) | demo_kadid (all) |" in markdown
    assert "| on_kadid (trained on demo_kadid) |" in markdown and "(median of 2)" in markdown
    with open(tmp_path / "a" / "matrix.csv", newline="") as handle:
        wide = list(csv.DictReader(handle))
    assert [r["variant"] for r in wide] == ["on_demo", "on_kadid"]
    assert float(wide[0]["demo/srcc"]) == pytest.approx(matrix["on_demo"]["demo"]["srcc"], abs=1e-6)
    for name in ("scatter-demo.png", "scatter-demo_kadid.png", "scatter.png"):
        with Image.open(tmp_path / "a" / name) as image:
            assert image.size[0] > 200
    # Exactly reproducible: the same checkpoints and data give byte-identical results (here: the median variant alone).
    for name in ("b", "c"):
        run(eval_cfg(probes, tmp_path / name, f"ckpt={{on_kadid: '{probes['glob']}'}}", "datasets=[demo_kadid]"))
    for name in ("results.json", "results.csv", "predictions-on_kadid-demo_kadid.csv"):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "c" / name).read_bytes()
    rerun = json.loads((tmp_path / "b" / "results.json").read_text())["results"]
    assert rerun["on_kadid"] == {"demo_kadid": matrix["on_kadid"]["demo_kadid"]}


def test_dataset_list_rewrite_and_bad_inputs(eval_cfg, probes, tmp_path):
    from iqa.cli.evaluate import rewrite_dataset_list
    from iqa.evaluation.job import checkpoints, run

    assert rewrite_dataset_list(["ckpt=a.ckpt", "data=[koniq10k,spaq,livec]"]) == [
        "ckpt=a.ckpt", "datasets=[koniq10k,spaq,livec]", "data=koniq10k", "run_name=koniq10k-spaq-livec"]
    assert rewrite_dataset_list(["data=demo", "run_name=x"]) == ["data=demo", "run_name=x"]
    assert rewrite_dataset_list(["data=[a, b]", "run_name=x"]) == ["run_name=x", "datasets=[a,b]", "data=a"]
    cfg = eval_cfg(probes, tmp_path)
    assert {k: len(v) for k, v in checkpoints(cfg).items()} == {"on_demo": 1, "on_kadid": 2}
    with pytest.raises(UserError, match="unknown dataset 'koniq'.*did you mean: koniq10k"):
        run(eval_cfg(probes, tmp_path, "datasets=[demo,demo_kadid,koniq]"))
    with pytest.raises(UserError, match="matches nothing"):
        run(eval_cfg(probes, tmp_path, "ckpt=/nowhere/*/last.ckpt"))
    with pytest.raises(UserError, match=r"koniq10k: root .* does not exist; expected .*koniq10k_scores_and_distributions.csv"):
        run(eval_cfg(probes, tmp_path, "datasets=[demo,demo_kadid,koniq10k]", f"roots={{koniq10k: {tmp_path}/none}}"))
    with pytest.raises(UserError, match="roots names dataset.s. not under test: spaq"):
        run(eval_cfg(probes, tmp_path, f"roots={{spaq: {tmp_path}}}"))


@pytest.mark.slow
def test_documented_command_with_data_list_and_wandb_table(run_script, tiny_overrides, probes, tmp_path):
    out = tmp_path / "outputs"
    result = run_script(
        "evaluate.py", f"ckpt={probes['demo']}", "data=[demo,demo_kadid]", *tiny_overrides(probes["data_dir"], out),
        f"roots={{demo_kadid: {tmp_path}/kadid}}", "dataset_overrides={demo_kadid: {prepare: {size: 48, crops: 1}}}",
        "cross_split=test", "num_workers=0", "logger=wandb", timeout=600, env={"WANDB_MODE": "offline"},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    run_dir = out / "evaluate" / "demo-demo_kadid"
    payload = json.loads((run_dir / "results.json").read_text())
    assert payload["tests"] == ["demo", "demo_kadid"]
    # 3 photos x 1 reference x 40 distorted images; its random test split is one reference.
    assert payload["results"]["on-demo"]["demo_kadid"] | {"n": 40, "split": "test"} == payload["results"]["on-demo"]["demo_kadid"]
    runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    data = next(runs[0].glob("*.wandb")).read_bytes()
    assert b"cross_dataset" in data and b"scatter/demo_kadid" in data


@pytest.fixture(scope="module")
def photo_50mp(tmp_path_factory) -> Path:
    """A 8660 x 5774 (50 MP) JPEG."""
    path = tmp_path_factory.mktemp("big") / "photo-50mp.jpg"
    rng = np.random.default_rng(0)
    small = Image.fromarray(rng.integers(0, 256, size=(58, 87, 3), dtype=np.uint8))
    small.resize((8660, 5774), Image.BILINEAR).save(path, quality=85)
    return path


def test_a_50_megapixel_photo_is_decoded_reduced_and_scored_at_bounded_size(photo_50mp, probes):
    from iqa.data.images import decode_rgb
    from iqa.data.records import View
    from iqa.inference import load

    data = photo_50mp.read_bytes()
    # libjpeg's draft mode decodes at 1/8 scale: 1083 x 722 pixels in memory instead of 50 million.
    assert decode_rgb(data, draft_size=384).size == (1083, 722)
    view = View(image_size=384)
    tensor = view(data)
    assert tensor.shape == (3, 384, 576) and tensor.dtype == torch.uint8
    assert view.planned_shape(8660, 5774) == (3, 384, 576)
    tiles = View(image_size=384, policy="tiles", crop_size=224)(data)
    assert tiles.shape == (3 * 2, 3, 224, 224)
    panorama = View(image_size=384).planned_shape(40000, 2000)
    assert panorama == (3, 77, 1536)  # long side capped at 4 x image_size
    model = load(probes["demo"], image_size=384, device="cpu")
    frame = model.score([photo_50mp])
    assert frame["error"].tolist() == [""] and np.isfinite(frame["quality"]).all()


def test_a_renamed_csv_dataset_is_its_own_test_set(compose, tiny_crops, tmp_path, probes):
    """data=csv data.name=agiqa3k: the checkpoint trained on 'agiqa3k' is scored on that set's test split."""
    from _evaluation_helpers import make_csv

    from iqa.evaluation.job import run

    labels = make_csv(tmp_path / "agiqa", n=12, split=True)
    overrides = ["data=csv", f"data.csv={labels}", "data.name=agiqa3k", "data.mos_range=[0,5]", "data.higher_is_better=true"]
    data_cfg = compose("train", overrides).data
    ckpt = export(tmp_path / "agiqa.ckpt", data_cfg, 3)
    payload = run(compose("evaluate", [*overrides, f"ckpt={{mine: {ckpt}}}", "num_workers=0", "device=cpu",
                                       f"run_dir={tmp_path}/out", "datasets=[agiqa3k,demo]", f"paths.data_dir={probes['data_dir']}",
                                       f"dataset_overrides={{demo: {{prepare: {{size: 64, crops: {tiny_crops}}}}}}}"]))
    assert payload["results"]["mine"]["agiqa3k"]["split"] == "test" and payload["results"]["mine"]["agiqa3k"]["n"] == 2
    assert payload["results"]["mine"]["demo"]["split"] == "all" and payload["variants"]["mine"]["trained_on"] == "agiqa3k"
