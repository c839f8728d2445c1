"""evaluate.py / ``iqa evaluate``: the cross-dataset matrix, as Hydra overrides (``ckpt=... data=[a,b,c]``).

The job is :func:`iqa.evaluation.job.run`; here, ``data=[a,b,c]`` becomes
``datasets=[a,b,c] data=a`` before Hydra merges the list into one ``data`` node.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

_LIST_OVERRIDE = re.compile(r"^data=\[(.*)\]$")


def rewrite_dataset_list(argv: Sequence[str]) -> list[str]:
    """``data=[a,b,c]`` -> ``datasets=[a,b,c] data=a`` (+ ``run_name=a-b-c`` unless one is given)."""
    out: list[str] = []
    names: list[str] | None = None
    for arg in argv:
        match = _LIST_OVERRIDE.match(arg)
        if match:
            names = [n.strip().strip("'\"") for n in match.group(1).split(",") if n.strip()]
            continue
        out.append(arg)
    if names is None:
        return list(argv)
    if not names:
        raise SystemExit("error: data=[] names no dataset")
    out += [f"datasets=[{','.join(names)}]", f"data={names[0]}"]
    if not any(a.startswith("run_name=") for a in out):
        out.append(f"run_name={'-'.join(names)}")
    return out


def main() -> None:
    from iqa.cli.common import hydra_entry

    sys.argv = [sys.argv[0], *rewrite_dataset_list(sys.argv[1:])]
    hydra_entry("evaluate", "iqa.evaluation.job:run")  # the library is imported when the job runs
