"""What a run needs besides its loop: pause/stop/steering controls, the device, optimizer and schedule."""

from __future__ import annotations

import contextlib
import math
import threading

import torch
from torch import nn

from .config import TrainConfig, field_applies
from .optim import SGD, Adam, AdamW, CosineAnnealing, OneCycle, Optimizer, Schedule, StepDecay


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


class DeviceUnavailable(RuntimeError):
    """A device was asked for by name that this machine (or this torch) does not have."""


def choose_device(name: str = "auto") -> torch.device:
    """cuda, then mps, then cpu for "auto"; an explicit name that is unavailable raises."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable("device cuda was asked for but torch sees no CUDA GPU")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceUnavailable("device mps was asked for but this torch has no MPS support here")
    return torch.device(name)


def native_bf16(device: torch.device) -> bool:
    """Whether the device computes in bfloat16 natively (so autocast to it is faster, not emulated)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        with open("/proc/cpuinfo") as cpuinfo:  # Linux: the flags of the first core are every core's
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype a training step's forward pass autocasts to, or None for plain fp32."""
    if precision == "bf16" or (precision == "auto" and native_bf16(device)):
        return torch.bfloat16
    return None


def forward_precision(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """The context a training forward pass runs in: autocast to ``dtype``, or plain fp32 for None."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def clean_epoch(config: TrainConfig, epoch: int) -> bool:
    """One of the last ``clean_epochs`` epochs, trained without augmentation."""
    return epoch > config.epochs - config.clean_epochs


def member_views(config: TrainConfig, epoch: int) -> bool:
    """Each ensemble member gets its own augmented view of the batch (not in a clean epoch)."""
    return config.member_views and field_applies("member_views", config) and not clean_epoch(config, epoch)


# cross-entropy starts near ln(10) = 2.3; a loss this large only comes from exploding weights
DIVERGED_LOSS = 1e4


def diverging(loss: float) -> bool:
    return not math.isfinite(loss) or loss > DIVERGED_LOSS


def epoch_augmentation(config: TrainConfig, epoch: int) -> dict[str, float]:
    """The random distortions this epoch's training batches get (none in a clean epoch)."""
    if clean_epoch(config, epoch):
        return {"rotate": 0.0, "translate": 0.0, "scale": 0.0, "elastic": 0.0}
    return {"rotate": config.rotate, "translate": config.translate, "scale": config.scale, "elastic": config.elastic}


def build_optimizer(config: TrainConfig, model: nn.Module) -> Optimizer:
    params = model.parameters()
    if config.optimizer == "sgd":
        return SGD(params, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov,
                   weight_decay=config.weight_decay)
    cls = Adam if config.optimizer == "adam" else AdamW
    return cls(params, lr=config.lr, betas=(config.momentum, config.beta2), weight_decay=config.weight_decay)


def build_scheduler(config: TrainConfig, optimizer: Optimizer, steps_per_epoch: int) -> Schedule | None:
    """A per-batch schedule (or None for a constant rate); "step" decays every step_size epochs."""
    total = config.epochs * steps_per_epoch
    if config.schedule == "onecycle":
        return OneCycle(optimizer, max_lr=config.lr, total_steps=total, pct_start=0.25)
    if config.schedule == "cosine":
        return CosineAnnealing(optimizer, T_max=total)
    if config.schedule == "step":
        return StepDecay(optimizer, step_size=config.step_size * steps_per_epoch, gamma=config.gamma)
    return None


class RunningSums:
    """Loss, correct and seen summed over batches, on the device (read only when a figure is due)."""

    def __init__(self, device: torch.device, state: dict[str, float] | None = None):
        self.loss = torch.zeros((), device=device)
        self.correct = torch.zeros((), device=device)
        self.seen = 0
        if state:
            self.loss += state["loss"]
            self.correct += state["correct"]
            self.seen = int(state["seen"])

    def add(self, loss: torch.Tensor, correct: torch.Tensor, n: int) -> None:
        self.loss += loss
        self.correct += correct
        self.seen += n

    def means(self) -> tuple[float, float]:
        n = max(self.seen, 1)
        return float(self.loss) / n, float(self.correct) / n

    def state(self) -> dict[str, float]:
        return {"loss": float(self.loss), "correct": float(self.correct), "seen": self.seen}


def random_state(device: torch.device, augmentation: torch.Generator) -> dict[str, torch.Tensor]:
    """The random streams a run stopped mid-epoch resumes from: torch's CPU stream, the augmentation
    generator's (always a CPU one) and, on a GPU, the GPU's (dropout draws there)."""
    state = {"torch": torch.get_rng_state(), "aug": augmentation.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_random_state(state: dict[str, torch.Tensor], device: torch.device, augmentation: torch.Generator) -> None:
    """Put back what :func:`random_state` saved (the GPU's stream only when resumed on a GPU)."""
    torch.set_rng_state(state["torch"])
    augmentation.set_state(state["aug"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def training_loss(logits: torch.Tensor, target: torch.Tensor, smoothing: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(what to minimise, plain cross entropy): the first with label smoothing, computed as
    ``F.cross_entropy(..., label_smoothing=)`` computes it, so training is unchanged; the second is what the
    charts and tables show, comparable with the validation loss (smoothing's own floor would hide the fit)."""
    log_p = logits.log_softmax(1)
    plain = torch.nn.functional.nll_loss(log_p, target)
    if not smoothing:
        return plain, plain
    return (1 - smoothing) * plain + (smoothing / logits.shape[1]) * -log_p.sum(1).mean(), plain


def ema_decay(decay: float, step: int) -> float:
    """The configured decay, ramped up over the first steps so the average soon forgets the random init."""
    return min(decay, (1 + step) / (10 + step))


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    ema_params = list(ema.parameters())
    torch._foreach_lerp_(ema_params, list(model.parameters()), 1 - decay)
    for e, m in zip(ema.buffers(), model.buffers()):
        e.copy_(m)
