"""Two tune workers against a real, throwaway PostgreSQL (Unix socket only, removed afterwards).

The server is started here with initdb and pg_ctl in a temporary folder; the test skips,
saying why, only when PostgreSQL's binaries are not installed (Debian: apt-get install
postgresql). initdb refuses to run as root, so as root the server runs as the
``postgres`` user (or ``nobody``) through runuser/su.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import pytest

from tests.core.test_tune import TINY, json_lines


def _postgres_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(x) for x in p.split("/")[4].split(".") if x.isdigit()], reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).resolve().parent))
    for folder in candidates:
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def _as_user(command: list[str]) -> tuple[list[str], str | None]:
    """``command`` as an unprivileged user when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return command, None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return ["runuser", "-u", name, "--", *command], name
        if shutil.which("su"):
            return ["su", name, "-s", "/bin/sh", "-c", " ".join(_quote(c) for c in command)], name
    pytest.skip("running as root with neither a postgres nor a nobody user (or runuser/su) to run initdb as")


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


@pytest.fixture
def postgres_url(postgres_server):
    return postgres_server.url


@pytest.fixture
def postgres_server():
    """A running server: ``.url`` to reach it, ``.stop()`` to take it down (a server gone mid-sweep)."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed (Debian: apt-get install postgresql)")
    # not under pytest's tmp_path: its parents are private to root, and the server may run as another user
    folder = Path(tempfile.mkdtemp(prefix="mnist-tui-pg-"))
    data, log = folder / "data", folder / "server.log"
    _, user = _as_user(["true"])
    if user is not None:
        os.chown(folder, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
    started = False
    try:
        initdb, _ = _as_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "mnist", "--auth=trust", "-E", "UTF8"])
        subprocess.run(initdb, check=True, capture_output=True, timeout=120)
        start, _ = _as_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
                             f"-c listen_addresses='' -k {folder} -p 5432", "start"])
        result = subprocess.run(start, capture_output=True, text=True, timeout=90)
        assert result.returncode == 0, result.stdout + result.stderr + (log.read_text() if log.exists() else "")
        started = True

        def stop() -> None:
            command, _ = _as_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
            subprocess.run(command, capture_output=True, timeout=60)

        yield types.SimpleNamespace(url=f"postgresql://mnist@/postgres?host={folder}", stop=stop)
    finally:
        if started:
            stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_two_workers_share_one_postgres_study(postgres_url, synthetic_root, tmp_path):
    import optuna

    args = ["tune", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), *TINY, "--epochs", "1",
            "--search", "lr=1e-3:3e-2:log", "--trials", "1", "--study", "pg", "--storage", postgres_url,
            "--pruner", "none", "--json"]
    workers = [subprocess.Popen([sys.executable, "-m", "mnist_tui.cli", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err for _, err in outputs]
    finished = [json_lines(out)[-1] for out, _ in outputs]
    assert all(f["event"] == "study_finished" and f["storage"].startswith("postgresql://") for f in finished)
    study = optuna.load_study(study_name="pg", storage=postgres_url)
    assert sorted(t.number for t in study.trials) == [0, 1]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert optuna.get_all_study_names(postgres_url) == ["pg"]
    tags = [json.loads((Path(t.user_attrs["run_dir"]) / "tune.json").read_text()) for t in study.trials]
    assert sorted(tag["trial"] for tag in tags) == [0, 1] and {tag["study"] for tag in tags} == {"pg"}


def test_a_worker_that_loses_the_race_to_create_the_tables_joins_the_study(postgres_url):
    """Another worker creates Optuna's version table between this one's check and its CREATE TABLE.

    PostgreSQL answers that CREATE with "relation already exists" (a ProgrammingError); the worker
    must retry and join the study, not die with a traceback (it did in CI, one run in many).
    """
    import optuna
    import sqlalchemy
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from mnist_tui.core.tune import load_or_create_study

    driver_url = "postgresql+psycopg://" + postgres_url.split("://", 1)[1]
    other = sqlalchemy.create_engine(driver_url)
    raced: list[str] = []

    def other_worker_wins(conn, cursor, statement, parameters, context, executemany):
        if not raced and statement.lstrip().upper().startswith("CREATE TABLE ALEMBIC_VERSION"):
            raced.append(statement)
            with other.begin() as side:
                side.exec_driver_sql(statement)

    event.listen(Engine, "before_cursor_execute", other_worker_wins)
    try:
        study = load_or_create_study("raced", postgres_url, optuna.pruners.NopPruner())
    finally:
        event.remove(Engine, "before_cursor_execute", other_worker_wins)
        other.dispose()
    assert raced, "the version table was never created: the race was not staged"
    assert optuna.get_all_study_names(postgres_url) == ["raced"] and study.study_name == "raced"


def test_a_server_that_goes_down_mid_sweep_ends_the_study_with_one_line_and_exit_1(postgres_server, synthetic_root,
                                                                                    tmp_path):
    """It died with three chained tracebacks (the summary read the study from the server that had gone), and the
    last said "invalid data in the commit, e.g. exceeding max length" (walk26 F3)."""
    args = ["tune", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), *TINY, "--epochs", "1000",
            "--search", "lr=1e-3:3e-2:log", "--trials", "3", "--study", "down", "--storage", postgres_server.url,
            "--pruner", "none", "--json"]
    worker = subprocess.Popen([sys.executable, "-m", "mnist_tui.cli", *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    for line in worker.stdout:
        if json.loads(line)["event"] == "trial_epoch":  # its next epoch reports to the server
            break
    postgres_server.stop()
    rest, err = worker.communicate(timeout=120)
    last = json_lines(rest)[-1]
    assert worker.returncode == 1, err
    assert "Traceback" not in err and "exceeding max length" not in err
    assert err.startswith("mnist-tui: the study stopped:") and len(err.strip().splitlines()) == 1, err
    assert last["event"] == "study_finished" and "connection" in last["error"].lower()
