"""Ranking groups of images: the statistics against independent computations, the cache, inputs, bad input, the CLI."""

from __future__ import annotations

import json
import math
import os
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _evaluation_helpers import tiny_image
from scipy import stats

from iqa.errors import UserError
from iqa.ranking import AttributeShift, ScoreCache, analyse, bootstrap_means, holm, percentile_ci, win_rate

ATTRS = ["sharpness", "brightness", "contrast", "colorfulness", "noisiness"]


# -- statistics ---------------------------------------------------------------------------------


@pytest.mark.unit
def test_bootstrap_ci_matches_scipy_and_normal_theory():
    sample = np.random.default_rng(3).gamma(2.0, 1.5, size=300)
    low, high = percentile_ci(bootstrap_means(sample, 20000, np.random.default_rng(0)), 0.95)
    reference = stats.bootstrap((sample,), np.mean, n_resamples=20000, confidence_level=0.95, method="percentile",
                                random_state=np.random.default_rng(1)).confidence_interval
    se = sample.std(ddof=1) / math.sqrt(len(sample))
    # Two independent Monte Carlo estimates of the same interval agree to a few hundredths of a standard error...
    assert low == pytest.approx(reference.low, abs=0.06 * se) and high == pytest.approx(reference.high, abs=0.06 * se)
    # ...and for n = 300 both are close to mean +- 1.96 standard errors.
    assert low == pytest.approx(sample.mean() - 1.96 * se, abs=0.15 * se)
    assert high == pytest.approx(sample.mean() + 1.96 * se, abs=0.15 * se)
    # Columns share the resampled rows; each column's interval is its own.
    two = bootstrap_means(np.column_stack([sample, 2 * sample]), 2000, np.random.default_rng(5))
    np.testing.assert_allclose(two[:, 1], 2 * two[:, 0])
    # Blocked evaluation (small memory cap) gives the same draws as one block.
    np.testing.assert_allclose(bootstrap_means(sample, 500, np.random.default_rng(9), max_elements=1000),
                               bootstrap_means(sample, 500, np.random.default_rng(9)))


@pytest.mark.unit
@pytest.mark.parametrize("draw,mean,n", [
    (lambda rng, size: rng.normal(2.0, 1.0, size), 2.0, 30),
    (lambda rng, size: rng.exponential(1.0, size), 1.0, 80),
])
def test_bootstrap_ci_covers_the_true_mean_about_95_percent_of_the_time(draw, mean, n):
    rng = np.random.default_rng(11)
    replicates = 800
    samples = draw(rng, (n, replicates))  # one column per repeated experiment
    low, high = percentile_ci(bootstrap_means(samples, 1000, np.random.default_rng(12)), 0.95)
    coverage = float(np.mean((low <= mean) & (mean <= high)))
    # Binomial sd of the estimate is ~0.8 %; the percentile bootstrap runs slightly narrow at small n.
    assert 0.91 <= coverage <= 0.975, coverage


@pytest.mark.unit
def test_win_rate_counts_ties_as_half_like_brute_force():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 6, size=37).astype(float), rng.integers(1, 7, size=23).astype(float)
    brute = np.mean([(x > y) + 0.5 * (x == y) for x, y in product(a, b)])
    assert win_rate(a, b) == pytest.approx(brute, abs=1e-12)
    assert win_rate(b, a) == pytest.approx(1 - brute, abs=1e-12)
    assert win_rate([1, 2], [1, 2]) == 0.5 and win_rate([3], [1, 2]) == 1.0


@pytest.mark.unit
def test_holm_adjustment_by_hand_and_nan_is_not_a_test():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> monotone 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    out = holm([0.02, float("nan"), 0.5])
    assert math.isnan(out[1]) and out[0] == pytest.approx(0.04) and out[2] == pytest.approx(0.5)
    assert holm([0.9, 0.8]).max() <= 1.0


