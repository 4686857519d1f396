"""The training loop: ``Trainer(config, data).run(control)`` yields typed events.

The engine never calls into a UI; a CLI prints the events and the TUI posts them
as messages. ``RunControl`` pauses, resumes and stops a run from another thread.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import checkpoints as ckpt
from .analysis import evaluate
from .config import TrainConfig, checked
from .data import MnistData, batch_order, split, training_batches
from .events import (
    CheckpointSaved, EpochEnd, Event, Failed, Finished, Paused, Resumed, RunStarted, StepMetrics, Stopped,
)
from .models import build_model, parameter_count


class RunControl:
    """Thread-safe pause/resume/stop for a running Trainer."""

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused run so it can stop

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait_while_paused(self) -> None:
        self._running.wait()


# glibc's mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks (up to 32 MB each) for reuse instead of unmapping them.

    A training step frees and re-allocates the same activation-sized blocks every batch;
    by default glibc returns large ones to the kernel and faults them back in, which showed
    as 20-28% system CPU time here and made `fast` ~15-20% slower. No-op off glibc.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024) and libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    except (OSError, AttributeError):
        return False


def choose_device(name: str = "auto") -> torch.device:
    """cuda, then mps, then cpu for "auto"; an explicit name that is unavailable raises."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device cuda was asked for but torch sees no CUDA GPU")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError("device mps was asked for but this torch has no MPS support here")
    return torch.device(name)


def build_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    params = model.parameters()
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov,
                               weight_decay=config.weight_decay)
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=config.lr, betas=(config.momentum, config.beta2), weight_decay=config.weight_decay)


def build_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
    """A per-batch scheduler (or None for a constant rate); "step" decays every step_size epochs."""
    total = config.epochs * steps_per_epoch
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total,
                                                   pct_start=0.25, cycle_momentum=False)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size * steps_per_epoch,
                                               gamma=config.gamma)
    return None


