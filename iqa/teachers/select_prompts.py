"""Prompt selection as a job (``select_prompts.py``, ``iqa select_prompts``): score every candidate antonym pair on
proxy tasks and write the winners as a prompt set (the proxies and scores: :mod:`iqa.teachers.prompt_selection`).

    python select_prompts.py teacher=vit_b32 teacher.pretrained=/weights/ViT-B-32.bin name=mine
    python label.py teacher=vit_b32 teacher.pretrained=/weights/ViT-B-32.bin prompts=mine ...

The candidate pool is the prompt set given as ``prompts=`` (default ``candidates``);
the teacher is built with it, so every candidate sentence is encoded once. The new
set is written to ``prompts_dir`` (default ``$ATTIQA_USER_CONF/prompts``, i.e.
``./user_conf/prompts``), which every entry point has on its Hydra search path, so
``prompts=<name>`` works at once. The table of candidate x proxy score goes to the
run directory as ``scores.csv`` and ``scores.md``, with ``selection.json`` beside it.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from iqa.config import config_dir
from iqa.errors import UserError
from iqa.io import atomic_write_json, atomic_write_text
from iqa.teachers import build_teacher
from iqa.teachers import prompt_selection as ps
from iqa.training import setup_run

log = logging.getLogger("iqa.select_prompts")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def target_path(cfg: DictConfig) -> Path:
    """Where the selected set goes; refuses names that a shipped set would shadow, and foreign files."""
    name = str(cfg.name)
    if not _NAME.match(name):
        raise UserError(f"name={name!r}: use letters, digits, '_', '-' and '.' only (it becomes prompts=<name>)")
    directory = Path(str(cfg.prompts_dir)).expanduser()
    path = directory / f"{name}.yaml"
    shipped = Path(config_dir()) / "prompts" / f"{name}.yaml"
    overwrite = bool(cfg.overwrite)
    if shipped.is_file() and shipped.resolve() != path.resolve():
        raise UserError(
            f"name={name}: a prompt set of that name ships in {shipped.parent}, and it would shadow yours; choose another name "
            f"(to regenerate the shipped set itself: prompts_dir={shipped.parent} overwrite=true)"
        )
    if path.is_file() and not overwrite and ps.GENERATED_MARKER not in path.read_text(errors="replace")[:200]:
        raise UserError(f"{path} exists and was not written by select_prompts.py; choose another name or pass overwrite=true")
    return path


def build_proxies(cfg: DictConfig, image_size: int) -> list[ps.Proxy]:
    proxies = []
    ladder = cfg.proxies.ladder
    if ladder is not None and ladder.enabled:
        proxies.append(
            ps.ladder_proxy(
                list(ladder.photos), image_size, int(ladder.views), ladder.distortions,
                seed=int(cfg.seed), weight=float(ladder.weight),
            )
        )
    spaq = cfg.proxies.spaq
    if spaq is not None and spaq.root:
        signs = OmegaConf.to_container(spaq.signs, resolve=True) if spaq.signs is not None else None
        proxies.append(
            ps.spaq_proxy(spaq.root, image_size, spaq.max_images, signs, seed=int(cfg.seed), weight=float(spaq.weight))
        )
    if not proxies:
        raise UserError("no proxy task is enabled: keep proxies.ladder.enabled=true or give proxies.spaq.root=/path/to/SPAQ")
    return proxies


def resolve_device(choice: str) -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device={choice}: no CUDA device is available; use device=cpu or auto")
    return torch.device(choice)


def select(cfg: DictConfig, teacher: Any) -> dict[str, Any]:
    """The whole job for an already built teacher (its prompt set must be the candidate pool)."""
    run_dir = Path(cfg.run_dir)
    path = target_path(cfg)
    if not hasattr(teacher, "encode_images") or getattr(teacher, "text_features", None) is None:
        raise UserError(f"prompt selection needs a CLIP teacher with a text encoder; teacher '{teacher.name}' has none")
    prompts = OmegaConf.to_container(cfg.prompts, resolve=True)
    prompt_set, candidates = ps.expand_candidates(prompts, teacher.attributes)
    owners = ps.candidate_owners(candidates, teacher.prompts, teacher.attributes)
    device = resolve_device(str(cfg.device))
    teacher.to(device).eval()
    proxies = build_proxies(cfg, int(teacher.image_size))
    scores = {}
    for proxy in proxies:
        log.info("proxy %s: encoding %d images", proxy.name, len(proxy))
        features = ps.embed_proxy(teacher, proxy, int(cfg.batch_size), device, int(cfg.threads))
        scores[proxy.name] = ps.candidate_scores(features, teacher, owners, len(candidates))
    table = ps.select_winners(ps.score_table(candidates, proxies, scores), int(cfg.top_k))
    winners = ps.winners_by_attribute(table)
    described = teacher.describe()
    provenance = {
        "teacher": f"{described.get('model')} (pretrained: {described.get('pretrained')}, logit scale {described.get('logit_scale'):.2f})",
        "candidates": f"prompts={prompt_set.name} ({len(candidates)} pairs, {len(prompt_set.templates) or 1} template(s) each)",
        "proxies": ", ".join(f"{p.name} ({len(p)} images, weight {p.weight:g})" for p in proxies),
        "top_k": int(cfg.top_k),
        "table": str(run_dir / "scores.md"),
    }
    if str(described.get("pretrained", "")).lower() in ("none", "random", "", "null"):
        provenance["WARNING"] = "the teacher had RANDOM weights: this selection is meaningless for labelling"
    atomic_write_text(path, ps.prompt_set_text(str(cfg.name), prompt_set.templates, winners, provenance))
    proxy_names = [p.name for p in proxies]
    atomic_write_text(run_dir / "scores.csv", table.to_csv(index=False, float_format="%.4f"))
    atomic_write_text(run_dir / "scores.md", ps.table_markdown(table, proxy_names))
    record = {
        "name": str(cfg.name),
        "prompt_set": str(path),
        "teacher": described,
        "candidates": prompt_set.name,
        "templates": list(prompt_set.templates),
        "proxies": [{"name": p.name, "weight": p.weight, **p.info} for p in proxies],
        "top_k": int(cfg.top_k),
        "winners": winners,
        "best_scores": {a: float(table[(table.attribute == a) & table.selected]["score"].max()) for a in winners},
    }
    atomic_write_json(run_dir / "selection.json", record)
    print(f"selected {sum(len(v) for v in winners.values())} pair(s) from {len(candidates)} candidates -> {path}")
    for attribute, pairs in winners.items():
        print(f"  {attribute:<13} {' | '.join(' / '.join(p) for p in pairs)}  (score {record['best_scores'][attribute]:+.3f})")
    print(f"use it: prompts={cfg.name}   table: {run_dir / 'scores.md'}")
    return record


def select_prompts(cfg: DictConfig) -> dict[str, Any]:
    """The job: build the teacher with the candidate pool, then :func:`select`."""
    setup_run(cfg)
    teacher = build_teacher(cfg.teacher)
    return select(cfg, teacher)


#: The name earlier versions gave :func:`select_prompts` (``iqa.cli.select_prompts.run``).
run = select_prompts
