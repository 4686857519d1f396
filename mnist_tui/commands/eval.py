"""``mnist-tui eval``: test accuracy and confusion matrix of one checkpoint or an ensemble."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..core.config import DATASETS
from ..core.formatting import json_safe, rounded
from .common import EXIT_OK, UsageError, add_path_flags, load_labelled_models


def register(sub) -> None:
    parser = sub.add_parser("eval", help="evaluate checkpoints on the test set",
                            description="Evaluate a checkpoint (or an ensemble of several) on the test set.")
    parser.add_argument("checkpoint", nargs="+", help="checkpoint file, run folder or run name (several = ensemble)")
    add_path_flags(parser, checkpoints="folder run names are looked up in")
    parser.add_argument("--dataset", choices=DATASETS,
                        help="the dataset the checkpoints must have been trained on (default: theirs; another is refused)")
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                        help="test-time augmentation: average over 1-pixel shifts (default: as the checkpoints' runs "
                             "were tested, on for a config with tta such as the best preset)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..core.analysis import evaluate, misclassified_examples
    from ..core.data import load_mnist
    from ..core.engine import choose_device

    device = choose_device("auto")
    models, configs, paths, labels = load_labelled_models(args.checkpoint, Path(args.checkpoints), str(device))
    trained_on = {config.dataset for config in configs}
    if len(trained_on) > 1:
        raise UsageError(f"these checkpoints were trained on different datasets ({', '.join(sorted(trained_on))})")
    dataset = args.dataset or trained_on.pop()
    for path, config in zip(paths, configs):
        if config.dataset != dataset:
            raise UsageError(f"{path} was trained on {config.dataset}; evaluating it on {dataset} is refused")
    data = load_mnist(args.data_dir, dataset=dataset, only="test")
    tta = any(config.tta for config in configs) if args.tta is None else args.tta
    result = evaluate(models, data.test_images, data.test_labels, device=device, tta=tta)
    wrong = misclassified_examples(result)
    summary = {
        "checkpoints": paths, "checkpoint_labels": labels, "dataset": dataset, "tta": tta,
        "test_accuracy": result.accuracy,
        "test_loss": result.loss, "errors": len(wrong), "test_size": len(result.labels),
        "per_class_accuracy": result.per_class_accuracy, "confusion": result.confusion,
        "misclassified": [{"index": m.index, "label": m.true_label, "predicted": m.predicted_label,
                           "confidence": rounded(m.confidence, 6)} for m in wrong],  # most confidently wrong first
    }
    if args.json:
        print(json.dumps(json_safe(summary), allow_nan=False))
        return EXIT_OK
    from ..reporting import print_evaluation

    print_evaluation(summary)
    return EXIT_OK
