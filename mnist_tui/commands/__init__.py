"""Headless subcommands of ``mnist-tui``, one module each.

Each module has ``register(subparsers)``, which adds its parser and sets
``handler`` to a function ``(args) -> exit code``. Modules import torch only
inside their handlers, so building the parser (``--help``) stays instant.
To add a command: write its module and add its name here.
"""

from __future__ import annotations

import importlib

COMMAND_MODULES = ("train", "eval", "predict", "runs", "serve", "export", "explain", "lr-find", "tune", "label-errors", "map")


def register_all(subparsers) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name.replace('-', '_')}").register(subparsers)