def synthetic_scores(seed: int = 0, n: int = 40) -> pd.DataFrame:
    """Three groups on shared prompts: b loses sharpness, c gains noisiness, a and a_twin are the same generator."""
    rng = np.random.default_rng(seed)
    rows = []
    content = rng.normal(0, 0.05, size=n)  # prompt difficulty shared by every group
    spec = {"a": (0.8, {}), "a_twin": (0.8, {}), "b": (0.6, {"sharpness": -2.0}), "c": (0.45, {"noisiness": 2.0})}
    for group, (mu, shift) in spec.items():
        for i in range(n):
            row = {"group": group, "path": f"/x/{group}/{i}.png", "prompt": f"p{i}", "quality_norm": mu + content[i] + rng.normal(0, 0.05),
                   "error": ""}
            row.update({a: rng.normal() + shift.get(a, 0.0) for a in ATTRS})
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.unit
def test_analyse_recovers_a_known_order_attribute_and_verdicts():
    results = analyse(synthetic_scores(), attributes=ATTRS, n_boot=1000, reference="a")
    assert results.order[2:] == ["b", "c"] and set(results.order[:2]) == {"a", "a_twin"}
    assert results.group("b").shift.main == "sharpness" and results.group("b").shift.main_shift < -1
    assert results.group("c").shift.main == "noisiness" and results.group("c").shift.main_shift > 1
    zero = dict.fromkeys(ATTRS, 0.0)
    assert results.group("a").shift == AttributeShift("", None, zero, zero, zero)  # the reference
    assert results.pair("a", "b").distinguishable and results.pair("b", "c").distinguishable
    twins = results.pair("a", "a_twin")
    assert not twins.distinguishable and twins.diff_lo < 0 < twins.diff_hi
    ab = results.pair("a", "b")
    assert ab.test.startswith("wilcoxon") and ab.n_shared == 40 and ab.win_rate > 0.95
    ba = results.pair("b", "a")
    assert (ba.a, ba.b, ba.win_rate, ba.diff, ba.diff_lo, ba.diff_hi) == ("b", "a", 1 - ab.win_rate, -ab.diff, -ab.diff_hi, -ab.diff_lo)
    # Rows read by their JSON keys too, as the plain dicts they replace.
    assert results.group("b")["main_attribute"] == "sharpness" and ab["n_shared"] == 40 and "mos" not in results.group("b")
    assert results.to_dict()["groups"][2] == results.group("b").to_dict() and results.to_dict()["pairs"][0] == results.pairs[0].to_dict()
    # The paired statistics are the ones scipy computes on the per-prompt differences.
    frame = results.scores
    diffs = (frame[frame.group == "a"].set_index("prompt").quality_norm - frame[frame.group == "b"].set_index("prompt").quality_norm)
    assert ab["diff"] == pytest.approx(diffs.mean()) and ab["p"] == pytest.approx(stats.wilcoxon(diffs.to_numpy()).pvalue)
    raw_p = [p["p"] for p in results.pairs]
    np.testing.assert_allclose([p["p_holm"] for p in results.pairs], holm(raw_p))
    # The group rows: n, CI around the mean, ranks 1..4.
    b = results.group("b")
    assert b.n == 40 and b.quality.lo < b.quality.mean < b.quality.hi and [g.rank for g in results.groups] == [1, 2, 3, 4]


@pytest.mark.unit
def test_seeded_and_adding_a_group_changes_no_other_interval():
    frame = synthetic_scores()
    one = analyse(frame, attributes=ATTRS, n_boot=500, seed=4)
    again = analyse(frame, attributes=ATTRS, n_boot=500, seed=4)
    fewer = analyse(frame[frame.group != "a_twin"], attributes=ATTRS, n_boot=500, seed=4)
    other = analyse(frame, attributes=ATTRS, n_boot=500, seed=5)
    assert one.to_dict() == again.to_dict()
    assert fewer.group("b")["quality_lo"] == one.group("b")["quality_lo"]
    assert other.group("b")["quality_lo"] != one.group("b")["quality_lo"]


@pytest.mark.unit
def test_unpaired_groups_use_mann_whitney_and_small_groups_warn():
    frame = synthetic_scores(n=8).drop(columns=["prompt"])
    results = analyse(frame, attributes=[], n_boot=300, min_group=10)
    pair = results.pair("a", "c")
    qa = frame[frame.group == "a"].quality_norm.to_numpy()
    qc = frame[frame.group == "c"].quality_norm.to_numpy()
    assert pair["test"].startswith("mann-whitney") and pair["p"] == pytest.approx(stats.mannwhitneyu(qa, qc).pvalue)
    assert pair["win_rate"] == pytest.approx(stats.mannwhitneyu(qa, qc).statistic / 64)
    assert any("only 8 readable images" in w for w in results.warnings)


