"""Final-epoch test accuracy of the `best` preset over several seeds, and what TTA and an ensemble add.

    python benchmarks/best_accuracy.py --data-dir ../shared/data --seeds 2

Each seed trains the preset as shipped through the project's engine (the test set is
only touched once, after the last epoch). Then, reported separately: the same final
models with shift test-time augmentation, and all seeds' models as an ensemble (with
and without TTA). The last line is a one-line summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="torchvision root holding MNIST/raw/")
    parser.add_argument("--seeds", type=int, default=2, help="how many seeds (0, 1, ...)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--preset", default="best")
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's epochs (for a quick try)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads per run (e.g. 1 to run two seeds side by side on 2 cores)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a preset field to measure a variant (e.g. --set members=4 --set val_size=0)")
    parser.add_argument("--checkpoints", default=None, help="where the runs go (default: a temporary folder)")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    args = parser.parse_args(argv)

    import torch

    from mnist_tui.core.analysis import evaluate
    from mnist_tui.core.checkpoints import load_checkpoint, model_from_checkpoint
    from mnist_tui.core.config import checked, parse_field, preset
    from mnist_tui.core.data import load_mnist
    from mnist_tui.core.engine import Trainer
    from mnist_tui.core.events import EpochEnd, Failed, Finished

    data = load_mnist(args.data_dir, download=False)
    checkpoints = Path(args.checkpoints or tempfile.mkdtemp(prefix="best-accuracy-"))
    overrides = {"epochs": args.epochs} if args.epochs else {}
    if args.threads is not None:
        overrides["threads"] = args.threads
    for item in args.set:
        name, _, text = item.partition("=")
        overrides[name.strip()] = parse_field(name.strip(), text.strip())
    runs = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        config = checked(preset(args.preset, seed=seed, **overrides))
        trainer = Trainer(config, data, checkpoints_dir=checkpoints, run_name=f"{args.preset}-seed{seed}")
        wall = time.perf_counter()
        epoch_seconds: list[float] = []
        for event in trainer.run():
            if isinstance(event, EpochEnd):
                epoch_seconds.append(event.seconds)
                score = (f"val {event.val_accuracy:.2%}" if event.val_accuracy is not None
                         else f"train {event.train_accuracy:.2%}")
                print(f"  seed {seed} epoch {event.epoch}/{event.epochs}: {score}, loss {event.train_loss:.4f} "
                      f"({event.seconds:.1f} s)", flush=True)
            elif isinstance(event, Failed):
                print(f"seed {seed} failed: {event.reason}", file=sys.stderr)
                return 1
            elif isinstance(event, Finished):
                # the machine may be shared: the median epoch times the epochs is the pace without the spikes
                median_pace = statistics.median(epoch_seconds) * len(epoch_seconds)
                runs.append({"seed": seed, "test_accuracy": event.test_accuracy, "train_seconds": event.train_seconds,
                             "median_pace_seconds": median_pace, "wall_seconds": time.perf_counter() - wall,
                             "run_dir": event.run_dir})
                print(f"seed {seed}: test {event.test_accuracy:.2%} at the final epoch ({config.epochs}), "
                      f"{event.train_seconds / 60:.1f} min training ({median_pace / 60:.1f} min at its median "
                      f"epoch time)", flush=True)

    models = [model_from_checkpoint(load_checkpoint(Path(r["run_dir"]) / "last.pt"))[0] for r in runs]
    with torch.no_grad():
        for run, model in zip(runs, models):
            run["tta_accuracy"] = evaluate(model, data.test_images, data.test_labels, tta=True).accuracy
            print(f"seed {run['seed']} with TTA: {run['tta_accuracy']:.2%}")
        ensemble = evaluate(models, data.test_images, data.test_labels).accuracy if len(models) > 1 else None
        ensemble_tta = evaluate(models, data.test_images, data.test_labels, tta=True).accuracy if len(models) > 1 else None
    if ensemble is not None:
        print(f"ensemble of {len(models)}: {ensemble:.2%}; with TTA: {ensemble_tta:.2%}")

    accuracies = [r["test_accuracy"] for r in runs]
    minutes = [r["train_seconds"] / 60 for r in runs]
    paces = [r["median_pace_seconds"] / 60 for r in runs]
    mean = statistics.mean(accuracies)
    spread = max(accuracies) - min(accuracies)
    if args.json:
        print(json.dumps({"preset": args.preset, "runs": runs, "mean": mean, "spread": spread,
                          "ensemble_accuracy": ensemble, "ensemble_tta_accuracy": ensemble_tta}))
    extras = f"; TTA mean {statistics.mean(r['tta_accuracy'] for r in runs):.2%}"
    if ensemble is not None:
        extras += f", ensemble {ensemble:.2%}, ensemble+TTA {ensemble_tta:.2%}"
    label = args.preset + "".join(f" {item}" for item in args.set)
    print(f"{label}: final-epoch test accuracy mean {mean:.2%} over {len(runs)} seeds "
          f"({', '.join(f'{a:.2%}' for a in accuracies)}; spread {spread * 100:.2f} points), "
          f"{statistics.mean(minutes):.1f} min training per run (max {max(minutes):.1f}; "
          f"{statistics.mean(paces):.1f} at the median epoch time){extras}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
