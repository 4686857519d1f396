"""``mnist-tui``: the terminal app, headless ``train``/``eval``/``predict``/``runs``, and ``serve``.

torch is imported only inside the commands that need it, so ``--help`` is instant.
Exit codes: 0 success, 2 bad arguments/config/data/checkpoint, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from .core.config import DATASETS, DEVICES, MODELS, OPTIMIZERS, PRESETS, SCHEDULES, ConfigError, TrainConfig, field_types, validate

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


def _parse_hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 128,64, got {text!r}") from None


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnist-tui",
        description="Train, watch and inspect PyTorch MNIST classifiers in the terminal. "
        "With no command, opens the terminal app.",
        epilog="Data: --data-dir, else $MNIST_TUI_DATA, else a per-user cache folder "
        "(downloaded there when missing). Exit codes: 0 ok, 2 bad input, 130 interrupted.",
    )
    parser.add_argument("--data-dir", help="folder holding MNIST/raw (torchvision's layout)")
    parser.add_argument("--checkpoints", default="checkpoints", help="folder of saved runs (default: checkpoints)")
    parser.add_argument("--preset", choices=list(PRESETS), default=None,
                        help="preset the app's form starts from (default: the last values used, else seed-mlp)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = sub.add_parser("train", help="train headless with a progress bar (or --json events)",
                           description="Train a model headless. Start from --preset and override any field.")
    train.add_argument("--preset", choices=list(PRESETS), default="fast", help="starting config (default: fast)")
    train.add_argument("--data-dir", default=argparse.SUPPRESS, help="folder holding MNIST/raw")
    train.add_argument("--checkpoints", default=argparse.SUPPRESS, help="where run folders go (default: checkpoints)")
    train.add_argument("--run-name", help="name of the run folder (default: model-date-time)")
    train.add_argument("--resume", metavar="RUN_OR_FILE", help="continue a saved run (its folder, name or last.pt)")
    train.add_argument("--json", action="store_true", help="one JSON object per event per line, no progress bar")
    _add_config_flags(train)

    ev = sub.add_parser("eval", help="evaluate checkpoints on the test set",
                        description="Evaluate a checkpoint (or an ensemble of several) on the test set.")
    ev.add_argument("checkpoint", nargs="+", help="checkpoint file, run folder or run name (several = ensemble)")
    ev.add_argument("--data-dir", default=argparse.SUPPRESS, help="folder holding MNIST/raw")
    ev.add_argument("--checkpoints", default=argparse.SUPPRESS, help="folder run names are looked up in")
    ev.add_argument("--dataset", choices=DATASETS, help="dataset to evaluate on (default: the checkpoint's)")
    ev.add_argument("--tta", action="store_true", help="test-time augmentation: average over 1-pixel shifts")
    ev.add_argument("--json", action="store_true", help="print one JSON object")

    pr = sub.add_parser("predict", help="classify digit images (PNG/JPEG)",
                        description="Classify pictures of digits: any size, dark-on-light or light-on-dark.")
    pr.add_argument("checkpoint", help="checkpoint file, run folder or run name")
    pr.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files")
    pr.add_argument("--checkpoints", default=argparse.SUPPRESS, help="folder run names are looked up in")
    pr.add_argument("--json", action="store_true", help="one JSON object per image per line")

    runs = sub.add_parser("runs", help="list saved runs", description="List the runs in the checkpoints folder.")
    runs.add_argument("--checkpoints", default=argparse.SUPPRESS, help="folder of saved runs (default: checkpoints)")
    runs.add_argument("--json", action="store_true", help="one JSON array")

    serve = sub.add_parser("serve", help="serve the app to web browsers (textual-serve)",
                           description="Serve the terminal app over HTTP; every browser tab runs its own app "
                           "process. Binds to 127.0.0.1 (this machine only) unless --host says otherwise.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, local only)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.add_argument("--public-url", help="URL browsers use to reach it, if not http://HOST:PORT "
                       "(e.g. http://localhost:9000 behind ssh -L 9000:localhost:8000)")
    serve.add_argument("--data-dir", default=argparse.SUPPRESS, help="folder holding MNIST/raw")
    serve.add_argument("--checkpoints", default=argparse.SUPPRESS, help="folder of saved runs (default: checkpoints)")
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The preset with every flag the user gave laid over it; raises ConfigError if invalid."""
    overrides = {name: getattr(args, name) for name in field_types() if getattr(args, name, None) is not None}
    config = PRESETS[args.preset].replace(**overrides)
    errors = validate(config)
    if errors:
        raise ConfigError(errors)
    return config


def _stderr(message: str) -> None:
    print(f"mnist-tui: {message}", file=sys.stderr)


def cmd_train(args: argparse.Namespace) -> int:
    from .core.data import load_mnist
    from .core.engine import RunControl, Trainer

    if args.resume:
        given = [name for name in field_types() if getattr(args, name, None) is not None]
        if given:
            raise UsageError(f"--resume continues a run with its saved config; drop {', '.join('--' + g.replace('_', '-') for g in given)}")
        from .core.checkpoints import load_checkpoint, resolve_checkpoint

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
        from .reporting import JsonReporter, RichReporter

        reporter = JsonReporter() if args.json else RichReporter()
        outcome = reporter.consume(trainer.run(control))
    finally:
        signal.signal(signal.SIGINT, previous)
    if outcome.kind == "stopped":
        return EXIT_INTERRUPTED
    if outcome.kind == "failed":
        return 1
    return EXIT_OK


