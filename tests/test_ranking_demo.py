"""The offline ranking demonstration: generators with a known order and defect, and the check that judges a ranking."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from iqa.ranking import AttributeShift, Estimate, GroupRow, RankingResults, analyse
from iqa.ranking.demo import GENERATORS, build_generators, check, describe, expected_attributes, expected_order

ATTRS = ["sharpness", "brightness", "contrast", "colorfulness", "noisiness"]


def scores_like(order: list[str], defects: dict[str, tuple[str, float]], n: int = 20) -> pd.DataFrame:
    """Scores of the demo generators with the given quality order and the given attribute moved per generator."""
    rng = np.random.default_rng(0)
    rows = []
    for position, group in enumerate(order):
        for i in range(n):
            quality = 0.9 - 0.2 * position + rng.normal(0, 0.03)
            row = {"group": group, "path": f"{group}/{i}.png", "prompt": f"p{i}", "quality_norm": quality, "error": ""}
            row.update({a: rng.normal(0, 0.3) for a in ATTRS})
            if group in defects:
                attribute, shift = defects[group]
                row[attribute] += shift
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.unit
def test_the_known_order_and_defects_follow_the_degradations():
    assert expected_order() == ["clean", "slightly_dark", "blurred", "very_noisy"]
    assert expected_attributes() == {"slightly_dark": ("brightness", -1), "blurred": ("sharpness", -1), "very_noisy": ("noisiness", 1)}
    assert [level for _, _, level in GENERATORS] == sorted(level for _, _, level in GENERATORS)


@pytest.mark.unit
def test_check_passes_a_right_ranking_and_names_what_is_wrong_in_others():
    right = {"slightly_dark": ("brightness", -2.0), "blurred": ("sharpness", -2.0), "very_noisy": ("noisiness", 2.0)}
    good = check(analyse(scores_like(expected_order(), right), attributes=ATTRS, n_boot=200, reference="clean"))
    assert good["ok"] and good["order_ok"] and all(a["ok"] for a in good["attributes"].values())
    swapped = ["clean", "blurred", "slightly_dark", "very_noisy"]
    wrong_sign = dict(right, slightly_dark=("brightness", 2.0))  # brighter is not what darkening does
    bad = check(analyse(scores_like(swapped, wrong_sign), attributes=ATTRS, n_boot=200, reference="clean"))
    assert not bad["ok"] and not bad["order_ok"] and bad["order"] == swapped
    assert not bad["attributes"]["slightly_dark"]["ok"] and bad["attributes"]["blurred"]["ok"]


@pytest.mark.unit
def test_check_passes_when_another_attribute_moves_more_than_the_intended_one():
    frame = scores_like(expected_order(), {"slightly_dark": ("brightness", -2.0), "blurred": ("sharpness", -2.0),
                                           "very_noisy": ("noisiness", 1.0)})
    frame.loc[frame.group == "very_noisy", "colorfulness"] += 3.0  # chroma noise is colourful too
    verdict = check(analyse(frame, attributes=ATTRS, n_boot=200, reference="clean"))
    noisy = verdict["attributes"]["very_noisy"]
    assert verdict["ok"] and noisy["main"] == "colorfulness" and noisy["lo"] > 0 and noisy["shift"] > 0


@pytest.mark.unit
def test_check_fails_an_attribute_whose_interval_includes_zero():
    frame = scores_like(expected_order(), {"slightly_dark": ("brightness", -2.0), "blurred": ("sharpness", -2.0)}, n=20)
    verdict = check(analyse(frame, attributes=ATTRS, n_boot=200, reference="clean"))
    noisy = verdict["attributes"]["very_noisy"]  # noisiness did not move: its interval straddles zero
    assert noisy["lo"] < 0 < noisy["hi"] and not noisy["ok"] and verdict["order_ok"] and not verdict["ok"]
    text = describe(verdict)
    assert "very_noisy" in text and "WRONG" in text and text.endswith("demo check: FAILED")


#: Shifts against clean (shift, lo, hi) in SDs that pass: each intended attribute moves its way, its CI clear of zero.
PASSING = {"slightly_dark": {"brightness": (-1.2, -1.6, -0.8)}, "blurred": {"sharpness": (-2.0, -2.6, -1.4)},
           "very_noisy": {"noisiness": (2.1, 1.5, 2.7)}}


def built(order: list[str], moves: dict[str, dict[str, tuple[float, float, float]]]) -> RankingResults:
    """A ranking in ``order`` whose groups shift against clean by ``moves`` (other attributes: 0 [-0.3, 0.3])."""
    groups = []
    for rank, name in enumerate(order, start=1):
        moved = {a: moves.get(name, {}).get(a, (0.0, -0.3, 0.3)) for a in ATTRS} if name != "clean" else {a: (0.0, 0.0, 0.0) for a in ATTRS}
        main = max(ATTRS, key=lambda a: abs(moved[a][0])) if name != "clean" else ""
        shift = AttributeShift(main, moved[main][0] if main else None, {a: v[0] for a, v in moved.items()},
                               {a: v[1] for a, v in moved.items()}, {a: v[2] for a, v in moved.items()})
        groups.append(GroupRow(rank, name, 20, 0, Estimate(1.0 - 0.2 * rank, 0.9 - 0.2 * rank, 1.1 - 0.2 * rank), shift=shift, tier=rank))
    return RankingResults(groups=groups, pairs=[], attributes=list(ATTRS), scores=pd.DataFrame(), settings={"reference": "clean"})


@pytest.mark.unit
def test_check_of_a_built_ranking_passes_when_another_attribute_moves_more_than_the_intended_one():
    moves = {**PASSING, "very_noisy": {"noisiness": (0.8, 0.3, 1.3), "colorfulness": (3.0, 2.5, 3.5)},
             "blurred": {"sharpness": (-0.9, -1.4, -0.4), "contrast": (-2.5, -3.0, -2.0)}}
    verdict = check(built(expected_order(), moves))
    assert verdict["ok"] and verdict["order_ok"] and verdict["attributes_ok"]
    noisy, blurred = verdict["attributes"]["very_noisy"], verdict["attributes"]["blurred"]
    assert noisy["main"] == "colorfulness" and noisy["ok"] and (noisy["shift"], noisy["lo"], noisy["hi"]) == (0.8, 0.3, 1.3)
    assert blurred["main"] == "contrast" and blurred["ok"]
    assert re.search(r"^very_noisy +expected noisiness higher +found \+0\.80 SD \[\+0\.30, \+1\.30\] +OK$", describe(verdict), re.M)
    assert describe(verdict).endswith("demo check: passed")


@pytest.mark.unit
@pytest.mark.parametrize("group, move", [("very_noisy", {"noisiness": (0.8, -0.1, 1.7)}),  # a rise whose CI reaches below zero
                                         ("slightly_dark", {"brightness": (-0.5, -1.0, 0.1)}),  # a fall whose CI reaches above zero
                                         ("blurred", {"sharpness": (-0.5, -1.0, 0.0)})])  # a bound on zero does not exclude it
def test_check_of_a_built_ranking_fails_an_intended_move_whose_interval_includes_zero(group, move):
    verdict = check(built(expected_order(), {**PASSING, group: move}))
    assert verdict["order_ok"] and not verdict["attributes"][group]["ok"] and not verdict["attributes_ok"] and not verdict["ok"]
    assert all(item["ok"] for name, item in verdict["attributes"].items() if name != group)
    line = next(line for line in describe(verdict).splitlines() if line.startswith(group))
    assert line.endswith("WRONG") and describe(verdict).endswith("demo check: FAILED")


@pytest.mark.unit
@pytest.mark.parametrize("group, move", [("slightly_dark", {"brightness": (1.2, 0.8, 1.6)}),  # brighter, clearly: not darkening
                                         ("very_noisy", {"noisiness": (-2.1, -2.7, -1.5)})])
def test_check_of_a_built_ranking_fails_an_intended_attribute_that_moves_the_wrong_way(group, move):
    verdict = check(built(expected_order(), {**PASSING, group: move}))
    assert verdict["order_ok"] and not verdict["attributes"][group]["ok"] and not verdict["ok"]
    assert check(built(expected_order(), PASSING))["ok"]  # the same ranking with the intended signs passes


@pytest.mark.unit
def test_check_of_a_built_ranking_fails_the_wrong_order_even_when_every_attribute_moves_right():
    swapped = ["clean", "blurred", "slightly_dark", "very_noisy"]
    verdict = check(built(swapped, PASSING))
    assert verdict["attributes_ok"] and not verdict["order_ok"] and not verdict["ok"] and verdict["order"] == swapped
    assert "found order:    clean > blurred > slightly_dark > very_noisy   WRONG" in describe(verdict)


@pytest.mark.unit
def test_check_of_a_built_ranking_fails_a_shift_without_an_interval():
    results = built(expected_order(), PASSING)
    noisy = results.group("very_noisy")
    shift = AttributeShift(noisy.shift.main, noisy.shift.main_shift, dict(noisy.shift.shifts))  # no lo / hi
    results.groups = [g if g.group != "very_noisy" else replace(g, shift=shift) for g in results.groups]
    verdict = check(results)
    assert not verdict["attributes"]["very_noisy"]["ok"] and verdict["attributes"]["very_noisy"]["found"] == "+2.10 SD [n/a, n/a]"


@pytest.mark.integration
def test_generators_apply_their_degradation_to_shared_prompts(tmp_path):
    table = build_generators(tmp_path / "gens", size=32, photos=("chelsea",), scales=(2,))
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    prompts = sorted({r["prompt"] for r in rows})
    assert len(rows) == 4 * len(prompts) and len(prompts) == 6  # chelsea at short side 64: 2 x 3 crops of 32 px
    stamp = table.stat().st_mtime_ns
    assert build_generators(tmp_path / "gens", size=32, photos=("chelsea",), scales=(2,)) == table and table.stat().st_mtime_ns == stamp

    def load(group: str) -> np.ndarray:
        return np.stack([np.asarray(Image.open(tmp_path / "gens" / group / f"{p}.png"), dtype=np.float64) / 255 for p in prompts])

    clean, dark, blur, noise = (load(g) for g in ("clean", "slightly_dark", "blurred", "very_noisy"))

    def detail(x: np.ndarray) -> float:  # mean absolute horizontal gradient
        return float(np.abs(np.diff(x, axis=2)).mean())

    assert detail(blur) < 0.8 * detail(clean) < detail(noise)
    assert dark.mean() < clean.mean() - 0.05 and abs(blur.mean() - clean.mean()) < 0.01


@pytest.mark.integration
def test_demo_command_writes_the_reports_and_its_verdict_matches_the_tables(tmp_path, capsys):
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet
    from iqa.ranking import RankSettings
    from iqa.ranking.demo import run_demo

    torch.manual_seed(1)
    ckpt = export_checkpoint(IQANet(weights="none"), tmp_path / "tiny.ckpt", stage="finetune", data="demo", mos_range=[1.0, 5.0],
                             higher_is_better=True, image_size=32, attributes_trained=True)
    settings = RankSettings(ckpt=str(ckpt), out=str(tmp_path / "demo"), cache=str(tmp_path / "cache"), batch_size=16, num_workers=0,
                            chunk_size=64, bootstrap=200, device="cpu", progress=False)
    code = run_demo(settings, size=32, photos=("chelsea",), scales=(2,))
    out = tmp_path / "demo"
    verdict = json.loads((out / "demo_check.json").read_text())
    payload = json.loads((out / "ranking.json").read_text())
    # The verdict, recomputed from the written tables.
    order = [g["group"] for g in payload["groups"]]
    assert verdict["order"] == order and verdict["order_ok"] == (order == ["clean", "slightly_dark", "blurred", "very_noisy"])
    for name, (attribute, sign) in expected_attributes().items():
        row = next(g for g in payload["groups"] if g["group"] == name)
        lo, hi = row["attribute_shifts_lo"][attribute], row["attribute_shifts_hi"][attribute]
        moved_right = np.sign(row["attribute_shifts"][attribute]) == sign and sign * (lo if sign > 0 else hi) > 0
        assert verdict["attributes"][name]["ok"] == moved_right
    assert payload["settings"]["reference"] == "clean" and code == (0 if verdict["ok"] else 1)
    text = capsys.readouterr().out
    assert "expected order: clean > slightly_dark > blurred > very_noisy" in text and "demo check:" in text
    assert (out / "ranking.png").is_file() and Path(payload["settings"]["cache"]).is_file()


@pytest.mark.unit
def test_the_command_line_demo_runs_the_library_demo_with_the_same_settings(tmp_path, monkeypatch):
    import iqa.ranking.demo
    from iqa.cli.rank import main
    from iqa.ranking import RankSettings

    seen = []
    monkeypatch.setattr(iqa.ranking.demo, "run_demo", lambda settings: seen.append(settings) or 1)
    monkeypatch.setenv("ATTIQA_OUTPUT_DIR", str(tmp_path))
    assert main(["--demo", "--bootstrap", "300", "--device", "cpu"]) == 1
    assert seen == [RankSettings(out=f"{tmp_path}/rank/demo", bootstrap=300, device="cpu")]
