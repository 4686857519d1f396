"""`runs` and `eval` tables read whole at 80 columns (a piped stdout, or COLUMNS=80): nothing cut to "…"."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from rich.console import Console

from mnist_tui.reporting import RichReporter, print_evaluation
from tests.core.tiny_runs import TINY, train_tiny_run

REPO = Path(__file__).resolve().parents[2]
LONG_NAME = "fastcnn-20261203-091011"  # as long as the names runs get by default


@pytest.fixture(scope="module")
def runs_folder(synthetic_data, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("runs")
    train_tiny_run(synthetic_data, folder, LONG_NAME)
    train_tiny_run(synthetic_data, folder, "f1", TINY.replace(epochs=1))
    return folder


def cli_at_80_columns(*args: str, table_lines: slice = slice(None)) -> str:
    done = subprocess.run([sys.executable, "-m", "mnist_tui.cli", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300, env={**os.environ, "COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    assert "--json" in args or max(len(line) for line in done.stdout.splitlines()[table_lines]) <= 80
    return done.stdout


def test_runs_fits_80_columns_with_every_value_whole(runs_folder):
    out = cli_at_80_columns("runs", "--checkpoints", str(runs_folder))
    assert "…" not in out
    listed = {r["name"]: r for r in json.loads(cli_at_80_columns("runs", "--checkpoints", str(runs_folder),
                                                                 "--json"))}
    for name, epochs in ((LONG_NAME, 3), ("f1", 1)):
        row = next(line for line in out.splitlines() if line.startswith(name + " "))
        run = listed[name]
        for value in ("finished", "mlp", f"{epochs}/{epochs}", f"{run['best_val_accuracy']:.2%}",
                      f"{run['test_accuracy']:.2%}", run["modified"][5:10]):
            assert value in row.split(), (value, row)
        assert row.endswith(run["modified"][5:16].replace("T", " "))  # a default name leaves the date one line
    for header in ("name", "state", "model", "epochs", "best", "val", "test", "time", "date"):
        assert header in out.split()


def test_an_unreadable_run_leaves_the_other_rows_on_one_line_each(synthetic_data, tmp_path):
    """"unreadable" widened the state column: the date wrapped on every row again."""
    name = LONG_NAME + "-10"  # the tenth run started in that second
    train_tiny_run(synthetic_data, tmp_path, name)
    (tmp_path / "emptydir").mkdir()
    out = cli_at_80_columns("runs", "--checkpoints", str(tmp_path), table_lines=slice(0, -1))
    run = json.loads(cli_at_80_columns("runs", "--checkpoints", str(tmp_path), "--json"))
    row = next(line for line in out.splitlines() if line.startswith(name + " "))
    modified = next(r["modified"] for r in run if r["name"] == name)
    assert row.endswith(modified[5:16].replace("T", " ")), out
    assert "emptydir " in out and out.splitlines()[-1].startswith("emptydir: ")  # its reason under the table


def test_a_name_too_long_for_80_columns_folds_and_every_column_stays_on_screen(synthetic_data, tmp_path):
    name = "a-rather-long-run-name-for-the-lr-sweep-of-december-third"
    train_tiny_run(synthetic_data, tmp_path, name)
    out = cli_at_80_columns("runs", "--checkpoints", str(tmp_path))
    lines = out.splitlines()
    for header in ("name", "state", "model", "epochs", "best", "val", "test", "time", "date"):
        assert header in out.split()  # no column pushed off the right edge (the date was)
    row = lines.index(next(line for line in lines if line.startswith(name[:20])))
    folded = "".join(line.split()[0] for line in lines[row:] if line.strip() and not line[0].isspace())
    assert folded.startswith(name)  # the whole name, on consecutive lines
    run = json.loads(cli_at_80_columns("runs", "--checkpoints", str(tmp_path), "--json"))[0]
    assert run["modified"][11:16] in out and f"{run['test_accuracy']:.2%}" in lines[row]


def test_a_study_trial_name_folds_and_every_date_stays_on_one_line(synthetic_data, tmp_path):
    """A 29-character trial name fitted beside a date on two lines: every row's date wrapped."""
    name = "mnist-seed-mlp-c3fa-trial0012"
    train_tiny_run(synthetic_data, tmp_path, name)
    train_tiny_run(synthetic_data, tmp_path, LONG_NAME)
    out = cli_at_80_columns("runs", "--checkpoints", str(tmp_path))
    listed = json.loads(cli_at_80_columns("runs", "--checkpoints", str(tmp_path), "--json"))
    lines = out.splitlines()
    for run in listed:
        row = next(line for line in lines if line.startswith(run["name"][:20]))
        assert row.endswith(run["modified"][5:16].replace("T", " ")), out
    assert len(lines) == len(listed) + 5, out  # title, two header lines, the rule, and one folded name
    folded = lines.index(next(line for line in lines if line.startswith("mnist-seed-mlp-")))
    assert lines[folded].split()[0] == "mnist-seed-mlp-c3fa-" and lines[folded + 1].strip() == "trial0012"


