"""The offline recipe's ablations, over seeds, scored on the registry's frozen test split.

Each seed has its own recipe folder (``--seed-dir``, default ``outputs/seed{seed}``); a
seed whose recipe (``iqa model --recipe 1``) is missing is trained first. The arms ablate
recipe version 1, the study that chose version 2: version 1's runs are the reference arm,
and every other arm changes one thing and keeps the recipe's budget. Version 2 is the arm
``regression_weighted_anchor`` with ``--anchor 0.1`` (the same weights, seed for seed);
``--recipe 2 --arms imagenet`` trains and scores version 2 itself (``iqa model --recipe 2``)
and its ImageNet-only twin, and takes no other arm; so does ``--recipe 3`` (version 3, the
default, which is version 2 fine-tuned at 6e-4, the twin as well). With ``--no-train`` (score what the
folders hold) the reference arm is labelled by the folders' ``recipe.json``: the version, plus any
option its runs were trained with instead of the version's.

=============  ==========================================================================
arm            what changes (runs under ``<seed dir>/offline`` unless said)
=============  ==========================================================================
imagenet       no attribute pretraining: ImageNet weights, same fine-tune (the recipe's own run)
head           the attribute-grounded quality head (``stage.head=grounded``) instead of the free one
attributes     pretraining ranks sharpness only (``+ablation=sharpness_only``)
loss           pretraining regresses the teacher's scores (``+ablation=regression_loss``)
anchor         holds the attribute heads to the pretrained network's during fine-tuning
               (``stage.module.attribute_anchor=W``, ``--anchor W``, default 1; run ``finetune-anchored-W``)
photos         ``--photos`` of the train-split photos (drawn per seed) for the corpus, the labels,
               pretraining and fine-tuning (``<seed dir>/photos<N>``)
fraction       fine-tunes on a quarter of the fine-tuning crops (``data.train_fraction=0.25``)
ladders        fine-tuning data with a same-type ladder (one type at levels 1-5) in each crop's ten
               versions (``data.prepare.ladders=1``, built under ``<seed dir>/data/offline-ladders``;
               the pretraining corpus is unchanged), from the recipe's pretraining
ladders_anchor    ``ladders`` with the attribute anchor of ``--anchor W`` (run ``finetune-ladders-anchored-W``)
ladders_imagenet  the same ladder fine-tune from ImageNet weights (``ladders``' ImageNet-only twin)
weighted       fine-tuning data that draws non-eccentricity patches 5 times and contrast change 2 times
               as often as each other training type (``data.prepare.type_weights``, built under
               ``<seed dir>/data/offline-weighted``; the pretraining corpus is unchanged), from the recipe's pretraining
weighted_anchor    ``weighted`` with the attribute anchor of ``--anchor W`` (run ``finetune-weighted-anchored-W``)
weighted_imagenet  the same weighted fine-tune from ImageNet weights (``weighted``' ImageNet-only twin)
regression_weighted_anchor  ``weighted_anchor`` from the regression pretraining of ``loss`` (trained first when missing;
               run ``finetune-regression-weighted-anchored-W``); its ImageNet-only twin is ``weighted_imagenet``
=============  ==========================================================================

Every fine-tuned checkpoint is scored once on the test split's KADID-10k ladders
(``iqa heldout --split test --family kadid``, the settings of the model card), and its
per-photo scores are kept beside the checkpoint, so that a rerun skips finished training and
scoring alike. The table (``<out>/ablations.md`` and ``ablations.json``) gives each arm per
seed, the spread over seeds, and each arm's gap to the baseline (``--baseline``, the recipe
unless said): per seed, and pooled (the per-photo gap averaged over seeds), each with a 95 %
interval that resamples photos. An arm is called better or worse only when every seed's
interval is on the same side of zero; otherwise the gap is inside the spread. A data arm is
judged against its ImageNet-only twin with ``--baseline <key>_imagenet``.

    python benchmarks/offline_ablations.py --dry-run                      # what would run
    python benchmarks/offline_ablations.py --seeds 0,1,2 --arms head,attributes
    python benchmarks/offline_ablations.py --anchor 0.1 --arms regression_weighted_anchor --baseline weighted_imagenet
    python benchmarks/offline_ablations.py --recipe 3 --arms imagenet --baseline imagenet --seed-dir outputs/v3-seed{seed}
    python benchmarks/offline_ablations.py --seed-dir /scratch/attiqa/s{seed} trainer.max_time=null   # overrides go to every run

The test split is for reporting: choose settings on the tune split (``--split tune``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iqa.cli.recipes import FINETUNE_ARGS, OVERRIDES_KEY, RECIPES, WEIGHTED_DATA, model_steps, recipe_record, same_option  # noqa: E402

#: The model card's test-split ladder settings: iqa.evaluation.heldout.CARD_* (not imported here, since heldout
#: pulls in torch and --dry-run / --help stay instant; a test keeps the two equal).
SPLIT, FAMILY, CROPS_PER_PHOTO, SIZE, LADDER_SEED = "test", "kadid", 1, 192, 0
PARTS = ("all", "structural", "photometric", "unseen")


@dataclass(frozen=True)
class Arm:
    key: str
    ablation: str
    label: str
    run: str  # the fine-tuned run, relative to the seed dir
    steps: tuple[tuple[str, ...], ...] = field(default=())  # iqa.cli.main commands; "{base}" is <seed dir>/offline


PRETRAIN = ("train", "experiment=offline", "stage=pretrain")
FINETUNE = ("train", "experiment=offline", *FINETUNE_ARGS)
LADDERS = ("data.prepare.ladders=1", "data.root=${paths.data_dir}/offline-ladders")


def _pretrain_ablation(name: str) -> tuple[tuple[str, ...], ...]:
    return ((*PRETRAIN, f"+ablation={name}"),
            (*FINETUNE, f"pretrain_run=pretrain-{name}", f"run_name=finetune-pretrain-{name}"))


def _data_arms(key: str, label: str, short: str, run: str, data: tuple[str, ...], anchor: float) -> tuple[Arm, Arm, Arm]:
    """One change of the fine-tuning data, three arms: from the recipe's pretraining (``key``), the same with the
    attribute heads anchored (``<key>_anchor``) and from ImageNet weights (``<key>_imagenet``)."""
    pretrained, weight = "init={base}/pretrain/checkpoints/last.ckpt", f"{anchor:g}"
    anchored = f"finetune-{run}-anchored-{weight}"
    return (
        Arm(key, "fine-tuning data", label, f"offline/finetune-{run}",
            ((*FINETUNE, *data, pretrained, f"run_name=finetune-{run}"),)),
        Arm(f"{key}_anchor", "fine-tuning data and attribute heads", f"{short}, anchored (weight {weight})", f"offline/{anchored}",
            ((*FINETUNE, *data, f"stage.module.attribute_anchor={weight}", pretrained, f"run_name={anchored}"),)),
        Arm(f"{key}_imagenet", "fine-tuning data, ImageNet weights", f"{short}, no attribute pretraining",
            f"offline/finetune-imagenet-{run}", ((*FINETUNE, *data, "init=imagenet", f"run_name=finetune-imagenet-{run}"),)),
    )


#: The reference arm's label per recipe version.
REFERENCE_LABELS = {"1": "recipe version 1: 5 attributes, ranking loss, free head, all train photos",
                    "2": "recipe version 2: regression loss, weighted draws, anchored heads (0.1), all train photos",
                    "3": "recipe version 3: version 2 fine-tuned at 6e-4, all train photos"}


def reference_label(recipe: str, seed_dirs: Sequence[Path]) -> str:
    """The reference arm's label: the recipe version's, or, where the seed folders' ``recipe.json`` records other
    options or training overrides (``iqa model`` run with overrides; the seed aside), the version and what the records
    change, so a table never names a version its runs are not."""
    version = RECIPES[recipe].recorded
    changes = set()
    for seed_dir in seed_dirs:
        try:
            recorded = recipe_record(seed_dir)
        except ValueError:
            recorded = None
        if recorded is not None:  # no record (or an unreadable one) says nothing beyond the version asked for
            options = {k: v for k, v in recorded.items() if k in version and not same_option(k, v, version[k])}
            # the other overrides that changed the training, but the seed, which is each folder's own
            others = {k: v for k, v in (recorded.get(OVERRIDES_KEY) or {}).items() if k != "seed"}
            changes.add(tuple(sorted(f"{k}={v}" for k, v in {**options, **others}.items())))
    if not changes or changes == {()}:
        return REFERENCE_LABELS[recipe]
    if len(changes) > 1:
        return f"recipe version {recipe} with other options in each seed's recipe.json (they differ between seeds)"
    return f"recipe version {recipe} with {' '.join(changes.pop())}"


def arm_table(photos: int, anchor: float = 1.0, recipe: str = "1") -> dict[str, Arm]:
    return {a.key: a for a in (
        Arm("reference", "reference", REFERENCE_LABELS[recipe], "offline/finetune-attiqa"),
        Arm("imagenet", "attribute pretraining", "none: ImageNet weights, same fine-tune", "offline/finetune-imagenet"),
        Arm("head", "quality head", "grounded in the attributes", "offline/finetune-grounded",
            ((*FINETUNE, "stage.head=grounded", "init={base}/pretrain/checkpoints/last.ckpt", "run_name=finetune-grounded"),)),
        Arm("attributes", "pretrained attributes", "sharpness only", "offline/finetune-pretrain-sharpness_only",
            _pretrain_ablation("sharpness_only")),
        Arm("loss", "pretraining loss", "regression of the teacher's scores", "offline/finetune-pretrain-regression_loss",
            _pretrain_ablation("regression_loss")),
        Arm("anchor", "attribute heads in fine-tuning", f"anchored to the pretrained network (weight {anchor:g})",
            f"offline/finetune-anchored-{anchor:g}",
            ((*FINETUNE, f"stage.module.attribute_anchor={anchor:g}", "init={base}/pretrain/checkpoints/last.ckpt",
              f"run_name=finetune-anchored-{anchor:g}"),)),
        Arm("photos", "training photos", f"{photos} photos", f"photos{photos}/offline/finetune-attiqa", ()),
        Arm("fraction", "fine-tuning data", "25 % of the fine-tuning crops", "offline/finetune-fraction-0.25",
            ((*FINETUNE, "data.train_fraction=0.25", "run_name=finetune-fraction-0.25"),)),
        *_data_arms("ladders", "a same-type level ladder in every crop", "ladders", "ladders", LADDERS, anchor),
        *_data_arms("weighted", "non-eccentricity patches x5, contrast change x2", "weighted draws", "weighted", WEIGHTED_DATA, anchor),
        Arm("regression_weighted_anchor", "pretraining loss, fine-tuning data and attribute heads",
            f"regression pretraining, weighted draws, anchored (weight {anchor:g})",
            f"offline/finetune-regression-weighted-anchored-{anchor:g}",
            (_pretrain_ablation("regression_loss")[0],  # the loss arm's pretraining run
             (*FINETUNE, *WEIGHTED_DATA, f"stage.module.attribute_anchor={anchor:g}", "pretrain_run=pretrain-regression_loss",
              f"run_name=finetune-regression-weighted-anchored-{anchor:g}"))),
    )}


ARM_ORDER = ("reference", "imagenet", "head", "attributes", "loss", "anchor", "photos", "fraction", "ladders", "ladders_anchor",
             "ladders_imagenet", "weighted", "weighted_anchor", "weighted_imagenet", "regression_weighted_anchor")
DEFAULT_ARMS = ("reference", "imagenet", "head", "attributes", "loss", "photos")


def photo_subset(count: int, seed: int) -> list[str]:
    """``count`` of the registry's train-split photos, drawn with ``seed`` (sorted by name)."""
    from iqa.data import photos as registry

    names = sorted(p.name for p in registry.photos("train"))
    if not 0 < count <= len(names):
        raise SystemExit(f"error: --photos must be in 1..{len(names)} (the train split's size), got {count}")
    order = np.random.default_rng([int(seed), 0x9F07]).permutation(len(names))[:count]
    return sorted(names[i] for i in order)


