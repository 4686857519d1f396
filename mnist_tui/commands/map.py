"""``mnist-tui map``: the test digits' penultimate-layer features projected to 2-D (PCA)."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

from .common import EXIT_OK, UsageError, add_path_flags, load_models
from .dataset_split import add_split_flag, load_split


def register(sub) -> None:
    parser = sub.add_parser("map", help="2-D map (PCA) of what the network learned, as CSV or JSON",
                            description="Project each digit's penultimate-layer features to 2-D with PCA and "
                            "write the coordinates with the label and the prediction.")
    parser.add_argument("checkpoint", metavar="RUN", help="checkpoint file, run folder or run name")
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", metavar="FILE.csv", help="write a CSV file: index,x,y,label,prediction")
    out.add_argument("--json", action="store_true", help="print one JSON object instead")
    add_split_flag(parser, "digits to map (default: test)")
    add_path_flags(parser, checkpoints="folder run names are looked up in")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.out and Path(args.out).is_dir():
        raise UsageError(f"--out {args.out} is a folder; give a file name such as map.csv")
    models, configs, paths = load_models([args.checkpoint], Path(args.checkpoints), "cpu")
    images, labels = load_split(args, configs[0].dataset, args.split, "map")
    from ..core.embeddings import cached_embeddings
    from ..core.projection import pca_2d

    embeddings = cached_embeddings(models[0], paths[0], images, labels, args.split)
    projection = pca_2d(embeddings.features)
    xy, predictions = projection.coordinates.tolist(), embeddings.predictions.tolist()
    rows = [(i, round(x, 5), round(y, 5), int(labels[i]), predictions[i]) for i, (x, y) in enumerate(xy)]
    if args.json:
        print(json.dumps({"checkpoint": paths[0], "split": args.split, "method": "pca",
                          "explained_variance": [round(v, 5) for v in projection.explained],
                          "points": [dict(zip(("index", "x", "y", "label", "prediction"), row)) for row in rows]}))
        return EXIT_OK
    from ..core.runs import write_text_atomic

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("index", "x", "y", "label", "prediction"))
    writer.writerows(rows)
    try:
        write_text_atomic(Path(args.out), buffer.getvalue())
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    wrong = sum(1 for row in rows if row[3] != row[4])
    print(f"wrote {len(rows)} points ({wrong} misclassified) to {args.out}; PCA axes explain "
          f"{projection.explained[0]:.0%} and {projection.explained[1]:.0%} of the variance")
    return EXIT_OK
