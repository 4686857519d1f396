"""The training loop: ``Trainer(config, data).run(control)`` yields typed events.

The engine never calls into a UI; a CLI prints the events and the TUI posts them
as messages. ``RunControl`` pauses, resumes and stops a run from another thread.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import checkpoints as ckpt
from . import runs
from .analysis import EVAL_BATCH_SIZE, evaluate, save_evaluation
from .config import ConfigError, TrainConfig, checked, continued_lr, data_errors
from .data import MnistData, batch_order, on_device, split, training_batches
from .events import (CheckpointSaved, EpochEnd, Event, Failed, Finished, LrChanged, Paused, Resumed, RunStarted,
                     StepMetrics, Stopped)
from .models import build_model, parameter_count
from .optim import CosineAnnealing, Optimizer, Schedule
from .runtime import (DeviceUnavailable, RunControl, RunningSums, autocast_dtype, build_optimizer, build_scheduler,
                      choose_device, diverging, ema_decay, ema_update, epoch_augmentation, forward_precision,
                      keep_freed_memory, member_views, random_state, restore_random_state, training_loss)
from .tune_rejoin import with_study_note


POINTS_PER_EPOCH = 100  # chart resolution: a metrics point every ceil(steps/100) steps, whatever the speed


@dataclass
class _Run:
    """Everything one run holds while it trains (built by Trainer._build)."""

    model: nn.Module
    optimizer: Optimizer
    scheduler: Schedule | None
    ema: nn.Module | None
    splits: Any
    device: torch.device
    steps_per_epoch: int
    points_every: int
    history: list[dict[str, Any]]
    start_epoch: int = 0
    start_step: int = 0
    global_step: int = 0
    train_seconds: float = 0.0
    best_val: float | None = None
    lr_factor: float = 1.0
    epoch_sums: dict[str, float] | None = None  # a stopped epoch's sums, carried into its resume
    epoch_seconds: float = 0.0  # and its time so far
    autocast: torch.dtype | None = None  # the forward pass's dtype when not fp32 (precision)

    @property
    def eval_model(self) -> nn.Module:
        return self.ema if self.ema is not None else self.model


class Trainer:
    """One training run over in-memory MNIST, saved under ``checkpoints_dir/<run name>/``."""

    def __init__(self, config: TrainConfig | None, data: MnistData, *,
                 checkpoints_dir: str | Path = runs.DEFAULT_CHECKPOINTS, run_name: str | None = None,
                 resume: str | Path | None = None, points_per_epoch: int = POINTS_PER_EPOCH,
                 extra_epochs: int = 0, device: str | None = None, threads: int | None = None):
        """``resume`` (a checkpoint file or run folder) continues that run with its saved config;
        ``extra_epochs`` trains a resumed run that many epochs past its configured end, and ``device``
        and ``threads`` set where it runs now (a run saved on a GPU, resumed where there is none)."""
        self.checkpoints_dir = Path(checkpoints_dir)
        self.restored: dict[str, Any] | None = None
        self.lock: runs.RunLock | None = None  # this process's hold on the run folder while run() trains
        self.error: Exception | None = None  # what made the run fail, if it failed
        self.saved_epoch: int | None = None  # the epoch of the last good last.pt
        self.unsaved_resume = False  # resumed, and nothing saved yet: the folder is as it was
        if resume is not None:
            path = ckpt.resolve_checkpoint(resume, self.checkpoints_dir, prefer="last.pt")
            self.restored = ckpt.load_checkpoint(path)
            self.saved_epoch = self.restored["epoch"]
            self._resumed_file = runs.file_identity(path)
            config = ckpt.checkpoint_config(self.restored)
            if extra_epochs:
                config = config.replace(epochs=self.restored["epoch"] + extra_epochs)
            config = config.replace(**{k: v for k, v in (("device", device), ("threads", threads)) if v is not None})
            self.run_dir = path.parent
        if config is None:
            raise ValueError("Trainer needs a config unless it resumes a checkpoint")
        self.config = checked(config)
        if data.dataset != self.config.dataset:
            raise ValueError(f"this run is configured for {self.config.dataset} but was given {data.dataset} data")
        self.data = data
        self.run_name = run_name
        self.points_per_epoch = points_per_epoch
        self.extra_epochs = extra_epochs
        self.best_path: str | None = None

    def run(self, control: RunControl | None = None) -> Iterator[Event]:
        """Train, yielding events; ends with Finished, Stopped or Failed."""
        control = control or RunControl()
        try:
            yield from self._run(control)
        except Exception as exc:  # noqa: BLE001 - a run reports its own failure as an event
            self.error = exc
            yield self._failed(exc)
        finally:
            if self.lock is not None:
                self.lock.release()

    def _failed(self, exc: Exception) -> Failed:
        """The Failed event for an exception: a CheckpointError's own words (one line), else its type too."""
        run_dir = getattr(self, "run_dir", None)
        plain = isinstance(exc, (runs.CheckpointError, ConfigError, DeviceUnavailable))
        reason = str(exc) if plain else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, runs.DiskFull) and run_dir is not None and self.lock is not None:
            reason += runs.after_disk_full(run_dir, self.saved_epoch)
        return Failed(reason, 0, str(run_dir or ""), self.best_path)

    def _run(self, control: RunControl) -> Iterator[Event]:
        r = self._build()
        config, run_dir = self.config, self.run_dir
        yield RunStarted(run_dir.name, str(run_dir), config.to_dict(), parameter_count(r.model), str(r.device),
                         r.start_epoch, config.epochs, r.steps_per_epoch, len(r.splits.train_labels),
                         len(r.splits.val_labels), len(r.splits.test_labels), r.start_step, r.lr_factor)
        for epoch in range(r.start_epoch + 1, config.epochs + 1):
            ended = yield from self._train_epoch(r, epoch, control)
            if ended:
                return
            ended = yield from self._end_epoch(r, epoch)
            if ended:
                return
        yield self._finish(r)

    # -- the steps of a run -------------------------------------------------------------------

    def _build(self) -> _Run:
        """Model, optimizer, schedule and data split; restored from the checkpoint when resuming."""
        config = self.config
        if config.threads:
            torch.set_num_threads(config.threads)
        keep_freed_memory()
        device = choose_device(config.device)
        if problems := data_errors(config, len(self.data.train_labels)):  # a batch must fit the training set
            raise ConfigError(problems)
        splits = on_device(split(self.data, config.val_size, config.seed), device)
        steps_per_epoch = math.ceil(len(splits.train_labels) / config.batch_size)
        torch.manual_seed(config.seed)
        model = build_model(config).to(device)
        if config.model != "mlp":
            # NHWC convolutions are ~15-40% faster on CPU (oneDNN); results match NCHW to rounding
            model = model.to(memory_format=torch.channels_last)
        optimizer = build_optimizer(config, model)
        scheduler = build_scheduler(config, optimizer, steps_per_epoch)
        ema = copy.deepcopy(model).eval() if config.ema else None
        r = _Run(model, optimizer, scheduler, ema, splits, device, steps_per_epoch,
                 max(1, math.ceil(steps_per_epoch / self.points_per_epoch)), [],
                 autocast=autocast_dtype(config.precision, device))
        restored = self.restored
        if restored is None:
            self.run_dir, self.lock, _ = runs.take_run_dir(self.checkpoints_dir, self.run_name, config.model)
            runs.write_text_atomic(self.run_dir / "config.json", config.to_json())
            return r
        self.lock = runs.take_run(self.run_dir, self._resumed_file)  # one writer per run, until run() ends
        ckpt.load_state(model, restored["model_state"], f"a {config.model} model")
        if restored["optimizer_state"]:
            ckpt.load_state(optimizer, restored["optimizer_state"], f"the {config.optimizer} optimizer")
        if scheduler is not None and restored["scheduler_state"] and not self.extra_epochs:
            if config.schedule == "onecycle" and "T_max" in restored["scheduler_state"]:
                # stopped while training more epochs: their gentle cosine (_continue_schedule) goes on
                scheduler = r.scheduler = CosineAnnealing(optimizer, T_max=1)
            ckpt.load_state(scheduler, restored["scheduler_state"], f"the {config.schedule} schedule")
        if ema is not None and restored.get("ema_state"):
            ckpt.load_state(ema, restored["ema_state"], f"a {config.model} model (EMA)")
        r.start_epoch, r.start_step = restored["epoch"], restored["step"]
        r.lr_factor = float(restored.get("lr_factor", 1.0))
        r.epoch_sums = restored.get("epoch_sums")
        r.epoch_seconds = float(restored.get("epoch_seconds", 0.0))
        if self.extra_epochs:
            self._continue_schedule(r)
        r.global_step = r.start_epoch * steps_per_epoch + r.start_step
        # drop what was recorded after the checkpoint, so nothing is counted twice
        r.history = runs.read_metrics(self.run_dir)[:r.start_epoch]
        runs.rewrite_after(self.run_dir, r.start_epoch, r.global_step)
        record = restored.get("metrics") or {}
        if len(r.history) == r.start_epoch - 1 and record.get("epoch") == r.start_epoch:  # killed between last.pt
            runs.append_metrics(self.run_dir, record)  # and its epoch's line (_end_epoch): the line it holds
            r.history.append(record)
        r.train_seconds = float(sum(h.get("seconds", 0.0) for h in r.history)) + r.epoch_seconds
        r.best_val = max((h["val_accuracy"] for h in r.history if h.get("val_accuracy") is not None), default=None)
        self.best_path = str(self.run_dir / "best.pt") if (self.run_dir / "best.pt").is_file() else None
        self.unsaved_resume = True  # its records change with its first save (_records_follow)
        return r

    def _continue_schedule(self, r: _Run) -> None:
        """More epochs for a finished run: the schedule starts over for the new epochs only, at 1/10 of
        the configured peak for onecycle (its warm-up would throw away the converged weights)."""
        config = self.config
        extra = self.extra_epochs
        for group in r.optimizer.param_groups:
            group["lr"] = continued_lr(config)  # the new schedule's base rate
            for key in ("max_lr", "min_lr", "base_momentum"):  # left by the one-cycle schedule that ended
                group.pop(key, None)
        if config.schedule in ("onecycle", "cosine"):
            r.scheduler = CosineAnnealing(r.optimizer, T_max=extra * r.steps_per_epoch)
        else:
            r.scheduler = build_scheduler(config.replace(epochs=extra), r.optimizer, r.steps_per_epoch)

    def _save(self, r: _Run, name: str, epoch: int, step: int, extra: dict[str, Any] | None = None) -> str:
        extra = dict(extra or {}, lr_factor=r.lr_factor)
        if r.ema is not None:
            extra["ema_state"] = {k: v.detach().cpu() for k, v in r.ema.state_dict().items()}
        ckpt.save_checkpoint(self.run_dir / name, model_state=r.model.state_dict(), config=self.config, epoch=epoch,
                             step=step, metrics=r.history[-1] if r.history else {},
                             optimizer_state=r.optimizer.state_dict(),
                             scheduler_state=r.scheduler.state_dict() if r.scheduler else None, extra=extra)
        if name == "last.pt":
            self.saved_epoch = epoch
        self._records_follow()
        return str(self.run_dir / name)

    def _records_follow(self) -> None:
        """A resumed run's config, schedules and outputs change with its first save or result (as it started, a
        full disk deleted a finished run's result.json, and records told of an epoch no checkpoint held)."""
        if self.unsaved_resume:
            runs.write_resumed_config(self.run_dir, self.config, self.extra_epochs)
            runs.drop_outputs(self.run_dir)
            self.unsaved_resume = False

    def _train_epoch(self, r: _Run, epoch: int, control: RunControl) -> Generator[Event, None, bool]:
        """One pass over the training split; True when the run ended inside it (stopped or diverged)."""
        config = self.config
        aug_gen = torch.Generator().manual_seed(config.seed * 7919 + epoch)
        first_step, sums = 0, RunningSums(r.device)
        active_s = 0.0
        if r.start_step and epoch == r.start_epoch + 1:
            # mid-epoch resume: continue the same shuffled order, random streams and running sums
            first_step = r.start_step
            restore_random_state(self.restored["rng"], r.device, aug_gen)
            sums = RunningSums(r.device, r.epoch_sums)
            active_s = r.epoch_seconds
            r.train_seconds -= r.epoch_seconds  # counted again as this epoch's time
        else:
            torch.manual_seed(config.seed * 1000 + epoch)
        r.model.train()
        views = member_views(config, epoch)
        window = RunningSums(r.device)
        points: list[dict[str, Any]] = []
        window_start = time.perf_counter()
        batches = training_batches(
            r.splits.train_images, r.splits.train_labels, config.batch_size,
            batch_order(len(r.splits.train_labels), config.seed, epoch), start_step=first_step, device=r.device,
            **epoch_augmentation(config, epoch), generator=aug_gen,
            views=config.members if views else 1,
        )
        for step in range(first_step + 1, r.steps_per_epoch + 1):
            # look at the controls before drawing the batch, so a stop saves untouched random streams
            if control.paused and not control.stop_requested:
                active_s += time.perf_counter() - window_start
                yield Paused(epoch, step - 1)
                control.wait_while_paused()
                if not control.stop_requested:
                    yield Resumed(epoch, step - 1)
                window_start = time.perf_counter()
            factor = control.take_lr_factor()
            if factor is not None and factor != r.lr_factor:
                r.lr_factor = factor
                change = {"lr_factor": factor, "epoch": epoch, "step": step - 1, "global_step": r.global_step}
                runs.append_event(self.run_dir, change)
                yield LrChanged(epoch, step - 1, r.global_step, factor)
            if control.stop_requested:
                runs.append_points(self.run_dir, points)
                r.epoch_sums, r.epoch_seconds = sums.state(), active_s + time.perf_counter() - window_start
                path = self._save(r, "last.pt", epoch - 1, step - 1, {
                    "rng": random_state(r.device, aug_gen),
                    "epoch_sums": r.epoch_sums, "epoch_seconds": r.epoch_seconds})
                yield CheckpointSaved(path, epoch, "stopped", step - 1)  # as Stopped says it (the file: epoch - 1)
                yield Stopped(epoch, step - 1, path, str(self.run_dir))
                return True
            loss, correct, n = self._step(r, next(batches), views)
            sums.add(loss, correct, n)
            window.add(loss, correct, n)
            if step % r.points_every == 0 or step == r.steps_per_epoch:
                now = time.perf_counter()
                mean_loss, accuracy = window.means()
                if diverging(mean_loss):
                    yield self._diverged(epoch, step, mean_loss, r.optimizer, r.lr_factor)
                    return True
                active_s += now - window_start
                point = StepMetrics(epoch, step, r.steps_per_epoch, r.global_step, mean_loss, accuracy,
                                    r.optimizer.param_groups[0]["lr"] * r.lr_factor,
                                    window.seen / max(now - window_start, 1e-9), r.train_seconds + active_s)
                points.append({"x": round((epoch - 1) + step / r.steps_per_epoch, 6), "global_step": r.global_step,
                               "loss": mean_loss, "accuracy": accuracy, "lr": point.lr,
                               "seconds": round(point.elapsed_s, 3)})  # a stopped run's time in its last epoch
                yield point
                window = RunningSums(r.device)
                window_start = time.perf_counter()
        runs.append_points(self.run_dir, points)
        r.epoch_seconds = active_s + (time.perf_counter() - window_start)
        r.epoch_sums = sums.state()
        return False

    def _step(self, r: _Run, batch: tuple[torch.Tensor, torch.Tensor],
              views: bool) -> tuple[torch.Tensor, torch.Tensor, int]:
        """One optimizer step (``views``: each member has its own view of the batch);
        returns (summed loss, correct, batch size), still on the device."""
        config = self.config
        x, y = batch
        with forward_precision(r.device, r.autocast):
            logits = r.model.forward_views(x) if views else r.model(x)
        logits = logits.float()  # the loss and its softmax in fp32
        # an Ensemble stacks its members' logits, so each member learns the labels on its own;
        # loss and accuracy are the members' means, and samples count images, not members
        target = y.repeat(config.members) if config.members > 1 else y
        objective, loss = training_loss(logits, target, config.label_smoothing)
        r.optimizer.zero_grad(set_to_none=True)
        (objective * config.members).backward()  # each member gets the gradient it would get alone
        if r.lr_factor != 1.0:  # steering: scale the schedule's rate for this step only
            scheduled = [group["lr"] for group in r.optimizer.param_groups]
            for group in r.optimizer.param_groups:
                group["lr"] *= r.lr_factor
            r.optimizer.step()
            for group, lr in zip(r.optimizer.param_groups, scheduled):
                group["lr"] = lr
        else:
            r.optimizer.step()
        if r.scheduler is not None:
            r.scheduler.step()
        r.global_step += 1
        if r.ema is not None:
            ema_update(r.ema, r.model, ema_decay(config.ema, r.global_step))
        correct = (logits.detach().argmax(1) == target).sum() / config.members
        return loss.detach() * len(y), correct, len(y)

    def _end_epoch(self, r: _Run, epoch: int) -> Generator[Event, None, bool]:
        """Validate, record the epoch and save last.pt (and best.pt when validation improved)."""
        config = self.config
        val = None
        if len(r.splits.val_labels):
            val = evaluate(r.eval_model, r.splits.val_images, r.splits.val_labels, device=r.device,
                           batch_size=EVAL_BATCH_SIZE)
        train_loss, train_accuracy = RunningSums(r.device, r.epoch_sums).means()
        seconds = r.epoch_seconds
        r.train_seconds += seconds
        record = {
            "epoch": epoch, "train_loss": train_loss, "train_accuracy": train_accuracy,
            "val_loss": val.loss if val else None, "val_accuracy": val.accuracy if val else None,
            "lr": r.optimizer.param_groups[0]["lr"] * r.lr_factor, "seconds": seconds,
        }
        if diverging(train_loss) or (val is not None and diverging(val.loss)):
            yield self._diverged(epoch, r.steps_per_epoch, train_loss, r.optimizer, r.lr_factor)
            return True
        r.history.append(record)
        r.epoch_sums, r.epoch_seconds, r.start_step = None, 0.0, 0
        improved = val is not None and (r.best_val is None or val.accuracy > r.best_val)
        if improved:
            r.best_val = val.accuracy
        yield EpochEnd(epoch, config.epochs, train_loss, train_accuracy, record["val_loss"], record["val_accuracy"],
                       r.best_val, record["lr"], seconds)
        last = self._save(r, "last.pt", epoch, 0)
        runs.append_metrics(self.run_dir, record)  # after the checkpoint holding the epoch, not ahead of it
        yield CheckpointSaved(last, epoch, "last")
        if improved or (val is None and epoch == config.epochs):
            self.best_path = self._save(r, "best.pt", epoch, 0)
            yield CheckpointSaved(self.best_path, epoch, "best")
        return False

    def _finish(self, r: _Run) -> Finished:
        """Test the final model once and save what Results and Misclassified show."""
        config, run_dir = self.config, self.run_dir
        self._records_follow()
        test = evaluate(r.eval_model, r.splits.test_images, r.splits.test_labels, device=r.device,
                        batch_size=EVAL_BATCH_SIZE, tta=config.tta)  # the config's own test, shifts and all
        save_evaluation(run_dir, test, r.splits.test_images, "last")
        result = {
            "test_accuracy": test.accuracy, "test_loss": test.loss, "per_class_accuracy": test.per_class_accuracy,
            "epochs": config.epochs, "train_seconds": r.train_seconds, "best_val_accuracy": r.best_val,
            "checkpoint": "last", "evaluated": "last epoch", "trained_in": "bf16" if r.autocast else "fp32",
            "tta": config.tta,
        }
        runs.write_text_atomic(run_dir / "result.json", json.dumps(result, indent=2))
        return with_study_note(Finished(run_dir.name, str(run_dir), config.epochs, r.train_seconds, test.loss,
                                        test.accuracy, test.per_class_accuracy, r.best_val, tta=config.tta),
                               resumed=self.restored is not None)  # a stopped tuning trial counts again

    def _diverged(self, epoch: int, step: int, loss: float, optimizer: Optimizer, factor: float) -> Failed:
        lr = optimizer.param_groups[0]["lr"]  # the schedule's; steering multiplied it (x1e4 read "lr 0.001")
        kept, how = (f"; the best checkpoint so far is kept at {self.best_path}" if self.best_path else "",
                     f"the schedule's {lr:.3g} steered x{factor:g}" if factor != 1 else f"configured {self.config.lr:g}")
        reason = (f"training diverged at epoch {epoch}, step {step}: loss is {loss:.3g} with lr {lr * factor:.3g} "
                  f"({how}); try a lower learning rate{' or less steering' if factor > 1 else ''}{kept}")
        runs.mark_failed(self.run_dir, reason, epoch)  # `runs` says failed, not stopped
        return Failed(reason, epoch, str(self.run_dir), self.best_path)
