"""Multi-process runs on CPU (gloo), launched exactly as users launch them: Lightning's own launcher and torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from _pretrain_helpers import free_port, read_digests

pytestmark = pytest.mark.slow


def check_replicas(run_dir, world_size: int, steps: int) -> dict:
    """Both ranks finished the same steps with bitwise-identical parameters, on disjoint data."""
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["world_size"] == world_size and summary["global_step"] == steps
    digests = read_digests(run_dir)
    assert sorted(digests) == list(range(world_size))
    assert len({d["params_sha256"] for d in digests.values()}) == 1, "replicas ended with different parameters"
    assert all(d["global_step"] == steps and len(d["batches"]) == steps for d in digests.values())
    first = [set(k for batch in d["batches"] for k in batch) for d in digests.values()]
    assert not first[0] & first[1], "both ranks trained on the same samples"
    # Validation is gathered over ranks: the 41 held-out samples are counted once, not per rank.
    assert summary["metrics"]["val/samples_seen"] == 41.0
    assert "val/srcc_mean" in summary["metrics"] and "val/ladder_mean" in summary["metrics"]
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    return summary


@pytest.mark.slow
def test_pretrain_under_two_process_cpu_ddp(run_script, tiny_overrides, tiny_stage, tiny_dirs, tiny_labels, tmp_path):
    run_dir = tmp_path / "ddp"
    result = run_script(
        "train.py", "experiment=demo", *tiny_overrides(*tiny_dirs), *tiny_stage,
        "stage=pretrain", "trainer=ddp_cpu", "trainer.devices=2", f"run_dir={run_dir}", "stage.digest=true", timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    check_replicas(run_dir, world_size=2, steps=4)


@pytest.mark.slow
def test_two_node_torchrun_on_loopback(repo_root, tiny_overrides, tiny_stage, tiny_dirs, tiny_labels, tmp_path):
    """torchrun --nnodes=2 --nproc-per-node=1, one agent per "node": one run dir, rank 0 writes, identical replicas."""
    run_dir = tmp_path / "torchrun"
    port = free_port()
    args = [
        "experiment=demo", *tiny_overrides(*tiny_dirs), *tiny_stage, "stage=pretrain", "stage.max_steps=3",
        "trainer.num_nodes=2", "trainer.devices=1", "trainer.strategy=ddp", "trainer.accelerator=cpu",
        f"run_dir={run_dir}", "stage.digest=true",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1", f"--node-rank={rank}",
             "--master-addr=127.0.0.1", f"--master-port={port}", str(repo_root / "train.py"), *args],
            cwd=repo_root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for rank in range(2)
    ]
    outputs = []
    for node in nodes:
        try:
            outputs.append(node.communicate(timeout=500)[0])
        except subprocess.TimeoutExpired:
            for other in nodes:
                other.kill()
            raise
    assert [n.returncode for n in nodes] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    check_replicas(run_dir, world_size=2, steps=3)
    # Hydra ran on both ranks with the same run dir: only rank 0 wrote .hydra/, rank 1 has its own log.
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert (run_dir / "train.log").is_file() and (run_dir / "train-rank1.log").is_file()
    assert list(tmp_path.iterdir()) == [run_dir], "a rank made its own output folder"
