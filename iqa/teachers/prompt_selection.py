"""Choosing antonym prompt pairs by how well they rank images on proxy tasks.

A *candidate* is one antonym pair of a prompt set (``[positive, negative]``,
rendered through the set's templates), for one attribute. Each candidate is
scored on *proxies*, sets of images whose ordering along an attribute is known:

* **Distortion ladders** (:func:`ladder_proxy`): photos distorted at levels 0..5
  with :mod:`iqa.distortions`. Blur and JPEG should lower sharpness, noise raise
  noisiness, darkening lower brightness, brightening raise it, contrast
  reduction lower contrast, desaturation lower colourfulness
  (``iqa.distortions.DISTORTION_ATTRIBUTE``). One ladder is one photo view and
  one distortion; its score is the Spearman correlation between the candidate's
  score and ``sign x level`` over the six images. The ladders and their score
  are :mod:`iqa.ladder`'s, the same that pretraining validation reports.
* **SPAQ attribute scores** (:func:`spaq_proxy`): SPAQ rates each phone photo on
  exactly our five attributes; the score is the Spearman correlation between the
  candidate's score and the human rating over the images. The ratings are read
  by the dataset reader :class:`iqa.data.datasets.SPAQ`.

A candidate's proxy score is the mean Spearman over that proxy's groups for its
attribute (:func:`iqa.ladder.group_correlations`, through
:func:`iqa.metrics.srcc_columns`: a candidate whose scores are constant on a
group scores 0 there); its overall score is the weighted mean over the proxies
that cover the attribute. The winners are the ``top_k`` candidates per attribute.

Cost: every candidate sentence is encoded once (the teacher encodes the whole
candidate pool as its prompt set when it is built) and every proxy image is
encoded once; scoring all candidates is then one matrix product per batch, with
the same formula as labelling (:func:`iqa.teachers.openclip.antonym_scores`).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from iqa.attributes import ATTRIBUTES
from iqa.errors import UserError
from iqa.ladder import RankGroup, group_correlations, ladder_groups, ladder_record
from iqa.metrics import srcc_columns
from iqa.teachers.prompts import PromptSet

log = logging.getLogger(__name__)

#: Images whose expected ordering along one attribute is known; the group type of :mod:`iqa.ladder`.
ProxyGroup = RankGroup
#: Marker line in prompt sets written here; such files may be regenerated in place.
GENERATED_MARKER = "# Written by select_prompts.py"


# ---------------------------------------------------------------- candidates
@dataclass(frozen=True)
class Candidate:
    """One antonym pair of one attribute, with the exact sentences it is rendered into."""

    attribute: str
    pair: tuple[str, str]
    sentences: tuple[tuple[str, str], ...]


def expand_candidates(prompt_cfg: Mapping[str, Any], attributes: Sequence[str] = ATTRIBUTES) -> tuple[PromptSet, list[Candidate]]:
    """Every pair of a prompt set as a candidate, in attribute order then file order."""
    prompt_set = PromptSet.from_config(prompt_cfg, attributes)
    templates = prompt_set.templates
    candidates = []
    for attribute in attributes:
        for positive, negative in prompt_set.pairs[attribute]:
            sentences = tuple((t.format(positive), t.format(negative)) for t in templates) if templates else ((positive, negative),)
            candidates.append(Candidate(attribute, (positive, negative), sentences))
    return prompt_set, candidates


def candidate_owners(candidates: Sequence[Candidate], expanded: Mapping[str, Sequence[Sequence[str]]],
                     attributes: Sequence[str] = ATTRIBUTES) -> torch.Tensor:
    """For each sentence pair the teacher encoded (``teacher.prompts``, attribute order), its candidate's index.

    Checks that the teacher encoded exactly the candidates' sentences, in the same order.
    """
    encoded = [tuple(pair) for attribute in attributes for pair in expanded[attribute]]
    owners, ours = [], []
    for index, candidate in enumerate(candidates):
        ours += list(candidate.sentences)
        owners += [index] * len(candidate.sentences)
    if encoded != ours:
        raise RuntimeError("the teacher's encoded prompts do not match the candidate pool; build the teacher with prompts=<pool>")
    return torch.tensor(owners, dtype=torch.long)


# ---------------------------------------------------------------- proxies
@dataclass
class Proxy:
    """A proxy task: images (built or loaded on demand, in batches) and groups of them with known orderings."""

    name: str
    groups: list[ProxyGroup]
    images: torch.Tensor | None = None               # uint8 [N,3,S,S], for proxies built in memory
    paths: list[Path] = field(default_factory=list)  # or files decoded in batches
    image_size: int = 224
    weight: float = 1.0
    info: dict[str, Any] = field(default_factory=dict)
    #: Per image, ladder metadata in the corpus JSON's fields (``reference``, ``crop``, ``distortion``, ``level``).
    metas: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images) if self.images is not None else len(self.paths)

    def batches(self, batch_size: int, threads: int = 8) -> Iterator[torch.Tensor]:
        if self.images is not None:
            yield from self.images.split(batch_size)
            return
        from iqa.data.images import load_square

        def load(path: Path) -> torch.Tensor:
            return load_square(path.read_bytes(), self.image_size)

        # PIL releases the GIL while decoding, so threads decode JPEGs in parallel.
        with ThreadPoolExecutor(max(1, threads)) as pool:
            for start in range(0, len(self.paths), batch_size):
                yield torch.stack(list(pool.map(load, self.paths[start : start + batch_size])))

    def attributes(self) -> set[str]:
        return {g.attribute for g in self.groups}


def photo_views(name: str, size: int, crops: int = 1) -> list[np.ndarray]:
    """Float RGB views of a scikit-image photo at ``size``: the whole centre square, then ``crops - 1`` detail crops."""
    from PIL import Image

    from iqa import distortions
    from iqa.data.images import center_crop, resize_short_side
    from iqa.data.synthetic import load_reference, reference_crops

    try:
        photo = load_reference(name)
    except AttributeError:
        raise UserError(f"proxies.ladder.photos: '{name}' is not a scikit-image photo (skimage.data.{name})") from None
    whole = center_crop(resize_short_side(Image.fromarray(distortions.to_uint8(photo)), size), size)
    views = [distortions.to_float(np.asarray(whole))]
    if crops > 1:
        views += reference_crops(photo, size, crops - 1)
    return views


def ladder_proxy(photos: Sequence[str], size: int, crops: int = 1, distortions: Sequence[str] | None = None,
                 seed: int = 0, weight: float = 1.0) -> Proxy:
    """Distortion ladders: each photo view at level 0 and at levels 1..5 of each distortion."""
    from iqa import distortions as dist

    names = list(distortions) if distortions else list(dist.DISTORTIONS)
    unknown = [n for n in names if n not in dist.DISTORTIONS]
    if unknown:
        raise UserError(f"proxies.ladder.distortions: unknown {unknown}; valid: {', '.join(dist.DISTORTIONS)}")
    if not photos:
        raise UserError("proxies.ladder.photos: give at least one scikit-image photo name")
    images: list[np.ndarray] = []
    metas: list[dict[str, Any]] = []
    rng = np.random.default_rng(seed)
    for photo in photos:
        for view_index, view in enumerate(photo_views(photo, size, crops)):
            images.append(view)
            metas.append({"reference": photo, "crop": view_index, "distortion": "reference", "level": 0})
            for name in names:
                for level in range(1, dist.NUM_LEVELS + 1):
                    images.append(dist.apply(view, name, level, rng))
                    metas.append({"reference": photo, "crop": view_index, "distortion": name, "level": level})
    # The ladders are the ones pretraining validation builds from the same metadata.
    groups = ladder_groups([ladder_record(m) for m in metas], mapping=dist.DISTORTION_ATTRIBUTE)
    stacked = torch.from_numpy(np.stack([dist.to_uint8(i) for i in images])).permute(0, 3, 1, 2).contiguous()
    return Proxy("ladder", groups, images=stacked, image_size=size, weight=weight, metas=metas,
                 info={"photos": list(photos), "views_per_photo": crops, "distortions": names, "images": len(images)})


def spaq_proxy(root: str | Path, size: int, max_images: int | None = 2000, signs: Mapping[str, Any] | None = None,
               seed: int = 0, weight: float = 1.0) -> Proxy:
    """SPAQ's per-image human ratings of the five attributes.

    ``signs`` maps an attribute to +1 / -1 (how a higher SPAQ rating relates to *more*
    of the attribute) or ``auto``. For ``noisiness`` the default is ``auto``: SPAQ's
    attribute ratings are collected like quality ratings, so the direction is read
    from the data as minus the sign of the rating's rank correlation with MOS (a
    rating that rises with quality falls with noise).
    """
    from iqa.data.datasets import SPAQ

    root = Path(root).expanduser()
    dataset = SPAQ(root, allow_missing=True)  # missing images are left out, with a warning
    sheet = root / dataset.annotation_files[0]
    if not sheet.is_file():
        raise UserError(f"proxies.spaq.root: no SPAQ annotations at {sheet} (expected the official SPAQ layout)")
    try:
        records = dataset.records()
    except UserError as exc:
        raise UserError(f"proxies.spaq.root: {exc}") from None
    complete = [r for r in records if all(a in r.meta for a in ATTRIBUTES)]
    if not complete:
        absent = [column for column, attribute in SPAQ.COLUMNS.items() if not any(attribute in r.meta for r in records)]
        raise UserError(f"{sheet}: no image has all five attribute scores (missing column(s) {absent or 'none'})")
    if len(complete) < len(records):
        log.warning("SPAQ: %d of %d images lack an attribute score and are left out", len(records) - len(complete), len(records))
    records = complete
    if max_images and len(records) > int(max_images):
        keep = np.sort(np.random.default_rng(seed).choice(len(records), int(max_images), replace=False))
        records = [records[i] for i in keep]
    mos = np.array([r.mos for r in records], dtype=np.float64)
    signs = dict(signs or {})
    resolved: dict[str, int] = {}
    groups = []
    for column, attribute in sorted(SPAQ.COLUMNS.items(), key=lambda item: ATTRIBUTES.index(item[1])):
        sign = signs.get(attribute, "auto" if attribute == "noisiness" else 1)
        values = np.array([r.meta[attribute] for r in records], dtype=np.float64)
        if str(sign).lower() == "auto":
            rho = srcc_columns(values[:, None], mos)[0]
            sign = -1 if rho >= 0 else 1
        resolved[attribute] = int(sign)
        groups.append(RankGroup(attribute, np.arange(len(records)), int(sign) * values, f"spaq/{column}"))
    return Proxy("spaq", groups, paths=[Path(r.path) for r in records], image_size=size, weight=weight,
                 info={"root": str(root), "images": len(records), "signs": resolved})


# ---------------------------------------------------------------- scoring
@torch.no_grad()
def embed_proxy(teacher: Any, proxy: Proxy, batch_size: int, device: torch.device, threads: int = 8) -> torch.Tensor:
    """L2-normalised image features ``[N, D]`` of every proxy image, each encoded once."""
    features = []
    autocast = device.type == "cuda" and torch.cuda.is_bf16_supported()
    for batch in proxy.batches(batch_size, threads):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            features.append(teacher.encode_images(batch.to(device, non_blocking=True)).float())
    return torch.cat(features)


def candidate_scores(image_features: torch.Tensor, teacher: Any, owners: torch.Tensor, num_candidates: int) -> np.ndarray:
    """``[N, C]``: each candidate's teacher score (mean over its sentence pairs) for each image."""
    from iqa.teachers.openclip import antonym_scores

    text = teacher.text_features.to(image_features.device)
    scores = antonym_scores(image_features, text, owners.to(image_features.device), teacher.logit_scale, num_candidates)
    return scores.double().cpu().numpy()


