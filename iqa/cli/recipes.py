"""The recipes: the pipeline's own commands in order, each in its own process, as a user would type them.

``iqa demo`` (``make demo``), on ``experiment=demo``:

1. ``iqa label experiment=demo``: build the demo corpus (first run only) and
   pseudo-label it with the classical teacher;
2. ``iqa train experiment=demo stage=pretrain``: attribute-aware pretraining;
3. ``iqa train experiment=demo stage=finetune init=<pretrain last.ckpt>``;
4. ``iqa train experiment=demo stage=finetune init=imagenet``: same budget, ImageNet-only;
5. ``iqa evaluate experiment=demo``: both variants on the held-out test photos.

``iqa demo enhance`` then trains a small enhancer against the demo's fine-tuned checkpoint.

``iqa model`` (``make model``), the offline recipe on ``experiment=offline``: the same
five steps on the offline corpus (:mod:`iqa.data.offline_corpus`). Recipe version 3, the
default, pretrains by regressing the teacher's scores, then fine-tunes the whole network on
the synthetic MOS with regression plus pairwise ranking over batches of same-crop groups
(``group_size`` in ``experiment=offline``), on a corpus that draws the hardest types more
often (``--finetune-data weighted``), with the attribute heads held to the pretrained
network's (``offline.finetune.attribute_anchor``), at a fine-tuning rate of 6e-4
(``offline.finetune.lr``; both fine-tunes, the ImageNet-only twin's too). ``--recipe 2`` runs
version 2 (the same at 3e-4) and ``--recipe 1`` version 1 (ranking pretraining, uniform draws,
free heads, 3e-4). Each option can also be set on its own, and so can the pretraining and
fine-tuning steps (``offline.pretrain.max_steps``, 400 in every version, and
``offline.finetune.max_steps``, 700 in every version, for both fine-tunes).
``--finetune-stage ridge_probe`` (or ``linear_probe``) fits a quality head on the frozen
features instead.

Each step runs through ``python -m iqa.cli.main`` (:func:`run_steps`), so the recipes
work the same from a clone and from an installed wheel, in any directory. Extra
arguments are Hydra overrides passed to every step (e.g. ``paths.output_dir=/tmp/demo``).
Each step resumes or skips finished work, so an interrupted recipe continues where it stopped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from iqa.attributes import QUALITY_HEADS


def output_dir(overrides: Sequence[str]) -> str:
    """Where the steps write: the last ``paths.output_dir=`` given (Hydra keeps the last), else ``$ATTIQA_OUTPUT_DIR``."""
    return last_value(overrides, "paths.output_dir") or os.environ.get("ATTIQA_OUTPUT_DIR", "outputs")


def override_key(arg: str) -> str:
    """The config key a Hydra override sets: ``+data.x=1`` and ``~data.x`` both give ``data.x``."""
    return arg.split("=", 1)[0].lstrip("+~")


def last_value(overrides: Sequence[str], key: str) -> str | None:
    """The value the last ``key=...`` (or ``+key=...``) among ``overrides`` gives (None: not given)."""
    given = [a.split("=", 1)[1] for a in overrides if "=" in a and not a.startswith("~") and override_key(a) == key]
    return given[-1] if given else None


def run_steps(step_list: Sequence[Sequence[str]], overrides: Sequence[str], name: str, outputs: str = "") -> int:
    """Run each step as ``python -m iqa.cli.main <step> <overrides>``; the exit code. Stops at the first failure.

    On success, prints the total wall time and ``outputs`` (where the results are).
    """
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    total = len(step_list)
    for number, step in enumerate(step_list, 1):
        command = [sys.executable, "-m", "iqa.cli.main", *step, *overrides]
        print(f"\n[{number}/{total}] iqa {' '.join([*step, *overrides])}", flush=True)
        step_started = time.perf_counter()
        code = subprocess.call(command, cwd=os.getcwd(), env=env)
        if code != 0:
            print(f"{name} step {number} failed (exit {code}); rerun to resume from there", file=sys.stderr)
            return code
        print(f"[{number}/{total}] done in {time.perf_counter() - step_started:.1f} s", flush=True)
    minutes, seconds = divmod(time.perf_counter() - started, 60)
    print(f"\n{name} finished in {int(minutes)}m{seconds:04.1f}s" + (f"; outputs: {outputs}" if outputs else ""))
    return 0


# -- iqa demo ------------------------------------------------------------------------------------


DEMO_USAGE = """usage: iqa demo [hydra overrides...]
       iqa demo enhance [hydra overrides...]

