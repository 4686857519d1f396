"""``mnist-tui map``: the test digits' penultimate-layer features projected to 2-D (PCA, UMAP or t-SNE)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from ..core.formatting import json_safe, rounded
from .common import EXIT_OK, UsageError, add_path_flags, load_models, output_file
from .dataset_split import add_split_flag, load_split


# "predicted", as in eval and predict: "prediction" here, "label" (for the prediction) in predict (walk35 F4)
COLUMNS = ("index", "x", "y", "label", "predicted")
EARLIER = b"index,x,y,label,prediction"  # a map written before, which --out may still write over


def _a_map(path: Path) -> bool:
    """Whether ``path`` is a file ``map`` may write over: an earlier map's CSV (not a checkpoint, not notes)."""
    try:
        with path.open("rb") as fh:
            return fh.readline().rstrip(b"\r\n") in (",".join(COLUMNS).encode(), EARLIER)
    except OSError:
        return False


def register(sub) -> None:
    parser = sub.add_parser("map", help="2-D map (PCA, UMAP, t-SNE) of what the network learned, as CSV or JSON",
                            description="Project each digit's penultimate-layer features to 2-D and "
                            "write the coordinates with the label and the prediction.")
    parser.add_argument("checkpoint", metavar="RUN", help="checkpoint file, run folder or run name")
    parser.add_argument("--method", choices=("pca", "umap", "tsne"), default="pca",
                        help="pca (instant, default); umap (umap-learn) or tsne (openTSNE) if installed, "
                        "tens of seconds for 10,000 digits")
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", metavar="FILE.csv",
                     help="write a CSV file: index,x,y,label,predicted (- for the standard output)")
    out.add_argument("--json", action="store_true", help="print one JSON object instead")
    add_split_flag(parser, "digits to map (default: test)")
    add_path_flags(parser, checkpoints="folder run names are looked up in")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..core.projection import cached_projection, method_available, unavailable_reason

    out = output_file(Path(args.out), example="map.csv") if args.out and args.out != "-" else None
    if out is not None and out.is_file() and out.stat().st_size and not _a_map(out):  # a run's last.pt: kept
        raise UsageError(f"--out {args.out} exists and is not a map ({','.join(COLUMNS)}): give another name, or "
                         "delete it first")
    if not method_available(args.method):
        raise UsageError(f"--method {args.method}: {unavailable_reason(args.method)}")
    models, configs, paths = load_models([args.checkpoint], Path(args.checkpoints), "cpu")
    images, labels = load_split(args, configs[0].dataset, args.split, "map")
    from ..core.embeddings import cache_path, cached_embeddings

    embeddings = cached_embeddings(models[0], paths[0], images, labels, args.split)
    cache = cache_path(paths[0], f"{args.split}-{args.method}")  # UMAP and t-SNE take a minute: kept
    projection = cached_projection(embeddings.features, args.method, cache)
    xy, predictions = projection.coordinates.tolist(), embeddings.predictions.tolist()
    rows = [(i, rounded(x, 5), rounded(y, 5), int(labels[i]), predictions[i]) for i, (x, y) in enumerate(xy)]
    if args.json:
        print(json.dumps(json_safe({"checkpoint": paths[0], "split": args.split, "method": args.method,
                          **({"explained_variance": [round(v, 5) for v in projection.explained]}
                             if args.method == "pca" else {}),
                          "points": [dict(zip(COLUMNS, row)) for row in rows]}), allow_nan=False))
        return EXIT_OK
    from ..core.runs import write_text_atomic

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    if out is None:  # --out -: the CSV on the standard output
        sys.stdout.write(buffer.getvalue())
        return EXIT_OK
    try:
        write_text_atomic(out, buffer.getvalue())
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    wrong = sum(1 for row in rows if row[3] != row[4])
    print(f"wrote {len(rows):,} points ({wrong:,} misclassified) to {args.out}" + (  # two lines: 80 columns
        f"\nPCA axes explain {projection.explained[0]:.0%} and {projection.explained[1]:.0%} of the variance"
        if args.method == "pca" else f" ({projection.title})"))
    return EXIT_OK