def commands(arm: Arm, seed: int, seed_dir: Path, overrides: Sequence[str], photos: int) -> list[list[str]]:
    """The ``python -m iqa.cli.main`` argument lists that train ``arm`` for ``seed`` (arms of recipe version 1)."""
    if arm.key == "photos":
        sub = seed_dir / f"photos{photos}"
        chosen = "[" + ",".join(photo_subset(photos, seed)) + "]"
        v1 = RECIPES["1"]
        extra = [*v1.overrides, *run_overrides(seed, sub), f"data.prepare.photos={chosen}"]
        steps = model_steps(str(sub), pretrain_loss=v1.pretrain_loss, finetune_data=v1.finetune_data)
        return [[*step, *extra, *overrides] for step in steps[:3]]
    base = f"{seed_dir}/offline"
    return [[*(s.replace("{base}", base) for s in step), *run_overrides(seed, seed_dir), *overrides] for step in arm.steps]


def run_overrides(seed: int, folder: Path) -> list[str]:
    """The seed and the output and data folders of one seed's runs."""
    return [f"seed={seed}", f"paths.output_dir={folder}", f"paths.data_dir={folder}/data"]


def recipe_commands(seed: int, seed_dir: Path, overrides: Sequence[str], recipe: str = "1") -> list[str]:
    return ["model", "--recipe", recipe, *run_overrides(seed, seed_dir), *overrides]


