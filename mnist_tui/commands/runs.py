"""``mnist-tui runs``: list the saved runs."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from ..core.formatting import json_safe
from .common import EXIT_OK, add_path_flags, check_checkpoints_folder

PIPED_WIDTH = 400  # columns for `runs` into a pipe or file: the table takes only what it needs


def register(sub) -> None:
    parser = sub.add_parser("runs", help="list saved runs", description="List the runs in the checkpoints folder.")
    add_path_flags(parser, data=False)
    parser.add_argument("--json", action="store_true", help="one JSON array")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..core.runs import list_runs

    folder = Path(args.checkpoints)
    check_checkpoints_folder(folder)
    runs = list_runs(folder)
    if args.json:
        records = [dataclasses.asdict(r) | ({"state": "unreadable", "model": None if r.model == "?" else r.model}
                                            if r.error else {}) for r in runs]
        print(json.dumps(json_safe(records), allow_nan=False))  # "unreadable" as in the app (the table has
        # room for "error" only); its model where known
        return EXIT_OK
    from ..reporting import OutputConsole, print_runs

    # piped with no width asked for (COLUMNS): each name on one line, as `runs | grep NAME` needs; folded to
    # fit an 80-column terminal, a long one was not found
    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    print_runs(runs, args.checkpoints, OutputConsole(width=PIPED_WIDTH) if piped else None)
    return EXIT_OK

