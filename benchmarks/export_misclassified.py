"""Save a run's misclassified test digits next to its checkpoint, for offline viewing.

    mnist-tui train --preset fast --run-name fast-pretrained --checkpoints checkpoints --data-dir ../shared/data
    python benchmarks/export_misclassified.py checkpoints/fast-pretrained --data-dir ../shared/data --slim

Writes ``<run>/misclassified.pt``: a plain dict of tensors (load it with
``torch.load(path, weights_only=True)``):

- ``images``: uint8 [N, 28, 28], the wrong test digits as stored in MNIST
- ``labels``: int64 [N], their true labels
- ``predictions``: int64 [N], what the model said
- ``confidences``: float32 [N], the probability it gave its prediction
- ``probabilities``: float32 [N, 10]
- ``indices``: int64 [N], positions in the MNIST test set
- ``test_size``, ``test_accuracy``, ``test_loss``, ``per_class_accuracy``, ``confusion``
  ([true][predicted] counts over the whole test set) and ``checkpoint`` (the file evaluated)

Ordered most confidently wrong first. ``--slim`` (for a model shipped in git) keeps
only ``best.pt`` and drops its optimizer state, which is twice the size of the
weights: the model still evaluates and predicts, but cannot be resumed.
The last line is a one-line summary.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run folder (or checkpoint file)")
    parser.add_argument("--data-dir", default=None, help="torchvision root holding MNIST/raw/")
    parser.add_argument("--slim", action="store_true", help="keep only best.pt, without optimizer state")
    args = parser.parse_args(argv)

    import torch

    from mnist_tui.core.analysis import evaluate, misclassified_examples, save_evaluation
    from mnist_tui.core.checkpoints import load_checkpoint, model_from_checkpoint, resolve_checkpoint
    from mnist_tui.core.config import TrainConfig
    from mnist_tui.core.data import load_mnist

    path = resolve_checkpoint(args.run, Path("checkpoints"))
    checkpoint = load_checkpoint(path)
    model, config = model_from_checkpoint(checkpoint)
    if args.slim:
        from mnist_tui.core.checkpoints import save_checkpoint

        extra = {k: v for k, v in checkpoint.items() if k in ("ema_state",)}
        best = path.parent / "best.pt"
        save_checkpoint(best, model_state=checkpoint["model_state"], config=TrainConfig.from_dict(checkpoint["config"]),
                        epoch=checkpoint["epoch"], step=checkpoint["step"], metrics=checkpoint["metrics"], extra=extra)
        if path != best:
            path.unlink()
        (path.parent / "last.pt").unlink(missing_ok=True)
        path = best
    data = load_mnist(args.data_dir, download=False, dataset=config.dataset)
    result = evaluate(model, data.test_images, data.test_labels)
    out = save_evaluation(path.parent, result, data.test_images, path.name)
    wrong = misclassified_examples(result)
    torch.load(out, weights_only=True)  # the app loads it this way; fail here, not there
    print(f"{out}: {len(wrong)} misclassified of {len(data.test_labels)} test digits "
          f"(test accuracy {result.accuracy:.2%}), {out.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
