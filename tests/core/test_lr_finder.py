import json
import math

import pytest
import torch

from mnist_tui.cli import main
from mnist_tui.core.lr_finder import LrFinderError, LrFound, LrStep, find_lr, lr_at, suggest
from mnist_tui.core.models import build_model

TINY = ["--model", "mlp", "--hidden", "32", "--batch-size", "32", "--val-size", "100", "--optimizer", "adam",
        "--threads", "1"]


def test_finder_leaves_the_model_rng_and_disk_untouched(tiny_config, synthetic_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(5)
    model = build_model(tiny_config)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng_before = torch.get_rng_state()

    events = list(find_lr(tiny_config, synthetic_data, start=1e-5, end=1.0, steps=40, model=model))

    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert list(tmp_path.iterdir()) == []
    steps, found = events[:-1], events[-1]
    assert isinstance(found, LrFound) and all(isinstance(e, LrStep) for e in steps)
    assert 1e-5 <= found.suggested_lr <= 1.0
    assert found.lrs == [e.lr for e in steps] and found.steps == len(steps)
    assert [e.lr for e in steps] == sorted(e.lr for e in steps)


def test_finder_stops_when_the_loss_diverges(tiny_config, synthetic_data):
    found = list(find_lr(tiny_config, synthetic_data, start=1e-2, end=10.0, steps=200))[-1]
    assert found.stop_reason == "diverged" and found.steps < 200
    assert found.suggested_lr < found.lrs[-1]


def test_suggestion_is_the_steepest_descent_on_log_lr_not_linear_lr():
    lrs = [lr_at(i, 100, 1e-6, 1.0) for i in range(100)]
    # a smooth fall centred on lr = 1e-3 in log space; against linear lr the slope is
    # largest far lower down, which is where a linear-spacing finder would point
    losses = [2.3 - math.tanh(math.log10(lr) + 3) for lr in lrs]
    assert 10 ** -3.2 <= lrs[suggest(lrs, losses)] <= 10 ** -2.8


def test_early_noise_is_skipped():
    lrs = [lr_at(i, 100, 1e-6, 1.0) for i in range(100)]
    losses = [2.3 - math.tanh(math.log10(lr) + 2) for lr in lrs]
    losses[2] -= 1.0  # a lucky batch while the EMA is young
    assert 10 ** -2.2 <= lrs[suggest(lrs, losses)] <= 10 ** -1.8


def test_no_suggestion_when_the_loss_never_fell():
    """A curve that climbs from its first step, or stays flat, has no rate worth trying (0.5..10 gave 0.515)."""
    lrs = [lr_at(i, 50, 0.5, 10.0) for i in range(50)]
    assert suggest(lrs[:2], [2.3, 204.0]) is None
    assert suggest(lrs, [2.3 + 0.01 * i for i in range(50)]) is None
    assert suggest(lrs, [2.3 - 0.001 * (i % 3) for i in range(50)]) is None  # noise, no fall
    assert suggest(lrs, [2.3 - 0.05 * min(i, 20) for i in range(50)]) is not None


def test_a_range_that_starts_too_high_gives_no_suggestion(tiny_config, synthetic_data):
    found = list(find_lr(tiny_config, synthetic_data, start=5.0, end=10.0, steps=50))[-1]
    assert found.stop_reason == "diverged"
    assert found.suggested_lr is None and found.suggested_index is None
    assert found.why_none == "the loss climbed without falling first: the range starts too high for this model"


def test_a_range_that_ends_too_low_gives_no_suggestion_and_says_why(tiny_config, synthetic_data):
    found = list(find_lr(tiny_config, synthetic_data, start=1e-9, end=1e-8, steps=30))[-1]
    assert found.stop_reason == "range end" and found.suggested_lr is None
    assert found.why_none == "the loss never fell: the range ends too low for this model"


@pytest.mark.parametrize("start,end,steps", [(0.0, 1.0, 100), (1e-2, 1e-3, 100), (1e-6, 1.0, 3)])
def test_bad_range_is_refused(tiny_config, synthetic_data, start, end, steps):
    with pytest.raises(LrFinderError):
        next(find_lr(tiny_config, synthetic_data, start=start, end=end, steps=steps))


def test_cli_json_ends_with_lr_found(synthetic_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["lr-find", "--data-dir", str(synthetic_root), *TINY, "--steps", "30", "--start", "1e-4", "--json"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["event"] == "lr_step" and lines[-1]["event"] == "lr_found"
    assert 1e-4 <= lines[-1]["suggested_lr"] <= 1.0
    assert list(tmp_path.iterdir()) == []  # no run folder, no checkpoints


def test_cli_draws_the_curve_and_the_train_command(synthetic_root, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["lr-find", "--data-dir", str(synthetic_root), *TINY, "--steps", "30"]) == 0
    out = capsys.readouterr().out
    assert "Suggested lr" in out and "mnist-tui train" in out and "--lr" in out
    lines = out.splitlines()
    summary = next(i for i, line in enumerate(lines) if line.startswith("Suggested lr"))
    axis = next(line for line in lines if "learning rate (log scale)" in line)  # it read "log10(lr)",
    assert lines[lines.index(axis) - 1].split() == ["1e-6", "1e-4", "0.01", "1"], out  # ticks -6.0 ... 0.0
    assert lines[summary].endswith(")") and lines[summary + 1].startswith("30 steps in ")  # no word wrapped alone
    assert lines[summary + 1].split(", stopped: ")[1] and lines[summary + 2] == "Train with it:"
    # with the data folder it was given (the tune and resume commands keep it; this one dropped it)
    assert lines[summary + 3].startswith(f"mnist-tui train --data-dir {synthetic_root.resolve()} ")


def test_cli_without_a_suggestion_offers_no_train_command(synthetic_root, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    assert main(["lr-find", "--data-dir", str(synthetic_root), *TINY, "--start", "5", "--end", "10"]) == 0
    out = capsys.readouterr().out
    assert "No suggestion: the loss climbed without falling first" in out and "try a lower --start" in out
    assert "Suggested lr" not in out and "Train with it" not in out and "mnist-tui train" not in out
    ticks = out.splitlines()[next(i for i, line in enumerate(out.splitlines()) if "(log scale)" in line) - 1]
    assert ticks.split()[0] == "5" and ticks.split()[-1] == "10", out  # the range asked, not the steps taken
    assert main(["lr-find", "--data-dir", str(synthetic_root), *TINY, "--start", "5", "--end", "10", "--json"]) == 0
    found = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert found["suggested_lr"] is None and found["why_none"]


def test_cli_a_batch_larger_than_the_training_split_is_refused_as_train_refuses_it(synthetic_root, capsys):
    """--batch-size 56000 ran (and on the real data printed nothing for minutes); train says it cannot fit."""
    args = [*TINY, "--batch-size", "600"]  # 600 digits, 100 of them for validation
    assert main(["lr-find", "--data-dir", str(synthetic_root), *args]) == 2
    err = capsys.readouterr().err
    assert main(["train", "--data-dir", str(synthetic_root), *args]) == 2
    assert err == capsys.readouterr().err and "must be at most the" in err and "Traceback" not in err


def test_cli_bad_range_exits_2(synthetic_root, capsys):
    assert main(["lr-find", "--data-dir", str(synthetic_root), *TINY, "--start", "1", "--end", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "--end must be above --start" in err and "Traceback" not in err


def test_cli_a_range_too_wide_for_its_steps_is_refused(synthetic_root, capsys):
    """--start 1e-300 ran 100 steps a thousandfold apart and then advised "try a higher --end" of an --end already
    at 1 (walk30 F10): under 2 steps a decade the curve has no fall to find."""
    assert main(["lr-find", "--data-dir", str(synthetic_root), *TINY, "--start", "1e-300"]) == 2
    assert capsys.readouterr().err == ("mnist-tui: --start 1e-300 to --end 1 spans 300 decades, too many for 100 steps "
                                       "(2 a decade at least): raise --start, or --steps to 600\n")


@pytest.mark.parametrize("flag, value", [("--end", "nan"), ("--end", "inf"), ("--start", "nan"), ("--start", "inf")])
def test_cli_a_bad_end_is_named_as_the_end(flag, value, synthetic_root, capsys):
    """--end nan said '--start must be a positive number, got 1e-06'; then '--end must be above --start (1e-06),
    got nan', which nan cannot be made to be (walk29 F7)."""
    assert main(["lr-find", "--data-dir", str(synthetic_root), *TINY, flag, value]) == 2
    assert capsys.readouterr().err == f"mnist-tui: {flag} must be a finite number, got {value}\n"
