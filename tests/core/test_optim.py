"""mnist_tui.core.optim against torch.optim: the same parameters after the same gradients, the same
learning rates step by step, and state dicts that load both ways (checkpoints of either resume)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from mnist_tui.core import optim
from mnist_tui.core.checkpoints import load_checkpoint, load_state
from mnist_tui.core.engine import RunControl, Trainer
from mnist_tui.core.events import EpochEnd, Finished, Stopped
from mnist_tui.core.models import build_model
from mnist_tui.core.runs import CheckpointError

REPO = Path(__file__).resolve().parents[2]

OPTIMIZERS = {  # ours, torch's, keyword arguments for both
    "adam": (optim.Adam, torch.optim.Adam, dict(lr=3e-3)),
    "adam+l2": (optim.Adam, torch.optim.Adam, dict(lr=1e-2, betas=(0.7, 0.9), weight_decay=1e-2)),
    "adamw": (optim.AdamW, torch.optim.AdamW, dict(lr=4e-3, weight_decay=5e-4)),
    "sgd": (optim.SGD, torch.optim.SGD, dict(lr=0.05)),
    "sgd+momentum": (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=1e-3)),
    "sgd+nesterov": (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-3)),
}


def _net() -> nn.Module:
    torch.manual_seed(0)  # conv weights in channels_last, as the engine trains them
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    return net.to(memory_format=torch.channels_last)


def _train(optimizer, net: nn.Module, steps: int, seed: int = 1) -> None:
    """``steps`` steps with made-up gradients (the same for every optimizer) and a rate that changes."""
    generator = torch.Generator().manual_seed(seed)
    base = optimizer.param_groups[0]["lr"]
    for i in range(steps):
        optimizer.zero_grad(set_to_none=True)
        for p in net.parameters():
            p.grad = torch.randn(p.shape, generator=generator).contiguous(memory_format=torch.preserve_format)
        for group in optimizer.param_groups:
            group["lr"] = base * (1 + i % 3) / 2
        optimizer.step()


def _assert_same_params(a: nn.Module, b: nn.Module, exact: bool = False) -> None:
    for (name, x), y in zip(a.named_parameters(), b.parameters()):
        if exact:
            assert torch.equal(x, y), name
        else:
            torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-7, msg=name)


@pytest.mark.parametrize("case", list(OPTIMIZERS))
def test_twenty_steps_give_torch_optims_parameters(case):
    ours_cls, torch_cls, kwargs = OPTIMIZERS[case]
    ours, single, multi = _net(), _net(), _net()
    _train(ours_cls(ours.parameters(), **kwargs), ours, 20)
    _train(torch_cls(single.parameters(), foreach=False, **kwargs), single, 20)  # torch's default on the CPU
    _train(torch_cls(multi.parameters(), foreach=True, **kwargs), multi, 20)  # and on CUDA
    _assert_same_params(ours, single)
    _assert_same_params(ours, multi, exact=True)  # the same foreach arithmetic, bit for bit


@pytest.mark.parametrize("case", list(OPTIMIZERS))
def test_state_dicts_are_torch_optims_both_ways(case):
    ours_cls, torch_cls, kwargs = OPTIMIZERS[case]
    theirs_net, ours_net = _net(), _net()
    theirs = torch_cls(theirs_net.parameters(), foreach=True, **kwargs)
    _train(theirs, theirs_net, 5)
    saved = theirs.state_dict()
    ours_net.load_state_dict(theirs_net.state_dict())
    ours = ours_cls(ours_net.parameters(), **kwargs)
    ours.load_state_dict(saved)  # a checkpoint torch.optim wrote
    assert ours.state_dict()["param_groups"] == saved["param_groups"]
    for index, state in saved["state"].items():
        assert ours.state_dict()["state"][index].keys() == state.keys()
        for key, value in state.items():
            assert torch.equal(ours.state_dict()["state"][index][key], value), (index, key)
    _train(theirs, theirs_net, 5, seed=2)
    _train(ours, ours_net, 5, seed=2)
    _assert_same_params(ours_net, theirs_net, exact=True)
    # and back: what we save now loads into torch.optim
    back_net = _net()
    back_net.load_state_dict(ours_net.state_dict())
    back = torch_cls(back_net.parameters(), foreach=True, **kwargs)
    back.load_state_dict(copy.deepcopy(ours.state_dict()))  # a copy, as from a file: torch's keeps the tensors
    _train(back, back_net, 3, seed=3)
    _train(ours, ours_net, 3, seed=3)
    _assert_same_params(ours_net, back_net, exact=True)


def test_a_state_that_does_not_fit_is_one_line_and_changes_nothing():
    net = _net()
    adam = optim.Adam(net.parameters(), lr=1e-3)
    _train(adam, net, 2)
    before = adam.state_dict()
    other = optim.Adam(nn.Linear(3, 2).parameters())
    with pytest.raises(CheckpointError) as error:
        load_state(adam, other.state_dict(), "the adam optimizer")
    assert "\n" not in str(error.value) and "group of 2 parameters where this model has 6" in str(error.value)
    wrong_shape = adam.state_dict()
    wrong_shape["state"] = {**wrong_shape["state"], 0: {**wrong_shape["state"][0], "exp_avg": torch.zeros(3)}}
    with pytest.raises(CheckpointError, match=r"exp_avg for parameter 0 is \[3\], the parameter \[4, 1, 3, 3\]"):
        load_state(adam, wrong_shape, "the adam optimizer")
    for broken in ({}, {"state": {}, "param_groups": "x"}, {"state": {}, "param_groups": [{"params": [0]}]},
                   {**before, "param_groups": [{**before["param_groups"][0], "lr": float("nan")}]},
                   {**before, "param_groups": [{**before["param_groups"][0], "amsgrad": True}]}):
        with pytest.raises(CheckpointError):
            load_state(adam, broken, "the adam optimizer")
    assert adam.state_dict()["param_groups"] == before["param_groups"]


def _rates(schedule, optimizer, steps: int) -> list[float]:
    rates = [optimizer.param_groups[0]["lr"]]
    for _ in range(steps):
        optimizer.step()
        schedule.step()
        rates.append(optimizer.param_groups[0]["lr"])
    return rates


SCHEDULES = {  # ours, torch's, keyword arguments (total steps filled in)
    "onecycle": (lambda o, n: optim.OneCycle(o, max_lr=0.01, total_steps=n),
                 lambda o, n: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.01, total_steps=n, pct_start=0.25,
                                                                  cycle_momentum=False)),
    "cosine": (lambda o, n: optim.CosineAnnealing(o, T_max=n),
               lambda o, n: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=n)),
    "step": (lambda o, n: optim.StepDecay(o, step_size=max(1, n // 4), gamma=0.7),
             lambda o, n: torch.optim.lr_scheduler.StepLR(o, step_size=max(1, n // 4), gamma=0.7)),
}


@pytest.mark.parametrize("total", [1, 2, 3, 5, 8, 13, 235, 1407])
@pytest.mark.parametrize("kind", list(SCHEDULES))
def test_schedules_give_torchs_rate_at_every_step(kind, total):
    ours_of, torch_of = SCHEDULES[kind]
    ours_opt, torch_opt = optim.Adam([nn.Parameter(torch.zeros(1))], lr=0.01), torch.optim.Adam(
        [nn.Parameter(torch.zeros(1))], lr=0.01)
    ours = _rates(ours_of(ours_opt, total), ours_opt, total)
    theirs = _rates(torch_of(torch_opt, total), torch_opt, total)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-15)


def test_a_four_step_one_cycle_warms_up_at_once_where_torchs_divides_by_zero():
    with pytest.raises(ZeroDivisionError):
        torch.optim.lr_scheduler.OneCycleLR(torch.optim.Adam([nn.Parameter(torch.zeros(1))]), max_lr=0.01,
                                            total_steps=4, pct_start=0.25, cycle_momentum=False)
    adam = optim.Adam([nn.Parameter(torch.zeros(1))], lr=0.01)
    rates = _rates(optim.OneCycle(adam, max_lr=0.01, total_steps=4), adam, 4)
    assert rates[0] == pytest.approx(0.01) and rates[0] > rates[1] > rates[2] > rates[3]


@pytest.mark.parametrize("kind", list(SCHEDULES))
def test_a_schedule_continues_from_torchs_saved_state(kind):
    ours_of, torch_of = SCHEDULES[kind]
    torch_opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=0.01)
    theirs = torch_of(torch_opt, 40)
    _rates(theirs, torch_opt, 17)
    ours_opt = optim.Adam([nn.Parameter(torch.zeros(1))], lr=0.01)
    ours = ours_of(ours_opt, 40)
    ours_opt.load_state_dict(torch_opt.state_dict())
    ours.load_state_dict(theirs.state_dict())
    assert _rates(ours, ours_opt, 23) == pytest.approx(_rates(theirs, torch_opt, 23), rel=1e-9, abs=1e-15)
    again = torch_of(torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=0.01), 40)
    again.load_state_dict(ours.state_dict())  # ours loads into torch's too
    assert again.last_epoch == 40
    with pytest.raises(CheckpointError):
        load_state(ours, {**ours.state_dict(), "last_epoch": -3}, f"the {kind} schedule")


def test_a_run_saved_by_torch_optim_resumes_to_the_same_weights(synthetic_data, tiny_config, tmp_path):
    """A checkpoint whose optimizer and schedule states torch.optim wrote (as every run before this
    module did) resumes where it stopped, to the weights of a run that never stopped."""
    config = tiny_config.replace(epochs=3, schedule="onecycle", optimizer="adamw", weight_decay=1e-3)
    list(Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name="straight").run())
    control = RunControl()
    for event in Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name="halves").run(control):
        if isinstance(event, EpochEnd) and event.epoch == 1:
            control.stop()
    assert isinstance(event, Stopped)
    path = tmp_path / "halves" / "last.pt"
    checkpoint = torch.load(path, weights_only=True)
    adamw = torch.optim.AdamW(build_model(config).parameters(), lr=config.lr, betas=(config.momentum, config.beta2),
                              weight_decay=config.weight_decay)
    steps = checkpoint["scheduler_state"]["total_steps"]
    one_cycle = torch.optim.lr_scheduler.OneCycleLR(adamw, max_lr=config.lr, total_steps=steps, pct_start=0.25,
                                                    cycle_momentum=False)
    adamw.load_state_dict(checkpoint["optimizer_state"])
    one_cycle.load_state_dict(checkpoint["scheduler_state"])
    checkpoint["optimizer_state"], checkpoint["scheduler_state"] = adamw.state_dict(), one_cycle.state_dict()
    assert "_schedule_phases" in checkpoint["scheduler_state"]
    torch.save(checkpoint, path)
    resumed = list(Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=path).run())
    assert isinstance(resumed[-1], Finished)
    straight, halves = (load_checkpoint(tmp_path / name / "last.pt") for name in ("straight", "halves"))
    for key, value in straight["model_state"].items():
        assert torch.equal(value, halves["model_state"][key]), key


def test_training_never_imports_torch_dynamo(synthetic_root, tmp_path):
    code = ("import sys; from mnist_tui.cli import main; "
            f"code = main(['train', '--data-dir', {str(synthetic_root)!r}, '--checkpoints', {str(tmp_path)!r}, "
            "'--model', 'cnn', '--width', '4', '--epochs', '2', '--batch-size', '64', '--val-size', '100', "
            "'--optimizer', 'adamw', '--schedule', 'onecycle', '--threads', '1', '--json']); "
            "print('dynamo' if 'torch._dynamo' in sys.modules else 'no dynamo', code)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.stdout.splitlines()[-1] == "no dynamo 0", done.stderr


def test_resuming_with_another_models_optimizer_state_is_one_line(synthetic_root, tmp_path, capsys):
    from mnist_tui.cli import main

    common = ["--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), "--json"]
    assert main(["train", *common, "--model", "mlp", "--hidden", "16", "--batch-size", "32", "--val-size", "100",
                 "--threads", "1", "--epochs", "1", "--run-name", "r"]) == 0
    path = tmp_path / "r" / "last.pt"
    checkpoint = torch.load(path, weights_only=True)
    other = torch.optim.Adam(nn.Linear(3, 2).parameters())
    checkpoint["optimizer_state"] = other.state_dict()
    torch.save(checkpoint, path)
    capsys.readouterr()
    assert main(["train", *common, "--resume", "r", "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not fit the adam optimizer: it has a group of 2 parameters" in err, err
