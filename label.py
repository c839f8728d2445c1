"""Pseudo-label a corpus: python label.py teacher=<choice> prompts=<choice> data=<corpus> [out=<dir>]."""

from iqa.cli.common import hydra_entry

if __name__ == "__main__":
    hydra_entry("label", "iqa.cli.label:run")  # imported when the job runs: --help stays fast
