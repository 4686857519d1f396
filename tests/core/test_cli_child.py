"""CliChild: a real ``mnist-tui ... --json`` child, its records, its last words, Ctrl+C at the right moment."""

from __future__ import annotations

import pytest

from mnist_tui.core.cli_child import CliChild
from tests.core.test_tune import tune_args


def test_a_child_that_cannot_run_gives_its_message_and_no_records(synthetic_root, tmp_path):
    child = CliChild(tune_args(synthetic_root, tmp_path, "--search", "nosuch=1,2", "--json"))
    records = list(child.records())
    assert child.wait(60) == 2 and records == []
    assert "'nosuch' is not a config field" in child.message() and not child.message().startswith("mnist-tui: ")
    assert not child.running and not child.interrupt()  # nothing left to stop


def test_a_stop_asked_before_tune_takes_ctrl_c_waits_for_it_and_ends_the_study_cleanly(synthetic_root, tmp_path):
    """A SIGINT sent while the child was still importing killed it with a traceback: the stop waits for the
    child to say it takes Ctrl+C, then the study ends as Ctrl+C ends it (130, "interrupted")."""
    pytest.importorskip("optuna")
    child = CliChild(tune_args(synthetic_root, tmp_path, "--epochs", "1000", "--search", "lr=1e-3:3e-2:log",
                               "--trials", "3", "--study", "early", "--json"), ready_event="tune_started")
    assert child.interrupt() and child.interrupted
    assert not child.interrupt()  # once: a second Ctrl+C tells tune to quit at once
    events = [record["event"] for record in child.records()]
    assert child.wait(120) == 130, child.message()
    assert events[0] == "tune_started" and events[-1] == "study_finished", events
    assert "Traceback" not in child.message()


def test_kill_ends_a_child_that_saves_nothing(synthetic_root, tmp_path):
    child = CliChild(["lr-find", "--data-dir", str(synthetic_root), "--model", "mlp", "--val-size", "100",
                      "--steps", "10000",
                      "--start", "1e-7", "--end", "2e-7", "--json"])
    for record in child.records():
        if record.get("event") == "lr_step":
            break
    child.kill()
    assert child.wait(60) < 0 and not child.running
