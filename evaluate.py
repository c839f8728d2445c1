"""Evaluate: python evaluate.py ckpt=<path | {name: path}> data=<dataset> [datasets=[a,b]]."""

from iqa.cli.common import hydra_entry
from iqa.cli.evaluate import run

if __name__ == "__main__":
    hydra_entry("evaluate", run)
