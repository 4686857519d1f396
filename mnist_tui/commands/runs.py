"""``mnist-tui runs``: list the saved runs."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from .common import EXIT_OK, add_path_flags


def register(sub) -> None:
    parser = sub.add_parser("runs", help="list saved runs", description="List the runs in the checkpoints folder.")
    add_path_flags(parser, data=False)
    parser.add_argument("--json", action="store_true", help="one JSON array")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..core.checkpoints import list_runs

    runs = list_runs(Path(args.checkpoints))
    if args.json:
        print(json.dumps([dataclasses.asdict(r) for r in runs]))
        return EXIT_OK
    from ..reporting import print_runs

    print_runs(runs, args.checkpoints)
    return EXIT_OK