@pytest.mark.unit
def test_unreadable_images_are_listed_per_group_and_an_unreadable_group_is_an_error():
    frame = synthetic_scores(n=12)
    frame.loc[frame.index[:3], ["quality_norm", "error"]] = [np.nan, "unreadable: truncated"]
    results = analyse(frame, attributes=ATTRS, n_boot=200)
    assert results.group("a")["n"] == 9 and results.group("a")["unreadable"] == 3
    assert [Path(i.path).name for i in results.unreadable["a"]] == ["0.png", "1.png", "2.png"]
    assert "Unreadable files" in results.to_markdown() and "a: 3" in results.to_markdown()
    frame.loc[frame.group == "c", ["quality_norm", "error"]] = [np.nan, "not an image"]
    with pytest.raises(UserError, match="group 'c' has no readable image: 12 unreadable"):
        analyse(frame, attributes=ATTRS, n_boot=200)


@pytest.mark.unit
@pytest.mark.parametrize("higher", [True, False])
def test_agreement_with_mos_matches_scipy_on_group_means(higher):
    frame = synthetic_scores(n=15)
    rng = np.random.default_rng(2)
    true_order = {"a": 4.5, "a_twin": 4.0, "b": 3.2, "c": 3.4}  # people put c above b
    sign = 1 if higher else -1
    frame["mos"] = [sign * true_order[g] + rng.normal(0, 0.1) for g in frame.group]
    results = analyse(frame, attributes=ATTRS, n_boot=200, mos_scale={"higher_is_better": higher})
    agreement = results.agreement.to_dict()
    model = frame.groupby("group").quality_norm.mean()
    human = sign * frame.groupby("group").mos.mean()
    assert agreement["spearman"] == pytest.approx(stats.spearmanr(model, human)[0])
    assert agreement["kendall"] == pytest.approx(stats.kendalltau(model, human)[0])
    assert agreement["human_order"][:2] == ["a", "a_twin"] and agreement["human_order"][2:] == ["c", "b"]
    assert results.group("c").human.rank == 3 and results.group("c")["mos_rank"] == 3 and "Agreement with people" in results.to_markdown()


# -- the cache ----------------------------------------------------------------------------------


@pytest.mark.unit
def test_cache_survives_a_torn_line_and_keys_follow_the_file(tmp_path):
    from iqa.ranking.cache import file_key

    image = tmp_path / "x.png"
    tiny_image(0).save(image)
    key = file_key(str(image))
    cache = ScoreCache(tmp_path / "cache", "model")
    cache.add([(key, 0.5, [1.0, float("nan")], "")])
    with open(cache.path, "ab") as handle:
        handle.write(b'{"k": "/half/written", "q": 0.')  # killed mid-write
    reopened = ScoreCache(tmp_path / "cache", "model")
    assert reopened.torn == 1 and reopened.get(key)[0] == 0.5 and math.isnan(reopened.get(key)[1][1])
    reopened.add([("other", 0.25, [0.0, 0.0], "")])
    assert ScoreCache(tmp_path / "cache", "model").get("other")[0] == 0.25  # the torn line was fenced off
    os.utime(image, ns=(1, 1))
    assert file_key(str(image)) != key and file_key(str(tmp_path / "missing.png")) is None