def weights_digest(path: Path) -> str:
    """sha256 of the checkpoint's weights (names, shapes, values): unchanged when a finished run rewrites the file."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


class Ladders:
    """The split's ladders, built (or read from ``cache``) on first use."""

    def __init__(self, split: str, cache: Path):
        from iqa.evaluation.protocol import family

        self.split, self.cache, self._items, self.settings, self.fam = split, cache, None, None, family(FAMILY)

    def items(self):
        if self._items is None:
            from iqa.data import photos as registry
            from iqa.evaluation import heldout

            names = heldout.split_photos(self.split)
            self.settings, self._items = heldout.ladder_items(self.cache, names, CROPS_PER_PHOTO, SIZE, LADDER_SEED,
                                                              load=registry.load_photo, fam=self.fam)
        return self._items


def score(ckpt: Path, ladders: Ladders, batch_size: int) -> dict:
    """The checkpoint's per-photo and per-type within-ladder SRCC on the ladders, cached beside it."""
    from iqa.evaluation import heldout

    items = ladders.items()
    cached = ckpt.parent.parent / f"ladders-{ladders.split}-{ladders.settings}.json"
    sha = weights_digest(ckpt)
    if cached.is_file():
        record = json.loads(cached.read_text())
        if record.get("weights_sha256") == sha:
            return record
    started = time.perf_counter()
    scores = heldout.checkpoint_scores(str(ckpt), items, batch_size, None)
    summary, per_type = heldout.summarise(scores, items, ladders.fam)
    record = {"checkpoint": str(ckpt), "weights_sha256": sha, "settings": ladders.settings, "split": ladders.split,
              "commit": heldout.source_commit(), "summary": summary, "per_type": per_type,
              "per_photo": heldout.per_photo(scores, items, ladders.fam), "seconds": round(time.perf_counter() - started, 1)}
    cached.write_text(json.dumps(record, indent=1))
    return record


