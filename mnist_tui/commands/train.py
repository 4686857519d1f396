"""``mnist-tui train``: train headless with a progress bar or JSON events."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any

from ..core.config import TrainConfig
from .common import EXIT_INTERRUPTED, EXIT_OK, UsageError, add_config_flags, add_path_flags, config_from_args, given_config_fields


def register(sub) -> None:
    parser = sub.add_parser("train", help="train headless with a progress bar (or --json events)",
                            description="Train a model headless. Start from --preset and override any field.")
    add_path_flags(parser, checkpoints="where run folders go")
    parser.add_argument("--run-name", help="name of the run folder (default: model-date-time)")
    parser.add_argument("--resume", metavar="RUN_OR_FILE", help="continue a saved run (its folder, name or last.pt)")
    parser.add_argument("--json", action="store_true", help="one JSON object per event per line, no progress bar")
    add_config_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..core.data import load_mnist
    from ..core.engine import RunControl, Trainer

    if args.resume:
        given = given_config_fields(args)
        if given:
            raise UsageError("--resume continues a run with its saved config; drop "
                             + ", ".join("--" + g.replace("_", "-") for g in given))
        from ..core.checkpoints import load_checkpoint, resolve_checkpoint

        path = resolve_checkpoint(args.resume, Path(args.checkpoints), prefer="last.pt")
        dataset = TrainConfig.from_dict(load_checkpoint(path)["config"]).dataset
        trainer = Trainer(None, load_mnist(args.data_dir, dataset=dataset), checkpoints_dir=Path(args.checkpoints),
                          resume=path)
    else:
        config = config_from_args(args)
        trainer = Trainer(config, load_mnist(args.data_dir, dataset=config.dataset),
                          checkpoints_dir=Path(args.checkpoints), run_name=args.run_name)
    control = RunControl()

    def on_sigint(signum: int, frame: Any) -> None:
        # first Ctrl+C: stop at the next batch and save; a second one interrupts at once
        signal.signal(signal.SIGINT, signal.default_int_handler)
        control.stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        from ..reporting import JsonReporter, RichReporter

        reporter = JsonReporter() if args.json else RichReporter()
        outcome = reporter.consume(trainer.run(control))
    finally:
        signal.signal(signal.SIGINT, previous)
    if outcome.kind == "stopped":
        return EXIT_INTERRUPTED
    if outcome.kind == "failed":
        return 1
    return EXIT_OK
