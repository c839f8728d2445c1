"""Hydra sweeps (-m) on CPU, alone and combined with DDP, and the SLURM launcher config."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def sweep_args(tiny_crops, tiny_stage):
    def build(tiny_dirs, labels: Path, output_dir: Path) -> list[str]:
        data_dir, _ = tiny_dirs
        return [
            "experiment=demo", f"paths.data_dir={data_dir}", f"paths.output_dir={output_dir}", f"labels={labels}",
            "data.prepare.size=64", f"data.prepare.crops={tiny_crops}", *tiny_stage, "stage=pretrain", "stage.max_steps=1",
            "stage.crop_size=32", "stage.val_batches=0",  # validation is covered elsewhere; a step per job is enough here
        ]

    return build


def job_dirs(output_dir: Path) -> list[Path]:
    """The sweep's job folders; asserts there is exactly one sweep folder and no other run folder."""
    assert sorted(p.name for p in output_dir.iterdir()) == ["multirun"], "runs landed outside the sweep folder"
    sweeps = list((output_dir / "multirun" / "train").iterdir())
    assert len(sweeps) == 1, f"expected one sweep folder, found {sweeps}"
    return sorted(p for p in sweeps[0].iterdir() if p.is_dir())


@pytest.mark.slow
def test_backbone_by_loss_sweep_gives_one_run_dir_per_combination(run_script, sweep_args, tiny_dirs, tiny_labels, tmp_path):
    out = tmp_path / "out"
    result = run_script(
        "train.py", "-m", *sweep_args(tiny_dirs, tiny_labels, out),
        "backbone=tf_efficientnet_lite0,resnet18", "loss=ranking,regression", "backbone.weights=none",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = job_dirs(out)
    assert len(jobs) == 4
    seen = set()
    for job in jobs:
        summary = json.loads((job / "summary.json").read_text())
        assert summary["global_step"] == 1 and summary["run_dir"] == str(job)
        overrides = (job / ".hydra" / "overrides.yaml").read_text()
        backbone = "resnet18" if "backbone=resnet18" in overrides else "tf_efficientnet_lite0"
        loss = "regression" if "loss=regression" in overrides else "ranking"
        assert f"backbone={backbone}" in job.name and f"loss={loss}" in job.name
        hparams = (job / "hparams.yaml").read_text()
        assert f"name: {backbone}" in hparams and f"name: {loss}" in hparams
        seen.add((backbone, loss))
    assert len(seen) == 4


@pytest.mark.slow
def test_sweep_with_ddp_children_runs_each_job_once_in_its_own_dir(run_script, sweep_args, tiny_dirs, tiny_labels, tmp_path):
    """Lightning's DDP children must join their sweep job, not rerun the sweep (-m) into new folders."""
    out = tmp_path / "out"
    result = run_script(
        "train.py", "-m", *sweep_args(tiny_dirs, tiny_labels, out), "loss=ranking,regression",
        "trainer=ddp_cpu", "trainer.devices=2", env={"OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = job_dirs(out)
    assert [j.name.split("-")[0] for j in jobs] == ["0", "1"]
    for job in jobs:
        summary = json.loads((job / "summary.json").read_text())
        assert summary["world_size"] == 2 and summary["global_step"] == 1 and summary["run_dir"] == str(job)
        assert (job / "train_ddp_process_1.log").is_file()  # the child ran here, in this job's folder
        assert sorted(p.name for p in job.iterdir() if p.is_dir()) == [".hydra", "checkpoints"]


@pytest.mark.integration
def test_slurm_launcher_composes_with_one_task_per_gpu(repo_root, tmp_path, monkeypatch):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    import iqa.config  # noqa: F401  (resolvers)

    def launcher_cfg(*overrides):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(repo_root / "iqa" / "conf"), version_base="1.3"):
            return compose("train", ["hydra/launcher=slurm", "trainer=ddp", *overrides], return_hydra_config=True)

    cfg = launcher_cfg("trainer.devices=4", "trainer.num_nodes=2", f"hydra.sweep.dir={tmp_path}/sweep",
                       "hydra.launcher.partition=gpu")
    launcher = instantiate(cfg.hydra.launcher)
    assert type(launcher).__name__ == "SlurmLauncher"
    params = launcher.params
    assert (params["nodes"], params["gpus_per_node"], params["tasks_per_node"], params["partition"]) == (2, 4, 4, "gpu")

    # submitit accepts every parameter and writes the sbatch script we expect (a stub srun stands in for SLURM).
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "srun").chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    executor = submitit.AutoExecutor(folder=params["submitit_folder"], cluster="slurm")
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{
        k if k in base else f"slurm_{k}": v for k, v in params.items() if k not in ("submitit_folder", "max_num_timeout")
    })
    script = executor._executor._make_submission_file_text("python train.py", "uid")
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=4", "#SBATCH --gpus-per-node=4",
                 "#SBATCH --partition=gpu", "#SBATCH --cpus-per-task=12", "#SBATCH --signal=USR2@120"):
        assert line in script, (line, script)

    with pytest.raises(Exception, match=r"trainer.devices=<GPUs per node> \(a count, got -1\)"):
        OmegaConf.to_container(launcher_cfg().hydra.launcher, resolve=True)  # trainer=ddp's devices=-1


