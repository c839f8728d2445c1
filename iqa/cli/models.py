"""``iqa models``: the models shipped inside the package.

    iqa models [list]                 name, version, size, default marker and summary of each shipped model
    iqa models show [NAME]            the model card (default: the default model's)
    iqa models verify [NAME]          check the weights' sha256 and the reference scores on the fixture
    iqa models export CKPT --name NAME --card CARD.md [--version V] [--commit SHA] [--out DIR] [--max-mb MB] [--force]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from iqa.errors import UserError, suggest

ACTIONS = ("list", "show", "verify", "export")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="iqa models", description="The quality models shipped inside the package.",
                                epilog="Format and replacing the default model: docs/models.md.")
    sub = p.add_subparsers(dest="action", metavar="{list,show,verify,export}")
    sub.add_parser("list", help="the shipped models (the default: iqa models)")
    show = sub.add_parser("show", help="print a model card")
    show.add_argument("name", nargs="?", help="shipped model (default: the default model)")
    verify = sub.add_parser("verify", help="check hashes and the reference scores on the fixture")
    verify.add_argument("name", nargs="?", help="shipped model (default: all of them)")
    export = sub.add_parser("export", help="write a checkpoint as a shipped model (float16, manifest, card)")
    export.add_argument("ckpt", help="attiqa checkpoint to export")
    export.add_argument("--name", required=True, help="model name (letters, digits, '-', '_', '.')")
    export.add_argument("--card", required=True, help="model card (Markdown), copied beside the weights")
    export.add_argument("--version", default="0", help="model version (default: 0)")
    export.add_argument("--commit", default=None, help="source commit the model was trained at, recorded in the manifest")
    export.add_argument("--summary", default=None, help="one-line summary (default: the card's first line of prose)")
    export.add_argument("--out", default=None, help="folder that gets NAME/ (default: the package's iqa/resources/models)")
    export.add_argument("--max-mb", type=float, default=None, help="largest weights file in MB (default: 10)")
    export.add_argument("--force", action="store_true", help="replace an existing folder of that name")
    return p


def _size(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB"


def list_models() -> int:
    from iqa import zoo

    models = zoo.available()
    if not models:
        print("no shipped models")
        return 0
    width = max(len(m.name) for m in models)
    print(f"  {'name':<{width}}  version  size     summary")
    for m in models:
        mark = "*" if m.is_default else " "
        print(f"{mark} {m.name:<{width}}  {m.version:<7}  {_size(m.size):<7}  {m.summary}")
    print("(* the default: used when no --ckpt is given and $ATTIQA_CKPT is not set; iqa models show NAME for its card)")
    return 0


def show(name: str | None) -> int:
    from iqa import zoo

    text = zoo.card(name)
    print(text, end="" if text.endswith("\n") else "\n")
    return 0


def verify(name: str | None) -> int:
    from iqa.zoo.export import verify as verify_models

    results = verify_models(name)
    if not results:
        raise UserError("no shipped models to verify")
    for r in results:
        if r["sha256_ok"] and r["scores_ok"]:
            print(f"{r['name']}: sha256 ok, fixture scores ok (largest difference {r['worst']:.3f} of the tolerance)")
        else:
            print(f"{r['name']}: FAILED: " + "; ".join(r["problems"]))
    return 0 if all(r["sha256_ok"] and r["scores_ok"] for r in results) else 1


def export(args: argparse.Namespace) -> int:
    from iqa.zoo.export import MAX_MB, export_model

    folder = export_model(args.ckpt, args.name, args.card, version=args.version, commit=args.commit, out=args.out,
                          max_mb=MAX_MB if args.max_mb is None else args.max_mb, summary=args.summary, force=args.force)
    from iqa import zoo

    model = zoo.ShippedModel(folder.name, folder, zoo.read_manifest(folder))
    print(f"exported {model.name} v{model.version}: {model.weights} ({_size(model.size)}, sha256 {model.sha256[:12]}...), "
          f"{len(model.manifest['reference_scores'])} fixture scores recorded")
    return 0


def run(argv: Sequence[str]) -> int:
    argv = list(argv)
    if argv and not argv[0].startswith("-") and argv[0] not in ACTIONS:
        raise UserError(f"unknown action '{argv[0]}'{suggest(argv[0], ACTIONS)}; actions: {', '.join(ACTIONS)}")
    args = parser().parse_args(argv)
    if args.action in (None, "list"):
        return list_models()
    if args.action == "show":
        return show(args.name)
    if args.action == "verify":
        return verify(args.name)
    return export(args)


def main(argv: Sequence[str] | None = None) -> int:
    from iqa.errors import one_line_errors

    return one_line_errors(run)(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
