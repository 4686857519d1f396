"""What a run needs besides its loop: pause/stop/steering controls, the device, optimizer and schedule."""

from __future__ import annotations

import math
import threading

import torch
from torch import nn

from .config import TrainConfig


class RunControl:
    """Thread-safe pause/resume/stop and learning-rate steering for a running Trainer."""

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._lr_factor: float | None = None

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

    def set_lr_factor(self, factor: float) -> None:
        """Scale the scheduled learning rate by ``factor`` from the next batch on (steering)."""
        if not (math.isfinite(factor) and 0 < factor <= 1e4):
            raise ValueError(f"learning-rate factor must be a positive number, got {factor!r}")
        with self._lock:
            self._lr_factor = factor

    def take_lr_factor(self) -> float | None:
        """The factor set since the last call, or None."""
        with self._lock:
            factor, self._lr_factor = self._lr_factor, None
        return factor


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