@pytest.mark.slow
def test_slurm_launcher_composes_from_the_command_line(run_script):
    result = run_script("train.py", "hydra/launcher=slurm", "trainer=ddp", "trainer.devices=8", "--cfg", "hydra")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "SlurmLauncher" in result.stdout and "tasks_per_node: ${iqa_slurm_devices:${trainer.devices}}" in result.stdout


@pytest.mark.unit
def test_rank_resolvers_keep_non_zero_ranks_from_writing_hydra_files(monkeypatch):
    from iqa.config import _job_dirname, _rank_suffix, launched_rank_zero

    for name in ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK", "JSM_NAMESPACE_RANK"):
        monkeypatch.delenv(name, raising=False)
    from omegaconf import OmegaConf

    node = OmegaConf.create({"sub": "${iqa_rank_zero_only:.hydra}", "name": "train${iqa_rank_suffix:}"})
    assert launched_rank_zero() and node.sub == ".hydra" and node.name == "train"
    monkeypatch.setenv("RANK", "3")
    assert not launched_rank_zero() and node.sub is None and node.name == "train-rank3" and _rank_suffix() == "-rank3"
    monkeypatch.delenv("RANK")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert node.sub is None and node.name == "train-node0-local1"
    monkeypatch.delenv("ATTIQA_SWEPT_KEYS", raising=False)
    argv = ["train.py", "-m", "labels=/a/b", "loss=x,y", "backbone=choice(a,b)", "seed=range(2)"]
    monkeypatch.setattr("iqa.config.LAUNCH_ARGV", argv)
    assert _job_dirname(["labels=/a/b", "loss=y", "backbone=b", "seed=1"], "ignored") == "backbone=b,loss=y,seed=1"
    monkeypatch.setattr("iqa.config.LAUNCH_ARGV", ["train.py", "labels=/a/b"])
    assert _job_dirname(["labels=/a/b"], "labels=/a/b,loss=x") == "labels=_a_b,loss=x"
    monkeypatch.setenv("ATTIQA_SWEPT_KEYS", "loss")  # a cluster job: the launcher's command line is not ours
    assert _job_dirname(["labels=/a/b", "loss=y"], "ignored") == "loss=y"
    monkeypatch.delenv("ATTIQA_SWEPT_KEYS")
    long = _job_dirname([], "x" * 400)
    assert len(long) == 129 and long.startswith("x" * 120)


@pytest.mark.slow
def test_submitit_local_launcher_runs_a_one_job_sweep(run_script, sweep_args, tiny_dirs, tiny_labels, tmp_path):
    """The submitit plugin (the SLURM launcher's local twin) pickles and runs train.py's job in its own process."""
    out = tmp_path / "out"
    result = run_script(
        "train.py", "-m", "hydra/launcher=submitit_local", *sweep_args(tiny_dirs, tiny_labels, out),
        "backbone=resnet18", "backbone.weights=none", "loss=choice(ranking)",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = next((out / "multirun" / "train").iterdir())
    jobs = [p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert [j.name for j in jobs] == ["0-loss=ranking"]  # named by the swept key, passed on to the job's process
    summary = json.loads((jobs[0] / "summary.json").read_text())
    assert summary["global_step"] == 1 and summary["run_dir"] == str(jobs[0])
    assert list((sweep / ".submitit").glob("*/*_result.pkl"))
