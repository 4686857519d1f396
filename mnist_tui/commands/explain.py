"""``mnist-tui explain``: which pixels pushed a model towards its prediction and towards the given label."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..core.formatting import json_safe, rounded
from .common import EXIT_OK, UsageError, add_path_flags, load_models, stderr
from .predict import IMAGE_SUFFIXES  # a picture named where the run goes
from .dataset_split import add_split_flag, load_split

METHOD_NAMES = {"ig": "integrated gradients (blank baseline)", "occlusion": "occlusion (4x4 blank patch, stride 2)"}


def register(sub) -> None:
    parser = sub.add_parser("explain", help="attribution map of one digit (integrated gradients or occlusion)",
                            description="Draw which pixels pushed the model towards its prediction and towards "
                            "the digit's given label (or, for a picture, the runner-up class).")
    parser.add_argument("checkpoint", metavar="RUN", help="checkpoint file, run folder or run name")
    parser.add_argument("image", nargs="?", metavar="IMAGE", help="a PNG or JPEG of a digit (instead of --index)")
    parser.add_argument("--index", type=int, help="position of the digit in the dataset split")
    add_split_flag(parser, "split --index refers to (default: test)", default=None)
    # as the app's views open: occlusion's maps point at strokes, IG's are speckled (README, "What they show")
    parser.add_argument("--method", choices=list(METHOD_NAMES), default="occlusion",
                        help="attribution method (default: occlusion, as the app)")
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                        help="predict the digit as the average over its 1-pixel shifts (default: as the run was "
                             "tested, on for a config with tta such as the best preset; off for an IMAGE, as predict); "
                             "the maps are of the digit as it is either way")
    add_path_flags(parser, checkpoints="folder run names are looked up in")
    parser.add_argument("--json", action="store_true", help="print one JSON object holding the 28x28 maps")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.image is None and args.checkpoint.lower().endswith(IMAGE_SUFFIXES):
        raise UsageError(f"explain takes the run first: mnist-tui explain RUN {args.checkpoint} "
                         "(the shipped model: strong-pretrained)")
    if (args.index is None) == (args.image is None):
        raise UsageError("explain needs exactly one digit: --index N (from the dataset) or an IMAGE file")
    if args.image is not None and args.split is not None:
        stderr("note: --split ignored: it names the set --index counts in, and a picture is read as it is")
    args.split = args.split or "test"
    models, configs, paths = load_models([args.checkpoint], Path(args.checkpoints), "cpu")
    model, config = models[0], configs[0]
    label = None
    if args.image is not None:
        from ..core.preprocess import NoDigit, load_image, prepare_digit

        try:  # as predict reads it: a blank page has nothing to explain
            pixels = prepare_digit(load_image(args.image), require_ink=True)
        except NoDigit:
            raise UsageError(f"no digit found in {args.image}") from None
    else:
        try:
            images, labels = load_split(args, config.dataset, args.split, "explain --index")
        except UsageError as missing:  # offline, as the app's Misclassified: a wrong digit saved with the run
            images, labels = saved_wrong_digit(Path(paths[0]).parent, args, missing)
        if not 0 <= args.index < len(labels):
            raise UsageError(f"--index must be between 0 and {len(labels) - 1} for the {args.split} set, got {args.index}")
        pixels, label = images[args.index], int(labels[args.index])
    from ..core.explain import explain_digit

    tta = (config.tta and args.image is None) if args.tta is None else args.tta  # as Misclassified lists the digit
    explanation = explain_digit(model, pixels, label, args.method, tta)
    if args.json:
        print(json.dumps(json_safe({
            "checkpoint": paths[0], "method": args.method, "index": args.index, "split": args.split if args.image is None else None,
            "image": args.image, "label": label, "predicted": explanation.prediction, "tta": tta,
            "probabilities": [rounded(p, 6) for p in explanation.probabilities],
            "maps": [{"class": c, "map": [[rounded(float(v), 6) for v in row] for row in m.tolist()]}
                     for c, m in zip(explanation.classes, explanation.maps)],
        }), allow_nan=False))
        return EXIT_OK
    source = args.image if args.image is not None else \
        (args.index if args.split == "test" else f"train #{args.index}")  # a training digit says so
    print_explanation(explanation, pixels, source)
    return EXIT_OK


def saved_wrong_digit(run_dir: Path, args: argparse.Namespace, missing: UsageError):
    """(images, labels) of the test set as the run saved it (its wrong digits, the rest blank) when
    ``--index`` is one of those; else ``missing`` (the data is not on disk), saying what could be explained."""
    from ..core.analysis import saved_evaluation

    saved = saved_evaluation(run_dir) if args.split == "test" else None
    wrong = [] if saved is None else (saved[0].predictions != saved[0].labels).nonzero().flatten().tolist()
    if not wrong:
        raise missing
    evaluation, images = saved
    if args.index not in wrong:
        raise UsageError(f"{missing}; without it only the {len(wrong)} misclassified digits saved with the run can "
                         f"be explained (#{wrong[0]}, ...), and #{args.index} is not one") from None
    stderr(f"note: the test set is not on disk: #{args.index} is one of the misclassified digits saved with the run")
    return images, evaluation.labels


def print_explanation(explanation, pixels, source) -> None:
    from ..reporting import OutputConsole  # a closed stdout ends with exit 141, as elsewhere
    from rich.text import Text

    from ..tui.widgets.attribution_art import (
        LEGEND_MARKUP, LEGEND_PLAIN, attribution_plain, attribution_text, map_scale, side_by_side,
    )

    console = OutputConsole(highlight=False)
    probs, prediction = explanation.probabilities, explanation.prediction
    given = "" if explanation.label is None else f" · label {explanation.label}"
    where = f"#{source}" if isinstance(source, int) else str(source)
    head = f"{where}{given} · predicted {prediction} ({probs[prediction]:.1%}{' with TTA' * explanation.tta})"
    method = METHOD_NAMES[explanation.method]
    fits = len(head) + 3 + len(method) <= console.width  # else the method on its own line, not cut mid-phrase
    console.print(f"{head} · {method}" if fits else f"{head}\n{method}")
    titles = []
    for c in explanation.classes:
        role = "predicted" if c == prediction else ("label" if c == explanation.label else "runner-up")
        titles.append(f"{role} {c} ({probs[c]:.1%})"[:28].ljust(28))
    scale = map_scale(*explanation.maps)
    if console.is_terminal:
        console.print(Text("   ".join(titles)))
        for line in side_by_side([attribution_text(pixels, m, scale) for m in explanation.maps]):
            console.print(line)
        console.print(LEGEND_MARKUP)
    else:  # piped or redirected: one character per pixel, readable without colour
        print("   ".join(titles))
        for row in zip(*(attribution_plain(pixels, m, scale) for m in explanation.maps)):
            print("   ".join(row))
        print(LEGEND_PLAIN)
