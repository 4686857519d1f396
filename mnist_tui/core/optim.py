"""The optimizers and learning-rate schedules training uses: Adam, AdamW, SGD; one-cycle, cosine, step.

torch.optim's own are wrapped in torch._dynamo guards whose first call imports torch._dynamo
(~0.75 s of a 3 s `train --preset fast`). These do the same arithmetic as torch.optim's multi-tensor
("foreach") steps, and their state dicts are torch.optim's format, so checkpoints written by
either one resume with the other.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch


def _number(value: Any, what: str, low: float = -math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < low:
        raise ValueError(f"its {what} is {value!r}, not a number >= {low:g}")
    return value


def _whole(value: Any, what: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"its {what} is {value!r}, not a whole number >= {low}")
    return value


class Optimizer:
    """What training uses of torch.optim.Optimizer: param_groups, state, zero_grad, step, state_dict."""

    required_state: tuple[str, ...] = ()  # what a parameter's saved state must hold, when it holds anything

    def __init__(self, params: Iterable[torch.Tensor], defaults: dict[str, Any]):
        params = list(params)
        if not params:
            raise ValueError("the optimizer got no parameters")
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = [dict(defaults, params=params)]
        self.state: dict[torch.Tensor, dict[str, Any]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    p.grad.zero_()

    def step(self) -> None:
        raise NotImplementedError

    def check_group(self, group: dict[str, Any]) -> None:
        """Raise ValueError when a loaded group's settings are not ones step() can use."""
        _number(group["lr"], "learning rate", 0)
        _number(group["weight_decay"], "weight decay", 0)
        for flag in ("amsgrad", "maximize"):
            if group.get(flag):
                raise ValueError(f"its optimizer uses {flag}, which mnist-tui does not")

    def state_dict(self) -> dict[str, Any]:
        """torch.optim's format: parameters numbered in order across groups (the state's tensors are not copied)."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            groups.append({**{k: v for k, v in group.items() if k != "params"},
                           "params": [index[id(p)] for p in group["params"]]})
        return {"state": {index[id(p)]: dict(s) for p, s in self.state.items()}, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load ours or torch.optim's; ValueError, KeyError or TypeError (nothing changed) when it does not fit."""
        saved_groups = state_dict["param_groups"]
        if not isinstance(saved_groups, list) or len(saved_groups) != len(self.param_groups):
            raise ValueError(f"it has {len(saved_groups)} parameter groups, this optimizer {len(self.param_groups)}")
        by_index: dict[Any, torch.Tensor] = {}
        groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"it has a group of {len(saved['params'])} parameters where this model "
                                 f"has {len(group['params'])}")
            by_index.update(zip(saved["params"], group["params"]))
            loaded = {**self.defaults, **saved, "params": group["params"]}
            self.check_group(loaded)
            groups.append(loaded)
        state = {}
        for index, values in state_dict["state"].items():
            if index not in by_index:
                raise ValueError(f"it holds state for parameter {index!r}, which this model does not have")
            state[by_index[index]] = self._restored(by_index[index], values, index)
        self.param_groups, self.state = groups, state

    def _restored(self, param: torch.Tensor, values: Any, index: Any) -> dict[str, Any]:
        """One parameter's saved state, on the parameter's device and in its dtype and memory format."""
        if not isinstance(values, dict):
            raise TypeError(f"its state for parameter {index} is a {type(values).__name__}, not a dict")
        restored = {}
        for key, value in values.items():
            if value is None:  # an older torch's SGD kept momentum_buffer=None without momentum
                continue
            if key == "step":  # torch keeps a step count per parameter as a float tensor on the CPU
                count = value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value
                restored[key] = torch.tensor(float(_number(count, f"step count of parameter {index}", 0)))
            elif not isinstance(value, torch.Tensor) or value.shape != param.shape:
                shape = list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"its {key} for parameter {index} is {shape}, the parameter {list(param.shape)}")
            else:
                restored[key] = torch.empty_like(param).copy_(value)
        missing = [key for key in self.required_state if key not in restored]
        if restored and missing:
            raise ValueError(f"its state for parameter {index} lacks {', '.join(missing)}")
        return restored

    def _with_grads(self, group: dict[str, Any]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        params = [p for p in group["params"] if p.grad is not None]
        return params, [p.grad for p in params]


class Adam(Optimizer):
    """torch.optim.Adam (amsgrad and maximize off): weight decay is an L2 term added to the gradient."""

    decoupled = False  # AdamW: weight decay shrinks the weights directly
    required_state = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=False,
                                      maximize=False, foreach=None, capturable=False, differentiable=False,
                                      fused=None, decoupled_weight_decay=self.decoupled))

    def check_group(self, group: dict[str, Any]) -> None:
        super().check_group(group)
        betas = group["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"its betas are {betas!r}, not two numbers")
        group["betas"] = (_number(betas[0], "beta1", 0), _number(betas[1], "beta2", 0))
        _number(group["eps"], "eps", 0)
        group["decoupled_weight_decay"] = self.decoupled  # the class decides, as torch's AdamW does

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            params, grads = self._with_grads(group)
            if not params:
                continue
            lr, (beta1, beta2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            states = [self.state.get(p) or self._fresh(p) for p in params]
            steps = [s["step"] for s in states]
            averages, squares = [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states]
            torch._foreach_add_(steps, 1.0)
            if decay:
                if self.decoupled:
                    torch._foreach_mul_(params, 1 - lr * decay)
                else:
                    grads = torch._foreach_add(grads, params, alpha=decay)
            torch._foreach_lerp_(averages, grads, 1 - beta1)
            torch._foreach_mul_(squares, beta2)
            torch._foreach_addcmul_(squares, grads, grads, 1 - beta2)
            counts = [s.item() for s in steps]
            denominators = torch._foreach_sqrt(squares)
            if len(set(counts)) == 1:  # as usual: one count, so scalars instead of lists
                torch._foreach_div_(denominators, (1 - beta2 ** counts[0]) ** 0.5)
                torch._foreach_add_(denominators, eps)
                torch._foreach_addcdiv_(params, averages, denominators, (lr / (1 - beta1 ** counts[0])) * -1)
            else:
                torch._foreach_div_(denominators, [(1 - beta2 ** t) ** 0.5 for t in counts])
                torch._foreach_add_(denominators, eps)
                torch._foreach_addcdiv_(params, averages, denominators, [(lr / (1 - beta1 ** t)) * -1 for t in counts])

    def _fresh(self, p: torch.Tensor) -> dict[str, Any]:
        state = self.state[p] = {"step": torch.tensor(0.0), "exp_avg": torch.zeros_like(p),
                                 "exp_avg_sq": torch.zeros_like(p)}
        return state


class AdamW(Adam):
    """torch.optim.AdamW: weight decay multiplies the weights by 1 - lr * weight_decay each step."""

    decoupled = True

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class SGD(Optimizer):
    """torch.optim.SGD: momentum (optionally Nesterov), dampening and L2 weight decay."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=False, foreach=None, differentiable=False,
                                      fused=None))

    def check_group(self, group: dict[str, Any]) -> None:
        super().check_group(group)
        _number(group["momentum"], "momentum", 0)
        _number(group["dampening"], "dampening", 0)
        if not isinstance(group["nesterov"], bool):
            raise ValueError(f"its nesterov is {group['nesterov']!r}, not true or false")

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            params, grads = self._with_grads(group)
            if not params:
                continue
            lr, momentum, decay = group["lr"], group["momentum"], group["weight_decay"]
            if decay:
                grads = torch._foreach_add(grads, params, alpha=decay)
            if momentum:
                buffers = [self.state.get(p, {}).get("momentum_buffer") for p in params]
                if all(b is not None for b in buffers):
                    torch._foreach_mul_(buffers, momentum)
                    torch._foreach_add_(buffers, grads, alpha=1 - group["dampening"])
                else:  # the first step starts each buffer at its gradient
                    for i, (p, g) in enumerate(zip(params, grads)):
                        if buffers[i] is None:
                            buffers[i] = self.state.setdefault(p, {})["momentum_buffer"] = g.detach().clone()
                        else:
                            buffers[i].mul_(momentum).add_(g, alpha=1 - group["dampening"])
                grads = torch._foreach_add(grads, buffers, alpha=momentum) if group["nesterov"] else buffers
            torch._foreach_add_(params, grads, alpha=-lr)


# -- schedules ------------------------------------------------------------------------------------------


class Schedule:
    """Sets each group's "lr" for step ``last_epoch`` (the name torch uses); step() after each optimizer step.

    Like torch's schedulers, the rate is set for step 0 at once, and ``state_dict`` is torch's format;
    ``load_state_dict`` reads what it needs from ours or from what torch's schedulers saved.
    """

    def __init__(self, optimizer: Optimizer, base_lrs: list[float] | None = None):
        """``base_lrs``: each group's rate at step 0; by default the group's "lr", kept as its "initial_lr"."""
        if base_lrs is None:
            for group in optimizer.param_groups:
                group["initial_lr"] = group["lr"]
            base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.optimizer = optimizer
        self.base_lrs = base_lrs
        self.last_epoch = 0
        self._apply()

    def lr_at(self, group: int, step: int) -> float:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """The schedule's own fields in its state dict, under torch's names."""
        raise NotImplementedError

    def load_settings(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {**self.settings(), "base_lrs": list(self.base_lrs), "last_epoch": self.last_epoch,
                "_step_count": self.last_epoch + 1, "_is_initial": False, "_get_lr_called_within_step": False,
                "_last_lr": self.get_last_lr()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue at the saved step; ValueError, KeyError or TypeError when the state is not a schedule's."""
        last_epoch = _whole(state["last_epoch"], "schedule's step")
        base_lrs = state.get("base_lrs", self.base_lrs)
        if not isinstance(base_lrs, list) or len(base_lrs) != len(self.optimizer.param_groups):
            raise ValueError(f"its base_lrs are {base_lrs!r}, not one rate per parameter group")
        self.base_lrs = [_number(lr, "base learning rate", 0) for lr in base_lrs]
        self.load_settings(state)
        self.last_epoch = last_epoch
        self._apply()

    def _apply(self) -> None:
        for i, group in enumerate(self.optimizer.param_groups):
            group["lr"] = self.lr_at(i, self.last_epoch)


def _annealing_cos(start: float, end: float, pct: float) -> float:
    """Cosine from ``start`` to ``end`` as pct goes from 0 to 1 (torch's formula, to the rounding)."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


class OneCycle(Schedule):
    """torch's OneCycleLR with cosine annealing, two phases and no momentum cycling: from max_lr/25 up
    to max_lr over the first ``pct_start`` of the steps, then down to max_lr/25/1e4."""

    def __init__(self, optimizer: Optimizer, max_lr: float, total_steps: int, pct_start: float = 0.25,
                 div_factor: float = 25.0, final_div_factor: float = 1e4):
        self.pct_start = pct_start
        self.total_steps = _whole(total_steps, "total steps", 1)
        for group in optimizer.param_groups:  # the keys torch's OneCycleLR keeps in the groups
            group["initial_lr"] = max_lr / div_factor
            group["max_lr"] = max_lr
            group["min_lr"] = group["initial_lr"] / final_div_factor
        self.rates = [(g["initial_lr"], g["max_lr"], g["min_lr"]) for g in optimizer.param_groups]
        super().__init__(optimizer, [g["initial_lr"] for g in optimizer.param_groups])

    def _phase_ends(self) -> tuple[float, float]:
        return float(self.pct_start * self.total_steps) - 1, self.total_steps - 1

    def lr_at(self, group: int, step: int) -> float:
        if step > self.total_steps:
            raise ValueError(f"the one-cycle schedule was stepped {step} times; it has {self.total_steps} steps")
        initial, peak, final = self.rates[group]
        warm_end, end = self._phase_ends()
        if step <= warm_end:
            start, stop, low, high = 0.0, warm_end, initial, peak
        else:
            start, stop, low, high = warm_end, end, peak, final
        # torch divides by zero where a phase is no steps long (4 steps in all); that phase is over
        pct = (step - start) / (stop - start) if stop != start else 1.0
        return _annealing_cos(low, high, pct)

    def settings(self) -> dict[str, Any]:
        warm_end, end = self._phase_ends()
        return {"total_steps": self.total_steps, "_schedule_phases": [
            {"end_step": warm_end, "start_lr": "initial_lr", "end_lr": "max_lr",
             "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
            {"end_step": end, "start_lr": "max_lr", "end_lr": "min_lr",
             "start_momentum": "base_momentum", "end_momentum": "max_momentum"}],
            "_anneal_func_type": "cos", "cycle_momentum": False}

    def load_settings(self, state: dict[str, Any]) -> None:
        self.total_steps = _whole(state["total_steps"], "total steps", 1)


class CosineAnnealing(Schedule):
    """torch's CosineAnnealingLR: from the group's rate down to ``eta_min`` over ``T_max`` steps.

    The closed form; torch's step() updates the rate recursively, which agrees to the rounding.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):  # noqa: N803 - torch's name
        self.T_max = _whole(T_max, "T_max", 1)
        self.eta_min = eta_min
        super().__init__(optimizer)

    def lr_at(self, group: int, step: int) -> float:
        base = self.base_lrs[group]
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * step / self.T_max)) / 2

    def settings(self) -> dict[str, Any]:
        return {"T_max": self.T_max, "eta_min": self.eta_min}

    def load_settings(self, state: dict[str, Any]) -> None:
        self.T_max = _whole(state["T_max"], "T_max", 1)
        self.eta_min = _number(state.get("eta_min", 0.0), "eta_min", 0)


class StepDecay(Schedule):
    """torch's StepLR: the group's rate times ``gamma`` every ``step_size`` steps."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        self.step_size = _whole(step_size, "step size", 1)
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, group: int, step: int) -> float:
        return self.base_lrs[group] * self.gamma ** (step // self.step_size)

    def settings(self) -> dict[str, Any]:
        return {"step_size": self.step_size, "gamma": self.gamma}

    def load_settings(self, state: dict[str, Any]) -> None:
        self.step_size = _whole(state["step_size"], "step size", 1)
        self.gamma = _number(state["gamma"], "gamma", 0)


__all__ = ["SGD", "Adam", "AdamW", "CosineAnnealing", "OneCycle", "Optimizer", "Schedule", "StepDecay"]