def test_eval_fits_80_columns_with_every_accuracy_whole(runs_folder, synthetic_root):
    common = [str(runs_folder / LONG_NAME), "--checkpoints", str(runs_folder), "--data-dir", str(synthetic_root)]
    summary = json.loads(cli_at_80_columns("eval", *common, "--json"))
    out = cli_at_80_columns("eval", *common, "--tta")
    assert "…" not in out
    for digit, accuracy in enumerate(summary["per_class_accuracy"]):
        row = next(line for line in out.splitlines() if line.split()[:1] == [str(digit)])
        assert row.split()[-1] == f"{accuracy:.2%}"


def test_a_full_test_set_confusion_matrix_fits_80_columns():
    # MNIST's test classes (five of them over 1,000 digits); one scores 100.00%, each other misses 12
    sizes = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    confusion = [[size if p == t else (0 if t == 0 else 12 if p == (t + 1) % 10 else 0) for p in range(10)]
                 for t, size in enumerate(sizes)]
    accuracies = [row[t] / sum(row) for t, row in enumerate(confusion)]
    summary = {"checkpoints": ["a.pt"], "tta": True, "test_accuracy": 0.99, "test_loss": 0.03, "errors": 108,
               "test_size": sum(map(sum, confusion)), "per_class_accuracy": accuracies, "confusion": confusion}
    console = Console(width=80, record=True, file=io.StringIO())
    print_evaluation(summary, console)
    out = console.export_text()
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80
    assert "100.00%" in out and all(f"{a:.2%}" in out for a in accuracies) and "1135" in out


def test_the_error_count_is_written_with_a_thousands_separator_like_the_test_size():
    confusion = [[0] * 10 for _ in range(10)]
    for true in range(10):
        confusion[true][(true + 1) % 10] = 889  # an untrained model: 8,890 of 8,890 wrong
    summary = {"checkpoints": ["a.pt"], "tta": False, "test_accuracy": 0.0, "test_loss": 2.3, "errors": 8890,
               "test_size": 8890, "per_class_accuracy": [0.0] * 10, "confusion": confusion}
    console = Console(width=80, record=True, file=io.StringIO())
    print_evaluation(summary, console)
    assert "8,890 of 8,890 wrong" in console.export_text()


def test_an_unreadable_runs_reason_is_printed_whole_under_the_table(tmp_path):
    (tmp_path / "stalled").mkdir()
    (tmp_path / "stalled" / "config.json").write_text("{not json [Errno 13]")
    out = cli_at_80_columns("runs", "--checkpoints", str(tmp_path), table_lines=slice(None, -1))  # not the reason
    assert "…" not in out and "unreadable" in out
    reason = json.loads(cli_at_80_columns("runs", "--checkpoints", str(tmp_path), "--json"))[0]["error"]
    assert out.splitlines()[-1] == f"stalled: {reason}"  # one line, however long its path


def test_runs_are_ordered_and_dated_by_when_they_trained_not_by_later_files(synthetic_data, tmp_path):
    """Looking at an old run (Why's nearest digits cache their embeddings in its folder) does not make it new."""
    trained_at = {"older": 1_700_000_000, "newer": 1_700_003_600}
    for name, stamp in trained_at.items():
        run = train_tiny_run(synthetic_data, tmp_path, name, TINY.replace(epochs=1))
        for path in (*run.iterdir(), run):
            os.utime(path, (stamp, stamp))
    (tmp_path / "older" / "embeddings-best-test.pt").write_bytes(b"cache")  # the folder is modified now
    listed = json.loads(cli_at_80_columns("runs", "--checkpoints", str(tmp_path), "--json"))
    assert [r["name"] for r in listed] == ["newer", "older"]
    assert listed[1]["modified"] == datetime.fromtimestamp(trained_at["older"]).isoformat(timespec="seconds")


def test_a_stopped_runs_missing_figures_line_up_with_the_others(runs_folder, synthetic_data, tmp_path):
    """A run with no test yet read "- -": its test dash sat at the column's left edge, under no figure."""
    import shutil

    from mnist_tui.core.engine import RunControl, Trainer
    from mnist_tui.core.runs import list_runs
    from mnist_tui.reporting import print_runs

    shutil.copytree(runs_folder / "f1", tmp_path / "f1")
    control = RunControl()
    control.stop()  # stops at its first batch: no epoch, no validation, no test
    events = list(Trainer(TINY, synthetic_data, checkpoints_dir=tmp_path, run_name="halted").run(control))
    assert events[-1].kind == "stopped"
    out = io.StringIO()
    print_runs(list_runs(tmp_path), str(tmp_path), Console(file=out, width=80))
    rows = {line.split()[0]: line for line in out.getvalue().splitlines() if line.startswith(("f1 ", "halted "))}
    ends = {name: [m.end() for m in re.finditer(r"\S+", line)] for name, line in rows.items()}
    assert rows["halted"].split()[4:6] == ["-", "-"] and rows["f1"].split()[5].endswith("%")
    assert ends["halted"][4:6] == ends["f1"][4:6], out.getvalue()  # each dash ends where the figures above it end


