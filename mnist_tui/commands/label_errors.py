"""``mnist-tui label-errors``: digits whose given label the model confidently disputes (confident learning)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from .common import EXIT_OK, UsageError, add_path_flags, load_models, stderr
from .dataset_split import add_split_flag, load_split


def register(sub) -> None:
    parser = sub.add_parser("label-errors", help="rank digits whose label looks wrong (confident learning)",
                            description="Rank the digits whose given label the model most confidently disputes, "
                            "by confident learning (Northcutt et al. 2021, as cleanlab's find_label_issues) on "
                            "temperature-scaled probabilities (an under-confident, label-smoothed model flags "
                            "nothing otherwise). "
                            "The test split uses the model's own probabilities; --split train needs "
                            "out-of-sample ones and trains --folds short runs to get them.")
    parser.add_argument("checkpoint", metavar="RUN", help="checkpoint file, run folder or run name")
    add_split_flag(parser, "digits to rank (default: test; train runs a k-fold cross-validation)")
    parser.add_argument("--top", type=int, default=30, help="rows to show (default: 30; 0 = all flagged)")
    parser.add_argument("--folds", type=int, default=None, help="cross-validation folds for --split train (default: 4)")
    parser.add_argument("--cv-epochs", type=int, default=None,
                        help="epochs of each cross-validation run, for --split train (default: 1)")
    parser.add_argument("--filter-by", choices=["prune_by_noise_rate", "confident_learning"], metavar="FILTER",
                        default="prune_by_noise_rate", help="cleanlab's filter: prune_by_noise_rate (the default) "
                        "or confident_learning")
    parser.add_argument("--candidates", action="store_true",
                        help="after the flagged digits, list the other digits the model predicts differently "
                        "from their label (column 'flagged' says which is which)")
    add_path_flags(parser, checkpoints="folder run names are looked up in")
    parser.add_argument("--json", action="store_true", help="print one JSON list, best first")
    parser.set_defaults(handler=run)


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def run(args: argparse.Namespace) -> int:
    if args.top < 0:
        raise UsageError(f"--top must be 0 (all) or more, got {args.top}")
    given = [flag for flag, value in (("--folds", args.folds), ("--cv-epochs", args.cv_epochs)) if value is not None]
    args.folds = 4 if args.folds is None else args.folds
    args.cv_epochs = 1 if args.cv_epochs is None else args.cv_epochs
    if not 2 <= args.folds <= 20:
        raise UsageError(f"--folds must be between 2 and 20, got {args.folds}")
    if not 1 <= args.cv_epochs <= 100:
        raise UsageError(f"--cv-epochs must be between 1 and 100, got {args.cv_epochs}")
    if given and args.split != "train":  # it was silently ignored
        stderr(f"note: {' and '.join(given)} ignored: the test split uses the model's own probabilities "
               "(cross-validation is for --split train)")
    models, configs, paths = load_models([args.checkpoint], Path(args.checkpoints), "cpu")
    model, config = models[0], configs[0]
    images, labels = load_split(args, config.dataset, args.split, "label-errors")
    from ..core.label_errors import cross_validated_probabilities, find_label_issues, too_weak

    if args.split == "test":
        from ..core.embeddings import cached_embeddings

        probabilities = cached_embeddings(model, paths[0], images, labels, "test").probabilities
    else:
        started = time.monotonic()

        def progress(done: int, total: int) -> None:  # with the time left: the four folds take minutes
            spent = time.monotonic() - started
            left = f", about {_minutes(spent / done * (total - done))} left" if done < total else ""
            print(f"mnist-tui: cross-validation fold {done} of {total} done ({_minutes(spent)}{left})",
                  file=sys.stderr, flush=True)

        print(f"mnist-tui: training {args.folds} {config.model} networks for {args.cv_epochs} epoch(s) each, "
              "each predicting the digits it did not see", file=sys.stderr, flush=True)
        probabilities = cross_validated_probabilities(config, images, labels, folds=args.folds,
                                                      epochs=args.cv_epochs, progress=progress)
    if (accuracy := too_weak(probabilities, labels)) is not None:  # it flagged nearly every mistake
        stderr(f"note: the model reads only {accuracy:.0%} of these digits right, too few for its doubts to point "
               "at wrong labels: none is flagged (train it further, or give a better run)")
    issues = find_label_issues(probabilities, labels, args.filter_by, include_unflagged=True)
    flagged = sum(1 for i in issues if i.flagged)
    others = len(issues) - flagged  # predicted otherwise, not flagged: --candidates lists them too
    issues = issues if args.candidates else issues[:flagged]
    shown = issues if args.top == 0 else issues[:args.top]
    if args.json:
        print(json.dumps([{"index": i.index, "given_label": i.given_label, "suggested_label": i.suggested_label,
                           "score": round(i.score, 6), "given_probability": round(i.given_probability, 6),
                           "suggested_probability": round(i.suggested_probability, 6), "flagged": i.flagged}
                          for i in shown]))
        return EXIT_OK
    from ..reporting import OutputConsole  # a closed stdout ends with exit 141, as elsewhere
    from rich.table import Table

    # the heading apart, in lines that fit 80 columns (a table's title wraps at the table's width)
    heading = (f"{flagged:,} of {len(labels):,} {args.split} digits flagged ({args.filter_by})"
               + (f"\n{others:,} more predicted otherwise, not flagged" if others else "")
               + ("" if args.candidates or not others else " (--candidates lists them)")
               + f"\n{len(shown)} shown, the most disputed first:")
    table = Table()
    columns = ("index", "given", "suggested", "score", "P(given)", "P(suggested)") + (("flagged",) if args.candidates else ())
    for name in columns:
        table.add_column(name, justify="right")
    for i in shown:
        table.add_row(str(i.index), str(i.given_label), str(i.suggested_label), f"{i.score:.4f}",
                      f"{i.given_probability:.2%}", f"{i.suggested_probability:.2%}",
                      *(("yes" if i.flagged else "no",) if args.candidates else ()))
    console = OutputConsole()
    console.print(heading, highlight=False)
    console.print(table)
    # a command that works when pasted anywhere: the run's folder (or the file named) and the data, absolute
    given = Path(args.checkpoint)
    target = given if given.is_file() else Path(paths[0]).parent
    data = f" --data-dir {shlex.quote(str(Path(args.data_dir).resolve()))}" if args.data_dir else ""
    print(f"score = 1 - P(given label); see a digit with:\nmnist-tui explain {shlex.quote(str(target.resolve()))}"
          f"{data} --index N" + (" --split train" if args.split == "train" else ""))
    return EXIT_OK
