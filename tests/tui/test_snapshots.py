"""Snapshot tests (pytest-textual-snapshot) of the screens users see first, at 80x24.

Update after a deliberate change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the SVGs before committing them.
"""

from __future__ import annotations

import torch

from mnist_tui.core.analysis import summarize
from tests.tui.workers import workers_done

SIZE = (80, 24)


def made_up_evaluation(labels: torch.Tensor):
    """Fixed probabilities: every 7th digit is wrong with a confidence that varies, the rest right."""
    n = len(labels)
    probabilities = torch.full((n, 10), 0.01)
    for i in range(n):
        label = int(labels[i])
        if i % 7 == 0:
            wrong = (label + 1 + i % 3) % 10
            confidence = 0.45 + (i % 10) * 0.05
            probabilities[i, wrong] = confidence
            probabilities[i, label] = 0.92 - confidence
        else:
            probabilities[i, label] = 0.91
    return summarize(probabilities, labels)


async def settle(pilot) -> None:
    await workers_done(pilot.app)
    await pilot.pause()


def test_first_screen(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=settle)


def test_results_view(snap_compare, make_app, synthetic_data):
    async def show_results(pilot):
        await settle(pilot)
        pilot.app.show_evaluation(made_up_evaluation(synthetic_data.test_labels), synthetic_data.test_images,
                                  "snapshot · best.pt")
        await pilot.press("f2")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=show_results)


def test_misclassified_view(snap_compare, make_app, synthetic_data):
    async def show_misclassified(pilot):
        await settle(pilot)
        pilot.app.show_evaluation(made_up_evaluation(synthetic_data.test_labels), synthetic_data.test_images,
                                  "snapshot · best.pt")
        await pilot.press("f3")
        await pilot.press("right")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=show_misclassified)