def _load_models(specs: list[str], checkpoints_dir: Path, device: str):
    from .core.checkpoints import load_checkpoint, model_from_checkpoint, resolve_checkpoint

    models, configs, paths = [], [], []
    for spec in specs:
        path = resolve_checkpoint(spec, checkpoints_dir)
        model, config = model_from_checkpoint(load_checkpoint(path), device)
        models.append(model)
        configs.append(config)
        paths.append(str(path))
    return models, configs, paths


def cmd_eval(args: argparse.Namespace) -> int:
    from .core.analysis import evaluate, misclassified_examples
    from .core.data import load_mnist
    from .core.engine import choose_device

    device = choose_device("auto")
    models, configs, paths = _load_models(args.checkpoint, Path(args.checkpoints), str(device))
    trained_on = {config.dataset for config in configs}
    if len(trained_on) > 1:
        raise UsageError(f"these checkpoints were trained on different datasets ({', '.join(sorted(trained_on))})")
    dataset = args.dataset or trained_on.pop()
    for path, config in zip(paths, configs):
        if config.dataset != dataset:
            raise UsageError(f"{path} was trained on {config.dataset}; evaluating it on {dataset} is refused")
    data = load_mnist(args.data_dir, dataset=dataset)
    result = evaluate(models, data.test_images, data.test_labels, device=device, tta=args.tta)
    wrong = misclassified_examples(result)
    summary = {
        "checkpoints": paths, "dataset": dataset, "tta": args.tta, "test_accuracy": result.accuracy, "test_loss": result.loss,
        "errors": len(wrong), "test_size": len(result.labels), "per_class_accuracy": result.per_class_accuracy,
        "confusion": result.confusion,
    }
    if args.json:
        print(json.dumps(summary))
        return EXIT_OK
    from .reporting import print_evaluation

    print_evaluation(summary)
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    import torch

    from .core.analysis import predict_probabilities
    from .core.preprocess import load_image, prepare_digit

    models, _, _ = _load_models([args.checkpoint], Path(args.checkpoints), "cpu")
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


def cmd_runs(args: argparse.Namespace) -> int:
    import dataclasses

    from .core.checkpoints import list_runs

    runs = list_runs(Path(args.checkpoints))
    if args.json:
        print(json.dumps([dataclasses.asdict(r) for r in runs]))
        return EXIT_OK
    from .reporting import print_runs

    print_runs(runs, args.checkpoints)
    return EXIT_OK


def cmd_app(args: argparse.Namespace) -> int:
    try:
        from .tui.app import MnistApp
    except ImportError:
        print("The terminal app is not built yet; use `mnist-tui train|eval|predict|runs` (see --help).")
        return EXIT_OK
    # the form remembers the last values used; only an explicit --preset overrides them
    MnistApp(data_dir=args.data_dir, checkpoints_dir=Path(args.checkpoints), preset=args.preset).run()
    return EXIT_OK


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def serve_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve runs for each browser tab: this app, with the same folders."""
    import shlex

    command = [sys.executable, "-m", "mnist_tui.cli", "--checkpoints", str(Path(args.checkpoints).resolve())]
    if args.preset:
        command += ["--preset", args.preset]
    if args.data_dir:
        command += ["--data-dir", str(Path(args.data_dir).resolve())]
    return shlex.join(command)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from textual_serve.server import Server
    except ImportError:
        raise UsageError("serving needs textual-serve: pip install 'textual-serve>=1.1,<2'") from None
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {args.port}")
    host_in_url = f"[{args.host}]" if ":" in args.host else args.host
    public_url = args.public_url or f"http://{host_in_url}:{args.port}"
    if args.host in LOOPBACK_HOSTS:
        print(f"mnist-tui: serving on {public_url}, bound to {args.host}: only this machine can connect.\n"
              f"From a laptop: ssh -L {args.port}:localhost:{args.port} THIS_HOST, then open "
              f"http://localhost:{args.port}. Each browser tab runs its own app process.", flush=True)
    else:
        print(f"mnist-tui: serving on {public_url}, bound to {args.host}: anyone who can reach port {args.port} "
              "here can train, evaluate and delete runs. Each browser tab runs its own app process.", flush=True)
    Server(serve_command(args), host=args.host, port=args.port, title="mnist-tui", public_url=public_url).serve()
    return EXIT_OK


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "predict": cmd_predict, "runs": cmd_runs, "serve": cmd_serve,
            None: cmd_app}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        for message in exc.errors.values():
            _stderr(message)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _stderr("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - known user-facing errors become exit 2, the rest re-raise
        from .core.checkpoints import CheckpointError
        from .core.data import DataUnavailable
        from .core.preprocess import ImageError

        if isinstance(exc, (UsageError, CheckpointError, DataUnavailable, ImageError)):
            _stderr(str(exc))
            return EXIT_USAGE
        raise


if __name__ == "__main__":
    sys.exit(main())
