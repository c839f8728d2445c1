"""Choose antonym prompt pairs on proxy tasks: python select_prompts.py teacher=<clip> [prompts=<pool>] name=<new set>."""

from iqa.cli.common import hydra_entry

if __name__ == "__main__":
    hydra_entry("select_prompts", "iqa.teachers.select_prompts:select_prompts")  # imported when the job runs: --help stays fast