# -- inputs and the model -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "model.ckpt"
    return export_checkpoint(IQANet(weights="none"), path, stage="finetune", data="demo", mos_range=[1.0, 5.0], higher_is_better=True,
                             image_size=32, attributes_trained=True)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gens")
    for g, group in enumerate(("gen_a", "gen_b", "gen_c")):
        (root / group).mkdir()
        for i in range(6):
            tiny_image(10 * g + i, (40, 32)).save(root / group / f"{i}.png")
    (root / "gen_b" / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    return root


@pytest.mark.integration
def test_rank_scores_once_then_from_the_cache_and_only_new_groups(ckpt, folders, tmp_path):
    import iqa

    groups = {g: folders / g for g in ("gen_a", "gen_b")}
    first = iqa.rank(groups, ckpt=ckpt, cache=tmp_path / "cache", device="cpu", n_boot=200, batch_size=4)
    assert first.settings["newly_scored"] == 13 and first.settings["from_cache"] == 0
    assert first.group("gen_b").unreadable == 1 and first.unreadable["gen_b"][0].path.endswith("broken.jpg")
    again = iqa.rank(groups, ckpt=ckpt, cache=tmp_path / "cache", device="cpu", n_boot=200)
    assert again.settings["newly_scored"] == 0 and again.settings["from_cache"] == 13
    assert again.to_dict()["groups"] == first.to_dict()["groups"]
    three = [folders / "gen_a", folders / "gen_b", folders / "gen_c"]
    more = iqa.rank(three, ckpt=ckpt, cache=tmp_path / "cache", device="cpu", n_boot=200)
    assert more.settings["newly_scored"] == 6 and set(more.order) == {"gen_a", "gen_b", "gen_c"}
    # Cached scores are the scores: the same as scoring the files directly.
    direct = iqa.load(ckpt, device="cpu").score(folders / "gen_c")
    np.testing.assert_allclose(np.sort(more.scores[more.scores.group == "gen_c"].quality_norm), np.sort(direct.quality_norm), atol=1e-6)


@pytest.mark.integration
def test_a_crash_mid_run_keeps_every_finished_chunk(ckpt, folders, tmp_path, monkeypatch):
    import iqa
    import iqa.inference

    real = iqa.inference.predict_items
    calls = []

    def crash_on_third_chunk(*args, **kwargs):
        calls.append(len(args[1]))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(iqa.inference, "predict_items", crash_on_third_chunk)
    groups = [folders / "gen_a", folders / "gen_b", folders / "gen_c"]
    with pytest.raises(KeyboardInterrupt):
        iqa.rank(groups, ckpt=ckpt, cache=tmp_path / "cache", device="cpu", chunk_size=5, n_boot=200)
    monkeypatch.setattr(iqa.inference, "predict_items", real)
    resumed = iqa.rank(groups, ckpt=ckpt, cache=tmp_path / "cache", device="cpu", chunk_size=5, n_boot=200)
    assert calls[:2] == [5, 5] and resumed.settings["from_cache"] == 10 and resumed.settings["newly_scored"] == 9


@pytest.mark.unit
def test_bad_inputs_are_one_clear_error(ckpt, folders, tmp_path):
    import iqa

    with pytest.raises(UserError, match="group 'nowhere': not found"):
        iqa.rank({"a": folders / "gen_a", "nowhere": tmp_path / "nowhere"}, ckpt=ckpt)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="group 'empty' is empty"):
        iqa.rank([folders / "gen_a", tmp_path / "empty"], ckpt=ckpt)
    bad = tmp_path / "bad.csv"
    bad.write_text("file,generator\na.png,x\n")
    with pytest.raises(UserError, match="missing column.s. path, group; need path and group"):
        iqa.rank(csv=bad, ckpt=ckpt)
    with pytest.raises(UserError, match="at least 2 groups"):
        iqa.rank([folders / "gen_a"], ckpt=ckpt)
    with pytest.raises(UserError, match="exactly one input"):
        iqa.rank([folders / "gen_a"], csv=bad, ckpt=ckpt)


