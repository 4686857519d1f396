"""Seconds of training to reach a test accuracy: PyTorch's examples/mnist recipe vs the `fast` preset.

    python benchmarks/time_to_accuracy.py --data-dir ../shared/data [--target 0.99] [--json]

Both run in this process, on the same CPU threads, one after the other.

The reference is pytorch/examples mnist/main.py re-implemented faithfully: its
2-conv network (1.2M parameters), torchvision's MNIST dataset with per-sample
ToTensor + Normalize transforms through a DataLoader (batch 64, shuffled, no
workers, as on a CPU), Adadelta lr 1.0, StepLR gamma 0.7 per epoch, seed 1, all
60,000 training digits. It trains epoch by epoch and the test set is evaluated
after each epoch (evaluation time not counted) until the target or the cap.

Ours is `mnist-tui train --preset fast` through the project's engine: its
train_seconds (which include its validation pass) and the final test accuracy.
The last line is a one-line summary with the ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def reference_recipe(data_dir: str, target: float, cap_seconds: float, max_epochs: int) -> dict:
    """pytorch/examples mnist/main.py (CPU defaults), stopped at ``target`` test accuracy or the cap."""
    import torch
    import torch.nn.functional as F
    from torch import nn, optim
    from torch.optim.lr_scheduler import StepLR
    from torchvision import datasets, transforms

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = self.dropout2(x)
            return F.log_softmax(self.fc2(x), dim=1)

    torch.manual_seed(1)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_set = datasets.MNIST(data_dir, train=True, download=False, transform=transform)
    test_set = datasets.MNIST(data_dir, train=False, download=False, transform=transform)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=64, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=1000)
    model = Net()
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)

    train_seconds, accuracy, history = 0.0, 0.0, []
    for epoch in range(1, max_epochs + 1):
        start = time.perf_counter()
        model.train()
        for data, labels in train_loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), labels)
            loss.backward()
            optimizer.step()
            if train_seconds + time.perf_counter() - start > cap_seconds:
                break
        train_seconds += time.perf_counter() - start
        scheduler.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for data, labels in test_loader:
                correct += int((model(data).argmax(1) == labels).sum())
        accuracy = correct / len(test_set)
        history.append({"epoch": epoch, "test_accuracy": accuracy, "train_seconds": train_seconds})
        print(f"  reference epoch {epoch}: test {accuracy:.2%} after {train_seconds:.1f} s", flush=True)
        if accuracy >= target or train_seconds >= cap_seconds:
            break
    return {"reached": accuracy >= target, "seconds": train_seconds, "test_accuracy": accuracy,
            "epochs": len(history), "history": history}


def fast_preset(data_dir: str, target: float) -> dict:
    """The project's `fast` preset through its own engine (1 epoch, as shipped)."""
    from mnist_tui.core.config import preset
    from mnist_tui.core.data import load_mnist
    from mnist_tui.core.engine import Trainer
    from mnist_tui.core.events import Failed, Finished

    data = load_mnist(data_dir, download=False)
    with tempfile.TemporaryDirectory(prefix="time-to-accuracy-") as checkpoints:
        for event in Trainer(preset("fast"), data, checkpoints_dir=checkpoints).run():
            if isinstance(event, Failed):
                raise RuntimeError(event.message)
            if isinstance(event, Finished):
                print(f"  fast preset: test {event.test_accuracy:.2%} after {event.train_seconds:.1f} s", flush=True)
                return {"reached": event.test_accuracy >= target, "seconds": event.train_seconds,
                        "test_accuracy": event.test_accuracy, "epochs": event.epochs}
    raise RuntimeError("the run ended without a result")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="torchvision root holding MNIST/raw/")
    parser.add_argument("--target", type=float, default=0.99, help="test accuracy to reach (default 0.99)")
    parser.add_argument("--cap", type=float, default=600.0, help="most training seconds for the reference (default 600)")
    parser.add_argument("--max-epochs", type=int, default=14, help="the reference's epochs (14, as in the example)")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    args = parser.parse_args(argv)

    import torch

    threads = torch.get_num_threads()
    ours = fast_preset(args.data_dir, args.target)
    reference = reference_recipe(args.data_dir, args.target, args.cap, args.max_epochs)
    ratio = reference["seconds"] / ours["seconds"] if ours["seconds"] else float("inf")
    if args.json:
        print(json.dumps({"target": args.target, "threads": threads, "fast": ours, "reference": reference,
                          "ratio": ratio}))

    def describe(name: str, result: dict) -> str:
        if result["reached"]:
            return f"{name} {result['seconds']:.1f} s ({result['test_accuracy']:.2%})"
        return f"{name} did not reach it: {result['test_accuracy']:.2%} after {result['seconds']:.1f} s"

    if ours["reached"] and reference["reached"]:
        verdict = f"fast is {ratio:.1f}x faster"
    elif ours["reached"]:
        verdict = f"fast is at least {ratio:.1f}x faster (the reference hit its cap)"
    else:
        verdict = "no ratio: the fast preset missed the target"
    print(f"time to {args.target:.2%} test accuracy on {threads} CPU threads: {describe('reference (pytorch/examples mnist)', reference)}; "
          f"{describe('fast preset', ours)}; {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
