"""Train: python train.py stage=<pretrain|finetune|linear_probe|ridge_probe> backbone=<timm name> data=<choice> ..."""

from iqa.cli.common import hydra_entry

if __name__ == "__main__":
    hydra_entry("train", "iqa.training:train")  # imported when the job runs: --help stays fast