def verdict(per_seed: Sequence[Mapping[str, float]]) -> str:
    """``better`` / ``worse`` when every seed's interval excludes zero on the same side; else ``inside the spread``."""
    if per_seed and all(g["lo"] > 0 for g in per_seed):
        return "better"
    if per_seed and all(g["hi"] < 0 for g in per_seed):
        return "worse"
    return "inside the spread"


def compare(rows: Mapping[str, Mapping[int, Mapping]], reference: str = "reference", n_boot: int = 4000) -> dict:
    """Per arm and part: per-seed values, their mean and range, and the gaps to ``reference`` (see the module doc)."""
    from iqa.evaluation.protocol import paired_gap

    out: dict = {}
    ref = rows.get(reference, {})
    for arm, seeds in rows.items():
        entry: dict = {"seeds": sorted(seeds), "parts": {}}
        for part in PARTS:
            values = {s: float(np.mean(list(r["per_photo"][part].values()))) for s, r in seeds.items()}
            item: dict = {"per_seed": values, "mean": float(np.mean(list(values.values()))),
                          "min": min(values.values()), "max": max(values.values())}
            shared = [s for s in seeds if s in ref]
            if arm != reference and shared:
                gaps = {s: paired_gap(seeds[s]["per_photo"][part], ref[s]["per_photo"][part], n_boot, seed=s, tag=f"{arm}/{part}")
                        for s in shared}
                # sorted: the bootstrap draws photos by position, so their order must not depend on string hashing
                photos = sorted(set.intersection(*(set(seeds[s]["per_photo"][part]) & set(ref[s]["per_photo"][part]) for s in shared)))
                pooled_a = {p: float(np.mean([seeds[s]["per_photo"][part][p] for s in shared])) for p in photos}
                pooled_b = {p: float(np.mean([ref[s]["per_photo"][part][p] for s in shared])) for p in photos}
                item["gap_per_seed"] = gaps
                item["gap_pooled"] = paired_gap(pooled_a, pooled_b, n_boot, tag=f"{arm}/{part}/pooled")
                item["verdict"] = verdict(list(gaps.values()))
            entry["parts"][part] = item
        out[arm] = entry
    return out


