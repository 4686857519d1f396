"""What the headless commands share: exit codes, user errors, config flags, loading models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.config import DATASETS, DEVICES, MODELS, OPTIMIZERS, PRESETS, SCHEDULES, ConfigError, TrainConfig, field_types, validate

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130

FIELD_HELP = {
    "model": "network",
    "hidden": "MLP hidden layer sizes, comma separated (e.g. 128,64)",
    "width": "CNN channels in the first block",
    "members": "train this many networks side by side (different inits) and average their predictions",
    "epochs": "passes over the training set",
    "batch_size": "digits per training step",
    "optimizer": "optimizer",
    "lr": "learning rate (peak rate for onecycle)",
    "momentum": "SGD momentum, or Adam's beta1",
    "beta2": "Adam's beta2 (second-moment decay)",
    "batchnorm": "batchnorm in the CNNs",
    "nesterov": "Nesterov momentum (sgd)",
    "weight_decay": "L2 / decoupled weight decay",
    "schedule": "learning-rate schedule",
    "step_size": "epochs between decays (step schedule)",
    "gamma": "decay factor (step schedule)",
    "dropout": "dropout probability",
    "label_smoothing": "label smoothing for the loss",
    "rotate": "augmentation: max rotation, degrees",
    "translate": "augmentation: max shift, fraction of the side",
    "scale": "augmentation: max zoom in/out, fraction",
    "elastic": "augmentation: elastic distortion strength, pixels (Simard et al. use 34)",
    "ema": "EMA decay of weights for evaluation (0 = off)",
    "val_size": "training digits held out for validation",
    "seed": "random seed (same seed, same run on CPU)",
    "device": "where to train (auto: cuda, then mps, then cpu)",
    "threads": "torch CPU threads (0 = default)",
    "dataset": "MNIST-format dataset (torchvision's)",
}

# choices are checked by validate(), so a bad value gets the same message as everywhere else
CHOICES = {"model": MODELS, "optimizer": OPTIMIZERS, "schedule": SCHEDULES, "device": DEVICES, "dataset": DATASETS}


class UsageError(Exception):
    """Bad input from the user: printed without a traceback, exit 2."""


def stderr(message: str) -> None:
    print(f"mnist-tui: {message}", file=sys.stderr)


def _parse_hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 128,64, got {text!r}") from None


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, plus --preset, all defaulting to None (= keep the preset's)."""
    parser.add_argument("--preset", choices=list(PRESETS), default="fast", help="starting config (default: fast)")
    group = parser.add_argument_group("training config (override the preset field by field)")
    for name, kind in field_types().items():
        flag = "--" + name.replace("_", "-")
        if kind is bool:
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None,
                               help=FIELD_HELP.get(name))
        elif kind is tuple:
            group.add_argument(flag, dest=name, type=_parse_hidden, default=None, metavar="N,N",
                               help=FIELD_HELP.get(name))
        else:
            metavar = "{" + ",".join(CHOICES[name]) + "}" if name in CHOICES else kind.__name__.upper()
            group.add_argument(flag, dest=name, type=kind, default=None, metavar=metavar, help=FIELD_HELP.get(name))


def add_path_flags(parser: argparse.ArgumentParser, data: bool = True, checkpoints: str = "folder of saved runs") -> None:
    """--data-dir/--checkpoints after the command too (they default to the global flags' values)."""
    if data:
        parser.add_argument("--data-dir", default=argparse.SUPPRESS, help="folder holding MNIST/raw")
    parser.add_argument("--checkpoints", default=argparse.SUPPRESS, help=f"{checkpoints} (default: checkpoints)")


def given_config_fields(args: argparse.Namespace) -> list[str]:
    return [name for name in field_types() if getattr(args, name, None) is not None]


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The preset with every flag the user gave laid over it; raises ConfigError if invalid."""
    overrides = {name: getattr(args, name) for name in given_config_fields(args)}
    config = PRESETS[args.preset].replace(**overrides)
    errors = validate(config)
    if errors:
        raise ConfigError(errors)
    return config


def load_models(specs: list[str], checkpoints_dir: Path, device: str):
    """(models, configs, paths) for checkpoint files, run folders or run names (see load_labelled_models)."""
    return load_labelled_models(specs, checkpoints_dir, device)[:3]


def load_labelled_models(specs: list[str], checkpoints_dir: Path, device: str):
    """(models, configs, paths, labels) for checkpoint files, run folders or run names.

    A run is read through the one rule of ``core.evaluation.run_checkpoint`` (last.pt of a
    finished run, else best.pt); ``labels`` name each as "run · best (epoch 2)".
    """
    from ..core.checkpoints import load_checkpoint, model_from_checkpoint
    from ..core.evaluation import checkpoint_label, resolve_model

    models, configs, paths, labels = [], [], [], []
    for spec in specs:
        path = resolve_model(spec, checkpoints_dir)
        checkpoint = load_checkpoint(path)
        model, config = model_from_checkpoint(checkpoint, device)
        models.append(model)
        configs.append(config)
        paths.append(str(path))
        labels.append(f"{path.parent.name} · {checkpoint_label(path, checkpoint['epoch'])}")
    return models, configs, paths, labels