class Trainer:
    """One training run over in-memory MNIST, saved under ``checkpoints_dir/<run name>/``."""

    def __init__(self, config: TrainConfig | None, data: MnistData, *,
                 checkpoints_dir: str | Path = ckpt.DEFAULT_CHECKPOINTS, run_name: str | None = None,
                 resume: str | Path | None = None, metrics_interval_s: float = 0.25):
        """``resume`` (a checkpoint file or run folder) continues that run with its saved config."""
        self.checkpoints_dir = Path(checkpoints_dir)
        self.restored: dict[str, Any] | None = None
        if resume is not None:
            path = ckpt.resolve_checkpoint(resume, self.checkpoints_dir, prefer="last.pt")
            self.restored = ckpt.load_checkpoint(path)
            config = TrainConfig.from_dict(self.restored["config"])
            self.run_dir = path.parent
        if config is None:
            raise ValueError("Trainer needs a config unless it resumes a checkpoint")
        self.config = checked(config)
        if data.dataset != self.config.dataset:
            raise ValueError(f"this run is configured for {self.config.dataset} but was given {data.dataset} data")
        self.data = data
        self.run_name = run_name
        self.metrics_interval_s = metrics_interval_s
        self.best_path: str | None = None

    def run(self, control: RunControl | None = None) -> Iterator[Event]:
        """Train, yielding events; ends with Finished, Stopped or Failed."""
        control = control or RunControl()
        try:
            yield from self._run(control)
        except Exception as exc:  # noqa: BLE001 - a run reports its own failure as an event
            yield Failed(f"{type(exc).__name__}: {exc}", 0, str(getattr(self, "run_dir", "")), self.best_path)

    def _run(self, control: RunControl) -> Iterator[Event]:
        config = self.config
        if config.threads:
            torch.set_num_threads(config.threads)
        keep_freed_memory()
        device = choose_device(config.device)
        splits = split(self.data, config.val_size, config.seed)
        n_train = len(splits.train_labels)
        steps_per_epoch = math.ceil(n_train / config.batch_size)

        torch.manual_seed(config.seed)
        model = build_model(config).to(device)
        if config.model != "mlp":
            # NHWC convolutions are ~15-40% faster on CPU (oneDNN); results match NCHW to rounding
            model = model.to(memory_format=torch.channels_last)
        optimizer = build_optimizer(config, model)
        scheduler = build_scheduler(config, optimizer, steps_per_epoch)
        ema = copy.deepcopy(model).eval() if config.ema else None
        start_epoch, start_step, restored = 0, 0, self.restored
        history: list[dict[str, Any]] = []

        if restored is not None:
            model.load_state_dict(restored["model_state"])
            if restored["optimizer_state"]:
                optimizer.load_state_dict(restored["optimizer_state"])
            if scheduler is not None and restored["scheduler_state"]:
                scheduler.load_state_dict(restored["scheduler_state"])
            if ema is not None and restored.get("ema_state"):
                ema.load_state_dict(restored["ema_state"])
            start_epoch, start_step = restored["epoch"], restored["step"]
            history = ckpt.read_metrics(self.run_dir)[:start_epoch]
            # drop records of epochs after the checkpoint, so they are not counted twice
            ckpt.write_text_atomic(self.run_dir / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in history))
        else:
            self.run_dir = ckpt.new_run_dir(self.checkpoints_dir, self.run_name, config)
            ckpt.write_text_atomic(self.run_dir / "config.json", config.to_json())
        run_dir = self.run_dir
        best_val = max((h["val_accuracy"] for h in history if h.get("val_accuracy") is not None), default=None)
        self.best_path = str(run_dir / "best.pt") if (run_dir / "best.pt").is_file() else None

        yield RunStarted(run_dir.name, str(run_dir), config.to_dict(), parameter_count(model), str(device),
                         start_epoch, config.epochs, steps_per_epoch, n_train, len(splits.val_labels),
                         len(splits.test_labels))

        def save(name: str, epoch: int, step: int, rng: dict[str, torch.Tensor] | None = None) -> str:
            extra: dict[str, Any] = {"rng": rng} if rng else {}
            if ema is not None:
                extra["ema_state"] = {k: v.detach().cpu() for k, v in ema.state_dict().items()}
            ckpt.save_checkpoint(run_dir / name, model_state=model.state_dict(), config=config, epoch=epoch,
                                 step=step, metrics=history[-1] if history else {},
                                 optimizer_state=optimizer.state_dict(),
                                 scheduler_state=scheduler.state_dict() if scheduler else None, extra=extra)
            return str(run_dir / name)

        train_seconds = float(sum(h.get("seconds", 0.0) for h in history))
        global_step = start_epoch * steps_per_epoch + start_step
        for epoch in range(start_epoch + 1, config.epochs + 1):
            aug_gen = torch.Generator().manual_seed(config.seed * 7919 + epoch)
            first_step = 0
            if restored is not None and start_step and epoch == start_epoch + 1:
                # mid-epoch resume: continue the same shuffled order and random streams
                first_step = start_step
                torch.set_rng_state(restored["rng"]["torch"])
                aug_gen.set_state(restored["rng"]["aug"])
            else:
                torch.manual_seed(config.seed * 1000 + epoch)
            order = batch_order(n_train, config.seed, epoch)
            model.train()
            epoch_start = time.perf_counter()
            active_s = 0.0
            sum_loss = torch.zeros((), device=device)
            sum_correct = torch.zeros((), device=device)
            seen = 0
            window_loss = torch.zeros((), device=device)
            window_correct = torch.zeros((), device=device)
            window_seen = 0
            window_start = time.perf_counter()
            batches = training_batches(
                splits.train_images, splits.train_labels, config.batch_size, order, start_step=first_step,
                device=device, rotate=config.rotate, translate=config.translate, scale=config.scale,
                elastic=config.elastic,
                generator=aug_gen,
            )
            for step in range(first_step + 1, steps_per_epoch + 1):
                # look at the controls before drawing the batch, so a stop saves untouched random streams
                if control.paused and not control.stop_requested:
                    active_s += time.perf_counter() - window_start
                    yield Paused(epoch, step - 1)
                    control.wait_while_paused()
                    if not control.stop_requested:
                        yield Resumed(epoch, step - 1)
                    window_start = time.perf_counter()
                if control.stop_requested:
                    path = save("last.pt", epoch - 1, step - 1,
                                {"torch": torch.get_rng_state(), "aug": aug_gen.get_state()})
                    yield CheckpointSaved(path, epoch - 1, "stopped")
                    yield Stopped(epoch, step - 1, path, str(run_dir))
                    return
                x, y = next(batches)
                logits = model(x)
                # an Ensemble stacks its members' logits, so each member learns the labels on its own;
                # loss and accuracy are the members' means, and samples count images, not members
                target = y.repeat(config.members) if config.members > 1 else y
                loss = F.cross_entropy(logits, target, label_smoothing=config.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                (loss * config.members).backward()  # each member gets the gradient it would get alone
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                global_step += 1
                if ema is not None:
                    _ema_update(ema, model, _ema_decay(config.ema, global_step))
                batch_loss = loss.detach() * len(y)
                batch_correct = (logits.detach().argmax(1) == target).sum() / config.members
                sum_loss += batch_loss
                sum_correct += batch_correct
                window_loss += batch_loss
                window_correct += batch_correct
                seen += len(y)
                window_seen += len(y)
                now = time.perf_counter()
                if now - window_start >= self.metrics_interval_s or step == steps_per_epoch:
                    mean_loss = float(window_loss) / window_seen
                    if _diverging(mean_loss):
                        yield self._diverged(epoch, step, mean_loss, optimizer)
                        return
                    active_s += now - window_start
                    yield StepMetrics(epoch, step, steps_per_epoch, global_step, mean_loss,
                                      float(window_correct) / window_seen, optimizer.param_groups[0]["lr"],
                                      window_seen / max(now - window_start, 1e-9), train_seconds + active_s)
                    window_loss.zero_()
                    window_correct.zero_()
                    window_seen = 0
                    window_start = time.perf_counter()

            eval_model = ema if ema is not None else model
            val = evaluate(eval_model, splits.val_images, splits.val_labels, device=device) if len(splits.val_labels) else None
            seconds = active_s + (time.perf_counter() - window_start)
            train_seconds += seconds
            record = {
                "epoch": epoch, "train_loss": float(sum_loss) / max(seen, 1),
                "train_accuracy": float(sum_correct) / max(seen, 1),
                "val_loss": val.loss if val else None, "val_accuracy": val.accuracy if val else None,
                "lr": optimizer.param_groups[0]["lr"], "seconds": seconds,
            }
            if _diverging(record["train_loss"]) or (val is not None and _diverging(val.loss)):
                yield self._diverged(epoch, steps_per_epoch, record["train_loss"], optimizer)
                return
            history.append(record)
            ckpt.append_metrics(run_dir, record)
            improved = val is not None and (best_val is None or val.accuracy > best_val)
            if improved:
                best_val = val.accuracy
            yield EpochEnd(epoch, config.epochs, record["train_loss"], record["train_accuracy"], record["val_loss"],
                           record["val_accuracy"], best_val, record["lr"], seconds)
            yield CheckpointSaved(save("last.pt", epoch, 0), epoch, "last")
            if improved or (val is None and epoch == config.epochs):
                self.best_path = save("best.pt", epoch, 0)
                yield CheckpointSaved(self.best_path, epoch, "best")
            start_step = 0

        final = ema if ema is not None else model
        test = evaluate(final, splits.test_images, splits.test_labels, device=device)
        result = {
            "test_accuracy": test.accuracy, "test_loss": test.loss, "per_class_accuracy": test.per_class_accuracy,
            "epochs": config.epochs, "train_seconds": train_seconds, "best_val_accuracy": best_val,
            "evaluated": "last epoch",
        }
        ckpt.write_text_atomic(run_dir / "result.json", json.dumps(result, indent=2))
        yield Finished(run_dir.name, str(run_dir), config.epochs, train_seconds, test.loss, test.accuracy,
                       test.per_class_accuracy, best_val)

    def _diverged(self, epoch: int, step: int, loss: float, optimizer: torch.optim.Optimizer) -> Failed:
        lr = optimizer.param_groups[0]["lr"]
        kept = f"; the best checkpoint so far is kept at {self.best_path}" if self.best_path else ""
        return Failed(
            f"training diverged at epoch {epoch}, step {step}: loss is {loss:.3g} with lr {lr:.3g} "
            f"(configured lr {self.config.lr:g}); try a lower learning rate{kept}",
            epoch, str(self.run_dir), self.best_path,
        )


# cross-entropy starts near ln(10) = 2.3; a loss this large only comes from exploding weights
DIVERGED_LOSS = 1e4


def _diverging(loss: float) -> bool:
    return not math.isfinite(loss) or loss > DIVERGED_LOSS


def _ema_decay(decay: float, step: int) -> float:
    """The configured decay, ramped up over the first steps so the average soon forgets the random init."""
    return min(decay, (1 + step) / (10 + step))


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    ema_params = list(ema.parameters())
    torch._foreach_lerp_(ema_params, list(model.parameters()), 1 - decay)
    for e, m in zip(ema.buffers(), model.buffers()):
        e.copy_(m)
