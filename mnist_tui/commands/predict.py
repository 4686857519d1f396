"""``mnist-tui predict``: classify pictures of digits."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import EXIT_OK, add_path_flags, load_models


def register(sub) -> None:
    parser = sub.add_parser("predict", help="classify digit images (PNG/JPEG)",
                            description="Classify pictures of digits: any size, dark-on-light or light-on-dark.")
    parser.add_argument("checkpoint", help="checkpoint file, run folder or run name")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files")
    add_path_flags(parser, data=False, checkpoints="folder run names are looked up in")
    parser.add_argument("--json", action="store_true", help="one JSON object per image per line")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..core.analysis import predict_probabilities
    from ..core.preprocess import load_image, prepare_digit

    models, _, _ = load_models([args.checkpoint], Path(args.checkpoints), "cpu")
    images = [(path, prepare_digit(load_image(path))) for path in args.images]
    probs = predict_probabilities(models, torch.stack([digit for _, digit in images]))
    for (path, _), p in zip(images, probs):
        label = int(p.argmax())
        if args.json:
            print(json.dumps({"image": path, "label": label, "confidence": float(p[label]),
                              "probabilities": [round(float(v), 6) for v in p]}))
        else:
            bars = "  ".join(f"{d}:{float(v):.2f}" for d, v in enumerate(p))
            print(f"{path}: {label} ({float(p[label]):.1%})   {bars}")
    return EXIT_OK
