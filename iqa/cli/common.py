"""Hydra plumbing of the pipeline commands (label, train, evaluate, select_prompts): argv in, a job function called."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from iqa.config import check_multirun_launch, config_dir  # importing iqa.config registers the resolvers
from iqa.errors import one_line_errors, suggest


def check_overrides(config_name: str, argv: Sequence[str]) -> None:
    """Compose once before Hydra does, to turn a mistyped key into a helpful one-line error.

    Hydra already names the valid choices for an unknown group option; for an
    unknown key it only says the key is "not in struct". This lists the keys
    that do exist at that level, with the closest matches first.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import ConfigCompositionException, OverrideParseException

    candidates = [a for a in argv if "=" in a and not a.startswith(("-", "hydra.", "hydra/", "+", "~"))]
    if not candidates:
        return
    try:
        parsed = OverridesParser.create().parse_overrides(candidates)
    except OverrideParseException:
        return  # Hydra reports syntax errors itself
    overrides = []
    for override in parsed:
        if override.is_sweep_override():
            first = next(iter(override.sweep_string_iterator()), None)
            if first is None:
                continue
            overrides.append(f"{override.get_key_element()}={first}")
        else:
            overrides.append(override.input_line)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            compose(config_name=config_name, overrides=overrides)
    except ConfigCompositionException as exc:
        cause = exc.__cause__
        message = str(cause or exc)
        key = getattr(cause, "full_key", None) or ""
        if "not in struct" in message and key:
            parent, _, leaf = key.rpartition(".")
            with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
                base = compose(config_name=config_name, overrides=[o for o in overrides if not o.startswith(key + "=")])
            node = OmegaConf.select(base, parent) if parent else base
            valid = sorted(node.keys()) if isinstance(node, DictConfig) else []
            print(
                f"error: unknown config key '{key}'{suggest(leaf, valid)}; "
                f"valid keys{' under ' + parent if parent else ''}: {', '.join(valid)} "
                f"(prefix with + to add a new key)",
                file=sys.stderr,
            )
            sys.exit(2)
        # Unknown group choices and the like: Hydra's own message already lists the options.
    finally:
        GlobalHydra.instance().clear()


_BRACE_PATTERN = re.compile(r"\{[^{}:'\"]*(\.\.|,)[^{}:'\"]*\}")


def quote_brace_patterns(argv: Sequence[str]) -> list[str]:
    """Quote override values holding shard brace patterns (``shard-{000000..000099}.tar``).

    Hydra's grammar reads ``{`` as the start of a dictionary, so the pattern as users
    type it (and as the shell passes it on) would be a parse error.
    """
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and not arg.startswith("-") and value[:1] not in ("'", '"', "[", "{") and _BRACE_PATTERN.search(value):
            arg = f"{key}='{value}'"
        out.append(arg)
    return out


def load_job(target: str | Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    """A job function, or ``"package.module:function"`` imported now (so ``--help`` never imports torch)."""
    if callable(target):
        return target
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def hydra_entry(config_name: str, run: str | Callable[[DictConfig], Any]) -> None:
    """Run ``run(cfg)`` as a Hydra app with attiqa's error handling.

    ``run`` may be ``"module:function"``: it is imported only when a job runs,
    so ``--help``, ``--cfg`` and composition errors answer without loading
    torch and Lightning.
    """
    import hydra

    sys.argv[1:] = quote_brace_patterns(sys.argv[1:])
    os.environ.setdefault("HYDRA_FULL_ERROR", "0")
    check_multirun_launch(sys.argv[1:])
    if not any(a in ("--help", "-h", "--hydra-help", "--info") or a.startswith("--cfg") for a in sys.argv[1:]):
        if os.environ.get("LOCAL_RANK", "0") == "0" and not os.environ.get("ATTIQA_SKIP_PRECHECK"):
            check_overrides(config_name, sys.argv[1:])

    def job(cfg: DictConfig) -> Any:
        return load_job(run)(cfg)

    hydra.main(version_base="1.3", config_path=config_dir(), config_name=config_name)(one_line_errors(job))()