def markdown(table: Mapping, arms: Mapping[str, Arm], seeds: Sequence[int], baseline: str = "reference") -> str:
    head = "| ablation | arm | " + " | ".join(f"seed {s}" for s in seeds) + " | mean [range] | structural | photometric | unseen |"
    lines = ["Within-ladder SRCC over all 25 types (mean over photos), per seed:", "", head,
             "|" + "---|" * (len(seeds) + 6)]
    for key, entry in table.items():
        parts = entry["parts"]
        cells = [f"{parts['all']['per_seed'][s]:.3f}" if s in parts["all"]["per_seed"] else "" for s in seeds]
        a = parts["all"]
        lines.append(f"| {arms[key].ablation} | {arms[key].label} | " + " | ".join(cells)
                     + f" | {a['mean']:.3f} [{a['min']:.3f}, {a['max']:.3f}] | "
                     + " | ".join(f"{parts[p]['mean']:.3f}" for p in ("structural", "photometric", "unseen")) + " |")
    against = "the reference" if baseline == "reference" else f"{arms[baseline].label} ({baseline})"
    lines += ["", f"Gap to {against} (all types; 95 % intervals resample photos):", "",
              "| arm | " + " | ".join(f"seed {s}" for s in seeds) + " | pooled over seeds | photos the arm wins | verdict |",
              "|" + "---|" * (len(seeds) + 4)]
    for key, entry in table.items():
        a = entry["parts"]["all"]
        if "gap_per_seed" not in a:
            continue
        cells = [(lambda g: f"{g['gap']:+.3f} [{g['lo']:+.3f}, {g['hi']:+.3f}]")(a["gap_per_seed"][s]) if s in a["gap_per_seed"] else ""
                 for s in seeds]
        p = a["gap_pooled"]
        lines.append(f"| {arms[key].label} | " + " | ".join(cells) + f" | {p['gap']:+.3f} [{p['lo']:+.3f}, {p['hi']:+.3f}] | "
                     f"{p['wins']:.0%} | {a['verdict']} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--arms", default=",".join(DEFAULT_ARMS),
                        help=f"comma list of: {', '.join(ARM_ORDER)}, run in that order (the reference always runs, first)")
    parser.add_argument("--baseline", default="reference", choices=ARM_ORDER, metavar="ARM",
                        help="the arm every gap is measured against (default: the recipe, reference); it runs after the "
                             "reference, before the other arms")
    parser.add_argument("--recipe", default="1", choices=tuple(RECIPES),
                        help="the recipe version of the reference and imagenet arms (default 1, whose ablations these are; "
                             "2 and 3 take no other arm)")
    parser.add_argument("--seeds", default="0,1,2", help="comma list of seeds (default 0,1,2)")
    parser.add_argument("--seed-dir", default="outputs/seed{seed}", help="each seed's recipe folder; {seed} is replaced")
    parser.add_argument("--photos", type=int, default=36, help="the photos arm's number of train-split photos (default 36 of 146)")
    parser.add_argument("--anchor", type=float, default=1.0,
                        help="the anchor arms' weight (default 1; runs finetune-anchored-<W>, finetune-ladders-anchored-<W>, "
                             "finetune-weighted-anchored-<W>, finetune-regression-weighted-anchored-<W>)")
    parser.add_argument("--split", default=SPLIT, choices=("tune", "test"), help="the registry split scored (default test)")
    parser.add_argument("--cache", type=Path, default=None, help="ladder cache (default: iqa heldout's)")
    parser.add_argument("--out", type=Path, default=Path("outputs/ablations"), help="where ablations.md and ablations.json go")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--no-train", action="store_true", help="score and tabulate what is already trained")
    parser.add_argument("--dry-run", action="store_true", help="print the commands and stop")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every training run")
    args = parser.parse_args(argv)
    chosen = [a.strip() for a in args.arms.split(",") if a.strip()]
    bad = [a for a in chosen if a not in ARM_ORDER]
    if bad:
        parser.error(f"--arms: unknown arm(s) {', '.join(bad)}; choose from {', '.join(ARM_ORDER)}")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds: a comma list of integers, got {args.seeds!r}")
    if not seeds:
        parser.error("--seeds: give at least one seed")
    if "{seed}" not in args.seed_dir and len(seeds) > 1:
        parser.error("--seed-dir must contain {seed} when more than one seed is given")
    keys = ["reference", *dict.fromkeys(k for k in (args.baseline, *chosen) if k != "reference")]  # in the order given
    if args.recipe != "1" and set(keys) - {"reference", "imagenet"}:
        parser.error(f"--recipe {args.recipe} takes the arms reference and imagenet only (the others ablate version 1), "
                     f"got {', '.join(k for k in keys if k not in ('reference', 'imagenet'))}")
    if not args.anchor > 0:
        parser.error(f"--anchor: a weight > 0, got {args.anchor}")
    arms = arm_table(args.photos, args.anchor, args.recipe)
    if args.no_train:  # the folders hold whatever was trained there: the record names it
        seed_dirs = [Path(args.seed_dir.format(seed=seed)) for seed in seeds]
        arms["reference"] = replace(arms["reference"], label=reference_label(args.recipe, seed_dirs))
    python = [sys.executable, "-m", "iqa.cli.main"]
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "PYTHONPATH": str(ROOT)}

    def run(argv_: list[str]) -> None:
        print("$ iqa " + " ".join(argv_), flush=True)
        if not args.dry_run and subprocess.run([*python, *argv_], env=env).returncode != 0:
            raise SystemExit(f"error: failed: iqa {' '.join(argv_)}")

    from iqa.evaluation import heldout

    ladders = Ladders(args.split, args.cache or heldout.DEFAULT_CACHE)
    rows: dict[str, dict[int, dict]] = {}
    started = time.perf_counter()
    # Arm by arm, every seed: the first arms are complete first when the time runs out.
    for key in keys:
        arm = arms[key]
        for seed in seeds:
            seed_dir = Path(args.seed_dir.format(seed=seed))
            ckpt = seed_dir / arm.run / "checkpoints" / "last.ckpt"
            finished = (ckpt.parent.parent / "summary.json").is_file()  # written when a run completes
            if not args.no_train and not finished:
                if key in ("reference", "imagenet"):  # the recipe itself (iqa model skips its finished steps)
                    run(recipe_commands(seed, seed_dir, args.overrides, args.recipe))
                for command in commands(arm, seed, seed_dir, args.overrides, args.photos):
                    run(command)  # resume=auto: a killed run resumes, a finished step returns at once
            if args.dry_run:
                continue
            if not ckpt.is_file():
                print(f"  {key} seed {seed}: {ckpt} missing, not scored", flush=True)
                continue
            record = score(ckpt, ladders, args.batch_size)
            rows.setdefault(key, {})[seed] = record
            print(f"  {key} seed {seed}: all {record['summary']['all']:.3f} ({record['seconds']} s to score)", flush=True)
    if args.dry_run:
        return 0
    table = compare(rows, reference=args.baseline)
    text = markdown(table, arms, seeds, args.baseline)
    meta = {"split": args.split, "family": FAMILY, "crops_per_photo": CROPS_PER_PHOTO, "size": SIZE, "settings": ladders.settings,
            "seeds": seeds, "recipe": args.recipe, "baseline": args.baseline, "commit": heldout.source_commit(),
            "wall_seconds": round(time.perf_counter() - started, 1),
            "checkpoints": {k: {s: r["checkpoint"] for s, r in v.items()} for k, v in rows.items()},
            "scored_at": {k: {s: r.get("commit") for s, r in v.items()} for k, v in rows.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ablations.md").write_text(f"# Offline recipe ablations (recipe version {args.recipe}, {args.split} split)\n\n" + text)
    per_type = {k: {s: r["per_type"] for s, r in v.items()} for k, v in rows.items()}
    (args.out / "ablations.json").write_text(json.dumps({"meta": meta, "table": table, "per_type": per_type}, indent=1, default=str))
    print()
    print(text)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