Runs the offline demo (label -> pretrain -> two fine-tunes -> evaluate) on the
embedded corpus of scikit-image photos. Outputs land in <paths.output_dir>/demo
(default ./outputs/demo); rerunning resumes where it stopped.

`iqa demo enhance` trains a small enhancer with the shipped model as its
objective (python train.py experiment=demo_enhance), the same enhancer without
the attiqa term (beside it where the cores hold both, else after it), and prints
both beside auto-gamma and CLAHE on darkened test photos, with intervals over
photos. The tune photos that choose best.ckpt and the test photos are fetched
into the photo cache on first use.
"""


def demo_steps(output_dir: str) -> list[list[str]]:
    demo = f"{output_dir}/demo"
    return [
        ["label", "experiment=demo"],
        ["train", "experiment=demo", "stage=pretrain"],
        ["train", "experiment=demo", "stage=finetune", f"init={demo}/pretrain/checkpoints/last.ckpt", "run_name=finetune-attiqa"],
        ["train", "experiment=demo", "stage=finetune", "init=imagenet", "run_name=finetune-imagenet"],
        ["evaluate", "experiment=demo"],
    ]


def demo(argv: Sequence[str] | None = None) -> int:
    """``iqa demo [enhance] [overrides]``: the exit code."""
    overrides = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in overrides):
        print(DEMO_USAGE, end="")
        return 0
    if overrides[:1] == ["enhance"]:
        return demo_enhance(overrides[1:])
    out = output_dir(overrides)
    return run_steps(demo_steps(out), overrides, "demo",
                     f"{out}/demo (results.json, results.md, scatter.png, labels/, pretrain/, finetune-attiqa/, finetune-imagenet/)")


def demo_enhance(overrides: Sequence[str]) -> int:
    """``iqa demo enhance``: the enhancer trained with and without the attiqa term (side by side where the cores hold
    both arms' compute threads, else one after the other), then both beside auto-gamma and CLAHE on the test photos."""
    from pathlib import Path

    from iqa.inference import usable_cpus

    out = output_dir(overrides)
    demo = f"{out}/demo"
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    fetch_demo_photos(DEMO_VAL_PHOTOS, "validation (best.ckpt)")
    main_arm = ["train", "experiment=demo_enhance", *overrides]
    baseline_arm = ["train", "experiment=demo_enhance", "stage.objective.attiqa_weight=0", "run_name=enhance-no-attiqa",
                    "stage.num_workers=0", *overrides]
    threads, cpus = demo_threads(overrides), usable_cpus()
    if threads is None or 2 * threads > cpus:
        # Side by side, the arms' compute threads would outnumber the cores, and spinning threads then run many times
        # slower than one after the other. Either order trains the same checkpoints.
        print(f"enhancement demo: two arms x {threads or 'all'} compute threads would oversubscribe {cpus} cores; "
              "training them one after the other", flush=True)
        code = run_steps([main_arm, baseline_arm], [], "enhancement demo (both enhancers)")
        if code != 0:
            return code
        return _compare_demo_arms(demo, started)
    # The arm without the attiqa term trains beside the main one, its log in a file.
    baseline_log = Path(demo) / "enhance-no-attiqa.log"
    baseline_log.parent.mkdir(parents=True, exist_ok=True)
    baseline_cmd = [sys.executable, "-m", "iqa.cli.main", *baseline_arm]
    print(f"[1/3] iqa {' '.join(baseline_arm)}  (in the background; log: {baseline_log})", flush=True)
    with open(baseline_log, "w") as log_file:
        baseline = subprocess.Popen(baseline_cmd, cwd=os.getcwd(), env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            code = run_steps([main_arm], [], "enhancement demo (attiqa enhancer)")
        except BaseException:
            baseline.kill()
            raise
        baseline_code = baseline.wait()
    if code != 0:
        return code
    if baseline_code != 0:
        print(f"enhancement demo: the enhancer without the attiqa term failed (exit {baseline_code}); see {baseline_log}",
              file=sys.stderr)
        return baseline_code
    print(f"[1/3] the enhancer without the attiqa term finished (log: {baseline_log})", flush=True)
    return _compare_demo_arms(demo, started)


#: ``conf/experiment/demo_enhance.yaml``'s ``stage.torch_threads``: each demo arm's compute threads unless overridden.
DEMO_THREADS = 1
#: ... and its ``stage.data.val.photos``: the tune photos whose crops choose ``best.ckpt``.
DEMO_VAL_PHOTOS = ("grace_hopper", "china", "flower")


def fetch_demo_photos(names: Sequence[str], role: str) -> None:
    """Bring the registered photos ``names`` into the photo cache where they are not on this machine, as the comparison
    does for the test photos, so that a fresh machine chooses as the documented runs did. Offline, training goes on
    without them (it skips a missing validation photo with a warning); this says so first."""
    from iqa.data import photos as registry
    from iqa.data.photo_sources import FetchError

    try:
        registry.fetch_missing(registry.get(name) for name in names)
    except FetchError as error:
        missing = [name for name in names if not registry.available(registry.get(name))]
        print(f"enhancement demo: could not fetch the {role} photos {', '.join(missing)} ({error}); "
              "training validates on the ones here, so best.ckpt may differ from the documented runs", file=sys.stderr)


def demo_threads(overrides: Sequence[str]) -> int | None:
    """The compute threads each arm of ``iqa demo enhance`` uses: the last ``stage.torch_threads=`` given, else the
    experiment's; None where that is not a whole number (null: torch's own choice, every core)."""
    value = last_value(overrides, "stage.torch_threads") or str(DEMO_THREADS)
    return int(value) if value.isdigit() and int(value) > 0 else None


def _compare_demo_arms(demo: str, started: float) -> int:
    """The demo's last step: both arms beside auto-gamma and CLAHE on the test photos."""
    compare = [["enhance-compare", "--run", f"attiqa={demo}/enhance/checkpoints/best.ckpt",
                "--run", f"no_attiqa={demo}/enhance-no-attiqa/checkpoints/best.ckpt", "--split", "test", "--fetch",
                "--out", f"{demo}/enhance"]]
    code = run_steps(compare, [], "comparison")
    if code == 0:
        minutes, seconds = divmod(time.perf_counter() - started, 60)
        print(f"\nenhancement demo finished in {int(minutes)}m{seconds:04.1f}s; outputs: {demo}/enhance (comparison.md, "
              f"results.md, results.json, enhance_grid.png, checkpoints/), {demo}/enhance-no-attiqa")
    return code


# -- iqa model (make model) ----------------------------------------------------------------------


MODEL_USAGE = """usage: iqa model [--recipe {choices}] [--pretrain-loss ranking|regression] [--finetune-data uniform|weighted]
                 [--finetune-stage finetune|ridge_probe|linear_probe] [hydra overrides...]

Builds the offline corpus from the train-split photos of iqa/data/photos.py (fetching the missing
ones into the photo cache) and the KADID-10k distortion family, labels it with the
classical teacher, pretrains, fine-tunes (attribute-pretrained and ImageNet-only) and
evaluates. Outputs land in <paths.output_dir>/offline (default ./outputs/offline); a rerun
resumes where an interrupted one stopped.

--recipe picks the recipe version (default {default}):
{versions}
Options and overrides given beside it change one thing of that version. --pretrain-loss picks the
pretraining loss (ranking or regression of the teacher's scores). --finetune-data weighted draws
non-eccentricity patches 5x and contrast change 2x as often in both fine-tunes' data, a corpus
of its own beside the pretraining one (uniform: every type alike). offline.finetune.attribute_anchor=W
holds the attribute-pretrained arm's attribute heads to the pretrained network's with weight W
(0: off), and offline.finetune.head=grounded gives it the attribute-grounded quality head.
offline.pretrain.max_steps=N sets the pretraining steps, offline.finetune.max_steps=N both
fine-tunes' steps (each cosine schedule spans them all) and offline.finetune.lr=R their rate (the
quality head learns at 10 times it). Give these keys, not stage.head or
stage.module.attribute_anchor, which would reach both fine-tunes and go unrecorded.
The options are recorded in <paths.output_dir>/offline/recipe.json, with the overrides that change
what is trained (seed=, stage.*, data.*, offline.*, loss, backbone, teacher; not paths, loggers,
workers or threads), and a folder refuses a rerun with other ones.
"""

FINETUNE_STAGES = ("ridge_probe", "finetune", "linear_probe")
#: The pretraining losses ``iqa model --pretrain-loss`` takes; the first is the pretrain stage's own default.
PRETRAIN_LOSSES = ("ranking", "regression")


def pretrain_args(loss: str) -> list[str]:
    """The pretraining step's overrides: ``stage=pretrain``, plus ``loss=...`` for a loss other than the stage's default."""
    _check_choice("pretraining loss", loss, PRETRAIN_LOSSES)
    return ["stage=pretrain"] if loss == PRETRAIN_LOSSES[0] else ["stage=pretrain", f"loss={loss}"]

#: The fine-tuning step's stage and loss: regression plus ranking, over batches of same-crop groups (experiment=offline).
FINETUNE_ARGS = ("stage=finetune", "loss=regression_ranking")


#: The fine-tuning data ``iqa model --finetune-data`` takes: every trained type drawn alike, or weighted.
FINETUNE_DATA = ("uniform", "weighted")
#: ``weighted``: how much more often a crop draws these types (the types version 1 orders worst on tune).
TYPE_WEIGHTS = {"non_eccentricity_patch": 5, "contrast_change": 2}
#: Its overrides: the weights, and a corpus folder of its own (the weights change the corpus; the pretraining one stays).
WEIGHTED_DATA = ("data.prepare.type_weights={" + ",".join(f"{k}:{v}" for k, v in TYPE_WEIGHTS.items()) + "}",
                 "data.root=${paths.data_dir}/offline-weighted")

#: The Hydra key of the attribute-pretrained arm's attribute anchor (its default, in experiment=offline, is versions 2 and 3's).
ANCHOR_KEY = "offline.finetune.attribute_anchor"
#: The Hydra key of the pretraining steps, and its default in experiment=offline.
PRETRAIN_STEPS_KEY = "offline.pretrain.max_steps"
PRETRAIN_STEPS = 400
#: The Hydra key of both fine-tunes' steps (the attribute-pretrained arm's and its ImageNet-only twin's), and its default.
FINETUNE_STEPS_KEY = "offline.finetune.max_steps"
FINETUNE_STEPS = 700
#: The Hydra key of both fine-tunes' rate (the quality head learns at 10 times it), and its default in experiment=offline
#: (versions 1 and 2's; version 3 sets its own).
FINETUNE_LR_KEY = "offline.finetune.lr"
FINETUNE_LR = 3.0e-4
#: The Hydra key of the attribute-pretrained arm's quality head (``stage.head`` of its fine-tune), and its default.
HEAD_KEY = "offline.finetune.head"
QUALITY_HEAD = "linear"
#: The Hydra overrides ``iqa model`` records beside its options: key -> (type, smallest valid value, what it is).
NUMERIC_OPTIONS = {ANCHOR_KEY: (float, 0, "a weight"), PRETRAIN_STEPS_KEY: (int, 1, "a whole number of steps"),
                   FINETUNE_STEPS_KEY: (int, 1, "a whole number of steps"), FINETUNE_LR_KEY: (float, 0, "a learning rate")}
#: ... and the recorded overrides that name a choice: key -> the valid choices.
CHOICE_OPTIONS = {HEAD_KEY: QUALITY_HEADS}
RECORDED_OVERRIDES = (*NUMERIC_OPTIONS, *CHOICE_OPTIONS)
#: The recorded overrides' values in experiment=offline: a version's command names only those it changes.
EXPERIMENT_VALUES = {PRETRAIN_STEPS_KEY: str(PRETRAIN_STEPS), HEAD_KEY: QUALITY_HEAD, FINETUNE_STEPS_KEY: str(FINETUNE_STEPS),
                     FINETUNE_LR_KEY: f"{FINETUNE_LR:g}"}
#: The stage keys that the recorded overrides set for the attribute-pretrained arm alone: given directly, they would reach
#: the ImageNet-only twin too and escape the record, so ``iqa model`` refuses them and names the key to give instead.
UNRECORDED_KEYS = {"stage.head": HEAD_KEY, "stage.module.attribute_anchor": ANCHOR_KEY}
#: ``recipe.json``'s entry for the user's other overrides that change what a step labels or trains (another seed, other
#: steps, another corpus): key -> value. A rerun with others would silently reuse runs made without them.
OVERRIDES_KEY = "overrides"
#: Those overrides, by the first part of their key ...
TRAINING_GROUPS = ("seed", "data", "stage", "offline", "loss", "backbone", "teacher", "prompts", "net", "ablation")
#: ... except these, which change how a step runs, not what it learns.
RUN_ONLY_KEYS = ("stage.num_workers", "stage.prefetch_factor", "stage.torch_threads", "stage.val_every_steps", "stage.val_batches",
                 "stage.digest", "stage.module.sample_images", "stage.module.grid_images")


def training_overrides(args: Sequence[str]) -> dict[str, str]:
    """The Hydra overrides among ``args`` that change what the recipe trains, as ``recipe.json`` records them (key -> value;
    a deleted key's value is ``~``). The recorded options (:data:`RECORDED_OVERRIDES`) are recorded on their own."""
    out = {}
    for arg in args:
        name, value = override_key(arg), arg.partition("=")[2]
        if name.split(".")[0] in TRAINING_GROUPS and name not in RUN_ONLY_KEYS and name not in RECORDED_OVERRIDES:
            out[name] = "~" if arg.startswith("~") else value
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class Recipe:
    """One version of the offline recipe: ``iqa model``'s options, its attribute anchor, steps, quality head and fine-tuning rate."""

    pretrain_loss: str
    finetune_data: str
    attribute_anchor: float
    pretrain_steps: int = PRETRAIN_STEPS
    quality_head: str = QUALITY_HEAD
    finetune_steps: int = FINETUNE_STEPS
    finetune_lr: float = FINETUNE_LR

    @property
    def options(self) -> dict[str, str]:
        return {"--finetune-stage": "finetune", "--pretrain-loss": self.pretrain_loss, "--finetune-data": self.finetune_data}

    @property
    def recorded(self) -> dict[str, str]:
        """The options and numbers ``recipe.json`` records for this version, as :func:`parse_model_args` gives them."""
        return {**self.options, ANCHOR_KEY: f"{self.attribute_anchor:g}", PRETRAIN_STEPS_KEY: str(self.pretrain_steps),
                HEAD_KEY: self.quality_head, FINETUNE_STEPS_KEY: str(self.finetune_steps),
                FINETUNE_LR_KEY: f"{self.finetune_lr:g}"}

    @property
    def overrides(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.recorded.items() if key in RECORDED_OVERRIDES]

    @property
    def command(self) -> str:
        """The version as options of ``iqa model`` (the steps, the head and the rate only where they are not the experiment's)."""
        changed = "".join(f" {key}={value}" for key, value in self.recorded.items()
                          if key in EXPERIMENT_VALUES and value != EXPERIMENT_VALUES[key])
        return (f"iqa model --pretrain-loss {self.pretrain_loss} --finetune-data {self.finetune_data} "
                f"{ANCHOR_KEY}={self.attribute_anchor:g}{changed}")


#: The recipe versions ``iqa model --recipe`` takes; the last is the default.
RECIPES = {"1": Recipe("ranking", "uniform", 0.0), "2": Recipe("regression", "weighted", 0.1),
           "3": Recipe("regression", "weighted", 0.1, finetune_lr=6.0e-4)}
RECIPE = "3"
MODEL_USAGE = MODEL_USAGE.format(default=RECIPE, choices="|".join(RECIPES), versions="\n".join(
    f"  {v}  {r.command.removeprefix('iqa model ')}" for v, r in sorted(RECIPES.items(), reverse=True)))


def _check_choice(what: str, value: str, valid: Sequence[str]) -> None:
    if value not in valid:
        raise ValueError(f"{what} {value!r}: expected one of {', '.join(valid)}")


def finetune_data_args(data: str) -> list[str]:
    """The quality steps' data overrides: none for ``uniform``, :data:`WEIGHTED_DATA` for ``weighted``."""
    _check_choice("fine-tuning data", data, FINETUNE_DATA)
    return [] if data == "uniform" else list(WEIGHTED_DATA)


def finetune_args(finetune_stage: str) -> list[str]:
    """The quality step's overrides: ``stage=finetune`` with its loss, or another stage as given."""
    _check_choice("finetune stage", finetune_stage, FINETUNE_STAGES)
    return list(FINETUNE_ARGS) if finetune_stage == "finetune" else [f"stage={finetune_stage}"]


def model_steps(output_dir: str, finetune_stage: str = "finetune", pretrain_loss: str = RECIPES[RECIPE].pretrain_loss,
                finetune_data: str = RECIPES[RECIPE].finetune_data) -> list[list[str]]:
    """The recipe's steps (the default version's options unless given; the anchor is ``offline.finetune``'s)."""
    base = f"{output_dir}/offline"
    quality = [*finetune_args(finetune_stage), *finetune_data_args(finetune_data)]  # both arms: the same data
    # The attribute-pretrained arm's quality head and attribute anchor are the recipe's choices (offline.finetune);
    # the ImageNet-only arm, whose attribute heads never learnt anything, keeps the free linear head and no anchor.
    arm = (["stage.head=${offline.finetune.head}", "stage.module.attribute_anchor=${" + ANCHOR_KEY + "}"]
           if finetune_stage == "finetune" else [])
    return [
        ["label", "experiment=offline"],
        ["train", "experiment=offline", *pretrain_args(pretrain_loss)],
        ["train", "experiment=offline", *quality, *arm, f"init={base}/pretrain/checkpoints/last.ckpt", "run_name=finetune-attiqa"],
        ["train", "experiment=offline", *quality, "init=imagenet", "run_name=finetune-imagenet"],
        ["evaluate", "experiment=offline"],
    ]


#: ``iqa model``'s own options: flag -> valid values (the defaults are the chosen recipe version's).
MODEL_OPTIONS = {"--finetune-stage": FINETUNE_STAGES, "--pretrain-loss": PRETRAIN_LOSSES, "--finetune-data": FINETUNE_DATA}


def recipe_record(output_dir: str | os.PathLike) -> dict[str, Any] | None:
    """What ``<output_dir>/offline/recipe.json`` records (None: no record there). ``ValueError`` for a record that cannot be
    read or is not a JSON object."""
    import json
    from pathlib import Path

    record = Path(output_dir) / "offline" / "recipe.json"
    if not record.is_file():
        return None
    try:
        recorded = json.loads(record.read_text())  # undecodable text and bad JSON raise ValueErrors
    except (OSError, ValueError) as error:
        raise ValueError(str(error)) from None
    if not isinstance(recorded, dict):
        raise ValueError("not a JSON object")
    # A record from before a key was recorded on its own may hold it among the other overrides: read it as recorded.
    earlier = recorded.get(OVERRIDES_KEY)
    if isinstance(earlier, dict):
        lifted = {k: v for k, v in earlier.items() if k in RECORDED_OVERRIDES and k not in recorded}
        recorded = {**recorded, **lifted, OVERRIDES_KEY: {k: v for k, v in earlier.items() if k not in lifted}}
    return recorded


def same_option(key: str, old: Any, new: Any) -> bool:
    """Whether a recorded option's value ``old`` is ``new``: numbers by value (6.0e-4 is 0.0006), and a number that does
    not parse (a hand-edited record) differs."""
    if key in NUMERIC_OPTIONS:
        try:
            return NUMERIC_OPTIONS[key][0](old) == NUMERIC_OPTIONS[key][0](new)
        except (TypeError, ValueError):
            return False
    return old == new


def check_recipe_options(output_dir: str, options: dict[str, Any]) -> str | None:
    """Record the recipe's options in ``<output_dir>/offline/recipe.json``, or say why this run cannot continue there.

    ``options`` maps each of :data:`MODEL_OPTIONS` (and, optionally, :data:`ANCHOR_KEY`, :data:`PRETRAIN_STEPS_KEY`,
    :data:`HEAD_KEY`, :data:`FINETUNE_STEPS_KEY` and :data:`FINETUNE_LR_KEY`) to its value, and optionally
    :data:`OVERRIDES_KEY` to the user's :func:`training_overrides`, compared key by key with the record as
    :func:`recipe_record` reads it (a record without them, from before they were recorded, says nothing about them;
    numbers by value, :func:`same_option`). The steps resume or skip finished runs, so rerunning with other options in
    the same folder would silently keep the other options' runs. A folder that has runs but no record was made with
    version 1 (before the record existed; folders older than version 1's settings are not told apart), and an option
    missing from a record (added since) had version 1's value; a record from before the anchor, the steps, the head
    or the rate were recorded says nothing about them (any could have been overridden), so they are not compared
    there. A recorded number that does not parse (a hand-edited record) counts as different, and a record that is
    not a JSON object is reported, not guessed at.
    """
    from pathlib import Path

    from iqa.io import atomic_write_json

    base = Path(output_dir) / "offline"
    record = base / "recipe.json"
    try:
        recorded = recipe_record(output_dir)
    except ValueError as error:
        return f"cannot read the recipe record {record} ({error}): restore it, or remove {base} to start over"
    if recorded is not None:
        previous = {**RECIPES["1"].options, **recorded}
    elif any((base / run / "checkpoints").is_dir() for run in ("pretrain", "finetune-attiqa", "finetune-imagenet")):
        previous = RECIPES["1"].recorded  # from before the record existed: version 1, anchor off, 400 steps
    else:
        previous = {}
    differing = [f"{flag} {previous[flag]} there, {value} now" for flag, value in options.items()
                 if flag in previous and flag != OVERRIDES_KEY and not same_option(flag, previous[flag], value)]
    if OVERRIDES_KEY in options and isinstance(previous.get(OVERRIDES_KEY), dict):
        before, now = previous[OVERRIDES_KEY], options[OVERRIDES_KEY]
        differing += [f"{key}={before.get(key, '(not given)')} there, {key}={now.get(key, '(not given)')} now"
                      for key in sorted(before.keys() | now.keys()) if str(before.get(key)) != str(now.get(key))]
    if differing:
        return (f"{base} holds a recipe run with other options ({'; '.join(differing)}): pass paths.output_dir=<another folder>, "
                f"or remove {base} to start over")
    base.mkdir(parents=True, exist_ok=True)
    atomic_write_json(record, {**previous, **options})
    return None


def _recorded_option(key: str, overrides: Sequence[str]) -> str:
    """The last value ``overrides`` give ``key`` (one of :data:`RECORDED_OVERRIDES`), checked, as recorded; ``ValueError`` if bad."""
    given = last_value(overrides, key)
    if key in CHOICE_OPTIONS:
        if given not in CHOICE_OPTIONS[key]:
            raise ValueError(f"{key} takes one of {', '.join(CHOICE_OPTIONS[key])}, got {given}")
        return given
    kind, low, what = NUMERIC_OPTIONS[key]
    try:
        value = kind(given)
    except ValueError:
        value = None
    if value is None or not value >= low:  # also refuses nan
        raise ValueError(f"{key} takes {what} >= {low}, got {given}")
    return f"{value:g}" if kind is float else str(value)


def parse_model_args(args: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """``iqa model``'s options (the recipe version's, then each flag given) and the Hydra overrides, the version's first.

    Raises ``ValueError`` naming the valid choices for an unknown version or option value.
    """
    args = list(args)

    def take(flag: str, valid: Sequence[str]) -> str | None:
        if flag not in args:
            return None
        at = args.index(flag)
        given = args[at + 1] if at + 1 < len(args) else "nothing"
        if given not in valid:
            raise ValueError(f"{flag} takes one of {', '.join(valid)}, got {given}")
        del args[at : at + 2]
        return given

    recipe = RECIPES[take("--recipe", tuple(RECIPES)) or RECIPE]
    options = recipe.options
    for flag, valid in MODEL_OPTIONS.items():
        options[flag] = take(flag, valid) or options[flag]
    given = {override_key(arg) for arg in args}  # the Hydra keys the user sets
    for key in sorted(UNRECORDED_KEYS.keys() & given):  # the first, if any, is refused
        raise ValueError(f"{key} would reach both fine-tunes and go unrecorded: give {UNRECORDED_KEYS[key]}=... instead")
    # The user's anchor, steps or head replace the version's (one value per key, so the printed commands say which ran).
    overrides = [*(o for o in recipe.overrides if override_key(o) not in given), *args]
    return ({**options, **{key: _recorded_option(key, overrides) for key in RECORDED_OVERRIDES},
             OVERRIDES_KEY: training_overrides(args)}, overrides)


def model(argv: Sequence[str] | None = None) -> int:
    """``iqa model [--recipe V] [--pretrain-loss L] [--finetune-stage S] [--finetune-data D] [overrides]`` (``make model``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(MODEL_USAGE, end="")
        return 0
    try:
        chosen, overrides = parse_model_args(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = output_dir(overrides)
    problem = check_recipe_options(out, chosen)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    return run_steps(model_steps(out, chosen["--finetune-stage"], chosen["--pretrain-loss"], chosen["--finetune-data"]), overrides,
                     "offline recipe",
                     f"{out}/offline (labels/, pretrain/, finetune-attiqa/, finetune-imagenet/, results.md)")
