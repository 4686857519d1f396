"""``mnist-tui predict``: classify pictures of digits."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from ..core.formatting import json_safe, visible
from .common import EXIT_OK, EXIT_USAGE, UsageError, add_path_flags, load_models, stderr


def register(sub) -> None:
    parser = sub.add_parser("predict", help="classify digit images (PNG/JPEG)",
                            # argparse repeated the metavar ("[[MODEL] IMAGE ...]"): one model, then images
                            usage="%(prog)s [-h] [--checkpoints CHECKPOINTS] [--json]\n"
                                  + " " * 25 + "[MODEL] IMAGE [IMAGE ...]",
                            description="Classify pictures of digits: any size up to 40 megapixels (JPEGs, decoded at a reduced "
                            "size, up to 178 megapixels), dark-on-light "
                            "or light-on-dark. Each is prepared as MNIST's digits were: cropped to its ink, fitted in "
                            "20x20 and centred by mass in 28x28 (so a test digit saved as a picture may score a little "
                            "differently from `eval`, which reads it as it is). "
                            "A file without a digit, or unreadable, gets a line on stderr; the others "
                            "are still classified, and the exit code is 2.")
    parser.add_argument("inputs", nargs="+", metavar="[MODEL] IMAGE",
                        help="a checkpoint file, run folder or run name (default: the shipped model), then PNG or "
                        "JPEG files")
    add_path_flags(parser, data=False, checkpoints="folder run names are looked up in")
    parser.add_argument("--json", action="store_true",
                        help="a JSON line per image, in order: image, predicted, confidence and probabilities, or "
                        "image and error")
    parser.set_defaults(handler=run)


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def _model_kind(spec: str, checkpoints: Path) -> str | None:
    """"checkpoint" or "run" when ``spec`` names one (a run folder holds config.json or a .pt), else None."""
    if spec.endswith(".pt"):
        return "checkpoint"
    for folder in (Path(spec), checkpoints / spec):
        if folder.is_dir() and ((folder / "config.json").is_file() or any(folder.glob("*.pt"))):
            return "run"
    return None


def _model_and_images(inputs: list[str], checkpoints: Path) -> tuple[str, list[str]]:
    """MODEL IMAGE... or IMAGE... (the shipped model reads them): a first input that is a picture is an image."""
    first = inputs[0]
    if len(inputs) > 1 and not first.lower().endswith(IMAGE_SUFFIXES):
        return first, inputs[1:]
    if len(inputs) == 1 and (kind := _model_kind(first, checkpoints)):
        raise UsageError(f"{first} is a {kind}, not an image; name the images after it: "
                         f"mnist-tui predict {first} IMAGE...")
    # `predict seven.png RUN`: the run read as a missing image, and the shipped model read the rest
    if len(inputs) > 1 and (kind := _model_kind(inputs[-1], checkpoints)):
        raise UsageError(f"{inputs[-1]} is a {kind}; name it first: mnist-tui predict {inputs[-1]} IMAGE...")
    from ..core.runs import default_model_candidates, find_default_model

    shipped = find_default_model(checkpoints)
    if shipped is None:
        where = ", ".join(str(p) for p in default_model_candidates(checkpoints))
        raise UsageError(f"no model given and no shipped model found (looked in {where}): "
                         "mnist-tui predict RUN IMAGE...")
    return str(shipped), inputs


def run(args: argparse.Namespace) -> int:
    """Predict every readable image; a file that fails gets one line on stderr, and exit 2 at the end."""
    import torch

    from ..core.analysis import predict_probabilities
    from ..core.preprocess import ImageError, NoDigit, load_image, prepare_digit

    model, paths = _model_and_images(args.inputs, Path(args.checkpoints))
    models, _, _ = load_models([model], Path(args.checkpoints), "cpu")
    images, errors = [], {}  # (path, digit) of the readable images; path: why, of the others
    for path in paths:
        try:
            images.append((path, prepare_digit(load_image(path), require_ink=True)))
        except NoDigit:
            errors[path] = f"no digit found in {path}"
        except ImageError as exc:
            errors[path] = str(exc)
    probs = predict_probabilities(models, torch.stack([digit for _, digit in images])) if images else []
    predicted = {path: p for (path, _), p in zip(images, probs)}
    width = shutil.get_terminal_size().columns  # the probabilities go on a line of their own past it
    for path in paths:  # in the order given: a failure's line came before the first image's result (walk36 F10)
        if path in errors:
            sys.stdout.flush()
            stderr(errors[path])
        if args.json:  # a line for each image, in order: one that failed says why (it was on stderr alone, walk35 F5)
            p = predicted.get(path)
            print(json.dumps(json_safe({"image": path, "error": errors[path]} if p is None else {
                "image": path, "predicted": int(p.argmax()), "confidence": round(float(p.max()), 6),
                "probabilities": [round(float(v), 6) for v in p]}), allow_nan=False))
        elif (p := predicted.get(path)) is not None:
            label = int(p.argmax())
            bars = "  ".join(f"{d}:{float(v):.2f}" for d, v in enumerate(p))
            head = f"{visible(path)}: {label} ({float(p[label]):.1%})"
            print(f"{head}   {bars}" if len(head) + 3 + len(bars) <= width else f"{head}\n  {bars}")
    return EXIT_USAGE if errors else EXIT_OK
