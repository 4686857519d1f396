"""A tuning trial that was stopped or pruned, resumed later as a run and finished, joins its study again.

A trial still RUNNING in the storage (its worker was killed, or quit on a second Ctrl+C) is told
COMPLETE with the run's value. Otherwise, as Optuna's trials cannot change once they have ended, the
finished run is added to the study as a new COMPLETE trial with the same parameters (as the run's
own config has them), its best validation accuracy as the value, and the user attributes ``run_dir``
and ``resumed_from`` (the stopped trial's number). "Use best", the sampler and the importances then
see it. ``tune.json`` names the study, the trial and the storage (without its password: a PostgreSQL
URL is then opened without one, so PGPASSWORD or ~/.pgpass must supply it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .events import Finished
from .formatting import percent


def _params(config: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    """The searched values as the run was trained, in Optuna's form (an MLP's hidden sizes as "128-64"); the
    stopped trial's own where they are what it trained (Optuna keeps a float whole, the run trained it tidied)."""
    from .tune_space import tidy, to_storable

    trained = {name: to_storable(config.get(name)) for name in original}
    return {name: value if tidy(original[name]) != value else original[name] for name, value in trained.items()}


def _curve(run_dir: Path) -> dict[int, float]:
    """The run's validation accuracy by epoch, as a trial reports it."""
    from .runs import read_metrics

    return {int(r["epoch"]): r["val_accuracy"] for r in read_metrics(run_dir) if r.get("val_accuracy") is not None}


def rejoin_study(run_dir: str | Path, value: float | None) -> str | None:
    """Add the finished run in ``run_dir`` to the study its ``tune.json`` names; what happened, in one line.

    None when the run is no trial, or its trial already counts (it was complete, or a finished
    resume of it was added before)."""
    run_dir = Path(run_dir).absolute()  # as tune records its trials: a view opened elsewhere finds it
    try:
        tag = json.loads((run_dir / "tune.json").read_text())
        study_name, number, storage_url = tag["study"], int(tag["trial"]), tag["storage"]
        config = json.loads((run_dir / "config.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"not added to its study: {run_dir / 'tune.json'} is unreadable ({exc})"
    where = f"study {study_name!r}"
    if value is None:
        return f"not added to {where}: the run has no validation accuracy (its objective)"
    import optuna

    from .tune import TuneError, open_storage, redact

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = storage_url.replace(":***@", "@")  # saved without the password: libpq's own sources supply it
    try:
        study = optuna.load_study(study_name=study_name, storage=open_storage(url))
        trials = study.get_trials(deepcopy=False)
        original = next((t for t in trials if t.number == number), None)
        if original is None:
            return f"not added to {where}: it has no trial #{number}"
        curve = _curve(run_dir)  # the Tune view's "val acc by epoch" draws it, as it draws the others
        if original.state == optuna.trial.TrialState.RUNNING:
            # its tune worker died without a word (killed, or Ctrl+C twice): this finished run is that trial's,
            # and holding the run's lock to train it proved that no worker still does
            trial = optuna.Trial(study, original._trial_id)
            for epoch, accuracy in curve.items():
                if epoch not in original.intermediate_values:
                    trial.report(accuracy, epoch)
            study.tell(number, value)
            return f"trial #{number} of {where} finished after its resume ({percent(value)})"
        if original.state == optuna.trial.TrialState.COMPLETE or any(
                t.user_attrs.get("resumed_from") == number and t.user_attrs.get("run_dir") == str(run_dir)
                and t.state == optuna.trial.TrialState.COMPLETE for t in trials):
            return None
        added = optuna.trial.create_trial(
            params=_params(config, original.params), distributions=original.distributions, value=value,
            intermediate_values=curve, user_attrs={"run_dir": str(run_dir), "resumed_from": number})
        study.add_trial(added)
    except (TuneError, KeyError) as exc:
        return f"not added to {where}: {exc}"
    except Exception as exc:  # noqa: BLE001 - a database that is down or refuses us; the run itself is saved
        reason = next(iter(str(exc).splitlines()), type(exc).__name__)
        return f"not added to {where} in {redact(storage_url)}: {reason}"
    new = max(t.number for t in study.get_trials(deepcopy=False))
    return (f"trial #{number} of {where} finished after its resume: added to the study as trial #{new} "
            f"({percent(value)})")


def with_study_note(event: Finished, resumed: bool) -> Finished:
    """``event`` with ``study_note`` set when its run, ``resumed``, is a tuning trial that now joins its study."""
    import dataclasses

    if not resumed:
        return event
    note = rejoin_study(event.run_dir, event.best_val_accuracy)
    return dataclasses.replace(event, study_note=note) if note else event


__all__ = ["rejoin_study", "with_study_note"]
