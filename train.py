"""Train: python train.py stage=<pretrain|finetune|linear_probe> backbone=<timm name> data=<choice> ..."""

from iqa.cli.common import hydra_entry
from iqa.cli.train import run

if __name__ == "__main__":
    hydra_entry("train", run)
