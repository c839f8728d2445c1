"""Pseudo-label a corpus: python label.py teacher=<choice> prompts=<choice> data=<corpus> [out=<dir>]."""

from iqa.cli.common import hydra_entry

if __name__ == "__main__":
    hydra_entry("label", "iqa.teachers.labelling:label")  # imported when the job runs: --help stays fast