@pytest.mark.integration
def test_cli_writes_every_table_and_rejects_an_untrained_head(ckpt, folders, tmp_path, capsys):
    from iqa.cli.rank import main
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    out = tmp_path / "report"
    table = tmp_path / "images.csv"
    rows = ["path,group,prompt"] + [f"{folders}/{g}/{i}.png,{g},p{i}" for g in ("gen_a", "gen_b", "gen_c") for i in range(6)]
    table.write_text("\n".join(rows) + "\n")
    code = main(["--csv", str(table), "--ckpt", str(ckpt), "--out", str(out), "--cache", str(tmp_path / "cache"), "--device", "cpu",
                 "--bootstrap", "300", "--no-progress"])
    assert code == 0
    assert {p.name for p in out.iterdir()} >= {"ranking.md", "ranking.csv", "pairs.csv", "scores.csv", "ranking.json", "ranking.png"}
    payload = json.loads((out / "ranking.json").read_text())
    assert payload["settings"]["n_boot"] == 300 and payload["settings"]["paired"] is True
    assert len(payload["pairs"]) == 3 and all(p["n_shared"] == 6 for p in payload["pairs"])
    ranked = pd.read_csv(out / "ranking.csv")
    assert list(ranked["rank"]) == [1, 2, 3] and {"quality_lo", "sharpness_hi", "main_attribute"} <= set(ranked.columns)
    assert len(pd.read_csv(out / "scores.csv")) == 18 and (out / "ranking.png").read_bytes()[:4] == b"\x89PNG"
    captured = capsys.readouterr()
    assert "| tier | rank [95% CI] | group |" in captured.out and "groups" in captured.out and "18 images: 18 scored" in captured.err
    pretrain = export_checkpoint(IQANet(weights="none"), tmp_path / "pretrain.ckpt", stage="pretrain", image_size=32)
    with pytest.raises(SystemExit) as exit_info:
        main([str(folders / "gen_a"), str(folders / "gen_b"), "--ckpt", str(pretrain), "--no-cache", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and err[-1].startswith("error: ") and "has no trained quality head" in err[-1]
    with pytest.raises(SystemExit):
        main([str(folders / "gen_a"), str(tmp_path / "missing"), "--ckpt", str(ckpt), "--no-cache"])
    assert "error: group 'missing': not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(folders / "gen_a"), "bootstrapp=10", "--ckpt", str(ckpt)])
    assert "'bootstrapp' is no setting (did you mean: bootstrap?)" in capsys.readouterr().err


@pytest.mark.unit
@pytest.mark.parametrize("item,flag", [("bootstrap=5000", "--bootstrap 5000"), ("logger=wandb", "--logger wandb"),
                                       ("min_group=3", "--min-group 3"), ("progress=false", "--no-progress")])
def test_cli_names_the_flag_for_a_key_value_setting(item, flag, capsys):
    from iqa.cli.rank import main

    with pytest.raises(SystemExit) as exit_info:
        main(["gen_a/", item, "gen_b/"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and err == [f"error: {item}: use {flag}"]


@pytest.mark.unit
def test_cli_defaults_are_the_settings_dataclass_and_each_flag_sets_its_field(tmp_path, monkeypatch):
    from dataclasses import fields

    from iqa.cli.rank import flag, parse
    from iqa.ranking import RankSettings

    monkeypatch.setenv("ATTIQA_OUTPUT_DIR", str(tmp_path / "o"))  # read when the settings are made, as ${oc.env:...} was
    settings, inputs, demo = parse(["gen_a/", "gen_b/"])
    assert settings == RankSettings() and inputs == ["gen_a/", "gen_b/"] and not demo
    assert settings.out == f"{tmp_path}/o/rank/latest" and settings.cache == f"{tmp_path}/o/rank/cache"
    assert (settings.bootstrap, settings.seed, settings.level, settings.alpha, settings.logger) == (2000, 0, 0.95, 0.05, "none")
    assert parse(["--demo"])[0].out == f"{tmp_path}/o/rank/demo" and parse(["--demo", "--out", "x"])[0].out == "x"
    assert parse(["a/", "b/", "--no-cache"])[0].cache is None and parse(["a/", "b/", "--no-progress"])[0].progress is False
    values = {"bootstrap": "5000", "seed": "3", "level": "0.9", "alpha": "0.01", "min_group": "4", "reference": "a", "batch_size": "8",
              "chunk_size": "64", "num_workers": "2", "device": "cpu", "logger": "wandb", "out": "o", "cache": "c", "ckpt": "m.ckpt",
              "csv": "t.csv", "dataset": "agiqa3k", "root": "r", "split": "test", "cluster_by": "scene", "breakdown_by": "style, class",
              "mos_direction": "lower", "max_pair_groups": "20"}
    argv = [arg for name, value in values.items() for arg in (flag(name), value)]
    parsed = parse(argv)[0]
    for f in fields(RankSettings):
        if f.name in values:
            assert getattr(parsed, f.name) == f.metadata["parse"](values[f.name]), f.name
    assert {f.name for f in fields(RankSettings)} == set(values) | {"progress"}


@pytest.mark.unit
@pytest.mark.parametrize("argv,message", [(["--bootstrap", "50"], "bootstrap must be >= 100 resamples, got 50"),
                                          (["--batch-size", "0"], "batch_size must be >= 1, got 0"),
                                          (["--logger", "tensorboard"], "logger must be none or wandb, got tensorboard"),
                                          (["--mos-direction", "up"], "mos_direction must be one of higher, lower, got up"),
                                          (["--max-pair-groups", "1"], "max_pair_groups must be >= 2, got 1")])
def test_cli_rejects_bad_settings_in_one_line(argv, message, capsys):
    from iqa.cli.rank import main

    with pytest.raises(SystemExit) as exit_info:
        main(["gen_a/", "gen_b/", *argv])
    assert exit_info.value.code == 2 and capsys.readouterr().err.strip().splitlines() == [f"error: {message}"]


@pytest.mark.unit
def test_ranking_modules_import_no_cycle_and_not_the_cli():
    import ast
    import pkgutil

    import iqa.ranking

    package = Path(iqa.ranking.__file__).parent
    names = [m.name for m in pkgutil.iter_modules([str(package)])]
    edges: dict[str, set[str]] = {}
    for name in names:
        tree = ast.parse((package / f"{name}.py").read_text())
        found = set()
        for node in ast.walk(tree):  # module level and inside functions alike
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            assert not any(t == "iqa.cli" or t.startswith("iqa.cli.") for t in targets), f"iqa.ranking.{name} imports iqa.cli"
            assert targets[0] != "iqa.ranking", f"iqa.ranking.{name} imports its own package"  # which imports every module
            found |= {t.split(".")[2] for t in targets if t.startswith("iqa.ranking.") and t.split(".")[2] in names}
        edges[name] = found - {name}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in edges[start])

    assert not [name for name in names if reaches(name, name, set())]


@pytest.mark.integration
def test_wandb_gets_the_ranking_tables(ckpt, folders, tmp_path, monkeypatch):
    from iqa.cli.rank import main

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_DIR", raising=False)
    out = tmp_path / "report"
    code = main([str(folders / "gen_a"), str(folders / "gen_c"), "--ckpt", str(ckpt), "--out", str(out), "--no-cache", "--device", "cpu",
                 "--logger", "wandb", "--bootstrap", "200", "--no-progress"])
    assert code == 0
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    media = runs[0] / "files" / "media"
    # The group table is logged as "ranking" and the pair table as "ranking_pairs": two tables, told apart by key.
    tables = {path.name.rsplit("_", 2)[0]: json.loads(path.read_text()) for path in (media / "table").glob("*.table.json")}
    assert set(tables) == {"ranking", "ranking_pairs"}
    groups = tables["ranking"]
    at = groups["columns"].index("group")
    assert groups["columns"][0] == "rank" and {"tier", "rank_lo", "rank_hi", "units"} <= set(groups["columns"])
    assert {row[at] for row in groups["data"]} == {"gen_a", "gen_c"}
    assert tables["ranking_pairs"]["columns"][:2] == ["a", "b"] and len(tables["ranking_pairs"]["data"]) == 1
    assert [path.name.rsplit("_", 2)[0] for path in (media / "images").glob("*.png")] == ["ranking"]


@pytest.mark.unit
def test_iqa_command_lists_and_dispatches_rank(capsys):
    from iqa.cli.main import main

    assert main(["--help"]) == 0 and "rank            rank groups of images" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["rank", "--help"])
    assert exit_info.value.code == 0 and "usage: iqa rank" in capsys.readouterr().out
    assert main(["rnak"]) == 2 and "did you mean: rank" in capsys.readouterr().err


@pytest.mark.integration
def test_untrained_attribute_heads_leave_the_panel_out_with_a_note(folders, tmp_path):
    import iqa
    from iqa.inference import export_checkpoint
    from iqa.models import IQANet

    plain = export_checkpoint(IQANet(weights="none"), tmp_path / "plain.ckpt", stage="finetune", data="demo", init="imagenet",
                              mos_range=[1.0, 5.0], higher_is_better=True, image_size=32)
    results = iqa.rank([folders / "gen_a", folders / "gen_c"], ckpt=plain, device="cpu", n_boot=200)
    assert results.attributes == [] and "sharpness" not in results.to_frame().columns
    assert any("attribute heads never saw an attribute label" in w for w in results.warnings)
    results.write(tmp_path / "out")
    assert (tmp_path / "out" / "ranking.png").stat().st_size > 0
