"""What the explain/label-errors/map commands share: one split of the run's dataset, or one clear line."""

from __future__ import annotations

import argparse

from .common import UsageError

SPLITS = ("test", "train")


def add_split_flag(parser: argparse.ArgumentParser, help_text: str, default: str | None = "test") -> None:
    """``--split``; ``default`` None tells a flag given from one left out (its value then "test")."""
    parser.add_argument("--split", choices=SPLITS, default=default, help=help_text)


def load_split(args: argparse.Namespace, dataset: str, split: str, purpose: str):
    """(uint8 images [N, 28, 28], int64 labels [N]) of ``split``; UsageError (one line) if the data is missing."""
    from ..core.data import DataUnavailable, load_mnist

    try:
        data = load_mnist(getattr(args, "data_dir", None), dataset=dataset, only=split)
    except DataUnavailable as exc:
        first, *rest = str(exc).strip().splitlines()
        looked = next((f"; looked in {line.removeprefix('Looked in: ')}" for line in rest
                       if line.startswith("Looked in: ")), "")  # as train and eval say it
        raise UsageError(f"{purpose} needs the {dataset} {split} set: {first.rstrip('.')}{looked}; "
                         "point --data-dir or MNIST_TUI_DATA at a folder holding it") from None
    if split == "train":
        return data.train_images, data.train_labels
    return data.test_images, data.test_labels
