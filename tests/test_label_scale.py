"""label.py at scale, run as users run it: DDP ranks, a killed run resumed, a sweep, W&B histograms."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _label_helpers import encode, photo_crops, read_wandb_history

from iqa.attributes import ATTRIBUTES
from iqa.data.label_sets import read_labels
from iqa.teachers.labelling import label as run

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parent


def make_folder(root: Path, good: int, bad: int = 0) -> int:
    """``good`` small photos in nested folders plus ``bad`` unusable files; returns the file count."""
    for index, crop in enumerate(photo_crops(good, size=64)):
        path = root / f"d{index % 3}" / f"img{index:03d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(crop))
    for index in range(bad):
        (root / f"bad{index}.jpg").write_bytes(b"" if index % 2 else b"\xff\xd8 not really a jpeg")
    return good + bad


@pytest.mark.slow
def test_two_process_ddp_labels_every_image_exactly_once(run_script, tmp_path):
    root = tmp_path / "photos"
    files = make_folder(root, good=21, bad=3)
    out = tmp_path / "labels"
    result = run_script(
        "label.py", "data=folder", f"data.root={root}", "data.corpus.chunk_size=3", f"out={out}", "trainer=ddp_cpu",
        "trainer.devices=2", "num_workers=1", "batch_size=4", "teacher.image_size=64", "progress=false", timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["last_run"]["world_size"] == 2
    counts = manifest["counts"]
    assert counts["units"] == 8 and counts["labelled"] == 21 and counts["labelled"] + counts["skipped"] == files
    frame = read_labels(out)
    assert len(frame) == 21 and frame["key"].is_unique
    assert sorted(frame["key"]) == sorted(p.relative_to(root).as_posix() for p in root.rglob("img*.jpg"))
    assert sorted(Path(s["source"]).name for s in manifest["skipped"]) == ["bad0.jpg", "bad1.jpg", "bad2.jpg"]


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_labels(compose, repo_root, tmp_path):
    root = tmp_path / "photos"
    make_folder(root, good=15)
    common = ["data=folder", f"data.root={root}", "data.corpus.chunk_size=3", "batch_size=3", "num_workers=0",
              "trainer.accelerator=cpu", "teacher.image_size=64", "progress=false"]
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen(
        [sys.executable, str(repo_root / "label.py"), *common, f"out={out}",
         "teacher._target_=_label_helpers.SlowClassicalTeacher", "+teacher.delay=0.5"],
        cwd=repo_root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    units = out / "units"
    try:
        deadline = time.monotonic() + 240
        while not list(units.glob("*.done.json")):
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "no unit was committed in time"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the whole session: the run and anything it started
        process.wait()
    committed = sorted(units.glob("*.done.json"))
    assert 1 <= len(committed) < 5 and not (out / "manifest.json").exists()
    kept = {p: p.stat().st_mtime_ns for p in committed}

    manifest = run(compose("label", [*common, f"out={out}"]))  # the same command, with the plain teacher
    reference = run(compose("label", [*common, f"out={tmp_path}/uninterrupted"]))
    assert {p: p.stat().st_mtime_ns for p in committed} == kept  # finished units were not redone
    assert manifest["counts"] == reference["counts"] == {"labelled": 15, "skipped": 0, "units": 5}
    resumed = read_labels(out).sort_values("key").reset_index(drop=True)
    straight = read_labels(tmp_path / "uninterrupted").sort_values("key").reset_index(drop=True)
    assert resumed["key"].is_unique and len(resumed) == 15
    assert resumed[["key", "source", *ATTRIBUTES]].equals(straight[["key", "source", *ATTRIBUTES]])


@pytest.mark.slow
def test_sweep_gives_one_label_set_per_combination_without_copying_images(run_script, tmp_path):
    root = tmp_path / "photos"
    make_folder(root, good=6)
    result = run_script(
        "label.py", "-m", "teacher=openclip_tiny,classical", "prompts=clipiqa,attiqa", "data=folder", f"data.root={root}",
        f"paths.labels_dir={tmp_path}/labels", f"hydra.sweep.dir={tmp_path}/sweep", "num_workers=0",
        "trainer.accelerator=cpu", "progress=false", timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted((tmp_path / "sweep").iterdir())
    assert [j.name for j in jobs if j.is_dir()] == ["0", "1", "2", "3"]  # one job per combination
    label_root = tmp_path / "labels" / "folder"
    sets = sorted(p.name for p in label_root.iterdir())
    # CLIP labels depend on the prompt set: one directory each. The classical teacher reads no
    # prompts, so both of its combinations are the same label set, labelled once.
    assert sets == ["classical", "openclip-attiqa-tiny-attiqa", "openclip-attiqa-tiny-clipiqa"]
    manifests = {name: json.loads((label_root / name / "manifest.json").read_text()) for name in sets}
    assert all(m["counts"] == {"labelled": 6, "skipped": 0, "units": 1} for m in manifests.values())
    assert manifests["openclip-attiqa-tiny-clipiqa"]["prompts"]["sharpness"] == [["Sharp photo.", "Blurry photo."]]
    assert len(manifests["openclip-attiqa-tiny-attiqa"]["prompts"]["sharpness"]) == 6
    assert len({m["config_hash"] for m in manifests.values()}) == 3
    classical = [line for line in result.stdout.splitlines() if line.endswith("/classical/manifest.json")]
    assert len(classical) == 2 and sum("this run: 6 in" in line for line in classical) == 1  # the second had no work
    # Labels only: no image bytes anywhere in the label sets.
    files = [p for p in label_root.rglob("*") if p.is_file() and ".hydra" not in p.parts]
    assert {p.suffix for p in files} <= {".csv", ".json", ".log"}
    for path in files:
        text = path.read_bytes()
        text.decode("utf-8")  # text files only
        assert b"\xff\xd8\xff" not in text and b"JFIF" not in text


@pytest.mark.slow
def test_wandb_offline_run_holds_label_histograms(compose, tiny_overrides, tiny_dirs, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_DIR", raising=False)
    cfg = compose("label", [*tiny_overrides(*tiny_dirs), "teacher.image_size=64", "num_workers=0", "trainer.accelerator=cpu",
                            f"out={tmp_path}/labels", "logger=wandb", "progress=false"])
    manifest = run(cfg)
    (run_dir,) = list((tmp_path / "labels" / "wandb").glob("offline-run-*"))  # the run directory is the label set's
    # W&B's service process writes the run file after finish() returns: wait for the histograms, not forever.
    deadline = time.monotonic() + 60
    while "labels/count_labelled" not in (history := read_wandb_history(run_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for attribute in ATTRIBUTES:
        assert json.loads(history[f"labels/{attribute}/_type"]) == "histogram"
        counts = json.loads(history[f"labels/{attribute}/values"])
        assert sum(counts) == manifest["counts"]["labelled"] == 11 * 41  # every label is in the histogram
        assert len(json.loads(history[f"labels/{attribute}/bins"])) == len(counts) + 1
    assert json.loads(history["labels/count_labelled"]) == 11 * 41
