"""Pseudo-label a corpus: python label.py teacher=<choice> prompts=<choice> data=<corpus> [out=<dir>]."""

from iqa.cli.common import hydra_entry
from iqa.cli.label import run

if __name__ == "__main__":
    hydra_entry("label", run)