def score_table(candidates: Sequence[Candidate], proxies: Sequence[Proxy], scores: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """One row per candidate: its mean Spearman on each proxy, and the weighted overall score."""
    rows = []
    for proxy in proxies:
        per_image = scores[proxy.name]
        for attribute in ATTRIBUTES:
            members = [i for i, c in enumerate(candidates) if c.attribute == attribute]
            groups = [g for g in proxy.groups if g.attribute == attribute]
            if not members or not groups:
                continue
            rho = group_correlations(per_image[:, members], groups)
            for index, value in zip(members, rho):
                rows.append((index, proxy.name, float(value)))
    table = pd.DataFrame(
        {
            "attribute": [c.attribute for c in candidates],
            "positive": [c.pair[0] for c in candidates],
            "negative": [c.pair[1] for c in candidates],
        }
    )
    for proxy in proxies:
        column = np.full(len(candidates), np.nan)
        for index, name, value in rows:
            if name == proxy.name:
                column[index] = value
        table[proxy.name] = column
    weights = np.array([p.weight for p in proxies], dtype=np.float64)
    values = table[[p.name for p in proxies]].to_numpy(dtype=np.float64) if proxies else np.zeros((len(candidates), 0))
    available = ~np.isnan(values)
    total_weight = (available * weights).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        weighted = np.nansum(values * weights, axis=1) / np.where(total_weight > 0, total_weight, 1)
        table["score"] = np.where(total_weight > 0, weighted, np.nan)
    return table


def select_winners(table: pd.DataFrame, top_k: int = 1) -> pd.DataFrame:
    """Add ``rank`` (1 = best, per attribute; ties keep file order) and ``selected`` (rank <= top_k)."""
    if top_k < 1:
        raise UserError(f"top_k={top_k}: select at least one pair per attribute")
    table = table.copy()
    table["rank"] = 0
    for attribute, rows in table.groupby("attribute", sort=False):
        if rows["score"].isna().all():
            raise UserError(f"no proxy covers the attribute '{attribute}'; enable a proxy that does")
        order = rows.sort_values("score", ascending=False, kind="stable", na_position="last").index
        table.loc[order, "rank"] = np.arange(1, len(order) + 1)
    table["selected"] = table["rank"] <= top_k
    return table


def winners_by_attribute(table: pd.DataFrame) -> dict[str, list[list[str]]]:
    chosen = table[table["selected"]].sort_values(["rank"], kind="stable")
    return {a: [[r.positive, r.negative] for r in chosen[chosen["attribute"] == a].itertuples()] for a in ATTRIBUTES}


# ---------------------------------------------------------------- outputs
def prompt_set_text(
    name: str, templates: Sequence[str], winners: Mapping[str, Sequence[Sequence[str]]], provenance: Mapping[str, Any]
) -> str:
    """The YAML of a selected prompt set, with its provenance as a comment header."""
    header = [
        f"{GENERATED_MARKER} on {_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')}.",
        "# Each pair won its attribute on the proxy tasks below (mean Spearman correlation).",
    ]
    header += [f"#   {key}: {value}" for key, value in provenance.items()]
    # JSON strings are valid YAML scalars: pairs stay one readable line each.
    lines = [f"name: {name}"]
    if templates:
        lines += ["templates:", *(f"  - {json.dumps(t, ensure_ascii=False)}" for t in templates)]
    else:
        lines.append("templates: null")
    lines.append("pairs:")
    for attribute, pairs in winners.items():
        lines.append(f"  {attribute}:")
        lines += [f"    - {json.dumps(list(p), ensure_ascii=False)}" for p in pairs]
    return "\n".join(header + lines) + "\n"


def table_markdown(table: pd.DataFrame, proxies: Sequence[str]) -> str:
    columns = ["attribute", "rank", "positive", "negative", *proxies, "score", "selected"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    ordered = table.sort_values(["attribute", "rank"], key=lambda s: s.map(ATTRIBUTES.index) if s.name == "attribute" else s)
    for row in ordered.itertuples():
        cells = []
        for column in columns:
            value = getattr(row, column)
            if isinstance(value, float):
                cells.append("" if math.isnan(value) else f"{value:+.3f}")
            elif column == "selected":
                cells.append("**yes**" if value else "")
            else:
                cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


__all__ = [
    "Candidate",
    "GENERATED_MARKER",
    "Proxy",
    "ProxyGroup",
    "candidate_owners",
    "candidate_scores",
    "embed_proxy",
    "expand_candidates",
    "ladder_proxy",
    "photo_views",
    "prompt_set_text",
    "score_table",
    "select_winners",
    "spaq_proxy",
    "table_markdown",
    "winners_by_attribute",
]