def test_runs_piped_keeps_a_long_name_on_one_line_for_grep(runs_folder, tmp_path, synthetic_data):
    """Piped, `runs` folded a long name over three lines as for an 80-column terminal: `runs | grep` missed it."""
    import shutil

    name = "a-very-long-run-name-that-someone-typed-for-their-experiment-number-42"
    shutil.copytree(runs_folder / "f1", tmp_path / name)
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    done = subprocess.run([sys.executable, "-m", "mnist_tui.cli", "runs", "--checkpoints", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stdout.splitlines() if "number-42" in line]
    assert line.startswith(name) and "finished" in line, done.stdout


def test_the_progress_bar_keeps_its_step_count_whole_at_80_columns():
    """At 80 columns a 10-epoch run's bar read "2150/21…": the step count was cut (walk21 F7)."""
    from mnist_tui.reporting import progress_bar

    console = Console(width=80, file=io.StringIO(), force_terminal=True)
    progress = progress_bar(console)
    progress.add_task("epoch 10/10", total=2150, completed=2150, loss="0.0959", acc="100.00%", speed="32,073/s")
    bar = "".join(segment.text for segment in console.render_lines(progress.get_renderable(), console.options)[0])
    assert "2150/2150 loss 0.0959 acc 100.00% 32,073/s" in bar and "…" not in bar, bar


@pytest.mark.parametrize("width", [56, 60, 64])
def test_runs_in_a_narrow_terminal_keeps_every_date_whole(runs_folder, width):
    """At 60 columns every date read "12-0" over "23:0": the name kept 12 columns the table did not have
    (walk27 F3). Down to the width the value columns need and a few for the name, nothing is cut."""
    from mnist_tui.core.runs import list_runs
    from mnist_tui.reporting import print_runs

    runs = list_runs(runs_folder)
    out = io.StringIO()
    print_runs(runs, str(runs_folder), Console(file=out, width=width))
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= width and "…" not in text, text
    cells = text.split()
    for run in runs:
        assert run.modified[5:10] in cells and run.modified[11:16] in cells, text
    assert "".join(line.split()[0] for line in text.splitlines()[4:] if line.strip()).count(LONG_NAME) == 1, text


def test_a_confusion_matrix_wider_than_the_terminal_is_never_cut_into_other_numbers():
    """At 40 columns the matrix was cut at the edge: 884 read as 88, and columns 5-9 went with no sign (walk38
    F11). Its lines run past the edge instead, for the terminal to wrap, every number whole."""
    confusion = [[884 if p == t else 3 for p in range(10)] for t in range(10)]
    summary = {"checkpoints": ["a.pt"], "tta": False, "test_accuracy": 0.97, "test_loss": 0.1, "errors": 270,
               "test_size": 9110, "per_class_accuracy": [884 / 911] * 10, "confusion": confusion}
    console = Console(width=40, record=True, file=io.StringIO())
    print_evaluation(summary, console)
    rows = [line.split() for line in console.export_text().splitlines() if re.match(r"\s*\d │", line)]
    assert len(rows) == 10 and all(row.count("884") == 1 and row[-1] == "97.04%" for row in rows), rows


def test_a_run_whose_result_cannot_be_read_says_so_under_the_table(synthetic_data, tmp_path):
    """A finished run whose result.json was damaged read as "stopped 1/1", no word why (walk38 F12)."""
    train_tiny_run(synthetic_data, tmp_path, "damaged")
    train_tiny_run(synthetic_data, tmp_path, "fine")
    (tmp_path / "damaged" / "result.json").write_text("garbage")
    out = cli_at_80_columns("runs", "--checkpoints", str(tmp_path))
    text = " ".join(out.split())
    assert ("damaged: its result.json cannot be read, so its test figure is lost: mnist-tui eval damaged measures it "
            "again") in text and "fine:" not in text, out


def test_a_stopped_runs_bar_ends_at_the_step_it_stopped_after(synthetic_data, tiny_config, tmp_path):
    """The bar's last count was its last chart point's, 15/1075, over "Stopped in epoch 1 after step 16" (walk35
    F13): a stop asked for mid-batch (Ctrl+C) lands between two points."""
    from mnist_tui.core.engine import Trainer
    from mnist_tui.core.events import Stopped

    trainer = Trainer(tiny_config.replace(epochs=3), synthetic_data, checkpoints_dir=tmp_path, points_per_epoch=4)
    started, point = [e for e in trainer.run() if e.kind in ("started", "step")][:2]  # a real run's first point
    stopped = Stopped(epoch=1, step=point.step + 2, checkpoint=str(tmp_path / "last.pt"), run_dir=str(tmp_path))
    console = Console(width=120, record=True, file=io.StringIO())
    RichReporter(console).consume([started, point, stopped])
    bar = next(line for line in console.export_text().splitlines() if line.startswith("epoch "))
    assert f" {point.step + 2}/{3 * started.steps_per_epoch} " in bar, bar
